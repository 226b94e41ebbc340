/* SPDX-License-Identifier: MIT */
/* Direct queue pairs between hosts (bridge_direct.c, docs/remote.md
 * "Direct queue pairs"): what ivtd relays of the two setup blobs is
 * checked before it leaves: its size, no fds, once per side, in turn;
 * and a peer host's message out of turn ends the channel as a bad
 * handshake. No network: the bridges have no connection, so nothing is
 * sent and every refusal happens before sending. */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ivtd/core/broker.h"
#include "ivtd/policy/policy.h"
#include "ivtd/remote/peers_int.h"
#include "peers_fixture.h"

static int setup(void **state)
{
	struct peers_fixture *f = calloc(1, sizeof(*f));
	peers_fixture_open(f, "{\"version\": 1, \"channels\": [{\"name\": \"fast\", "
			      "\"backend\": \"verbs\", \"listeners\": [\"*\"], \"connectors\": [\"*\"]}]}");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	peers_fixture_close(*state);
	free(*state);
	return 0;
}

static struct bridge *bridge(struct peers_fixture *f, enum bridge_role role)
{
	struct bridge *br = bridge_new(f->P, NULL, role, "hostB");
	assert_non_null(br);
	snprintf(br->channel, sizeof(br->channel), "fast");
	snprintf(br->dx.backend, sizeof(br->dx.backend), "verbs");
	br->dx.offered = 1;
	return br;
}

static struct ivt_rmsg setup_msg(size_t len)
{
	struct ivt_rmsg m = {.type = IVT_RMSG_SETUP};
	m.u.setup.len = (uint32_t)len;
	memset(m.u.setup.blob, 0x5a, len);
	return m;
}

/* The local connector's blob: only in the direct phase, only after the
 * listener's blob reached it, once, 1..160 bytes, no fds. */
static void test_client_setup_checked(void **state)
{
	struct peers_fixture *f = *state;
	struct bridge *br = bridge(f, BRIDGE_DIALER);
	uint8_t blob[IVT_OOB_BLOB_MAX] = {1};
	br->phase = PH_OPEN; /* before OPEN_DIRECT */
	assert_int_equal(direct_client_setup(br, blob, 72, 0), -EPROTO);
	br->phase = PH_DIRECT; /* the listener's blob not yet handed on */
	assert_int_equal(direct_client_setup(br, blob, 72, 0), -EPROTO);
	br->dx.got_setup = 1;
	assert_int_equal(direct_client_setup(br, blob, 72, 1), -EINVAL);
	assert_int_equal(direct_client_setup(br, blob, 0, 0), -EMSGSIZE);
	assert_int_equal(direct_client_setup(br, blob, IVT_RMSG_BLOB_MAX + 1, 0), -EMSGSIZE);
	br->dx.sent_setup = 1; /* a second one */
	assert_int_equal(direct_client_setup(br, blob, 72, 0), -EPROTO);
	assert_int_equal(br->phase, PH_DIRECT); /* refused, the channel goes on */
}

/* The local listener's blob: never with fds, never empty or oversized. */
static void test_listener_setup_checked(void **state)
{
	struct peers_fixture *f = *state;
	uint8_t blob[IVT_OOB_BLOB_MAX] = {1};
	struct bridge *br = bridge(f, BRIDGE_ACCEPTOR);
	br->phase = PH_DIRECT;
	assert_int_equal(direct_relay_setup(br, blob, 72, 2), -EPROTO);
	assert_int_equal(br->phase, PH_DONE); /* the peer hears a death */
	br = bridge(f, BRIDGE_ACCEPTOR);
	br->phase = PH_DIRECT;
	assert_int_equal(direct_relay_setup(br, blob, IVT_RMSG_BLOB_MAX + 1, 0), -EPROTO);
	br = bridge(f, BRIDGE_ACCEPTOR);
	br->phase = PH_DIRECT;
	br->dx.sent_setup = 1;
	assert_int_equal(direct_relay_setup(br, blob, 72, 0), -EALREADY);
}

/* The peer host speaks out of turn: a bad handshake, the channel ends. */
static void test_peer_out_of_turn(void **state)
{
	struct peers_fixture *f = *state;
	struct ivt_rmsg m = setup_msg(72);
	uint64_t bad = f->P->refused_handshake;

	/* acceptor: the dialer's blob before ours went out */
	struct bridge *br = bridge(f, BRIDGE_ACCEPTOR);
	br->phase = PH_DIRECT;
	direct_msg(br, &m);
	assert_int_equal(br->phase, PH_DONE);
	assert_int_equal(f->P->refused_handshake, ++bad);

	/* dialer: a second blob from the acceptor */
	br = bridge(f, BRIDGE_DIALER);
	br->phase = PH_DIRECT;
	br->dx.got_setup = 1;
	direct_msg(br, &m);
	assert_int_equal(br->phase, PH_DONE);
	assert_int_equal(f->P->refused_handshake, ++bad);

	/* anything but SETUP while the blobs cross */
	br = bridge(f, BRIDGE_DIALER);
	br->phase = PH_DIRECT;
	struct ivt_rmsg r = {.type = IVT_RMSG_RESULT};
	direct_msg(br, &r);
	assert_int_equal(br->phase, PH_DONE);
	assert_int_equal(f->P->refused_handshake, ++bad);

	/* OPEN_DIRECT that nobody asked for */
	br = bridge(f, BRIDGE_DIALER);
	br->dx.offered = 0;
	br->phase = PH_OPEN;
	struct ivt_rmsg od = {.type = IVT_RMSG_OPEN_DIRECT};
	od.u.open_ok.ring_size = 1u << 20;
	direct_got_open(br, &od);
	assert_int_equal(br->phase, PH_DONE);
	assert_int_equal(f->P->refused_handshake, ++bad);

	/* a second DIRECT */
	br = bridge(f, BRIDGE_ACCEPTOR);
	struct ivt_rmsg d = {.type = IVT_RMSG_DIRECT};
	strcpy(d.u.offer.backend, "verbs");
	assert_int_equal(direct_got_offer(br, &d), -EPROTO);
}

/* The acceptor answers a non-shm listener with OPEN_DIRECT only when the
 * dialer offered that very plugin and our policy allows it; else the
 * reason says which. */
static void test_answer_reasons(void **state)
{
	struct peers_fixture *f = *state;
	char why[IVT_ERRMSG_MAX + 1];
	struct ivt_ctrl_open_ok ok;
	memset(&ok, 0, sizeof(ok));
	snprintf(ok.backend, sizeof(ok.backend), "verbs");
	ok.ring_size = 1u << 20;

	struct bridge *br = bridge(f, BRIDGE_ACCEPTOR);
	br->dx.offered = 0;
	assert_int_equal(direct_answer(br, &ok, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "did not ask for a direct queue pair"));

	br = bridge(f, BRIDGE_ACCEPTOR);
	snprintf(br->dx.backend, sizeof(br->dx.backend), "other");
	assert_int_equal(direct_answer(br, &ok, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "runs over verbs on host hostA, not other"));

	/* offered and matching, but hostB is not in our "hosts" */
	br = bridge(f, BRIDGE_ACCEPTOR);
	assert_int_equal(direct_answer(br, &ok, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "no direct queue pair on host hostA"));
	assert_int_not_equal(br->phase, PH_DIRECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_client_setup_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listener_setup_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_out_of_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_reasons, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
