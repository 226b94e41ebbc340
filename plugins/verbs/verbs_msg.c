/* SPDX-License-Identifier: MIT */
/*
 * The byte pipe over an RC queue pair: IBV_WR_SEND of copied user bytes
 * into the peer's pre-posted receive buffers, credit-based flow control
 * (verbs_credit.h), and the completion dispatcher everything else uses.
 * Waking up: poll_fd() is an epoll fd over the completion channel and the
 * keepalive timer; ack() consumes CQ events, re-arms and drains the CQ.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "verbs_internal.h"

void verbs_set_broken(struct ivt_ep *ep, int err, const char *what)
{
	if (ep->broken)
		return;
	ep->broken = err;
	if (err == -EPROTO)
		ep->st.protocol_errors++;
	/* After the peer's CLOSE a dying QP is the expected end, not news. */
	verbs_log(ep->peer_closed ? IVT_LOG_DEBUG : IVT_LOG_WARN, "channel %s: connection %s: %s",
		  ep->channel, err == -EPROTO ? "refused (protocol error)" : "lost", what);
	/* Flush everything outstanding so every op gets its completion. */
	struct ibv_qp_attr a = {.qp_state = IBV_QPS_ERR};
	if (ep->qp)
		ibv_modify_qp(ep->qp, &a, IBV_QP_STATE);
}

int verbs_post_recv(struct ivt_ep *ep, uint32_t slot)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)(ep->recv_buf + (size_t)slot * ep->slot_size),
		.length = ep->slot_size,
		.lkey = ep->recv_mr->lkey,
	};
	struct ibv_recv_wr wr = {.wr_id = WR_ID(WR_RECV, slot), .sg_list = &sge, .num_sge = 1};
	struct ibv_recv_wr *bad;
	int rc = ibv_post_recv(ep->qp, &wr, &bad);
	if (rc) {
		verbs_set_broken(ep, -ECONNRESET, "cannot re-post a receive buffer");
		return -rc;
	}
	return 0;
}

int verbs_post_msg(struct ivt_ep *ep, uint8_t type, const void *payload, uint32_t len)
{
	enum vw_class cls = vw_msg_class(type);
	uint8_t *buf;
	uint64_t wr_id;
	if (cls == VW_CLASS_DATA && (!ep->data_free_n || len > ep->chunk))
		return len > ep->chunk ? -EMSGSIZE : -EAGAIN;
	if (cls == VW_CLASS_CTRL && !ep->ctrl_free_n)
		return -EAGAIN;
	int rc = vc_take(&ep->cr, cls);
	if (rc)
		return rc;
	uint8_t *ctrl_area = ep->send_buf + (size_t)ep->send_data_n * ep->slot_size;
	uint32_t slot;
	if (cls == VW_CLASS_DATA) {
		slot = ep->data_free[--ep->data_free_n];
		buf = ep->send_buf + (size_t)slot * ep->slot_size;
		wr_id = WR_ID(WR_SEND_DATA, slot);
	} else if (cls == VW_CLASS_CTRL) {
		slot = ep->ctrl_free[--ep->ctrl_free_n];
		buf = ctrl_area + (size_t)slot * VERBS_CTRL_BUF;
		wr_id = WR_ID(WR_SEND_CTRL, slot);
	} else {
		slot = VERBS_SEND_CTRL; /* the dedicated close buffer */
		buf = ctrl_area + (size_t)slot * VERBS_CTRL_BUF;
		wr_id = WR_ID(WR_SEND_CLOSE, 0);
	}
	struct vw_hdr h = {.type = type};
	vc_fill(&ep->cr, &h);
	vw_hdr_encode(&h, buf);
	if (len)
		memcpy(buf + VW_HDR_LEN, payload, len);
	struct ibv_sge sge = {.addr = (uintptr_t)buf, .length = VW_HDR_LEN + len,
			      .lkey = ep->send_mr->lkey};
	struct ibv_send_wr wr = {.wr_id = wr_id, .sg_list = &sge, .num_sge = 1,
				 .opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED};
	struct ibv_send_wr *bad;
	rc = ibv_post_send(ep->qp, &wr, &bad);
	if (rc) {
		/* Undo so the accounting stays exact, then give up on the QP. */
		ep->cr.data_to_return += h.credits_returned;
		ep->cr.ctrl_to_return += h.ctrl_returned;
		vc_untake(&ep->cr, cls);
		if (cls == VW_CLASS_DATA)
			ep->data_free[ep->data_free_n++] = slot;
		else if (cls == VW_CLASS_CTRL)
			ep->ctrl_free[ep->ctrl_free_n++] = slot;
		verbs_set_broken(ep, -ECONNRESET, "ibv_post_send failed");
		return -ECONNRESET;
	}
	ep->st.notifies_sent++;
	return 0;
}

/* A validated message arrived in receive slot `slot`. */
static int on_message(struct ivt_ep *ep, uint32_t slot, uint32_t len)
{
	const uint8_t *buf = ep->recv_buf + (size_t)slot * ep->slot_size;
	struct vw_hdr h;
	if (vw_hdr_decode(buf, len, ep->slot_size, &h) || vc_on_recv(&ep->cr, &h))
		return -EPROTO;
	switch (h.type) {
	case VW_MSG_DATA: {
		struct verbs_rx *r = &ep->rx[(ep->rx_head + ep->rx_count++) % ep->nrecv];
		*r = (struct verbs_rx){.slot = slot, .len = len, .off = VW_HDR_LEN};
		return 0;
	}
	case VW_MSG_READY:
		if (ep->is_server || ep->peer_ready)
			return -EPROTO;
		ep->peer_ready = 1;
		return verbs_post_recv(ep, slot);
	case VW_MSG_CREDIT:
		return verbs_post_recv(ep, slot);
	case VW_MSG_CLOSE:
		ep->peer_closed = 1; /* its buffer is never needed again */
		return 0;
	default: { /* REGION_ADD / REGION_DEL: consumed right here */
		int rc = verbs_on_region_msg(ep, &h, buf + VW_HDR_LEN, len - VW_HDR_LEN);
		if (rc)
			return rc;
		vc_on_data_reposted(&ep->cr);
		return verbs_post_recv(ep, slot);
	}
	}
}

static void on_completion(struct ivt_ep *ep, const struct ibv_wc *wc)
{
	unsigned kind = WR_KIND(wc->wr_id);
	uint32_t idx = WR_IDX(wc->wr_id);
	int ok = wc->status == IBV_WC_SUCCESS;
	switch (kind) {
	case WR_RECV:
		/* Only plain SENDs consume our receive buffers; a WRITE_WITH_IMM
		 * would leave stale bytes in the slot. */
		if (ok && wc->opcode != IBV_WC_RECV)
			verbs_set_broken(ep, -EPROTO, "peer used RDMA write with immediate");
		else if (ok && idx < ep->nrecv) {
			int rc = on_message(ep, idx, wc->byte_len);
			if (rc == -EPROTO)
				verbs_set_broken(ep, -EPROTO, "malformed message or credit lie from peer");
		}
		break;
	case WR_SEND_DATA:
		if (idx < ep->send_data_n)
			ep->data_free[ep->data_free_n++] = idx;
		break;
	case WR_SEND_CTRL:
		if (idx < VERBS_SEND_CTRL)
			ep->ctrl_free[ep->ctrl_free_n++] = idx;
		break;
	case WR_SEND_CLOSE:
		ep->close_done = 1;
		break;
	case WR_RDMA:
		verbs_rdma_complete(ep, wc);
		break;
	case WR_KEEPALIVE:
		ep->ka_inflight = 0;
		break;
	}
	if (!ok) {
		/* RETRY_EXC_ERR: the peer stopped answering (vanished);
		 * REM_*: it refused; FLUSH: a previous error. All end the pipe. */
		char what[96];
		snprintf(what, sizeof(what), "%s (vendor error 0x%x)", ibv_wc_status_str(wc->status),
			 wc->vendor_err);
		verbs_set_broken(ep, -ECONNRESET, what);
	}
}

void verbs_progress(struct ivt_ep *ep)
{
	struct ibv_wc wc[16];
	int n;
	if (!ep->cq)
		return;
	while ((n = ibv_poll_cq(ep->cq, 16, wc)) > 0)
		for (int i = 0; i < n; i++)
			on_completion(ep, &wc[i]);
	if (n < 0)
		verbs_set_broken(ep, -EIO, "ibv_poll_cq failed");
	if (!ep->connected || !ep->peer_ready || ep->broken)
		return;
	verbs_flush_pending(ep);
	while (vc_want_credit_msg(&ep->cr) && ep->ctrl_free_n)
		if (verbs_post_msg(ep, VW_MSG_CREDIT, NULL, 0))
			break;
}

ssize_t verbs_send(struct ivt_ep *ep, const void *buf, size_t len)
{
	pthread_mutex_lock(&ep->lock);
	verbs_progress(ep);
	ssize_t rc;
	if (ep->peer_closed || ep->cr.close_sent)
		rc = -EPIPE;
	else if (ep->broken)
		rc = ep->broken;
	else if (!ep->connected || !ep->peer_ready || verbs_flush_pending(ep))
		rc = -EAGAIN;
	else {
		size_t sent = 0;
		rc = -EAGAIN;
		while (sent < len) {
			size_t n = len - sent < ep->chunk ? len - sent : ep->chunk;
			int r = verbs_post_msg(ep, VW_MSG_DATA, (const uint8_t *)buf + sent,
					       (uint32_t)n);
			if (r) {
				rc = r;
				break;
			}
			sent += n;
		}
		if (sent) {
			ep->st.bytes_sent += sent;
			rc = (ssize_t)sent;
		}
	}
	pthread_mutex_unlock(&ep->lock);
	return rc;
}

ssize_t verbs_recv(struct ivt_ep *ep, void *buf, size_t len)
{
	pthread_mutex_lock(&ep->lock);
	verbs_progress(ep);
	size_t got = 0;
	while (got < len && ep->rx_count) {
		struct verbs_rx *r = &ep->rx[ep->rx_head];
		size_t n = r->len - r->off;
		if (n > len - got)
			n = len - got;
		memcpy((uint8_t *)buf + got, ep->recv_buf + (size_t)r->slot * ep->slot_size + r->off, n);
		r->off += (uint32_t)n;
		got += n;
		if (r->off == r->len) {
			ep->rx_head = (ep->rx_head + 1) % ep->nrecv;
			ep->rx_count--;
			if (!ep->broken && !ep->peer_closed && verbs_post_recv(ep, r->slot) == 0)
				vc_on_data_reposted(&ep->cr);
		}
	}
	ssize_t rc;
	if (got) {
		ep->st.bytes_received += got;
		verbs_progress(ep); /* may send a CREDIT message now */
		rc = (ssize_t)got;
	} else if (ep->peer_closed) {
		rc = 0;
	} else if (ep->broken) {
		rc = ep->broken;
	} else {
		rc = -EAGAIN;
	}
	pthread_mutex_unlock(&ep->lock);
	return rc;
}

static int ready_events(struct ivt_ep *ep, unsigned events)
{
	int r = 0;
	if ((events & IVT_EV_RECV) && (ep->rx_count || ep->peer_closed || ep->broken))
		r |= IVT_EV_RECV;
	if ((events & IVT_EV_SEND) &&
	    (ep->broken || ep->peer_closed ||
	     (ep->connected && ep->peer_ready && ep->cr.data_credits && ep->data_free_n &&
	      !ep->pend_count)))
		r |= IVT_EV_SEND;
	if ((events & IVT_EV_COMPLETION) && (ep->done_count || ep->broken))
		r |= IVT_EV_COMPLETION;
	return r;
}

int verbs_arm(struct ivt_ep *ep, unsigned events)
{
	pthread_mutex_lock(&ep->lock);
	verbs_progress(ep);
	int r = ready_events(ep, events);
	if (!r && ep->cq) {
		/* Arm, then look again: a completion that landed between the
		 * poll and the arm raises no event. */
		ibv_req_notify_cq(ep->cq, 0);
		verbs_progress(ep);
		r = ready_events(ep, events);
	}
	pthread_mutex_unlock(&ep->lock);
	return r;
}

int verbs_poll_fd(struct ivt_ep *ep) { return ep->epfd; }

static void consume_cq_events(struct ivt_ep *ep)
{
	struct ibv_cq *cq;
	void *ctx;
	while (ibv_get_cq_event(ep->chan, &cq, &ctx) == 0)
		ibv_ack_cq_events(cq, 1);
}

void verbs_ack(struct ivt_ep *ep)
{
	pthread_mutex_lock(&ep->lock);
	uint64_t expirations = 0;
	if (ep->timerfd >= 0 && read(ep->timerfd, &expirations, sizeof(expirations)) > 0 &&
	    expirations)
		verbs_post_keepalive(ep);
	if (ep->chan) {
		consume_cq_events(ep);
		ibv_req_notify_cq(ep->cq, 0);
	}
	verbs_progress(ep);
	pthread_mutex_unlock(&ep->lock);
}

void verbs_close(struct ivt_ep *ep)
{
	if (!ep)
		return;
	pthread_mutex_lock(&ep->lock);
	verbs_progress(ep);
	/* Queued REGION messages need credits the peer may never return now;
	 * the CLOSE has its own reserved buffer and always goes. A peer that
	 * closed first has torn its QP down: telling it would only wait for
	 * the retries to run out. */
	if (ep->connected && ep->peer_ready && !ep->broken && !ep->peer_closed &&
	    verbs_post_msg(ep, VW_MSG_CLOSE, NULL, 0) == 0) {
		/* Everything posted before the CLOSE completes before it (RC
		 * order), so this waits for all queued user bytes. Bounded: a
		 * vanished peer ends it through RETRY_EXC_ERR anyway. */
		int64_t deadline = ivt_now_ms() + 3000;
		while (!ep->close_done && !ep->broken && ivt_now_ms() < deadline) {
			ibv_req_notify_cq(ep->cq, 0);
			verbs_progress(ep);
			if (ep->close_done || ep->broken)
				break;
			struct pollfd pfd = {.fd = ep->chan->fd, .events = POLLIN};
			if (poll(&pfd, 1, 100) > 0)
				consume_cq_events(ep);
		}
	}
	pthread_mutex_unlock(&ep->lock);
	verbs_ep_destroy(ep);
}

int verbs_stats(struct ivt_ep *ep, struct ivt_ep_stats *st)
{
	pthread_mutex_lock(&ep->lock);
	*st = ep->st;
	pthread_mutex_unlock(&ep->lock);
	return 0;
}
