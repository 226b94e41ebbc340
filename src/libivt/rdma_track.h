/* SPDX-License-Identifier: MIT */
/*
 * The origin's side of one-sided operations: ops posted and not yet
 * answered (in posting order, since the peer answers in order) and the
 * completions waiting for ivt_poll_completions.
 */
#ifndef IVT_LIBIVT_RDMA_TRACK_H
#define IVT_LIBIVT_RDMA_TRACK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ivt/ivt.h"

struct ivt_rdma_op {
	struct ivt_rdma_op *next;
	uint64_t tag;   /* our id on the wire */
	uint64_t wr_id; /* the caller's cookie */
	uint32_t opcode;
	uint8_t *buf;      /* READ: where the answer goes (native ops: WRITE's source too) */
	uint64_t len;      /* bytes of the op */
	uint64_t received; /* READ: bytes that arrived so far (rx only) */
	/* Its post failed after it was queued: the caller got the error and
	 * may have freed buf, so answers are read and dropped, and no
	 * completion is reported. Set under the track lock *and* rx_lock. */
	int orphaned;
	/* Native ops only (rdma_native.c): the plugin moves the op in pieces. */
	struct {
		uint64_t key, offset; /* the peer's region and where the op starts in it */
		uint64_t posted;      /* bytes handed to the plugin */
		uint64_t front, front_len; /* op bytes [0, front_len) go in order; front = next */
		uint32_t inflight;    /* pieces posted, not completed */
		int gated;            /* the tail piece went first; the rest waits for its success */
		int tail_sent;
		int32_t status;       /* first error: nothing more is posted */
		uint8_t *owned;       /* WRITE: private copy of op bytes [owned_at, front_len) */
		uint64_t owned_at;
	} native;
};

struct ivt_rdma_track {
	pthread_mutex_t lock;
	struct ivt_rdma_op *head, *tail;
	size_t n_ops;
	uint64_t next_tag;
	/* completion ring; capacity is reserved when an op is posted, so
	 * completing never needs memory */
	struct ivt_completion *cq;
	size_t cq_head, cq_n, cq_cap;
};

void ivt_track_init(struct ivt_rdma_track *t);
void ivt_track_fini(struct ivt_rdma_track *t);

/* Append an op (tag assigned here). 0 or -ENOMEM. */
int ivt_track_add(struct ivt_rdma_track *t, uint32_t opcode, uint64_t wr_id, void *buf,
		  uint64_t len, uint64_t *tag_out);
/* Remove the op again (posting failed before it reached the wire). Only
 * where no receive path can hold it: the native track. */
void ivt_track_drop_last(struct ivt_rdma_track *t, uint64_t tag);
/* Mark the op orphaned (see above); it stays until its answer or the
 * channel's end removes it. The caller holds the receive path's lock. */
void ivt_track_orphan(struct ivt_rdma_track *t, uint64_t tag);
/* The oldest unanswered op, or NULL. Only the receive path removes ops of
 * an emulated track (under its rx_lock), so the pointer stays valid for it
 * while it holds that lock. */
struct ivt_rdma_op *ivt_track_oldest(struct ivt_rdma_track *t);
/* An ACK (status 0) or NACK for tag: finish the oldest op if it has that
 * tag, in one hold of the lock. 0, or -ENOENT (not the oldest op's tag),
 * -EPROTO (a read acknowledged before all its data arrived). */
int ivt_track_answer(struct ivt_rdma_track *t, uint64_t tag, int32_t status);
/* The op with tag, or NULL. */
struct ivt_rdma_op *ivt_track_find(struct ivt_rdma_track *t, uint64_t tag);
/* Finish op (oldest or not) with status; op is freed. */
void ivt_track_complete(struct ivt_rdma_track *t, struct ivt_rdma_op *op, int32_t status);
/* Finish every op with status (the channel died). */
void ivt_track_fail_all(struct ivt_rdma_track *t, int32_t status);
/* Reap up to max completions. */
int ivt_track_poll(struct ivt_rdma_track *t, struct ivt_completion *out, int max);

#endif
