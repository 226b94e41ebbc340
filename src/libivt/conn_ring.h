/* SPDX-License-Identifier: MIT */
/* Connector-made rings (conn_ring.c, docs/conn-setup.md). */
#ifndef IVT_LIBIVT_CONN_RING_H
#define IVT_LIBIVT_CONN_RING_H

#include "common/ctrl_proto.h"
#include "ctrl.h"

struct ivt_channel;

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

#endif
