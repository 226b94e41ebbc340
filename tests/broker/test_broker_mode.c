/* SPDX-License-Identifier: MIT */
/* The policy's "message" key (conf/README.md): the rule fixes a channel's
 * mode, both ends hear it in OPEN_OK whatever their IVT_MESSAGE, and an
 * end whose flag contradicts the channel is refused by ivtd with
 * -EPROTOTYPE and a reason before the other end hears of it. */
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
	"{\"version\":1,\"channels\":[\n"
	"{\"name\":\"m.*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],\"message\":true},\n"
	"{\"name\":\"s.*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],\"message\":false},\n"
	"{\"name\":\"ivt.utmem\",\"listeners\":[],\"connectors\":[\"*\"],\"message\":true},\n"
	"{\"name\":\"*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"]}\n"
	"]}";

static struct fake_end *ends[16];
static int n_ends;

static struct fake_end *end_of(struct fake_broker *x, const char *identity)
{
	assert_true(n_ends < 16);
	return ends[n_ends++] = fake_end_new(x, identity);
}

static int setup_fx(void **state) { return fake_broker_setup(state, policy_text, "m.json"); }

static void all_gone(struct fake_broker *x)
{
	for (int i = 0; i < n_ends; i++)
		fake_end_gone(x, ends[i], 1);
	n_ends = 0;
	struct ivt_broker_stats bs;
	ivt_broker_get_stats(x->b, &bs);
	assert_int_equal(bs.channels, 0);
}

static int says_message(const struct fake_end *f)
{
	return f->ok_count > 0 && (f->last_ok.flags & IVT_CTRL_OK_MESSAGE);
}

/* "message": true: neither end passed IVT_MESSAGE, both are told. */
static void test_rule_message_true(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *l = end_of(x, "uid:0"), *c = end_of(x, "uid:1000");
	fake_request_msg(x, l, "m.one", 1, 0, 0, 0, 0);
	assert_int_equal(l->err_count, 0);
	fake_request_msg(x, c, "m.one", 0, 0, 0, 0, 0);
	assert_true(says_message(l));
	assert_true(says_message(c));
	/* and with the flag: the same */
	struct fake_end *l2 = end_of(x, "uid:0"), *c2 = end_of(x, "uid:0");
	fake_request_msg(x, l2, "m.two", 1, 0, 0, 0, 1);
	fake_request_msg(x, c2, "m.two", 0, 0, 0, 0, 1);
	assert_true(says_message(l2));
	assert_true(says_message(c2));
	/* a listener serving many: every connection is a message channel */
	struct fake_end *ml = end_of(x, "uid:0"), *mc = end_of(x, "uid:7");
	fake_request_msg(x, ml, "m.svc", 1, 1, 0, 0, 0);
	assert_true(says_message(ml));
	fake_request_msg(x, mc, "m.svc", 0, 0, 0, 5000, 0);
	assert_int_equal(ml->n_tickets, 1);
	struct fake_end *acc = end_of(x, "uid:0");
	fake_request_msg(x, acc, "m.svc", 1, 0, ml->tickets[0], 0, 0);
	assert_true(says_message(acc));
	assert_true(says_message(mc));
	all_gone(x);
}

/* "message": false: IVT_MESSAGE from either end is refused, with why. */
static void test_rule_message_false(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *bad = end_of(x, "uid:0");
	fake_request_msg(x, bad, "s.one", 1, 0, 0, 0, 1);
	assert_int_equal(bad->last_err, EPROTOTYPE);
	assert_non_null(strstr(bad->last_msg, "\"message\": false"));
	assert_non_null(strstr(bad->last_msg, "s.*"));

	struct fake_end *l = end_of(x, "uid:0"), *c = end_of(x, "uid:1000");
	fake_request_msg(x, l, "s.one", 1, 0, 0, 0, 0); /* the name is still free */
	assert_int_equal(l->err_count, 0);
	fake_request_msg(x, c, "s.one", 0, 0, 0, 0, 1);
	assert_int_equal(c->last_err, EPROTOTYPE);
	assert_non_null(strstr(c->last_msg, "\"message\": false"));
	assert_int_equal(l->n_peer_events, 0); /* the listener never heard of it */
	struct fake_end *c2 = end_of(x, "uid:1000");
	fake_request_msg(x, c2, "s.one", 0, 0, 0, 0, 0);
	assert_int_equal(c2->ok_count, 1);
	assert_false(says_message(c2));
	assert_false(says_message(l));
	all_gone(x);
}

/* No key: the listener decides; a connector that disagrees is refused by
 * ivtd (before, libivt found out only after ivtd had connected it). */
static void test_listener_decides(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *l = end_of(x, "uid:0"), *c = end_of(x, "uid:1000");
	fake_request_msg(x, l, "plain", 1, 0, 0, 0, 0);
	fake_request_msg(x, c, "plain", 0, 0, 0, 0, 1);
	assert_int_equal(c->last_err, EPROTOTYPE);
	assert_non_null(strstr(c->last_msg, "did not ask for IVT_MESSAGE"));
	assert_int_equal(l->n_peer_events, 0);
	struct fake_end *ml = end_of(x, "uid:0"), *mc = end_of(x, "uid:1000");
	fake_request_msg(x, ml, "msgs", 1, 0, 0, 0, 1);
	fake_request_msg(x, mc, "msgs", 0, 0, 0, 0, 0);
	assert_true(says_message(mc)); /* told, without the flag */
	all_gone(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rule_message_true, setup_fx, fake_broker_teardown),
		cmocka_unit_test_setup_teardown(test_rule_message_false, setup_fx, fake_broker_teardown),
		cmocka_unit_test_setup_teardown(test_listener_decides, setup_fx, fake_broker_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
