/* SPDX-License-Identifier: MIT */
/*
 * A connector's ring made by hand, as the shm plugin makes it (memfd,
 * ring, wake-up socket pair), and its SETUP: for tests that put rings,
 * good or hostile, in front of a listener without libivt.
 */
#ifndef IVT_TEST_E2E_RAW_RING_H
#define IVT_TEST_E2E_RAW_RING_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctrl_proto.h"
#include "common/ring.h"

#define RAW_RING 65536u

/* The shm plugin's setup blob (plugins/shm/shm_ep.h). */
struct shm_blob {
	uint32_t magic, version;
	uint64_t ring_size, shm_size;
};

struct raw_ring {
	int memfd, wake[2];
	void *map;
	size_t len;
	struct ivt_ring ring;
};

/* memfd sealed against shrinking, of RAW_RING's layout size, with the
 * ring in it, and a wake-up pair (wake[1] goes to the peer). */
void raw_ring_make(struct raw_ring *r);
void raw_ring_free(struct raw_ring *r);
/* A memfd of size bytes, sealed against shrinking or not. */
int raw_other_memfd(size_t size, int seal);
/* The SETUP of a RAW_RING ring as shm_listen sends it (two fds: memfd, socket). */
struct ivt_ctrl_setup raw_shm_setup(void);

#endif
