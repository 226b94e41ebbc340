/* SPDX-License-Identifier: MIT */
/* Engine internals shared by engine.c (lifecycle, demux), tx.c (sending,
 * retransmission), rx.c (ordering, delivery), ops.c (RDMA, completions),
 * regions.c. Not a public interface. */
#ifndef SLURPOE_ENGINE_INT_H
#define SLURPOE_ENGINE_INT_H

#include "engine.h"
#include "auth.h"
#include "wire.h"

#define SLP_HASH_BUCKETS 1024
#define SLP_MAX_OPS 1024           /* outstanding RDMA ops (+ unreaped completions) */
#define SLP_MAX_MSG (1u << 30)     /* largest RDMA message */
#define SLP_MAX_PENDING_CTRL 4096  /* queued NACKs/read responses before we give up */
#define SLP_DUPTHRESH 3            /* SACKed frames past a hole that mark it lost */

/* A byte ring (stream buffers). */
struct slp_bytes {
	uint8_t *buf;
	size_t cap, head, len; /* data at [head, head+len) mod cap */
};

/* One sequence-numbered frame we sent and may have to send again. */
struct slp_txslot {
	uint8_t *frame;
	uint16_t len;
	uint8_t sacked, retx;
	uint32_t body_crc; /* computed once when cut; each transmission re-covers the header */
	uint8_t reffed;    /* handed to cfg.tx_ref in flush generation ref_gen */
	uint32_t ref_gen;
	uint64_t last_tx;
};

/* One frame that arrived ahead of rcv_nxt. */
struct slp_rxslot {
	uint8_t *frame;
	uint16_t len;
	uint8_t present;
};

enum slp_opkind { OP_WRITE, OP_READ, OP_CLOSE };

/* A queued one-sided operation or our CLOSE, in posting order. */
struct slp_work {
	struct slp_work *next;
	enum slp_opkind kind;
	uint64_t stream_pos; /* stream bytes posted before this op: sent first */
	uint64_t wr_id;
	uint32_t msg_id, len, cut; /* cut: bytes already put into frames */
	uint64_t key, offset;
	uint8_t *wbuf;   /* write: our copy of the data */
	uint8_t *rbuf;   /* read: where the answer goes */
	uint32_t got;    /* read: bytes arrived */
	uint32_t last_seq;  /* write: seq of the last fragment */
	uint32_t fence;     /* write: peer tx_next to wait for (valid if fenced) */
	int fenced;
	int32_t status;
};

/* A frame we owe the peer that is not cut yet: NACK or read response. */
struct slp_ctrl {
	struct slp_ctrl *next;
	uint8_t type; /* SLP_NACK or SLP_RDMA_READ_RESP */
	uint16_t nack_op, nack_err;
	uint32_t msg_id;
	uint64_t key, offset; /* read response: source region */
	uint32_t len, cut;
	uint16_t abort_err; /* read response whose region went away: NACKs */
};

struct slp_region {
	struct slp_region *next;
	uint64_t key;
	uint8_t *addr;
	size_t len;
	unsigned access;
};

struct slp_conn {
	struct slp_engine *e;
	struct slp_conn *hnext;          /* hash chain */
	struct slp_conn *all_prev, *all_next;
	struct slp_conn *ev_next;        /* ready list */
	int on_ev_list;
	unsigned ev;
	void *user;
	uint32_t local_ep, peer_ep;
	uint8_t peer_mac[6];
	enum slp_state state;
	int error;
	int accepted; /* created by a listener */
	int offer_nocrc; /* our CONNECT/ACCEPT says SLP_CONN_NOCRC */
	int tx_nocrc;    /* the peer granted it: our frames go without CRC (F_NOCRC) */

	/* ---- sending ---- */
	struct slp_txslot *tx;       /* window slots, indexed seq & (cap-1) */
	uint32_t snd_una, snd_tx, snd_nxt; /* acked < una <= sent-once < tx <= cut < nxt */
	uint32_t high_sacked;        /* highest seq+1 SACKed, valid if have_sack */
	int have_sack;
	uint32_t peer_window;        /* frames beyond snd_una */
	uint16_t peer_max_payload;
	struct slp_bytes sndbuf;
	uint64_t stream_posted, stream_cut;
	struct slp_work *ops, **ops_tail;      /* not fully cut yet */
	struct slp_work *wait, **wait_tail;    /* writes cut, waiting for ack + fence */
	struct slp_work *reads;                /* read requests cut, waiting for data */
	struct slp_ctrl *ctrl, **ctrl_tail;
	uint32_t n_ctrl;
	uint32_t ctrl_frames;                /* frames the ctrl queue will still cut */
	uint32_t next_msg_id;
	uint32_t n_ops;                      /* posted ops + unreaped completions */
	int corked;  /* sndbuf holds a short tail from slp_send_direct: not cut
			until more bytes come or slp_engine_push() */
	int close_queued, fin_sent_seq_valid;
	uint32_t fin_seq;
	int want_writable;

	/* ---- timers ---- */
	uint32_t srtt_us, rttvar_us, rto_us;
	uint32_t retries;
	uint64_t stall_since;  /* first expiry of the current run without progress */
	uint64_t rto_deadline; /* 0 = not armed */
	int probing;
	/* After an RTO: the frames sent before it [.., rec_end) are resent
	 * from rec_next, rec_burst more per ACK that makes progress (doubling);
	 * rec_burst 0 = not recovering. */
	uint32_t rec_end, rec_next, rec_burst;
	uint64_t last_rx;      /* when the peer was last heard from */
	uint32_t ka_sent;      /* keepalive probes since then */
	uint64_t ka_next;      /* next probe, valid if ka_sent */

	/* ---- receiving ---- */
	struct slp_rxslot *rx;
	uint32_t rcv_nxt;
	uint32_t peer_tx_next;       /* highest tx_next the peer announced */
	struct slp_bytes rcvbuf;
	/* slp_conn_set_sink: in-order bytes go here first while rcvbuf is empty */
	ssize_t (*sink)(void *arg, const void *src, size_t len);
	void *sink_arg;
	uint8_t *post;               /* slp_recv_post's buffer (through the sink) */
	size_t post_len, post_got;
	int peer_fin;                /* peer's CLOSE processed */
	int ack_pending;
	int ack_urgent;               /* a duplicate, a hole or a probe: no waiting */
	uint32_t rcv_acked;          /* rcv_nxt as our last ACK (or piggyback) said */
	uint16_t adv_window;         /* last window we advertised */
	uint32_t last_nack_write;    /* msg id of the last write we refused */
	int nacked_any_write;

	/* ---- completions ---- */
	struct slp_completion *cq;   /* ring of SLP_MAX_OPS */
	uint32_t cq_head, cq_len;

	struct slp_region *regions;
	struct slp_conn_stats st;

	/* ---- authentication (engine auth on) ---- */
	uint32_t isn;                       /* our initial sequence number */
	uint8_t psk[SLP_AUTH_KEY_LEN];      /* the host pair's key */
	uint8_t key[SLP_AUTH_KEY_LEN];      /* this connection's (slp_auth_conn_key) */
	int keyed;
	uint64_t auth_ctr;                  /* nonce counter, our direction */
	int encrypt;                        /* payloads encrypted (SLP_CONN_ENCRYPT) */
	uint8_t enc_key[SLP_AUTH_KEY_LEN];  /* slp_auth_enc_key of key */
	uint64_t snd_ext, rcv_ext;          /* frame numbers of snd_nxt / rcv_nxt
					       counted from the ISN (64-bit: nonces) */
};

struct slp_listener {
	uint32_t ep;
	void *user;
	struct slp_listener *next;
};

struct slp_engine {
	struct slp_engine_cfg cfg;
	uint32_t cap;        /* window slots (power of two) */
	size_t frame_max;    /* Ethernet header + MTU */
	size_t max_payload;  /* DATA payload per frame */
	struct slp_conn *hash[SLP_HASH_BUCKETS];
	struct slp_conn *all;
	uint32_t n_conns;
	struct slp_listener *listeners;
	struct slp_conn *ev_head, *ev_tail;
	struct slp_stats st;
	uint8_t *scratch;    /* one frame for ACK/RESET/NACK building */
	uint8_t *plain;      /* one decrypted payload (encrypted connections) */
	uint32_t ref_gen;    /* bumped each time the engine calls cfg.tx_flush */
	int auth;            /* cfg.peer_key set: every frame carries a tag */
	int nocrc_ok;        /* frames may come without CRC: auth, or the carrier checksums */
	size_t trailer;      /* SLP_AUTH_TRAILER when auth, else 0 */
	uint32_t reset_tokens;  /* stateless RESETs we may still send (auth on) */
	uint64_t reset_refill;  /* when the bucket was last refilled */
	uint64_t now_frozen;    /* nonzero: slp_now() during an input batch */
};

/* Auth on: RESETs answering frames we cannot verify, per second (and burst). */
#define SLP_STATELESS_RESETS_PER_S 64

/* engine.c */
struct slp_conn *slp_conn_lookup(struct slp_engine *e, uint32_t local_ep, const uint8_t *mac,
				 uint32_t peer_ep);
void slp_conn_link(struct slp_conn *c);
void slp_conn_unlink(struct slp_conn *c);
void *slp_listener_user(struct slp_engine *e, uint32_t ep, int *found);
uint64_t slp_now(struct slp_engine *e);
void slp_mark(struct slp_conn *c, unsigned ev);
void slp_fail(struct slp_conn *c, int err); /* -> FAILED, completes all ops */
/* Send a frame built in a buffer with room for the auth trailer; c is the
 * connection it belongs to (NULL: none, e.g. a RESET for a stranger). */
void slp_transmit(struct slp_engine *e, struct slp_conn *c, uint8_t *frame, size_t len);
/* A window slot's frame: by reference when the driver allows it. */
void slp_transmit_slot(struct slp_conn *c, struct slp_txslot *s);
/* Before rewriting a slot's frame: make sure the driver no longer holds it. */
void slp_slot_reclaim(struct slp_engine *e, struct slp_txslot *s);
/* Before freeing slots: the driver sends what it holds. */
void slp_tx_release_refs(struct slp_engine *e);
void slp_send_reset(struct slp_engine *e, const uint8_t *mac, uint32_t src_ep, uint32_t dst_ep,
		    uint32_t echo_seq, uint16_t flags);
void slp_maybe_closed(struct slp_conn *c);
/* Only our CLOSE may be unacknowledged: every frame before it was (up to
 * `acked`), and we have the peer's CLOSE. A RESET acknowledging it, or its ACK never
 * coming (lost, and the peer's lingering over: TCP's LAST_ACK timing out
 * is silent too), ends the connection as CLOSED, not failed: nothing
 * either side sent is lost. 1 if it did. */
int slp_close_ends(struct slp_conn *c, uint32_t acked);

/* conn.c */
struct slp_conn *slp_conn_alloc(struct slp_engine *e, uint32_t local_ep, const uint8_t *mac,
				uint32_t peer_ep);
void slp_conn_on_connect(struct slp_engine *e, const struct slp_pkt *p);
void slp_conn_on_accept(struct slp_conn *c, const struct slp_pkt *p);
void slp_conn_on_reset(struct slp_conn *c, const struct slp_pkt *p);
/* Encrypt (sending) or decrypt (delivering) a payload in place or into dst. */
void slp_conn_crypt(struct slp_conn *c, int outgoing, uint64_t frame_no, uint8_t *dst,
		    const uint8_t *src, size_t len);
/* A CONNECT unanswered this many times goes again without SLP_CONN_NOCRC:
 * an older peer drops a CONNECT with a flag it does not know. */
#define SLP_NOCRC_OFFER_TRIES 2
/* Rebuild our unanswered CONNECT without the NOCRC offer. */
void slp_conn_withdraw_nocrc(struct slp_conn *c);
/* Accepted, but the peer has not acknowledged our ACCEPT yet. */
int slp_conn_half_open(const struct slp_conn *c);
#define SLP_HALF_OPEN_RETRIES 3 /* ACCEPT resends before an unconfirmed connection goes */
/* ... and no sooner than this after its CONNECT: a loaded connector may
 * take a while to answer (its process busy, its ACK lost once). */
#define SLP_HALF_OPEN_MIN_US 1000000

/* tx.c */
void slp_tx_pump(struct slp_conn *c);                 /* cut + send what the window allows */
/* Cut stream bytes straight from the caller's buffer into window slots
 * when nothing is queued ahead of them (skips the send buffer's copy);
 * returns how many were taken. whole: full frames only, leaving a short
 * tail. slp_tx_pump() sends them. */
size_t slp_tx_cut_direct(struct slp_conn *c, const uint8_t *buf, size_t len, int whole);
/* A corked tail (in sndbuf) and the head of buf as one full frame, if
 * the window allows; returns the bytes taken from buf (0: none). */
size_t slp_tx_cut_joined(struct slp_conn *c, const uint8_t *buf, size_t len);
/* The same one frame at a time: the payload space of the next slot (0 if
 * the direct path is closed), then seal n (> 0) bytes written there. */
size_t slp_tx_direct_room(struct slp_conn *c, uint8_t **dst);
void slp_tx_direct_seal(struct slp_conn *c, size_t n);
void slp_tx_on_ack(struct slp_conn *c, const struct slp_pkt *p); /* ack/sack/window */
void slp_tx_timer(struct slp_conn *c, uint64_t now);
int slp_tx_queue_ctrl(struct slp_conn *c, struct slp_ctrl *x);
void slp_tx_send_ack(struct slp_conn *c, int probe);
uint64_t slp_tx_keepalive_due(const struct slp_conn *c); /* UINT64_MAX = none */
void slp_tx_keepalive(struct slp_conn *c, uint64_t now);
void slp_tx_heard(struct slp_conn *c, uint64_t now); /* a valid frame arrived */
uint32_t slp_tx_announced_next(const struct slp_conn *c);
int slp_tx_all_acked(const struct slp_conn *c);

/* rx.c */
void slp_rx_frame(struct slp_conn *c, const struct slp_pkt *p, const uint8_t *frame, size_t len);
uint16_t slp_rx_window(struct slp_conn *c);
void slp_rx_after_read(struct slp_conn *c); /* deliver stalled frames, open the window */
/* stream_io.c: offer in-order payload to the sink; bytes it took */
size_t slp_rx_to_sink(struct slp_conn *c, const uint8_t *src, size_t len);

/* ops.c */
void slp_ops_process(struct slp_conn *c, const struct slp_pkt *p); /* in-order RDMA frames */
void slp_ops_check_fences(struct slp_conn *c);
void slp_cq_push(struct slp_conn *c, uint64_t wr_id, int32_t status, uint32_t op, uint64_t len);
void slp_ops_fail_all(struct slp_conn *c, int err);
void slp_ops_free_all(struct slp_conn *c);

/* regions.c */
struct slp_region *slp_region_find(struct slp_conn *c, uint64_t key);
/* 0, -EACCES (no such key / access) or -ERANGE; never overflows. */
int slp_region_check(struct slp_conn *c, uint64_t key, uint64_t off, uint64_t len,
		     unsigned access, uint8_t **where);
void slp_regions_free(struct slp_conn *c);

/* bytes ring */
int slp_bytes_init(struct slp_bytes *b, size_t cap);
void slp_bytes_free(struct slp_bytes *b);
size_t slp_bytes_put(struct slp_bytes *b, const void *src, size_t n);
size_t slp_bytes_get(struct slp_bytes *b, void *dst, size_t n);
/* Contiguous spans for in-place use: free space to write then commit, and
 * data to read then consume. */
size_t slp_bytes_free_span(struct slp_bytes *b, uint8_t **dst);
void slp_bytes_commit(struct slp_bytes *b, size_t n);
size_t slp_bytes_data_span(struct slp_bytes *b, const uint8_t **src);
void slp_bytes_consume(struct slp_bytes *b, size_t n);

#endif
