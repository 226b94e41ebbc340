/* SPDX-License-Identifier: MIT */
/* The shared log rate limit (src/common/log.c): a burst per window, then
 * silence, then one line that says how many were dropped. Windows are
 * moved by hand: no test here depends on the clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/log.h"

static void test_burst_then_count(void **state)
{
	(void)state;
	struct ivt_ratelimit rl = IVT_RATELIMIT_INIT(3600 * 1000, 3);
	unsigned dropped = 99;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ivt_ratelimit_ok(&rl, &dropped), 1);
		assert_int_equal(dropped, 0);
	}
	for (int i = 0; i < 7; i++)
		assert_int_equal(ivt_ratelimit_ok(&rl, &dropped), 0);
	rl.window_start -= rl.interval_ms; /* the window is over */
	assert_int_equal(ivt_ratelimit_ok(&rl, &dropped), 1);
	assert_int_equal(dropped, 7);
	assert_int_equal(ivt_ratelimit_ok(&rl, &dropped), 1);
	assert_int_equal(dropped, 0);
	/* and through the logging call: suppressed lines are not printed */
	ivt_log_set_level(IVT_LOG_DEBUG);
	for (int i = 0; i < 5; i++)
		ivt_log_limited(&rl, IVT_LOG_DEBUG, "test", "line %d", i);
	assert_int_equal(rl.suppressed, 4);
	/* below the log level nothing is counted */
	ivt_log_set_level(IVT_LOG_ERR);
	ivt_log_limited(&rl, IVT_LOG_DEBUG, "test", "hidden");
	assert_int_equal(rl.suppressed, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_burst_then_count)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
