/* SPDX-License-Identifier: MIT */
/*
 * One-sided operations through a real ivtd and shm: the listener registers
 * a region and sends its key over the stream; the connector writes into it
 * and reads it back, with completions, and bad keys, missing access and
 * out-of-range offsets are refused at the origin without touching memory.
 */
#include <errno.h>
#include <poll.h>
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
#define GUARD 4096

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

/* Wait for the completion of wr_id (they arrive in posting order). */
static int reap(ivt_channel *ch, uint64_t wr_id, struct ivt_completion *c)
{
	for (;;) {
		int n = ivt_poll_completions(ch, c, 1);
		if (n < 0)
			return n;
		if (n == 1) {
			if (c->wr_id != wr_id) {
				fprintf(stderr, "origin: completion %llu, expected %llu\n",
					(unsigned long long)c->wr_id, (unsigned long long)wr_id);
				return -1;
			}
			return 0;
		}
		struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
		poll(&p, 1, -1);
	}
}

static int origin(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("t-rdma", 0, 10000, 0, &ch) < 0)
		return 10;
	struct keys k;
	CHECK(ivt_recv_all(ch, &k, sizeof(k)) == sizeof(k));

	uint8_t *buf = malloc(REGION_BYTES), *back = calloc(1, REGION_BYTES);
	e2e_fill(buf, 9, 0, REGION_BYTES);
	struct ivt_completion c;

	/* write the whole region, then read it back */
	CHECK(ivt_rdma_write(ch, buf, REGION_BYTES, k.rw, 0, 1) == 0);
	memset(buf, 0, REGION_BYTES); /* the buffer is ours again after the call */
	CHECK(reap(ch, 1, &c) == 0);
	CHECK(c.status == 0 && c.opcode == IVT_OP_RDMA_WRITE && c.len == REGION_BYTES);
	CHECK(ivt_rdma_read(ch, back, REGION_BYTES, k.rw, 0, 2) == 0);
	CHECK(reap(ch, 2, &c) == 0);
	CHECK(c.status == 0 && c.opcode == IVT_OP_RDMA_READ && c.len == REGION_BYTES);
	CHECK(e2e_mismatch(back, 9, 0, REGION_BYTES) == -1);

	/* refusals: forged key, read-only region, beyond the end, wrapping */
	CHECK(ivt_rdma_write(ch, buf, 100, k.rw ^ 0x1000, 0, 3) == 0);
	CHECK(reap(ch, 3, &c) == 0 && c.status == -EACCES);
	CHECK(ivt_rdma_write(ch, buf, 100, k.ro, 0, 4) == 0);
	CHECK(reap(ch, 4, &c) == 0 && c.status == -EACCES);
	CHECK(ivt_rdma_write(ch, buf, 100, k.rw, REGION_BYTES - 50, 5) == 0);
	CHECK(reap(ch, 5, &c) == 0 && c.status == -ERANGE);
	CHECK(ivt_rdma_read(ch, back, 100, k.rw, UINT64_MAX - 10, 6) == 0);
	CHECK(reap(ch, 6, &c) == 0 && c.status == -ERANGE);
	/* reading a read-only region is fine */
	CHECK(ivt_rdma_read(ch, back, 64, k.ro, 0, 7) == 0);
	CHECK(reap(ch, 7, &c) == 0 && c.status == 0);

	/* a small write at an offset, so the target can check placement */
	memset(buf, 0xEE, 10);
	CHECK(ivt_rdma_write(ch, buf, 10, k.rw, 1000, 8) == 0);
	CHECK(reap(ch, 8, &c) == 0 && c.status == 0);

	CHECK(ivt_send(ch, "done", 4) == 4);
	/* the target deregisters, then tells us; afterwards the key is dead */
	char ack[4];
	CHECK(ivt_recv_all(ch, ack, 4) == 4);
	CHECK(ivt_rdma_write(ch, buf, 10, k.rw, 0, 9) == 0);
	CHECK(reap(ch, 9, &c) == 0 && c.status == -EACCES);
	CHECK(ivt_send(ch, "bye!", 4) == 4);
	free(buf);
	free(back);
	ivt_close(ch);
	return 0;
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
	uint8_t *region = mem + GUARD;
	memset(region, 0, REGION_BYTES);
	uint8_t ro[256];
	memset(ro, 0x11, sizeof(ro));
	struct keys k;
	assert_int_equal(ivt_register_region(ch, region, REGION_BYTES,
					     IVT_ACCESS_REMOTE_WRITE | IVT_ACCESS_REMOTE_READ, &k.rw), 0);
	assert_int_equal(ivt_register_region(ch, ro, sizeof(ro), IVT_ACCESS_REMOTE_READ, &k.ro), 0);
	assert_true(k.rw != k.ro);
	assert_int_equal(ivt_send(ch, &k, sizeof(k)), sizeof(k));

	/* ivt_recv serves the peer's one-sided ops while it waits for data */
	char msg[4];
	assert_int_equal(ivt_recv_all(ch, msg, 4), 4);
	assert_memory_equal(msg, "done", 4);

	for (size_t i = 0; i < GUARD; i++) {
		assert_int_equal(mem[i], 0xAA);
		assert_int_equal(mem[GUARD + REGION_BYTES + i], 0xAA);
	}
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(region[1000 + i], 0xEE);
	assert_int_equal(e2e_mismatch(region, 9, 0, 1000), -1);
	assert_int_equal(e2e_mismatch(region + 1010, 9, 1010, REGION_BYTES - 1010), -1);
	for (size_t i = 0; i < sizeof(ro); i++)
		assert_int_equal(ro[i], 0x11);

	assert_int_equal(ivt_deregister_region(ch, k.rw), 0);
	assert_int_equal(ivt_deregister_region(ch, k.rw), -ENOENT);
	assert_int_equal(ivt_send(ch, "dereg", 4), 4);
	assert_int_equal(ivt_recv_all(ch, msg, 4), 4);
	assert_memory_equal(msg, "bye!", 4);

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
