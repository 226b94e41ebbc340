/* SPDX-License-Identifier: MIT */
/*
 * Listeners that accept many connections (ivt_listen, ivt_accept).
 *
 * The listener is one control connection to ivtd opened with
 * IVT_CTRL_OPEN_MULTI; ivtd sends it an INCOMING (a ticket) per admitted
 * connector, so its fd is readable exactly while a ticket is unread: the
 * socket's own queue is the accept queue. ivt_accept takes a ticket and
 * opens the server end of that one connection over a control connection
 * of its own (channel.c), which is why accepted channels outlive the
 * listener and have their own ring, backend and stats. A connector may
 * have built the ring itself (INCOMING_RING, conn_ring.c): the accepting
 * end then attaches to it before it tells ivtd.
 *
 * When ivtd goes away (a restart), the listener listens again under the
 * same request, so a server's accept loop outlives ivtd like its channels
 * do; connectors queued in the old ivtd are gone with it. That is why
 * ivt_listener_fd is a private epoll set and not the control socket: the
 * socket inside changes, the fd the application watches does not. While
 * ivtd is down, a timerfd in the set makes it readable when the next
 * attempt is due (50 ms, doubling to 2 s), so a poll loop sleeps.
 *
 * A listener holds its policy's max_connections itself, over lines and
 * through ivtd alike (accept_bound.c): at the bound its lines and ivtd's
 * socket leave the set, and an eventfd in it wakes the listener when a
 * close makes room.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "accept_bound.h"
#include "channel.h"
#include "common/clock.h"
#include "common/tcp_map.h"
#include "errors.h"
#include "listener_lines.h"

#define RELISTEN_FIRST_MS 50
#define RELISTEN_MAX_MS 2000

struct ivt_listener {
	char name[IVT_NAME_MAX + 1];
	struct ivt_open_opts opts; /* for every accepted end; socket_path is ours */
	char *socket_path;
	char bind_addr[48]; /* opts.bind_addr, kept for listening again */
	struct ivt_ctrl ctrl;
	struct ivt_ctrl_open_ok ok; /* ivtd's grant: backend and ring of every connection */
	struct ivt_ctrl_open req;   /* to listen again after a restart of ivtd */
	atomic_int nonblock;
	int epfd;    /* ivt_listener_fd: holds the control socket, or timerfd while down */
	int timerfd; /* made at the first loss of ivtd; -1 before */
	int down;    /* ivtd went away; not listening again yet (one thread at a time: ivt.h) */
	long long retry_at_ms;
	int backoff_ms;
	struct line_set lines; /* direct lines ivtd gave (listener_lines.c) */
	struct accept_bound *bound; /* what it holds, its max_connections */
	int gated; /* at the bound: lines and ivtd's socket out of epfd */
};

/* The control path for l, told the TCP address it is bound to (where it
 * can carry one: XenStore). 0 or a negative errno with the reason. */
static int select_ctrl(struct ivt_listener *l, struct ivt_ctrl *c)
{
	int rc = ivt_ctrl_select(c, l->socket_path);
	if (rc == 0 && l->bind_addr[0] && c->ops->tcp_addr &&
	    (rc = c->ops->tcp_addr(c->impl, l->bind_addr)) < 0) {
		ivt_reason_set(rc, "bind_addr '%s' is not an IP address", l->bind_addr);
		ivt_ctrl_close(c, 0);
	}
	return rc;
}

/* Over the local socket a listener of tcp.<P> bound to one address is
 * tcp.<P>.<addr> (common/tcp_map.h); its accepted ends use that name. */
static int bound_name(struct ivt_listener *l, int v6only)
{
	unsigned port = ivt_tcp_name_port(l->name);
	struct ivt_ip a;
	if (!l->bind_addr[0] || !port)
		return 0;
	if (ivt_ip_parse(l->bind_addr, strlen(l->bind_addr), 0, &a)) {
		ivt_reason_set(-EINVAL, "bind_addr '%s' is not an IP address", l->bind_addr);
		return -EINVAL;
	}
	if (ivt_tcp_name_bound(l->name, sizeof(l->name), port, &a, v6only)) {
		ivt_reason_set(-ENAMETOOLONG, "bind_addr '%s' makes too long a name", l->bind_addr);
		return -ENAMETOOLONG;
	}
	snprintf(l->req.name, sizeof(l->req.name), "%s", l->name);
	return 0;
}

static void listener_free(struct ivt_listener *l)
{
	line_set_free(&l->lines); /* queued offers go with them: ECONNREFUSED */
	accept_bound_unref(l->bound); /* accepted channels may keep it */
	ivt_ctrl_close(&l->ctrl, 1);
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->timerfd >= 0)
		close(l->timerfd);
	free(l->socket_path);
	free(l);
}

static int watch(struct ivt_listener *l, int op, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)fd};
	return epoll_ctl(l->epfd, op, fd, &ev) == 0 ? 0 : -errno;
}

/* Arm the timerfd for the next attempt (ms from now; 0 disarms). */
static void arm_timer(struct ivt_listener *l, int ms)
{
	struct itimerspec t = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}};
	timerfd_settime(l->timerfd, 0, &t, NULL);
}

/* The bound ivtd gave with its answer (new ivtds), so the listener
 * holds it from its first connection, lines or not. */
static void learn_bound(struct ivt_listener *l)
{
	if (l->ok.flags & IVT_CTRL_OK_MAX_CONNS)
		accept_bound_set_max(l->bound, l->ok.peer_domid);
}

/* ivtd closed the listener's connection: stop watching the dead socket
 * (its EOF would keep the fd readable) and watch the retry timer. */
static int went_down(struct ivt_listener *l)
{
	int rc = 0;
	if (!l->down) {
		if (l->timerfd < 0) {
			l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
			if (l->timerfd < 0 || watch(l, EPOLL_CTL_ADD, l->timerfd) < 0)
				rc = -ECONNRESET; /* cannot wait for it: report the loss */
		}
		if (rc == 0) {
			watch(l, EPOLL_CTL_DEL, l->ctrl.ops->fd(l->ctrl.impl));
			/* ivtd restarts: its lines and bound were the old ivtd's */
			line_set_drop_all(&l->lines);
			accept_bound_set_max(l->bound, 0);
			l->down = 1;
			l->retry_at_ms = ivt_now_ms();
			l->backoff_ms = RELISTEN_FIRST_MS;
		}
	}
	return rc;
}

/* Listen again under the same request: 0 when listening, -EAGAIN (not
 * blocking) while ivtd is still away, else the new ivtd's refusal. */
static int relisten(struct ivt_listener *l, int block)
{
	int rc = 0;
	while (l->down) {
		long long wait = l->retry_at_ms - ivt_now_ms();
		if (wait > 0) {
			if (!block) {
				ivt_reason_set(-EAGAIN, "ivtd went away; '%s' listens again when it "
							"is back (next try in %lld ms)", l->name, wait);
				rc = -EAGAIN;
				break;
			}
			poll(NULL, 0, (int)wait);
			continue;
		}
		uint64_t fired;
		if (read(l->timerfd, &fired, sizeof(fired)) < 0) {
			/* not due by the timer: nothing to clear */
		}
		struct ivt_ctrl fresh;
		struct ivt_ctrl_open_ok ok;
		rc = select_ctrl(l, &fresh);
		if (rc == 0) {
			rc = fresh.ops->open(fresh.impl, &l->req, &ok, 10000);
			if (rc == 0 && !l->gated &&
			    watch(l, EPOLL_CTL_ADD, fresh.ops->fd(fresh.impl)) < 0)
				rc = -ENOMEM;
			if (rc < 0)
				ivt_ctrl_close(&fresh, 0);
		}
		if (rc == 0) {
			ivt_ctrl_close(&l->ctrl, 0);
			l->ctrl = fresh;
			l->ok = ok;
			learn_bound(l);
			arm_timer(l, 0);
			l->down = 0;
			break;
		}
		if (rc != -ECONNREFUSED && rc != -ETIMEDOUT && rc != -EAGAIN)
			break; /* the new ivtd refuses it (policy changed?): its reason stands */
		l->retry_at_ms = ivt_now_ms() + l->backoff_ms;
		arm_timer(l, l->backoff_ms);
		l->backoff_ms = l->backoff_ms * 2 > RELISTEN_MAX_MS ? RELISTEN_MAX_MS : l->backoff_ms * 2;
	}
	return rc;
}

IVT_EXPORT int ivt_listen(const char *name, const struct ivt_open_opts *opts, ivt_listener **out)
{
	ivt_reason_clear();
	if (!out)
		return ivt_einval(__func__);
	*out = NULL;
	struct ivt_open_opts o;
	int rc = chan_read_opts(opts, IVT_LISTEN, &o);
	if (rc < 0)
		return rc;
	if (o.flags & ~(unsigned)(IVT_NONBLOCK | IVT_MESSAGE | IVT_V6ONLY)) {
		ivt_reason_set(-EINVAL, "ivt_listen takes only IVT_NONBLOCK, IVT_MESSAGE and "
					"IVT_V6ONLY in opts->flags");
		return -EINVAL;
	}
	struct ivt_ctrl_open req;
	if ((rc = chan_make_request(name, &o, IVT_LISTEN | IVT_CTRL_OPEN_MULTI |
						     (o.flags & IVT_MESSAGE), &req)) < 0)
		return rc;
	struct ivt_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->req = req;
	l->timerfd = -1;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		rc = -errno;
		free(l);
		return rc;
	}
	line_set_init(&l->lines, l->epfd);
	if (!(l->bound = accept_bound_new()) ||
	    (rc = watch(l, EPOLL_CTL_ADD, l->bound->efd)) < 0) {
		rc = l->bound ? rc : -errno;
		listener_free(l);
		return rc;
	}
	snprintf(l->name, sizeof(l->name), "%s", name);
	atomic_store(&l->nonblock, !!(o.flags & IVT_NONBLOCK));
	if (o.socket_path && !(l->socket_path = strdup(o.socket_path))) {
		listener_free(l);
		return -ENOMEM;
	}
	l->opts = o;
	l->opts.socket_path = l->socket_path;
	l->opts.backend = NULL; /* the listener's grant decides for its connections */
	if (o.bind_addr && snprintf(l->bind_addr, sizeof(l->bind_addr), "%s", o.bind_addr) >=
				   (int)sizeof(l->bind_addr)) {
		ivt_reason_set(-EINVAL, "bind_addr is not an IP address");
		listener_free(l);
		return -EINVAL;
	}
	l->opts.bind_addr = l->opts.peer_addr = l->opts.host_addr = NULL; /* not for accepted ends */
	if ((rc = select_ctrl(l, &l->ctrl)) < 0 ||
	    (l->ctrl.ops->tcp_names && (rc = bound_name(l, o.flags & IVT_V6ONLY)) < 0)) {
		listener_free(l);
		return rc;
	}
	if (!l->ctrl.ops->accepts_many) {
		ivt_reason_set(-ENOTSUP, "ivt_listen is not available over %s yet; use "
					 "ivt_open(IVT_LISTEN)", l->ctrl.ops->name);
		listener_free(l);
		return -ENOTSUP;
	}
	/* ivtd answers a listener at once: timeout_ms bounds only that */
	rc = l->ctrl.ops->open(l->ctrl.impl, &l->req, &l->ok, o.timeout_ms > 0 ? o.timeout_ms : 10000);
	if (rc == 0)
		rc = watch(l, EPOLL_CTL_ADD, l->ctrl.ops->fd(l->ctrl.impl));
	if (rc < 0) {
		listener_free(l);
		return rc;
	}
	learn_bound(l);
	*out = l;
	return 0;
}

/* A line ivtd gave (both fds consumed), with the bound it says. */
static void add_line(struct ivt_listener *l, int fd, int keep, const struct ivt_ctrl_line *info)
{
	accept_bound_set_max(l->bound, info->max_conns);
	line_set_add(&l->lines, fd, keep, info);
}

/* The counts to ivtd (force: now, else lazily). What it holds over
 * lines only while at the bound (0 below it): ivtd adds that to its own
 * count to stop offering, and a count it kept while the listener takes
 * offers again would only keep its connectors waiting for nothing. */
static void report(struct ivt_listener *l, int force)
{
	line_set_report(&l->lines, l->ctrl.ops->fd(l->ctrl.impl),
			l->gated ? atomic_load(&l->bound->held_lines) : 0,
			atomic_load(&l->bound->max) != 0, force);
}

/* At the bound, offers wait in their queues (lines and ivtd's socket
 * out of the set); below it, they are taken again. ivtd hears of each
 * crossing, so that it refuses or keeps waiting its own connectors as it
 * does at max_connections. */
static int sync_gate(struct ivt_listener *l)
{
	int full = accept_bound_full(l->bound);
	if (full == l->gated)
		return 0;
	if (!l->down) {
		int rc = watch(l, full ? EPOLL_CTL_DEL : EPOLL_CTL_ADD, l->ctrl.ops->fd(l->ctrl.impl));
		if (rc < 0 && !full)
			return rc; /* tried again at the next call */
	}
	l->gated = full;
	line_set_pause(&l->lines, full);
	if (!l->down)
		report(l, 1);
	return 0;
}

/* One offer from a line (data: its epoll tag): 0 with *out, -EAGAIN
 * nothing there (a bad ring is dropped and counted), or the error. */
static int accept_line(struct ivt_listener *l, uint64_t data, ivt_channel **out)
{
	struct ivt_ring_offer offer;
	if (line_set_take(&l->lines, data, &offer) < 0)
		return -EAGAIN;
	int rc = chan_open_accepted(l->name, &l->opts, &l->ok, 0, &offer, out);
	if (rc == 0) {
		l->lines.accepted++;
		accept_bound_take(l->bound, *out, 1);
	}
	else if (rc == -ECONNABORTED)
		l->lines.refused++; /* refused by the backend: its connector reads ECONNREFUSED */
	return rc == -ECONNABORTED ? -EAGAIN : rc;
}

/* ivtd's next message: 0 with *out, -EAGAIN nothing to accept (yet), or
 * the error; ivtd's news about lines is taken here. */
static int accept_ctrl(struct ivt_listener *l, ivt_channel **out)
{
	uint32_t ticket;
	struct ivt_ring_offer offer;
	int rc = l->ctrl.ops->incoming(l->ctrl.impl, &ticket, &offer, 0);
	if (rc == IVT_INCOMING_LINE) {
		if (offer.line_fd >= 0)
			add_line(l, offer.line_fd, offer.line_keep, &offer.line_info);
		if (offer.lines_drop)
			line_set_drop_all(&l->lines);
		return -EAGAIN;
	}
	if (rc == -ECONNRESET && l->ctrl.ops->accepts_many && went_down(l) == 0)
		return -EAGAIN; /* ivtd restarts: listen again */
	if (rc < 0)
		return rc;
	rc = chan_open_accepted(l->name, &l->opts, &l->ok, ticket, &offer, out);
	if (rc == 0)
		accept_bound_take(l->bound, *out, 0);
	if (rc == 0 && (*out)->ctrl.ops->take_line) {
		/* a line ivtd gave with the accepting end's answer is ours */
		struct ivt_ctrl_line info;
		int keep, fd = (*out)->ctrl.ops->take_line((*out)->ctrl.impl, &info, &keep);
		if (fd >= 0)
			add_line(l, fd, keep, &info);
	}
	/* -ECONNABORTED: that connector gave up while queued: the next one */
	return rc == -ECONNABORTED ? -EAGAIN : rc;
}

IVT_EXPORT int ivt_accept(ivt_listener *l, ivt_channel **out)
{
	ivt_reason_clear();
	if (!l || !out)
		return ivt_einval(__func__);
	*out = NULL;
	for (;;) {
		int block = !atomic_load(&l->nonblock);
		int rc = l->down ? relisten(l, block) : 0;
		if (rc == 0)
			rc = sync_gate(l);
		if (rc < 0)
			return rc;
		/* one ready source at a time (level-triggered: the others stay
		 * ready), ivtd's control socket first: its queue is the one
		 * with limits (backlog share), a line holds a few offers */
		struct epoll_event evs[8];
		int n = epoll_wait(l->epfd, evs, 8, 0);
		if (n == 0) {
			/* idle: the lines' counts to ivtd, off the connections' path */
			if (!l->down)
				report(l, 0);
			line_set_idle(&l->lines);
			if (!block && l->gated) {
				ivt_reason_set(-EAGAIN, "'%s' holds its most connections (%u, policy key "
					       "max_connections); it takes more as they close",
					       l->name, atomic_load(&l->bound->max));
				return -EAGAIN;
			}
			if (!block) {
				ivt_reason_set(-EAGAIN, "no connector waiting on '%s'", l->name);
				return -EAGAIN;
			}
			n = epoll_wait(l->epfd, evs, 8, -1);
		}
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		struct epoll_event ev = evs[0];
		for (int i = 1; i < n && (ev.data.u64 & LINE_TAG); i++)
			ev = evs[i];
		if (ev.data.u64 & LINE_TAG)
			rc = accept_line(l, ev.data.u64, out);
		else if ((int)ev.data.u64 == l->bound->efd) {
			accept_bound_clear(l->bound); /* room: sync_gate takes offers again */
			continue;
		} else if (l->down || (int)ev.data.u64 == l->timerfd) {
			/* the retry timer: relisten reads it; a stale tick once
			 * listening again is cleared here (level-triggered) */
			uint64_t ticks;
			if (!l->down && read(l->timerfd, &ticks, sizeof(ticks)) < 0) {
				/* nothing pending */
			}
			continue;
		}
		else
			rc = accept_ctrl(l, out);
		if (rc != -EAGAIN)
			return rc;
	}
}

IVT_EXPORT int ivt_listener_fd(ivt_listener *l)
{
	return l ? l->epfd : -EINVAL;
}

IVT_EXPORT const char *ivt_listener_name(const ivt_listener *l)
{
	return l ? l->name : NULL;
}

IVT_EXPORT int ivt_listener_set_nonblock(ivt_listener *l, int nonblock)
{
	if (!l)
		return ivt_einval(__func__);
	atomic_store(&l->nonblock, !!nonblock);
	return 0;
}

IVT_EXPORT int ivt_listener_close(ivt_listener *l)
{
	if (!l)
		return ivt_einval(__func__);
	listener_free(l);
	return 0;
}
