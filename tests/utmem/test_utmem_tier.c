/* SPDX-License-Identifier: MIT */
/* Tier stacking: refused puts and misses pass down, never stale data. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "utmem/tier.h"

#define DOM 7

struct fixture {
	struct utmem_store *a, *b;
	struct utmem_tier *ta, *tb, *stack;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct utmem_config c;
	utmem_config_default(&c);
	c.max_value = 4096; /* the upper tier takes only small values */
	f->a = utmem_store_new(&c);
	f->b = utmem_store_new(NULL);
	f->ta = utmem_store_tier(f->a, DOM);
	f->tb = utmem_store_tier(f->b, DOM);
	struct utmem_tier *levels[2] = {f->ta, f->tb};
	f->stack = utmem_stack_new(levels, 2);
	if (!f->a || !f->b || !f->ta || !f->tb || !f->stack)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	utmem_tier_destroy(f->stack);
	utmem_tier_destroy(f->ta);
	utmem_tier_destroy(f->tb);
	utmem_store_free(f->a);
	utmem_store_free(f->b);
	free(f);
	return 0;
}

static uint64_t pages_in(struct utmem_store *st)
{
	struct utmem_store_stats ss;
	utmem_store_stats(st, &ss);
	return ss.pages;
}

static void refused_put_passes_down(void **state)
{
	struct fixture *f = *state;
	uint32_t p;
	assert_int_equal(utmem_tier_pool_create(f->stack, UTMEM_POOL_PERSISTENT, NULL, &p), 0);
	assert_int_equal(utmem_set_quota(f->a, DOM, 2 * utmem_charge(100)), 0);
	char buf[100], out[100];
	for (uint32_t i = 0; i < 5; i++) {
		memset(buf, (int)i, sizeof(buf));
		struct utmem_key k = {p, i, 1};
		assert_int_equal(utmem_tier_put(f->stack, &k, buf, sizeof(buf)), 0);
	}
	assert_int_equal(pages_in(f->a), 2);
	assert_int_equal(pages_in(f->b), 3);
	for (uint32_t i = 0; i < 5; i++) {
		struct utmem_key k = {p, i, 1};
		assert_int_equal(utmem_tier_get(f->stack, &k, out, sizeof(out), 0), 100);
		assert_int_equal(out[0], (char)i);
		assert_int_equal(out[99], (char)i);
	}
	struct utmem_key miss = {p, 99, 1};
	assert_int_equal(utmem_tier_get(f->stack, &miss, out, sizeof(out), 0), -ENOENT);
	/* invalidate an object removes it from every level */
	assert_int_equal(utmem_tier_invalidate_object(f->stack, p, 1), 0);
	assert_int_equal(pages_in(f->a) + pages_in(f->b), 0);
	assert_int_equal(utmem_tier_invalidate_object(f->stack, p, 1), -ENOENT);
	assert_int_equal(utmem_tier_pool_destroy(f->stack, p), 0);
	assert_int_equal(utmem_tier_get(f->stack, &miss, out, sizeof(out), 0), -EBADF);
}

static void too_big_for_upper_passes_down(void **state)
{
	struct fixture *f = *state;
	uint32_t p;
	assert_int_equal(utmem_tier_pool_create(f->stack, UTMEM_POOL_PERSISTENT, NULL, &p), 0);
	assert_int_equal(utmem_tier_max_value(f->stack), UTMEM_DEFAULT_MAX_VALUE);
	size_t n = 10000;
	char *buf = calloc(1, n), *out = calloc(1, n);
	memset(buf, 'z', n);
	struct utmem_key k = {p, 0, 0};
	assert_int_equal(utmem_tier_put(f->stack, &k, buf, n), 0);
	assert_int_equal(pages_in(f->a), 0);
	assert_int_equal(pages_in(f->b), 1);
	assert_int_equal(utmem_tier_get(f->stack, &k, out, n, UTMEM_GET_TAKE), (ssize_t)n);
	assert_memory_equal(out, buf, n);
	assert_int_equal(pages_in(f->b), 0);
	free(buf);
	free(out);
}

static void newer_value_shadows_and_removes_older(void **state)
{
	struct fixture *f = *state;
	uint32_t p;
	/* ephemeral: the upper copy can vanish, which would expose a stale lower one */
	assert_int_equal(utmem_tier_pool_create(f->stack, 0, NULL, &p), 0);
	struct utmem_key k = {p, 0, 5};
	char out[16];
	assert_int_equal(utmem_set_quota(f->a, DOM, 0), 0);
	assert_int_equal(utmem_tier_put(f->stack, &k, "old", 3), 0); /* lands in b */
	assert_int_equal(pages_in(f->b), 1);
	assert_int_equal(utmem_set_quota(f->a, DOM, UTMEM_QUOTA_UNLIMITED), 0);
	assert_int_equal(utmem_tier_put(f->stack, &k, "new", 3), 0); /* lands in a */
	assert_int_equal(pages_in(f->a), 1);
	assert_int_equal(pages_in(f->b), 0); /* old copy invalidated */
	assert_int_equal(utmem_set_quota(f->a, DOM, 0), 0); /* evicts "new" */
	assert_int_equal(utmem_tier_get(f->stack, &k, out, sizeof(out), 0), -ENOENT);
	/* and a refused put anywhere leaves nothing either */
	assert_int_equal(utmem_tier_put(f->stack, &k, "b", 1), 0); /* in b */
	assert_int_equal(utmem_set_quota(f->b, DOM, 0), 0);
	assert_int_equal(utmem_tier_put(f->stack, &k, "c", 1), -ENOSPC);
	assert_int_equal(utmem_tier_get(f->stack, &k, out, sizeof(out), 0), -ENOENT);
	assert_int_equal(utmem_set_quota(f->b, DOM, UTMEM_QUOTA_UNLIMITED), 0);
}

/* A tier that delegates everything to `inner` but fails every put with
 * -EIO: hard errors must surface, not be hidden by passing down. */
struct failing_tier {
	struct utmem_tier t;
	struct utmem_tier *inner;
};

static struct utmem_tier *inner(struct utmem_tier *t)
{
	return ((struct failing_tier *)t)->inner;
}
static int ft_pool_create(struct utmem_tier *t, uint32_t fl, const uint8_t *u, uint32_t *out)
{
	return utmem_tier_pool_create(inner(t), fl, u, out);
}
static int ft_pool_destroy(struct utmem_tier *t, uint32_t p)
{
	return utmem_tier_pool_destroy(inner(t), p);
}
static int ft_put(struct utmem_tier *t, const struct utmem_key *k, const void *b, size_t l)
{
	return -EIO;
}
static ssize_t ft_get(struct utmem_tier *t, const struct utmem_key *k, void *b, size_t c,
		      unsigned fl)
{
	return utmem_tier_get(inner(t), k, b, c, fl);
}
static int ft_inval_page(struct utmem_tier *t, const struct utmem_key *k)
{
	return utmem_tier_invalidate_page(inner(t), k);
}
static int ft_inval_object(struct utmem_tier *t, uint32_t p, uint64_t oid)
{
	return utmem_tier_invalidate_object(inner(t), p, oid);
}
static size_t ft_max_value(struct utmem_tier *t)
{
	return utmem_tier_max_value(inner(t));
}
static void ft_destroy(struct utmem_tier *t)
{
}

static const struct utmem_tier_ops failing_ops = {
	"failing", ft_pool_create, ft_pool_destroy, ft_put, ft_get,
	ft_inval_page, ft_inval_object, ft_max_value, ft_destroy,
};

static void hard_errors_are_not_passed_down(void **state)
{
	struct fixture *f = *state;
	struct failing_tier bad = {{&failing_ops}, f->ta};
	struct utmem_tier *levels[2] = {&bad.t, f->tb};
	struct utmem_tier *s = utmem_stack_new(levels, 2);
	assert_non_null(s);
	uint32_t p;
	assert_int_equal(utmem_tier_pool_create(s, UTMEM_POOL_PERSISTENT, NULL, &p), 0);
	struct utmem_key k = {p, 0, 0};
	assert_int_equal(utmem_tier_put(s, &k, "x", 1), -EIO);
	assert_int_equal(pages_in(f->b), 0);
	utmem_tier_destroy(s);
	assert_null(utmem_stack_new(levels, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(refused_put_passes_down, setup, teardown),
		cmocka_unit_test_setup_teardown(too_big_for_upper_passes_down, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_value_shadows_and_removes_older, setup, teardown),
		cmocka_unit_test_setup_teardown(hard_errors_are_not_passed_down, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
