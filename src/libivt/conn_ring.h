/* SPDX-License-Identifier: MIT */
/* Connector-made rings (conn_ring.c, docs/conn-setup.md). */
#ifndef IVT_LIBIVT_CONN_RING_H
#define IVT_LIBIVT_CONN_RING_H

#include "common/ctrl_proto.h"
#include "ctrl.h"

struct ivt_channel;
struct ring_pool;

/* conn_ring_connect did not open: open the ordinary way. */
#define CONN_RING_UNUSED 1

/* 0 when $IVT_CONN_RING is "0" (for A/B measurements and tests). */
int conn_ring_enabled(void);

/* An ordinary connector's OPEN_OK said IVT_CTRL_OK_RINGS: keep its grant. */
void conn_ring_learn(const char *socket_opt, const char *name, const struct ivt_ctrl_open_ok *ok);

/* Open connector ch by building its ring, when a grant for req->name is
 * known: 0 accepted (ch->ep, ch->ops set; *ok as ivtd said or as the
 * grant implies), CONN_RING_UNUSED (nothing kept; ch->ctrl closed), or a
 * refusal (negative errno, reason recorded). flags: the caller's. */
int conn_ring_connect(struct ivt_channel *ch, const char *socket_opt,
		      const struct ivt_ctrl_open *req, unsigned flags,
		      struct ivt_ctrl_open_ok *ok, int wait_ms);

/* The accepting end of an offer with a ring: attach to it (ch->ep,
 * ch->ops). The offer's fds are consumed. 0, or -ECONNABORTED when the
 * ring is refused (logged): the listener takes the next connector. */
int conn_ring_attach(struct ivt_channel *ch, const struct ivt_ctrl_open_ok *lis_ok,
		     struct ivt_ring_offer *offer);

/* ---- direct lines (docs/conn-setup.md) ----
 * A connector's end of a line to a listener, kept with its grant per
 * socket path and name (conn_ring.c, 16 entries; an evicted line is
 * closed). */
struct conn_line {
	char backend[IVT_BACKEND_NAME_MAX + 1];
	uint64_t ring_size;
	int message;
	uint32_t line_id;
	char peer[IVT_IDENTITY_MAX + 1]; /* the listener's identity */
};

/* 0 when $IVT_LINES is "0" or connector-made rings are off. */
int conn_line_enabled(void);
/* A LINE from ivtd for name (fd is consumed). */
void conn_line_keep(const char *path, const char *name, const struct ivt_ctrl_line *l, int fd);
/* 1 with *out when a line to name is kept, else 0. */
int conn_line_lookup(const char *path, const char *name, struct conn_line *out);
/* Before a connection over line line_id: ring_pool_take on its pool
 * (ring_pool.h): 1 with *ep, a kept ring renewed, on *slot; 0 with *slot
 * for a fresh ring (0: not kept); *pool a reference when *slot is set;
 * -EPIPE: the line is gone (closed and forgotten). */
int conn_line_take(const char *path, const char *name, uint32_t line_id,
		   const struct ivt_plugin_ops *ops, struct ring_pool **pool, uint32_t *slot,
		   struct ivt_ep **ep);
/* One message on line line_id, never blocking: a SETUP (s, fds) or a
 * LINE_REUSE (s NULL), naming slot. 0, -EAGAIN (its queue is full), or
 * another negative errno (the line is closed and forgotten). */
int conn_line_send(const char *path, const char *name, uint32_t line_id, uint16_t type,
		   uint32_t slot, const struct ivt_ctrl_setup *s, const int *fds, int nfds);
/* Open connector ch over a kept line: 0 (ch->ep, ch->ops, ch->ctrl set;
 * *ok as the grant implies; the listener has not accepted yet),
 * CONN_RING_UNUSED (open through ivtd), or a negative errno. */
int conn_line_connect(struct ivt_channel *ch, const char *socket_opt,
		      const struct ivt_ctrl_open *req, unsigned flags, struct ivt_ctrl_open_ok *ok);

#endif
