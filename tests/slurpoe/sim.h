/* SPDX-License-Identifier: MIT */
/* A simulated Ethernet link between two SLURPoE engines: virtual clock,
 * seeded PRNG, loss, duplication, reordering and corruption. */
#ifndef SLURPOE_TEST_SIM_H
#define SLURPOE_TEST_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "slurpoe/engine.h"

struct sim_impair {
	double loss, dup, reorder, corrupt; /* probabilities per frame */
	uint32_t delay_us;                  /* one-way base delay */
	uint32_t frame_us;                  /* serialization: each frame holds its direction this
					       long, so a burst arrives frame by frame (0: at once) */
};

struct sim;

struct sim *sim_new(uint64_t seed, const struct sim_impair *imp, uint16_t mtu, uint16_t window);
/* The same with frame authentication: side i uses key_i (32 bytes; NULL:
 * no authentication on that side) for the other side's address. */
struct sim *sim_new_auth(uint64_t seed, const struct sim_impair *imp, uint16_t mtu,
			 uint16_t window, const uint8_t *key0, const uint8_t *key1);
/* Side i asks for confidentiality with the other (keyed sides only). */
void sim_set_encrypt(struct sim *s, int side, int on);
/* Side i's engine is told its carrier checksums (cfg.carrier_checksums;
 * a new engine: call before connecting). The simulated link still
 * corrupts what sim_impair says: use it without .corrupt. */
void sim_set_carrier_checksums(struct sim *s, int side, int on);
/* Both engines get cfg.ack_at_turn_end (new engines: call before
 * connecting), and sim_run calls slp_engine_flush_acks() after each step,
 * as slp_loop and ivtd do after the application's turn. */
void sim_set_turn_acks(struct sim *s, int on);
/* Drop every CONNECT that offers SLP_CONN_NOCRC, as an engine from before
 * the flag does (it refuses unknown flags). */
void sim_drop_nocrc_offers(struct sim *s, int on);
void sim_free(struct sim *s);
struct slp_engine *sim_engine(struct sim *s, int side);
const uint8_t *sim_mac(int side);
uint64_t sim_now(struct sim *s);
uint64_t sim_rand(struct sim *s);
/* Side `side` stops sending and receiving (a killed peer). */
void sim_cut(struct sim *s, int side);
/* Side `side` stops running its engine for us (a busy process): frames
 * to it wait in its socket, its timers stop. The caller's step() must
 * leave that side alone meanwhile. */
void sim_pause(struct sim *s, int side, uint64_t us);
int sim_paused(struct sim *s, int side);
/* Side `side` restarts: a new engine (same address, same key) that knows
 * no connection. Its connection handles are gone. */
void sim_restart(struct sim *s, int side);
void sim_set_impair(struct sim *s, const struct sim_impair *imp);
/* Make the engines' random() return values near 2^32 (sequence wrap). */
void sim_near_wrap(struct sim *s, int on);
/* Inject a frame as if side `from` had sent it to the other side. */
void sim_inject(struct sim *s, int to, const void *frame, size_t len);

/* Advance the simulation: deliver due frames, tick engines, call step()
 * (the applications) until it returns nonzero or limit_us of virtual time
 * passed. Returns step's result, 0 on timeout. */
int sim_run(struct sim *s, int (*step)(struct sim *s, void *arg), void *arg, uint64_t limit_us);

/* Deterministic payload: byte at stream offset i. */
void sim_pattern(uint64_t off, uint8_t *buf, size_t len, uint64_t salt);

/* Two engines and one connection between them: side 0 listens on ep,
 * side 1 connects. */
struct sim_pair {
	struct sim *s;
	struct slp_conn *c[2]; /* [0] server (accepted), [1] client */
	int err;               /* the client's error, if connecting failed */
};
/* Listen + connect on p->s and run until both ends are open: 1, or -1 when
 * the client failed (p->err), 0 when limit_us passed. */
int sim_pair_connect(struct sim_pair *p, uint32_t ep, uint64_t limit_us);
/* The second half of sim_pair_connect: run until both ends are open. */
int sim_pair_wait(struct sim_pair *p, uint64_t limit_us);
void sim_pair_close(struct sim_pair *p); /* frees both ends and the sim */

/* A one-way stream of `total` pattern bytes (salt 7) from the client
 * (c[1]) to the server (c[0]): set p and total, then sim_run with
 * sim_oneway_step until it returns 1. A paused side is left alone. bad:
 * a byte differed or a send failed. */
struct sim_oneway {
	struct sim_pair *p;
	uint64_t total, sent, got;
	int bad;
	size_t post;       /* > 0: the receiver posts pbuf[0..post) when it ran dry */
	size_t msg;        /* bytes per send (0: sizeof buf) */
	int direct;        /* slp_send_direct, then slp_engine_push (unless no_push) */
	int no_push;
	uint64_t got_posted; /* bytes that came through it */
	uint8_t buf[65536], chk[65536], pbuf[65536];
};
int sim_oneway_step(struct sim *s, void *arg);

struct sim_counters {
	uint64_t sent, dropped, duplicated, corrupted, reordered;
	uint64_t nocrc[2]; /* frames side i sent without CRC (F_NOCRC) */
};
void sim_counters(struct sim *s, struct sim_counters *c);

#endif
