/* SPDX-License-Identifier: MIT */
/*
 * A stack of tiers (see tier.h). Each level accepts a request or passes it
 * down: puts refused for room (-ENOSPC, -E2BIG) go to the next level, gets
 * that miss ask the next level.
 *
 * Consistency rule: a key lives in at most one level. A put that lands at
 * level i invalidates the key in the other levels that may hold it, so a
 * later get can never find an older value lower down after the newer one
 * was evicted. (Levels above i just refused the put, and a refused put
 * drops the old value, store.h.)
 */
#include "utmem/tier.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define STACK_MAX_LEVELS 8

struct stack_pool {
	bool used;
	uint32_t flags;
	uint32_t ids[STACK_MAX_LEVELS];   /* 0: this level has no such pool */
	bool maybe[STACK_MAX_LEVELS];     /* a page may live at this level */
};

struct stack {
	struct utmem_tier tier;
	struct utmem_tier *levels[STACK_MAX_LEVELS];
	size_t n;
	struct stack_pool *pools; /* indexed by stack pool id; [0] unused */
	uint32_t npools;
};

static struct stack *sk_of(struct utmem_tier *t)
{
	return (struct stack *)t;
}

static struct stack_pool *sk_pool(struct stack *s, uint32_t id)
{
	if (id == 0 || id >= s->npools || !s->pools[id].used)
		return NULL;
	return &s->pools[id];
}

/* May level i hold pages of this pool? Shared pools: anyone may have put
 * there, so always ask. Private pools: only if this stack put there. */
static bool level_relevant(const struct stack_pool *p, size_t i)
{
	if (!p->ids[i])
		return false;
	return (p->flags & UTMEM_POOL_SHARED) || p->maybe[i];
}

static struct utmem_key level_key(const struct stack_pool *p, size_t i, const struct utmem_key *k)
{
	struct utmem_key lk = *k;
	lk.pool = p->ids[i];
	return lk;
}

static int sk_pool_create(struct utmem_tier *t, uint32_t flags, const uint8_t *uuid, uint32_t *out)
{
	struct stack *s = sk_of(t);
	uint32_t id = 1;
	while (id < s->npools && s->pools[id].used)
		id++;
	if (id >= UTMEM_POOLS_MAX)
		return -EMFILE;
	if (id >= s->npools) {
		uint32_t n = s->npools ? s->npools * 2 : 8;
		struct stack_pool *np = realloc(s->pools, n * sizeof(*np));
		if (!np)
			return -ENOMEM;
		memset(np + s->npools, 0, (n - s->npools) * sizeof(*np));
		s->pools = np;
		s->npools = n;
	}
	struct stack_pool *p = &s->pools[id];
	memset(p, 0, sizeof(*p));
	/* The first level must have the pool; lower ones are best effort: a
	 * level that cannot make it (full, unreachable) is just skipped. */
	int rc = utmem_tier_pool_create(s->levels[0], flags, uuid, &p->ids[0]);
	if (rc)
		return rc;
	for (size_t i = 1; i < s->n; i++)
		if (utmem_tier_pool_create(s->levels[i], flags, uuid, &p->ids[i]))
			p->ids[i] = 0;
	p->used = true;
	p->flags = flags;
	*out = id;
	return 0;
}

static int sk_pool_destroy(struct utmem_tier *t, uint32_t pool)
{
	struct stack *s = sk_of(t);
	struct stack_pool *p = sk_pool(s, pool);
	if (!p)
		return -EBADF;
	int rc = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!p->ids[i])
			continue;
		int r = utmem_tier_pool_destroy(s->levels[i], p->ids[i]);
		if (r && !rc)
			rc = r;
	}
	p->used = false;
	return rc;
}

/* Drop the key from every relevant level except `keep`. */
static void invalidate_others(struct stack *s, struct stack_pool *p, const struct utmem_key *k,
			      size_t keep)
{
	for (size_t i = 0; i < s->n; i++) {
		if (i == keep || !level_relevant(p, i))
			continue;
		struct utmem_key lk = level_key(p, i, k);
		utmem_tier_invalidate_page(s->levels[i], &lk);
	}
}

static int sk_put(struct utmem_tier *t, const struct utmem_key *k, const void *b, size_t len)
{
	struct stack *s = sk_of(t);
	struct stack_pool *p = sk_pool(s, k->pool);
	if (!p)
		return -EBADF;
	int rc = -ENOSPC;
	for (size_t i = 0; i < s->n; i++) {
		if (!p->ids[i])
			continue;
		struct utmem_key lk = level_key(p, i, k);
		rc = utmem_tier_put(s->levels[i], &lk, b, len);
		if (rc == 0) {
			p->maybe[i] = true;
			invalidate_others(s, p, k, i);
			return 0;
		}
		if (rc != -ENOSPC && rc != -E2BIG)
			break; /* a real error: do not hide it by passing down */
	}
	invalidate_others(s, p, k, s->n); /* failed: no old value may survive */
	return rc;
}

static ssize_t sk_get(struct utmem_tier *t, const struct utmem_key *k, void *b, size_t cap,
		      unsigned flags)
{
	struct stack *s = sk_of(t);
	struct stack_pool *p = sk_pool(s, k->pool);
	if (!p)
		return -EBADF;
	for (size_t i = 0; i < s->n; i++) {
		if (!level_relevant(p, i))
			continue;
		struct utmem_key lk = level_key(p, i, k);
		ssize_t r = utmem_tier_get(s->levels[i], &lk, b, cap, flags);
		if (r != -ENOENT)
			return r;
	}
	return -ENOENT;
}

/* One level's invalidate result into the stack's (starting at -ENOENT):
 * 0 once some level had it, but a real error wins. */
static int merge_inval(int rc, int r)
{
	if (r == 0 && rc == -ENOENT)
		return 0;
	if (r && r != -ENOENT)
		return r;
	return rc;
}

static int sk_inval_page(struct utmem_tier *t, const struct utmem_key *k)
{
	struct stack *s = sk_of(t);
	struct stack_pool *p = sk_pool(s, k->pool);
	if (!p)
		return -EBADF;
	int rc = -ENOENT;
	for (size_t i = 0; i < s->n; i++) {
		if (!level_relevant(p, i))
			continue;
		struct utmem_key lk = level_key(p, i, k);
		int r = utmem_tier_invalidate_page(s->levels[i], &lk);
		rc = merge_inval(rc, r);
	}
	return rc;
}

static int sk_inval_object(struct utmem_tier *t, uint32_t pool, uint64_t oid)
{
	struct stack *s = sk_of(t);
	struct stack_pool *p = sk_pool(s, pool);
	if (!p)
		return -EBADF;
	int rc = -ENOENT;
	for (size_t i = 0; i < s->n; i++) {
		if (!level_relevant(p, i))
			continue;
		int r = utmem_tier_invalidate_object(s->levels[i], p->ids[i], oid);
		rc = merge_inval(rc, r);
	}
	return rc;
}

static size_t sk_max_value(struct utmem_tier *t)
{
	struct stack *s = sk_of(t);
	size_t m = 0;
	for (size_t i = 0; i < s->n; i++) {
		size_t v = utmem_tier_max_value(s->levels[i]);
		if (v > m)
			m = v;
	}
	return m;
}

static void sk_destroy(struct utmem_tier *t)
{
	struct stack *s = sk_of(t);
	free(s->pools);
	free(s);
}

static const struct utmem_tier_ops stack_ops = {
	.name = "stack",
	.pool_create = sk_pool_create,
	.pool_destroy = sk_pool_destroy,
	.put = sk_put,
	.get = sk_get,
	.invalidate_page = sk_inval_page,
	.invalidate_object = sk_inval_object,
	.max_value = sk_max_value,
	.destroy = sk_destroy,
};

struct utmem_tier *utmem_stack_new(struct utmem_tier *const *tiers, size_t n)
{
	if (n == 0 || n > STACK_MAX_LEVELS)
		return NULL;
	struct stack *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->tier.ops = &stack_ops;
	for (size_t i = 0; i < n; i++)
		s->levels[i] = tiers[i];
	s->n = n;
	return &s->tier;
}
