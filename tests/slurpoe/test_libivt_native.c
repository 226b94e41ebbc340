/* SPDX-License-Identifier: MIT */
/*
 * libivt's native one-sided path for real: a real ivtd grants channels on
 * the slurpoe backend, the two ends (processes) sit on the two sides of a
 * veth pair in a private network namespace, and ivt_rdma_write/read go to
 * the plugin's rdma_write/read (slp_rdma_*), not to libivt's frames.
 * Writes and reads land byte-exact; refusals (forged key, missing access,
 * beyond the end, wrapping offset, a deregistered key) arrive as
 * completions as they do on every backend. Skipped without root.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"
#include "e2e/rdma_scenario.h"

#define POLICY_SLURPOE                                                                        \
	"{\"version\":1,\"channels\":[{\"name\":\"t*\",\"listeners\":[\"*\"],"               \
	"\"connectors\":[\"*\"],\"backend\":\"slurpoe\",\"ring_size\":262144,"                \
	"\"max_ring_size\":4194304}]}"

static struct e2e_daemon daemon_;
static int have_net;

static int setup(void **state)
{
	(void)state;
	if (unshare(CLONE_NEWNET))
		return 0; /* not root: the test skips */
	if (system("ip link add pa type veth peer name pb && ip link set pa up && "
		   "ip link set pb up"))
		return -1;
	setenv("IVT_SLURPOE_IF", "pa", 1); /* ivtd probes the backend on it */
	if (e2e_daemon_start(&daemon_, POLICY_SLURPOE))
		return -1;
	have_net = 1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (have_net)
		e2e_daemon_stop(&daemon_, 0);
	return 0;
}

static int origin(void *arg)
{
	(void)arg;
	setenv("IVT_SLURPOE_IF", "pb", 1);
	ivt_channel *ch;
	if (e2e_open("t-native", 0, 10000, 0, &ch) < 0)
		return 10;
	if (strcmp(ivt_backend_name(ch), "slurpoe")) {
		fprintf(stderr, "origin: backend %s, not slurpoe\n", ivt_backend_name(ch));
		return 11;
	}
	int rc = rdma_scenario_origin(ch, 5);
	ivt_close(ch);
	return rc;
}

static void test_native_rdma_through_libivt(void **state)
{
	(void)state;
	if (!have_net)
		skip();
	pid_t child = e2e_fork(origin, NULL);
	setenv("IVT_SLURPOE_IF", "pa", 1);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-native", IVT_LISTEN, 20000, 0, &ch), 0);
	assert_string_equal(ivt_backend_name(ch), "slurpoe");
	uint8_t *region = malloc(RDMA_SCENARIO_REGION_BYTES);
	assert_non_null(region);
	rdma_scenario_target(ch, region, 5);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(child), 0);
	free(region);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_native_rdma_through_libivt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
