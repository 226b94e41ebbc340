/* SPDX-License-Identifier: MIT */
/* Endpoint resources (PD, completion channel, CQ, RC QP, buffers) and the
 * connection handshake: blobs through the broker's oob channel, then
 * RESET -> INIT -> RTR -> RTS. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "verbs_internal.h"

#define DEFAULT_RING (1u << 20)

static uint32_t clamp_u32(uint64_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : (uint32_t)v;
}

/* Receive geometry from the policy's ring size: slots of ring/16 bytes
 * (4..64 KiB, a power of two), as many as fit the ring. */
static void size_ring(struct ivt_ep *ep, size_t ring)
{
	if (ring == 0)
		ring = DEFAULT_RING;
	uint32_t slot = 4096;
	while (slot < 65536 && (uint64_t)slot * 16 < ring)
		slot <<= 1;
	ep->slot_size = slot;
	ep->data_slots = clamp_u32(ring / slot, 2, 1024);
	ep->ctrl_slots = VERBS_CTRL_SLOTS;
	uint32_t max_wr = (uint32_t)ep->dev.attr.max_qp_wr;
	if (ep->data_slots + ep->ctrl_slots + 1 > max_wr && max_wr > ep->ctrl_slots + 3)
		ep->data_slots = max_wr - ep->ctrl_slots - 1;
	ep->nrecv = ep->data_slots + ep->ctrl_slots + 1;
	ep->send_data_n = ep->data_slots < VERBS_SEND_DATA_MAX ? ep->data_slots : VERBS_SEND_DATA_MAX;
}

static uint32_t sq_depth(const struct ivt_ep *ep)
{
	return ep->send_data_n + VERBS_SEND_CTRL + 1 /* close */ + VERBS_RDMA_OPS + 1 /* ka */;
}

static struct ibv_mr *reg(struct ivt_ep *ep, void *p, size_t len, int access)
{
	struct ibv_mr *mr = ibv_reg_mr(ep->pd, p, len, access);
	if (!mr)
		verbs_log(IVT_LOG_ERR, "ibv_reg_mr(%zu bytes) on %s: %s", len, ep->dev.name,
			  strerror(errno));
	return mr;
}

static int make_wakeup_fds(struct ivt_ep *ep)
{
	int fl = fcntl(ep->chan->fd, F_GETFL);
	if (fl < 0 || fcntl(ep->chan->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->epfd < 0)
		return -errno;
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = ep->chan->fd};
	if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, ep->chan->fd, &ev) < 0)
		return -errno;
	/* The keepalive timer is what notices a peer that vanished while we
	 * only receive: an idle RC QP sends nothing that could time out. */
	const char *s = getenv("IVT_VERBS_KEEPALIVE_MS");
	ep->ka_ms = s && *s ? atoi(s) : 1000;
	if (ep->ka_ms <= 0)
		return 0;
	ep->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ep->timerfd < 0)
		return -errno;
	ev.data.fd = ep->timerfd;
	if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, ep->timerfd, &ev) < 0)
		return -errno;
	return 0;
}

static int qp_to_init(struct ivt_ep *ep)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.pkey_index = 0,
		.port_num = ep->dev.port,
		.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ,
	};
	return ibv_modify_qp(ep->qp, &a,
			     IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

/* Everything up to a QP in INIT with all receives posted. */
static int ep_create(const struct ivt_ep_params *params, struct ivt_ep **out)
{
	char why[256];
	if (!params || !params->oob || !params->oob->send || !params->oob->recv)
		return -EINVAL;
	struct ivt_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	pthread_mutex_init(&ep->lock, NULL);
	ep->epfd = ep->timerfd = -1;
	ep->is_server = params->is_server;
	ep->oob = *params->oob;
	snprintf(ep->channel, sizeof(ep->channel), "%s", params->channel ? params->channel : "?");
	int rc = verbs_dev_open(&ep->dev, why, sizeof(why));
	if (rc) {
		verbs_log(IVT_LOG_WARN, "channel %s: %s", ep->channel, why);
		free(ep);
		return rc;
	}
	size_ring(ep, params->ring_size);
	verbs_regs_init(ep);

	rc = -ENOMEM;
	ep->pd = ibv_alloc_pd(ep->dev.ctx);
	ep->chan = ep->pd ? ibv_create_comp_channel(ep->dev.ctx) : NULL;
	int cqe = (int)(ep->nrecv + sq_depth(ep));
	if (ep->chan && cqe > ep->dev.attr.max_cqe)
		cqe = ep->dev.attr.max_cqe;
	ep->cq = ep->chan ? ibv_create_cq(ep->dev.ctx, cqe, ep, ep->chan, 0) : NULL;
	if (!ep->cq) {
		verbs_log(IVT_LOG_ERR, "%s: cannot create PD/channel/CQ: %s", ep->dev.name,
			  strerror(errno));
		goto fail;
	}
	rc = make_wakeup_fds(ep);
	if (rc)
		goto fail;
	struct ibv_qp_init_attr qa = {
		.send_cq = ep->cq, .recv_cq = ep->cq, .qp_type = IBV_QPT_RC, .sq_sig_all = 0,
		.cap = { .max_send_wr = sq_depth(ep), .max_recv_wr = ep->nrecv,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	ep->qp = ibv_create_qp(ep->pd, &qa);
	if (!ep->qp) {
		rc = errno ? -errno : -ENOMEM;
		verbs_log(IVT_LOG_ERR, "%s: ibv_create_qp(RC, sq %u, rq %u): %s", ep->dev.name,
			  sq_depth(ep), ep->nrecv, strerror(errno));
		goto fail;
	}
	if ((rc = qp_to_init(ep)) != 0) {
		rc = -rc;
		verbs_log(IVT_LOG_ERR, "%s: QP -> INIT: %s", ep->dev.name, strerror(-rc));
		goto fail;
	}

	rc = -ENOMEM;
	size_t recv_bytes = (size_t)ep->nrecv * ep->slot_size;
	size_t send_bytes = (size_t)ep->send_data_n * ep->slot_size +
			    (VERBS_SEND_CTRL + 1) * VERBS_CTRL_BUF;
	ep->recv_buf = aligned_alloc(4096, recv_bytes);
	ep->send_buf = aligned_alloc(4096, (send_bytes + 4095) & ~(size_t)4095);
	ep->rx = calloc(ep->nrecv, sizeof(*ep->rx));
	ep->data_free = calloc(ep->send_data_n, sizeof(*ep->data_free));
	ep->ka_buf = aligned_alloc(64, 64);
	if (!ep->recv_buf || !ep->send_buf || !ep->rx || !ep->data_free || !ep->ka_buf)
		goto fail;
	memset(ep->ka_buf, 0, 64);
	ep->recv_mr = reg(ep, ep->recv_buf, recv_bytes, IBV_ACCESS_LOCAL_WRITE);
	ep->send_mr = reg(ep, ep->send_buf, send_bytes, 0);
	/* Remote-writable on purpose: the peer's keepalive lands here. The
	 * rkey covers these 64 bytes only. */
	ep->ka_mr = reg(ep, ep->ka_buf, 64, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (!ep->recv_mr || !ep->send_mr || !ep->ka_mr) {
		rc = -EIO;
		goto fail;
	}
	for (uint32_t i = 0; i < ep->send_data_n; i++)
		ep->data_free[ep->data_free_n++] = i;
	for (uint32_t i = 0; i < VERBS_SEND_CTRL; i++)
		ep->ctrl_free[ep->ctrl_free_n++] = i;
	for (uint32_t i = 0; i < ep->nrecv; i++)
		if ((rc = verbs_post_recv(ep, i)) != 0)
			goto fail;

	uint32_t psn = 0;
	if (getrandom(&psn, sizeof(psn), 0) != sizeof(psn))
		psn = (uint32_t)getpid() * 2654435761u;
	ep->local = (struct vw_blob){
		.qpn = ep->qp->qp_num,
		.psn = psn & 0xffffff,
		.lid = ep->dev.lid,
		.link = (uint8_t)ep->dev.link,
		.gid_index = (uint8_t)(ep->dev.gid_index < 0 ? 0 : ep->dev.gid_index),
		.mtu = (uint8_t)ep->dev.mtu,
		.rd_atom = (uint8_t)clamp_u32((uint32_t)ep->dev.attr.max_qp_rd_atom, 1, 16),
		.data_slots = (uint16_t)ep->data_slots,
		.ctrl_slots = (uint16_t)ep->ctrl_slots,
		.slot_size = ep->slot_size,
		.ka_addr = (uintptr_t)ep->ka_buf,
		.ka_rkey = ep->ka_mr->rkey,
	};
	memcpy(ep->local.gid, ep->dev.gid.raw, 16);
	ep->st.ring_size = (uint64_t)ep->data_slots * ep->slot_size;
	*out = ep;
	return 0;
fail:
	verbs_ep_destroy(ep);
	return rc;
}

static int qp_to_rtr_rts(struct ivt_ep *ep)
{
	const struct vw_blob *p = &ep->peer;
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = (enum ibv_mtu)(p->mtu < ep->dev.mtu ? p->mtu : ep->dev.mtu),
		.dest_qp_num = p->qpn,
		.rq_psn = p->psn,
		.max_dest_rd_atomic = ep->local.rd_atom,
		.min_rnr_timer = 12, /* 0.64 ms; RNR cannot happen with credits anyway */
		.ah_attr = { .dlid = p->lid, .sl = 0, .src_path_bits = 0, .port_num = ep->dev.port },
	};
	/* RoCE always routes by GID (GRH); IB only when both sides have one. */
	if (ep->dev.link == VW_LINK_ETH || (ep->dev.gid_index >= 0 && vw_gid_valid(p->gid))) {
		a.ah_attr.is_global = 1;
		memcpy(a.ah_attr.grh.dgid.raw, p->gid, 16);
		a.ah_attr.grh.sgid_index = (uint8_t)(ep->dev.gid_index < 0 ? 0 : ep->dev.gid_index);
		a.ah_attr.grh.hop_limit = 64;
	}
	int rc = ibv_modify_qp(ep->qp, &a,
			       IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
				       IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
				       IBV_QP_MIN_RNR_TIMER);
	if (rc) {
		verbs_log(IVT_LOG_ERR, "channel %s: QP -> RTR: %s", ep->channel, strerror(rc));
		return -rc;
	}
	uint32_t rd = (uint32_t)ep->dev.attr.max_qp_init_rd_atom;
	if (rd > p->rd_atom)
		rd = p->rd_atom;
	struct ibv_qp_attr s = {
		.qp_state = IBV_QPS_RTS,
		.sq_psn = ep->local.psn,
		/* 4.096 us * 2^14 = 67 ms per try, 6 retries: a vanished peer is
		 * reported as IBV_WC_RETRY_EXC_ERR after about half a second.
		 * Not 7: soft-RoCE (rdma_rxe) takes retry_cnt 7 as "retry
		 * forever", like rnr_retry 7, and a dead peer then goes unnoticed
		 * (seen on Linux 6.1: recv/send waited out their timeouts). */
		.timeout = 14,
		.retry_cnt = VERBS_RETRY_CNT,
		.rnr_retry = 7,
		.max_rd_atomic = (uint8_t)clamp_u32(rd, 1, 16),
	};
	rc = ibv_modify_qp(ep->qp, &s,
			   IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
				   IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC);
	if (rc) {
		verbs_log(IVT_LOG_ERR, "channel %s: QP -> RTS: %s", ep->channel, strerror(rc));
		return -rc;
	}
	return 0;
}

/* Take the peer's blob and bring the QP up. */
static int attach_peer(struct ivt_ep *ep, const void *blob, int n)
{
	char why[160];
	if (vw_blob_decode(blob, (size_t)n, &ep->peer, why, sizeof(why))) {
		verbs_log(IVT_LOG_ERR, "channel %s: refusing peer: %s", ep->channel, why);
		ep->st.protocol_errors++;
		return -EPROTO;
	}
	if (ep->peer.link != ep->local.link) {
		verbs_log(IVT_LOG_ERR, "channel %s: peer is on %s, we are on %s", ep->channel,
			  ep->peer.link == VW_LINK_ETH ? "RoCE" : "InfiniBand",
			  ep->local.link == VW_LINK_ETH ? "RoCE" : "InfiniBand");
		return -EPROTO;
	}
	uint32_t peer_slot = ep->peer.slot_size;
	ep->chunk = (peer_slot < ep->slot_size ? peer_slot : ep->slot_size) - VW_HDR_LEN;
	vc_init(&ep->cr, ep->data_slots, ep->ctrl_slots, ep->peer.data_slots, ep->peer.ctrl_slots);
	int rc = qp_to_rtr_rts(ep);
	if (rc)
		return rc;
	if (ep->timerfd >= 0) {
		struct itimerspec it = {
			.it_interval = {ep->ka_ms / 1000, (ep->ka_ms % 1000) * 1000000L},
			.it_value = {ep->ka_ms / 1000, (ep->ka_ms % 1000) * 1000000L},
		};
		timerfd_settime(ep->timerfd, 0, &it, NULL);
	}
	ep->connected = 1;
	return 0;
}

int verbs_listen(const struct ivt_ep_params *params, struct ivt_ep **out)
{
	struct ivt_ep *ep;
	int rc = ep_create(params, &ep);
	if (rc)
		return rc;
	uint8_t blob[VW_BLOB_LEN];
	vw_blob_encode(&ep->local, blob);
	rc = ep->oob.send(ep->oob.ctx, blob, sizeof(blob), NULL, 0);
	if (rc < 0) {
		verbs_ep_destroy(ep);
		return rc;
	}
	*out = ep;
	return 0;
}

int verbs_accept(struct ivt_ep *ep)
{
	pthread_mutex_lock(&ep->lock);
	int rc = 0;
	if (ep->connected || ep->broken) {
		rc = ep->broken;
		goto out;
	}
	uint8_t blob[IVT_OOB_BLOB_MAX];
	int fds[IVT_OOB_FDS_MAX], nfds = 0;
	int n = ep->oob.recv(ep->oob.ctx, blob, sizeof(blob), fds, &nfds, 0);
	for (int i = 0; i < nfds && i < IVT_OOB_FDS_MAX; i++)
		close(fds[i]); /* verbs needs no fds; a peer's extras are dropped */
	if (n == -ETIMEDOUT || n == -EAGAIN) {
		rc = -EAGAIN;
		goto out;
	}
	if (n < 0) {
		rc = n;
		goto out;
	}
	rc = attach_peer(ep, blob, n);
	if (rc == 0) {
		/* The client may only send once our QP is in RTR, else its first
		 * packets could be dropped until retries run out. */
		ep->peer_ready = 1;
		rc = verbs_post_msg(ep, VW_MSG_READY, NULL, 0);
	}
	if (rc)
		ep->broken = rc;
out:
	pthread_mutex_unlock(&ep->lock);
	return rc;
}

int verbs_connect(const struct ivt_ep_params *params, struct ivt_ep **out)
{
	struct ivt_ep *ep;
	int rc = ep_create(params, &ep);
	if (rc)
		return rc;
	uint8_t blob[IVT_OOB_BLOB_MAX];
	int fds[IVT_OOB_FDS_MAX], nfds = 0;
	int n = ep->oob.recv(ep->oob.ctx, blob, sizeof(blob), fds, &nfds, params->timeout_ms);
	for (int i = 0; i < nfds && i < IVT_OOB_FDS_MAX; i++)
		close(fds[i]);
	rc = n < 0 ? n : attach_peer(ep, blob, n);
	if (rc == 0) {
		uint8_t mine[VW_BLOB_LEN];
		vw_blob_encode(&ep->local, mine);
		rc = ep->oob.send(ep->oob.ctx, mine, sizeof(mine), NULL, 0);
	}
	if (rc < 0) {
		verbs_ep_destroy(ep);
		return rc;
	}
	*out = ep;
	return 0;
}

void verbs_ep_destroy(struct ivt_ep *ep)
{
	if (!ep)
		return;
	/* QP first: nothing may still DMA into memory released below. */
	if (ep->qp)
		ibv_destroy_qp(ep->qp);
	verbs_rdma_fini(ep);
	if (ep->recv_mr)
		ibv_dereg_mr(ep->recv_mr);
	if (ep->send_mr)
		ibv_dereg_mr(ep->send_mr);
	if (ep->ka_mr)
		ibv_dereg_mr(ep->ka_mr);
	if (ep->cq)
		ibv_destroy_cq(ep->cq);
	if (ep->chan)
		ibv_destroy_comp_channel(ep->chan);
	if (ep->pd)
		ibv_dealloc_pd(ep->pd);
	verbs_dev_close(&ep->dev);
	if (ep->timerfd >= 0)
		close(ep->timerfd);
	if (ep->epfd >= 0)
		close(ep->epfd);
	free(ep->recv_buf);
	free(ep->send_buf);
	free(ep->rx);
	free(ep->data_free);
	free(ep->ka_buf);
	pthread_mutex_destroy(&ep->lock);
	free(ep);
}
