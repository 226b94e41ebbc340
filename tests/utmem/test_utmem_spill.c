/* SPDX-License-Identifier: MIT */
/* The spill queue: byte-exact FIFO across memory and tier, backpressure on
 * refusal, never data loss. A model stream (byte i = f(i)) checks order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utmem/spill.h"

#define DOM 3

static uint8_t stream_byte(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13 ^ i);
}

static uint64_t rng(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

struct env {
	struct utmem_store *st;
	struct utmem_tier *t;
	uint32_t pool;
};

static void env_init(struct env *e, uint32_t flags)
{
	e->st = utmem_store_new(NULL);
	assert_non_null(e->st);
	e->t = utmem_store_tier(e->st, DOM);
	assert_int_equal(utmem_tier_pool_create(e->t, flags, NULL, &e->pool), 0);
}

static void env_fini(struct env *e)
{
	utmem_tier_destroy(e->t);
	utmem_store_free(e->st);
}

static uint64_t store_pages(struct env *e)
{
	struct utmem_store_stats ss;
	utmem_store_stats(e->st, &ss);
	return ss.pages;
}

static void in_memory_below_threshold(void **state)
{
	struct env e;
	env_init(&e, UTMEM_POOL_PERSISTENT);
	struct utmem_spill_opts o = {e.t, e.pool, 1, 1000, 256};
	struct utmem_spill *q;
	assert_int_equal(utmem_spill_new(&o, &q), 0);
	uint8_t buf[1000], out[1000];
	for (int i = 0; i < 1000; i++)
		buf[i] = stream_byte((uint64_t)i);
	assert_int_equal(utmem_spill_write(q, buf, 1000), 1000);
	assert_int_equal(utmem_spill_spilled(q), 0);
	assert_int_equal(store_pages(&e), 0);
	assert_int_equal(utmem_spill_read(q, out, sizeof(out)), 1000);
	assert_memory_equal(out, buf, 1000);
	assert_int_equal(utmem_spill_read(q, out, sizeof(out)), 0);
	assert_int_equal(utmem_spill_write(q, buf, 0), 0);
	utmem_spill_free(q);
	env_fini(&e);
}

static void spills_and_comes_back_in_order(void **state)
{
	struct env e;
	env_init(&e, UTMEM_POOL_PERSISTENT);
	struct utmem_spill_opts o = {e.t, e.pool, 42, 100, 64};
	struct utmem_spill *q;
	assert_int_equal(utmem_spill_new(&o, &q), 0);
	size_t n = 100 + 64 * 10 + 30;
	uint8_t *buf = malloc(n), *out = malloc(n);
	for (size_t i = 0; i < n; i++)
		buf[i] = stream_byte(i);
	assert_int_equal(utmem_spill_write(q, buf, n), (ssize_t)n);
	assert_int_equal(utmem_spill_queued(q), n);
	/* 100 in front, 10 full chunks spilled, 30 bytes gathering */
	assert_int_equal(utmem_spill_spilled(q), 64 * 10);
	assert_int_equal(store_pages(&e), 10);
	assert_int_equal(utmem_spill_read(q, out, n), (ssize_t)n);
	assert_memory_equal(out, buf, n);
	assert_int_equal(store_pages(&e), 0); /* taken back */
	assert_int_equal(utmem_spill_queued(q), 0);
	/* threshold 0: everything goes through the tier */
	utmem_spill_free(q);
	o.above_bytes = 0;
	assert_int_equal(utmem_spill_new(&o, &q), 0);
	assert_int_equal(utmem_spill_write(q, buf, n), (ssize_t)n);
	memset(out, 0, n);
	const void *p;
	size_t avail, got = 0;
	while (utmem_spill_peek(q, &p, &avail) == 0 && avail) {
		memcpy(out + got, p, avail);
		utmem_spill_consume(q, avail);
		got += avail;
	}
	assert_int_equal(got, n);
	assert_memory_equal(out, buf, n);
	utmem_spill_free(q);
	free(buf);
	free(out);
	env_fini(&e);
}

static void refusal_is_backpressure_not_loss(void **state)
{
	struct env e;
	env_init(&e, UTMEM_POOL_PERSISTENT);
	/* room for exactly 2 chunks of 64 */
	assert_int_equal(utmem_set_quota(e.st, DOM, 2 * utmem_charge(64)), 0);
	struct utmem_spill_opts o = {e.t, e.pool, 7, 32, 64};
	struct utmem_spill *q;
	assert_int_equal(utmem_spill_new(&o, &q), 0);
	uint8_t buf[1000], out[1000];
	for (int i = 0; i < 1000; i++)
		buf[i] = stream_byte((uint64_t)i);
	/* front 32 + 2 chunks + gathering chunk 64 = 224 accepted, then refusal */
	ssize_t w = utmem_spill_write(q, buf, sizeof(buf));
	assert_int_equal(w, 32 + 3 * 64);
	assert_int_equal(utmem_spill_write(q, buf + w, sizeof(buf) - (size_t)w), -EAGAIN);
	assert_true(utmem_spill_refusals(q) >= 1);
	/* the reader catches up a bit: one chunk returns to memory */
	assert_int_equal(utmem_spill_read(q, out, 40), 40);
	ssize_t w2 = utmem_spill_write(q, buf + w, sizeof(buf) - (size_t)w);
	assert_true(w2 > 0);
	size_t written = (size_t)w + (size_t)w2;
	size_t got = 40;
	for (;;) {
		ssize_t r = utmem_spill_read(q, out + got, sizeof(out) - got);
		assert_true(r >= 0);
		if (r == 0)
			break;
		got += (size_t)r;
	}
	assert_int_equal(got, written);
	assert_memory_equal(out, buf, written);
	utmem_spill_free(q);
	env_fini(&e);
}

static void lost_chunk_is_an_error_not_wrong_data(void **state)
{
	struct env e;
	env_init(&e, UTMEM_POOL_PERSISTENT);
	struct utmem_spill_opts o = {e.t, e.pool, 9, 0, 16};
	struct utmem_spill *q;
	assert_int_equal(utmem_spill_new(&o, &q), 0);
	uint8_t buf[64] = {0}, out[64];
	assert_int_equal(utmem_spill_write(q, buf, 64), 64);
	/* someone (an ephemeral pool would) drops chunk 0 */
	struct utmem_key k = {e.pool, 0, 9};
	assert_int_equal(utmem_tier_invalidate_page(e.t, &k), 0);
	assert_int_equal(utmem_spill_read(q, out, 64), -EIO);
	assert_int_equal(utmem_spill_write(q, buf, 1), -EIO);
	utmem_spill_free(q);
	env_fini(&e);
}

static void bad_options(void **state)
{
	struct env e;
	env_init(&e, UTMEM_POOL_PERSISTENT);
	struct utmem_spill *q;
	struct utmem_spill_opts o = {e.t, e.pool, 1, 10, 0};
	assert_int_equal(utmem_spill_new(&o, &q), -EINVAL);
	o.chunk_size = UTMEM_DEFAULT_MAX_VALUE + 1;
	assert_int_equal(utmem_spill_new(&o, &q), -EINVAL);
	o.tier = NULL;
	o.chunk_size = 10;
	assert_int_equal(utmem_spill_new(&o, &q), -EINVAL);
	env_fini(&e);
}

/* Random writes and reads of random sizes, quota flipping between tight
 * and open, several queues sharing one pool: every byte comes out once,
 * in order, and whatever was refused is re-sent by the "sender". */
static void random_interleaving(void **state)
{
	struct env e;
	env_init(&e, UTMEM_POOL_PERSISTENT);
	enum { NQ = 3 };
	struct utmem_spill *q[NQ];
	uint64_t wpos[NQ] = {0}, rpos[NQ] = {0};
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < NQ; i++) {
		struct utmem_spill_opts o = {e.t, e.pool, (uint64_t)i + 100, (size_t)(rng(&x) % 5000),
					     1 + (size_t)(rng(&x) % 3000)};
		assert_int_equal(utmem_spill_new(&o, &q[i]), 0);
	}
	uint8_t *buf = malloc(20000);
	uint64_t refused = 0;
	for (int step = 0; step < 20000; step++) {
		int i = (int)(rng(&x) % NQ);
		unsigned what = (unsigned)(rng(&x) % 100);
		if (what < 3) {
			uint64_t quota = rng(&x) % 2 ? UTMEM_QUOTA_UNLIMITED : rng(&x) % 40000;
			assert_int_equal(utmem_set_quota(e.st, DOM, quota), 0);
		} else if (what < 55) {
			size_t n = 1 + (size_t)(rng(&x) % (rng(&x) % 4 ? 300 : 20000));
			for (size_t j = 0; j < n; j++)
				buf[j] = stream_byte(wpos[i] + j);
			ssize_t w = utmem_spill_write(q[i], buf, n);
			if (w == -EAGAIN) {
				refused++;
				continue;
			}
			assert_true(w > 0 && (size_t)w <= n);
			wpos[i] += (uint64_t)w;
		} else {
			size_t n = 1 + (size_t)(rng(&x) % 8000);
			ssize_t r = utmem_spill_read(q[i], buf, n);
			assert_true(r >= 0);
			for (ssize_t j = 0; j < r; j++)
				assert_int_equal(buf[j], stream_byte(rpos[i] + (uint64_t)j));
			rpos[i] += (uint64_t)r;
			assert_int_equal(utmem_spill_queued(q[i]), wpos[i] - rpos[i]);
		}
	}
	/* drain everything */
	for (int i = 0; i < NQ; i++) {
		for (;;) {
			ssize_t r = utmem_spill_read(q[i], buf, 20000);
			assert_true(r >= 0);
			if (r == 0)
				break;
			for (ssize_t j = 0; j < r; j++)
				assert_int_equal(buf[j], stream_byte(rpos[i] + (uint64_t)j));
			rpos[i] += (uint64_t)r;
		}
		assert_int_equal(rpos[i], wpos[i]);
		utmem_spill_free(q[i]);
	}
	assert_int_equal(store_pages(&e), 0);
	assert_true(refused > 0); /* the test did exercise refusals */
	free(buf);
	env_fini(&e);
}

static void free_releases_spilled_chunks(void **state)
{
	struct env e;
	env_init(&e, UTMEM_POOL_PERSISTENT);
	struct utmem_spill_opts o = {e.t, e.pool, 5, 0, 10};
	struct utmem_spill *q;
	assert_int_equal(utmem_spill_new(&o, &q), 0);
	uint8_t buf[100] = {0};
	assert_int_equal(utmem_spill_write(q, buf, 100), 100);
	assert_true(store_pages(&e) > 0);
	utmem_spill_free(q);
	assert_int_equal(store_pages(&e), 0);
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(in_memory_below_threshold),
		cmocka_unit_test(spills_and_comes_back_in_order),
		cmocka_unit_test(refusal_is_backpressure_not_loss),
		cmocka_unit_test(lost_chunk_is_an_error_not_wrong_data),
		cmocka_unit_test(bad_options),
		cmocka_unit_test(random_interleaving),
		cmocka_unit_test(free_releases_spilled_chunks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
