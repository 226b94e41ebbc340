/* SPDX-License-Identifier: MIT */
/* `ivtctl status --json` reads the text the broker writes: both sides
 * together, so a change to one that the other does not follow fails here. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "ivtd/core/broker.h"
#include "tools/status_json.h"

#include "fake_registry.h"

static void test_broker_status_as_json(void **state)
{
	(void)state;
	struct fake_broker x;
	assert_int_equal(fake_broker_init(&x, "{\"version\":1,\"channels\":[{\"name\":\"*\","
					      "\"listeners\":[\"*\"],\"connectors\":[\"*\"]}]}",
					  "s.json"), 0);
	ivt_broker_set_backend(x.b, "vchan", IVT_CAP_COLOCATED | IVT_CAP_NEEDS_XEN, 0, "no xen");
	struct fake_end srv, cli;
	fake_end_init(&x, &srv, "uid:1000");
	fake_end_init(&x, &cli, "uid:1001");
	fake_request(&x, &srv, "alpha", 1, NULL, 0);
	fake_request(&x, &cli, "alpha", 0, NULL, 0);
	assert_int_equal(cli.ok_count, 1);
	/* a listener with one accepted connection and one queued: its lines
	 * under it must not end the table (the channels after it were lost) */
	struct fake_end lis, c1, c2, acc, late_srv, late_cli;
	fake_end_init(&x, &lis, "uid:1000");
	fake_end_init(&x, &c1, "uid:1002");
	fake_end_init(&x, &c2, "uid:1003");
	fake_end_init(&x, &acc, "uid:1000");
	fake_request_ex(&x, &lis, "beta", 1, 1, 0, 0);
	fake_request_ex(&x, &c1, "beta", 0, 0, 0, 5000);
	fake_request_ex(&x, &c2, "beta", 0, 0, 0, 5000);
	assert_int_equal(lis.n_tickets, 2);
	fake_request_ex(&x, &acc, "beta", 1, 0, lis.tickets[0], 0);
	assert_int_equal(acc.ok_count, 1);
	fake_end_init(&x, &late_srv, "uid:1000");
	fake_end_init(&x, &late_cli, "uid:1001");
	fake_request(&x, &late_srv, "gamma", 1, NULL, 0);
	fake_request(&x, &late_cli, "gamma", 0, NULL, 0);

	char text[IVT_CTRL_STATUS_MAX + 1];
	int n = snprintf(text, sizeof(text),
			 "ivtd 0.1.0, pid 42, up 7s, registries: local(/run/ivt/ivtd.sock)\n");
	ivt_broker_status(x.b, text + n, sizeof(text) - (size_t)n);
	strcat(text, "peers: none\n");
	char *js = ivt_status_to_json(text);
	assert_non_null(js);
	json_error_t err;
	json_t *o = json_loads(js, 0, &err);
	if (!o)
		fail_msg("not JSON (%s):\n%s", err.text, js);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "daemon"), "pid")), 42);
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "policy"), "source")),
			    "s.json");
	json_t *be = json_object_get(o, "backends");
	assert_true(json_is_true(json_object_get(be, "shm")));
	assert_true(json_is_false(json_object_get(be, "vchan")));
	json_t *cnt = json_object_get(o, "counters");
	assert_int_equal(json_integer_value(json_object_get(cnt, "granted")), 7);
	json_t *ch = json_object_get(o, "channels");
	assert_int_equal(json_array_size(ch), 5);
	json_t *c0 = json_array_get(ch, 4); /* newest first */
	assert_string_equal(json_string_value(json_object_get(c0, "name")), "alpha");
	assert_string_equal(json_string_value(json_object_get(c0, "backend")), "shm");
	assert_string_equal(json_string_value(json_object_get(c0, "listener")), "uid:1000");
	assert_string_equal(json_string_value(json_object_get(c0, "client")), "uid:1001");
	assert_string_equal(json_string_value(json_object_get(c0, "state")), "connected");
	assert_int_equal(json_integer_value(json_object_get(c0, "ring")), 65536);
	int seen = 0;
	for (size_t i = 0; i < json_array_size(ch); i++) {
		json_t *c = json_array_get(ch, i);
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *st = json_string_value(json_object_get(c, "state"));
		if (!strcmp(st, "listener")) {
			assert_string_equal(name, "beta");
			assert_int_equal(json_integer_value(json_object_get(c, "connected")), 1);
			assert_int_equal(json_integer_value(json_object_get(c, "queued")), 1);
			assert_int_equal(json_integer_value(json_object_get(c, "max_connections")), 1024);
			seen |= 1;
		} else if (!strcmp(name, "beta")) {
			assert_string_equal(json_string_value(json_object_get(c, "accepted_on")), "beta");
			const char *st_want = strcmp(json_string_value(json_object_get(c, "client")),
						     "uid:1002") ? "queued" : "connected";
			assert_string_equal(st, st_want);
			seen |= st_want[0] == 'q' ? 2 : 8;
		} else if (strcmp(name, "alpha")) {
			assert_string_equal(name, "gamma");
			assert_null(json_object_get(c, "accepted_on"));
			seen |= 4;
		}
	}
	assert_int_equal(seen, 15);
	json_t *more = json_object_get(o, "more");
	assert_int_equal(json_array_size(more), 1);
	assert_string_equal(json_string_value(json_array_get(more, 0)), "peers: none");
	json_decref(o);
	free(js);
	struct fake_end *all[] = {&late_cli, &late_srv, &acc, &c2, &c1, &lis};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		x.cb.gone(x.cb.arg, &all[i]->end, 1);
	x.cb.gone(x.cb.arg, &cli.end, 1);
	x.cb.gone(x.cb.arg, &srv.end, 1);
	fake_broker_fini(&x);
}

/* A listener's row carries its counts and each connector identity's
 * places in its backlog (issue 11), its connections stay channels. */
static void test_listener_status_as_json(void **state)
{
	(void)state;
	struct fake_broker x;
	assert_int_equal(fake_broker_init(&x, "{\"version\":1,\"channels\":[{\"name\":\"*\","
					      "\"listeners\":[\"*\"],\"connectors\":[\"*\"],"
					      "\"backlog\":2,\"backlog_per_identity\":1}]}",
					  "s.json"), 0);
	struct fake_end lis, c[3];
	fake_end_init(&x, &lis, "uid:0");
	fake_request_ex(&x, &lis, "svc", 1, 1, 0, 0);
	const char *who[3] = {"uid:1000", "uid:1000", "uid:1001"};
	for (int i = 0; i < 3; i++) {
		fake_end_init(&x, &c[i], who[i]);
		fake_request_ex(&x, &c[i], "svc", 0, 0, 0, 60000);
	}
	char text[IVT_CTRL_STATUS_MAX + 1];
	ivt_broker_status(x.b, text, sizeof(text));
	char *js = ivt_status_to_json(text);
	assert_non_null(js);
	json_t *o = json_loads(js, 0, NULL);
	assert_non_null(o);
	json_t *ch = json_object_get(o, "channels");
	assert_int_equal(json_array_size(ch), 4); /* the listener and its three */
	json_t *l = json_array_get(ch, 0);
	assert_string_equal(json_string_value(json_object_get(l, "state")), "listener");
	assert_int_equal(json_integer_value(json_object_get(l, "queued")), 2);
	assert_int_equal(json_integer_value(json_object_get(l, "backlog")), 2);
	assert_int_equal(json_integer_value(json_object_get(l, "share_per_identity")), 1);
	json_t *ids = json_object_get(l, "per_identity");
	assert_int_equal(json_array_size(ids), 2);
	int seen = 0;
	for (size_t i = 0; i < 2; i++) {
		json_t *e = json_array_get(ids, i);
		const char *id = json_string_value(json_object_get(e, "identity"));
		long long q = json_integer_value(json_object_get(e, "queued"));
		long long w = json_integer_value(json_object_get(e, "waiting"));
		if (!strcmp(id, "uid:1000") && q == 1 && w == 1)
			seen |= 1;
		if (!strcmp(id, "uid:1001") && q == 1 && w == 0)
			seen |= 2;
	}
	assert_int_equal(seen, 3);
	assert_int_equal(json_array_size(json_object_get(o, "more")), 0);
	json_decref(o);
	free(js);
	for (int i = 0; i < 3; i++)
		x.cb.gone(x.cb.arg, &c[i].end, 1);
	x.cb.gone(x.cb.arg, &lis.end, 1);
	fake_broker_fini(&x);
}

/* A listener given direct lines: its lines line goes into its row, and
 * the rows below it stay channels (docs/conn-setup.md). */
static void test_lines_status_as_json(void **state)
{
	(void)state;
	const char *text =
		"CHANNEL                  BACKEND        RING LISTENER     CLIENT       STATE         AGE\n"
		"svc                      shm           65536 uid:0        -            listener      5s\n"
		"  1 connected (max 1024), 0 queued (backlog 128)\n"
		"  lines: 3 granted, 41 connections accepted over them (5 held) and 2 offers "
		"dropped (as the listener last reported)\n"
		"  svc                    shm           65536 uid:0        uid:1000     connected     1s\n"
		"old                      shm           65536 uid:0        -            listener      5s\n"
		"  lines: 1 granted, 7 connections accepted over them and 0 offers dropped (as "
		"the listener last reported)\n"; /* an older ivtd's, without held */
	char *js = ivt_status_to_json(text);
	assert_non_null(js);
	json_t *o = json_loads(js, 0, NULL);
	assert_non_null(o);
	json_t *ch = json_object_get(o, "channels");
	assert_int_equal(json_array_size(ch), 3);
	json_t *l = json_array_get(ch, 0);
	assert_int_equal(json_integer_value(json_object_get(l, "lines_granted")), 3);
	assert_int_equal(json_integer_value(json_object_get(l, "line_accepts")), 41);
	assert_int_equal(json_integer_value(json_object_get(l, "line_held")), 5);
	assert_int_equal(json_integer_value(json_object_get(l, "line_offers_dropped")), 2);
	l = json_array_get(ch, 2);
	assert_int_equal(json_integer_value(json_object_get(l, "line_accepts")), 7);
	assert_int_equal(json_integer_value(json_object_get(l, "line_held")), 0);
	assert_int_equal(json_array_size(json_object_get(o, "more")), 0);
	json_decref(o);
	free(js);
}

int main(void)
{
	ivt_log_set_level(ivt_log_level_from_env(IVT_LOG_WARN));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broker_status_as_json),
		cmocka_unit_test(test_listener_status_as_json),
		cmocka_unit_test(test_lines_status_as_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
