/* SPDX-License-Identifier: MIT */
/*
 * Rings kept over a direct line for the next connection (ring_pool.c,
 * docs/conn-setup.md). One pool per line and side; it owns the line's
 * descriptor, and the channels made over the line hold references.
 */
#ifndef IVT_LIBIVT_RING_POOL_H
#define IVT_LIBIVT_RING_POOL_H

#include <stdint.h>

#include "ivt/plugin.h"

/* Rings parked per process, all lines and both sides together; beyond,
 * a closing end unmaps its ring as without pools. Per line and side at
 * most IVT_LINE_SLOTS (ctrl_proto.h). */
#define RING_POOL_PARKED_MAX 64

enum ring_pool_side { RING_POOL_CONNECTOR, RING_POOL_LISTENER };

struct ring_pool;

/* 0 when $IVT_RING_REUSE is "0": no slot is offered, none kept. */
int ring_pool_enabled(void);
/* Does the backend keep rings (plugin.h: park, peer_done, renew)? */
int ring_pool_backend_ok(const struct ivt_plugin_ops *ops);

/* A pool for line fd (owned from here on, also on failure: NULL). */
struct ring_pool *ring_pool_new(int fd, enum ring_pool_side side);
int ring_pool_fd(const struct ring_pool *p);
void ring_pool_ref(struct ring_pool *p);
void ring_pool_unref(struct ring_pool *p);
/* The line is gone (dropped, evicted, broken): close its descriptor and
 * every parked ring (their peers see the wake-up socket close: a ring
 * offered again and not attached yet reads -ECONNREFUSED there). Slots
 * held by open channels stay theirs; their close frees them. */
void ring_pool_kill(struct ring_pool *p);

/* An end on slot closes: keep ep (parked) if the pool, the backend and
 * the limits allow, else close it. ep NULL: nothing to keep (closed or
 * never made). Any thread. */
void ring_pool_put(struct ring_pool *p, uint32_t slot, const struct ivt_plugin_ops *ops,
		   struct ivt_ep *ep);

/* ---- the connector ----
 * Before a connection: read the listener's RELEASED messages (never
 * waiting). 1: *ep (renewed, ops *ops) is the new connection's ring on
 * *slot, to announce with REUSE; 0: make a fresh ring and offer it on
 * *slot (0: none free, not kept); -EPIPE: the line is gone or broke the
 * protocol (the caller drops it). The slot is the caller's until
 * ring_pool_put, or ring_pool_unused if nothing was sent. */
int ring_pool_take(struct ring_pool *p, const struct ivt_plugin_ops *ops, uint32_t *slot,
		   struct ivt_ep **ep);
/* Nothing went out on slot (the line was full or gone): it is free again,
 * its ring (if any) parked again. */
void ring_pool_unused(struct ring_pool *p, uint32_t slot, struct ivt_ep *ep);

/* ---- the listener ----
 * A fresh ring offered on slot (0: not kept): 0, or -EPROTO (the slot is
 * busy: the connector broke the protocol; drop the line). */
int ring_pool_offered(struct ring_pool *p, uint32_t slot);
/* REUSE of slot: 0 with *ep renewed (ops *ops) for the new channel, or
 * -EPROTO (not a slot we released and kept: drop the line), or -EAGAIN
 * (the ring failed its checks or its connector went: refused, slot
 * released). */
int ring_pool_reuse(struct ring_pool *p, uint32_t slot, const struct ivt_plugin_ops **ops,
		    struct ivt_ep **ep);
/* Release the slots whose connector closed since (a message each). */
void ring_pool_scan(struct ring_pool *p);
/* Half the process's kept rings or more are parked: time to sweep. */
int ring_pool_crowded(void);
/* Close the released rings whose connector process went (one poll): a
 * listener's end of a line never reads end of file, so rings released
 * to connectors gone would stay kept until the line is dropped. */
void ring_pool_sweep(struct ring_pool *p);

#endif
