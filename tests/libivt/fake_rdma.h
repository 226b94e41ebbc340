/* SPDX-License-Identifier: MIT */
/*
 * A fake RDMA-capable plugin for libivt's native one-sided path: the
 * fake_pipe endpoint plus rdma_write/rdma_read/poll_completions and
 * register_region, in loopback (an op targets the regions registered on
 * the same endpoint). Ops stay "on the wire" until the test delivers them,
 * so a test decides when completions come; every post is logged, and
 * limits and failures can be injected.
 */
#ifndef IVT_TEST_FAKE_RDMA_H
#define IVT_TEST_FAKE_RDMA_H

#include <stddef.h>
#include <stdint.h>

#include "fake_pipe.h"

/* max_rdma_len of the fake: larger ops must be split by the host. */
#define FAKE_RDMA_MAX_LEN 4096u
/* Keys the fake hands out carry this in their top bits. */
#define FAKE_RDMA_KEY_MARK 0xfa4e000000000000ull
#define FAKE_RDMA_SLOTS 64

struct fake_rdma_post {
	int is_read;
	uint8_t *buf;
	size_t len;
	uint64_t key, offset, wr_id;
};

struct fake_rdma {
	/* knobs */
	int max_inflight;  /* posts beyond this many on the wire: -EAGAIN (0: FAKE_RDMA_SLOTS) */
	int origin_checks; /* refuse bad key/range at post (like verbs); else the target does (slurpoe) */
	int fail_post_at;  /* the Nth post (1-based) returns fail_post_err; 0: never */
	int fail_post_err;
	int dead;          /* fake_rdma_kill: in-flight ops failed, then poll says so */

	/* the target's regions */
	struct {
		uint8_t *addr;
		size_t len;
		unsigned access;
		uint64_t key;
	} regions[8];
	int n_regions;

	struct fake_rdma_post wire[FAKE_RDMA_SLOTS]; /* in flight, oldest first */
	int n_wire;
	struct ivt_ep_completion done[FAKE_RDMA_SLOTS];
	int n_done;

	struct fake_rdma_post log[256]; /* every accepted post */
	int n_posts, n_calls;           /* accepted / attempted */
};

/* The fake_pipe table plus the native ops (IVT_CAP_RDMA, full ops_size). */
const struct ivt_plugin_ops *fake_rdma_ops(void);

/* Carry out the n oldest ops on the wire (-1: all); returns how many. */
int fake_rdma_deliver(struct fake_rdma *r, int n);
/* The connection dies: ops on the wire complete with -ECONNRESET. */
void fake_rdma_kill(struct fake_rdma *r);

#endif
