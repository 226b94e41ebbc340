/* SPDX-License-Identifier: MIT */
/*
 * Tiers: one interface for "somewhere to put pages", so they can be stacked.
 *
 * Implementations:
 *  - utmem_store_tier():  a local store, seen as one domain.
 *  - utmem_client_tier(): a remote store reached over a byte stream with the
 *    utmem protocol (proto_client.h).
 *  - utmem_stack_new():   an ordered list of tiers, itself a tier. Each level
 *    accepts a request or passes it down: a put refused with -ENOSPC goes
 *    to the next tier, a get that misses (-ENOENT) asks the next tier;
 *    invalidations and pool operations go to every tier.
 *
 * A tier acts for exactly one domain: the store tier is bound to a domid,
 * a client tier is whoever the server says the connection belongs to.
 * All return values follow store.h (0 / length / negative errno).
 */
#ifndef UTMEM_TIER_H
#define UTMEM_TIER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "utmem/store.h"

struct utmem_tier;

struct utmem_tier_ops {
	const char *name;
	int (*pool_create)(struct utmem_tier *t, uint32_t flags, const uint8_t uuid[UTMEM_UUID_LEN],
			   uint32_t *pool_out);
	int (*pool_destroy)(struct utmem_tier *t, uint32_t pool);
	int (*put)(struct utmem_tier *t, const struct utmem_key *key, const void *buf, size_t len);
	ssize_t (*get)(struct utmem_tier *t, const struct utmem_key *key, void *buf, size_t cap,
		       unsigned flags);
	int (*invalidate_page)(struct utmem_tier *t, const struct utmem_key *key);
	int (*invalidate_object)(struct utmem_tier *t, uint32_t pool, uint64_t oid);
	/* Largest value this tier accepts. */
	size_t (*max_value)(struct utmem_tier *t);
	void (*destroy)(struct utmem_tier *t); /* frees the tier, not what it wraps */
};

struct utmem_tier {
	const struct utmem_tier_ops *ops;
};

/* Convenience wrappers. */
static inline int utmem_tier_pool_create(struct utmem_tier *t, uint32_t flags,
					 const uint8_t uuid[UTMEM_UUID_LEN], uint32_t *pool)
{
	return t->ops->pool_create(t, flags, uuid, pool);
}
static inline int utmem_tier_pool_destroy(struct utmem_tier *t, uint32_t pool)
{
	return t->ops->pool_destroy(t, pool);
}
static inline int utmem_tier_put(struct utmem_tier *t, const struct utmem_key *k, const void *b,
				 size_t len)
{
	return t->ops->put(t, k, b, len);
}
static inline ssize_t utmem_tier_get(struct utmem_tier *t, const struct utmem_key *k, void *b,
				     size_t cap, unsigned flags)
{
	return t->ops->get(t, k, b, cap, flags);
}
static inline int utmem_tier_invalidate_page(struct utmem_tier *t, const struct utmem_key *k)
{
	return t->ops->invalidate_page(t, k);
}
static inline int utmem_tier_invalidate_object(struct utmem_tier *t, uint32_t pool, uint64_t oid)
{
	return t->ops->invalidate_object(t, pool, oid);
}
static inline size_t utmem_tier_max_value(struct utmem_tier *t)
{
	return t->ops->max_value(t);
}
static inline void utmem_tier_destroy(struct utmem_tier *t)
{
	if (t)
		t->ops->destroy(t);
}

/* The local store as seen by domain `domid`. The store must outlive it. */
struct utmem_tier *utmem_store_tier(struct utmem_store *st, uint32_t domid);

/* A stack of n tiers, tiers[0] first. The stack keeps its own pool ids and
 * maps each to the pool id every level gave it. The tiers must outlive the
 * stack (destroying the stack does not destroy them). */
struct utmem_tier *utmem_stack_new(struct utmem_tier *const *tiers, size_t n);

#endif /* UTMEM_TIER_H */
