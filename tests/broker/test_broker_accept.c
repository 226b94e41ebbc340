/* SPDX-License-Identifier: MIT */
/* Listeners that accept many connections, driven through the fake
 * registry: queueing and tickets, per-connector policy, who may accept,
 * the listener going with connectors queued, backlog/max_connections,
 * connectors whose time runs out, the status table, a listener's count
 * over direct lines, and each connector identity's share of the backlog
 * (one that floods a listener does not lock others out; waiting ones are
 * offered identities in turn). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "ivtd/core/broker.h"

#include "fake_registry.h"

static const char *policy_text =
	"{\"version\":1,\"channels\":[\n"
	"{\"name\":\"svc\",\"listeners\":[\"uid:0\"],\"connectors\":[\"uid:1000\",\"uid:1001\","
	"\"uid:1002\",\"uid:1003\"],\"backlog\":2,\"max_connections\":3},\n"
	"{\"name\":\"fair\",\"listeners\":[\"uid:0\"],\"connectors\":[\"uid:1000\",\"uid:1001\","
	"\"uid:1002\"],\"backlog\":4,\"max_connections\":100},\n"
	"{\"name\":\"fair1\",\"listeners\":[\"uid:0\"],\"connectors\":[\"uid:1000\"],"
	"\"backlog\":4,\"backlog_per_identity\":3}\n"
	"]}";

static int setup_fx(void **state) { return fake_broker_setup(state, policy_text, "a.json"); }
static int teardown_fx(void **state) { return fake_broker_teardown(state); }

#define MAX_ENDS 16
static struct fake_end ends[MAX_ENDS];
static int n_ends;

static struct fake_end *end_of(struct fake_broker *x, const char *identity)
{
	assert_true(n_ends < MAX_ENDS);
	struct fake_end *f = &ends[n_ends++];
	fake_end_init(x, f, identity);
	f->end.uid = (uint32_t)atoi(identity + 4);
	return f;
}

static void gone(struct fake_broker *x, struct fake_end *f, int graceful)
{
	x->cb.gone(x->cb.arg, &f->end, graceful);
}

static void test_queue_accept_and_identities(void **state)
{
	struct fake_broker *x = *state;
	n_ends = 0;
	struct fake_end *lis = end_of(x, "uid:0"), *c1 = end_of(x, "uid:1000");
	fake_request_ex(x, lis, "svc", 1, 1, 0, 0);
	assert_int_equal(lis->ok_count, 1);
	fake_request_ex(x, c1, "svc", 0, 0, 0, 5000);
	/* queued: offered to the listener, not answered yet */
	assert_int_equal(c1->ok_count + c1->err_count, 0);
	assert_int_equal(lis->n_tickets, 1);
	assert_string_equal(lis->ticket_ids[0], "uid:1000");

	/* another uid may not take the listener's connections */
	struct fake_end *thief = end_of(x, "uid:1001");
	fake_request_ex(x, thief, "svc", 1, 0, lis->tickets[0], 0);
	assert_int_equal(thief->last_err, EACCES);
	/* a ticket nobody holds */
	struct fake_end *a0 = end_of(x, "uid:0");
	fake_request_ex(x, a0, "svc", 1, 0, 999, 0);
	assert_int_equal(a0->last_err, ECONNABORTED);

	struct fake_end *a1 = end_of(x, "uid:0");
	fake_request_ex(x, a1, "svc", 1, 0, lis->tickets[0], 0);
	assert_int_equal(a1->ok_count, 1);
	assert_int_equal(a1->last_ok.is_server, 1);
	assert_int_equal(c1->ok_count, 1);
	assert_int_equal(c1->last_ok.chan_id, a1->last_ok.chan_id);
	assert_string_equal(a1->peer_identity, "uid:1000");
	assert_string_equal(c1->peer_identity, "uid:0");
	assert_int_equal(a1->peer_events[0], IVT_PEER_CONNECTED);
	/* the ticket is used up */
	struct fake_end *again = end_of(x, "uid:0");
	fake_request_ex(x, again, "svc", 1, 0, lis->tickets[0], 0);
	assert_int_equal(again->last_err, ECONNABORTED);

	char st[IVT_CTRL_STATUS_MAX + 1];
	ivt_broker_status(x->b, st, sizeof(st));
	assert_non_null(strstr(st, "listener"));
	assert_non_null(strstr(st, "1 connected (max 3), 0 queued (backlog 2)"));
	assert_non_null(strstr(st, "  svc"));

	/* the listener goes: the accepted connection lives on */
	gone(x, lis, 1);
	assert_int_equal(c1->n_peer_events, 0);
	gone(x, c1, 1);
	assert_int_equal(a1->peer_events[1], IVT_PEER_CLOSED);
	gone(x, a1, 1);
	for (int i = 0; i < n_ends; i++)
		if (&ends[i] != lis && &ends[i] != c1 && &ends[i] != a1)
			gone(x, &ends[i], 1);
	struct ivt_broker_stats bs;
	ivt_broker_get_stats(x->b, &bs);
	assert_int_equal(bs.channels, 0);
}

static void test_refused_connector_never_queued(void **state)
{
	struct fake_broker *x = *state;
	n_ends = 0;
	struct fake_end *lis = end_of(x, "uid:0"), *bad = end_of(x, "uid:2000");
	fake_request_ex(x, lis, "svc", 1, 1, 0, 0);
	fake_request_ex(x, bad, "svc", 0, 0, 0, 5000);
	assert_int_equal(bad->last_err, EACCES);
	assert_int_equal(lis->n_tickets, 0);
	gone(x, bad, 1);
	gone(x, lis, 1);
}

static void test_listener_gone_refuses_queued(void **state)
{
	struct fake_broker *x = *state;
	n_ends = 0;
	struct fake_end *lis = end_of(x, "uid:0"), *c1 = end_of(x, "uid:1000"),
			*c2 = end_of(x, "uid:1001"), *c3 = end_of(x, "uid:1002");
	fake_request_ex(x, lis, "svc", 1, 1, 0, 0);
	fake_request_ex(x, c1, "svc", 0, 0, 0, 5000);
	fake_request_ex(x, c2, "svc", 0, 0, 0, 5000);
	fake_request_ex(x, c3, "svc", 0, 0, 0, 5000); /* beyond backlog 2: waits */
	assert_int_equal(lis->n_tickets, 2);
	gone(x, lis, 0);
	for (struct fake_end *c = c1; c <= c3; c++) {
		assert_int_equal(c->last_err, ECONNREFUSED);
		assert_non_null(strstr(c->last_msg, "before accepting"));
	}
	/* the name is free, and the refused ends carry no channel */
	struct fake_end *lis2 = end_of(x, "uid:0");
	fake_request_ex(x, lis2, "svc", 1, 1, 0, 0);
	assert_int_equal(lis2->ok_count, 1);
	for (struct fake_end *c = c1; c <= c3; c++)
		gone(x, c, 1);
	gone(x, lis2, 1);
}

static void test_backlog_max_and_expiry(void **state)
{
	struct fake_broker *x = *state;
	n_ends = 0;
	struct fake_end *lis = end_of(x, "uid:0");
	fake_request_ex(x, lis, "svc", 1, 1, 0, 0);
	struct fake_end *c[4];
	for (int i = 0; i < 2; i++) {
		char id[16];
		snprintf(id, sizeof(id), "uid:%d", 1000 + i);
		c[i] = end_of(x, id);
		fake_request_ex(x, c[i], "svc", 0, 0, 0, 60000);
	}
	/* backlog 2 full: wait 0 is refused at once, saying which */
	struct fake_end *now = end_of(x, "uid:1002");
	fake_request_ex(x, now, "svc", 0, 0, 0, 0);
	assert_int_equal(now->last_err, EAGAIN);
	assert_non_null(strstr(now->last_msg, "backlog"));
	/* one that waits briefly: refused by the tick when its time is up */
	c[2] = end_of(x, "uid:1002");
	fake_request_ex(x, c[2], "svc", 0, 0, 0, 1);
	assert_int_equal(c[2]->err_count, 0);
	usleep(5000);
	ivt_broker_tick(x->b);
	assert_int_equal(c[2]->last_err, EAGAIN);
	/* one that waits long: offered when an accept makes room */
	c[3] = end_of(x, "uid:1003");
	fake_request_ex(x, c[3], "svc", 0, 0, 0, 60000);
	assert_int_equal(lis->n_tickets, 2);
	struct fake_end *a[3];
	for (int i = 0; i < 2; i++) {
		a[i] = end_of(x, "uid:0");
		fake_request_ex(x, a[i], "svc", 1, 0, lis->tickets[i], 0);
		assert_int_equal(c[i]->ok_count, 1);
	}
	assert_int_equal(lis->n_tickets, 3);
	assert_string_equal(lis->ticket_ids[2], "uid:1003");
	/* 2 connected + 1 queued = max_connections 3 */
	struct fake_end *full = end_of(x, "uid:1001");
	fake_request_ex(x, full, "svc", 0, 0, 0, 0);
	assert_int_equal(full->last_err, EUSERS);
	assert_non_null(strstr(full->last_msg, "max_connections"));
	/* queued too long: ETIMEDOUT, and its ticket is then stale */
	ivt_broker_tick(x->b); /* not yet */
	assert_int_equal(c[3]->err_count, 0);
	gone(x, c[3], 0); /* the connector gives up */
	a[2] = end_of(x, "uid:0");
	fake_request_ex(x, a[2], "svc", 1, 0, lis->tickets[2], 0);
	assert_int_equal(a[2]->last_err, ECONNABORTED);
	/* a connection ending frees room */
	gone(x, c[0], 1);
	assert_int_equal(a[0]->peer_events[1], IVT_PEER_CLOSED);
	struct fake_end *late = end_of(x, "uid:1002");
	fake_request_ex(x, late, "svc", 0, 0, 0, 0);
	assert_int_equal(late->err_count, 0);
	assert_int_equal(lis->n_tickets, 4);
	for (int i = 0; i < n_ends; i++)
		if (&ends[i] != c[3] && &ends[i] != c[0])
			gone(x, &ends[i], 1);
	struct ivt_broker_stats bs;
	ivt_broker_get_stats(x->b, &bs);
	assert_int_equal(bs.channels, 0);
}

/* A connector that closes first leaves the accepting end with the
 * listener (TCP's CLOSE_WAIT): it counts against max_connections until
 * that end goes (issue 11). */
static void test_connector_gone_first_still_held(void **state)
{
	struct fake_broker *x = *state;
	n_ends = 0;
	struct fake_end *lis = end_of(x, "uid:0");
	fake_request_ex(x, lis, "svc", 1, 1, 0, 0);
	struct fake_end *c[3], *a[3];
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "uid:%d", 1000 + i);
		c[i] = end_of(x, id);
		fake_request_ex(x, c[i], "svc", 0, 0, 0, 60000);
		a[i] = end_of(x, "uid:0");
		fake_request_ex(x, a[i], "svc", 1, 0, lis->tickets[i], 0);
		assert_int_equal(c[i]->ok_count, 1);
	}
	for (int i = 0; i < 3; i++)
		gone(x, c[i], 1);
	char st[IVT_CTRL_STATUS_MAX + 1];
	ivt_broker_status(x->b, st, sizeof(st));
	assert_non_null(strstr(st, "3 connected (max 3), 0 queued"));
	struct fake_end *now = end_of(x, "uid:1003");
	fake_request_ex(x, now, "svc", 0, 0, 0, 0);
	assert_int_equal(now->last_err, EUSERS);
	struct fake_end *waits = end_of(x, "uid:1003");
	fake_request_ex(x, waits, "svc", 0, 0, 0, 60000);
	assert_int_equal(waits->err_count, 0);
	assert_int_equal(lis->n_tickets, 3);
	/* the listener closes one it held: the waiting one is offered */
	gone(x, a[0], 1);
	assert_int_equal(lis->n_tickets, 4);
	assert_string_equal(lis->ticket_ids[3], "uid:1003");
	ivt_broker_status(x->b, st, sizeof(st));
	assert_non_null(strstr(st, "2 connected (max 3), 1 queued"));
	/* the listener goes while holding ends: they are its no more */
	gone(x, lis, 1);
	assert_int_equal(waits->last_err, ECONNREFUSED);
	for (int i = 1; i < 3; i++)
		gone(x, a[i], 1);
	gone(x, now, 1);
	gone(x, waits, 1);
	struct ivt_broker_stats bs;
	ivt_broker_get_stats(x->b, &bs);
	assert_int_equal(bs.channels, 0);
}

/* A listener that holds max_connections over direct lines reports what
 * it holds there while at the bound (docs/conn-setup.md): ivtd adds it to
 * its own count, only to refuse more (a huge count is the bound, no
 * wrap), and offers its waiting connectors once the listener says 0
 * again. A listener that did not say it holds the bound is not heard. */
static void test_line_held_count(void **state)
{
	struct fake_broker *x = *state;
	n_ends = 0;
	struct fake_end *lis = end_of(x, "uid:0");
	struct ivt_end_request r;
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "svc");
	r.listen = r.multi = r.line_bound = 1;
	x->cb.request(x->cb.arg, &lis->end, &r);
	assert_int_equal(lis->ok_count, 1);
	x->cb.line_stats(x->cb.arg, &lis->end, 9, 0, UINT64_MAX); /* hostile: clamped */
	struct fake_end *now = end_of(x, "uid:1000");
	fake_request_ex(x, now, "svc", 0, 0, 0, 0);
	assert_int_equal(now->last_err, EUSERS);
	assert_non_null(strstr(now->last_msg, "max_connections"));
	struct fake_end *waits = end_of(x, "uid:1001");
	fake_request_ex(x, waits, "svc", 0, 0, 0, 60000);
	assert_int_equal(waits->err_count, 0);
	assert_int_equal(lis->n_tickets, 0);
	/* only the listener's own end is heard */
	x->cb.line_stats(x->cb.arg, &waits->end, 0, 0, 0);
	assert_int_equal(lis->n_tickets, 0);
	/* 2 of 3 over lines: one place left, the waiting one takes it */
	x->cb.line_stats(x->cb.arg, &lis->end, 9, 0, 2);
	assert_int_equal(lis->n_tickets, 1);
	assert_string_equal(lis->ticket_ids[0], "uid:1001");
	struct fake_end *more = end_of(x, "uid:1002");
	fake_request_ex(x, more, "svc", 0, 0, 0, 0);
	assert_int_equal(more->last_err, EUSERS);
	/* below its bound again */
	x->cb.line_stats(x->cb.arg, &lis->end, 9, 0, 0);
	struct fake_end *later = end_of(x, "uid:1002");
	fake_request_ex(x, later, "svc", 0, 0, 0, 0);
	assert_int_equal(later->err_count, 0);
	assert_int_equal(lis->n_tickets, 2);
	for (int i = 0; i < n_ends; i++)
		if (&ends[i] != now && &ends[i] != more)
			gone(x, &ends[i], 1);
	/* a listener that does not hold the bound: its count is not used */
	n_ends = 0;
	lis = end_of(x, "uid:0");
	fake_request_ex(x, lis, "svc", 1, 1, 0, 0);
	x->cb.line_stats(x->cb.arg, &lis->end, 0, 0, 3);
	struct fake_end *c = end_of(x, "uid:1000");
	fake_request_ex(x, c, "svc", 0, 0, 0, 0);
	assert_int_equal(c->err_count, 0);
	assert_int_equal(lis->n_tickets, 1);
	gone(x, c, 1);
	gone(x, lis, 1);
	struct ivt_broker_stats bs;
	ivt_broker_get_stats(x->b, &bs);
	assert_int_equal(bs.channels, 0);
}

/* One identity floods: it holds at most its share of the backlog (half,
 * by default), others are still offered, and waiting connectors are
 * offered identities in turn, not in plain arrival order. */
static void test_flood_leaves_room_for_others(void **state)
{
	struct fake_broker *x = *state;
	n_ends = 0;
	struct fake_end *lis = end_of(x, "uid:0");
	fake_request_ex(x, lis, "fair", 1, 1, 0, 0);
	struct fake_end *flood[6];
	for (int i = 0; i < 6; i++) {
		flood[i] = end_of(x, "uid:1000");
		fake_request_ex(x, flood[i], "fair", 0, 0, 0, 60000);
		assert_int_equal(flood[i]->err_count, 0); /* waits, as beyond the backlog */
	}
	assert_int_equal(lis->n_tickets, 2); /* its share: half of backlog 4 */
	/* one of it that does not wait is refused, naming the limit */
	struct fake_end *now = end_of(x, "uid:1000");
	fake_request_ex(x, now, "fair", 0, 0, 0, 0);
	assert_int_equal(now->last_err, EAGAIN);
	assert_non_null(strstr(now->last_msg, "backlog_per_identity"));
	assert_non_null(strstr(now->last_msg, "uid:1000"));
	/* another identity is offered at once and accepted */
	struct fake_end *other = end_of(x, "uid:1001");
	fake_request_ex(x, other, "fair", 0, 0, 0, 60000);
	assert_int_equal(lis->n_tickets, 3);
	assert_string_equal(lis->ticket_ids[2], "uid:1001");
	struct fake_end *a = end_of(x, "uid:0");
	fake_request_ex(x, a, "fair", 1, 0, lis->tickets[2], 0);
	assert_int_equal(other->ok_count, 1);
	/* fill the backlog (uid:1002 too), then a third identity waits */
	struct fake_end *c2 = end_of(x, "uid:1002");
	fake_request_ex(x, c2, "fair", 0, 0, 0, 60000);
	struct fake_end *o2 = end_of(x, "uid:1001");
	fake_request_ex(x, o2, "fair", 0, 0, 0, 60000);
	assert_int_equal(lis->n_tickets, 5); /* 2 flood + c2 + o2 queued: backlog 4 */
	struct fake_end *c3 = end_of(x, "uid:1002");
	fake_request_ex(x, c3, "fair", 0, 0, 0, 60000);
	assert_int_equal(lis->n_tickets, 5);
	/* ivtctl status: each identity's places and waiters (issue 11) */
	char st[IVT_CTRL_STATUS_MAX + 1];
	ivt_broker_status(x->b, st, sizeof(st));
	assert_non_null(strstr(st, "1 connected (max 100), 4 queued (backlog 4)\n"
				   "  per identity (share 2): "));
	assert_non_null(strstr(st, " uid:1000 2 queued 4 waiting"));
	assert_non_null(strstr(st, " uid:1001 1 queued 0 waiting"));
	assert_non_null(strstr(st, " uid:1002 1 queued 1 waiting"));
	/* accepting the flood's two: the first place goes to the flood's
	 * oldest waiter, the next to uid:1002, not to the flood's next four */
	struct fake_end *acc[2];
	for (int i = 0; i < 2; i++) {
		acc[i] = end_of(x, "uid:0");
		fake_request_ex(x, acc[i], "fair", 1, 0, lis->tickets[i], 0);
		assert_int_equal(flood[i]->ok_count, 1);
	}
	assert_int_equal(lis->n_tickets, 7);
	assert_string_equal(lis->ticket_ids[5], "uid:1000");
	assert_string_equal(lis->ticket_ids[6], "uid:1002");
	for (int i = 0; i < n_ends; i++)
		gone(x, &ends[i], 1);
	struct ivt_broker_stats bs;
	ivt_broker_get_stats(x->b, &bs);
	assert_int_equal(bs.channels, 0);
}

/* The policy key sets the share. */
static void test_share_from_policy(void **state)
{
	struct fake_broker *x = *state;
	n_ends = 0;
	struct fake_end *lis = end_of(x, "uid:0");
	fake_request_ex(x, lis, "fair1", 1, 1, 0, 0);
	for (int i = 0; i < 4; i++)
		fake_request_ex(x, end_of(x, "uid:1000"), "fair1", 0, 0, 0, 60000);
	assert_int_equal(lis->n_tickets, 3);
	for (int i = 0; i < n_ends; i++)
		gone(x, &ends[i], 1);
}

/* What ivtd logs while f goes, into buf (its stderr, at level info). */
static void gone_logged(struct fake_broker *x, struct fake_end *f, char *buf, size_t cap)
{
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int level = ivt_log_get_level(), saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
	ivt_log_set_level(IVT_LOG_INFO);
	gone(x, f, 1);
	ivt_log_set_level(level);
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	rewind(tmp);
	size_t n = fread(buf, 1, cap - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
}

/* The log says which end went: an accepted end is not its listener. */
static void test_gone_log_names_the_end(void **state)
{
	struct fake_broker *x = *state;
	n_ends = 0;
	struct fake_end *lis = end_of(x, "uid:0"), *c1 = end_of(x, "uid:1000"),
			*a1 = end_of(x, "uid:0");
	fake_request_ex(x, lis, "svc", 1, 1, 0, 0);
	fake_request_ex(x, c1, "svc", 0, 0, 0, 5000);
	assert_int_equal(lis->n_tickets, 1);
	fake_request_ex(x, a1, "svc", 1, 0, lis->tickets[0], 0);
	assert_int_equal(a1->ok_count, 1);
	char log[1024];
	gone_logged(x, a1, log, sizeof(log));
	assert_non_null(strstr(log, "channel 'svc': accepted end uid:0 of the connection from "
				    "uid:1000 closed"));
	assert_null(strstr(log, "listener"));
	gone_logged(x, lis, log, sizeof(log));
	assert_non_null(strstr(log, "channel 'svc': listener uid:0 closed"));
	gone_logged(x, c1, log, sizeof(log));
	assert_non_null(strstr(log, "channel 'svc': client uid:1000 closed"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_accept_and_identities, setup_fx,
						teardown_fx),
		cmocka_unit_test_setup_teardown(test_refused_connector_never_queued, setup_fx,
						teardown_fx),
		cmocka_unit_test_setup_teardown(test_listener_gone_refuses_queued, setup_fx,
						teardown_fx),
		cmocka_unit_test_setup_teardown(test_backlog_max_and_expiry, setup_fx, teardown_fx),
		cmocka_unit_test_setup_teardown(test_connector_gone_first_still_held, setup_fx,
						teardown_fx),
		cmocka_unit_test_setup_teardown(test_line_held_count, setup_fx, teardown_fx),
		cmocka_unit_test_setup_teardown(test_flood_leaves_room_for_others, setup_fx,
						teardown_fx),
		cmocka_unit_test_setup_teardown(test_share_from_policy, setup_fx, teardown_fx),
		cmocka_unit_test_setup_teardown(test_gone_log_names_the_end, setup_fx, teardown_fx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
