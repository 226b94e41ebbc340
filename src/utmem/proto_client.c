/* SPDX-License-Identifier: MIT */
/*
 * utmem client: one request at a time over a blocking byte stream. Every
 * reply is checked against the request it answers (op, id, lengths, status
 * range) before any payload is read, and payload goes only into the
 * caller's buffer up to the size we announced. After any stream or
 * protocol error the framing cannot be trusted, so the client stays
 * broken and returns that error from then on.
 */
#include "utmem/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct utmem_client {
	struct utmem_tier tier; /* first: utmem_client_tier() casts back */
	struct utmem_io io;
	size_t max_value;
	uint32_t domid;
	uint32_t next_id;
	int broken;      /* sticky error once the stream is unusable */
	uint8_t *sendbuf; /* header + request payload, sent with one write */
	size_t send_cap;
};

static int fail(struct utmem_client *c, int err)
{
	c->broken = err;
	return err;
}

/* Send `req` (+payload), read and check the reply. On success returns the
 * reply status; the payload (rep->len bytes) is in `out`, which holds out_cap. */
static int transact(struct utmem_client *c, struct utmem_hdr *req, const void *payload,
		    void *out, size_t out_cap, struct utmem_hdr *rep)
{
	if (c->broken)
		return c->broken;
	req->magic = UTMEM_PROTO_MAGIC;
	req->version = UTMEM_PROTO_VERSION;
	req->req_id = c->next_id++;
	req->status = 0;
	size_t total = UTMEM_HDR_SIZE + (size_t)req->len;
	if (c->send_cap < total) {
		uint8_t *nb = realloc(c->sendbuf, total);
		if (!nb)
			return -ENOMEM; /* nothing sent: the stream is still fine */
		c->sendbuf = nb;
		c->send_cap = total;
	}
	utmem_hdr_encode(req, c->sendbuf);
	if (req->len && payload)
		memcpy(c->sendbuf + UTMEM_HDR_SIZE, payload, req->len);
	int rc = utmem_io_write_full(&c->io, c->sendbuf, total);
	if (rc)
		return fail(c, rc);

	uint8_t hb[UTMEM_HDR_SIZE];
	rc = utmem_io_read_full(&c->io, hb, sizeof(hb));
	if (rc)
		return fail(c, rc);
	utmem_hdr_decode(hb, rep);
	if (utmem_check_reply(rep, req) || rep->len > out_cap)
		return fail(c, -EPROTO);
	if (rep->len) {
		rc = utmem_io_read_full(&c->io, out, rep->len);
		if (rc)
			return fail(c, rc);
	}
	return rep->status;
}

static const struct utmem_tier_ops client_tier_ops;

int utmem_client_open(const struct utmem_io *io, struct utmem_client **out)
{
	struct utmem_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->tier.ops = &client_tier_ops;
	c->io = *io;
	c->next_id = 1;
	struct utmem_hdr req = {.op = UTMEM_OP_HELLO}, rep;
	uint8_t hello[UTMEM_HELLO_REPLY_LEN];
	int rc = transact(c, &req, NULL, hello, sizeof(hello), &rep);
	if (rc == 0) {
		uint64_t mv = ivt_get_le64(hello);
		if (mv == 0 || mv > UTMEM_MAX_VALUE_LIMIT)
			rc = -EPROTO;
		c->max_value = (size_t)mv;
		c->domid = ivt_get_le32(hello + 8);
	}
	if (rc) {
		utmem_client_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void utmem_client_free(struct utmem_client *c)
{
	if (!c)
		return;
	free(c->sendbuf);
	free(c);
}

size_t utmem_client_max_value(const struct utmem_client *c) { return c->max_value; }
uint32_t utmem_client_domid(const struct utmem_client *c) { return c->domid; }

int utmem_client_pool_create(struct utmem_client *c, uint32_t flags,
			     const uint8_t uuid[UTMEM_UUID_LEN], uint32_t *pool_out)
{
	uint8_t pl[UTMEM_POOL_CREATE_LEN] = {0};
	ivt_put_le32(pl, flags);
	if (uuid)
		memcpy(pl + 4, uuid, UTMEM_UUID_LEN);
	struct utmem_hdr req = {.op = UTMEM_OP_POOL_CREATE, .len = sizeof(pl)}, rep;
	int rc = transact(c, &req, pl, NULL, 0, &rep);
	if (rc == 0) {
		if (rep.pool == 0)
			return fail(c, -EPROTO);
		*pool_out = rep.pool;
	}
	return rc;
}

int utmem_client_pool_destroy(struct utmem_client *c, uint32_t pool)
{
	struct utmem_hdr req = {.op = UTMEM_OP_POOL_DESTROY, .pool = pool}, rep;
	return transact(c, &req, NULL, NULL, 0, &rep);
}

int utmem_client_put(struct utmem_client *c, const struct utmem_key *key, const void *buf,
		     size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > c->max_value)
		return -E2BIG; /* the server would drop the connection */
	struct utmem_hdr req = {.op = UTMEM_OP_PUT, .pool = key->pool, .index = key->index,
				.oid = key->oid, .len = (uint32_t)len}, rep;
	return transact(c, &req, buf, NULL, 0, &rep);
}

ssize_t utmem_client_get(struct utmem_client *c, const struct utmem_key *key, void *buf,
			 size_t cap, unsigned flags)
{
	if (flags & ~UTMEM_GET_FLAGS_ALL)
		return -EINVAL;
	size_t aux = cap < c->max_value ? cap : c->max_value;
	struct utmem_hdr req = {.op = UTMEM_OP_GET, .flags = (uint16_t)flags, .pool = key->pool,
				.index = key->index, .oid = key->oid, .aux = (uint32_t)aux}, rep;
	int rc = transact(c, &req, NULL, buf, aux, &rep);
	return rc ? rc : (ssize_t)rep.len;
}

int utmem_client_invalidate_page(struct utmem_client *c, const struct utmem_key *key)
{
	struct utmem_hdr req = {.op = UTMEM_OP_INVAL_PAGE, .pool = key->pool, .index = key->index,
				.oid = key->oid}, rep;
	return transact(c, &req, NULL, NULL, 0, &rep);
}

int utmem_client_invalidate_object(struct utmem_client *c, uint32_t pool, uint64_t oid)
{
	struct utmem_hdr req = {.op = UTMEM_OP_INVAL_OBJECT, .pool = pool, .oid = oid}, rep;
	return transact(c, &req, NULL, NULL, 0, &rep);
}

int utmem_client_set_quota(struct utmem_client *c, uint32_t domid, uint64_t bytes)
{
	uint8_t pl[UTMEM_SET_QUOTA_LEN] = {0};
	ivt_put_le32(pl, domid);
	ivt_put_le64(pl + 8, bytes);
	struct utmem_hdr req = {.op = UTMEM_OP_SET_QUOTA, .len = sizeof(pl)}, rep;
	return transact(c, &req, pl, NULL, 0, &rep);
}

int utmem_client_stats(struct utmem_client *c, struct utmem_domain_stats *out)
{
	uint8_t pl[UTMEM_STATS_REPLY_LEN];
	struct utmem_hdr req = {.op = UTMEM_OP_STATS}, rep;
	int rc = transact(c, &req, NULL, pl, sizeof(pl), &rep);
	if (rc)
		return rc;
	uint64_t *v[10] = {&out->quota, &out->used,  &out->ephemeral_used, &out->pages,
			   &out->pools, &out->puts, &out->puts_refused,   &out->gets,
			   &out->get_hits, &out->evicted};
	for (int i = 0; i < 10; i++)
		*v[i] = ivt_get_le64(pl + 8 * i);
	return 0;
}

/* ---- the client as a tier ------------------------------------------------ */

static struct utmem_client *cl_of(struct utmem_tier *t)
{
	return (struct utmem_client *)t;
}

static int ct_pool_create(struct utmem_tier *t, uint32_t flags, const uint8_t *uuid, uint32_t *out)
{
	return utmem_client_pool_create(cl_of(t), flags, uuid, out);
}
static int ct_pool_destroy(struct utmem_tier *t, uint32_t pool)
{
	return utmem_client_pool_destroy(cl_of(t), pool);
}
static int ct_put(struct utmem_tier *t, const struct utmem_key *k, const void *b, size_t len)
{
	return utmem_client_put(cl_of(t), k, b, len);
}
static ssize_t ct_get(struct utmem_tier *t, const struct utmem_key *k, void *b, size_t cap,
		      unsigned flags)
{
	return utmem_client_get(cl_of(t), k, b, cap, flags);
}
static int ct_inval_page(struct utmem_tier *t, const struct utmem_key *k)
{
	return utmem_client_invalidate_page(cl_of(t), k);
}
static int ct_inval_object(struct utmem_tier *t, uint32_t pool, uint64_t oid)
{
	return utmem_client_invalidate_object(cl_of(t), pool, oid);
}
static size_t ct_max_value(struct utmem_tier *t)
{
	return cl_of(t)->max_value;
}
static void ct_destroy(struct utmem_tier *t)
{
	(void)t; /* part of the client */
}

static const struct utmem_tier_ops client_tier_ops = {
	.name = "remote",
	.pool_create = ct_pool_create,
	.pool_destroy = ct_pool_destroy,
	.put = ct_put,
	.get = ct_get,
	.invalidate_page = ct_inval_page,
	.invalidate_object = ct_inval_object,
	.max_value = ct_max_value,
	.destroy = ct_destroy,
};

struct utmem_tier *utmem_client_tier(struct utmem_client *c)
{
	return &c->tier;
}
