/* SPDX-License-Identifier: MIT */
#include "rdma_native.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rdma_track.h"
#include "regions.h"

/* Plugin completions reaped per poll_completions call. */
#define REAP_BATCH 16

struct ivt_native {
	const struct ivt_plugin_ops *ops;
	struct ivt_ep *ep;
	uint64_t piece; /* bytes per plugin op at most */
	pthread_mutex_t lock;
	/* Ops in posting order; a piece's wr_id at the plugin is its op's tag.
	 * Only code under `lock` changes the list, so it may walk it. */
	struct ivt_rdma_track track;
};

int ivt_native_usable(const struct ivt_plugin_ops *ops)
{
	/* The loader checked that the capability comes with every op. */
	return ops && (ops->caps & IVT_CAP_RDMA) && IVT_PLUGIN_OPS_HAS(ops, max_rdma_len);
}

struct ivt_native *ivt_native_new(const struct ivt_plugin_ops *ops, struct ivt_ep *ep)
{
	struct ivt_native *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->ops = ops;
	n->ep = ep;
	n->piece = ops->max_rdma_len ? ops->max_rdma_len : UINT64_MAX;
	pthread_mutex_init(&n->lock, NULL);
	ivt_track_init(&n->track);
	return n;
}

void ivt_native_free(struct ivt_native *n)
{
	if (!n)
		return;
	ivt_track_fini(&n->track);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

int ivt_native_register(struct ivt_native *n, void *addr, size_t len, unsigned access,
			uint64_t *key_out)
{
	int rc = ivt_regions_check_args(addr, len, access, key_out);
	if (rc)
		return rc;
	pthread_mutex_lock(&n->lock);
	rc = n->ops->register_region(n->ep, addr, len, access, key_out);
	pthread_mutex_unlock(&n->lock);
	return rc;
}

int ivt_native_deregister(struct ivt_native *n, uint64_t key)
{
	pthread_mutex_lock(&n->lock);
	int rc = n->ops->deregister_region(n->ep, key);
	pthread_mutex_unlock(&n->lock);
	return rc;
}

/* ---- one op's pieces ------------------------------------------------------ */

static int unposted(const struct ivt_rdma_op *op)
{
	return !op->native.status && (!op->native.tail_sent || op->native.front < op->native.front_len);
}

static int finished(const struct ivt_rdma_op *op)
{
	return !op->native.inflight && (op->native.status || !unposted(op));
}

static void finish_if_done(struct ivt_native *n, struct ivt_rdma_op *op)
{
	if (finished(op))
		ivt_track_complete(&n->track, op, op->native.status); /* frees op */
}

/* Post nothing more of op; it completes with err. May free op. */
static void stop(struct ivt_native *n, struct ivt_rdma_op *op, int err)
{
	if (!op->native.status)
		op->native.status = err == -EPIPE ? -ECONNRESET : err;
	finish_if_done(n, op);
}

/* Hand op bytes [at, at + len) to the plugin. */
static int post_one(struct ivt_native *n, struct ivt_rdma_op *op, uint64_t at, uint64_t len)
{
	uint8_t *p = op->buf + at;
	if (op->native.owned && at >= op->native.owned_at && at < op->native.front_len)
		p = op->native.owned + (at - op->native.owned_at);
	/* offset + at cannot wrap: ivt_native_post checked offset + len */
	uint64_t off = op->native.offset + at;
	int rc = op->opcode == IVT_OP_RDMA_WRITE
			 ? n->ops->rdma_write(n->ep, p, (size_t)len, op->native.key, off, op->tag)
			 : n->ops->rdma_read(n->ep, p, (size_t)len, op->native.key, off, op->tag);
	if (rc > 0)
		rc = -EIO; /* not in the ABI */
	if (rc == 0) {
		op->native.posted += len;
		op->native.inflight++;
	}
	return rc;
}

/* 0: all of op is with the plugin. -EAGAIN: the rest waits (plugin full,
 * or a split op's tail has not succeeded yet). Else the plugin's refusal. */
static int post_pieces(struct ivt_native *n, struct ivt_rdma_op *op)
{
	if (!op->native.tail_sent) {
		int rc = post_one(n, op, op->native.front_len, op->len - op->native.front_len);
		if (rc)
			return rc;
		op->native.tail_sent = 1;
		op->native.gated = 1;
	}
	if (op->native.gated)
		return -EAGAIN;
	while (op->native.front < op->native.front_len) {
		uint64_t len = op->native.front_len - op->native.front;
		if (len > n->piece)
			len = n->piece;
		int rc = post_one(n, op, op->native.front, len);
		if (rc)
			return rc;
		op->native.front += len;
	}
	return 0;
}

/* ---- progress --------------------------------------------------------------- */

static void piece_done(struct ivt_native *n, const struct ivt_ep_completion *c)
{
	struct ivt_rdma_op *op = ivt_track_find(&n->track, c->wr_id);
	if (!op || !op->native.inflight)
		return; /* not one of ours */
	op->native.inflight--;
	/* while gated, the tail was the only piece out: its answer opens the
	 * gate, or its error stops the op */
	op->native.gated = 0;
	if (c->status)
		stop(n, op, c->status < 0 ? c->status : -EIO);
	else
		finish_if_done(n, op);
}

static void reap(struct ivt_native *n)
{
	struct ivt_ep_completion c[REAP_BATCH];
	for (;;) {
		int got = n->ops->poll_completions(n->ep, c, REAP_BATCH);
		if (got < 0) {
			/* dead, and every op it had was reported: nothing more comes */
			ivt_track_fail_all(&n->track, got == -EPIPE ? -ECONNRESET : got);
			return;
		}
		if (got > REAP_BATCH)
			got = REAP_BATCH;
		for (int i = 0; i < got; i++)
			piece_done(n, &c[i]);
		if (got < REAP_BATCH)
			return;
	}
}

/* Post waiting pieces in order, stopping at the first op that must wait. */
static void pump(struct ivt_native *n)
{
	struct ivt_rdma_op *op = n->track.head, *next;
	for (; op; op = next) {
		next = op->next;
		if (!unposted(op))
			continue;
		int rc = post_pieces(n, op);
		if (rc == -EAGAIN)
			return;
		if (rc < 0)
			stop(n, op, rc);
	}
}

static int backlog(const struct ivt_native *n)
{
	for (const struct ivt_rdma_op *op = n->track.head; op; op = op->next)
		if (unposted(op))
			return 1;
	return 0;
}

static void progress(struct ivt_native *n)
{
	reap(n);
	pump(n);
}

/* ---- the API ------------------------------------------------------------------- */

/* The target's memory would refuse the op (bad key, access or range),
 * known already at the origin: like the emulation, where the target says
 * so, this is the op's completion status, not the call's result. */
static int is_refusal(int rc)
{
	return rc == -EACCES || rc == -ERANGE;
}

/* Non-blocking caller: copy the write's bytes that are not with the plugin yet. */
static int keep_rest(struct ivt_rdma_op *op)
{
	uint64_t from = op->native.front, len = op->native.front_len - from;
	op->native.owned = malloc((size_t)len);
	if (!op->native.owned)
		return -ENOMEM;
	memcpy(op->native.owned, op->buf + from, (size_t)len);
	op->native.owned_at = from;
	return 0;
}

int ivt_native_post(struct ivt_native *n, uint32_t opcode, void *buf, size_t len, uint64_t key,
		    uint64_t offset, uint64_t wr_id, int copy_rest, uint64_t *tag_out)
{
	if (!buf || !len || (opcode != IVT_OP_RDMA_WRITE && opcode != IVT_OP_RDMA_READ))
		return -EINVAL;
	pthread_mutex_lock(&n->lock);
	progress(n);
	uint64_t tag = 0;
	int rc = backlog(n) ? -EAGAIN : ivt_track_add(&n->track, opcode, wr_id, buf, len, &tag);
	if (rc)
		goto out;
	struct ivt_rdma_op *op = n->track.tail;
	int split = (uint64_t)len > n->piece;
	op->native.key = key;
	op->native.offset = offset;
	op->native.front_len = split ? (uint64_t)len - n->piece : (uint64_t)len;
	op->native.tail_sent = !split;
	*tag_out = tag;
	/* pieces add to offset: a wrapping op would land a piece at offset 0 */
	rc = (uint64_t)len > UINT64_MAX - offset ? -ERANGE : post_pieces(n, op);
	if (rc && !op->native.posted && !is_refusal(rc)) {
		ivt_track_drop_last(&n->track, tag); /* nothing went out: never posted */
		goto out;
	}
	if (rc == -EAGAIN && opcode == IVT_OP_RDMA_WRITE && copy_rest)
		rc = keep_rest(op);
	else if (rc == -EAGAIN)
		rc = 0; /* the rest goes out as room frees up */
	if (rc)
		stop(n, op, rc); /* refused, or part of it is out: its completion tells */
	rc = 0;
out:
	pthread_mutex_unlock(&n->lock);
	return rc;
}

int ivt_native_all_posted(struct ivt_native *n, uint64_t tag)
{
	pthread_mutex_lock(&n->lock);
	progress(n);
	const struct ivt_rdma_op *op = ivt_track_find(&n->track, tag);
	int done = !op || !unposted(op);
	pthread_mutex_unlock(&n->lock);
	return done;
}

void ivt_native_abandon(struct ivt_native *n, uint64_t tag, int err)
{
	pthread_mutex_lock(&n->lock);
	struct ivt_rdma_op *op = ivt_track_find(&n->track, tag);
	if (op && unposted(op))
		stop(n, op, err);
	pthread_mutex_unlock(&n->lock);
}

int ivt_native_poll(struct ivt_native *n, struct ivt_completion *out, int max)
{
	pthread_mutex_lock(&n->lock);
	progress(n);
	pthread_mutex_unlock(&n->lock);
	return ivt_track_poll(&n->track, out, max);
}
