/* SPDX-License-Identifier: MIT */
/*
 * utmem server side: a push parser that turns request bytes into calls on
 * a tier and writes replies. Everything in a request is the peer's word:
 * the header is checked before any payload is buffered, so a hostile
 * length can never make us allocate more than max_value bytes, and that
 * allocation is charged first (opts.charge) so the server can bound what
 * half-sent requests pin across sessions.
 */
#include "utmem/proto.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Buffers above this are freed after each request, so an idle session
 * never pins a max_value-sized allocation per guest. */
#define SESSION_KEEP_BYTES ((size_t)(1u << 20) + UTMEM_HDR_SIZE)

struct utmem_session {
	struct utmem_tier *tier;
	struct utmem_server_opts opts;
	size_t max_value;
	uint8_t hdrbuf[UTMEM_HDR_SIZE];
	size_t hdr_have;
	bool have_hdr;
	struct utmem_hdr req;
	uint8_t *payload;
	size_t payload_cap, payload_have;
	size_t charged;  /* of the current request's payload (opts.charge) */
	int refused;     /* charge's errno: the payload is dropped, then answered */
	uint8_t *reply; /* header space followed by the reply payload */
	size_t reply_cap;
	bool dead;
	bool deferred; /* the tier answers the current request later */
};

struct utmem_session *utmem_session_new(struct utmem_tier *tier,
					const struct utmem_server_opts *opts)
{
	struct utmem_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->tier = tier;
	if (opts)
		s->opts = *opts;
	s->max_value = utmem_tier_max_value(tier);
	if (s->max_value > UTMEM_MAX_VALUE_LIMIT)
		s->max_value = UTMEM_MAX_VALUE_LIMIT;
	return s;
}

static void uncharge(struct utmem_session *s)
{
	if (s->charged && s->opts.uncharge)
		s->opts.uncharge(s->opts.charge_ctx, s->charged);
	s->charged = 0;
}

void utmem_session_free(struct utmem_session *s)
{
	if (!s)
		return;
	uncharge(s);
	free(s->payload);
	free(s->reply);
	free(s);
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (*cap >= need)
		return 0;
	uint8_t *n = realloc(*buf, need);
	if (!n)
		return -ENOMEM;
	*buf = n;
	*cap = need;
	return 0;
}

static void shrink(uint8_t **buf, size_t *cap)
{
	if (*cap > SESSION_KEEP_BYTES) {
		free(*buf);
		*buf = NULL;
		*cap = 0;
	}
}

/* Write the reply: header in s->reply[0..40), payload after it. */
static int send_reply(struct utmem_session *s, int32_t status, uint32_t pool, uint32_t len,
		      const struct utmem_io *out)
{
	struct utmem_hdr h = {
		.magic = UTMEM_PROTO_MAGIC,
		.version = UTMEM_PROTO_VERSION,
		.op = s->req.op,
		.flags = UTMEM_HDR_REPLY,
		.req_id = s->req.req_id,
		.status = status,
		.pool = pool,
		.index = s->req.index,
		.oid = s->req.oid,
		.len = status < 0 ? 0 : len,
	};
	if (grow(&s->reply, &s->reply_cap, UTMEM_HDR_SIZE))
		return -ENOMEM;
	utmem_hdr_encode(&h, s->reply);
	return utmem_io_write_full(out, s->reply, UTMEM_HDR_SIZE + h.len);
}

static void stats_encode(const struct utmem_domain_stats *st, uint8_t *p)
{
	const uint64_t v[10] = {st->quota, st->used,         st->ephemeral_used, st->pages,
				st->pools, st->puts,         st->puts_refused,   st->gets,
				st->get_hits, st->evicted};
	for (int i = 0; i < 10; i++)
		ivt_put_le64(p + 8 * i, v[i]);
}

/* Run one complete, validated request and answer it. */
static int execute(struct utmem_session *s, const struct utmem_io *out)
{
	const struct utmem_hdr *q = &s->req;
	struct utmem_key key = {q->pool, q->index, q->oid};
	struct utmem_tier *t = s->tier;
	uint8_t *pl = s->payload;
	uint32_t pool = 0, len = 0;
	int rc = 0;

	switch (q->op) {
	case UTMEM_OP_HELLO:
		if (grow(&s->reply, &s->reply_cap, UTMEM_HDR_SIZE + UTMEM_HELLO_REPLY_LEN))
			return -ENOMEM;
		ivt_put_le64(s->reply + UTMEM_HDR_SIZE, s->max_value);
		ivt_put_le32(s->reply + UTMEM_HDR_SIZE + 8, s->opts.domid);
		ivt_put_le32(s->reply + UTMEM_HDR_SIZE + 12, 0);
		len = UTMEM_HELLO_REPLY_LEN;
		break;
	case UTMEM_OP_POOL_CREATE:
		rc = utmem_tier_pool_create(t, ivt_get_le32(pl), pl + 4, &pool);
		break;
	case UTMEM_OP_POOL_DESTROY:
		rc = utmem_tier_pool_destroy(t, q->pool);
		break;
	case UTMEM_OP_PUT:
		rc = utmem_tier_put(t, &key, pl, q->len);
		break;
	case UTMEM_OP_GET: {
		size_t cap = q->aux < s->max_value ? q->aux : s->max_value;
		if (grow(&s->reply, &s->reply_cap, UTMEM_HDR_SIZE + cap))
			return -ENOMEM;
		ssize_t n = utmem_tier_get(t, &key, s->reply + UTMEM_HDR_SIZE, cap, q->flags);
		if (n == UTMEM_DEFERRED) {
			rc = (int)n;
			break;
		}
		if (n > (ssize_t)cap)
			n = -EIO; /* a broken tier; never send bytes we do not own */
		if (n == 0)
			n = -EIO; /* values are never empty */
		if (n < 0)
			rc = (int)n;
		else
			len = (uint32_t)n;
		break;
	}
	case UTMEM_OP_INVAL_PAGE:
		rc = utmem_tier_invalidate_page(t, &key);
		break;
	case UTMEM_OP_INVAL_OBJECT:
		rc = utmem_tier_invalidate_object(t, q->pool, q->oid);
		break;
	case UTMEM_OP_SET_QUOTA:
		if (!s->opts.store)
			rc = -EOPNOTSUPP;
		else if (!s->opts.allow_admin)
			rc = -EPERM;
		else if (ivt_get_le32(pl + 4) != 0)
			rc = -EINVAL;
		else
			rc = utmem_set_quota(s->opts.store, ivt_get_le32(pl), ivt_get_le64(pl + 8));
		break;
	case UTMEM_OP_STATS:
		if (!s->opts.store) {
			rc = -EOPNOTSUPP;
			break;
		}
		if (grow(&s->reply, &s->reply_cap, UTMEM_HDR_SIZE + UTMEM_STATS_REPLY_LEN))
			return -ENOMEM;
		struct utmem_domain_stats st;
		utmem_domain_stats(s->opts.store, s->opts.domid, &st);
		stats_encode(&st, s->reply + UTMEM_HDR_SIZE);
		len = UTMEM_STATS_REPLY_LEN;
		break;
	default:
		rc = -EOPNOTSUPP; /* unreachable: checked before */
	}
	if (rc == UTMEM_DEFERRED) {
		if (q->op == UTMEM_OP_PUT || q->op == UTMEM_OP_GET ||
		    q->op == UTMEM_OP_INVAL_PAGE || q->op == UTMEM_OP_INVAL_OBJECT) {
			s->deferred = true; /* utmem_session_complete() answers */
			return 0;
		}
		rc = -EIO; /* a tier that may not defer this op */
	}
	if (rc > 0 || rc < -4095)
		rc = -EIO;
	return send_reply(s, rc, pool, len, out);
}

/* A malformed request: answer with the reason, then give up on the stream. */
static int reject(struct utmem_session *s, int why, const struct utmem_io *out)
{
	s->dead = true;
	send_reply(s, why, 0, 0, out);
	return -EPROTO;
}

int utmem_session_input(struct utmem_session *s, const void *data, size_t len,
			const struct utmem_io *out)
{
	const uint8_t *p = data;
	if (s->dead)
		return -EPROTO;
	if (s->deferred)
		return len ? -EBUSY : 0; /* the caller's bug: wait for the answer */
	for (;;) {
		if (!s->have_hdr) {
			if (len == 0)
				return 0;
			size_t n = UTMEM_HDR_SIZE - s->hdr_have;
			if (n > len)
				n = len;
			memcpy(s->hdrbuf + s->hdr_have, p, n);
			s->hdr_have += n;
			p += n;
			len -= n;
			if (s->hdr_have < UTMEM_HDR_SIZE)
				return 0;
			utmem_hdr_decode(s->hdrbuf, &s->req);
			int bad = utmem_check_request(&s->req, s->max_value);
			if (bad)
				return reject(s, bad, out);
			s->refused = 0;
			if (s->req.len && s->opts.charge) {
				s->refused = s->opts.charge(s->opts.charge_ctx, s->req.len);
				if (s->refused > 0 || s->refused < -4095)
					s->refused = -EIO;
				if (!s->refused)
					s->charged = s->req.len;
			}
			if (!s->refused &&
			    grow(&s->payload, &s->payload_cap, s->req.len ? s->req.len : 1))
				return reject(s, -ENOMEM, out);
			s->have_hdr = true;
			s->payload_have = 0;
		}
		size_t n = s->req.len - s->payload_have;
		if (n > len)
			n = len;
		if (!s->refused) /* a refused payload is only counted off */
			memcpy(s->payload + s->payload_have, p, n);
		s->payload_have += n;
		p += n;
		len -= n;
		if (s->payload_have < s->req.len)
			return 0;
		s->have_hdr = false;
		s->hdr_have = 0;
		/* a deferring tier copies what it keeps: the payload is done */
		int rc = s->refused ? send_reply(s, s->refused, 0, 0, out) : execute(s, out);
		uncharge(s);
		if (rc) {
			s->dead = true;
			return rc;
		}
		if (s->deferred)
			return len ? -EBUSY : 0;
		shrink(&s->payload, &s->payload_cap);
		shrink(&s->reply, &s->reply_cap);
	}
}

int utmem_session_deferred(const struct utmem_session *s) { return s->deferred; }

int utmem_session_complete(struct utmem_session *s, int status, const void *value, size_t len,
			   const struct utmem_io *out)
{
	if (!s->deferred || s->dead)
		return -EINVAL;
	s->deferred = false;
	uint32_t rlen = 0;
	if (s->req.op == UTMEM_OP_GET && status >= 0) {
		size_t cap = s->req.aux < s->max_value ? s->req.aux : s->max_value;
		if (len == 0 || len > cap || !value) {
			status = -EIO; /* never send bytes the client did not ask for */
		} else {
			if (grow(&s->reply, &s->reply_cap, UTMEM_HDR_SIZE + len))
				status = -ENOMEM;
			else
				memcpy(s->reply + UTMEM_HDR_SIZE, value, len), rlen = (uint32_t)len;
			if (status > 0)
				status = 0; /* the length travels in hdr.len */
		}
	} else if (status > 0 || status < -4095) {
		status = -EIO;
	}
	int rc = send_reply(s, status, 0, rlen, out);
	if (rc) {
		s->dead = true;
		return rc;
	}
	shrink(&s->payload, &s->payload_cap);
	shrink(&s->reply, &s->reply_cap);
	return 0;
}

int utmem_serve(struct utmem_tier *tier, const struct utmem_io *io,
		const struct utmem_server_opts *opts)
{
	struct utmem_session *s = utmem_session_new(tier, opts);
	uint8_t *buf = malloc(64 * 1024);
	int rc = -ENOMEM;
	if (!s || !buf)
		goto out;
	for (;;) {
		ssize_t n = io->read(io->ctx, buf, 64 * 1024);
		if (n == -EINTR)
			continue;
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0) {
			/* End of stream: clean only between requests. */
			rc = (s->have_hdr || s->hdr_have) ? -ECONNRESET : 0;
			break;
		}
		rc = utmem_session_input(s, buf, (size_t)n, io);
		if (rc)
			break;
	}
out:
	free(buf);
	utmem_session_free(s);
	return rc;
}
