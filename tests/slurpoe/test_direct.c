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

/* sim_oneway_step, and the send buffer never holds more than a tail. */
static int step(struct sim *s, void *arg)
{
	struct sim_oneway *x = arg;
	int done = sim_oneway_step(s, x);
	if (x->p->c[1]->sndbuf.len >= x->p->c[1]->peer_max_payload)
		x->bad = 1;
	return done;
}

static struct sim_oneway *oneway(struct sim_pair *p, const struct sim_impair *imp, size_t msg,
				 uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->s = sim_new(41, imp, 1500, 512);
	assert_int_equal(sim_pair_connect(p, EP, 5000000), 1);
	struct sim_oneway *x = calloc(1, sizeof(*x));
	x->p = p;
	x->msg = msg;
	x->total = total;
	x->direct = 1;
	return x;
}

/* Odd message sizes under loss: exact bytes, and the frames full (tails
 * joined with the next message's head) but for the turns' last ones. */
static void test_direct_stream(void **state)
{
	(void)state;
	const size_t sizes[] = {64, 3000, 65000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct sim_pair p;
		struct sim_oneway *x = oneway(&p, i ? &lossy : &clean, sizes[i], (4u << 20) + 77);
		assert_int_equal(sim_run(p.s, step, x, 600000000), 1);
		assert_false(x->bad);
		struct slp_conn_stats cs;
		slp_conn_stats(p.c[1], &cs);
		uint64_t full = x->total / p.c[1]->peer_max_payload;
		/* frames sent once: at most 1 in 8 short */
		assert_true(cs.frames_sent - cs.retransmits < full + full / 8 + 8);
		free(x);
		sim_pair_close(&p);
	}
}

/* A held-back tail leaves only when pushed (or filled), and before a
 * CLOSE queued behind it. */
static void test_cork_needs_push(void **state)
{
	(void)state;
	struct sim_pair p;
	struct sim_oneway *x = oneway(&p, &clean, 100, 100);
	x->no_push = 1;
	assert_int_equal(sim_run(p.s, step, x, 100000), 0);
	assert_true(x->sent == 100 && x->got == 0);
	x->no_push = 0;
	assert_int_equal(sim_run(p.s, step, x, 100000), 1);
	x->total = 150;
	x->no_push = 1;
	sim_pattern(100, x->buf, 50, 7);
	assert_int_equal(slp_send_direct(p.c[1], x->buf, 50), 50);
	x->sent = 150;
	assert_int_equal(slp_close(p.c[1]), 0);
	assert_int_equal(sim_run(p.s, step, x, 100000), 1);
	assert_false(x->bad);
	free(x);
	sim_pair_close(&p);
}

/* slp_send and slp_send_direct mixed on one connection: a buffered send
 * behind a held-back tail releases it, and the stream stays exact. */
static void test_mixed_sends(void **state)
{
	(void)state;
	struct sim_pair p;
	struct sim_oneway *x = oneway(&p, &clean, 0, 100 + 3000 + 5000);
	x->sent = x->total; /* this test sends by hand; the step pushes */
	uint8_t *b = x->buf;
	sim_pattern(0, b, x->total, 7);
	assert_int_equal(slp_send_direct(p.c[1], b, 100), 100);
	assert_int_equal(slp_send(p.c[1], b + 100, 3000), 3000);
	assert_int_equal(slp_send_direct(p.c[1], b + 3100, 5000), 5000);
	assert_int_equal(sim_run(p.s, step, x, 1000000), 1);
	assert_false(x->bad);
	free(x);
	sim_pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_stream),
		cmocka_unit_test(test_cork_needs_push),
		cmocka_unit_test(test_mixed_sends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
