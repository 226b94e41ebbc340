/* SPDX-License-Identifier: MIT */
/*
 * One-sided operations of the verbs plugin that struct ivt_plugin_ops
 * (ABI 1) has no slots for yet. The plugin exports
 *
 *     const struct ivt_verbs_ext *ivt_verbs_ext_entry(void);
 *
 * so tests and benchmarks can use them today; the fields are the proposed
 * appended ops (rdma_write, rdma_read, poll_completions) with the same
 * signatures, ready to be wired into the ops table.
 */
#ifndef IVT_VERBS_EXT_H
#define IVT_VERBS_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "ivt/plugin.h"

#define IVT_VERBS_EXT_SYMBOL "ivt_verbs_ext_entry"

/* arm() event bit for "completions are ready" (proposed IVT_EV_COMPLETION). */
#define IVT_VERBS_EV_COMPLETION (1u << 2)

/* Same layout as struct ivt_completion in ivt/ivt.h. */
struct ivt_verbs_completion {
	uint64_t wr_id;
	int32_t status;  /* 0, -EACCES, -ERANGE, -ECONNRESET */
	uint32_t opcode; /* IVT_OP_RDMA_WRITE / IVT_OP_RDMA_READ */
	uint64_t len;
};

struct ivt_verbs_ext {
	uint32_t size;       /* sizeof(struct ivt_verbs_ext) */
	size_t max_rdma_len; /* largest single rdma_write/rdma_read */
	/* Write buf[0..len) into the peer's region key at offset; buf may be
	 * reused on return. 0, -EAGAIN (too many in flight), -EACCES/-ERANGE
	 * (refused at the origin), -EMSGSIZE, -ECONNRESET. */
	int (*rdma_write)(struct ivt_ep *ep, const void *buf, size_t len, uint64_t key,
			  uint64_t offset, uint64_t wr_id);
	/* Read len bytes into buf, which must stay valid until the completion. */
	int (*rdma_read)(struct ivt_ep *ep, void *buf, size_t len, uint64_t key, uint64_t offset,
			 uint64_t wr_id);
	/* Reap up to max completions; how many, or a negative errno. */
	int (*poll_completions)(struct ivt_ep *ep, struct ivt_verbs_completion *out, int max);
};

typedef const struct ivt_verbs_ext *(*ivt_verbs_ext_fn)(void);

#endif
