/* SPDX-License-Identifier: MIT */
/* A listener's direct lines (listener_lines.c, docs/conn-setup.md). */
#ifndef IVT_LIBIVT_LISTENER_LINES_H
#define IVT_LIBIVT_LISTENER_LINES_H

#include <stdint.h>

#include "ctrl.h"

/* The most lines one listener holds; beyond, the oldest is dropped (its
 * connector comes through ivtd again). */
#define LINES_MAX 256

/* epoll data of a line in the listener's set: this bit and the line's
 * address; everything else there is an fd. */
#define LINE_TAG (1ull << 63)

struct line;

struct line_set {
	struct line **v; /* oldest first */
	int n, cap;
	int epfd;        /* the listener's set (ivt_listener_fd) */
	int ever;        /* a line came: ivtd takes LINE_STATS */
	int reuse;       /* keep rings on lines ($IVT_RING_REUSE at ivt_listen) */
	int paused;      /* lines out of epfd: the listener is at its bound */
	uint64_t accepted, refused;          /* connections over lines, offers dropped */
	uint64_t told_accepted, told_refused, told_held; /* as last reported to ivtd */
	long long told_at_ms;
	long long swept_at_ms; /* rings of connectors gone (ring_pool_sweep) */
};

void line_set_init(struct line_set *s, int epfd);
/* A line ivtd gave: our end and the copy of the connector's we keep
 * (both consumed). */
void line_set_add(struct line_set *s, int fd, int keep, const struct ivt_ctrl_line *info);
/* Close every line (ivtd said so, or went away, or the listener closes):
 * offers still queued in them are closed by the kernel, and their
 * connectors read -ECONNREFUSED. */
void line_set_drop_all(struct line_set *s);
void line_set_free(struct line_set *s);
/* One offer from the line tagged `data` (epoll), if it holds one: 0 with
 * *offer (its fds the caller's), or -EAGAIN (nothing usable: a malformed
 * message discarded and counted). A line never reads end of file (we
 * keep a copy of the connector's end): lines of connectors gone stay
 * until dropped (LINES_MAX, ivtd's word, the listener's close). */
int line_set_take(struct line_set *s, uint64_t data, struct ivt_ring_offer *offer);
/* An idle moment: release the kept rings whose connector closed since,
 * and, when many are kept, close those whose connector went, at most
 * once a second (ring_pool.c). */
void line_set_idle(struct line_set *s);
/* Take the lines out of epfd (pause 1: their offers wait in their
 * queues) or put them back. */
void line_set_pause(struct line_set *s, int pause);
/* Tell ivtd the counts, if they changed: at an idle moment (the
 * listener is about to wait) at most once a second, or now (force: the
 * listener reached or left its bound). ctrl_fd: the listener's control
 * socket; held: what it holds over lines while at its bound (0 below
 * it), sent only to an ivtd that gave a bound (bounded; an older one
 * refuses the longer message). */
void line_set_report(struct line_set *s, int ctrl_fd, uint64_t held, int bounded, int force);

#endif
