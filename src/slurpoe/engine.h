/* SPDX-License-Identifier: MIT */
/*
 * The SLURPoE protocol engine: reliable streams and one-sided RDMA over
 * raw Ethernet frames, with no sockets and no threads inside.
 *
 * The driver (a poll loop, ivtd's libevent loop, a simulated wire) owns I/O:
 *   - every received frame goes to slp_engine_input();
 *   - frames to send come out through cfg.tx (called synchronously);
 *   - the engine reads the time through cfg.now_us;
 *   - after a batch of input, and whenever slp_engine_next_deadline() has
 *     passed, call slp_engine_tick() (timers, delayed ACKs);
 *   - connections with news are popped with slp_engine_next_event().
 * Many connections (endpoints) share one engine and one NIC; frames are
 * demultiplexed by (dst endpoint, source MAC, source endpoint).
 *
 * Not thread-safe: one engine belongs to one thread (or one lock).
 * Errors are negative errno values.
 */
#ifndef SLURPOE_ENGINE_H
#define SLURPOE_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct slp_engine;
struct slp_conn;

struct slp_engine_cfg {
	uint8_t mac[6];        /* our address: source of every frame */
	uint16_t mtu;          /* link MTU (bytes after the Ethernet header), >= 256 */
	uint16_t window;       /* frames in flight per direction, power of two <= 4096 */
	uint32_t rto_min_us;   /* 0 = 2000 */
	uint32_t rto_max_us;   /* 0 = 1000000 */
	uint32_t max_retries;  /* RTOs without progress before -ETIMEDOUT; 0 = 12 */
	size_t stream_buf;     /* stream bytes buffered per direction; 0 = 4 MiB */
	uint32_t max_conns;    /* 0 = 1024 */
	int no_reset;          /* don't answer unknown endpoints with RESET (several
				  engines share the NIC) */
	int ack_at_turn_end;   /* pure ACKs wait for slp_engine_flush_acks() (the
				  driver calls it before it sleeps), so a reply
				  written meanwhile carries the ACK; see below */
	int carrier_checksums; /* the carrier checksums every frame end to end (the
				  UDP carrier: rawsock's slp_rawsock_checksums()):
				  peers may send without the CRC (SLP_CONN_NOCRC).
				  With peer_key that is always allowed: the tag is
				  strictly stronger (docs/slurpoe.md) */
	void (*tx)(void *ctx, const void *frame, size_t len);
	/* Optional, together: like tx, but the driver keeps a reference to the
	 * frame (window slots) instead of copying it. The engine leaves such a
	 * frame untouched, and its memory allocated, until the driver has sent
	 * it: before it would rewrite or free one it calls tx_flush (and the
	 * driver sends whatever it holds at the end of each turn anyway). */
	void (*tx_ref)(void *ctx, const void *frame, size_t len);
	void (*tx_flush)(void *ctx);
	/* Optional: authenticate every frame (docs/remote.md, trust model).
	 * Returns 0 with the 32-byte key shared with the host at mac, or
	 * -ENOENT: its frames are dropped (rx_auth_fail), connecting to it
	 * gives -EACCES. Unverifiable frames are never answered. */
	int (*peer_key)(void *key_ctx, const uint8_t mac[6], uint8_t key[32]);
	/* Optional, with peer_key: nonzero when connections with the host at
	 * mac must also be confidential (payloads encrypted). Either side
	 * asking is enough; a peer that cannot is refused. */
	int (*peer_encrypt)(void *key_ctx, const uint8_t mac[6]);
	void *key_ctx;
	uint32_t max_half_open;     /* accepted, ACCEPT not yet acknowledged; 0 = 64 */
	uint32_t max_conns_per_peer; /* connections per peer address; 0 = 256 */
	uint64_t (*now_us)(void *ctx); /* monotonic microseconds */
	/* Optional: random numbers for sequence numbers and endpoint ids (keys
	 * always come from getrandom(), they must be unguessable). */
	uint64_t (*random)(void *ctx);
	void *ctx;
	/* An open connection that has heard nothing from its peer for this
	 * long, with nothing of ours in flight, sends keepalive probes (ACK |
	 * PROBE) on an RTO backoff; max_retries unanswered probes fail it with
	 * -ETIMEDOUT. Without them a side that only receives would never learn
	 * that its peer vanished (or that the peer's RESET was lost).
	 * 0 = 500000. */
	uint32_t keepalive_us;
	/* A peer is declared dead (-ETIMEDOUT) after max_retries expirations
	 * (or unanswered keepalive probes) without progress AND no sooner
	 * than this long after it stalled (went quiet): the engine lives in
	 * its process, so a peer process that only stopped running its loop
	 * for a while (busy with other work) answers once it runs again.
	 * Half-open connections are not given this grace. 0 = none (the
	 * retry budget alone: a few seconds with the default RTO bounds). */
	uint32_t min_dead_us;
};

enum slp_state {
	SLP_ST_CONNECTING = 1,
	SLP_ST_OPEN,    /* established */
	SLP_ST_CLOSED,  /* both directions finished gracefully */
	SLP_ST_FAILED,  /* see slp_conn_error(): -ETIMEDOUT, -ECONNRESET, ... */
};

/* Event bits returned by slp_engine_next_event(). */
enum slp_event {
	SLP_EV_ACCEPTED = 1u << 0,  /* new connection on a listening endpoint */
	SLP_EV_CONNECTED = 1u << 1, /* our slp_connect() completed */
	SLP_EV_READABLE = 1u << 2,  /* stream bytes (or EOF) to slp_recv() */
	SLP_EV_WRITABLE = 1u << 3,  /* stream buffer space freed after -EAGAIN */
	SLP_EV_COMPLETION = 1u << 4,/* slp_poll_cq() has entries */
	SLP_EV_CLOSED = 1u << 5,    /* state reached CLOSED */
	SLP_EV_ERROR = 1u << 6,     /* state reached FAILED */
};

enum slp_access { SLP_ACCESS_WRITE = 1u << 0, SLP_ACCESS_READ = 1u << 1 };
enum slp_op { SLP_OP_WRITE = 1, SLP_OP_READ = 2 }; /* = IVT_OP_RDMA_* */

struct slp_completion {
	uint64_t wr_id;
	int32_t status; /* 0, -EACCES (bad key/access), -ERANGE (bounds), -ETIMEDOUT, -ECONNRESET */
	uint32_t opcode;
	uint64_t len;
};

/* Engine-wide counters; every dropped frame is counted exactly once. */
struct slp_stats {
	uint64_t rx_frames, tx_frames, rx_bytes, tx_bytes;
	uint64_t rx_bad[8];         /* by enum slp_parse_err (short, ethertype, version, type,
				       length, crc, field) */
	uint64_t rx_not_for_us;     /* destination MAC is not ours */
	uint64_t rx_unknown_ep;     /* no connection/listener for the endpoint triple */
	uint64_t rx_bad_state;      /* valid frame the connection state does not allow */
	uint64_t rx_out_of_window;  /* sequence or ack outside the window */
	uint64_t rx_duplicate;
	uint64_t rx_proto_error;    /* valid frame, impossible content (unknown msg id...) */
	uint64_t retransmits, fast_retransmits, rto_expirations;
	uint64_t nacks_sent, nacks_received, resets_sent, resets_received;
	uint64_t conns_refused;
	uint64_t keepalives_sent;   /* probes to a peer that had gone quiet */
	uint64_t rx_auth_fail;      /* authentication on: missing or wrong tag, unknown key */
	uint64_t half_open_refused; /* CONNECTs over max_half_open / max_conns_per_peer */
	uint64_t half_open_expired; /* accepted connections whose peer never confirmed */
	uint64_t resets_limited;    /* stateless RESETs not sent: over the rate limit */
};

struct slp_engine *slp_engine_new(const struct slp_engine_cfg *cfg);
void slp_engine_free(struct slp_engine *e); /* frees all connections, sends nothing */

void slp_engine_input(struct slp_engine *e, const void *frame, size_t len);
/* Between freeze and thaw the engine reads cfg.now_us once (at freeze) instead
 * of twice per frame: for one batch of received frames (slp_loop_process
 * does), whose processing takes far less than the RTO's 2 ms floor. A
 * clock read costs ~35 ns here, 4 % of a 1500-byte frame's CPU. */
void slp_engine_clock_freeze(struct slp_engine *e);
/* 1 if an open connection's peer announced frames (tx_next) we have not
 * received yet: they are on their way, or lost. */
int slp_engine_expecting(const struct slp_engine *e);
void slp_engine_clock_thaw(struct slp_engine *e);
void slp_engine_tick(struct slp_engine *e);
/* With cfg.ack_at_turn_end, tick leaves owed ACKs alone: the driver calls
 * this once the application has had its turn (before waiting again), and
 * any frame sent in that turn carried the ACK already. Never delays a
 * sender by more than the receiving application's turn. A no-op without
 * the option (tick has sent them). */
void slp_engine_flush_acks(struct slp_engine *e);
/* Send the short frames slp_send_direct held back (end of the turn). */
void slp_engine_push(struct slp_engine *e);
/* Absolute time (cfg.now_us clock) when tick is next due, UINT64_MAX if
 * nothing is pending. */
uint64_t slp_engine_next_deadline(struct slp_engine *e);
/* Pop one connection with pending events (bits in *events), NULL if none. */
struct slp_conn *slp_engine_next_event(struct slp_engine *e, unsigned *events);
const struct slp_stats *slp_engine_stats(const struct slp_engine *e);
/* Whether every frame is authenticated (cfg.peer_key set). */
int slp_engine_authenticates(const struct slp_engine *e);
/* Largest stream/RDMA payload per frame for this engine's MTU. */
size_t slp_engine_max_payload(const struct slp_engine *e);

/* Accept connections to endpoint ep (nonzero); user is copied to every
 * accepted connection. -EEXIST if already listening. */
int slp_listen(struct slp_engine *e, uint32_t ep, void *user);
int slp_unlisten(struct slp_engine *e, uint32_t ep);

/* Start connecting to (mac, peer_ep) from local endpoint local_ep (0 =
 * pick one). Completes with SLP_EV_CONNECTED or SLP_EV_ERROR. */
int slp_connect(struct slp_engine *e, const uint8_t mac[6], uint32_t peer_ep,
		uint32_t local_ep, void *user, struct slp_conn **out);

/* Stream: bytes queued (>0) / -EAGAIN full / -EPIPE after close / error. */
ssize_t slp_send(struct slp_conn *c, const void *buf, size_t len);
/* >0 bytes, -EAGAIN nothing yet, 0 end of stream, or the connection error. */
ssize_t slp_recv(struct slp_conn *c, void *buf, size_t len);
size_t slp_send_space(const struct slp_conn *c);
/* slp_send for a caller that keeps buf until it is taken (a blocking
 * send): takes only what goes straight into frames the peer's window
 * allows now, never into the send buffer (one copy less per byte), so
 * -EAGAIN when the window is full or slp_send() bytes are still queued;
 * try again after the engine processed input. No SLP_EV_WRITABLE.
 * A short last frame is held back (corked) until the next call fills it,
 * or slp_engine_push(): the driver calls that at the end of the
 * application's turn (slp_loop_run_once does). */
ssize_t slp_send_direct(struct slp_conn *c, const void *buf, size_t len);
/* Receive straight into buf (a sink, slp_conn_set_sink, that copies):
 * while it is posted, in-order stream bytes that arrive with nothing
 * buffered ahead of them are copied there instead of into the receive
 * buffer (and out of it again by slp_recv), up to len; the rest is
 * buffered as usual and comes after them. Post after slp_recv returned
 * -EAGAIN; it replaces any sink. Before buf goes away,
 * slp_recv_unpost() takes it back (and clears the sink) and returns how
 * many bytes (from buf[0]) it got; they count as read, with no
 * SLP_EV_READABLE for them. */
void slp_recv_post(struct slp_conn *c, void *buf, size_t len);
size_t slp_recv_unpost(struct slp_conn *c);

/* Zero-staging stream I/O for relays (ivtd's bridge): the caller's source
 * writes straight into frames, and its sink reads straight out of the
 * receive buffer.
 *
 * slp_send_fill calls fill(arg, dst, room) with the payload of the next
 * frame (or, with bytes already queued, free send-buffer space) until fill
 * returns less than room, <= 0, or room runs out. fill returns bytes
 * written, or 0 / -errno (-EAGAIN: nothing now), stored in *fill_rc.
 * Returns bytes taken (>= 0; *fill_rc says why it stopped), -EAGAIN when
 * there was no room at all (SLP_EV_WRITABLE follows), -EPIPE after close,
 * or the connection error.
 *
 * slp_recv_drain hands buffered stream bytes to sink(arg, src, len) in
 * place, consuming what it returns (>= 0; less than len stops). Returns
 * bytes consumed (> 0), -EAGAIN (nothing buffered, or the sink took
 * nothing), 0 at end of stream, or the connection error; a sink error
 * (< 0) is returned as is when nothing was consumed. */
ssize_t slp_send_fill(struct slp_conn *c, ssize_t (*fill)(void *arg, void *dst, size_t room),
		      void *arg, ssize_t *fill_rc);
ssize_t slp_recv_drain(struct slp_conn *c,
		       ssize_t (*sink)(void *arg, const void *src, size_t len), void *arg);
/* The receiving half without even the receive buffer: while a sink is
 * set, the payload of each in-order DATA frame goes to sink(arg, src, len)
 * as the frame is taken, whenever the receive buffer is empty (so order
 * holds). What the sink does not take (it returns less than len, 0, or
 * -errno) goes into the receive buffer as before, for slp_recv_drain;
 * SLP_EV_READABLE is raised only then. The frame is acknowledged either
 * way: it was accepted only because the receive buffer had room for all
 * of it, so a full sink (a full ring) costs window, never data. The sink
 * runs inside slp_engine_input (or a timer's redelivery) and must not
 * call into the engine. NULL clears it. */
void slp_conn_set_sink(struct slp_conn *c,
		       ssize_t (*sink)(void *arg, const void *src, size_t len), void *arg);

/* Regions are per connection: a key is only valid on the connection that
 * registered it. Keys are random 64-bit values. */
int slp_register_region(struct slp_conn *c, void *addr, size_t len, unsigned access,
			uint64_t *key);
int slp_deregister_region(struct slp_conn *c, uint64_t key);

/* One-sided operations, completed through slp_poll_cq(). write copies buf;
 * read fills buf, which must stay valid until its completion. -EAGAIN when
 * too many operations are outstanding, -EMSGSIZE beyond 1 GiB. */
int slp_rdma_write(struct slp_conn *c, const void *buf, size_t len, uint64_t key,
		   uint64_t offset, uint64_t wr_id);
int slp_rdma_read(struct slp_conn *c, void *buf, size_t len, uint64_t key, uint64_t offset,
		  uint64_t wr_id);
int slp_poll_cq(struct slp_conn *c, struct slp_completion *out, int max);

/* Graceful close of our direction: the peer reads everything, then EOF.
 * The connection reaches CLOSED once the peer closed too. */
int slp_close(struct slp_conn *c);
/* Release the handle. If not CLOSED/FAILED, the peer gets a RESET. */
void slp_conn_free(struct slp_conn *c);

/* Would slp_recv return something other than -EAGAIN? */
int slp_conn_readable(const struct slp_conn *c);
/* Everything we queued (stream, ops, CLOSE) is sent and acknowledged. */
int slp_conn_tx_idle(const struct slp_conn *c);
/* The peer's CLOSE arrived: its stream is finished (the engine keeps
 * ours open, half-closed, as TCP does). */
int slp_conn_peer_closed(const struct slp_conn *c);
/* Several engines share one NIC (one per process): don't RESET frames
 * for endpoints this engine doesn't know. */
void slp_engine_set_no_reset(struct slp_engine *e, int on);

enum slp_state slp_conn_state(const struct slp_conn *c);
int slp_conn_error(const struct slp_conn *c);
void *slp_conn_user(const struct slp_conn *c);
void slp_conn_set_user(struct slp_conn *c, void *user);
uint32_t slp_conn_local_ep(const struct slp_conn *c);
uint32_t slp_conn_peer_ep(const struct slp_conn *c);
/* The peer's MAC address (6 bytes, valid while c is): who an accepted
 * connection came from. */
const uint8_t *slp_conn_peer_mac(const struct slp_conn *c);

struct slp_conn_stats {
	uint64_t bytes_sent, bytes_received, frames_sent, frames_received, retransmits;
	uint32_t srtt_us, rto_us, peer_window;
};
void slp_conn_stats(const struct slp_conn *c, struct slp_conn_stats *st);

#endif
