/* SPDX-License-Identifier: MIT */
/*
 * Channels re-attaching to a restarted ivtd (broker_attach.c): the cookie
 * each end is given, pairing by cookie and identity, what another user
 * can and cannot do with a cookie, malformed claims, and that an adopted
 * channel's end going is told and counted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_registry.h"

static const char *policy_text =
	"{\"version\":1,\"channels\":[{\"name\":\"demo*\",\"listeners\":[\"*\"],"
	"\"connectors\":[\"*\"]},{\"name\":\"many\",\"listeners\":[\"*\"],"
	"\"connectors\":[\"*\"]}]}";
#define RING 65536

static int setup_fx(void **state) { return fake_broker_setup(state, policy_text, "a.json"); }
static int teardown_fx(void **state) { return fake_broker_teardown(state); }


static const char *status(struct fake_broker *x)
{
	static char text[IVT_CTRL_STATUS_MAX + 1];
	ivt_broker_status(x->b, text, sizeof(text));
	return text;
}

static int cookie_zero(const uint8_t *c)
{
	static const uint8_t zero[IVT_CTRL_COOKIE_LEN];
	return !memcmp(c, zero, sizeof(zero));
}

/* A one-shot pair on name: both ends get one cookie, the same. */
static void connected_pair(struct fake_broker *x, const char *name, struct fake_end *srv,
			   struct fake_end *cli)
{
	fake_request(x, srv, name, 1, NULL, 0);
	assert_int_equal(srv->ok_count, 1);
	assert_int_equal(srv->cookies, 0); /* nothing to re-attach before a client */
	fake_request(x, cli, name, 0, NULL, 0);
	assert_int_equal(cli->ok_count, 1);
	assert_int_equal(srv->cookies, 1);
	assert_int_equal(cli->cookies, 1);
	assert_false(cookie_zero(srv->cookie));
	assert_memory_equal(srv->cookie, cli->cookie, IVT_CTRL_COOKIE_LEN);
}

static void test_cookies_given(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *s1 = fake_end_new(x, "uid:1000"), *c1 = fake_end_new(x, "uid:1001");
	struct fake_end *s2 = fake_end_new(x, "uid:1000"), *c2 = fake_end_new(x, "uid:1001");
	connected_pair(x, "demo1", s1, c1);
	connected_pair(x, "demo2", s2, c2);
	assert_memory_not_equal(s1->cookie, s2->cookie, IVT_CTRL_COOKIE_LEN);

	/* accepted connections of a listener get theirs too */
	struct fake_end *lis = fake_end_new(x, "uid:1000"), *acc = fake_end_new(x, "uid:1000");
	struct fake_end *con = fake_end_new(x, "uid:1002");
	fake_request_ex(x, lis, "many", 1, 1, 0, 0);
	fake_request_ex(x, con, "many", 0, 0, 0, 1000);
	assert_int_equal(lis->n_tickets, 1);
	fake_request_ex(x, acc, "many", 1, 0, lis->tickets[0], 0);
	assert_int_equal(acc->ok_count, 1);
	assert_int_equal(lis->cookies, 0);
	assert_int_equal(acc->cookies, 1);
	assert_int_equal(con->cookies, 1);
	assert_memory_equal(acc->cookie, con->cookie, IVT_CTRL_COOKIE_LEN);
	fake_end_gone(x, s1, 1), fake_end_gone(x, c1, 1), fake_end_gone(x, s2, 1), fake_end_gone(x, c2, 1);
	fake_end_gone(x, con, 1), fake_end_gone(x, acc, 1), fake_end_gone(x, lis, 1);
}

/* A channel of the old ivtd re-attaches to a new one, is listed, and its
 * client's death is told to the listener and counted. */
static void test_reattach_pair(void **state)
{
	struct fake_broker *old = *state, nb;
	struct fake_end *os = fake_end_new(old, "uid:1000"), *oc = fake_end_new(old, "uid:1001");
	connected_pair(old, "demo", os, oc);
	uint8_t cookie[IVT_CTRL_COOKIE_LEN];
	memcpy(cookie, os->cookie, sizeof(cookie));

	assert_int_equal(fake_broker_init(&nb, policy_text, "a.json"), 0);
	struct fake_end *srv = fake_end_new(&nb, "uid:1000"), *cli = fake_end_new(&nb, "uid:1001");
	fake_attach(&nb, cli, cookie, "demo", 0, "uid:1000", RING);
	assert_int_equal(cli->attach_oks, 1);
	assert_int_equal(cli->last_paired, 0);
	assert_non_null(strstr(status(&nb), "attaching"));
	fake_attach(&nb, srv, cookie, "demo", 1, "uid:1001", RING);
	assert_int_equal(srv->err_count, 0);
	assert_int_equal(srv->attach_oks, 1);
	assert_int_equal(srv->last_paired, 1);
	assert_int_equal(srv->attach_chan_id, cli->attach_chan_id);
	const char *st = status(&nb);
	assert_non_null(strstr(st, "demo"));
	assert_non_null(strstr(st, "connected"));
	assert_non_null(strstr(st, "uid:1000"));
	assert_non_null(strstr(st, "uid:1001"));
	/* an adopted channel owns no name: a new listener may take it */
	struct fake_end *nl = fake_end_new(&nb, "uid:7");
	fake_request(&nb, nl, "demo", 1, NULL, 0);
	assert_int_equal(nl->ok_count, 1);
	fake_end_gone(&nb, nl, 1);

	fake_end_gone(&nb, cli, 0);
	assert_int_equal(srv->n_peer_events, 1);
	assert_int_equal(srv->peer_events[0], IVT_PEER_DIED);
	struct ivt_broker_stats bs;
	ivt_broker_get_stats(nb.b, &bs);
	assert_int_equal(bs.peers_died, 1);
	fake_end_gone(&nb, srv, 1);
	ivt_broker_get_stats(nb.b, &bs);
	assert_int_equal(bs.channels, 0);
	fake_broker_fini(&nb);
	fake_end_gone(old, os, 1), fake_end_gone(old, oc, 1);
}

/* Another user who knows the cookie pairs with nobody and takes nothing. */
static void test_other_user_kept_apart(void **state)
{
	struct fake_broker *x = *state;
	uint8_t cookie[IVT_CTRL_COOKIE_LEN];
	memset(cookie, 0x5a, sizeof(cookie));
	struct fake_end *srv = fake_end_new(x, "uid:1000"), *cli = fake_end_new(x, "uid:1001");
	struct fake_end *m1 = fake_end_new(x, "uid:1002"), *m2 = fake_end_new(x, "uid:1002");
	struct fake_end *m3 = fake_end_new(x, "uid:1002");
	fake_attach(x, srv, cookie, "demo", 1, "uid:1001", RING);
	assert_int_equal(srv->last_paired, 0);
	/* posing as the client: its identity is not the one srv names */
	fake_attach(x, m1, cookie, "demo", 0, "uid:1000", RING);
	assert_int_equal(m1->attach_oks, 1);
	assert_int_equal(m1->last_paired, 0);
	/* naming itself as srv's peer does not help either */
	fake_attach(x, m2, cookie, "demo", 0, "uid:1002", RING);
	assert_int_equal(m2->last_paired, 0);
	/* posing as the server for the real client */
	fake_attach(x, m3, cookie, "demo", 1, "uid:1001", RING);
	assert_int_equal(m3->last_paired, 0);
	fake_attach(x, cli, cookie, "demo", 0, "uid:1000", RING);
	assert_int_equal(cli->last_paired, 1);
	assert_int_equal(cli->attach_chan_id, srv->attach_chan_id);
	/* and the intruders hear nothing of the real channel */
	fake_end_gone(x, cli, 0);
	assert_int_equal(srv->peer_events[0], IVT_PEER_DIED);
	assert_int_equal(m1->n_peer_events + m2->n_peer_events + m3->n_peer_events, 0);
	fake_end_gone(x, m1, 1), fake_end_gone(x, m2, 1), fake_end_gone(x, m3, 1), fake_end_gone(x, srv, 1);
	struct ivt_broker_stats bs;
	ivt_broker_get_stats(x->b, &bs);
	assert_int_equal(bs.channels, 0);
}

static void test_refused(void **state)
{
	struct fake_broker *x = *state;
	uint8_t cookie[IVT_CTRL_COOKIE_LEN];
	memset(cookie, 0x11, sizeof(cookie));
	struct fake_end *e = fake_end_new(x, "uid:5"), *dup = fake_end_new(x, "uid:5");
	fake_attach(x, e, cookie, ".bad", 1, "uid:6", RING);
	assert_int_equal(e->last_err, EINVAL);
	fake_attach(x, e, cookie, "demo", 1, "uid:6", 3000);
	assert_int_equal(e->last_err, EINVAL);
	fake_attach(x, e, cookie, "demo", 1, "", RING);
	assert_int_equal(e->last_err, EINVAL);
	assert_int_equal(e->attach_oks, 0);
	fake_attach(x, e, cookie, "demo", 1, "uid:6", RING);
	assert_int_equal(e->attach_oks, 1);
	/* one channel per end; one end per role and identity */
	fake_attach(x, e, cookie, "demo", 1, "uid:6", RING);
	assert_int_equal(e->last_err, EISCONN);
	fake_request(x, e, "demo", 1, NULL, 0);
	assert_int_equal(e->last_err, EISCONN);
	fake_attach(x, dup, cookie, "demo", 1, "uid:6", RING);
	assert_int_equal(dup->last_err, EALREADY);
	/* an adopted end has no setup to publish */
	int fds[1] = {-1};
	x->cb.setup(x->cb.arg, &e->end, "x", 1, fds, 0);
	assert_int_equal(e->last_err, EPROTO);
	/* its peer never comes: when it goes, nothing is left */
	fake_end_gone(x, e, 0);
	fake_end_gone(x, dup, 1);
	assert_null(strstr(status(x), "demo"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cookies_given, setup_fx, teardown_fx),
		cmocka_unit_test_setup_teardown(test_reattach_pair, setup_fx, teardown_fx),
		cmocka_unit_test_setup_teardown(test_other_user_kept_apart, setup_fx, teardown_fx),
		cmocka_unit_test_setup_teardown(test_refused, setup_fx, teardown_fx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
