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
#include <sys/uio.h>

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

enum tx_src { TX_SRC_NONE, TX_SRC_MEM, TX_SRC_REGION, TX_SRC_IOV };

/* A position in the caller's iovec array (sendv/recvv): gather and
 * scatter go straight between it and the pipe, no staging buffer. */
struct iov_cur {
	const struct iovec *iov;
	int cnt, idx;
	size_t off; /* within iov[idx] */
};

/* The frame being written right now. Its payload comes from memory we own,
 * from the caller's buffer (only while a blocking call runs), or from one
 * of our regions (read responses, looked up again for every piece). */
struct tx_frame {
	int active;
	uint8_t head[IVT_FRAME_HEAD_MAX + IVT_TX_INLINE_MAX];
	size_t head_len, head_done;
	enum tx_src src;
	const uint8_t *mem;
	struct iov_cur ic;  /* TX_SRC_IOV */
	uint64_t key, roff; /* TX_SRC_REGION */
	size_t pay_len, pay_done;
	void *owned;
	int region_lost; /* region vanished mid-frame: rest sent as zeros */
	struct tx_item *item; /* queue item this frame belongs to, or NULL (DATA) */
};

/* TXI_DATA: the rest of a message a non-blocking (or timed-out) send began,
 * as DATA frames from a private copy. */
enum tx_item_kind { TXI_CTRL, TXI_WRITE, TXI_READ_RESP, TXI_DATA };

struct tx_item {
	struct tx_item *next;
	enum tx_item_kind kind;
	uint64_t tag;
	uint8_t head[IVT_FRAME_HEAD_MAX]; /* TXI_CTRL: the whole frame */
	size_t head_len;
	uint64_t key, offset, len; /* WRITE: peer's region; READ_RESP: ours */
	const uint8_t *src;        /* WRITE, DATA: the data */
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
	/* ivt_send_reserve: frame space in the plugin's ring, header first.
	 * The tx lock stays held until commit (nothing else may write the
	 * pipe while its producer index points at the reservation). */
	uint8_t *resv;        /* NULL: none */
	size_t resv_head, resv_cap; /* header bytes before the caller's part; its room */
	/* FIN queued (ivt_xport_shutdown_wr): no stream bytes or messages
	 * after it; set under the tx lock, read without it as a hint */
	atomic_int fin;
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
	/* message mode: the message being received (MSG frame seen) */
	int msg_open;
	uint64_t msg_len, msg_got;
	uint8_t *msg_priv; /* its bytes so far, when no caller buffer holds them */
	int msg_aborted;   /* a MSG_ABORT dropped it: the parse returns -ECANCELED */
	int eof;  /* the pipe said end of stream at a frame boundary */
	int fin;  /* a FIN frame came: the stream ended, one-sided traffic goes on */
	int err;  /* sticky: -EPROTO, -ECONNRESET, ... */
	/* recv_peek plugins: the pipe's unread bytes in its own memory and
	 * how many of them the parser took; released (recv_consume) before
	 * the parser returns, so no window outlives a call */
	const uint8_t *win;
	size_t win_len, win_used;
};

struct ivt_xport {
	const struct ivt_plugin_ops *ops;
	struct ivt_ep *ep;
	size_t chunk; /* payload bytes per frame we send */
	int msg_mode; /* both ends agreed on message mode at setup */

	pthread_mutex_t tx_lock, rx_lock;
	struct tx_state tx;
	struct rx_state rx;
	struct ivt_regions regions;
	struct ivt_rdma_track track;

	atomic_int broken; /* the peer sent garbage: every call fails -EPROTO */
	atomic_int rx_answered; /* the parser queued answers: flush after rx_lock */
	/* bytes_sent and sends change under tx_lock only, bytes_received and
	 * recvs under rx_lock only (xport_count); protocol_errors anywhere */
	atomic_uint_fast64_t bytes_sent, bytes_received, sends, recvs, protocol_errors;
};

/* Add to a counter that only the holder of one lock changes: a plain
 * load and store instead of a locked add on every call; ivt_get_stats
 * still reads whole values. */
static inline void xport_count(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

void ivt_xport_init(struct ivt_xport *xp, const struct ivt_plugin_ops *ops, struct ivt_ep *ep,
		    size_t ring_size);
/* Frees queued frames and tracking state (not the ep). */
void ivt_xport_fini(struct ivt_xport *xp);

/* Queue len stream bytes as DATA frames. With a waiter: returns len or an
 * error. Without: bytes accepted (a partly written frame is finished
 * later from a private copy), or -EAGAIN when nothing could be taken. */
ssize_t ivt_xport_send(struct ivt_xport *xp, const void *buf, size_t len,
		       const struct ivt_waiter *w);
/* The same from an iovec array. In message mode the whole array is one
 * message (MSG frame + DATA frames): it is taken entirely or not at all,
 * and the rest of a begun message is copied if the pipe fills. A waiter
 * returning -ETIMEDOUT stops waiting like a non-blocking call: bytes
 * taken (stream) / the whole length (message begun), else -ETIMEDOUT.
 * -EINVAL (bad array, total over SSIZE_MAX), -EMSGSIZE (message over
 * IVT_FRAME_MSG_MAX). */
ssize_t ivt_xport_sendv(struct ivt_xport *xp, const struct iovec *iov, int iovcnt,
			const struct ivt_waiter *w);
/* The same for a caller that has checked the array already: len is its
 * ivt_iov_total. */
ssize_t ivt_xport_sendv_n(struct ivt_xport *xp, const struct iovec *iov, int iovcnt, size_t len,
			  const struct ivt_waiter *w);

/* Zero-copy send: room for len bytes in the pipe itself (the plugin's
 * send_reserve), behind a frame header. On 0, *ptr is where the caller
 * writes, and the tx lock is held until ivt_xport_commit. -EOPNOTSUPP
 * (plugin cannot), -EMSGSIZE (len > ivt_xport_reserve_max), -EAGAIN
 * (no waiter and no room), -ETIMEDOUT (waiter gave up), pipe errors. */
int ivt_xport_reserve(struct ivt_xport *xp, size_t len, void **ptr, const struct ivt_waiter *w);
/* Publish len (<= reserved) bytes written at ptr as one frame (one message
 * in message mode; stream mode: len 0 sends nothing). ptr NULL cancels.
 * -EINVAL if ptr is not the open reservation. */
int ivt_xport_commit(struct ivt_xport *xp, void *ptr, size_t len);
size_t ivt_xport_reserve_max(const struct ivt_xport *xp);
/* Does the plugin offer send_reserve/send_commit? */
int ivt_xport_zc_usable(const struct ivt_xport *xp);

/* Parse incoming frames, copying DATA payload into buf. Returns bytes
 * (>0), 0 at end of stream, -EAGAIN, or a sticky error (-EPROTO,
 * -ECONNRESET when the stream ended inside a frame). buf == NULL: only
 * process one-sided traffic; -EBUSY when it stopped at stream data (which
 * waits for ivt_recv) rather than at an empty pipe. -ENOBUFS: too many of
 * our answers wait to be sent; wait for room to send, then call again. */
ssize_t ivt_xport_recv(struct ivt_xport *xp, void *buf, size_t len);
/* Stream mode: the same, scattering into an iovec array. */
ssize_t ivt_xport_recvv(struct ivt_xport *xp, const struct iovec *iov, int iovcnt);
/* The same for a caller that has checked the array already: total is its
 * ivt_iov_total. */
ssize_t ivt_xport_recvv_n(struct ivt_xport *xp, const struct iovec *iov, int iovcnt,
			  size_t total);

/* Message mode: one whole message into the array: its length, -EMSGSIZE
 * (array too small; nothing consumed), -EAGAIN (not all there yet), 0 at
 * end of stream, errors as ivt_xport_recv. peek: only the next message's
 * length (or -EAGAIN...). keep: the caller will call again with the same
 * array after -EAGAIN, so the bytes that arrived may stay in it; it must
 * call ivt_xport_msg_detach before it gives up. Without keep, a partly
 * arrived message is moved to private memory. */
ssize_t ivt_xport_recv_msg(struct ivt_xport *xp, const struct iovec *iov, int iovcnt, int peek,
			   int keep);
/* Move the part of a message that sits in the caller's array (keep) to
 * private memory, because the caller gives up waiting. */
int ivt_xport_msg_detach(struct ivt_xport *xp, const struct iovec *iov, int iovcnt);

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

/* Half-close (ivt_shutdown SHUT_WR): queue a FIN frame behind every
 * frame begun or queued and send what fits. After it stream sends and
 * reservations fail with -EPIPE; one-sided traffic and the answers to
 * the peer's ops go on. With a waiter: 0 once the FIN is in the pipe, or
 * an error; without: 0, or -EAGAIN when it still waits for room (it goes
 * out with the next flush). Again after a FIN: as a flush. The caller
 * checked that the peer takes FIN frames. */
int ivt_xport_shutdown_wr(struct ivt_xport *xp, const struct ivt_waiter *w);
/* The same FIN queued only, for a pipe whose peer has not attached yet:
 * the first flush after that sends it. 0 or -EPROTO/-EBUSY/-ENOMEM. */
int ivt_xport_queue_fin(struct ivt_xport *xp);

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
/* tx lock held: send what is queued; with a waiter until done (or its
 * error), without: 0 or -EAGAIN. */
int ivt_tx_flush_locked(struct ivt_xport *xp, const struct ivt_waiter *w);
/* Let go of the tx lock, then send what the receive path queued meanwhile. */
void ivt_tx_unlock(struct ivt_xport *xp);
void ivt_rx_init(struct rx_state *rx);
void ivt_rx_fini(struct rx_state *rx);

/* Where the parser puts stream bytes: up to room bytes at the cursor. */
struct rx_sink {
	struct iov_cur c;
	size_t room, got;
};
/* rx lock held: parse frames, stream bytes into s (NULL: none). Returns
 * like ivt_xport_recv, -EBUSY when stream data (or, in message mode, a
 * whole message) waits and s has no room. Call ivt_rx_after once the
 * lock is released. */
ssize_t ivt_rx_parse(struct ivt_xport *xp, struct rx_sink *s);
void ivt_rx_after(struct ivt_xport *xp);

/* iovec helpers (iov.c): total length or -EINVAL; copy n bytes to/from
 * the cursor, advancing it. */
ssize_t ivt_iov_total(const struct iovec *iov, int cnt);
void ivt_iov_advance(struct iov_cur *c, size_t n);
void ivt_iov_gather(struct iov_cur *c, uint8_t *dst, size_t n);
void ivt_iov_scatter(struct iov_cur *c, const uint8_t *src, size_t n);
/* The contiguous piece at the cursor, at most max bytes (skips empty ones). */
size_t ivt_iov_piece(struct iov_cur *c, size_t max, uint8_t **p);

#endif
