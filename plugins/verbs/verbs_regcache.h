/* SPDX-License-Identifier: MIT */
/*
 * Memory registration cache (pure code; the actual ibv_reg_mr/ibv_dereg_mr
 * are behind a backend so tests run without hardware).
 *
 * Entries are keyed by (addr, len, access) and reference counted: the same
 * registration asked twice gives the same key and one MR. The last
 * deregistration releases the MR at once; keeping MRs of memory the user
 * may free would need malloc/munmap hooks (the classic cache-invalidation
 * bug), so the cache only saves repeated registrations of live regions.
 *
 * The user key is rkey << 32 | id with a random non-zero id, so a key is
 * hard to guess and a stale key (id reused with another rkey) is refused.
 */
#ifndef IVT_VERBS_REGCACHE_H
#define IVT_VERBS_REGCACHE_H

#include <stddef.h>
#include <stdint.h>

#define VRC_MAX_ENTRIES 256

struct vrc_backend {
	void *ctx;
	/* Register; fill handle, rkey, lkey. 0 or negative errno. */
	int (*reg)(void *ctx, void *addr, size_t len, unsigned access, void **handle,
		   uint32_t *rkey, uint32_t *lkey);
	void (*dereg)(void *ctx, void *handle);
	/* Source of ids; NULL = getrandom(). */
	uint32_t (*random_u32)(void *ctx);
};

struct vrc_entry {
	uintptr_t addr;
	size_t len;
	unsigned access;
	uint32_t id, rkey, lkey;
	unsigned refs; /* 0 = free slot */
	void *handle;
};

struct vrc_cache {
	struct vrc_backend be;
	struct vrc_entry e[VRC_MAX_ENTRIES];
	uint64_t hits, misses;
};

void vrc_init(struct vrc_cache *c, const struct vrc_backend *be);

/* Register (or find) a region. *is_new tells whether a new MR was made
 * (so the peer must be told about it). 0, -EINVAL, -ENOSPC or the
 * backend's error. */
int vrc_register(struct vrc_cache *c, void *addr, size_t len, unsigned access, uint64_t *key,
		 int *is_new);

/* Drop one reference. 1 if the MR was released (*gone filled, id for the
 * peer), 0 if still referenced, -ENOENT for an unknown or stale key. */
int vrc_deregister(struct vrc_cache *c, uint64_t key, struct vrc_entry *gone);

const struct vrc_entry *vrc_find_key(const struct vrc_cache *c, uint64_t key);

/* Release every MR (endpoint teardown). */
void vrc_clear(struct vrc_cache *c);

/* ---- regions the peer registered (its descriptors) --------------------- */

#define VRT_MAX_ENTRIES 256

struct vw_region;

struct vrt_table {
	struct vrt_entry {
		uint32_t id, rkey;
		uint64_t addr, len;
		uint32_t access;
		int used;
	} e[VRT_MAX_ENTRIES];
};

void vrt_init(struct vrt_table *t);
/* Add a peer descriptor (already vw_region_decode'd). -EEXIST for a
 * duplicate id, -ENOSPC when full (both are protocol errors of the peer). */
int vrt_add(struct vrt_table *t, const struct vw_region *r);
int vrt_del(struct vrt_table *t, uint32_t id);
/* Check an operation against the peer's region before it reaches the
 * wire: -EACCES unknown key, wrong rkey or access; -ERANGE out of bounds.
 * Fills the remote address and rkey to post. */
int vrt_check(const struct vrt_table *t, uint64_t key, uint64_t offset, uint64_t len,
	      unsigned need_access, uint64_t *raddr, uint32_t *rkey);

#endif
