/* SPDX-License-Identifier: MIT */
/* One connection's tier: local store, its pools, overflow below (see
 * utmem_conn_tier.h). */
#include "ivtd/utmem/utmem_conn_tier.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "utmem/proto.h"

static struct conn_tier *ct_of(struct utmem_tier *t) { return (struct conn_tier *)t; }

static struct conn_tier_pool *find_pool(struct conn_tier *t, uint32_t local)
{
	for (size_t i = 0; i < t->n_pools; i++)
		if (t->pools[i].local == local)
			return &t->pools[i];
	return NULL;
}

/* Its pool below, if it exists in the lower tier's current generation. */
static int below_valid(const struct conn_tier *t, const struct conn_tier_pool *p)
{
	return p && p->remote && ivt_utmem_lower_up(t->lower) &&
	       p->gen == ivt_utmem_lower_generation(t->lower);
}

/* May this key live below? Only if this connection put something there. */
static int maybe_below(const struct conn_tier *t, const struct conn_tier_pool *p)
{
	return below_valid(t, p) && p->maybe_below;
}

static void fire_and_forget(struct conn_tier *t, uint8_t op, uint32_t pool, const struct utmem_key *k)
{
	struct utmem_hdr h = {.op = op, .pool = pool};
	if (k) {
		h.index = k->index;
		h.oid = k->oid;
	}
	/* Failure is fine: a link that is down changes generation, and the
	 * peer drops the old connection's pools. */
	ivt_utmem_lower_submit(t->lower, &h, NULL, NULL, NULL, NULL);
}

/* ---- the deferred request --------------------------------------------- */

/* What the client gets when the lower tier cannot help. */
static int fallback(const struct conn_tier_pending *pd)
{
	return pd->op == UTMEM_OP_GET ? -ENOENT : pd->local_rc;
}

static void finish(struct conn_tier *t, int status, const void *value, size_t len)
{
	struct conn_tier_pending *pd = &t->pend;
	free(pd->value);
	memset(pd, 0, sizeof(*pd));
	t->answered(t->arg, status, value, len);
}

static void op_done(void *arg, int err, const struct utmem_hdr *rep, const uint8_t *payload)
{
	struct conn_tier *t = arg;
	struct conn_tier_pending *pd = &t->pend;
	struct conn_tier_pool *p = find_pool(t, pd->key.pool);
	pd->req = NULL;
	int st = err ? err : rep->status;
	switch (pd->op) {
	case UTMEM_OP_PUT:
		if (st == 0 && p) {
			p->maybe_below = 1;
			finish(t, 0, NULL, 0);
			return;
		}
		t->stats.puts_below_refused++;
		break;
	case UTMEM_OP_GET:
		if (st == 0) {
			t->stats.hits_below++;
			finish(t, (int)rep->len, payload, rep->len);
			return;
		}
		if (!err && st != -EBADF) {
			finish(t, st, NULL, 0); /* its answer, e.g. -EMSGSIZE */
			return;
		}
		break;
	default: /* invalidations: gone if gone at either level */
		if (st == 0 && (pd->local_rc == 0 || pd->local_rc == -ENOENT)) {
			finish(t, 0, NULL, 0);
			return;
		}
		break;
	}
	finish(t, fallback(pd), NULL, 0);
}

/* Send the pending request below. 0 sent, or a negative errno. */
static int submit_pending(struct conn_tier *t, struct conn_tier_pool *p)
{
	struct conn_tier_pending *pd = &t->pend;
	struct utmem_hdr h = {
		.op = pd->op, .pool = p->remote, .index = pd->key.index, .oid = pd->key.oid,
	};
	if (pd->op == UTMEM_OP_PUT)
		h.len = (uint32_t)pd->len;
	if (pd->op == UTMEM_OP_GET) {
		h.flags = (uint16_t)pd->flags;
		h.aux = (uint32_t)pd->cap;
	}
	return ivt_utmem_lower_submit(t->lower, &h, pd->value, op_done, t, &pd->req);
}

static void pool_done(void *arg, int err, const struct utmem_hdr *rep, const uint8_t *payload)
{
	(void)payload;
	struct conn_tier *t = arg;
	struct conn_tier_pending *pd = &t->pend;
	struct conn_tier_pool *p = find_pool(t, pd->key.pool);
	pd->req = NULL;
	if (!err && rep->status == 0 && p) {
		p->remote = rep->pool;
		p->gen = ivt_utmem_lower_generation(t->lower);
		p->maybe_below = 0;
		if (submit_pending(t, p) == 0)
			return;
	} else if (!err && rep->status == 0) {
		fire_and_forget(t, UTMEM_OP_POOL_DESTROY, rep->pool, NULL); /* pool went meanwhile */
	}
	finish(t, fallback(pd), NULL, 0);
}

/* Start the pending request below: create the pool there first if this
 * generation has none. 0 started (answer deferred) or a negative errno. */
static int start_below(struct conn_tier *t, struct conn_tier_pool *p)
{
	if (below_valid(t, p))
		return submit_pending(t, p);
	struct utmem_hdr h = {.op = UTMEM_OP_POOL_CREATE, .len = UTMEM_POOL_CREATE_LEN};
	uint8_t pl[UTMEM_POOL_CREATE_LEN] = {0}; /* private: no uuid */
	ivt_put_le32(pl, p->flags);
	p->remote = 0;
	return ivt_utmem_lower_submit(t->lower, &h, pl, pool_done, t, &t->pend.req);
}

/* Defer op below, or return rc_if_not (the local answer). */
static int defer(struct conn_tier *t, struct conn_tier_pool *p, uint8_t op,
		 const struct utmem_key *k, int local_rc)
{
	struct conn_tier_pending *pd = &t->pend;
	pd->op = op;
	pd->key = *k;
	pd->local_rc = local_rc;
	if (start_below(t, p) == 0)
		return UTMEM_DEFERRED;
	free(pd->value);
	memset(pd, 0, sizeof(*pd));
	return op == UTMEM_OP_GET ? -ENOENT : local_rc;
}

/* ---- tier ops ---------------------------------------------------------- */

static int ct_pool_create(struct utmem_tier *tier, uint32_t flags,
			  const uint8_t uuid[UTMEM_UUID_LEN], uint32_t *pool_out)
{
	struct conn_tier *t = ct_of(tier);
	int rc = utmem_tier_pool_create(t->inner, flags, uuid, pool_out);
	if (rc < 0)
		return rc;
	if (find_pool(t, *pool_out))
		return rc; /* attached again to a shared pool it holds */
	if (t->n_pools == CONN_TIER_POOLS_MAX) {
		/* cannot happen: the store allows no more per domain */
		utmem_tier_pool_destroy(t->inner, *pool_out);
		return -EMFILE;
	}
	struct conn_tier_pool *p = &t->pools[t->n_pools++];
	memset(p, 0, sizeof(*p));
	p->local = *pool_out;
	p->flags = flags;
	return rc;
}

static void drop_below(struct conn_tier *t, struct conn_tier_pool *p)
{
	if (below_valid(t, p))
		fire_and_forget(t, UTMEM_OP_POOL_DESTROY, p->remote, NULL);
	p->remote = 0;
}

static int ct_pool_destroy(struct utmem_tier *tier, uint32_t pool)
{
	struct conn_tier *t = ct_of(tier);
	int rc = utmem_tier_pool_destroy(t->inner, pool);
	struct conn_tier_pool *p = find_pool(t, pool);
	if (rc == 0 && p) {
		drop_below(t, p);
		*p = t->pools[--t->n_pools];
	}
	return rc;
}

/* Overflow goes below only for private pools of a live lower tier. */
static struct conn_tier_pool *tiered_pool(struct conn_tier *t, uint32_t pool)
{
	struct conn_tier_pool *p = find_pool(t, pool);
	if (!t->lower || !p || (p->flags & UTMEM_POOL_SHARED))
		return NULL;
	return p;
}

static int ct_put(struct utmem_tier *tier, const struct utmem_key *k, const void *b, size_t len)
{
	struct conn_tier *t = ct_of(tier);
	int rc = utmem_tier_put(t->inner, k, b, len);
	struct conn_tier_pool *p = tiered_pool(t, k->pool);
	if (!p)
		return rc;
	if ((rc == -ENOSPC || rc == -E2BIG) && ivt_utmem_lower_up(t->lower) &&
	    len <= ivt_utmem_lower_max_value(t->lower)) {
		t->pend.value = malloc(len);
		if (!t->pend.value)
			return rc;
		memcpy(t->pend.value, b, len);
		t->pend.len = len;
		t->stats.puts_below++;
		/* the old value below, if any, is replaced or dropped there */
		return defer(t, p, UTMEM_OP_PUT, k, rc);
	}
	/* Stored here (or failed): no older copy may survive below. */
	if (maybe_below(t, p))
		fire_and_forget(t, UTMEM_OP_INVAL_PAGE, p->remote, k);
	return rc;
}

static ssize_t ct_get(struct utmem_tier *tier, const struct utmem_key *k, void *b, size_t cap,
		      unsigned flags)
{
	struct conn_tier *t = ct_of(tier);
	ssize_t n = utmem_tier_get(t->inner, k, b, cap, flags);
	struct conn_tier_pool *p = tiered_pool(t, k->pool);
	if (n != -ENOENT || !maybe_below(t, p))
		return n;
	t->pend.cap = cap;
	t->pend.flags = flags;
	t->stats.gets_below++;
	return defer(t, p, UTMEM_OP_GET, k, -ENOENT);
}

static int ct_inval_page(struct utmem_tier *tier, const struct utmem_key *k)
{
	struct conn_tier *t = ct_of(tier);
	int rc = utmem_tier_invalidate_page(t->inner, k);
	struct conn_tier_pool *p = tiered_pool(t, k->pool);
	if ((rc != 0 && rc != -ENOENT) || !maybe_below(t, p))
		return rc;
	return defer(t, p, UTMEM_OP_INVAL_PAGE, k, rc);
}

static int ct_inval_object(struct utmem_tier *tier, uint32_t pool, uint64_t oid)
{
	struct conn_tier *t = ct_of(tier);
	int rc = utmem_tier_invalidate_object(t->inner, pool, oid);
	struct conn_tier_pool *p = tiered_pool(t, pool);
	if ((rc != 0 && rc != -ENOENT) || !maybe_below(t, p))
		return rc;
	struct utmem_key k = {.pool = pool, .oid = oid};
	return defer(t, p, UTMEM_OP_INVAL_OBJECT, &k, rc);
}

static size_t ct_max_value(struct utmem_tier *tier)
{
	return utmem_tier_max_value(ct_of(tier)->inner);
}

static void ct_destroy(struct utmem_tier *tier) { (void)tier; /* embedded in its connection */ }

static const struct utmem_tier_ops conn_tier_ops = {
	.name = "ivtd-session",
	.pool_create = ct_pool_create,
	.pool_destroy = ct_pool_destroy,
	.put = ct_put,
	.get = ct_get,
	.invalidate_page = ct_inval_page,
	.invalidate_object = ct_inval_object,
	.max_value = ct_max_value,
	.destroy = ct_destroy,
};

void conn_tier_init(struct conn_tier *t, struct utmem_tier *inner, struct ivt_utmem_lower *lower,
		    void (*answered)(void *arg, int status, const void *value, size_t len),
		    void *arg)
{
	memset(t, 0, sizeof(*t));
	t->base.ops = &conn_tier_ops;
	t->inner = inner;
	t->lower = lower;
	t->answered = answered;
	t->arg = arg;
}

void conn_tier_release(struct conn_tier *t)
{
	ivt_utmem_lower_cancel(t->pend.req);
	free(t->pend.value);
	memset(&t->pend, 0, sizeof(t->pend));
	for (size_t i = 0; i < t->n_pools; i++)
		drop_below(t, &t->pools[i]);
}
