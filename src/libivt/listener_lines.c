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

#define REPORT_EVERY_MS 1000

struct line {
	int fd;
	int keep; /* a copy of the connector's end: ours never reads EOF */
	uint32_t id;
	char identity[IVT_IDENTITY_MAX + 1];
};

void line_set_init(struct line_set *s, int epfd)
{
	memset(s, 0, sizeof(*s));
	s->epfd = epfd;
}

static void line_free(struct line_set *s, struct line *ln)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, ln->fd, NULL);
	close(ln->fd);
	close(ln->keep);
	free(ln);
}

static void drop_at(struct line_set *s, int i)
{
	line_free(s, s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], sizeof(s->v[0]) * (size_t)(s->n - i - 1));
	s->n--;
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
	if (!ln) {
		close(fd);
		close(keep);
		return;
	}
	ln->fd = fd;
	ln->keep = keep;
	ln->id = info->line_id;
	snprintf(ln->identity, sizeof(ln->identity), "%s", info->identity);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = LINE_TAG | (uintptr_t)ln};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
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
	if (rc == -EPROTO || m.hdr.type != IVT_CTRL_SETUP) {
		if (rc == 0)
			ivt_ctrl_msg_close_fds(&m);
		s->refused++;
		IVT_WARN("libivt", "line %u from %s: a malformed offer, dropped", (unsigned)ln->id,
			 ln->identity);
		return -EAGAIN;
	}
	memset(offer, 0, sizeof(*offer));
	offer->has = 1;
	offer->line = 1;
	offer->ctrl_fd = -1;
	offer->line_fd = -1;
	snprintf(offer->identity, sizeof(offer->identity), "%s", ln->identity);
	offer->blob_len = m.u.setup.blob_len;
	memcpy(offer->blob, m.u.setup.blob, m.u.setup.blob_len);
	offer->nfds = m.nfds; /* == setup.nfds: the parser says so */
	memcpy(offer->fds, m.fds, sizeof(int) * (size_t)m.nfds);
	return 0;
}

void line_set_report(struct line_set *s, int ctrl_fd)
{
	if (!s->ever || ctrl_fd < 0 ||
	    (s->accepted == s->told_accepted && s->refused == s->told_refused))
		return;
	long long now = ivt_now_ms();
	if (s->told_at_ms && now - s->told_at_ms < REPORT_EVERY_MS)
		return;
	struct ivt_ctrl_line_stats st = {.accepted = s->accepted, .refused = s->refused};
	if (ivt_ctrl_send(ctrl_fd, IVT_CTRL_LINE_STATS, 0, &st, sizeof(st), NULL, 0) == 0) {
		s->told_accepted = s->accepted;
		s->told_refused = s->refused;
	}
	s->told_at_ms = now;
}
