/* SPDX-License-Identifier: MIT */
/*
 * Frames without the CRC (SLP_CONN_NOCRC / SLP_F_NOCRC): negotiated only
 * when the receiver's carrier checksums or frames are authenticated,
 * never assumed; an older peer (which refuses the flag) still connects;
 * a CRC-less frame at an engine that never allowed it is dropped.
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
#include "slurpoe/engine_int.h" /* white-box: sequence state for forging */
#include "slurpoe/wire.h"

#define EP 0x5e77e700u

static const struct sim_impair clean = {.delay_us = 50};
static const struct sim_impair lossy = {.loss = 0.05, .dup = 0.01, .reorder = 0.25,
					.delay_us = 50};
static const uint8_t key[32] = "host pair key for the A-B tests";

/* carrier[i]: side i's carrier checksums (0 server, 1 client). */
static void pair(struct sim_pair *p, const struct sim_impair *imp, int c0, int c1, int keyed)
{
	memset(p, 0, sizeof(*p));
	p->s = sim_new_auth(21, imp, 1500, 512, keyed ? key : NULL, keyed ? key : NULL);
	sim_set_carrier_checksums(p->s, 0, c0);
	sim_set_carrier_checksums(p->s, 1, c1);
	assert_int_equal(sim_pair_connect(p, EP, 20000000), 1);
}

static void stream(struct sim_pair *p, uint64_t total)
{
	struct sim_oneway *x = calloc(1, sizeof(*x));
	x->p = p;
	x->total = total;
	assert_int_equal(sim_run(p->s, sim_oneway_step, x, 600000000), 1);
	assert_false(x->bad);
	free(x);
}

static void test_both_carriers_checksum(void **state)
{
	(void)state;
	struct sim_pair p;
	pair(&p, &lossy, 1, 1, 0);
	assert_true(p.c[0]->tx_nocrc && p.c[1]->tx_nocrc);
	stream(&p, 4u << 20);
	struct sim_counters sc;
	sim_counters(p.s, &sc);
	assert_true(sc.nocrc[1] > 2000 && sc.nocrc[0] > 0); /* data one way, ACKs back */
	for (int i = 0; i < 2; i++)
		assert_int_equal(slp_engine_stats(sim_engine(p.s, i))->rx_bad[SLP_ERR_CRC], 0);
	sim_pair_close(&p);
}

/* Each side sends without CRC only what the other allowed. */
static void test_one_side_only(void **state)
{
	(void)state;
	struct sim_pair p;
	struct sim_counters sc;
	pair(&p, &clean, 0, 1, 0); /* the client offers, the server cannot */
	assert_true(p.c[0]->tx_nocrc && !p.c[1]->tx_nocrc);
	stream(&p, 1u << 20);
	sim_counters(p.s, &sc);
	assert_true(sc.nocrc[0] > 0 && sc.nocrc[1] == 0);
	sim_pair_close(&p);

	pair(&p, &clean, 1, 0, 0); /* the server could, but was not offered */
	assert_true(!p.c[0]->tx_nocrc && !p.c[1]->tx_nocrc);
	stream(&p, 1u << 20);
	sim_counters(p.s, &sc);
	assert_true(sc.nocrc[0] == 0 && sc.nocrc[1] == 0);
	sim_pair_close(&p);
}

/* Authenticated frames need no CRC: the tag covers every byte. */
static void test_authenticated(void **state)
{
	(void)state;
	struct sim_pair p;
	struct sim_impair corrupting = lossy;
	corrupting.corrupt = 0.005;
	pair(&p, &corrupting, 0, 0, 1);
	assert_true(p.c[0]->tx_nocrc && p.c[1]->tx_nocrc);
	stream(&p, 4u << 20);
	struct sim_counters sc;
	sim_counters(p.s, &sc);
	assert_true(sc.corrupted > 0 && sc.nocrc[1] > 2000);
	uint64_t caught = 0;
	for (int i = 0; i < 2; i++) {
		const struct slp_stats *st = slp_engine_stats(sim_engine(p.s, i));
		caught += st->rx_auth_fail;
		for (int k = 0; k < SLP_ERR__COUNT; k++)
			caught += st->rx_bad[k];
	}
	assert_true(caught > 0); /* and stream() saw every byte right */
	sim_pair_close(&p);
}

/* An engine from before the flag refuses a CONNECT that offers it: the
 * offer is withdrawn after SLP_NOCRC_OFFER_TRIES and the connection is
 * made with CRCs. */
static void test_older_peer(void **state)
{
	(void)state;
	struct sim_pair p;
	memset(&p, 0, sizeof(p));
	p.s = sim_new(22, &clean, 1500, 512);
	sim_set_carrier_checksums(p.s, 1, 1);
	sim_drop_nocrc_offers(p.s, 1);
	assert_int_equal(sim_pair_connect(&p, EP, 20000000), 1);
	assert_true(!p.c[0]->tx_nocrc && !p.c[1]->tx_nocrc);
	stream(&p, 1u << 20);
	struct sim_counters sc;
	sim_counters(p.s, &sc);
	assert_true(sc.nocrc[0] == 0 && sc.nocrc[1] == 0);
	sim_pair_close(&p);
}

/* Forged CRC-less frames: refused where CRCs were never waived, and
 * malformed ones everywhere. */
static void test_forged_nocrc(void **state)
{
	(void)state;
	struct sim_pair p;
	pair(&p, &clean, 0, 0, 0);
	const struct slp_stats *st = slp_engine_stats(sim_engine(p.s, 0));
	struct slp_stats before = *st;
	uint8_t f[2000];
	struct slp_out o = {.dst_mac = sim_mac(0), .src_mac = sim_mac(1), .type = SLP_DATA,
			    .flags = SLP_F_ACK | SLP_F_NOCRC, .src_ep = slp_conn_local_ep(p.c[1]),
			    .dst_ep = EP, .seq = p.c[0]->rcv_nxt, .ack = p.c[0]->snd_una,
			    .window = 8};
	memset(f + SLP_ETH_HLEN + SLP_HDR_LEN, 'z', 100);
	size_t n = slp_build(f, &o, 100);
	struct slp_pkt pkt;
	assert_int_equal(slp_parse(f, n, &pkt), SLP_OK); /* well-formed... */
	sim_inject(p.s, 0, f, n);                          /* ...but never allowed here */
	assert_int_equal(st->rx_bad[SLP_ERR_CRC], before.rx_bad[SLP_ERR_CRC] + 1);
	assert_int_equal(slp_recv(p.c[0], f + 1000, 100), -EAGAIN);

	f[SLP_ETH_HLEN + 31] = 1; /* F_NOCRC with a crc field set */
	assert_int_equal(slp_parse(f, n, &pkt), SLP_ERR_FIELD);
	o.type = SLP_RESET; /* RESETs, CONNECTs and ACCEPTs always carry one */
	n = slp_build(f, &o, 0);
	assert_int_equal(slp_parse(f, n, &pkt), SLP_ERR_FIELD);
	o.type = SLP_CONNECT;
	o.flags = SLP_F_NOCRC;
	memset(f + SLP_ETH_HLEN + SLP_HDR_LEN, 0, SLP_EXT_CONNECT);
	slp_put16(f + SLP_ETH_HLEN + SLP_HDR_LEN, 1500);
	slp_put16(f + SLP_ETH_HLEN + SLP_HDR_LEN + 2, 8);
	n = slp_build(f, &o, SLP_EXT_CONNECT);
	assert_int_equal(slp_parse(f, n, &pkt), SLP_ERR_FIELD);
	o.flags = 0;
	n = slp_build(f, &o, SLP_EXT_CONNECT);
	assert_int_equal(slp_parse(f, n, &pkt), SLP_OK); /* the same CONNECT, with its CRC */
	sim_pair_close(&p);

	/* Where it is allowed, a CRC-less frame still needs its connection. */
	pair(&p, &clean, 1, 1, 0);
	st = slp_engine_stats(sim_engine(p.s, 0));
	before = *st;
	o = (struct slp_out){.dst_mac = sim_mac(0), .src_mac = sim_mac(1), .type = SLP_DATA,
			     .flags = SLP_F_ACK | SLP_F_NOCRC, .src_ep = 0xBADBADu, .dst_ep = EP,
			     .seq = 1, .window = 8};
	n = slp_build(f, &o, 100);
	sim_inject(p.s, 0, f, n);
	assert_int_equal(st->rx_unknown_ep, before.rx_unknown_ep + 1);
	sim_pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_carriers_checksum),
		cmocka_unit_test(test_one_side_only),
		cmocka_unit_test(test_authenticated),
		cmocka_unit_test(test_older_peer),
		cmocka_unit_test(test_forged_nocrc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
