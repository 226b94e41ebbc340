/* SPDX-License-Identifier: MIT */
/*
 * Sleeping. Plugins never block: a waiter arms the plugin for the events
 * it needs, and if none is ready yet, polls the plugin's fd together with
 * the control fd (so the peer's death wakes it too), then acks.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/fd_stdio.h"
#include "common/clock.h"

#include "channel.h"
#include "errors.h"

static void ctrl_went_away(struct ivt_channel *ch)
{
	/* A hung-up socket polls readable forever: take it out of ivt_fd
	 * (unless another thread re-attached it meanwhile). */
	pthread_mutex_lock(&ch->ctrl_mu);
	if (ch->epfd >= 0 && ch->ctrl.ops->gone(ch->ctrl.impl) &&
	    atomic_exchange(&ch->ctrl_in_epoll, 0))
		epoll_ctl(ch->epfd, EPOLL_CTL_DEL, ch->ctrl.ops->fd(ch->ctrl.impl), NULL);
	pthread_mutex_unlock(&ch->ctrl_mu);
}

/* ivt_fd wakes its poller when the next attempt is due (ms < 0: never). */
static void retry_timer_set(struct ivt_channel *ch, int ms)
{
	if (ms >= 0 && ch->retry_fd < 0 && ch->epfd >= 0) {
		ch->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};
		if (ch->retry_fd >= 0 && epoll_ctl(ch->epfd, EPOLL_CTL_ADD, ch->retry_fd, &ev) < 0) {
			close(ch->retry_fd);
			ch->retry_fd = -1; /* blocking waits still retry on time */
		}
	}
	if (ch->retry_fd < 0)
		return;
	/* also clears a pending expiry, so ivt_fd goes quiet until then */
	struct itimerspec its = {0};
	if (ms >= 0) {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000 + 1;
	}
	timerfd_settime(ch->retry_fd, 0, &its, NULL);
}

/* The control path is gone: one attempt to re-attach, if one is due. */
static void try_reattach(struct ivt_channel *ch)
{
	int next = -1;
	int rc = ch->ctrl.ops->reattach(ch->ctrl.impl, &next);
	pthread_mutex_lock(&ch->ctrl_mu);
	if (rc == 1 && ch->epfd >= 0 && !atomic_exchange(&ch->ctrl_in_epoll, 1)) {
		struct epoll_event ev = {.events = EPOLLIN};
		epoll_ctl(ch->epfd, EPOLL_CTL_ADD, ch->ctrl.ops->fd(ch->ctrl.impl), &ev);
	}
	atomic_store(&ch->retry_at, rc == 0 ? ivt_now_ms() + next : -1);
	retry_timer_set(ch, rc == 0 ? next : -1);
	pthread_mutex_unlock(&ch->ctrl_mu);
}

int chan_poll_ctrl(struct ivt_channel *ch)
{
	if (ch->ctrl.ops->drain(ch->ctrl.impl))
		ctrl_went_away(ch);
	if (ch->ctrl.ops->reattach && ch->ctrl.ops->gone(ch->ctrl.impl))
		try_reattach(ch);
	return ivt_ctrl_peer_event(&ch->ctrl);
}

/* A wait's poll timeout, shortened to wake for a due re-attach attempt. */
static int wait_ms(struct ivt_channel *ch, int timeout_ms)
{
	long long at = atomic_load(&ch->retry_at);
	if (at < 0 || !ch->ctrl.ops->gone(ch->ctrl.impl))
		return timeout_ms;
	long long left = at - ivt_now_ms();
	left = left < 0 ? 0 : left;
	return timeout_ms < 0 || left < timeout_ms ? (int)left : timeout_ms;
}

int chan_peer_send_error(struct ivt_channel *ch)
{
	switch (ivt_ctrl_peer_event(&ch->ctrl)) {
	case IVT_PEER_DIED:
		return -ECONNRESET;
	case IVT_PEER_CLOSED:
		return -EPIPE;
	default:
		return 0;
	}
}

unsigned chan_recv_events(struct ivt_channel *ch)
{
	/* both may be armed: whoever sleeps on them retries when arm()
	 * reports either ready */
	return IVT_EV_RECV | (ivt_xport_try_flush(&ch->xp) ? IVT_EV_SEND : 0u) |
	       chan_spill_events(ch);
}

/* The eventfd through which the other role passes a wake-up on to this
 * one, made by this role's first wait; -1 if it cannot be (then this
 * wait polls without it, as a timeout-bounded caller still retries). */
static int role_fd(struct ivt_channel *ch, enum chan_role role)
{
	int fd = atomic_load(&ch->role[role].fd);
	if (fd >= 0)
		return fd;
	int made = ivt_fd_off_stdio(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	if (made < 0)
		return -1;
	int none = -1;
	/* one thread per role waits, but close() may wait as a sender
	 * while the sending thread does: the first one's fd is kept */
	if (!atomic_compare_exchange_strong(&ch->role[role].fd, &none, made)) {
		close(made);
		return none;
	}
	return made;
}

int chan_wait(struct ivt_channel *ch, enum chan_role role, unsigned events, int timeout_ms)
{
	int rfd = role_fd(ch, role);
	/* announce ourselves before arming, so a thread that consumes the
	 * kick we ask for below knows to pass it on (to rfd, made before) */
	atomic_store(&ch->role[role].waiting, 1);
	int ready = ch->ops->arm(ch->ep, events);
	if (ready != 0) { /* ready, or an error the next call will report */
		atomic_store(&ch->role[role].waiting, 0);
		return 0;
	}
	struct pollfd p[3] = {
		{.fd = ch->ops->poll_fd(ch->ep), .events = POLLIN},
		{.fd = rfd, .events = POLLIN}, /* poll ignores -1 */
		{.fd = ch->ctrl.ops->fd(ch->ctrl.impl), .events = POLLIN},
	};
	nfds_t n = ch->ctrl.ops->gone(ch->ctrl.impl) ? 2 : 3;
	atomic_fetch_add(&ch->waits, 1);
	int r = poll(p, n, n == 2 ? wait_ms(ch, timeout_ms) : timeout_ms);
	atomic_store(&ch->role[role].waiting, 0);
	if (r > 0) {
		uint64_t v;
		if (p[0].revents) {
			ch->ops->ack(ch->ep);
			enum chan_role other = role == CHAN_SENDER ? CHAN_RECEIVER : CHAN_SENDER;
			if (atomic_load(&ch->role[other].waiting)) {
				uint64_t one = 1;
				if (write(atomic_load(&ch->role[other].fd), &one, sizeof(one)) < 0) {
					/* saturated: it is readable anyway */
				}
			}
		}
		if (p[1].revents && read(rfd, &v, sizeof(v)) < 0) {
			/* someone else consumed it: fine */
		}
		if (n > 2 && p[2].revents)
			chan_poll_ctrl(ch);
	}
	if (n == 2 && atomic_load(&ch->retry_at) >= 0)
		chan_poll_ctrl(ch); /* an attempt may be due */
	return 0;
}

/* ---- ivt_fd's level ---------------------------------------------------- */

/* Make ivt_fd readable by hand; one eventfd write until the next clear. */
static void level_raise(struct ivt_channel *ch)
{
	/* without ivt_fd nobody polls a level; fd_used is set once wake_fd is made */
	if (!atomic_load(&ch->fd_used) || atomic_exchange(&ch->level_set, 1))
		return;
	uint64_t one = 1;
	if (write(ch->wake_fd, &one, sizeof(one)) < 0) {
		/* saturated counter: readable anyway */
	}
}

static int completions_pending(struct ivt_channel *ch)
{
	return ch->native ? ivt_native_pending(ch->native) : ivt_track_pending(&ch->xp.track);
}

void chan_fd_progress(struct ivt_channel *ch)
{
	if (atomic_load(&ch->fd_used) && !atomic_load(&ch->manual_arm))
		level_raise(ch);
}

void chan_fd_rx_done(struct ivt_channel *ch)
{
	if (atomic_load(&ch->fd_used) && completions_pending(ch))
		level_raise(ch);
}

int chan_fd_make(struct ivt_channel *ch)
{
	int rc = 0;
	pthread_mutex_lock(&ch->ctrl_mu);
	if (ch->epfd >= 0)
		goto out;
	int ep = ivt_fd_off_stdio(epoll_create1(EPOLL_CLOEXEC));
	int wake = ivt_fd_off_stdio(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	struct epoll_event ev = {.events = EPOLLIN};
	int in_ctrl = !ch->ctrl.ops->gone(ch->ctrl.impl);
	if (ep < 0 || wake < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ch->ops->poll_fd(ch->ep), &ev) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, wake, &ev) < 0 ||
	    (in_ctrl && epoll_ctl(ep, EPOLL_CTL_ADD, ch->ctrl.ops->fd(ch->ctrl.impl), &ev) < 0)) {
		rc = -errno;
		ivt_reason_set(rc, "channel '%s': cannot make ivt_fd's descriptors: %s", ch->name,
			       strerror(errno));
		if (ep >= 0)
			close(ep);
		if (wake >= 0)
			close(wake);
		goto out;
	}
	ch->wake_fd = wake;
	ch->epfd = ep;
	atomic_store(&ch->ctrl_in_epoll, in_ctrl);
	/* a re-attach attempt already due makes it readable on time */
	long long at = atomic_load(&ch->retry_at);
	if (at >= 0 && !in_ctrl) {
		long long left = at - ivt_now_ms();
		retry_timer_set(ch, left < 0 ? 0 : (int)left);
	}
	/* so a caller's poll() wakes for the first data (data already there
	 * is reported by the level chan_fd_used raises) */
	ch->ops->arm(ch->ep, IVT_EV_RECV);
out:
	pthread_mutex_unlock(&ch->ctrl_mu);
	return rc;
}

void chan_fd_used(struct ivt_channel *ch)
{
	/* Whatever arrived before the caller started polling (even before
	 * ivt_open returned) must wake its first poll: one call tells. */
	if (!atomic_exchange(&ch->fd_used, 1))
		level_raise(ch);
}

/* Besides what the current op waits for, what ivt_fd promises to report. */
static unsigned fd_interest(struct ivt_channel *ch)
{
	if (!atomic_load(&ch->fd_used))
		return 0;
	return IVT_EV_RECV | (atomic_load(&ch->send_wanted) ? IVT_EV_SEND : 0u) |
	       (ch->native ? IVT_EV_COMPLETION : 0u);
}

unsigned chan_prepare_sleep(struct ivt_channel *ch, unsigned events)
{
	uint64_t v;
	chan_poll_ctrl(ch);
	ch->ops->ack(ch->ep);
	/* Clear our own wake-up first, then re-check: whatever made progress
	 * meanwhile is seen by the arm below. With manual arming, raises
	 * are rare and the caller makes one call at a time
	 * (ivt_set_manual_arm), so level_set tells whether to read. */
	if (atomic_load(&ch->fd_used) &&
	    (!atomic_load(&ch->manual_arm) || atomic_load(&ch->level_set)) &&
	    read(ch->wake_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: no manual wake-up pending */
	}
	atomic_store(&ch->level_set, 0);
	if (events & IVT_EV_SEND)
		atomic_store(&ch->send_wanted, 1);
	/* Arm what this op needs and what ivt_fd reports. The ring returns
	 * early when any armed event is ready, without asking the peer to kick
	 * for the others; then our own wake-up keeps ivt_fd readable. */
	unsigned also = fd_interest(ch) & ~events;
	int ready = ch->ops->arm(ch->ep, events | also);
	unsigned r = ready > 0 ? (unsigned)ready : 0;
	if ((r & also) || (also && completions_pending(ch))) {
		if (r & also & IVT_EV_SEND)
			atomic_store(&ch->send_wanted, 0); /* one wake-up per send that found no room */
		level_raise(ch);
	}
	return r & events;
}

#define NONBLOCK_RETRIES 16

int chan_retry_nonblock(struct ivt_channel *ch, unsigned events, int *tries)
{
	if (!chan_prepare_sleep(ch, events))
		return 0;
	if (++*tries < NONBLOCK_RETRIES)
		return 1;
	/* Ready, yet no progress (e.g. answers must drain first): no kick
	 * will come, so wake the caller's poll ourselves. */
	level_raise(ch);
	return 0;
}

int chan_ensure_accepted(struct ivt_channel *ch)
{
	while (!atomic_load(&ch->accepted)) {
		int rc = ch->ops->accept(ch->ep);
		if (rc == 0) {
			atomic_store(&ch->accepted, 1);
			break;
		}
		if (rc != -EAGAIN)
			return rc;
		if (chan_peer_send_error(ch)) {
			if (ch->ops->accept(ch->ep) == 0) {
				/* attached (and maybe sent) before it went */
				atomic_store(&ch->accepted, 1);
				break;
			}
			/* gone before attaching (its setup failed?): never wait for it */
			ivt_reason_set(-ECONNRESET, "the connector to '%s' went away before attaching",
				       ch->name);
			return -ECONNRESET;
		}
		if (atomic_load(&ch->nonblock)) {
			/* attaching kicks our fd; no ring event to arm yet */
			chan_poll_ctrl(ch);
			ch->ops->ack(ch->ep);
			if (ch->ops->accept(ch->ep) == 0)
				continue;
			return -EAGAIN;
		}
		/* Sleep without arming: arm() may spin on the ring for the
		 * data path's sake, which before attaching only takes the CPU
		 * from the peer that is setting up. Attaching kicks our fd on
		 * shm; other backends may not, hence the cap. */
		struct pollfd p[2] = {
			{.fd = ch->ops->poll_fd(ch->ep), .events = POLLIN},
			{.fd = ch->ctrl.ops->fd(ch->ctrl.impl), .events = POLLIN},
		};
		atomic_fetch_add(&ch->waits, 1);
		if (poll(p, ch->ctrl.ops->gone(ch->ctrl.impl) ? 1 : 2, 100) > 0 && p[0].revents)
			ch->ops->ack(ch->ep);
		chan_poll_ctrl(ch);
	}
	return 0;
}
