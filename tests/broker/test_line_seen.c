/* SPDX-License-Identifier: MIT */
/*
 * ivtd's memory of connector processes it brokered once without a line
 * (src/ivtd/core/line_seen.c): a pair is granted its line at its second
 * connection, then forgotten; the table stays bounded under a flood of
 * pairs, losing the least recently seen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ivtd/core/line_seen.h"

static void test_second_connection(void **state)
{
	(void)state;
	struct line_seen *t = line_seen_new();
	assert_non_null(t);
	assert_int_equal(line_seen_take(t, 100, 7), 0); /* first: remembered */
	assert_int_equal(line_seen_take(t, 100, 8), 0); /* another listener */
	assert_int_equal(line_seen_take(t, 101, 7), 0); /* another process */
	assert_int_equal(line_seen_take(t, 100, 7), 1); /* second: its line */
	assert_int_equal(line_seen_take(t, 100, 7), 0); /* forgotten once granted */
	assert_int_equal(line_seen_take(t, 100, 8), 1);
	assert_int_equal(line_seen_take(t, 101, 7), 1);
	line_seen_free(t);
}

static void test_bounded_flood(void **state)
{
	(void)state;
	struct line_seen *t = line_seen_new();
	assert_non_null(t);
	assert_int_equal(line_seen_take(t, 1, 1), 0);
	/* four times the table's pairs, each once: the oldest go */
	const int32_t flood = 4 * LINE_SEEN_SETS * LINE_SEEN_WAYS;
	for (int32_t pid = 2; pid < flood; pid++)
		assert_int_equal(line_seen_take(t, pid, 1), 0);
	assert_int_equal(line_seen_take(t, 1, 1), 0); /* pushed out: one more */
	/* the most recent are still there (most of them: sets differ in load) */
	int kept = 0;
	for (int32_t pid = flood - 256; pid < flood; pid++)
		kept += line_seen_take(t, pid, 1);
	assert_true(kept > 200);
	line_seen_free(t);
}

/* Under a flood of one process to many listeners, the newest pairs stay. */
static void test_recent_kept(void **state)
{
	(void)state;
	struct line_seen *t = line_seen_new();
	assert_non_null(t);
	for (uint64_t lis = 1; lis <= 100000; lis++)
		line_seen_take(t, 5, lis);
	int kept = 0;
	for (uint64_t lis = 100000 - 99; lis <= 100000; lis++)
		kept += line_seen_take(t, 5, lis);
	assert_true(kept > 80);
	line_seen_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_connection),
		cmocka_unit_test(test_bounded_flood),
		cmocka_unit_test(test_recent_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
