/* SPDX-License-Identifier: MIT */
/*
 * One-sided operations: ivt_register_region -> ibv_reg_mr through the
 * registration cache, region descriptors sent to the peer in-band
 * (REGION_ADD/DEL, ordered with the byte stream), RDMA WRITE/READ checked
 * at the origin against the peer's descriptors, their completions, and the
 * keepalive write that notices a vanished peer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ivt/ivt.h"
#include "verbs_internal.h"

static int be_reg(void *ctx, void *addr, size_t len, unsigned access, void **handle,
		  uint32_t *rkey, uint32_t *lkey)
{
	struct ivt_ep *ep = ctx;
	int flags = IBV_ACCESS_LOCAL_WRITE; /* required with REMOTE_WRITE; harmless else */
	if (access & IVT_ACCESS_REMOTE_WRITE)
		flags |= IBV_ACCESS_REMOTE_WRITE;
	if (access & IVT_ACCESS_REMOTE_READ)
		flags |= IBV_ACCESS_REMOTE_READ;
	struct ibv_mr *mr = ibv_reg_mr(ep->pd, addr, len, flags);
	if (!mr)
		return errno ? -errno : -ENOMEM;
	*handle = mr;
	*rkey = mr->rkey;
	*lkey = mr->lkey;
	return 0;
}

static void be_dereg(void *ctx, void *handle) { ibv_dereg_mr(handle); }

void verbs_regs_init(struct ivt_ep *ep)
{
	struct vrc_backend be = {.ctx = ep, .reg = be_reg, .dereg = be_dereg};
	vrc_init(&ep->regs, &be);
	vrt_init(&ep->peer_regs);
}

static int enqueue(struct ivt_ep *ep, uint8_t type, const void *payload, uint8_t len)
{
	if (ep->pend_count == VERBS_PEND_MAX)
		return -EAGAIN;
	struct verbs_pending *p = &ep->pend[(ep->pend_head + ep->pend_count++) % VERBS_PEND_MAX];
	p->type = type;
	p->len = len;
	memcpy(p->payload, payload, len);
	return 0;
}

/* Send queued descriptors in order; returns how many are still queued. */
int verbs_flush_pending(struct ivt_ep *ep)
{
	while (ep->pend_count && ep->connected && ep->peer_ready && !ep->broken) {
		struct verbs_pending *p = &ep->pend[ep->pend_head];
		if (verbs_post_msg(ep, p->type, p->payload, p->len))
			break;
		ep->pend_head = (ep->pend_head + 1) % VERBS_PEND_MAX;
		ep->pend_count--;
	}
	return (int)ep->pend_count;
}

int verbs_on_region_msg(struct ivt_ep *ep, const struct vw_hdr *h, const uint8_t *payload,
			uint32_t len)
{
	if (h->type == VW_MSG_REGION_ADD) {
		struct vw_region r;
		if (vw_region_decode(payload, len, &r) || vrt_add(&ep->peer_regs, &r))
			return -EPROTO;
		return 0;
	}
	if (h->type == VW_MSG_REGION_DEL && len == 4) {
		uint32_t id = payload[0] | payload[1] << 8 | payload[2] << 16 | (uint32_t)payload[3] << 24;
		return vrt_del(&ep->peer_regs, id) ? -EPROTO : 0;
	}
	return -EPROTO;
}

int verbs_register_region(struct ivt_ep *ep, void *addr, size_t len, unsigned access,
			  uint64_t *key)
{
	pthread_mutex_lock(&ep->lock);
	int is_new = 0, rc;
	if (ep->broken) {
		rc = ep->broken;
		goto out;
	}
	rc = vrc_register(&ep->regs, addr, len, access, key, &is_new);
	if (rc || !is_new)
		goto out;
	const struct vrc_entry *e = vrc_find_key(&ep->regs, *key);
	struct vw_region r = {.id = e->id, .rkey = e->rkey, .addr = e->addr, .len = e->len,
			      .access = e->access};
	uint8_t desc[VW_REGION_LEN];
	vw_region_encode(&r, desc);
	rc = enqueue(ep, VW_MSG_REGION_ADD, desc, sizeof(desc));
	if (rc) {
		vrc_deregister(&ep->regs, *key, NULL);
		goto out;
	}
	verbs_flush_pending(ep);
out:
	pthread_mutex_unlock(&ep->lock);
	return rc;
}

int verbs_deregister_region(struct ivt_ep *ep, uint64_t key)
{
	pthread_mutex_lock(&ep->lock);
	int rc;
	const struct vrc_entry *e = vrc_find_key(&ep->regs, key);
	if (!e) {
		rc = -ENOENT;
	} else if (e->refs == 1 && ep->pend_count == VERBS_PEND_MAX) {
		rc = -EAGAIN; /* the peer must hear of it; no room to queue that */
	} else {
		struct vrc_entry gone;
		rc = vrc_deregister(&ep->regs, key, &gone);
		if (rc == 1) {
			uint8_t id[4] = {(uint8_t)gone.id, (uint8_t)(gone.id >> 8),
					 (uint8_t)(gone.id >> 16), (uint8_t)(gone.id >> 24)};
			enqueue(ep, VW_MSG_REGION_DEL, id, sizeof(id));
			verbs_flush_pending(ep);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&ep->lock);
	return rc;
}

static int ensure_stage(struct ivt_ep *ep)
{
	if (ep->stage_mr)
		return 0;
	size_t bytes = (size_t)VERBS_RDMA_OPS * VERBS_RDMA_STAGE;
	ep->stage = aligned_alloc(4096, bytes);
	if (!ep->stage)
		return -ENOMEM;
	ep->stage_mr = ibv_reg_mr(ep->pd, ep->stage, bytes, IBV_ACCESS_LOCAL_WRITE);
	if (!ep->stage_mr) {
		int rc = errno ? -errno : -ENOMEM;
		free(ep->stage);
		ep->stage = NULL;
		return rc;
	}
	return 0;
}

static int post_rdma(struct ivt_ep *ep, int is_read, void *buf, size_t len, uint64_t key,
		     uint64_t offset, uint64_t wr_id)
{
	pthread_mutex_lock(&ep->lock);
	verbs_progress(ep);
	int rc = 0;
	uint64_t raddr = 0;
	uint32_t rkey = 0;
	if (ep->broken)
		rc = ep->broken;
	else if (ep->peer_closed)
		rc = -EPIPE;
	else if (!buf || len == 0)
		rc = -EINVAL;
	else if (len > VERBS_RDMA_STAGE)
		rc = -EMSGSIZE;
	/* Checked here, not by the HCA: a bad rkey on the wire would kill
	 * the whole RC connection, not just this op. */
	else if ((rc = vrt_check(&ep->peer_regs, key, offset, len,
				 is_read ? IVT_ACCESS_REMOTE_READ : IVT_ACCESS_REMOTE_WRITE, &raddr,
				 &rkey)) != 0)
		;
	else if (!ep->connected || !ep->peer_ready || ep->ops_inflight == VERBS_RDMA_OPS ||
		 ep->ops_inflight + ep->done_count >= VERBS_DONE_RING)
		rc = -EAGAIN;
	else
		rc = ensure_stage(ep);
	if (rc)
		goto out;
	int i = 0;
	while (ep->ops[i].used)
		i++;
	uint8_t *stage = ep->stage + (size_t)i * VERBS_RDMA_STAGE;
	if (!is_read)
		memcpy(stage, buf, len); /* the caller may reuse buf at once */
	struct ibv_sge sge = {.addr = (uintptr_t)stage, .length = (uint32_t)len,
			      .lkey = ep->stage_mr->lkey};
	struct ibv_send_wr wr = {
		.wr_id = WR_ID(WR_RDMA, i), .sg_list = &sge, .num_sge = 1,
		.opcode = is_read ? IBV_WR_RDMA_READ : IBV_WR_RDMA_WRITE,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = {.remote_addr = raddr, .rkey = rkey},
	};
	struct ibv_send_wr *bad;
	if (ibv_post_send(ep->qp, &wr, &bad)) {
		verbs_set_broken(ep, -ECONNRESET, "ibv_post_send(RDMA) failed");
		rc = -ECONNRESET;
		goto out;
	}
	ep->ops[i] = (struct verbs_op){.used = 1, .wr_id = wr_id, .len = len, .user_buf = buf,
				       .opcode = is_read ? IVT_OP_RDMA_READ : IVT_OP_RDMA_WRITE};
	ep->ops_inflight++;
out:
	pthread_mutex_unlock(&ep->lock);
	return rc;
}

int verbs_rdma_write(struct ivt_ep *ep, const void *buf, size_t len, uint64_t key,
		     uint64_t offset, uint64_t wr_id)
{
	return post_rdma(ep, 0, (void *)buf, len, key, offset, wr_id);
}

int verbs_rdma_read(struct ivt_ep *ep, void *buf, size_t len, uint64_t key, uint64_t offset,
		    uint64_t wr_id)
{
	return post_rdma(ep, 1, buf, len, key, offset, wr_id);
}

void verbs_rdma_complete(struct ivt_ep *ep, const struct ibv_wc *wc)
{
	uint32_t i = WR_IDX(wc->wr_id);
	if (i >= VERBS_RDMA_OPS || !ep->ops[i].used)
		return;
	struct verbs_op *op = &ep->ops[i];
	int status = 0;
	if (wc->status == IBV_WC_REM_ACCESS_ERR)
		status = -EACCES; /* the peer deregistered under us */
	else if (wc->status != IBV_WC_SUCCESS)
		status = -ECONNRESET;
	else if (op->opcode == IVT_OP_RDMA_READ)
		memcpy(op->user_buf, ep->stage + (size_t)i * VERBS_RDMA_STAGE, op->len);
	struct ivt_ep_completion *c = &ep->done[(ep->done_head + ep->done_count++) % VERBS_DONE_RING];
	*c = (struct ivt_ep_completion){.wr_id = op->wr_id, .status = status,
					   .opcode = op->opcode, .len = status ? 0 : op->len};
	op->used = 0;
	ep->ops_inflight--;
}

int verbs_poll_completions(struct ivt_ep *ep, struct ivt_ep_completion *out, int max)
{
	pthread_mutex_lock(&ep->lock);
	verbs_progress(ep);
	int n = 0;
	while (n < max && ep->done_count) {
		out[n++] = ep->done[ep->done_head];
		ep->done_head = (ep->done_head + 1) % VERBS_DONE_RING;
		ep->done_count--;
	}
	/* Nothing left to report on a dead connection: say so, not "none yet". */
	if (n == 0 && ep->broken && !ep->ops_inflight)
		n = ep->broken;
	pthread_mutex_unlock(&ep->lock);
	return n;
}

void verbs_post_keepalive(struct ivt_ep *ep)
{
	if (!ep->connected || !ep->peer_ready || ep->broken || ep->ka_inflight ||
	    ep->cr.close_sent || ep->peer_closed)
		return;
	struct ibv_sge sge = {.addr = (uintptr_t)(ep->ka_buf + 1), .length = 8,
			      .lkey = ep->ka_mr->lkey};
	struct ibv_send_wr wr = {
		.wr_id = WR_ID(WR_KEEPALIVE, 0), .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = {.remote_addr = ep->peer.ka_addr, .rkey = ep->peer.ka_rkey},
	};
	struct ibv_send_wr *bad;
	if (ibv_post_send(ep->qp, &wr, &bad) == 0)
		ep->ka_inflight = 1;
}

void verbs_rdma_fini(struct ivt_ep *ep)
{
	vrc_clear(&ep->regs);
	if (ep->stage_mr)
		ibv_dereg_mr(ep->stage_mr);
	ep->stage_mr = NULL;
	free(ep->stage);
	ep->stage = NULL;
}
