/* SPDX-License-Identifier: MIT */
/*
 * The listener's side of direct lines (docs/conn-setup.md). ivtd hands a
 * listener one end of a line per connector identity it admitted, on the
 * listener's control connection; the connector sends each connection's
 * ring (a SETUP with its fds) on the other end. The lines sit in the
 * listener's epoll set, level-triggered, so ivt_listener_fd is readable
 * while one holds an offer; ivt_accept reads one offer per call, and only
 * then: the offers left wait in the kernel's queue, which is this
 * connector's backlog (its send buffer keeps it small). ivtd gives us a
 * copy of the connector's end too, which we only keep: our end never
 * reads end of file when a connector process exits, so the listener's fd
 * wakes for offers (and ivtd's word), not for connectors going, as a TCP
 * listening socket does; lines of connectors gone wait until dropped.
 *
 * Everything on a line comes from the connector and is checked: the
 * message's exact size and fd count (ivt_ctrl_recv: truncated or extra
 * descriptors are closed and the message refused), the type (a SETUP),
 * and then the ring itself by the backend's connect as any peer-written
 * setup (conn_ring_attach). A bad message is dropped and counted; a
 * connector cannot block the listener (every read is MSG_DONTWAIT) nor
 * reach other lines.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ctrl_msg.h"
#include "common/log.h"
#include "listener_lines.h"
#include "ring_pool.h"

#define REPORT_EVERY_MS 1000

struct line {
	int fd; /* the pool's: closed by ring_pool_kill */
	int keep; /* a copy of the connector's end: ours never reads EOF */
	struct ring_pool *pool; /* rings kept on this line (ring_pool.c) */
	uint32_t id;
	char identity[IVT_IDENTITY_MAX + 1];
};

void line_set_init(struct line_set *s, int epfd)
{
	memset(s, 0, sizeof(*s));
	s->epfd = epfd;
	s->reuse = ring_pool_enabled();
}

static int watch_line(struct line_set *s, struct line *ln, int op)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LINE_TAG | (uintptr_t)ln};
	return epoll_ctl(s->epfd, op, ln->fd, &ev);
}

static void line_free(struct line_set *s, struct line *ln)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, ln->fd, NULL);
	ring_pool_kill(ln->pool); /* the line and its parked rings */
	ring_pool_unref(ln->pool);
	close(ln->keep);
	free(ln);
}

static void drop_at(struct line_set *s, int i)
{
	line_free(s, s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], sizeof(s->v[0]) * (size_t)(s->n - i - 1));
	s->n--;
}

void line_set_pause(struct line_set *s, int pause)
{
	if (s->paused == pause)
		return;
	s->paused = pause;
	/* one call per line at each crossing of the bound, none per
	 * connection below it; a line that cannot be put back is dropped
	 * (its connector comes through ivtd) */
	for (int i = s->n - 1; i >= 0; i--)
		if (watch_line(s, s->v[i], pause ? EPOLL_CTL_DEL : EPOLL_CTL_ADD) < 0 && !pause)
			drop_at(s, i);
}

void line_set_add(struct line_set *s, int fd, int keep, const struct ivt_ctrl_line *info)
{
	s->ever = 1;
	if (s->n == LINES_MAX)
		drop_at(s, 0); /* the oldest: its connector comes through ivtd */
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 8;
		struct line **v = realloc(s->v, sizeof(*v) * (size_t)cap);
		if (!v) {
			close(fd);
			close(keep);
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	struct line *ln = calloc(1, sizeof(*ln));
	if (!ln || !(ln->pool = ring_pool_new(fd, RING_POOL_LISTENER))) {
		if (!ln)
			close(fd);
		close(keep);
		free(ln);
		return;
	}
	ln->fd = fd;
	ln->keep = keep;
	ln->id = info->line_id;
	snprintf(ln->identity, sizeof(ln->identity), "%s", info->identity);
	if (!s->paused && watch_line(s, ln, EPOLL_CTL_ADD) < 0) {
		ring_pool_unref(ln->pool);
		close(keep);
		free(ln);
		return;
	}
	s->v[s->n++] = ln;
}

void line_set_drop_all(struct line_set *s)
{
	while (s->n)
		drop_at(s, s->n - 1);
}

void line_set_free(struct line_set *s)
{
	line_set_drop_all(s);
	free(s->v);
	s->v = NULL;
	s->cap = 0;
}

static int index_of(const struct line_set *s, const struct line *ln)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i] == ln)
			return i;
	return -1;
}

/* An offer from line ln on slot (0: not kept; else with a reference to
 * its pool). */
static void line_offer(struct line *ln, uint32_t slot, struct ivt_ring_offer *offer)
{
	memset(offer, 0, sizeof(*offer));
	offer->has = 1;
	offer->line = 1;
	offer->ctrl_fd = -1;
	offer->line_fd = -1;
	snprintf(offer->identity, sizeof(offer->identity), "%s", ln->identity);
	if (slot) {
		ring_pool_ref(ln->pool);
		offer->pool = ln->pool;
		offer->slot = slot;
	}
}

/* The connector broke the ring pool's protocol: the whole line goes
 * (docs/conn-setup.md); its connector comes through ivtd again. */
static int violation(struct line_set *s, int i, const char *what)
{
	s->refused++;
	IVT_WARN("libivt", "line %u from %s: %s; line dropped", (unsigned)s->v[i]->id,
		 s->v[i]->identity, what);
	drop_at(s, i);
	return -EAGAIN;
}

/* REUSE of slot: the ring kept there, renewed, as the offer. */
static int take_reuse(struct line_set *s, int i, uint32_t slot, struct ivt_ring_offer *offer)
{
	struct line *ln = s->v[i];
	const struct ivt_plugin_ops *ops;
	struct ivt_ep *ep;
	int rc = s->reuse ? ring_pool_reuse(ln->pool, slot, &ops, &ep) : -EPROTO;
	if (rc == -EPROTO)
		return violation(s, i, "reuse of a ring not released");
	if (rc < 0) {
		s->refused++; /* its connector reads ECONNREFUSED */
		return -EAGAIN;
	}
	line_offer(ln, slot, offer);
	offer->reuse_ops = ops;
	offer->reuse_ep = ep;
	return 0;
}

#define SWEEP_EVERY_MS 1000

void line_set_idle(struct line_set *s)
{
	for (int i = 0; i < s->n; i++)
		ring_pool_scan(s->v[i]->pool);
	if (!s->n || !ring_pool_crowded())
		return;
	long long now = ivt_now_ms();
	if (s->swept_at_ms && now - s->swept_at_ms < SWEEP_EVERY_MS)
		return;
	s->swept_at_ms = now;
	for (int i = 0; i < s->n; i++)
		ring_pool_sweep(s->v[i]->pool);
}

int line_set_take(struct line_set *s, uint64_t data, struct ivt_ring_offer *offer)
{
	struct line *ln = (struct line *)(uintptr_t)(data & ~LINE_TAG);
	int i = index_of(s, ln); /* the event may be older than a drop */
	if (i < 0)
		return -EAGAIN;
	struct ivt_ctrl_msg m;
	int rc = ivt_ctrl_recv(ln->fd, &m, 0);
	if (rc == -ETIMEDOUT)
		return -EAGAIN;
	if (rc == -ECONNRESET || (rc < 0 && rc != -EPROTO)) {
		drop_at(s, i); /* cannot be read any more */
		return -EAGAIN;
	}
	ring_pool_scan(ln->pool); /* rings its connector closed since */
	if (rc == 0 && m.hdr.type == IVT_CTRL_LINE_REUSE)
		return take_reuse(s, i, m.hdr.seq, offer);
	if (rc == 0 && m.hdr.type == IVT_CTRL_SETUP &&
	    ring_pool_offered(ln->pool, s->reuse ? m.hdr.seq : 0) < 0) {
		ivt_ctrl_msg_close_fds(&m);
		return violation(s, i, "a new ring on a busy slot");
	}
	if (rc == -EPROTO || m.hdr.type != IVT_CTRL_SETUP) {
		if (rc == 0)
			ivt_ctrl_msg_close_fds(&m);
		s->refused++;
		IVT_WARN("libivt", "line %u from %s: a malformed offer, dropped", (unsigned)ln->id,
			 ln->identity);
		return -EAGAIN;
	}
	line_offer(ln, s->reuse ? m.hdr.seq : 0, offer);
	offer->blob_len = m.u.setup.blob_len;
	memcpy(offer->blob, m.u.setup.blob, m.u.setup.blob_len);
	offer->nfds = m.nfds; /* == setup.nfds: the parser says so */
	memcpy(offer->fds, m.fds, sizeof(int) * (size_t)m.nfds);
	return 0;
}

void line_set_report(struct line_set *s, int ctrl_fd, uint64_t held, int bounded, int force)
{
	if (!bounded)
		held = 0;
	if (!s->ever || ctrl_fd < 0 ||
	    (s->accepted == s->told_accepted && s->refused == s->told_refused &&
	     held == s->told_held))
		return;
	long long now = ivt_now_ms();
	if (!force && s->told_at_ms && now - s->told_at_ms < REPORT_EVERY_MS)
		return;
	struct ivt_ctrl_line_stats st = {.accepted = s->accepted, .refused = s->refused,
					 .held = held};
	if (ivt_ctrl_send(ctrl_fd, IVT_CTRL_LINE_STATS, 0, &st,
			  bounded ? sizeof(st) : IVT_CTRL_LINE_STATS_V1, NULL, 0) == 0) {
		s->told_accepted = s->accepted;
		s->told_refused = s->refused;
		s->told_held = held;
	}
	s->told_at_ms = now;
}
