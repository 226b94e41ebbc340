/* SPDX-License-Identifier: MIT */
/*
 * utmem store: user-space transcendent memory, host side.
 *
 * A domain (Xen domid, or 0 for local processes) creates pools and puts
 * values ("pages", 1 byte .. max_value) under keys (pool, oid, index), gets
 * them back and invalidates them. Semantics follow Xen tmem:
 *
 *  - Persistent pools keep what they accepted until it is invalidated or
 *    the pool is destroyed; they are never evicted.
 *  - Ephemeral pools are a cache: any get may miss. Their pages are evicted
 *    LRU when the owning domain's quota is lowered or needed for its next
 *    put, and under global pressure (the store's capacity) for anyone's put.
 *  - Gets are non-destructive, except: UTMEM_GET_TAKE removes the page on
 *    a hit, and a get from a PRIVATE EPHEMERAL pool is always exclusive
 *    (tmem cleancache: the guest now holds the only copy, so keeping ours
 *    would just double-cache it). Shared ephemeral gets are not exclusive,
 *    since other sharers may still want the page.
 *  - A put that does not fit (quota or capacity, after evicting what may
 *    be evicted) is refused with -ENOSPC: a normal result, not a fault.
 *    A put to an existing key replaces it; if the new put is refused the
 *    old value is gone too (no stale data is ever returned).
 *  - Private pools are usable only by their creator (-EACCES otherwise).
 *    A shared pool is named by a 128-bit uuid; any domain that creates a
 *    shared pool with the same uuid (and persistence) attaches to it and
 *    gets the same pool id.
 *
 * Accounting: every stored page is charged utmem_charge(len) bytes, the
 * value plus a fixed UTMEM_PAGE_COST for its metadata, to the domain that
 * put it, and to the store's global use. Both are exact at all times.
 *
 * Every operation is O(1) on average (hash table on (pool, oid, index))
 * except invalidating an object or a pool, which are O(pages removed).
 * Not thread-safe: one thread (the daemon's event loop) owns a store.
 */
#ifndef UTMEM_STORE_H
#define UTMEM_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UTMEM_UUID_LEN 16
#define UTMEM_DEFAULT_MAX_VALUE (16u << 20)
#define UTMEM_MAX_VALUE_LIMIT (1u << 30) /* the wire carries 32-bit lengths */
#define UTMEM_PAGE_COST 128u              /* metadata charged per page */
#define UTMEM_POOLS_MAX 65536u            /* pool ids are 1 .. UTMEM_POOLS_MAX - 1 */
#define UTMEM_POOLS_PER_DOMAIN 64u        /* a hostile guest cannot exhaust ids */
#define UTMEM_SHARERS_MAX 32u             /* domains attached to one shared pool */
#define UTMEM_QUOTA_UNLIMITED UINT64_MAX

enum utmem_pool_flags {
	UTMEM_POOL_PERSISTENT = 1u << 0, /* else ephemeral */
	UTMEM_POOL_SHARED = 1u << 1,     /* else private */
};
#define UTMEM_POOL_FLAGS_ALL (UTMEM_POOL_PERSISTENT | UTMEM_POOL_SHARED)

enum utmem_get_flags {
	UTMEM_GET_TAKE = 1u << 0, /* remove the page on a hit */
};
#define UTMEM_GET_FLAGS_ALL UTMEM_GET_TAKE

struct utmem_key {
	uint32_t pool;
	uint32_t index;
	uint64_t oid;
};

struct utmem_config {
	size_t max_value;       /* largest value; <= UTMEM_MAX_VALUE_LIMIT */
	uint64_t capacity;      /* global limit on charged bytes */
	uint64_t default_quota; /* quota of a domain the store has not seen */
};

struct utmem_domain_stats {
	uint64_t quota, used, ephemeral_used, pages, pools;
	uint64_t puts, puts_refused, gets, get_hits, evicted;
};

struct utmem_store_stats {
	uint64_t capacity, used, ephemeral_used, pages, pools, domains;
	uint64_t evicted; /* ephemeral pages dropped to make room */
	uint64_t max_value;
};

struct utmem_store;

static inline uint64_t utmem_charge(size_t len)
{
	return (uint64_t)len + UTMEM_PAGE_COST;
}

/* Defaults: 16 MiB values, unlimited capacity and quotas. */
void utmem_config_default(struct utmem_config *cfg);

/* NULL cfg = defaults. NULL on bad config (max_value 0 or too big) or no memory. */
struct utmem_store *utmem_store_new(const struct utmem_config *cfg);
void utmem_store_free(struct utmem_store *st);

/* Create a pool (flags: enum utmem_pool_flags). uuid is required for a
 * shared pool (not all zero) and ignored for a private one. Errors:
 * -EINVAL bad flags/uuid, -EEXIST shared uuid exists with other
 * persistence, -EMFILE too many pools, -EUSERS too many sharers, -ENOMEM. */
int utmem_pool_create(struct utmem_store *st, uint32_t domid, uint32_t flags,
		      const uint8_t uuid[UTMEM_UUID_LEN], uint32_t *pool_out);

/* Private: frees the pool and its pages (creator only). Shared: detaches
 * the domain; the pool and its pages go when the last sharer detaches.
 * -EBADF no such pool, -EACCES not yours. */
int utmem_pool_destroy(struct utmem_store *st, uint32_t domid, uint32_t pool);

/* 0 stored; -ENOSPC refused (quota or capacity); -EINVAL len 0;
 * -E2BIG len > max_value; -EBADF no such pool; -EACCES; -ENOMEM. */
int utmem_put(struct utmem_store *st, uint32_t domid, const struct utmem_key *key,
	      const void *buf, size_t len);

/* Copy the value into buf: returns its length; -ENOENT miss; -EMSGSIZE
 * cap too small (nothing removed); -EBADF; -EACCES; -EINVAL bad flags. */
ssize_t utmem_get(struct utmem_store *st, uint32_t domid, const struct utmem_key *key,
		  void *buf, size_t cap, unsigned flags);

/* 0 removed, -ENOENT nothing there, -EBADF, -EACCES. */
int utmem_invalidate_page(struct utmem_store *st, uint32_t domid, const struct utmem_key *key);
int utmem_invalidate_object(struct utmem_store *st, uint32_t domid, uint32_t pool,
			    uint64_t oid);

/* Change a domain's quota at run time. If it is now over quota, its
 * ephemeral pages are evicted (LRU) until it fits or none are left; while
 * still over, its puts are refused. Persistent pages are never evicted. */
int utmem_set_quota(struct utmem_store *st, uint32_t domid, uint64_t bytes);

/* The domain went away: destroy its private pools, detach it from shared
 * ones and drop every page it put anywhere. */
void utmem_domain_destroy(struct utmem_store *st, uint32_t domid);

void utmem_domain_stats(struct utmem_store *st, uint32_t domid, struct utmem_domain_stats *out);
void utmem_store_stats(const struct utmem_store *st, struct utmem_store_stats *out);
size_t utmem_store_max_value(const struct utmem_store *st);

#endif /* UTMEM_STORE_H */
