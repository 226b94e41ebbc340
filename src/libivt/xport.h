/* SPDX-License-Identifier: MIT */
/*
 * The framed transport: libivt's frames (frame.h) over one plugin byte pipe.
 *
 * Everything here is non-blocking and knows nothing about the daemon, so
 * the unit tests drive it over an in-memory fake plugin. Blocking callers
 * pass a waiter that sleeps until the pipe may make progress.
 *
 * Threads: one sender and one receiver may call in concurrently (ivt.h).
 * tx_lock serialises frames going out; rx_lock the parser. The receive
 * path queues its answers (ACK/NACK, read responses) on the tx queue and
 * only ever *tries* the tx lock, so a sender blocked on a full pipe can
 * never stop this end from draining the other direction.
 * Lock order: tx_lock, rx_lock, regions.lock, track.lock (the sender takes
 * rx_lock only to orphan a failed op; the receive path never waits for
 * tx_lock, so this cannot deadlock).
 */
#ifndef IVT_LIBIVT_XPORT_H
#define IVT_LIBIVT_XPORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"
#include "ivt/plugin.h"
#include "rdma_track.h"
#include "regions.h"

/* Payloads up to this size travel in the same plugin send as their header. */
#define IVT_TX_INLINE_MAX 256u
/* The receive path stops reading new frames while this many of its
 * answers wait to be sent: back-pressure instead of unbounded memory. */
#define IVT_TX_QUEUE_MAX 1024u

/* Sleep until one of `events` (IVT_EV_SEND/RECV) may be possible. 0 to
 * retry, or a negative errno to give up with (peer died, timeout...). */
struct ivt_waiter {
	int (*wait)(void *ctx, unsigned events);
	void *ctx;
};

enum tx_src { TX_SRC_NONE, TX_SRC_MEM, TX_SRC_REGION };

/* The frame being written right now. Its payload comes from memory we own,
 * from the caller's buffer (only while a blocking call runs), or from one
 * of our regions (read responses, looked up again for every piece). */
struct tx_frame {
	int active;
	uint8_t head[IVT_FRAME_HEAD_MAX + IVT_TX_INLINE_MAX];
	size_t head_len, head_done;
	enum tx_src src;
	const uint8_t *mem;
	uint64_t key, roff; /* TX_SRC_REGION */
	size_t pay_len, pay_done;
	void *owned;
	int region_lost; /* region vanished mid-frame: rest sent as zeros */
	struct tx_item *item; /* queue item this frame belongs to, or NULL (DATA) */
};

enum tx_item_kind { TXI_CTRL, TXI_WRITE, TXI_READ_RESP };

struct tx_item {
	struct tx_item *next;
	enum tx_item_kind kind;
	uint64_t tag;
	uint8_t head[IVT_FRAME_HEAD_MAX]; /* TXI_CTRL: the whole frame */
	size_t head_len;
	uint64_t key, offset, len; /* WRITE: peer's region; READ_RESP: ours */
	const uint8_t *src;        /* WRITE: the data */
	void *owned;
	uint64_t framed;  /* bytes put into frames so far */
	int32_t status;   /* READ_RESP: 0, or the NACK to send instead */
	int finished;     /* its last frame is the current one */
};

struct tx_state {
	struct tx_frame cur;
	/* The queue. q_lock guards the list links only: the receive path
	 * appends without the tx lock; only the tx-lock holder frames items. */
	pthread_mutex_t q_lock;
	struct tx_item *head, *tail;
	atomic_uint n_items;
	uint8_t *spill; /* chunk bytes: the rest of a DATA frame a non-blocking send began */
	atomic_int flush_wanted; /* the receive path queued while the tx lock was busy */
	int err; /* sticky pipe error (-EPIPE, -EPROTO, ...) */
};

enum rx_phase { RX_HEAD, RX_EXT, RX_BODY };

struct rx_state {
	enum rx_phase phase;
	uint8_t head[IVT_FRAME_HEAD_MAX];
	size_t have, need;
	struct ivt_frame_hdr hdr;
	struct ivt_frame_ext ext;
	uint64_t body_left;
	/* an RDMA_WRITE op whose chunks are arriving */
	int wr_open;
	uint64_t wr_tag, wr_key, wr_off, wr_len, wr_pos;
	int32_t wr_status;
	/* READ_RESP: our oldest op */
	struct ivt_rdma_op *rd_op;
	int eof;  /* the pipe said end of stream at a frame boundary */
	int err;  /* sticky: -EPROTO, -ECONNRESET, ... */
};

struct ivt_xport {
	const struct ivt_plugin_ops *ops;
	struct ivt_ep *ep;
	size_t chunk; /* payload bytes per frame we send */

	pthread_mutex_t tx_lock, rx_lock;
	struct tx_state tx;
	struct rx_state rx;
	struct ivt_regions regions;
	struct ivt_rdma_track track;

	atomic_int broken; /* the peer sent garbage: every call fails -EPROTO */
	atomic_uint_fast64_t bytes_sent, bytes_received, sends, recvs, protocol_errors;
};

void ivt_xport_init(struct ivt_xport *xp, const struct ivt_plugin_ops *ops, struct ivt_ep *ep,
		    size_t ring_size);
/* Frees queued frames and tracking state (not the ep). */
void ivt_xport_fini(struct ivt_xport *xp);

/* Queue len stream bytes as DATA frames. With a waiter: returns len or an
 * error. Without: bytes accepted (a partly written frame is finished
 * later from a private copy), or -EAGAIN when nothing could be taken. */
ssize_t ivt_xport_send(struct ivt_xport *xp, const void *buf, size_t len,
		       const struct ivt_waiter *w);

/* Parse incoming frames, copying DATA payload into buf. Returns bytes
 * (>0), 0 at end of stream, -EAGAIN, or a sticky error (-EPROTO,
 * -ECONNRESET when the stream ended inside a frame). buf == NULL: only
 * process one-sided traffic; -EBUSY when it stopped at stream data (which
 * waits for ivt_recv) rather than at an empty pipe. -ENOBUFS: too many of
 * our answers wait to be sent; wait for room to send, then call again. */
ssize_t ivt_xport_recv(struct ivt_xport *xp, void *buf, size_t len);

/* Post a one-sided op. With a waiter, a WRITE's data is on the pipe when
 * this returns; without, it is copied if it cannot go out at once, and
 * -EAGAIN means earlier frames still wait for room. */
int ivt_xport_rdma_post(struct ivt_xport *xp, uint32_t opcode, void *buf, size_t len,
			uint64_t key, uint64_t offset, uint64_t wr_id, const struct ivt_waiter *w);

/* Send what is queued if the tx lock is free; if it is busy, its holder
 * sends it before it lets go. Returns 1 if frames still wait for room in
 * the pipe (arm IVT_EV_SEND), else 0. */
int ivt_xport_try_flush(struct ivt_xport *xp);
/* With a waiter: send everything queued, or an error. */
int ivt_xport_flush(struct ivt_xport *xp, const struct ivt_waiter *w);

/* The peer is gone and the pipe was read dry. Later receives return 0
 * (graceful, between frames) or -ECONNRESET; open ops complete with
 * -ECONNRESET. */
void ivt_xport_peer_gone(struct ivt_xport *xp, int graceful);

/* A post failed after its op was queued (tx.c): under rx_lock, mark it so
 * the receive path drops its answer instead of writing to the caller's
 * buffer, and reports no completion. Once this returns, no byte lands
 * in the op's buffer. */
void ivt_xport_orphan_op(struct ivt_xport *xp, uint64_t tag);

/* Between tx.c, rx.c and xport.c. */
void ivt_tx_enqueue(struct ivt_xport *xp, struct tx_item *it);
void ivt_tx_fini(struct ivt_xport *xp);
void ivt_rx_init(struct rx_state *rx);

#endif
