/*
 * The local registry's per-uid tallies (src/ivtd/registries/uid_counts.c):
 * found again after the table grows, separate per uid, absent until made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ivtd/registries/uid_counts.h"

static void test_absent_until_made(void **state)
{
	(void)state;
	struct uid_counts t = { 0 };
	assert_null(uid_counts_find(&t, 1000));
	struct uid_count *u = uid_counts_get(&t, 1000);
	assert_non_null(u);
	assert_int_equal(u->uid, 1000);
	assert_int_equal(u->conns, 0);
	u->conns = 3;
	assert_ptr_equal(uid_counts_find(&t, 1000), u);
	assert_null(uid_counts_find(&t, 1001));
	uid_counts_free(&t);
}

/* 5,000 uids (dense and sparse): each keeps its own count through growth. */
static void test_many_uids_survive_growth(void **state)
{
	(void)state;
	struct uid_counts t = { 0 };
	for (uint32_t i = 0; i < 5000; i++) {
		uid_t uid = (i & 1) ? i : (uid_t)(100000u + i * 65537u);
		struct uid_count *u = uid_counts_get(&t, uid);
		assert_non_null(u);
		u->conns = i + 1;
		u->opened = i;
	}
	assert_int_equal(t.used, 5000);
	assert_true(t.used * 2 <= t.cap);
	for (uint32_t i = 0; i < 5000; i++) {
		uid_t uid = (i & 1) ? i : (uid_t)(100000u + i * 65537u);
		struct uid_count *u = uid_counts_find(&t, uid);
		assert_non_null(u);
		assert_int_equal(u->conns, i + 1);
		assert_int_equal(u->opened, i);
	}
	uid_counts_free(&t);
	assert_null(uid_counts_find(&t, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absent_until_made),
		cmocka_unit_test(test_many_uids_survive_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
