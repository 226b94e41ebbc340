/* SPDX-License-Identifier: MIT */
/* The verbs endpoint and the functions the plugin's files share. */
#ifndef IVT_VERBS_INTERNAL_H
#define IVT_VERBS_INTERNAL_H

#include <infiniband/verbs.h>
#include <pthread.h>
#include <stdint.h>

#include "ivt/plugin.h"
#include "verbs_credit.h"
#include "verbs_regcache.h"
#include "verbs_wire.h"

#define VERBS_WHO "verbs"

/* Fixed pool sizes, so the send queue depth is known before the peer is. */
#define VERBS_SEND_DATA_MAX 64 /* data send buffers (also capped by data slots) */
#define VERBS_SEND_CTRL 8      /* CREDIT/READY send buffers */
#define VERBS_CTRL_SLOTS 4     /* ctrl receive buffers we grant the peer */
#define VERBS_CTRL_BUF 64      /* bytes per ctrl/close/region send buffer */
#define VERBS_RDMA_OPS 8       /* one-sided ops in flight */
#define VERBS_RDMA_STAGE (1u << 20) /* bounce buffer per op = max op size */
#define VERBS_DONE_RING 32     /* unreaped completions */
#define VERBS_PEND_MAX 64      /* queued REGION_ADD/DEL messages */
#define VERBS_RETRY_CNT 6      /* transport retries; 7 is "forever" on rxe */

/* wr_id = kind << 56 | index */
enum verbs_wr_kind {
	WR_RECV = 1, WR_SEND_DATA, WR_SEND_CTRL, WR_SEND_CLOSE, WR_RDMA, WR_KEEPALIVE,
};
#define WR_ID(kind, idx) ((uint64_t)(kind) << 56 | (uint32_t)(idx))
#define WR_KIND(id) ((unsigned)((id) >> 56))
#define WR_IDX(id) ((uint32_t)(id))

extern const struct ivt_plugin_host *verbs_host;
void verbs_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- device (verbs_device.c) --------------------------------------------- */
struct verbs_dev {
	struct ibv_context *ctx;
	struct ibv_device_attr attr;
	char name[IBV_SYSFS_NAME_MAX];
	uint8_t port;
	enum vw_link link;
	uint16_t lid;
	int gid_index; /* -1: no GRH (IB without a usable GID) */
	union ibv_gid gid;
	enum ibv_mtu mtu;
};

int verbs_probe(char *why, size_t why_len);
int verbs_dev_open(struct verbs_dev *d, char *why, size_t why_len);
void verbs_dev_close(struct verbs_dev *d);

/* ---- the endpoint ---------------------------------------------------------- */
struct verbs_rx { /* a received DATA message not yet fully read */
	uint32_t slot, len, off;
};

struct verbs_op { /* a one-sided op in flight */
	int used;
	uint32_t opcode;
	uint64_t wr_id, len;
	void *user_buf; /* reads: where the bytes go at completion */
};

struct verbs_pending { /* REGION_ADD/DEL waiting for a credit */
	uint8_t type;
	uint8_t len;
	uint8_t payload[VW_REGION_LEN];
};

struct ivt_ep {
	pthread_mutex_t lock;
	struct verbs_dev dev;
	struct ibv_pd *pd;
	struct ibv_comp_channel *chan;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	int epfd, timerfd; /* poll_fd() = epfd over {channel fd, keepalive timer} */

	int is_server, connected, peer_ready, peer_closed, broken; /* broken: -errno */
	int close_done; /* our CLOSE message completed */
	struct ivt_oob oob; /* server: the broker's oob until accept() */
	char channel[64];
	struct vw_blob local, peer;
	struct vc_credit cr;

	/* receive side: nrecv slots of slot_size; the first data+ctrl+1 posted */
	uint32_t slot_size, data_slots, ctrl_slots, nrecv;
	uint8_t *recv_buf;
	struct ibv_mr *recv_mr;
	struct verbs_rx *rx; /* FIFO of DATA messages, nrecv entries */
	uint32_t rx_head, rx_count;

	/* send side */
	uint32_t send_data_n, chunk; /* chunk: payload bytes per DATA message */
	uint8_t *send_buf;           /* send_data_n * slot_size, then ctrl bufs */
	struct ibv_mr *send_mr;
	uint32_t *data_free, data_free_n;
	uint32_t ctrl_free[VERBS_SEND_CTRL], ctrl_free_n;
	struct verbs_pending pend[VERBS_PEND_MAX];
	uint32_t pend_head, pend_count;

	/* one-sided */
	struct vrc_cache regs;
	struct vrt_table peer_regs;
	struct verbs_op ops[VERBS_RDMA_OPS];
	uint8_t *stage;
	struct ibv_mr *stage_mr;
	struct ivt_ep_completion done[VERBS_DONE_RING];
	uint32_t done_head, done_count, ops_inflight;

	/* keepalive: 16 bytes, peer writes [0,8), we write from [8,16) */
	uint64_t *ka_buf;
	struct ibv_mr *ka_mr;
	int ka_inflight, ka_ms;

	struct ivt_ep_stats st;
};

/* verbs_qp.c: resources, state transitions, listen/accept/connect */
int verbs_listen(const struct ivt_ep_params *params, struct ivt_ep **out);
int verbs_accept(struct ivt_ep *ep);
int verbs_connect(const struct ivt_ep_params *params, struct ivt_ep **out);
void verbs_ep_destroy(struct ivt_ep *ep);

/* verbs_msg.c: byte pipe, credits, completion dispatch */
int verbs_post_recv(struct ivt_ep *ep, uint32_t slot);
void verbs_progress(struct ivt_ep *ep);
/* Post one message of any type (credit, buffer and header handled). */
int verbs_post_msg(struct ivt_ep *ep, uint8_t type, const void *payload, uint32_t len);
void verbs_set_broken(struct ivt_ep *ep, int err, const char *what);
ssize_t verbs_send(struct ivt_ep *ep, const void *buf, size_t len);
ssize_t verbs_recv(struct ivt_ep *ep, void *buf, size_t len);
int verbs_arm(struct ivt_ep *ep, unsigned events);
int verbs_poll_fd(struct ivt_ep *ep);
void verbs_ack(struct ivt_ep *ep);
void verbs_close(struct ivt_ep *ep);
int verbs_stats(struct ivt_ep *ep, struct ivt_ep_stats *st);

/* verbs_rdma.c: registration, peer regions, one-sided ops */
void verbs_regs_init(struct ivt_ep *ep);
int verbs_flush_pending(struct ivt_ep *ep);
int verbs_on_region_msg(struct ivt_ep *ep, const struct vw_hdr *h, const uint8_t *payload,
			uint32_t len);
void verbs_rdma_complete(struct ivt_ep *ep, const struct ibv_wc *wc);
void verbs_post_keepalive(struct ivt_ep *ep);
int verbs_register_region(struct ivt_ep *ep, void *addr, size_t len, unsigned access,
			  uint64_t *key);
int verbs_deregister_region(struct ivt_ep *ep, uint64_t key);
int verbs_rdma_write(struct ivt_ep *ep, const void *buf, size_t len, uint64_t key,
		     uint64_t offset, uint64_t wr_id);
int verbs_rdma_read(struct ivt_ep *ep, void *buf, size_t len, uint64_t key, uint64_t offset,
		    uint64_t wr_id);
int verbs_poll_completions(struct ivt_ep *ep, struct ivt_ep_completion *out, int max);
void verbs_rdma_fini(struct ivt_ep *ep);

#endif
