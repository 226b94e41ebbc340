/* SPDX-License-Identifier: MIT */
/*
 * One-sided operations: posting RDMA writes/reads, serving the peer's
 * (bounds-checked against our regions), and the completion queue.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

void slp_cq_push(struct slp_conn *c, uint64_t wr_id, int32_t status, uint32_t op, uint64_t len)
{
	/* Cannot overflow: every op holds its slot in n_ops until reaped. */
	struct slp_completion *x = &c->cq[(c->cq_head + c->cq_len) % SLP_MAX_OPS];
	x->wr_id = wr_id;
	x->status = status;
	x->opcode = op;
	x->len = status ? 0 : len;
	c->cq_len++;
	slp_mark(c, SLP_EV_COMPLETION);
}

int slp_poll_cq(struct slp_conn *c, struct slp_completion *out, int max)
{
	int n = 0;
	while (n < max && c->cq_len) {
		out[n++] = c->cq[c->cq_head];
		c->cq_head = (c->cq_head + 1) % SLP_MAX_OPS;
		c->cq_len--;
		c->n_ops--;
	}
	return n;
}

static int post_check(struct slp_conn *c, size_t len)
{
	if (c->state == SLP_ST_FAILED)
		return c->error;
	if (c->state != SLP_ST_OPEN)
		return -ENOTCONN;
	if (c->close_queued)
		return -EPIPE;
	if (len > SLP_MAX_MSG)
		return -EMSGSIZE;
	if (c->n_ops >= SLP_MAX_OPS)
		return -EAGAIN;
	return 0;
}

static struct slp_work *new_op(struct slp_conn *c, enum slp_opkind kind, size_t len, uint64_t key,
			     uint64_t offset, uint64_t wr_id)
{
	struct slp_work *op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->kind = kind;
	op->len = (uint32_t)len;
	op->key = key;
	op->offset = offset;
	op->wr_id = wr_id;
	op->msg_id = c->next_msg_id++;
	op->stream_pos = c->stream_posted;
	return op;
}

static void post(struct slp_conn *c, struct slp_work *op)
{
	*c->ops_tail = op;
	c->ops_tail = &op->next;
	c->n_ops++;
	slp_tx_pump(c);
}

int slp_rdma_write(struct slp_conn *c, const void *buf, size_t len, uint64_t key,
		   uint64_t offset, uint64_t wr_id)
{
	int err = post_check(c, len);
	if (err)
		return err;
	if (!buf && len)
		return -EINVAL;
	struct slp_work *op = new_op(c, OP_WRITE, len, key, offset, wr_id);
	if (!op)
		return -ENOMEM;
	op->wbuf = malloc(len ? len : 1);
	if (!op->wbuf) {
		free(op);
		return -ENOMEM;
	}
	if (len)
		memcpy(op->wbuf, buf, len);
	post(c, op);
	return 0;
}

int slp_rdma_read(struct slp_conn *c, void *buf, size_t len, uint64_t key, uint64_t offset,
		  uint64_t wr_id)
{
	int err = post_check(c, len);
	if (err)
		return err;
	if (!buf || !len)
		return -EINVAL;
	struct slp_work *op = new_op(c, OP_READ, len, key, offset, wr_id);
	if (!op)
		return -ENOMEM;
	op->rbuf = buf;
	post(c, op);
	return 0;
}

/* ---- target side ---- */

static void queue_nack(struct slp_conn *c, uint32_t msg_id, uint16_t op, int err)
{
	struct slp_ctrl *x = calloc(1, sizeof(*x));
	if (x) {
		x->type = SLP_NACK;
		x->msg_id = msg_id;
		x->nack_op = op;
		x->nack_err = (uint16_t)-err;
	}
	if (!x || slp_tx_queue_ctrl(c, x)) {
		free(x);
		slp_fail(c, -ENOBUFS); /* the peer floods us with refused work */
		slp_send_reset(c->e, c->peer_mac, c->local_ep, c->peer_ep, c->rcv_nxt, 0);
	}
}

static void serve_write(struct slp_conn *c, const struct slp_pkt *p)
{
	uint8_t *dst;
	int err = slp_region_check(c, p->u.write.key, p->u.write.base, p->u.write.total,
				   SLP_ACCESS_WRITE, &dst);
	if (err) {
		/* One NACK per refused message, not per fragment. */
		if (c->nacked_any_write && c->last_nack_write == p->u.write.msg_id)
			return;
		c->nacked_any_write = 1;
		c->last_nack_write = p->u.write.msg_id;
		queue_nack(c, p->u.write.msg_id, SLP_RDMA_WRITE, err);
		return;
	}
	/* frag_off + payload_len <= total was checked by the parser. */
	memcpy(dst + p->u.write.frag_off, p->payload, p->payload_len);
}

static void serve_read(struct slp_conn *c, const struct slp_pkt *p)
{
	uint8_t *src;
	uint32_t len = p->u.read_req.len;
	int err = len == 0 || len > SLP_MAX_MSG ? -EINVAL
		  : slp_region_check(c, p->u.read_req.key, p->u.read_req.offset, len,
				     SLP_ACCESS_READ, &src);
	if (err) {
		queue_nack(c, p->u.read_req.msg_id, SLP_RDMA_READ_REQ, err);
		return;
	}
	struct slp_ctrl *x = calloc(1, sizeof(*x));
	if (!x) {
		queue_nack(c, p->u.read_req.msg_id, SLP_RDMA_READ_REQ, -ENOMEM);
		return;
	}
	x->type = SLP_RDMA_READ_RESP;
	x->msg_id = p->u.read_req.msg_id;
	x->key = p->u.read_req.key;
	x->offset = p->u.read_req.offset;
	x->len = len;
	if (slp_tx_queue_ctrl(c, x)) {
		free(x);
		queue_nack(c, p->u.read_req.msg_id, SLP_RDMA_READ_REQ, -ENOBUFS);
	}
}

/* ---- origin side ---- */

static struct slp_work *take_read(struct slp_conn *c, uint32_t msg_id, int unlink)
{
	for (struct slp_work **pp = &c->reads; *pp; pp = &(*pp)->next) {
		if ((*pp)->msg_id == msg_id) {
			struct slp_work *op = *pp;
			if (unlink)
				*pp = op->next;
			return op;
		}
	}
	return NULL;
}

static void on_read_resp(struct slp_conn *c, const struct slp_pkt *p)
{
	struct slp_work *op = take_read(c, p->u.read_resp.msg_id, 0);
	if (!op || p->u.read_resp.frag_off != op->got ||
	    p->payload_len > op->len - op->got) {
		c->e->st.rx_proto_error++;
		return;
	}
	memcpy(op->rbuf + op->got, p->payload, p->payload_len);
	op->got += p->payload_len;
	if (op->got == op->len) {
		take_read(c, op->msg_id, 1);
		slp_cq_push(c, op->wr_id, 0, SLP_OP_READ, op->len);
		free(op);
	}
}

static int32_t nack_status(uint16_t err)
{
	switch (err) {
	case EACCES: case ERANGE: case EINVAL: case ENOBUFS: case ENOMEM: return -(int32_t)err;
	default: return -EPROTO;
	}
}

static void on_nack(struct slp_conn *c, const struct slp_pkt *p)
{
	struct slp_engine *e = c->e;
	e->st.nacks_received++;
	if (p->u.nack.op == SLP_RDMA_READ_REQ) {
		struct slp_work *op = take_read(c, p->u.nack.msg_id, 1);
		if (!op) /* the rest of an aborted response */
			return;
		slp_cq_push(c, op->wr_id, nack_status(p->u.nack.err), SLP_OP_READ, 0);
		free(op);
		return;
	}
	/* A write NACK arrives before its completion (fence), while the op is
	 * still queued or waiting. */
	for (struct slp_work *op = c->wait; op; op = op->next)
		if (op->msg_id == p->u.nack.msg_id) {
			op->status = nack_status(p->u.nack.err);
			return;
		}
	for (struct slp_work *op = c->ops; op; op = op->next)
		if (op->kind == OP_WRITE && op->msg_id == p->u.nack.msg_id) {
			op->status = nack_status(p->u.nack.err);
			return;
		}
	e->st.rx_proto_error++;
}

void slp_ops_process(struct slp_conn *c, const struct slp_pkt *p)
{
	switch (p->type) {
	case SLP_RDMA_WRITE: serve_write(c, p); break;
	case SLP_RDMA_READ_REQ: serve_read(c, p); break;
	case SLP_RDMA_READ_RESP: on_read_resp(c, p); break;
	case SLP_NACK: on_nack(c, p); break;
	default: break;
	}
}

void slp_ops_check_fences(struct slp_conn *c)
{
	while (c->wait && c->wait->fenced && slp_seq_le(c->wait->fence, c->rcv_nxt)) {
		struct slp_work *op = c->wait;
		c->wait = op->next;
		if (!c->wait)
			c->wait_tail = &c->wait;
		slp_cq_push(c, op->wr_id, op->status, SLP_OP_WRITE, op->len);
		free(op);
	}
}

static void fail_list(struct slp_conn *c, struct slp_work *op, int err, int complete)
{
	while (op) {
		struct slp_work *next = op->next;
		if (complete && op->kind != OP_CLOSE)
			slp_cq_push(c, op->wr_id, err, op->kind == OP_WRITE ? SLP_OP_WRITE : SLP_OP_READ,
				    0);
		free(op->wbuf);
		free(op);
		op = next;
	}
}

static void drop_all(struct slp_conn *c, int err, int complete)
{
	fail_list(c, c->wait, err, complete);
	fail_list(c, c->reads, err, complete);
	fail_list(c, c->ops, err, complete);
	c->wait = c->reads = c->ops = NULL;
	c->wait_tail = &c->wait;
	c->ops_tail = &c->ops;
	while (c->ctrl) {
		struct slp_ctrl *x = c->ctrl;
		c->ctrl = x->next;
		free(x);
	}
	c->ctrl_tail = &c->ctrl;
	c->n_ctrl = c->ctrl_frames = 0;
}

void slp_ops_fail_all(struct slp_conn *c, int err) { drop_all(c, err, 1); }

/* Freeing the connection: nobody will reap completions any more. */
void slp_ops_free_all(struct slp_conn *c) { drop_all(c, 0, 0); }
