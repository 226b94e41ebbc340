/* SPDX-License-Identifier: MIT */
/*
 * A minimal driver joining one engine to one raw socket with poll(): what
 * slurpoe-peer, the benchmark and the plugin use, and the model for ivtd
 * (which does the same from libevent: EV_READ on slp_loop_fd(), a timer
 * at slp_loop_deadline(), and slp_loop_process() on either).
 */
#ifndef SLURPOE_LOOP_H
#define SLURPOE_LOOP_H

#include "engine.h"
#include "rawsock.h"

struct slp_loop {
	struct slp_engine *engine;
	struct slp_rawsock *rs;
	uint64_t waits;   /* poll() calls made by slp_loop_run_once */
	uint32_t busy_poll_us;
};

struct slp_loop_opts {
	const char *ifname;
	unsigned rawsock_flags;   /* SLP_RS_* */
	const char *impair;       /* NULL or slp_rawsock_impair() spec */
	uint64_t impair_seed;
	uint32_t max_retries;     /* 0 = engine default */
	uint32_t rto_min_us;      /* 0 = engine default */
	uint32_t min_dead_us;     /* slp_engine_cfg.min_dead_us (0: none) */
	uint16_t window;          /* 0 = engine default */
	size_t stream_buf;        /* 0 = engine default */
	int ack_at_turn_end;      /* slp_engine_cfg.ack_at_turn_end: run_once flushes */
	uint32_t busy_poll_us;    /* run_once spins this long on the socket before
				     sleeping in poll(): latency for a core */
	/* slp_engine_cfg.peer_key/key_ctx: authenticate every frame */
	int (*peer_key)(void *key_ctx, const uint8_t mac[6], uint8_t key[32]);
	int (*peer_encrypt)(void *key_ctx, const uint8_t mac[6]); /* optional */
	void *key_ctx;
	char *why;                /* optional: why opening failed */
	size_t why_len;
};

int slp_loop_open(struct slp_loop *l, const struct slp_loop_opts *o);
void slp_loop_close(struct slp_loop *l);
int slp_loop_fd(const struct slp_loop *l);
/* Absolute CLOCK_MONOTONIC microseconds of the next timer, UINT64_MAX none. */
uint64_t slp_loop_deadline(const struct slp_loop *l);
/* Receive what is waiting, run timers, send what is queued. */
void slp_loop_process(struct slp_loop *l);
/* End of the application's turn: send the ACKs it did not piggyback
 * (ack_at_turn_end) and the short frames slp_loop_send_* held back for
 * its next bytes (slp_engine_push), then wait up to timeout_ms (-1: until something
 * happens; busy-polling first if asked) and process. */
int slp_loop_run_once(struct slp_loop *l, int timeout_ms);



/* Blocking conveniences for tools and tests (not for ivtd, which never
 * blocks): run the loop until done, the connection fails, or timeout_ms
 * passes (-ETIMEDOUT). Sending cuts frames straight from buf
 * (slp_send_direct) and holds a short last frame back for the next send;
 * the next slp_loop_run_once (any receive or wait) sends it. Receiving
 * posts buf (slp_recv_post). */
int slp_loop_send_all(struct slp_loop *l, struct slp_conn *c, const void *buf, size_t len,
		      int timeout_ms);
/* Exactly len bytes; -EPIPE on end of stream before that. */
int slp_loop_recv_all(struct slp_loop *l, struct slp_conn *c, void *buf, size_t len,
		      int timeout_ms);
/* Wait for a connection on a listening endpoint (or, with *c set, for it
 * to open). */
int slp_loop_wait_open(struct slp_loop *l, struct slp_conn **c, int timeout_ms);

/* The same with an absolute deadline end (slp_clock_us(), UINT64_MAX
 * none), for a tool that gives its whole run one time limit. */
int slp_loop_send_until(struct slp_loop *l, struct slp_conn *c, const void *buf, size_t len,
			uint64_t end);
int slp_loop_recv_until(struct slp_loop *l, struct slp_conn *c, void *buf, size_t len,
			uint64_t end);
/* What is there, at most len bytes: > 0, 0 at end of stream, or -errno. */
ssize_t slp_loop_recv_some_until(struct slp_loop *l, struct slp_conn *c, void *buf, size_t len,
				 uint64_t end);
/* Until done(arg) holds, taking the first accepted connection into *c if
 * it is NULL; *c failing ends the wait with its error. */
int slp_loop_wait_until(struct slp_loop *l, struct slp_conn **c, int (*done)(void *),
			void *arg, uint64_t end);
#endif
