/* SPDX-License-Identifier: MIT */
/*
 * A connector waiting for a listener retries its OPEN while its timeout
 * runs (every 50-400 ms). ivtd's status counts the wait as one request
 * and at most one refusal, and the repeats as retries: it once counted
 * each repeat as a request and a refusal (12 of each for a 3 s wait),
 * which made "refused" useless for monitoring.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define POLICY                                                                                \
	"{\"version\":1,\"channels\":[{\"name\":\"r*\",\"listeners\":[\"*\"],"               \
	"\"connectors\":[\"*\"],\"backend\":\"shm\"}]}"

static int group_setup(void **state)
{
	(void)state;
	return e2e_group_start(POLICY);
}

struct counters {
	uint64_t requests, refused, retries;
};

static struct counters counters(void)
{
	static char buf[16384];
	assert_int_equal(e2e_status(e2e_group_daemon.sock, buf, sizeof(buf)), 0);
	struct counters c = {0, 0, 0};
	const char *p = strstr(buf, "requests ");
	assert_non_null(p);
	uint64_t granted;
	assert_int_equal(sscanf(p, "requests %" SCNu64 ", granted %" SCNu64 ", refused %" SCNu64,
				&c.requests, &granted, &c.refused),
			 3);
	const char *r = strstr(p, ", retries ");
	assert_non_null(r);
	assert_int_equal(sscanf(r, ", retries %" SCNu64, &c.retries), 1);
	return c;
}

static void test_wait_counts_once(void **state)
{
	(void)state;
	struct counters a = counters();
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 1500,
				  .socket_path = e2e_group_daemon.sock};
	ivt_channel *ch = NULL;
	assert_int_equal(ivt_open("rnobody", 0, &o, &ch), -ENOENT);
	struct counters b = counters();
	assert_int_equal(b.requests - a.requests, 1);
	assert_int_equal(b.refused - a.refused, 1);
	assert_true(b.retries - a.retries >= 2); /* 1.5 s of 50 ms, 100, 200, ... waits */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_counts_once),
	};
	return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
