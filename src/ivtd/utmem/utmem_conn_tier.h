/* SPDX-License-Identifier: MIT */
/*
 * What one "ivt.utmem" connection's session serves: the local store as
 * the connection's domain, plus
 *  - the pools the connection created, so they go when it does;
 *  - with a lower tier (utmem_lower.h), overflow to another host's store
 *    with the stack rules of src/utmem/tier.h: a put the local store
 *    refuses for room (-ENOSPC, -E2BIG) goes down, a get that misses
 *    asks below, and a key lives in at most one level (a put that lands
 *    locally invalidates the copy below). Those round trips are answered
 *    later (UTMEM_DEFERRED, proto.h) through the `answered` callback, so
 *    ivtd's loop never waits. A lower tier that is down or fails makes a
 *    put "refused" (the local answer) and a get a miss.
 *
 * Private pools only: shared pools stay local. Their sharers are several
 * connections, each with its own mapping below, which could not keep one
 * copy of a key.
 */
#ifndef IVTD_UTMEM_CONN_TIER_H
#define IVTD_UTMEM_CONN_TIER_H

#include <stddef.h>
#include <stdint.h>

#include "ivtd/utmem/utmem_lower.h"
#include "utmem/store.h"
#include "utmem/tier.h"

#define CONN_TIER_POOLS_MAX UTMEM_POOLS_PER_DOMAIN

struct conn_tier_pool {
	uint32_t local, flags;
	uint32_t remote, gen; /* the lower tier's pool id, valid in that generation */
	int maybe_below;      /* something was put below in this generation */
};

/* The request waiting for the lower tier (a session defers one at most). */
struct conn_tier_pending {
	uint8_t op; /* enum utmem_op; 0 none */
	struct utmem_key key; /* local pool id */
	uint8_t *value;       /* PUT: a copy */
	size_t len, cap;      /* PUT: value length; GET: room asked for */
	unsigned flags;
	int local_rc;         /* what the local store answered */
	struct ivt_utmem_lower_req *req;
};

struct conn_tier_stats {
	uint64_t puts_below, puts_below_refused, gets_below, hits_below;
};

struct conn_tier {
	struct utmem_tier base;
	struct utmem_tier *inner;      /* the local store as this domain */
	struct ivt_utmem_lower *lower; /* NULL: no lower tier */
	/* Called once per deferred request, from the event loop. */
	void (*answered)(void *arg, int status, const void *value, size_t len);
	void *arg;
	struct conn_tier_pool pools[CONN_TIER_POOLS_MAX];
	size_t n_pools;
	struct conn_tier_pending pend;
	struct conn_tier_stats stats;
};

void conn_tier_init(struct conn_tier *t, struct utmem_tier *inner, struct ivt_utmem_lower *lower,
		    void (*answered)(void *arg, int status, const void *value, size_t len),
		    void *arg);
/* The connection ends: drop any pending answer and release its pools
 * below (the caller destroys the local ones, listed in pools[]). */
void conn_tier_release(struct conn_tier *t);

#endif
