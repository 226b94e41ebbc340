/* SPDX-License-Identifier: MIT */
/* The ivt_store handle's pool ids across a reconnect (store_pools.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "libivt/store_pools.h"

static const uint8_t zero[IVT_UUID_LEN];

static void test_ids_survive_a_reconnect(void **state)
{
	(void)state;
	struct store_pools ps = {0};
	uint32_t a, b, c, cur;
	/* first store: the caller's ids are the store's */
	assert_int_equal(store_pools_add(&ps, 0, zero, 1, &a), 0);
	assert_int_equal(store_pools_add(&ps, 0, zero, 2, &b), 0);
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	store_pools_forget(&ps, a);
	/* new store: b re-created as 1; a new pool the store calls 2 gets
	 * another id, since 2 is b's for the caller */
	ps.v[0].cur = 1;
	assert_int_equal(store_pools_add(&ps, 0, zero, 2, &c), 0);
	assert_true(c != b && c != 0);
	assert_int_equal(store_pools_cur(&ps, b, &cur), 0);
	assert_int_equal(cur, 1);
	assert_int_equal(store_pools_cur(&ps, c, &cur), 0);
	assert_int_equal(cur, 2);
	/* a shared pool attached twice keeps its id */
	uint32_t again;
	assert_int_equal(store_pools_add(&ps, IVT_POOL_SHARED, zero, 2, &again), 0);
	assert_int_equal(again, c);
	/* one that could not be re-created; one never created here */
	ps.v[0].cur = 0;
	assert_int_equal(store_pools_cur(&ps, b, &cur), -EBADF);
	assert_int_equal(store_pools_cur(&ps, 77, &cur), 0);
	assert_int_equal(cur, 77);
	store_pools_free(&ps);
	assert_int_equal(ps.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_survive_a_reconnect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
