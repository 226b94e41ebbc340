/* SPDX-License-Identifier: MIT */
/*
 * One-sided operations through a real ivtd and shm: the listener registers
 * a region and sends its key over the stream; the connector writes into it
 * and reads it back, with completions, and bad keys, missing access and
 * out-of-range offsets are refused at the origin without touching memory.
 */
#include <errno.h>
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

#define REGION_BYTES RDMA_SCENARIO_REGION_BYTES
#define GUARD 4096

static int origin(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("t-rdma", 0, 10000, 0, &ch) < 0)
		return 10;
	int rc = rdma_scenario_origin(ch, 9);
	ivt_close(ch);
	return rc;
}

static void test_rdma_write_read_and_refusals(void **state)
{
	(void)state;
	pid_t child = e2e_fork(origin, NULL);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-rdma", IVT_LISTEN, -1, 0, &ch), 0);

	/* the writable region sits between guard areas that must not change */
	uint8_t *mem = malloc(GUARD + REGION_BYTES + GUARD);
	memset(mem, 0xAA, GUARD + REGION_BYTES + GUARD);
	rdma_scenario_target(ch, mem + GUARD, 9);
	for (size_t i = 0; i < GUARD; i++) {
		assert_int_equal(mem[i], 0xAA);
		assert_int_equal(mem[GUARD + REGION_BYTES + i], 0xAA);
	}

	struct ivt_stats st;
	assert_int_equal(ivt_get_stats(ch, &st), 0);
	assert_int_equal(st.protocol_errors, 0);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(child), 0);
	free(mem);
}

static void test_register_region_arguments(void **state)
{
	(void)state;
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-regargs", IVT_LISTEN, 0, 0, &ch), 0);
	uint8_t buf[64];
	uint64_t key;
	assert_int_equal(ivt_register_region(ch, NULL, 64, IVT_ACCESS_REMOTE_READ, &key), -EINVAL);
	assert_int_equal(ivt_register_region(ch, buf, 0, IVT_ACCESS_REMOTE_READ, &key), -EINVAL);
	assert_int_equal(ivt_register_region(ch, buf, 64, 0, &key), -EINVAL);
	assert_int_equal(ivt_register_region(ch, buf, 64, 0x80, &key), -EINVAL);
	assert_int_equal(ivt_deregister_region(ch, 12345), -ENOENT);
	struct ivt_completion c;
	assert_int_equal(ivt_poll_completions(ch, &c, 1), 0);
	assert_int_equal(ivt_close(ch), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rdma_write_read_and_refusals),
		cmocka_unit_test(test_register_region_arguments),
	};
	return cmocka_run_group_tests(tests, e2e_group_setup_open, e2e_group_teardown);
}
