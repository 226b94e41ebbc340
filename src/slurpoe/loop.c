/* SPDX-License-Identifier: MIT */
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>

#define SLP_LOOP_EXPECT_SPIN_US 30

static uint64_t clock_cb(void *ctx)
{
	(void)ctx;
	return slp_clock_us();
}

int slp_loop_open(struct slp_loop *l, const struct slp_loop_opts *o)
{
	memset(l, 0, sizeof(*l));
	/* Busy-polling reads a ring it can look at without system calls. */
	unsigned flags = o->rawsock_flags | (o->busy_poll_us ? SLP_RS_RX_SPIN : 0);
	int err = o->why ? slp_rawsock_open_why(o->ifname, flags, &l->rs, o->why, o->why_len)
			 : slp_rawsock_open(o->ifname, flags, &l->rs);
	if (err)
		return err;
	if (o->impair && (err = slp_rawsock_impair(l->rs, o->impair, o->impair_seed))) {
		slp_rawsock_close(l->rs);
		return err;
	}
	struct slp_engine_cfg cfg = {
		.mtu = (uint16_t)slp_rawsock_mtu(l->rs),
		.window = o->window,
		.max_retries = o->max_retries,
		.rto_min_us = o->rto_min_us,
		.min_dead_us = o->min_dead_us,
		.stream_buf = o->stream_buf,
		.ack_at_turn_end = o->ack_at_turn_end,
		.carrier_checksums = slp_rawsock_checksums(l->rs),
		.peer_key = o->peer_key,
		.peer_encrypt = o->peer_encrypt,
		.key_ctx = o->key_ctx,
		.tx = slp_rawsock_tx,
		.tx_ref = slp_rawsock_tx_ref,
		.tx_flush = slp_rawsock_send_queued,
		.now_us = clock_cb,
		.ctx = l->rs,
	};
	memcpy(cfg.mac, slp_rawsock_mac(l->rs), 6);
	l->busy_poll_us = o->busy_poll_us;
	l->engine = slp_engine_new(&cfg);
	if (!l->engine) {
		slp_rawsock_close(l->rs);
		return -EINVAL;
	}
	return 0;
}

void slp_loop_close(struct slp_loop *l)
{
	if (l->engine) {
		slp_engine_free(l->engine);
		slp_rawsock_flush(l->rs);
	}
	slp_rawsock_close(l->rs);
	memset(l, 0, sizeof(*l));
}

int slp_loop_fd(const struct slp_loop *l) { return slp_rawsock_fd(l->rs); }

uint64_t slp_loop_deadline(const struct slp_loop *l)
{
	uint64_t a = slp_engine_next_deadline(l->engine), b = slp_rawsock_next_deadline(l->rs);
	return a < b ? a : b;
}

static void feed(void *arg, const void *frame, size_t len)
{
	slp_engine_input(arg, frame, len);
}

void slp_loop_process(struct slp_loop *l)
{
	/* Bounded batches keep timers and acks flowing under a flood. */
	for (int round = 0; round < 8; round++) {
		slp_rawsock_batch_begin(l->rs);
		slp_engine_clock_freeze(l->engine);
		int n = slp_rawsock_rx(l->rs, feed, l->engine, 256);
		slp_engine_clock_thaw(l->engine);
		slp_engine_tick(l->engine);
		slp_rawsock_flush(l->rs);
		if (n < 256)
			return;
	}
	slp_rawsock_batch_begin(l->rs);
	slp_engine_tick(l->engine);
	slp_rawsock_flush(l->rs);
}

/* Spin on the socket (and timers) up to us; 1 if a frame came. */
static int busy_poll(struct slp_loop *l, int timeout_ms, uint32_t us)
{
	uint64_t now = slp_clock_us(), end = now + us;
	if (timeout_ms >= 0 && (uint64_t)timeout_ms * 1000u < us)
		end = now + (uint64_t)timeout_ms * 1000u;
	do {
		int ready = slp_rawsock_rx_ready(l->rs);
		if (ready == 0 && slp_loop_deadline(l) > now) {
			/* A ring: looking costs no system call. Still yield
			 * each time (pausing instead, or yielding every 2nd or
			 * 8th look, measured slower: docs/slurpoe.md): on a busy
			 * host the peer, or the softirq writing our frame, may
			 * be waiting for this CPU. */
			sched_yield();
			now = slp_clock_us();
			continue;
		}
		slp_rawsock_batch_begin(l->rs);
		slp_engine_clock_freeze(l->engine);
		int n = slp_rawsock_rx(l->rs, feed, l->engine, 256);
		slp_engine_clock_thaw(l->engine);
		if (n > 0 || slp_loop_deadline(l) <= now) {
			slp_engine_tick(l->engine);
			slp_rawsock_flush(l->rs);
			if (n >= 256)
				slp_loop_process(l);
			return 1;
		}
		slp_rawsock_flush(l->rs);
		/* The frame we wait for may sit in a softirq deferred to
		 * ksoftirqd on this CPU: let it run. */
		sched_yield();
		now = slp_clock_us();
	} while (now < end);
	return 0;
}

/* push: the application's turn ends (it sends no more for now), so
 * short frames held back for its next bytes go too. */
static int turn(struct slp_loop *l, int timeout_ms, int push)
{
	slp_rawsock_batch_begin(l->rs);
	if (push)
		slp_engine_push(l->engine);
	slp_engine_flush_acks(l->engine);
	slp_rawsock_flush(l->rs);
	/* Frames the peer announced are on their way: waiting for them in
	 * poll() costs the sender a wake-up of this process per few frames
	 * (try_to_wake_up and an IPI, in a VM a VM exit), so spin briefly. */
	uint32_t spin = l->busy_poll_us;
	if (!spin && slp_engine_expecting(l->engine))
		spin = SLP_LOOP_EXPECT_SPIN_US;
	if (spin && busy_poll(l, timeout_ms, spin))
		return 0;
	uint64_t d = slp_loop_deadline(l);
	if (d != UINT64_MAX) {
		uint64_t now = slp_clock_us();
		int ms = d <= now ? 0 : (int)((d - now + 999) / 1000);
		if (timeout_ms < 0 || ms < timeout_ms)
			timeout_ms = ms;
	}
	struct pollfd pfd = {.fd = slp_loop_fd(l), .events = POLLIN};
	l->waits++;
	int r = poll(&pfd, 1, timeout_ms);
	if (r < 0 && errno != EINTR)
		return -errno;
	slp_loop_process(l);
	return 0;
}

int slp_loop_run_once(struct slp_loop *l, int timeout_ms) { return turn(l, timeout_ms, 1); }

static uint64_t end_of(int timeout_ms)
{
	return timeout_ms < 0 ? UINT64_MAX : slp_clock_us() + (uint64_t)timeout_ms * 1000u;
}

/* One turn of a blocking wait: -ETIMEDOUT once end has passed, else run
 * the loop (up to 100 ms). */
static int step(struct slp_loop *l, uint64_t end, int push)
{
	if (slp_clock_us() > end)
		return -ETIMEDOUT;
	return turn(l, 100, push);
}

int slp_loop_send_until(struct slp_loop *l, struct slp_conn *c, const void *buf, size_t len,
			uint64_t end)
{
	const uint8_t *p = buf;
	while (len) {
		slp_rawsock_batch_begin(l->rs);
		ssize_t r = slp_send_direct(c, p, len); /* buf stays ours until then */
		slp_rawsock_flush(l->rs);
		if (r > 0) {
			p += r;
			len -= (size_t)r;
			continue;
		}
		if (r != -EAGAIN)
			return (int)r;
		int err = step(l, end, 0); /* our next bytes join a held-back tail */
		if (err)
			return err;
	}
	return 0;
}

int slp_loop_send_all(struct slp_loop *l, struct slp_conn *c, const void *buf, size_t len,
		      int timeout_ms)
{
	return slp_loop_send_until(l, c, buf, len, end_of(timeout_ms));
}

ssize_t slp_loop_recv_some_until(struct slp_loop *l, struct slp_conn *c, void *buf, size_t len,
				 uint64_t end)
{
	for (;;) {
		ssize_t r = slp_recv(c, buf, len);
		if (r != -EAGAIN)
			return r;
		slp_recv_post(c, buf, len); /* what arrives meanwhile lands in buf */
		int err = step(l, end, 1);
		size_t got = slp_recv_unpost(c);
		if (got)
			return (ssize_t)got;
		if (err)
			return err;
	}
}

int slp_loop_recv_until(struct slp_loop *l, struct slp_conn *c, void *buf, size_t len,
			uint64_t end)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t r = slp_loop_recv_some_until(l, c, p, len, end);
		if (r == 0)
			return -EPIPE;
		if (r < 0)
			return (int)r;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int slp_loop_recv_all(struct slp_loop *l, struct slp_conn *c, void *buf, size_t len,
		      int timeout_ms)
{
	return slp_loop_recv_until(l, c, buf, len, end_of(timeout_ms));
}

int slp_loop_wait_until(struct slp_loop *l, struct slp_conn **c, int (*done)(void *),
			void *arg, uint64_t end)
{
	for (;;) {
		unsigned ev;
		struct slp_conn *x;
		while ((x = slp_engine_next_event(l->engine, &ev)))
			if ((ev & SLP_EV_ACCEPTED) && !*c)
				*c = x;
		if (done(arg))
			return 0;
		if (*c && slp_conn_state(*c) == SLP_ST_FAILED)
			return slp_conn_error(*c);
		int err = step(l, end, 1);
		if (err)
			return err;
	}
}

static int conn_open(void *arg)
{
	struct slp_conn **c = arg;
	return *c && slp_conn_state(*c) == SLP_ST_OPEN;
}

int slp_loop_wait_open(struct slp_loop *l, struct slp_conn **c, int timeout_ms)
{
	return slp_loop_wait_until(l, c, conn_open, c, end_of(timeout_ms));
}
