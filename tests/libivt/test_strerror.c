/* SPDX-License-Identifier: MIT */
/* ivt_strerror: ivt wording for every errno ivt.h documents, the daemon's
 * reason appended for the matching error only, and per-thread reasons. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ivt/ivt.h"
#include "libivt/errors.h"

static void test_documented_errnos_have_ivt_text(void **state)
{
	(void)state;
	const struct {
		int err;
		const char *word; /* something only ivt's wording says */
	} cases[] = {
		{EACCES, "policy"},          {ENOENT, "channel"},     {EADDRINUSE, "listener"},
		{ECONNREFUSED, "ivtd"},      {ENOTSUP, "backend"},    {ETIMEDOUT, "peer"},
		{EPROTO, "malformed"},       {EPIPE, "peer closed"},  {ECONNRESET, "peer went away"},
		{EAGAIN, "ivt_fd"},          {ERANGE, "region"},      {EINVAL, "invalid"},
		{ENOMEM, "memory"},          {EPROTONOSUPPORT, "version"}, {EUSERS, "max_connections"},
	};
	ivt_reason_clear();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = ivt_strerror(-cases[i].err);
		assert_non_null(t);
		print_message("%d: %s\n", cases[i].err, t);
		assert_non_null(strstr(t, cases[i].word));
	}
}

static void test_other_values(void **state)
{
	(void)state;
	assert_string_equal(ivt_strerror(0), "success");
	assert_non_null(strstr(ivt_strerror(42), "42"));
	/* unknown errnos fall back to the C library's text */
	assert_string_equal(ivt_strerror(-EXDEV), strerror(EXDEV));
	assert_non_null(ivt_strerror(-99999));
	assert_non_null(ivt_strerror(INT32_MIN));
}

static void test_reason_appended_to_matching_error_only(void **state)
{
	(void)state;
	ivt_reason_set(-EACCES, "channel 'x': rule 2 allows listeners uid:0 only");
	const char *t = ivt_strerror(-EACCES);
	assert_non_null(strstr(t, "access denied"));
	assert_non_null(strstr(t, "rule 2 allows listeners uid:0 only"));
	assert_null(strstr(ivt_strerror(-ENOENT), "rule 2"));
	ivt_reason_clear();
	assert_null(strstr(ivt_strerror(-EACCES), "rule 2"));

	/* with a reason, ECONNREFUSED says only what the reason says, not the
	 * usual causes ("ivtd is not running" when ivtd refused). */
	ivt_reason_set(-ECONNREFUSED, "the listener of 'x' closed");
	assert_string_equal(ivt_strerror(-ECONNREFUSED),
			    "connection refused (the listener of 'x' closed)");
	ivt_reason_clear();
	assert_string_equal(ivt_strerror(-ECONNREFUSED),
			    "ivtd is not running, or the listener closed or refused this connection "
			    "(a connection sent over a direct line is refused when the listener "
			    "closes or drops its lines, e.g. at a policy reload)");
}

static void *other_thread(void *arg)
{
	(void)arg;
	/* the main thread's reason is not visible here */
	return strstr(ivt_strerror(-EACCES), "secret") ? (void *)1 : NULL;
}

static void test_reason_is_per_thread(void **state)
{
	(void)state;
	ivt_reason_set(-EACCES, "secret");
	pthread_t t;
	void *leaked = (void *)1;
	assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
	pthread_join(t, &leaked);
	assert_null(leaked);
	assert_non_null(strstr(ivt_strerror(-EACCES), "secret"));
	ivt_reason_clear();
}

static void test_long_reason_is_truncated_safely(void **state)
{
	(void)state;
	char big[2000];
	memset(big, 'r', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ivt_reason_set(-EACCES, "%s", big);
	const char *t = ivt_strerror(-EACCES);
	assert_true(strlen(t) < 1000);
	ivt_reason_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_errnos_have_ivt_text),
		cmocka_unit_test(test_other_values),
		cmocka_unit_test(test_reason_appended_to_matching_error_only),
		cmocka_unit_test(test_reason_is_per_thread),
		cmocka_unit_test(test_long_reason_is_truncated_safely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
