/* SPDX-License-Identifier: MIT */
/* The shared log (src/common/log.c): the rate limit (a burst per window,
 * then silence, then one line that says how many were dropped; windows
 * are moved by hand: no test here depends on the clock) and the line
 * prefixes (time stamp, journald priority). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* One ivt_log line as written to stderr. */
static void log_line(char *out, size_t size, const char *msg)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	ivt_log(IVT_LOG_INFO, "ivtd", "%s", msg);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(p[1]);
	ssize_t n = read(p[0], out, size - 1);
	close(p[0]);
	assert_true(n > 0);
	out[n] = 0;
}

static int is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static void test_prefixes(void **state)
{
	(void)state;
	char line[256];
	ivt_log_set_level(IVT_LOG_INFO);
	unsetenv("IVT_LOG_JOURNAL");

	ivt_log_set_timestamps(0);
	log_line(line, sizeof(line), "plain");
	assert_string_equal(line, "ivtd: info: plain\n");

	/* "2026-12-06T22:45:33.123Z ivtd: info: stamped\n" */
	ivt_log_set_timestamps(1);
	log_line(line, sizeof(line), "stamped");
	assert_int_equal(strlen(line), 25 + strlen("ivtd: info: stamped\n"));
	assert_true(is_digits(line, 4) && line[4] == '-' && line[10] == 'T' && line[13] == ':');
	assert_true(line[19] == '.' && is_digits(line + 20, 3) && line[23] == 'Z' && line[24] == ' ');
	assert_string_equal(line + 25, "ivtd: info: stamped\n");

	/* the journal stamps lines itself, and "<N>" must open the line */
	setenv("IVT_LOG_JOURNAL", "1", 1);
	log_line(line, sizeof(line), "journal");
	assert_string_equal(line, "<6>ivtd: journal\n");
	unsetenv("IVT_LOG_JOURNAL");
	ivt_log_set_timestamps(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_burst_then_count),
					   cmocka_unit_test(test_prefixes)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
