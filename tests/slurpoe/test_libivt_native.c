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
#include <poll.h>
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

#define REGION_BYTES (1u << 20)
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

struct keys {
	uint64_t rw, ro;
};

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "origin: check failed at line %d: %s\n", __LINE__, #cond); \
			return 1;                                                             \
		}                                                                             \
	} while (0)

static int reap(ivt_channel *ch, uint64_t wr_id, struct ivt_completion *c)
{
	for (;;) {
		int n = ivt_poll_completions(ch, c, 1);
		if (n < 0)
			return n;
		if (n == 1)
			return c->wr_id == wr_id ? 0 : -1;
		struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
		poll(&p, 1, 100);
	}
}

static int origin(void *arg)
{
	(void)arg;
	setenv("IVT_SLURPOE_IF", "pb", 1);
	ivt_channel *ch;
	if (e2e_open("t-native", 0, 10000, 0, &ch) < 0)
		return 10;
	CHECK(!strcmp(ivt_backend_name(ch), "slurpoe"));
	struct keys k;
	CHECK(ivt_recv_all(ch, &k, sizeof(k)) == sizeof(k));
	uint8_t *buf = malloc(REGION_BYTES), *back = calloc(1, REGION_BYTES);
	e2e_fill(buf, 5, 0, REGION_BYTES);
	struct ivt_completion c;

	CHECK(ivt_rdma_write(ch, buf, REGION_BYTES, k.rw, 0, 1) == 0);
	memset(buf, 0, REGION_BYTES); /* ours again after the call */
	CHECK(reap(ch, 1, &c) == 0);
	CHECK(c.status == 0 && c.opcode == IVT_OP_RDMA_WRITE && c.len == REGION_BYTES);
	CHECK(ivt_rdma_read(ch, back, REGION_BYTES, k.rw, 0, 2) == 0);
	CHECK(reap(ch, 2, &c) == 0);
	CHECK(c.status == 0 && c.opcode == IVT_OP_RDMA_READ && c.len == REGION_BYTES);
	CHECK(e2e_mismatch(back, 5, 0, REGION_BYTES) == -1);

	CHECK(ivt_rdma_write(ch, buf, 100, k.rw ^ 0x1000, 0, 3) == 0);
	CHECK(reap(ch, 3, &c) == 0 && c.status == -EACCES);
	CHECK(ivt_rdma_write(ch, buf, 100, k.ro, 0, 4) == 0);
	CHECK(reap(ch, 4, &c) == 0 && c.status == -EACCES);
	CHECK(ivt_rdma_write(ch, buf, 100, k.rw, REGION_BYTES - 50, 5) == 0);
	CHECK(reap(ch, 5, &c) == 0 && c.status == -ERANGE);
	CHECK(ivt_rdma_read(ch, back, 100, k.rw, UINT64_MAX - 10, 6) == 0);
	CHECK(reap(ch, 6, &c) == 0 && c.status == -ERANGE);
	CHECK(ivt_rdma_read(ch, back, 64, k.ro, 0, 7) == 0);
	CHECK(reap(ch, 7, &c) == 0 && c.status == 0);
	memset(buf, 0xEE, 10);
	CHECK(ivt_rdma_write(ch, buf, 10, k.rw, 1000, 8) == 0);
	CHECK(reap(ch, 8, &c) == 0 && c.status == 0);

	CHECK(ivt_send(ch, "done", 4) == 4);
	char ack[4];
	CHECK(ivt_recv_all(ch, ack, 4) == 4); /* the target deregistered */
	CHECK(ivt_rdma_write(ch, buf, 10, k.rw, 0, 9) == 0);
	CHECK(reap(ch, 9, &c) == 0 && c.status == -EACCES);
	CHECK(ivt_send(ch, "bye!", 4) == 4);
	free(buf);
	free(back);
	ivt_close(ch);
	return 0;
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
	uint8_t *region = calloc(1, REGION_BYTES);
	uint8_t ro[256];
	memset(ro, 0x11, sizeof(ro));
	struct keys k;
	assert_int_equal(ivt_register_region(ch, region, REGION_BYTES,
					     IVT_ACCESS_REMOTE_WRITE | IVT_ACCESS_REMOTE_READ, &k.rw), 0);
	assert_int_equal(ivt_register_region(ch, ro, sizeof(ro), IVT_ACCESS_REMOTE_READ, &k.ro), 0);
	assert_int_equal(ivt_send(ch, &k, sizeof(k)), sizeof(k));

	/* waiting in ivt_recv runs this end's engine, which serves the ops */
	char msg[4];
	assert_int_equal(ivt_recv_all(ch, msg, 4), 4);
	assert_memory_equal(msg, "done", 4);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(region[1000 + i], 0xEE);
	assert_int_equal(e2e_mismatch(region, 5, 0, 1000), -1);
	assert_int_equal(e2e_mismatch(region + 1010, 5, 1010, REGION_BYTES - 1010), -1);
	for (size_t i = 0; i < sizeof(ro); i++)
		assert_int_equal(ro[i], 0x11);

	assert_int_equal(ivt_deregister_region(ch, k.rw), 0);
	assert_int_equal(ivt_deregister_region(ch, k.rw), -ENOENT);
	assert_int_equal(ivt_send(ch, "dreg", 4), 4);
	assert_int_equal(ivt_recv_all(ch, msg, 4), 4);
	assert_memory_equal(msg, "bye!", 4);
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
