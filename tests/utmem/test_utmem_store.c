/* SPDX-License-Identifier: MIT */
/* utmem store semantics: quotas, eviction, privacy, persistence, sharing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utmem/store.h"

#define D1 1
#define D2 2

static struct utmem_store *new_store(uint64_t capacity, size_t max_value)
{
	struct utmem_config c;
	utmem_config_default(&c);
	if (capacity)
		c.capacity = capacity;
	if (max_value)
		c.max_value = max_value;
	struct utmem_store *st = utmem_store_new(&c);
	assert_non_null(st);
	return st;
}

static uint32_t pool(struct utmem_store *st, uint32_t dom, uint32_t flags)
{
	uint32_t id = 0;
	assert_int_equal(utmem_pool_create(st, dom, flags, NULL, &id), 0);
	assert_true(id > 0);
	return id;
}

static struct utmem_key K(uint32_t p, uint64_t oid, uint32_t idx)
{
	struct utmem_key k = {p, idx, oid};
	return k;
}

static void put_get_roundtrip(void **state)
{
	struct utmem_store *st = new_store(0, 0);
	uint32_t p = pool(st, D1, UTMEM_POOL_PERSISTENT);
	struct utmem_key k = K(p, 42, 7);
	char out[16];
	assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), 0), -ENOENT);
	assert_int_equal(utmem_put(st, D1, &k, "hello", 5), 0);
	assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), 0), 5);
	assert_memory_equal(out, "hello", 5);
	/* persistent get is non-destructive */
	assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), 0), 5);
	/* too small a buffer: refused, nothing removed */
	assert_int_equal(utmem_get(st, D1, &k, out, 4, 0), -EMSGSIZE);
	/* replace */
	assert_int_equal(utmem_put(st, D1, &k, "x", 1), 0);
	assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), 0), 1);
	assert_int_equal(out[0], 'x');
	/* TAKE removes */
	assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), UTMEM_GET_TAKE), 1);
	assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), 0), -ENOENT);
	/* argument checks */
	assert_int_equal(utmem_put(st, D1, &k, "", 0), -EINVAL);
	assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), 0x80), -EINVAL);
	struct utmem_key bad = K(9999, 1, 1);
	assert_int_equal(utmem_put(st, D1, &bad, "a", 1), -EBADF);
	uint32_t id;
	assert_int_equal(utmem_pool_create(st, D1, 0x10, NULL, &id), -EINVAL);
	utmem_store_free(st);
}

static void accounting_is_exact(void **state)
{
	struct utmem_store *st = new_store(0, 0);
	uint32_t p = pool(st, D1, UTMEM_POOL_PERSISTENT);
	uint32_t e = pool(st, D1, 0);
	struct utmem_domain_stats ds;
	struct utmem_store_stats ss;
	char buf[1000] = {0};
	uint64_t want = 0;
	for (uint32_t i = 0; i < 100; i++) {
		struct utmem_key k = K(i % 2 ? p : e, i / 10, i);
		assert_int_equal(utmem_put(st, D1, &k, buf, i + 1), 0);
		want += utmem_charge(i + 1);
	}
	utmem_domain_stats(st, D1, &ds);
	assert_int_equal(ds.used, want);
	assert_int_equal(ds.pages, 100);
	utmem_store_stats(st, &ss);
	assert_int_equal(ss.used, want);
	/* invalidate an object: its pages and only its pages go */
	uint64_t obj3 = 0;
	for (uint32_t i = 30; i < 40; i += 2)
		obj3 += utmem_charge(i + 1); /* even i: ephemeral pool, oid 3 */
	assert_int_equal(utmem_invalidate_object(st, D1, e, 3), 0);
	assert_int_equal(utmem_invalidate_object(st, D1, e, 3), -ENOENT);
	utmem_domain_stats(st, D1, &ds);
	assert_int_equal(ds.used, want - obj3);
	assert_int_equal(ds.pages, 95);
	/* invalidate a page */
	struct utmem_key k = K(p, 0, 1);
	assert_int_equal(utmem_invalidate_page(st, D1, &k), 0);
	assert_int_equal(utmem_invalidate_page(st, D1, &k), -ENOENT);
	utmem_domain_stats(st, D1, &ds);
	assert_int_equal(ds.used, want - obj3 - utmem_charge(2));
	/* destroying pools returns everything */
	assert_int_equal(utmem_pool_destroy(st, D1, p), 0);
	assert_int_equal(utmem_pool_destroy(st, D1, e), 0);
	assert_int_equal(utmem_pool_destroy(st, D1, e), -EBADF);
	utmem_domain_stats(st, D1, &ds);
	assert_int_equal(ds.used, 0);
	assert_int_equal(ds.pages, 0);
	utmem_store_stats(st, &ss);
	assert_int_equal(ss.used, 0);
	assert_int_equal(ss.pages, 0);
	assert_int_equal(ss.pools, 0);
	utmem_store_free(st);
}

static void quota_refusal_is_normal(void **state)
{
	struct utmem_store *st = new_store(0, 0);
	uint32_t p = pool(st, D1, UTMEM_POOL_PERSISTENT);
	assert_int_equal(utmem_set_quota(st, D1, 3 * utmem_charge(100)), 0);
	char buf[100] = {1};
	for (uint32_t i = 0; i < 3; i++) {
		struct utmem_key k = K(p, 1, i);
		assert_int_equal(utmem_put(st, D1, &k, buf, 100), 0);
	}
	struct utmem_key k4 = K(p, 1, 3);
	assert_int_equal(utmem_put(st, D1, &k4, buf, 100), -ENOSPC);
	assert_int_equal(utmem_put(st, D1, &k4, buf, 1), -ENOSPC);
	struct utmem_domain_stats ds;
	utmem_domain_stats(st, D1, &ds);
	assert_int_equal(ds.puts_refused, 2);
	assert_int_equal(ds.pages, 3);
	/* the store still works: gets hit, and after an invalidate, puts fit */
	char out[100];
	struct utmem_key k0 = K(p, 1, 0);
	assert_int_equal(utmem_get(st, D1, &k0, out, sizeof(out), 0), 100);
	assert_int_equal(utmem_invalidate_page(st, D1, &k0), 0);
	assert_int_equal(utmem_put(st, D1, &k4, buf, 100), 0);
	/* another domain is not affected by D1's quota */
	uint32_t p2 = pool(st, D2, UTMEM_POOL_PERSISTENT);
	struct utmem_key k2 = K(p2, 1, 0);
	assert_int_equal(utmem_put(st, D2, &k2, buf, 100), 0);
	utmem_store_free(st);
}

static void quota_lowered_at_run_time(void **state)
{
	struct utmem_store *st = new_store(0, 0);
	uint32_t p = pool(st, D1, UTMEM_POOL_PERSISTENT);
	uint32_t e = pool(st, D1, 0);
	char buf[1000];
	memset(buf, 0xab, sizeof(buf));
	for (uint32_t i = 0; i < 10; i++) {
		struct utmem_key kp = K(p, 0, i), ke = K(e, 0, i);
		assert_int_equal(utmem_put(st, D1, &kp, buf, 1000), 0);
		assert_int_equal(utmem_put(st, D1, &ke, buf, 1000), 0);
	}
	/* Touch ephemeral page 0 so it is most recently used (shared pools keep
	 * pages on get; a private ephemeral get would take it, so use TAKE+put). */
	struct utmem_key ke0 = K(e, 0, 0);
	char out[1000];
	assert_int_equal(utmem_get(st, D1, &ke0, out, sizeof(out), 0), 1000); /* exclusive */
	assert_int_equal(utmem_get(st, D1, &ke0, out, sizeof(out), 0), -ENOENT);
	assert_int_equal(utmem_put(st, D1, &ke0, buf, 1000), 0); /* now MRU */

	/* Lower the quota to 13 pages: 7 ephemeral pages must go, oldest first
	 * (indices 1..7), persistent ones never. */
	assert_int_equal(utmem_set_quota(st, D1, 13 * utmem_charge(1000)), 0);
	struct utmem_domain_stats ds;
	utmem_domain_stats(st, D1, &ds);
	assert_int_equal(ds.used, 13 * utmem_charge(1000));
	assert_int_equal(ds.evicted, 7);
	for (uint32_t i = 0; i < 10; i++) {
		struct utmem_key kp = K(p, 0, i);
		assert_int_equal(utmem_get(st, D1, &kp, out, sizeof(out), 0), 1000);
	}
	for (uint32_t i = 1; i <= 7; i++) {
		struct utmem_key ke = K(e, 0, i);
		assert_int_equal(utmem_get(st, D1, &ke, out, sizeof(out), 0), -ENOENT);
	}
	assert_int_equal(utmem_get(st, D1, &ke0, out, sizeof(out), 0), 1000);

	/* Below persistent use: everything ephemeral goes, puts are refused,
	 * persistent data survives. */
	assert_int_equal(utmem_set_quota(st, D1, 5 * utmem_charge(1000)), 0);
	utmem_domain_stats(st, D1, &ds);
	assert_int_equal(ds.used, 10 * utmem_charge(1000));
	assert_int_equal(ds.ephemeral_used, 0);
	struct utmem_key kn = K(p, 1, 0), ken = K(e, 1, 0);
	assert_int_equal(utmem_put(st, D1, &kn, buf, 1), -ENOSPC);
	assert_int_equal(utmem_put(st, D1, &ken, buf, 1), -ENOSPC);
	struct utmem_key kp9 = K(p, 0, 9);
	assert_int_equal(utmem_get(st, D1, &kp9, out, sizeof(out), 0), 1000);
	assert_memory_equal(out, buf, 1000);
	/* Raise it again: puts work. */
	assert_int_equal(utmem_set_quota(st, D1, UTMEM_QUOTA_UNLIMITED), 0);
	assert_int_equal(utmem_put(st, D1, &kn, buf, 1), 0);
	utmem_store_free(st);
}

static void ephemeral_put_evicts_own_lru(void **state)
{
	struct utmem_store *st = new_store(0, 0);
	uint32_t e = pool(st, D1, 0);
	assert_int_equal(utmem_set_quota(st, D1, 4 * utmem_charge(10)), 0);
	char buf[10] = {0};
	for (uint32_t i = 0; i < 10; i++) {
		struct utmem_key k = K(e, 0, i);
		assert_int_equal(utmem_put(st, D1, &k, buf, 10), 0);
	}
	struct utmem_domain_stats ds;
	utmem_domain_stats(st, D1, &ds);
	assert_int_equal(ds.pages, 4);
	assert_int_equal(ds.evicted, 6);
	char out[10];
	for (uint32_t i = 0; i < 6; i++) {
		struct utmem_key k = K(e, 0, i);
		assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), 0), -ENOENT);
	}
	for (uint32_t i = 6; i < 10; i++) {
		struct utmem_key k = K(e, 0, i);
		assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), 0), 10);
	}
	utmem_store_free(st);
}

static void global_pressure_evicts_ephemeral_only(void **state)
{
	/* Capacity for 4 pages; D1 fills it with ephemeral, D2 needs room. */
	struct utmem_store *st = new_store(4 * utmem_charge(100), 0);
	uint32_t e1 = pool(st, D1, 0);
	uint32_t p2 = pool(st, D2, UTMEM_POOL_PERSISTENT);
	char buf[100] = {0}, out[100];
	for (uint32_t i = 0; i < 4; i++) {
		struct utmem_key k = K(e1, 0, i);
		assert_int_equal(utmem_put(st, D1, &k, buf, 100), 0);
	}
	for (uint32_t i = 0; i < 4; i++) {
		struct utmem_key k = K(p2, 0, i);
		assert_int_equal(utmem_put(st, D2, &k, buf, 100), 0);
	}
	struct utmem_store_stats ss;
	utmem_store_stats(st, &ss);
	assert_int_equal(ss.evicted, 4);
	assert_int_equal(ss.used, 4 * utmem_charge(100));
	/* Now all persistent: further puts from anyone are refused. */
	struct utmem_key k = K(p2, 0, 99), k1 = K(e1, 0, 99);
	assert_int_equal(utmem_put(st, D2, &k, buf, 100), -ENOSPC);
	assert_int_equal(utmem_put(st, D1, &k1, buf, 100), -ENOSPC);
	for (uint32_t i = 0; i < 4; i++) {
		struct utmem_key kk = K(p2, 0, i);
		assert_int_equal(utmem_get(st, D2, &kk, out, sizeof(out), 0), 100);
	}
	utmem_store_free(st);
}

static void refused_replace_leaves_no_stale_value(void **state)
{
	struct utmem_store *st = new_store(0, 0);
	uint32_t p = pool(st, D1, UTMEM_POOL_PERSISTENT);
	assert_int_equal(utmem_set_quota(st, D1, utmem_charge(10)), 0);
	struct utmem_key k = K(p, 0, 0);
	char out[64];
	assert_int_equal(utmem_put(st, D1, &k, "0123456789", 10), 0);
	assert_int_equal(utmem_put(st, D1, &k, "this is longer than ten", 23), -ENOSPC);
	assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), 0), -ENOENT);
	utmem_store_free(st);
}

static void private_pool_privacy(void **state)
{
	struct utmem_store *st = new_store(0, 0);
	uint32_t p = pool(st, D1, UTMEM_POOL_PERSISTENT);
	struct utmem_key k = K(p, 5, 5);
	char out[8];
	assert_int_equal(utmem_put(st, D1, &k, "secret", 6), 0);
	assert_int_equal(utmem_get(st, D2, &k, out, sizeof(out), 0), -EACCES);
	assert_int_equal(utmem_put(st, D2, &k, "evil", 4), -EACCES);
	assert_int_equal(utmem_invalidate_page(st, D2, &k), -EACCES);
	assert_int_equal(utmem_invalidate_object(st, D2, p, 5), -EACCES);
	assert_int_equal(utmem_pool_destroy(st, D2, p), -EACCES);
	assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), 0), 6);
	assert_memory_equal(out, "secret", 6);
	utmem_store_free(st);
}

static void shared_pools(void **state)
{
	struct utmem_store *st = new_store(0, 0);
	uint8_t uuid[16], other[16];
	memset(uuid, 0x11, sizeof(uuid));
	memset(other, 0x22, sizeof(other));
	uint32_t a, b, c, x;
	uint32_t fl = UTMEM_POOL_SHARED | UTMEM_POOL_PERSISTENT;
	assert_int_equal(utmem_pool_create(st, D1, fl, uuid, &a), 0);
	assert_int_equal(utmem_pool_create(st, D2, fl, uuid, &b), 0);
	assert_int_equal(a, b);
	assert_int_equal(utmem_pool_create(st, D2, fl, uuid, &b), 0); /* idempotent */
	assert_int_equal(utmem_pool_create(st, D2, UTMEM_POOL_SHARED, uuid, &x), -EEXIST);
	uint8_t zero[16] = {0};
	assert_int_equal(utmem_pool_create(st, D2, fl, zero, &x), -EINVAL);
	assert_int_equal(utmem_pool_create(st, D2, fl, NULL, &x), -EINVAL);
	assert_int_equal(utmem_pool_create(st, 3, fl, other, &c), 0);
	assert_int_not_equal(c, a);

	struct utmem_key k = K(a, 1, 1);
	char out[8];
	assert_int_equal(utmem_put(st, D1, &k, "shared", 6), 0);
	assert_int_equal(utmem_get(st, D2, &k, out, sizeof(out), 0), 6);
	assert_memory_equal(out, "shared", 6);
	/* a domain that did not name the uuid cannot use it */
	assert_int_equal(utmem_get(st, 3, &k, out, sizeof(out), 0), -EACCES);
	/* charged to the putter */
	struct utmem_domain_stats ds;
	utmem_domain_stats(st, D1, &ds);
	assert_int_equal(ds.used, utmem_charge(6));
	utmem_domain_stats(st, D2, &ds);
	assert_int_equal(ds.used, 0);
	/* D1 detaches: the pool lives on for D2; D1 cannot use it any more */
	assert_int_equal(utmem_pool_destroy(st, D1, a), 0);
	assert_int_equal(utmem_get(st, D1, &k, out, sizeof(out), 0), -EACCES);
	assert_int_equal(utmem_get(st, D2, &k, out, sizeof(out), 0), 6);
	/* shared ephemeral get is not exclusive */
	uint32_t se;
	uint8_t u3[16];
	memset(u3, 0x33, sizeof(u3));
	assert_int_equal(utmem_pool_create(st, D1, UTMEM_POOL_SHARED, u3, &se), 0);
	struct utmem_key ks = K(se, 0, 0);
	assert_int_equal(utmem_put(st, D1, &ks, "e", 1), 0);
	assert_int_equal(utmem_get(st, D1, &ks, out, sizeof(out), 0), 1);
	assert_int_equal(utmem_get(st, D1, &ks, out, sizeof(out), 0), 1);
	/* last detach frees */
	assert_int_equal(utmem_pool_destroy(st, D2, a), 0);
	assert_int_equal(utmem_get(st, D2, &k, out, sizeof(out), 0), -EBADF);
	utmem_domain_stats(st, D1, &ds);
	assert_int_equal(ds.used, utmem_charge(1));
	utmem_store_free(st);
}

static void domain_destroy_releases_everything(void **state)
{
	struct utmem_store *st = new_store(0, 0);
	uint8_t uuid[16];
	memset(uuid, 0x44, sizeof(uuid));
	uint32_t sh, sh2, pr = pool(st, D1, UTMEM_POOL_PERSISTENT);
	assert_int_equal(utmem_pool_create(st, D1, UTMEM_POOL_SHARED, uuid, &sh), 0);
	assert_int_equal(utmem_pool_create(st, D2, UTMEM_POOL_SHARED, uuid, &sh2), 0);
	struct utmem_key k1 = K(pr, 0, 0), k2 = K(sh, 0, 0), k3 = K(sh, 0, 1);
	assert_int_equal(utmem_put(st, D1, &k1, "a", 1), 0);
	assert_int_equal(utmem_put(st, D1, &k2, "b", 1), 0);
	assert_int_equal(utmem_put(st, D2, &k3, "c", 1), 0);
	utmem_domain_destroy(st, D1);
	struct utmem_store_stats ss;
	utmem_store_stats(st, &ss);
	assert_int_equal(ss.pages, 1);
	assert_int_equal(ss.used, utmem_charge(1));
	assert_int_equal(ss.pools, 1);
	char out[4];
	assert_int_equal(utmem_get(st, D2, &k2, out, sizeof(out), 0), -ENOENT);
	assert_int_equal(utmem_get(st, D2, &k3, out, sizeof(out), 0), 1);
	utmem_store_free(st);
}

static void large_values(void **state)
{
	struct utmem_store *st = new_store(0, 0); /* default 16 MiB */
	uint32_t p = pool(st, D1, UTMEM_POOL_PERSISTENT);
	size_t big = UTMEM_DEFAULT_MAX_VALUE;
	uint8_t *buf = malloc(big + 1), *out = malloc(big + 1);
	assert_non_null(buf);
	assert_non_null(out);
	for (size_t i = 0; i < big + 1; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	struct utmem_key k = K(p, 1, 1);
	assert_int_equal(utmem_put(st, D1, &k, buf, big), 0);
	assert_int_equal(utmem_get(st, D1, &k, out, big, 0), (ssize_t)big);
	assert_memory_equal(out, buf, big);
	assert_int_equal(utmem_put(st, D1, &k, buf, big + 1), -E2BIG);
	utmem_store_free(st);

	/* configurable max */
	st = new_store(0, 4096);
	p = pool(st, D1, UTMEM_POOL_PERSISTENT);
	assert_int_equal(utmem_put(st, D1, &k, buf, 4097), -E2BIG);
	assert_int_equal(utmem_put(st, D1, &k, buf, 4096), 0);
	utmem_store_free(st);
	struct utmem_config c;
	utmem_config_default(&c);
	c.max_value = (size_t)UTMEM_MAX_VALUE_LIMIT + 1;
	assert_null(utmem_store_new(&c));
	free(buf);
	free(out);
}

static void many_keys_and_pool_limits(void **state)
{
	struct utmem_store *st = new_store(0, 0);
	uint32_t p = pool(st, D1, UTMEM_POOL_PERSISTENT);
	for (uint32_t i = 0; i < 50000; i++) {
		struct utmem_key k = K(p, i % 97, i);
		assert_int_equal(utmem_put(st, D1, &k, &i, sizeof(i)), 0);
	}
	for (uint32_t i = 0; i < 50000; i += 7) {
		struct utmem_key k = K(p, i % 97, i);
		uint32_t v = 0;
		assert_int_equal(utmem_get(st, D1, &k, &v, sizeof(v), 0), 4);
		assert_int_equal(v, i);
	}
	/* per-domain pool limit */
	uint32_t id;
	for (uint32_t i = 1; i < UTMEM_POOLS_PER_DOMAIN; i++)
		assert_int_equal(utmem_pool_create(st, D1, 0, NULL, &id), 0);
	assert_int_equal(utmem_pool_create(st, D1, 0, NULL, &id), -EMFILE);
	utmem_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_get_roundtrip),
		cmocka_unit_test(accounting_is_exact),
		cmocka_unit_test(quota_refusal_is_normal),
		cmocka_unit_test(quota_lowered_at_run_time),
		cmocka_unit_test(ephemeral_put_evicts_own_lru),
		cmocka_unit_test(global_pressure_evicts_ephemeral_only),
		cmocka_unit_test(refused_replace_leaves_no_stale_value),
		cmocka_unit_test(private_pool_privacy),
		cmocka_unit_test(shared_pools),
		cmocka_unit_test(domain_destroy_releases_everything),
		cmocka_unit_test(large_values),
		cmocka_unit_test(many_keys_and_pool_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
