/* SPDX-License-Identifier: MIT */
#include "rdma_track.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void op_free(struct ivt_rdma_op *op)
{
	free(op->native.owned);
	free(op);
}

void ivt_track_init(struct ivt_rdma_track *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->next_tag = 1;
}

void ivt_track_fini(struct ivt_rdma_track *t)
{
	struct ivt_rdma_op *op = t->head;
	while (op) {
		struct ivt_rdma_op *next = op->next;
		op_free(op);
		op = next;
	}
	free(t->cq);
	pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof(*t));
}

/* Grow the ring to hold `need` completions, keeping their order. */
static int cq_reserve(struct ivt_rdma_track *t, size_t need)
{
	if (need <= t->cq_cap)
		return 0;
	size_t cap = t->cq_cap ? t->cq_cap : 16;
	while (cap < need)
		cap *= 2;
	struct ivt_completion *cq = malloc(cap * sizeof(*cq));
	if (!cq)
		return -ENOMEM;
	for (size_t i = 0; i < t->cq_n; i++)
		cq[i] = t->cq[(t->cq_head + i) % t->cq_cap];
	free(t->cq);
	t->cq = cq;
	t->cq_cap = cap;
	t->cq_head = 0;
	return 0;
}

int ivt_track_add(struct ivt_rdma_track *t, uint32_t opcode, uint64_t wr_id, void *buf,
		  uint64_t len, uint64_t *tag_out)
{
	struct ivt_rdma_op *op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	pthread_mutex_lock(&t->lock);
	int rc = cq_reserve(t, t->cq_n + t->n_ops + 1);
	if (rc == 0) {
		op->tag = t->next_tag++;
		op->wr_id = wr_id;
		op->opcode = opcode;
		op->buf = buf;
		op->len = len;
		if (t->tail)
			t->tail->next = op;
		else
			t->head = op;
		t->tail = op;
		t->n_ops++;
		*tag_out = op->tag;
	}
	pthread_mutex_unlock(&t->lock);
	if (rc)
		free(op);
	return rc;
}

/* Take op (prev is the one before it, NULL for the head) off the list. */
static void unlink_locked(struct ivt_rdma_track *t, struct ivt_rdma_op *prev,
			  struct ivt_rdma_op *op)
{
	if (prev)
		prev->next = op->next;
	else
		t->head = op->next;
	if (t->tail == op)
		t->tail = prev;
	t->n_ops--;
}

void ivt_track_drop_last(struct ivt_rdma_track *t, uint64_t tag)
{
	pthread_mutex_lock(&t->lock);
	struct ivt_rdma_op *prev = NULL, *op = t->head;
	while (op && op->tag != tag) {
		prev = op;
		op = op->next;
	}
	if (op) {
		unlink_locked(t, prev, op);
		op_free(op);
	}
	pthread_mutex_unlock(&t->lock);
}

void ivt_track_orphan(struct ivt_rdma_track *t, uint64_t tag)
{
	pthread_mutex_lock(&t->lock);
	for (struct ivt_rdma_op *op = t->head; op; op = op->next)
		if (op->tag == tag)
			op->orphaned = 1;
	pthread_mutex_unlock(&t->lock);
}

struct ivt_rdma_op *ivt_track_oldest(struct ivt_rdma_track *t)
{
	pthread_mutex_lock(&t->lock);
	struct ivt_rdma_op *op = t->head;
	pthread_mutex_unlock(&t->lock);
	return op;
}

struct ivt_rdma_op *ivt_track_find(struct ivt_rdma_track *t, uint64_t tag)
{
	pthread_mutex_lock(&t->lock);
	struct ivt_rdma_op *op = t->head;
	while (op && op->tag != tag)
		op = op->next;
	pthread_mutex_unlock(&t->lock);
	return op;
}

/* Unlink op (prev is the one before it, NULL for the head) and queue its
 * completion. */
static void complete_locked(struct ivt_rdma_track *t, struct ivt_rdma_op *prev,
			    struct ivt_rdma_op *op, int32_t status)
{
	unlink_locked(t, prev, op);
	if (op->orphaned) { /* its caller already has an error */
		op_free(op);
		return;
	}
	/* capacity was reserved in ivt_track_add */
	struct ivt_completion *c = &t->cq[(t->cq_head + t->cq_n) % t->cq_cap];
	c->wr_id = op->wr_id;
	c->status = status;
	c->opcode = op->opcode;
	c->len = status == 0 ? op->len : (op->opcode == IVT_OP_RDMA_READ ? op->received : 0);
	t->cq_n++;
	op_free(op);
}

/* Complete up to n ops, oldest first, all under one hold of the lock. */
static void complete_oldest_n(struct ivt_rdma_track *t, size_t n, int32_t status)
{
	pthread_mutex_lock(&t->lock);
	for (; n > 0 && t->head; n--)
		complete_locked(t, NULL, t->head, status);
	pthread_mutex_unlock(&t->lock);
}

int ivt_track_answer(struct ivt_rdma_track *t, uint64_t tag, int32_t status)
{
	int rc = 0;
	pthread_mutex_lock(&t->lock);
	struct ivt_rdma_op *op = t->head;
	if (!op || op->tag != tag)
		rc = -ENOENT;
	else if (status == 0 && op->opcode == IVT_OP_RDMA_READ && op->received != op->len)
		rc = -EPROTO;
	else
		complete_locked(t, NULL, op, status);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void ivt_track_complete(struct ivt_rdma_track *t, struct ivt_rdma_op *op, int32_t status)
{
	pthread_mutex_lock(&t->lock);
	struct ivt_rdma_op *prev = NULL, *cur = t->head;
	while (cur && cur != op) {
		prev = cur;
		cur = cur->next;
	}
	if (cur)
		complete_locked(t, prev, cur, status);
	pthread_mutex_unlock(&t->lock);
}

void ivt_track_fail_all(struct ivt_rdma_track *t, int32_t status)
{
	complete_oldest_n(t, SIZE_MAX, status);
}

int ivt_track_poll(struct ivt_rdma_track *t, struct ivt_completion *out, int max)
{
	int n = 0;
	pthread_mutex_lock(&t->lock);
	while (n < max && t->cq_n > 0) {
		out[n++] = t->cq[t->cq_head];
		t->cq_head = (t->cq_head + 1) % t->cq_cap;
		t->cq_n--;
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}
