/* SPDX-License-Identifier: MIT */
#include "rdma_scenario.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

struct keys {
	uint64_t rw, ro;
};

#define REGION_BYTES RDMA_SCENARIO_REGION_BYTES

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "origin: check failed at line %d: %s\n", __LINE__, #cond); \
			rc = 1;                                                               \
			goto out;                                                             \
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
		/* bounded: a plugin need not wake its fd for every completion */
		struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
		poll(&p, 1, 100);
	}
}

int rdma_scenario_origin(ivt_channel *ch, uint64_t seed)
{
	int rc = 0;
	uint8_t *buf = malloc(REGION_BYTES), *back = calloc(1, REGION_BYTES);
	struct keys k;
	struct ivt_completion c;
	CHECK(buf && back);
	CHECK(ivt_recv_all(ch, &k, sizeof(k)) == sizeof(k));
	e2e_fill(buf, seed, 0, REGION_BYTES);

	/* write the whole region, then read it back */
	CHECK(ivt_rdma_write(ch, buf, REGION_BYTES, k.rw, 0, 1) == 0);
	memset(buf, 0, REGION_BYTES); /* the buffer is ours again after the call */
	CHECK(reap(ch, 1, &c) == 0);
	CHECK(c.status == 0 && c.opcode == IVT_OP_RDMA_WRITE && c.len == REGION_BYTES);
	CHECK(ivt_rdma_read(ch, back, REGION_BYTES, k.rw, 0, 2) == 0);
	CHECK(reap(ch, 2, &c) == 0);
	CHECK(c.status == 0 && c.opcode == IVT_OP_RDMA_READ && c.len == REGION_BYTES);
	CHECK(e2e_mismatch(back, seed, 0, REGION_BYTES) == -1);

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
out:
	free(buf);
	free(back);
	return rc;
}

void rdma_scenario_target(ivt_channel *ch, uint8_t *region, uint64_t seed)
{
	memset(region, 0, REGION_BYTES);
	uint8_t ro[256];
	memset(ro, 0x11, sizeof(ro));
	struct keys k;
	assert_int_equal(ivt_register_region(ch, region, REGION_BYTES,
					     IVT_ACCESS_REMOTE_WRITE | IVT_ACCESS_REMOTE_READ, &k.rw), 0);
	assert_int_equal(ivt_register_region(ch, ro, sizeof(ro), IVT_ACCESS_REMOTE_READ, &k.ro), 0);
	assert_true(k.rw != k.ro);
	assert_int_equal(ivt_send(ch, &k, sizeof(k)), sizeof(k));

	/* waiting in ivt_recv serves the peer's one-sided ops (emulated) or
	 * runs the plugin's engine (native) */
	char msg[4];
	assert_int_equal(ivt_recv_all(ch, msg, 4), 4);
	assert_memory_equal(msg, "done", 4);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(region[1000 + i], 0xEE);
	assert_int_equal(e2e_mismatch(region, seed, 0, 1000), -1);
	assert_int_equal(e2e_mismatch(region + 1010, seed, 1010, REGION_BYTES - 1010), -1);
	for (size_t i = 0; i < sizeof(ro); i++)
		assert_int_equal(ro[i], 0x11);

	assert_int_equal(ivt_deregister_region(ch, k.rw), 0);
	assert_int_equal(ivt_deregister_region(ch, k.rw), -ENOENT);
	assert_int_equal(ivt_send(ch, "dreg", 4), 4);
	assert_int_equal(ivt_recv_all(ch, msg, 4), 4);
	assert_memory_equal(msg, "bye!", 4);
}
