/* SPDX-License-Identifier: MIT */
/*
 * Zero-staging stream I/O for relays (stream_io.c, ivtd's bridge): the
 * sender's source writes into frames (slp_send_fill), the receiver's
 * frames go straight into a bounded "ring" (slp_conn_set_sink) and only
 * what it had no room for waits in the receive buffer (slp_recv_drain).
 * Every byte is checked against the pattern; a full ring must cost window,
 * never data; a vanished or resetting sender ends the stream after the
 * bytes that arrived, never with extra or missing ones before the error.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"

#define EP_SERVER 0x51e4a000u
#define RING 16384 /* the model ring: about a dozen frames at MTU 1500 */

static const struct sim_impair lossy = {.loss = 0.05, .dup = 0.01, .reorder = 0.25,
					.corrupt = 0.005, .delay_us = 50};

struct relay {
	struct sim_pair p;
	uint64_t total, sent;
	int stalled; /* the sender's last fill found no room (window or buffer) */
	int sender_off; /* its host went silent */
	/* the receiver's ring: a byte FIFO the reader empties read_step at a time */
	uint8_t ring[RING];
	size_t head, len;
	size_t read_step; /* 0: the reader is away */
	int in_drain;     /* the sink is called by slp_recv_drain, not a frame */
	uint64_t direct, drained, got;
	int bad, err, eof;
	uint8_t chk[RING];
};

static ssize_t fill(void *arg, void *dst, size_t room)
{
	struct relay *x = arg;
	uint64_t left = x->total - x->sent;
	size_t n = left < room ? (size_t)left : room;
	sim_pattern(x->sent, dst, n, 7);
	x->sent += n;
	return (ssize_t)n;
}

static ssize_t sink(void *arg, const void *src, size_t len)
{
	struct relay *x = arg;
	size_t n = RING - x->len < len ? RING - x->len : len;
	for (size_t i = 0; i < n; i++)
		x->ring[(x->head + x->len + i) % RING] = ((const uint8_t *)src)[i];
	x->len += n;
	if (x->in_drain)
		x->drained += n;
	else
		x->direct += n;
	return (ssize_t)n;
}

static void read_ring(struct relay *x)
{
	size_t n = x->len < x->read_step ? x->len : x->read_step;
	if (!n)
		return;
	sim_pattern(x->got, x->chk, n, 7);
	for (size_t i = 0; i < n; i++)
		x->bad |= x->ring[(x->head + i) % RING] != x->chk[i];
	x->head = (x->head + n) % RING;
	x->len -= n;
	x->got += n;
}

/* One turn of both applications; 1 when the stream is through or ended. */
static int step(struct sim *s, void *arg)
{
	struct relay *x = arg;
	unsigned ev;
	struct slp_conn *c;
	for (int i = 0; i < 2; i++)
		while ((c = slp_engine_next_event(sim_engine(s, i), &ev)))
			if ((ev & SLP_EV_ERROR) && c == x->p.c[0])
				x->err = slp_conn_error(c);
	while (x->p.c[1] && !x->sender_off && x->sent < x->total) {
		ssize_t last;
		ssize_t r = slp_send_fill(x->p.c[1], fill, x, &last);
		x->stalled = r == -EAGAIN;
		if (r <= 0 || last < 0) {
			x->bad |= r < 0 && r != -EAGAIN;
			break;
		}
	}
	ssize_t r;
	do {
		x->in_drain = 1;
		r = slp_recv_drain(x->p.c[0], sink, x);
		x->in_drain = 0;
	} while (r > 0);
	if (r == 0)
		x->eof = 1;
	else if (r != -EAGAIN)
		x->err = (int)r;
	read_ring(x);
	return x->err || x->eof || (x->got == x->total && x->total);
}

static struct relay *relay_open(uint64_t seed, uint64_t total, size_t read_step)
{
	static struct relay x; /* 40 KiB: not on the stack */
	memset(&x, 0, sizeof(x));
	x.p.s = sim_new(seed, &lossy, 1500, 512);
	assert_non_null(x.p.s);
	assert_int_equal(sim_pair_connect(&x.p, EP_SERVER, 5000000), 1);
	slp_conn_set_sink(x.p.c[0], sink, &x);
	x.total = total;
	x.read_step = read_step;
	return &x;
}

/* A ring that is often full: the bytes take both ways (straight from the
 * frame, and from the receive buffer once the ring drained), in order. */
static void test_both_paths_every_byte(void **state)
{
	(void)state;
	struct relay *x = relay_open(21, 8u << 20, 4096);
	assert_int_equal(sim_run(x->p.s, step, x, 600000000), 1);
	assert_false(x->bad);
	assert_int_equal(x->err, 0);
	assert_int_equal(x->got, x->total);
	assert_true(x->direct > 0);
	assert_true(x->drained > 0);
	assert_int_equal(x->direct + x->drained, x->total);
	printf("# %llu bytes straight from frames, %llu through the receive buffer\n",
	       (unsigned long long)x->direct, (unsigned long long)x->drained);
	sim_pair_close(&x->p);
}

/* Nobody reads: the ring fills, then the receive buffer, then the window
 * closes and the sender waits. Nothing is lost: once reading resumes,
 * every byte arrives. */
static void test_ring_full_backpressure(void **state)
{
	(void)state;
	struct relay *x = relay_open(22, 32u << 20, 0);
	assert_int_equal(sim_run(x->p.s, step, x, 3000000), 0); /* 3 s, no progress */
	assert_int_equal(x->len, RING);
	assert_int_equal(x->got, 0);
	assert_true(x->stalled);
	assert_true(x->sent < x->total);
	assert_int_equal(x->err, 0);
	assert_int_equal(slp_conn_state(x->p.c[0]), SLP_ST_OPEN);
	x->read_step = 8192;
	assert_int_equal(sim_run(x->p.s, step, x, 600000000), 1);
	assert_false(x->bad);
	assert_int_equal(x->got, x->total);
	sim_pair_close(&x->p);
}

/* The sender goes away mid-stream, its host silent (cut) or its process
 * gone without closing (RESET): the receiver keeps every byte that
 * arrived (all checked, the ring read empty) and then fails with err. */
static void sender_goes(uint64_t seed, int cut, int err)
{
	struct relay *x = relay_open(seed, 64u << 20, 8192);
	sim_run(x->p.s, step, x, 20000);
	assert_true(x->got > 0 && x->got < x->total);
	if (cut) {
		sim_cut(x->p.s, 1);
		x->sender_off = 1;
	} else {
		slp_conn_free(x->p.c[1]);
		x->p.c[1] = NULL;
	}
	assert_int_equal(sim_run(x->p.s, step, x, 60000000), 1);
	assert_int_equal(x->err, err);
	while (x->len) /* the rest of what arrived, checked too */
		read_ring(x);
	assert_false(x->bad);
	sim_pair_close(&x->p);
}

static void test_sender_vanishes(void **state)
{
	(void)state;
	sender_goes(23, 1, -ETIMEDOUT);
}

static void test_sender_resets(void **state)
{
	(void)state;
	sender_goes(24, 0, -ECONNRESET);
}

/* The sink cleared mid-stream (the bridge's ring went away): the rest
 * waits in the receive buffer for slp_recv_drain, in order. */
static void test_sink_cleared(void **state)
{
	(void)state;
	struct relay *x = relay_open(25, 4u << 20, 8192);
	sim_run(x->p.s, step, x, 20000);
	uint64_t direct = x->direct;
	assert_true(direct > 0);
	slp_conn_set_sink(x->p.c[0], NULL, NULL);
	assert_int_equal(sim_run(x->p.s, step, x, 600000000), 1);
	assert_false(x->bad);
	assert_int_equal(x->got, x->total);
	assert_int_equal(x->direct, direct);
	sim_pair_close(&x->p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_paths_every_byte),
		cmocka_unit_test(test_ring_full_backpressure),
		cmocka_unit_test(test_sender_vanishes),
		cmocka_unit_test(test_sender_resets),
		cmocka_unit_test(test_sink_cleared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
