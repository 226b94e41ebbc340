/* SPDX-License-Identifier: MIT */
/* The local store as a tier bound to one domain. */
#include "utmem/tier.h"

#include <stdlib.h>

struct store_tier {
	struct utmem_tier tier;
	struct utmem_store *st;
	uint32_t domid;
};

static struct store_tier *st_of(struct utmem_tier *t)
{
	return (struct store_tier *)t;
}

static int s_pool_create(struct utmem_tier *t, uint32_t flags, const uint8_t *uuid, uint32_t *out)
{
	return utmem_pool_create(st_of(t)->st, st_of(t)->domid, flags, uuid, out);
}

static int s_pool_destroy(struct utmem_tier *t, uint32_t pool)
{
	return utmem_pool_destroy(st_of(t)->st, st_of(t)->domid, pool);
}

static int s_put(struct utmem_tier *t, const struct utmem_key *k, const void *b, size_t len)
{
	return utmem_put(st_of(t)->st, st_of(t)->domid, k, b, len);
}

static ssize_t s_get(struct utmem_tier *t, const struct utmem_key *k, void *b, size_t cap,
		     unsigned flags)
{
	return utmem_get(st_of(t)->st, st_of(t)->domid, k, b, cap, flags);
}

static int s_inval_page(struct utmem_tier *t, const struct utmem_key *k)
{
	return utmem_invalidate_page(st_of(t)->st, st_of(t)->domid, k);
}

static int s_inval_object(struct utmem_tier *t, uint32_t pool, uint64_t oid)
{
	return utmem_invalidate_object(st_of(t)->st, st_of(t)->domid, pool, oid);
}

static size_t s_max_value(struct utmem_tier *t)
{
	return utmem_store_max_value(st_of(t)->st);
}

static void s_destroy(struct utmem_tier *t)
{
	free(t);
}

static const struct utmem_tier_ops store_tier_ops = {
	.name = "store",
	.pool_create = s_pool_create,
	.pool_destroy = s_pool_destroy,
	.put = s_put,
	.get = s_get,
	.invalidate_page = s_inval_page,
	.invalidate_object = s_inval_object,
	.max_value = s_max_value,
	.destroy = s_destroy,
};

struct utmem_tier *utmem_store_tier(struct utmem_store *st, uint32_t domid)
{
	struct store_tier *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->tier.ops = &store_tier_ops;
	t->st = st;
	t->domid = domid;
	return &t->tier;
}
