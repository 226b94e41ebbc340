/* SPDX-License-Identifier: MIT */
/*
 * The pools an ivt_store handle holds, by the ids its caller knows. The
 * store (in ivtd) picks pool ids; after ivtd restarts, the handle
 * re-creates its pools on the new store, which may pick other ids, so
 * the caller's ids (those of the first store) are mapped to the current
 * ones here (store_api.c).
 */
#ifndef IVT_LIBIVT_STORE_POOLS_H
#define IVT_LIBIVT_STORE_POOLS_H

#include <stddef.h>
#include <stdint.h>

#include "ivt/ivt.h"

struct store_pool {
	uint32_t id;  /* as the caller knows it */
	uint32_t cur; /* on the current connection; 0: could not be re-created */
	unsigned flags;
	uint8_t uuid[IVT_UUID_LEN];
};

struct store_pools {
	struct store_pool *v;
	size_t n, cap;
};

/* The current id of the caller's pool id: -EBADF for one that could not
 * be re-created; an id never added maps to itself (the store says
 * whether it may be used). */
int store_pools_cur(const struct store_pools *ps, uint32_t id, uint32_t *cur);
/* Remember a pool the store just created as cur. *id: cur unless a pool
 * of ours already has that id (after a reconnect), then a free one; a
 * shared pool attached twice keeps its first id. 0 or -ENOMEM. */
int store_pools_add(struct store_pools *ps, unsigned flags, const uint8_t *uuid, uint32_t cur,
		    uint32_t *id);
void store_pools_forget(struct store_pools *ps, uint32_t id);
void store_pools_free(struct store_pools *ps);

#endif
