/* SPDX-License-Identifier: MIT */
/*
 * Refusals through a real ivtd: the policy says no (and ivt_strerror
 * carries the daemon's reason), nobody listens, no daemon at all, a second
 * listener, a listener nobody joins, and bad arguments.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

/* t* is open; deny-* is reserved for a Xen domain no local process is. */
#define POLICY                                                                                \
	"{\"version\":1,\"channels\":["                                                       \
	"{\"name\":\"t*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],\"backend\":\"shm\"}," \
	"{\"name\":\"deny-*\",\"listeners\":[\"dom:999\"],\"connectors\":[\"dom:999\"]}],"      \
	"\"limits\":{\"connections\":2}}"

static int setup(void **state)
{
	(void)state;
	int rc = e2e_group_start(POLICY);
	chmod(e2e_group_daemon.dir, 0755); /* for the unprivileged child below */
	return rc;
}

static void test_policy_refusal_carries_daemon_reason(void **state)
{
	(void)state;
	ivt_channel *ch = (ivt_channel *)1;
	int rc = e2e_open("deny-me", IVT_LISTEN, 1000, 0, &ch);
	assert_int_equal(rc, -EACCES);
	assert_null(ch);
	const char *t = ivt_strerror(rc);
	print_message("strerror: %s\n", t);
	assert_non_null(strstr(t, "access denied"));
	/* the daemon's reason names the rule that refused */
	assert_non_null(strstr(t, "deny-"));
	rc = e2e_open("deny-me", 0, 1000, 0, &ch);
	assert_true(rc == -EACCES || rc == -ENOENT);
}

/* ivt.h promises -ENOENT, with ivtd's reason, whatever the timeout: the
 * last retry before the deadline used to wait ~0 ms for ivtd's answer and
 * report -ETIMEDOUT "did not answer within 0 ms" (issue 9). */
static void test_connector_without_listener_times_out(void **state)
{
	(void)state;
	ivt_channel *ch;
	static const int timeouts[] = {0, 1, 15, 35, 75, 155, 300};
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		int rc = e2e_open("t-nobody", 0, timeouts[i], 0, &ch);
		const char *t = ivt_strerror(rc);
		if (rc != -ENOENT)
			fail_msg("timeout %d ms: %d (%s)", timeouts[i], rc, t);
		assert_non_null(strstr(t, "no such channel"));
		assert_non_null(strstr(t, "no listener for channel 't-nobody'"));
	}
}

static void test_channel_without_policy(void **state)
{
	(void)state;
	ivt_channel *ch;
	int rc = e2e_open("unlisted", IVT_LISTEN, 1000, 0, &ch);
	assert_true(rc == -ENOENT || rc == -EACCES);
	print_message("strerror: %s\n", ivt_strerror(rc));
	/* A connector is refused at once: waiting is for names a rule
	 * allows, and a wait would end in -ENOENT at the deadline. */
	rc = e2e_open("unlisted", 0, 30000, 0, &ch);
	assert_int_equal(rc, -EACCES);
	assert_non_null(strstr(ivt_strerror(rc), "no rule in"));
	assert_non_null(strstr(ivt_strerror(rc), "matches channel 'unlisted'"));
}

static void test_no_daemon(void **state)
{
	(void)state;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .socket_path = "/nonexistent/ivtd.sock"};
	ivt_channel *ch;
	int rc = ivt_open("t-x", 0, &o, &ch);
	assert_int_equal(rc, -ECONNREFUSED);
	const char *t = ivt_strerror(rc);
	print_message("strerror: %s\n", t);
	assert_non_null(strstr(t, "ivtd is not running"));
	assert_non_null(strstr(t, "socket /nonexistent/ivtd.sock"));
}

static void test_second_listener(void **state)
{
	(void)state;
	ivt_channel *a, *b;
	assert_int_equal(e2e_open("t-dup", IVT_LISTEN, 0, 0, &a), 0);
	int rc = e2e_open("t-dup", IVT_LISTEN, 0, 0, &b);
	assert_int_equal(rc, -EADDRINUSE);
	assert_non_null(strstr(ivt_strerror(rc), "already has a listener"));
	assert_int_equal(ivt_close(a), 0);
	/* gone with its end: the name is free again (the daemon may need a
	 * moment to see the close, so retry the open) */
	for (int i = 0; i < 10000 && (rc = e2e_open("t-dup", IVT_LISTEN, 0, 0, &b)) == -EADDRINUSE; i++)
		usleep(1000);
	assert_int_equal(rc, 0);
	assert_int_equal(ivt_close(b), 0);
}

static void test_listener_nobody_joins(void **state)
{
	(void)state;
	ivt_channel *ch;
	int rc = e2e_open("t-lonely", IVT_LISTEN, 200, 0, &ch);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_non_null(strstr(ivt_strerror(rc), "t-lonely"));
}

/* An unprivileged user beyond its limit gets -EMFILE with ivtd's reason
 * (the policy allows it 2 connections; root is not bound by it). */
static int over_limit(void *arg)
{
	(void)arg;
	if (setgid(65534) != 0 || setuid(65534) != 0)
		return 10;
	ivt_channel *a, *b, *c;
	if (e2e_open("t-lim-a", IVT_LISTEN, 0, 0, &a) != 0 ||
	    e2e_open("t-lim-b", IVT_LISTEN, 0, 0, &b) != 0)
		return 11;
	int rc = e2e_open("t-lim-c", IVT_LISTEN, 0, 0, &c);
	const char *t = ivt_strerror(rc);
	fprintf(stderr, "third end: %s\n", t);
	if (rc != -EMFILE || !strstr(t, "\"limits\": \"connections\""))
		return 12;
	ivt_close(b);
	ivt_close(a);
	return 0;
}

static void test_identity_limit_says_why(void **state)
{
	(void)state;
	assert_int_equal(e2e_wait(e2e_fork(over_limit, NULL)), 0);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	ivt_channel *ch;
	assert_int_equal(ivt_open("t-ok", 0, NULL, NULL), -EINVAL);
	assert_int_equal(ivt_open(NULL, 0, NULL, &ch), -EINVAL);
	assert_int_equal(ivt_open("", 0, NULL, &ch), -EINVAL);
	assert_int_equal(ivt_open(".hidden", 0, NULL, &ch), -EINVAL);
	assert_int_equal(ivt_open("a/b", 0, NULL, &ch), -EINVAL);
	assert_non_null(strstr(ivt_strerror(-EINVAL), "channel name"));
	char long_name[IVT_NAME_MAX + 2];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(ivt_open(long_name, 0, NULL, &ch), -EINVAL);
	assert_int_equal(ivt_open("t-ok", 0x100, NULL, &ch), -EINVAL);
	struct ivt_open_opts o = {.struct_size = 0};
	assert_int_equal(ivt_open("t-ok", 0, &o, &ch), -EINVAL);
	assert_int_equal(ivt_open("a/b", 0, NULL, &ch), -EINVAL);
	assert_int_equal(ivt_close(NULL), -EINVAL);
	/* the reason is this call's, not the open's before it */
	assert_null(strstr(ivt_strerror(-EINVAL), "channel name"));
	assert_non_null(strstr(ivt_strerror(-EINVAL), "ivt_close"));
	assert_int_equal(ivt_set_timeouts(NULL, 0, 0), -EINVAL);
	assert_non_null(strstr(ivt_strerror(-EINVAL), "ivt_set_timeouts"));
	assert_int_equal(ivt_send(NULL, "x", 1), -EINVAL);
	assert_int_equal(ivt_recv(NULL, &o, 1), -EINVAL);
	assert_int_equal(ivt_fd(NULL), -EINVAL);
	assert_null(ivt_backend_name(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_refusal_carries_daemon_reason),
		cmocka_unit_test(test_connector_without_listener_times_out),
		cmocka_unit_test(test_channel_without_policy),
		cmocka_unit_test(test_no_daemon),
		cmocka_unit_test(test_second_listener),
		cmocka_unit_test(test_listener_nobody_joins),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_identity_limit_says_why),
	};
	return cmocka_run_group_tests(tests, setup, e2e_group_teardown);
}
