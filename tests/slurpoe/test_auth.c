/* SPDX-License-Identifier: MIT */
/*
 * SLURPoE frame authentication (docs/remote.md, trust model) and the bound
 * on half-open connections, over the simulated link: a keyed pair moves
 * data byte-exact under loss; a wrong key, a peer without authentication,
 * forged frames (no tag, a tag under another key, a valid tag on altered
 * bytes) and a forged RESET are dropped and counted; blind or replayed
 * CONNECTs hold at most max_half_open connections, each only briefly.
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
#include "slurpoe/auth.h"
#include "slurpoe/engine_int.h" /* white-box: sequence state for forging */
#include "slurpoe/wire.h"

#define EP 0x5e77e700u

static const uint8_t key_a[32] = "host pair key for the A-B tests";
static const uint8_t key_b[32] = "a different key, same length..";
static const struct sim_impair lossy = {.loss = 0.05, .dup = 0.01, .reorder = 0.25,
					.corrupt = 0.005, .delay_us = 50};
static const struct sim_impair clean = {.delay_us = 50};

/* Connect client (1) to server (0); returns sim_run's verdict. */
static int pair_try(struct sim_pair *p, const struct sim_impair *imp, const uint8_t *k0,
		    const uint8_t *k1)
{
	memset(p, 0, sizeof(*p));
	p->s = sim_new_auth(11, imp, 1500, 512, k0, k1);
	assert_non_null(p->s);
	return sim_pair_connect(p, EP, 20000000);
}

static void test_keyed_stream_lossy(void **state)
{
	(void)state;
	struct sim_pair p;
	assert_int_equal(pair_try(&p, &lossy, key_a, key_a), 1);
	struct sim_oneway *x = calloc(1, sizeof(*x));
	x->p = &p;
	x->total = getenv("IVT_UNDER_VALGRIND") ? 1u << 20 : 16u << 20;
	assert_int_equal(sim_run(p.s, sim_oneway_step, x, 600000000), 1);
	assert_false(x->bad);
	/* Only corruption fails authentication between honest peers (their
	 * frames carry no CRC: the tag is the check, test_nocrc.c). */
	struct sim_counters sc;
	sim_counters(p.s, &sc);
	assert_true(slp_engine_stats(sim_engine(p.s, 0))->rx_auth_fail +
			    slp_engine_stats(sim_engine(p.s, 1))->rx_auth_fail <=
		    sc.corrupted);
	assert_true(slp_engine_max_payload(sim_engine(p.s, 0)) ==
		    1500 - SLP_HDR_LEN - SLP_AUTH_TRAILER);
	free(x);
	sim_pair_close(&p);
}

/* ---- confidentiality ---- */

static size_t connect_frame(uint8_t *f, uint32_t ep, const uint8_t *key);

/* Connect with side `asks` wanting encryption (-1: both). */
static int pair_try_enc(struct sim_pair *p, const struct sim_impair *imp, int asks)
{
	memset(p, 0, sizeof(*p));
	p->s = sim_new_auth(13, imp, 1500, 512, key_a, key_a);
	sim_set_encrypt(p->s, 0, asks != 1);
	sim_set_encrypt(p->s, 1, asks != 0);
	return sim_pair_connect(p, EP, 20000000);
}

struct rdma_step {
	struct sim_pair *p;
	int done;
};

static int step_cq(struct sim *s, void *arg)
{
	struct rdma_step *r = arg;
	unsigned ev;
	for (int i = 0; i < 2; i++)
		while (slp_engine_next_event(sim_engine(s, i), &ev))
			;
	struct slp_completion cqe;
	while (slp_poll_cq(r->p->c[1], &cqe, 1) == 1) {
		assert_int_equal(cqe.status, 0);
		r->done++;
	}
	return r->done == 2;
}

struct got_secret {
	struct sim_pair *p;
	size_t got;
	char buf[64];
};

static int step_secret(struct sim *s, void *arg)
{
	struct got_secret *g = arg;
	unsigned ev;
	for (int i = 0; i < 2; i++)
		while (slp_engine_next_event(sim_engine(s, i), &ev))
			;
	ssize_t r = slp_recv(g->p->c[0], g->buf + g->got, sizeof(g->buf) - g->got);
	if (r > 0)
		g->got += (size_t)r;
	return g->got >= 46;
}

static void test_encrypted(void **state)
{
	(void)state;
	for (int asks = -1; asks <= 1; asks++) { /* either side asking is enough */
		struct sim_pair p;
		assert_int_equal(pair_try_enc(&p, &lossy, asks), 1);
		assert_true(p.c[0]->encrypt && p.c[1]->encrypt);
		struct sim_oneway *x = calloc(1, sizeof(*x));
		x->p = &p;
		x->total = 4u << 20;
		assert_int_equal(sim_run(p.s, sim_oneway_step, x, 600000000), 1);
		assert_false(x->bad);
		/* What goes on the wire (the window slot's frame) is not the text;
		 * what arrives is. */
		static const char secret[] = "a secret that never crosses the wire in clear";
		assert_int_equal(slp_send(p.c[1], secret, sizeof(secret)), sizeof(secret));
		const struct slp_txslot *t = &p.c[1]->tx[(p.c[1]->snd_nxt - 1) & 511];
		assert_int_equal(t->len, SLP_ETH_HLEN + SLP_HDR_LEN + sizeof(secret));
		assert_memory_not_equal(t->frame + SLP_ETH_HLEN + SLP_HDR_LEN, secret,
					sizeof(secret));
		struct got_secret g = {.p = &p};
		assert_int_equal(sim_run(p.s, step_secret, &g, 60000000), 1);
		assert_memory_equal(g.buf, secret, sizeof(secret));
		free(x);

		/* RDMA write then read back, payloads encrypted both ways. */
		static uint8_t region[300000], src[200000], back[200000];
		uint64_t key;
		assert_int_equal(slp_register_region(p.c[0], region, sizeof(region),
						     SLP_ACCESS_WRITE | SLP_ACCESS_READ, &key),
				 0);
		sim_pattern(99, src, sizeof(src), 3);
		assert_int_equal(slp_rdma_write(p.c[1], src, sizeof(src), key, 1000, 1), 0);
		assert_int_equal(slp_rdma_read(p.c[1], back, sizeof(back), key, 1000, 2), 0);
		struct rdma_step r = {.p = &p};
		assert_int_equal(sim_run(p.s, step_cq, &r, 600000000), 1);
		assert_memory_equal(region + 1000, src, sizeof(src));
		assert_memory_equal(back, src, sizeof(src));
		sim_pair_close(&p);
	}
	/* Without keys nobody can encrypt: a CONNECT asking for it is refused. */
	struct sim *s = sim_new(14, &clean, 1500, 512);
	struct slp_engine *e = sim_engine(s, 0);
	assert_int_equal(slp_listen(e, EP, NULL), 0);
	uint8_t f[256];
	size_t n = connect_frame(f, 5, NULL);
	slp_put32(f + SLP_ETH_HLEN + SLP_HDR_LEN + 4, SLP_CONN_ENCRYPT);
	slp_refresh(f, n, 0, 0, 0, 0);
	sim_inject(s, 0, f, n);
	assert_int_equal(slp_engine_stats(e)->resets_sent, 1);
	unsigned ev;
	assert_null(slp_engine_next_event(e, &ev));
	sim_free(s);
}

static void test_wrong_key_refused(void **state)
{
	(void)state;
	struct sim_pair p;
	assert_int_equal(pair_try(&p, &clean, key_a, key_b), -1);
	assert_int_equal(p.err, -ETIMEDOUT);
	assert_null(p.c[0]); /* the server never accepted anything */
	assert_true(slp_engine_stats(sim_engine(p.s, 0))->rx_auth_fail > 0);
	sim_pair_close(&p);

	/* A peer without authentication cannot talk to one that requires it. */
	assert_int_equal(pair_try(&p, &clean, key_a, NULL), -1);
	assert_null(p.c[0]);
	assert_true(slp_engine_stats(sim_engine(p.s, 0))->rx_auth_fail > 0);
	sim_pair_close(&p);

	/* No key for a host: connecting to it is refused at once. */
	struct sim *s = sim_new_auth(3, &clean, 1500, 512, key_a, key_a);
	struct slp_conn *c;
	static const uint8_t stranger[6] = {0x02, 0, 0, 0, 0, 0x99};
	assert_int_equal(slp_connect(sim_engine(s, 1), stranger, EP, 0, NULL, &c), -EACCES);
	sim_free(s);
}

/* A DATA frame at the server's next expected sequence number, as an
 * attacker who sees the traffic (but has no key) would build it. */
static size_t forge(struct sim_pair *p, uint8_t *f, uint8_t type, size_t body)
{
	struct slp_out o = {.dst_mac = sim_mac(0), .src_mac = sim_mac(1), .type = type,
			    .flags = SLP_F_ACK, .src_ep = slp_conn_local_ep(p->c[1]), .dst_ep = EP,
			    .seq = p->c[0]->rcv_nxt, .ack = p->c[0]->snd_una,
			    .tx_next = p->c[0]->rcv_nxt + 1, .window = 8};
	memset(f + SLP_ETH_HLEN + SLP_HDR_LEN, 'X', body);
	return slp_build(f, &o, body);
}

static void test_forged_frames_rejected(void **state)
{
	(void)state;
	struct sim_pair p;
	assert_int_equal(pair_try(&p, &clean, key_a, key_a), 1);
	const struct slp_stats *st = slp_engine_stats(sim_engine(p.s, 0));
	uint64_t fails = st->rx_auth_fail;
	uint8_t f[2000], buf[256];

	size_t n = forge(&p, f, SLP_DATA, 100);
	sim_inject(p.s, 0, f, n); /* no trailer at all */
	assert_int_equal(st->rx_auth_fail, ++fails);
	/* A trailer with a tag under another key, then under the host-pair key
	 * (right key, wrong kind: connection frames need the connection's). */
	n = slp_auth_seal(key_b, SLP_AUTH_FROM_CLIENT, 0, f, forge(&p, f, SLP_DATA, 100));
	sim_inject(p.s, 0, f, n);
	n = slp_auth_seal(key_a, SLP_AUTH_FROM_CLIENT, 5, f, forge(&p, f, SLP_DATA, 100));
	sim_inject(p.s, 0, f, n);
	/* The connection's own key, but the other direction's nonce space. */
	n = slp_auth_seal(p.c[0]->key, SLP_AUTH_FROM_SERVER, 9, f, forge(&p, f, SLP_DATA, 100));
	sim_inject(p.s, 0, f, n);
	assert_int_equal(st->rx_auth_fail, fails + 3);
	/* A genuine tag over bytes changed afterwards (CRC fixed up). */
	n = forge(&p, f, SLP_DATA, 100);
	n = slp_auth_seal(p.c[0]->key, SLP_AUTH_FROM_CLIENT, 77, f, n);
	f[SLP_ETH_HLEN + SLP_HDR_LEN] = 'Y';
	slp_refresh(f, n - SLP_AUTH_TRAILER, SLP_F_ACK, p.c[0]->snd_una, p.c[0]->rcv_nxt + 1, 8);
	sim_inject(p.s, 0, f, n);
	assert_int_equal(st->rx_auth_fail, fails + 4);
	assert_int_equal(slp_recv(p.c[0], buf, sizeof(buf)), -EAGAIN); /* nothing delivered */

	/* A RESET echoing a sequence number the server really sent, but
	 * without the key: ignored, the connection stays up. */
	n = forge(&p, f, SLP_RESET, 0);
	n = slp_auth_seal(key_b, SLP_AUTH_HOST_PAIR, 1, f, n);
	sim_inject(p.s, 0, f, n);
	assert_int_equal(st->rx_auth_fail, fails + 5);
	assert_int_equal(slp_conn_state(p.c[0]), SLP_ST_OPEN);

	/* The real client's frame (the proof that forging did not desync us). */
	struct sim_oneway *x = calloc(1, sizeof(*x));
	x->p = &p;
	x->total = 1u << 20;
	assert_int_equal(sim_run(p.s, sim_oneway_step, x, 60000000), 1);
	assert_false(x->bad);
	free(x);
	sim_pair_close(&p);
}

/* A CONNECT from endpoint ep of side 1's address, tagged under key (NULL:
 * none), as a replay or a blind spoofer would send it. */
static size_t connect_frame(uint8_t *f, uint32_t ep, const uint8_t *key)
{
	struct slp_out o = {.dst_mac = sim_mac(0), .src_mac = sim_mac(1), .type = SLP_CONNECT,
			    .src_ep = ep, .dst_ep = EP, .seq = ep * 7u};
	uint8_t *x = f + SLP_ETH_HLEN + SLP_HDR_LEN;
	slp_put16(x, 1500);
	slp_put16(x + 2, 512);
	slp_put32(x + 4, 0);
	size_t n = slp_build(f, &o, SLP_EXT_CONNECT);
	return key ? slp_auth_seal(key, SLP_AUTH_HOST_PAIR, ep, f, n) : n;
}

static int step_idle(struct sim *s, void *arg)
{
	(void)s;
	(void)arg;
	return 0;
}

static void check_half_open(const uint8_t *key)
{
	struct sim *s = sim_new_auth(5, &clean, 1500, 512, key, key);
	struct slp_engine *e = sim_engine(s, 0);
	const struct slp_stats *st = slp_engine_stats(e);
	assert_int_equal(slp_listen(e, EP, NULL), 0);
	sim_cut(s, 1); /* the address's owner is away: nobody confirms */
	uint8_t f[256];
	for (uint32_t ep = 1; ep <= 100; ep++) {
		size_t n = connect_frame(f, ep, key);
		sim_inject(s, 0, f, n);
	}
	assert_int_equal(st->half_open_refused, 100 - 64);
	/* Each one goes after a few ACCEPT resends and a second, well before
	 * two. */
	sim_run(s, step_idle, NULL, 2000000);
	assert_int_equal(st->half_open_expired, 64);
	unsigned ev;
	struct slp_conn *c;
	int failed = 0;
	while ((c = slp_engine_next_event(e, &ev))) {
		if (ev & SLP_EV_ERROR) {
			failed++;
			slp_conn_free(c);
		}
	}
	assert_int_equal(failed, 64);
	sim_free(s);
}

static void test_half_open_bounded(void **state)
{
	(void)state;
	check_half_open(NULL);  /* blind CONNECTs, no authentication */
	check_half_open(key_a); /* replayed CONNECTs that verify */
}

/* A real connector whose process is busy for 400 ms right after its
 * CONNECT (the ACCEPT waits in its socket): not a half-open connection to
 * drop after the ACCEPT's few quick resends. */
static void test_slow_connector_kept(void **state)
{
	(void)state;
	struct sim_pair p;
	memset(&p, 0, sizeof(p));
	p.s = sim_new(21, &clean, 1500, 512);
	assert_int_equal(slp_listen(sim_engine(p.s, 0), EP, NULL), 0);
	assert_int_equal(slp_connect(sim_engine(p.s, 1), sim_mac(0), EP, 0, NULL, &p.c[1]), 0);
	sim_pause(p.s, 1, 400000);
	assert_int_equal(sim_pair_wait(&p, 5000000), 1);
	assert_int_equal(slp_conn_state(p.c[0]), SLP_ST_OPEN);
	sim_run(p.s, step_idle, NULL, 100000); /* its ACK arrives */
	assert_false(slp_conn_half_open(p.c[0]));
	assert_int_equal(slp_engine_stats(sim_engine(p.s, 0))->half_open_expired, 0);
	sim_pair_close(&p);
}

/* ---- a peer that forgot the connection (restarted) ---- */

struct forgot {
	struct sim_pair *p;
	int send; /* the client keeps sending (else it only listens) */
	int err;
	uint8_t buf[4096];
};

static int step_client_fails(struct sim *s, void *arg)
{
	struct forgot *f = arg;
	unsigned ev;
	struct slp_conn *c;
	for (int i = 0; i < 2; i++)
		while ((c = slp_engine_next_event(sim_engine(s, i), &ev)))
			if ((ev & SLP_EV_ERROR) && c == f->p->c[1])
				f->err = slp_conn_error(c);
	if (f->send && !f->err)
		slp_send(f->p->c[1], f->buf, sizeof(f->buf));
	while (!f->err && slp_recv(f->p->c[1], f->buf, sizeof(f->buf)) > 0)
		;
	return f->err != 0;
}

/* The server's engine restarts and knows nothing: the client's next frame
 * (data, or a keepalive probe when idle) cannot be verified there, and
 * draws a stateless RESET under the host pair's key. The client fails
 * with -ECONNRESET at once, not -ETIMEDOUT after its retry budget. */
static void check_forgotten(int send)
{
	struct sim_pair p;
	assert_int_equal(pair_try(&p, &clean, key_a, key_a), 1);
	struct forgot *f = calloc(1, sizeof(*f));
	f->p = &p;
	f->send = 1;
	assert_int_equal(sim_run(p.s, step_client_fails, f, 20000), 0);
	f->send = send;
	sim_restart(p.s, 0);
	p.c[0] = NULL;
	uint64_t t0 = sim_now(p.s);
	assert_int_equal(sim_run(p.s, step_client_fails, f, 60000000), 1);
	assert_int_equal(f->err, -ECONNRESET);
	/* Sending: within a few round trips; idle: the first keepalive. */
	assert_true(sim_now(p.s) - t0 <= (send ? 50000u : 600000u));
	const struct slp_stats *st = slp_engine_stats(sim_engine(p.s, 0));
	assert_true(st->resets_sent >= 1);
	assert_int_equal(st->rx_auth_fail, 0);
	free(f);
	sim_pair_close(&p);
}

static void test_forgotten_connection_reset(void **state)
{
	(void)state;
	check_forgotten(1);
	check_forgotten(0);
}

/* A RESET as the server would send it, to the client's connection c,
 * tagged under key. */
static size_t reset_frame(uint8_t *f, struct slp_conn *c, uint16_t flags, const uint8_t *key)
{
	struct slp_out o = {.dst_mac = sim_mac(1), .src_mac = sim_mac(0), .type = SLP_RESET,
			    .flags = SLP_F_ACK | flags, .src_ep = EP,
			    .dst_ep = slp_conn_local_ep(c), .ack = c->snd_tx};
	return slp_auth_seal(key, SLP_AUTH_HOST_PAIR, 42, f, slp_build(f, &o, 0));
}

/* Anyone can make an engine send a stateless RESET (it answers frames it
 * cannot verify): such a RESET never refuses a CONNECT in flight, and
 * strangers draw none, and everyone else at most a bounded rate. */
static void test_stateless_reset_limits(void **state)
{
	(void)state;
	struct sim *s = sim_new_auth(7, &clean, 1500, 512, key_a, key_a);
	sim_cut(s, 0); /* the CONNECT never arrives */
	struct slp_conn *c;
	assert_int_equal(slp_connect(sim_engine(s, 1), sim_mac(0), EP, 0, NULL, &c), 0);
	c->snd_tx = c->snd_nxt; /* as if it had gone out */
	uint8_t f[2000];
	const struct slp_stats *cs = slp_engine_stats(sim_engine(s, 1));
	sim_inject(s, 1, f, reset_frame(f, c, SLP_F_STATELESS, key_a));
	assert_int_equal(slp_conn_state(c), SLP_ST_CONNECTING);
	assert_int_equal(cs->resets_received, 0);
	/* The same RESET from the listener's engine (it saw our CONNECT) is
	 * a refusal. */
	sim_inject(s, 1, f, reset_frame(f, c, 0, key_a));
	assert_int_equal(slp_conn_state(c), SLP_ST_FAILED);
	assert_int_equal(slp_conn_error(c), -ECONNREFUSED);
	slp_conn_free(c);
	sim_free(s);

	/* A flood of frames for connections the server does not have. */
	s = sim_new_auth(8, &clean, 1500, 512, key_a, key_a);
	sim_cut(s, 1);
	struct slp_engine *e = sim_engine(s, 0);
	const struct slp_stats *st = slp_engine_stats(e);
	static const uint8_t stranger[6] = {0x02, 0, 0, 0, 0, 0x99};
	for (uint32_t i = 0; i < 2000; i++) {
		/* Odd ones from a host we have no key for: not even a RESET. */
		struct slp_out o = {.dst_mac = sim_mac(0), .src_mac = i & 1 ? stranger : sim_mac(1),
				    .type = SLP_DATA, .flags = SLP_F_ACK, .src_ep = i + 1,
				    .dst_ep = EP, .seq = i};
		memset(f + SLP_ETH_HLEN + SLP_HDR_LEN, 'x', 10);
		size_t n = slp_auth_seal(key_b, SLP_AUTH_FROM_CLIENT, i, f, slp_build(f, &o, 10));
		sim_inject(s, 0, f, n);
	}
	assert_int_equal(st->resets_sent, SLP_STATELESS_RESETS_PER_S);
	assert_int_equal(st->resets_limited, 1000 - SLP_STATELESS_RESETS_PER_S);
	assert_int_equal(st->rx_auth_fail, 1000);
	sim_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrong_key_refused),
		cmocka_unit_test(test_forged_frames_rejected),
		cmocka_unit_test(test_half_open_bounded),
		cmocka_unit_test(test_slow_connector_kept),
		cmocka_unit_test(test_forgotten_connection_reset),
		cmocka_unit_test(test_stateless_reset_limits),
		cmocka_unit_test(test_keyed_stream_lossy),
		cmocka_unit_test(test_encrypted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
