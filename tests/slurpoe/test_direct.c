/* SPDX-License-Identifier: MIT */
/*
 * slp_send_direct: frames cut straight from the caller's buffer, never
 * into the send buffer, and a short last frame held back (corked) until
 * the next call fills it or slp_engine_push() ends the turn.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim.h"
#include "slurpoe/engine_int.h" /* white-box: the send buffer */

#define EP 0x5e77e700u

static const struct sim_impair lossy = {.loss = 0.05, .dup = 0.01, .reorder = 0.25,
					.corrupt = 0.005, .delay_us = 50};
static const struct sim_impair clean = {.delay_us = 50};

struct direct {
	struct sim_pair *p;
	size_t msg;         /* bytes per slp_send_direct call */
	uint64_t total, sent, got;
	int bad, push;      /* push: end every turn with slp_engine_push */
	uint8_t buf[70000], chk[70000], rbuf[65536];
};

static int step_direct(struct sim *s, void *arg)
{
	struct direct *x = arg;
	unsigned ev;
	for (int i = 0; i < 2; i++)
		while (slp_engine_next_event(sim_engine(s, i), &ev))
			;
	while (x->sent < x->total) {
		size_t n = x->total - x->sent < x->msg ? x->total - x->sent : x->msg;
		sim_pattern(x->sent, x->buf, n, 9);
		ssize_t r = slp_send_direct(x->p->c[1], x->buf, n);
		if (r == -EAGAIN)
			break;
		if (r <= 0) {
			x->bad = 1;
			return 1;
		}
		x->sent += (uint64_t)r;
		/* Never through the send buffer, but for a short tail. */
		if (x->p->c[1]->sndbuf.len >= x->p->c[1]->peer_max_payload)
			x->bad = 1;
	}
	if (x->push)
		slp_engine_push(sim_engine(s, 1));
	ssize_t r;
	while ((r = slp_recv(x->p->c[0], x->rbuf, sizeof(x->rbuf))) > 0) {
		sim_pattern(x->got, x->chk, (size_t)r, 9);
		x->bad |= memcmp(x->rbuf, x->chk, (size_t)r) != 0;
		x->got += (uint64_t)r;
	}
	return x->got == x->total;
}

static void open_pair(struct sim_pair *p, const struct sim_impair *imp)
{
	memset(p, 0, sizeof(*p));
	p->s = sim_new(41, imp, 1500, 512);
	assert_int_equal(sim_pair_connect(p, EP, 5000000), 1);
}

/* Odd message sizes under loss: exact bytes, and the frames full (tails
 * joined with the next message's head) but for the turns' last ones. */
static void test_direct_stream(void **state)
{
	(void)state;
	const size_t sizes[] = {64, 3000, 65536 + 5};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct sim_pair p;
		open_pair(&p, i ? &lossy : &clean);
		struct direct *x = calloc(1, sizeof(*x));
		x->p = &p;
		x->msg = sizes[i];
		x->total = (4u << 20) + 77;
		x->push = 1;
		assert_int_equal(sim_run(p.s, step_direct, x, 600000000), 1);
		assert_false(x->bad);
		struct slp_conn_stats cs;
		slp_conn_stats(p.c[1], &cs);
		uint64_t full = x->total / p.c[1]->peer_max_payload;
		/* data frames sent once: at most 1 in 8 short */
		assert_true(cs.frames_sent - cs.retransmits < full + full / 8 + 8);
		free(x);
		sim_pair_close(&p);
	}
}

/* A held-back tail leaves only when pushed (or filled). */
static void test_cork_needs_push(void **state)
{
	(void)state;
	struct sim_pair p;
	open_pair(&p, &clean);
	struct direct *x = calloc(1, sizeof(*x));
	x->p = &p;
	x->msg = 100;
	x->total = 100;
	assert_int_equal(sim_run(p.s, step_direct, x, 100000), 0); /* not without a push */
	assert_int_equal(x->sent, 100);
	assert_int_equal(x->got, 0);
	x->push = 1;
	assert_int_equal(sim_run(p.s, step_direct, x, 100000), 1);
	assert_false(x->bad);
	/* A CLOSE behind a held-back tail sends the tail first. */
	x->total = 150;
	x->push = 0;
	sim_pattern(100, x->buf, 50, 9);
	assert_int_equal(slp_send_direct(p.c[1], x->buf, 50), 50);
	x->sent = 150;
	assert_int_equal(slp_close(p.c[1]), 0);
	assert_int_equal(sim_run(p.s, step_direct, x, 100000), 1);
	assert_false(x->bad);
	free(x);
	sim_pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_stream),
		cmocka_unit_test(test_cork_needs_push),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
