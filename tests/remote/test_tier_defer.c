/* SPDX-License-Identifier: MIT */
/* A utmem session whose tier answers later (UTMEM_DEFERRED, proto.h): how
 * ivtd's store waits for its lower tier on another host without blocking.
 * No reply until utmem_session_complete(); no input taken meanwhile; the
 * completed reply is checked like any other. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "utmem/proto.h"
#include "utmem/store.h"
#include "utmem/tier.h"

/* Sink for replies. */
static uint8_t out_buf[4096];
static size_t out_len;
static ssize_t sink(void *ctx, const void *b, size_t n)
{
	(void)ctx;
	if (out_len + n > sizeof(out_buf))
		return -ENOSPC;
	memcpy(out_buf + out_len, b, n);
	out_len += n;
	return (ssize_t)n;
}
static const struct utmem_io out = {.write = sink};

/* A tier over a store that defers every put and every missing get. */
struct defer_tier {
	struct utmem_tier base;
	struct utmem_tier *inner;
};
static struct utmem_tier *inner_of(struct utmem_tier *t) { return ((struct defer_tier *)t)->inner; }
static int d_pool_create(struct utmem_tier *t, uint32_t f, const uint8_t *u, uint32_t *p)
{
	return utmem_tier_pool_create(inner_of(t), f, u, p);
}
static int d_pool_destroy(struct utmem_tier *t, uint32_t p) { return utmem_tier_pool_destroy(inner_of(t), p); }
static int d_put(struct utmem_tier *t, const struct utmem_key *k, const void *b, size_t n)
{
	(void)t, (void)k, (void)b, (void)n;
	return UTMEM_DEFERRED;
}
static ssize_t d_get(struct utmem_tier *t, const struct utmem_key *k, void *b, size_t cap, unsigned f)
{
	ssize_t n = utmem_tier_get(inner_of(t), k, b, cap, f);
	return n == -ENOENT ? UTMEM_DEFERRED : n;
}
static int d_inval(struct utmem_tier *t, const struct utmem_key *k) { (void)t, (void)k; return UTMEM_DEFERRED; }
static int d_inval_obj(struct utmem_tier *t, uint32_t p, uint64_t o) { (void)t, (void)p, (void)o; return UTMEM_DEFERRED; }
static size_t d_max(struct utmem_tier *t) { return utmem_tier_max_value(inner_of(t)); }
static void d_destroy(struct utmem_tier *t) { (void)t; }
static const struct utmem_tier_ops d_ops = {
	.name = "defer", .pool_create = d_pool_create, .pool_destroy = d_pool_destroy,
	.put = d_put, .get = d_get, .invalidate_page = d_inval, .invalidate_object = d_inval_obj,
	.max_value = d_max, .destroy = d_destroy,
};

static size_t request(uint8_t *buf, uint8_t op, uint32_t id, uint32_t pool, uint32_t len,
		      uint32_t aux)
{
	struct utmem_hdr h = {.magic = UTMEM_PROTO_MAGIC, .version = UTMEM_PROTO_VERSION, .op = op,
			      .req_id = id, .pool = pool, .oid = 7, .len = len, .aux = aux};
	utmem_hdr_encode(&h, buf);
	return UTMEM_HDR_SIZE + len;
}

static struct utmem_hdr reply(size_t at)
{
	struct utmem_hdr r;
	assert_true(out_len >= at + UTMEM_HDR_SIZE);
	utmem_hdr_decode(out_buf + at, &r);
	return r;
}

static void test_deferred_answers(void **state)
{
	(void)state;
	struct utmem_config cfg;
	utmem_config_default(&cfg);
	cfg.max_value = 1024;
	struct utmem_store *st = utmem_store_new(&cfg);
	assert_non_null(st);
	struct defer_tier dt = {.base = {.ops = &d_ops}, .inner = utmem_store_tier(st, 1)};
	struct utmem_session *s = utmem_session_new(&dt.base, NULL);
	assert_non_null(s);
	uint32_t pool;
	assert_int_equal(utmem_tier_pool_create(&dt.base, UTMEM_POOL_PERSISTENT, NULL, &pool), 0);

	/* nothing deferred: complete is refused */
	assert_int_equal(utmem_session_complete(s, 0, NULL, 0, &out), -EINVAL);

	/* PUT deferred: no reply, no input, then the completed status */
	uint8_t rq[UTMEM_HDR_SIZE + 16];
	size_t n = request(rq, UTMEM_OP_PUT, 11, pool, 16, 0);
	memset(rq + UTMEM_HDR_SIZE, 0xab, 16);
	out_len = 0;
	assert_int_equal(utmem_session_input(s, rq, n, &out), 0);
	assert_int_equal(out_len, 0);
	assert_true(utmem_session_deferred(s));
	assert_int_equal(utmem_session_input(s, rq, n, &out), -EBUSY);
	assert_int_equal(utmem_session_complete(s, -ENOSPC, NULL, 0, &out), 0);
	assert_false(utmem_session_deferred(s));
	struct utmem_hdr r = reply(0);
	assert_int_equal(r.req_id, 11);
	assert_int_equal(r.op, UTMEM_OP_PUT);
	assert_int_equal(r.status, -ENOSPC);
	assert_int_equal(r.len, 0);

	/* GET miss deferred, completed with a value: carried in the reply */
	out_len = 0;
	n = request(rq, UTMEM_OP_GET, 12, pool, 0, 8);
	assert_int_equal(utmem_session_input(s, rq, n, &out), 0);
	assert_int_equal(out_len, 0);
	assert_int_equal(utmem_session_complete(s, 5, "hello", 5, &out), 0);
	r = reply(0);
	assert_int_equal(r.req_id, 12);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.len, 5);
	assert_memory_equal(out_buf + UTMEM_HDR_SIZE, "hello", 5);

	/* a value longer than the client asked for is never sent */
	out_len = 0;
	n = request(rq, UTMEM_OP_GET, 13, pool, 0, 4);
	assert_int_equal(utmem_session_input(s, rq, n, &out), 0);
	assert_int_equal(utmem_session_complete(s, 5, "hello", 5, &out), 0);
	r = reply(0);
	assert_int_equal(r.status, -EIO);
	assert_int_equal(r.len, 0);

	/* invalidation deferred, and a positive status for it is not sent */
	out_len = 0;
	n = request(rq, UTMEM_OP_INVAL_PAGE, 14, pool, 0, 0);
	assert_int_equal(utmem_session_input(s, rq, n, &out), 0);
	assert_int_equal(utmem_session_complete(s, 3, NULL, 0, &out), 0);
	assert_int_equal(reply(0).status, -EIO);

	/* the session goes on normally */
	out_len = 0;
	n = request(rq, UTMEM_OP_HELLO, 15, 0, 0, 0);
	assert_int_equal(utmem_session_input(s, rq, n, &out), 0);
	r = reply(0);
	assert_int_equal(r.req_id, 15);
	assert_int_equal(r.status, 0);

	utmem_session_free(s);
	utmem_tier_destroy(dt.inner);
	utmem_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deferred_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
