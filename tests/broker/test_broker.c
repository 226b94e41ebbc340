/* SPDX-License-Identifier: MIT */
/* The broker driven through a fake registry that records every answer. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctrl_msg.h"
#include "common/log.h"
#include "ivtd/core/broker.h"

#include "fake_registry.h"
#include "testsupport/fd_count.h"

/* ---- fixture ------------------------------------------------------- */

#define VCHAN_CAPS (IVT_CAP_COLOCATED | IVT_CAP_NEEDS_XEN | IVT_CAP_PEER_BOUND | IVT_CAP_XS_PATH)

static const char *policy_text =
	"{\"version\":1,\"defaults\":{\"max_ring_size\":1048576},\"channels\":[\n"
	"{\"name\":\"demo\",\"listeners\":[\"*\"],\"connectors\":[\"*\"]},\n"
	"{\"name\":\"locked\",\"listeners\":[\"uid:0\"],\"connectors\":[\"uid:1000\"]},\n"
	"{\"name\":\"xen\",\"listeners\":[\"dom:*\"],\"connectors\":[\"dom:*\"]}\n"
	"]}";

static int setup_fx(void **state)
{
	if (fake_broker_setup(state, policy_text, "b.json") != 0)
		return -1;
	struct fake_broker *x = *state;
	ivt_broker_set_backend(x->b, "vchan", VCHAN_CAPS, 0, "no /dev/xen/gntalloc");
	return 0;
}

static int teardown_fx(void **state) { return fake_broker_teardown(state); }



/* ---- tests --------------------------------------------------------- */

static void test_listen_connect(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *srv = fake_end_new(x, "uid:1000"), *cli = fake_end_new(x, "uid:1001");
	fake_request(x, srv, "demo", 1, NULL, 0);
	assert_int_equal(srv->ok_count, 1);
	assert_int_equal(srv->last_ok.is_server, 1);
	assert_string_equal(srv->last_ok.backend, "shm");
	assert_int_equal(srv->last_ok.ring_size, 65536);
	assert_int_equal(srv->n_peer_events, 0);

	fake_request(x, cli, "demo", 0, "auto", 0);
	assert_int_equal(cli->ok_count, 1);
	assert_int_equal(cli->err_count, 0);
	assert_int_equal(cli->last_ok.is_server, 0);
	assert_string_equal(cli->last_ok.backend, "shm");
	assert_int_equal(cli->last_ok.chan_id, srv->last_ok.chan_id);
	assert_int_equal(srv->n_peer_events, 1);
	assert_int_equal(srv->peer_events[0], IVT_PEER_CONNECTED);

	char status[IVT_CTRL_STATUS_MAX + 1];
	ivt_broker_status(x->b, status, sizeof(status));
	assert_non_null(strstr(status, "demo"));
	assert_non_null(strstr(status, "connected"));

	fake_end_gone(x, cli, 1);
	assert_int_equal(srv->n_peer_events, 2);
	assert_int_equal(srv->peer_events[1], IVT_PEER_CLOSED);
	fake_end_gone(x, srv, 1);
	struct ivt_broker_stats st;
	ivt_broker_get_stats(x->b, &st);
	assert_int_equal(st.channels, 0);
	assert_int_equal(st.granted, 2);
}

static void test_second_listener_and_connector(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *s1 = fake_end_new(x, "uid:1"), *s2 = fake_end_new(x, "uid:2");
	struct fake_end *c1 = fake_end_new(x, "uid:3"), *c2 = fake_end_new(x, "uid:4");
	fake_request(x, s1, "demo", 1, NULL, 0);
	fake_request(x, s2, "demo", 1, NULL, 0);
	assert_int_equal(s2->err_count, 1);
	assert_int_equal(s2->last_err, EADDRINUSE);
	assert_non_null(strstr(s2->last_msg, "already has a listener (uid:1)"));
	fake_request(x, c1, "demo", 0, NULL, 0);
	assert_int_equal(c1->ok_count, 1);
	fake_request(x, c2, "demo", 0, NULL, 0);
	assert_int_equal(c2->last_err, EBUSY);
	/* an end carries one channel only */
	fake_request(x, c1, "demo", 0, NULL, 0);
	assert_int_equal(c1->last_err, EISCONN);

	/* listener leaves: the name is free again at once */
	fake_end_gone(x, s1, 1);
	assert_int_equal(c1->peer_events[0], IVT_PEER_CLOSED);
	fake_request(x, s2, "demo", 1, NULL, 0);
	assert_int_equal(s2->ok_count, 1);
	fake_end_gone(x, c1, 1);
	fake_end_gone(x, c2, 1);
	fake_end_gone(x, s2, 1);
}

static void test_refusals(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *srv = fake_end_new(x, "uid:0"), *bad = fake_end_new(x, "uid:1001");
	struct fake_end *good = fake_end_new(x, "uid:1000"), *e = fake_end_new(x, "uid:5");

	/* connecting before anyone listens */
	fake_request(x, good, "locked", 0, NULL, 0);
	assert_int_equal(good->last_err, ENOENT);
	assert_non_null(strstr(good->last_msg, "no listener for channel 'locked'"));
	/* ... but a refusal by policy is said as such even then */
	fake_request(x, bad, "locked", 0, NULL, 0);
	assert_int_equal(bad->last_err, EACCES);

	fake_request(x, srv, "locked", 1, NULL, 0);
	assert_int_equal(srv->ok_count, 1);
	fake_request(x, bad, "locked", 0, NULL, 0);
	assert_int_equal(bad->last_err, EACCES);
	assert_non_null(strstr(bad->last_msg, "uid:1001 may not connect to channel 'locked'"));
	assert_non_null(strstr(bad->last_msg, "channels[1] 'locked' (b.json:3)"));
	assert_int_equal(srv->n_peer_events, 0);

	/* listener not allowed, unknown channel, invalid name */
	fake_request(x, e, "locked2", 1, NULL, 0);
	assert_int_equal(e->last_err, ENOENT);
	assert_non_null(strstr(e->last_msg, "no rule"));
	fake_request(x, e, "../etc", 1, NULL, 0);
	assert_int_equal(e->last_err, EINVAL);
	/* explicitly requested backend that did not probe */
	fake_request(x, e, "demo", 1, "vchan", 0);
	assert_int_equal(e->last_err, ENOTSUP);
	assert_string_equal(e->last_msg,
			    "backend vchan not available on this host: no /dev/xen/gntalloc");
	/* guests on "auto" would get vchan, which is not here either */
	struct fake_end *g = fake_end_new(x, "dom:3");
	fake_request(x, g, "xen", 1, NULL, 0);
	assert_int_equal(g->last_err, ENOTSUP);
	assert_int_equal(e->ok_count + g->ok_count, 0);

	fake_request(x, good, "locked", 0, NULL, 0);
	assert_int_equal(good->ok_count, 1);
	fake_end_gone(x, good, 1);
	fake_end_gone(x, srv, 1);
	fake_end_gone(x, bad, 0);
	fake_end_gone(x, e, 0);
	fake_end_gone(x, g, 0);
}

static void test_died_notifications(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *srv = fake_end_new(x, "uid:1"), *cli = fake_end_new(x, "uid:2");
	fake_request(x, srv, "demo", 1, NULL, 0);
	fake_request(x, cli, "demo", 0, NULL, 0);
	fake_end_gone(x, cli, 0);
	assert_int_equal(srv->peer_events[srv->n_peer_events - 1], IVT_PEER_DIED);
	/* the served listener takes no second client */
	struct fake_end *c2 = fake_end_new(x, "uid:3");
	fake_request(x, c2, "demo", 0, NULL, 0);
	assert_int_equal(c2->last_err, EBUSY);
	fake_end_gone(x, c2, 1);
	fake_end_gone(x, srv, 1);

	srv = fake_end_new(x, "uid:1");
	cli = fake_end_new(x, "uid:2");
	fake_request(x, srv, "demo", 1, NULL, 0);
	fake_request(x, cli, "demo", 0, NULL, 0);
	fake_end_gone(x, srv, 0);
	assert_int_equal(cli->n_peer_events, 1);
	assert_int_equal(cli->peer_events[0], IVT_PEER_DIED);
	struct ivt_broker_stats st;
	ivt_broker_get_stats(x->b, &st);
	assert_int_equal(st.peers_died, 2);
	assert_int_equal(st.channels, 0);
	fake_end_gone(x, cli, 1);
}

static void test_setup_relayed(void **state)
{
	struct fake_broker *x = *state;
	int before = ts_count_open_fds();
	struct fake_end *srv = fake_end_new(x, "uid:1"), *cli = fake_end_new(x, "uid:2");
	fake_request(x, srv, "demo", 1, NULL, 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	x->cb.setup(x->cb.arg, &srv->end, "ring-info", 9, p, 2); /* broker owns p now */
	fake_request(x, cli, "demo", 0, NULL, 0);
	assert_int_equal(cli->setups, 1);
	assert_int_equal(cli->setup_len, 9);
	assert_memory_equal(cli->setup_blob, "ring-info", 9);
	assert_int_equal(cli->setup_nfds, 2);
	assert_true(cli->setup_fds_valid);
	/* relayed: the client has them, ivtd keeps none (fds per channel) */
	assert_int_equal(ts_count_open_fds(), before);

	/* a second setup, and one from the client end, are refused and closed */
	int q[2];
	assert_int_equal(pipe(q), 0);
	x->cb.setup(x->cb.arg, &srv->end, "again", 5, q, 2);
	assert_int_equal(srv->last_err, EALREADY);
	assert_int_equal(ts_count_open_fds(), before);
	assert_int_equal(pipe(q), 0);
	x->cb.setup(x->cb.arg, &cli->end, "evil", 4, q, 2);
	assert_int_equal(cli->last_err, EPROTO);
	assert_int_equal(ts_count_open_fds(), before);

	fake_end_gone(x, srv, 1);
	assert_int_equal(ts_count_open_fds(), before);
	fake_end_gone(x, cli, 1);
}

static void test_setup_after_connect(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *srv = fake_end_new(x, "uid:1"), *cli = fake_end_new(x, "uid:2");
	fake_request(x, srv, "demo", 1, NULL, 0);
	fake_request(x, cli, "demo", 0, NULL, 0);
	assert_int_equal(cli->setups, 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	x->cb.setup(x->cb.arg, &srv->end, "late", 4, p, 1);
	close(p[1]);
	assert_int_equal(cli->setups, 1);
	assert_int_equal(cli->setup_nfds, 1);
	/* setup on an end with no channel */
	struct fake_end *stray = fake_end_new(x, "uid:9");
	assert_int_equal(pipe(p), 0);
	int before = ts_count_open_fds();
	x->cb.setup(x->cb.arg, &stray->end, "x", 1, p, 2);
	assert_int_equal(stray->last_err, EPROTO);
	assert_int_equal(ts_count_open_fds(), before - 2);
	fake_end_gone(x, stray, 0);
	fake_end_gone(x, cli, 1);
	fake_end_gone(x, srv, 1);
}

static void test_ring_clamped_and_policy_swap(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *srv = fake_end_new(x, "uid:1"), *cli = fake_end_new(x, "uid:2");
	fake_request(x, srv, "demo", 1, NULL, 1ull << 30);
	assert_int_equal(srv->last_ok.ring_size, 1048576);
	/* the client asking for another size gets the listener's ring */
	fake_request(x, cli, "demo", 0, NULL, 8192);
	assert_int_equal(cli->last_ok.ring_size, 1048576);

	char err[IVT_POLICY_ERR_MAX];
	struct ivt_policy *p = ivt_policy_load_string(
		"{\"version\":1,\"channels\":[{\"name\":\"other\",\"listeners\":[\"*\"],"
		"\"connectors\":[\"*\"]}]}",
		"new.json", err, sizeof(err));
	assert_non_null(p);
	ivt_broker_set_policy(x->b, p);
	assert_ptr_equal(ivt_broker_policy(x->b), p);
	struct fake_end *s2 = fake_end_new(x, "uid:1");
	fake_request(x, s2, "demo2", 1, NULL, 0);
	assert_int_equal(s2->last_err, ENOENT);
	/* the open channel is unaffected */
	char status[IVT_CTRL_STATUS_MAX + 1];
	ivt_broker_status(x->b, status, sizeof(status));
	assert_non_null(strstr(status, "new.json"));
	assert_non_null(strstr(status, "demo"));
	fake_end_gone(x, s2, 0);
	fake_end_gone(x, srv, 0);
	fake_end_gone(x, cli, 0);
}

static void test_status_truncates(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *ends[200];
	for (int i = 0; i < 200; i++)
		ends[i] = fake_end_new(x, "uid:1");
	char err[IVT_POLICY_ERR_MAX];
	ivt_broker_set_policy(x->b, ivt_policy_load_string(
				     "{\"version\":1,\"channels\":[{\"name\":\"c*\",\"listeners\":"
				     "[\"*\"],\"connectors\":[\"*\"]}]}",
				     "many.json", err, sizeof(err)));
	for (int i = 0; i < 200; i++) {
		char name[32];
		snprintf(name, sizeof(name), "c%d", i);
		fake_request(x, ends[i], name, 1, NULL, 0);
		assert_int_equal(ends[i]->ok_count, 1);
	}
	char status[IVT_CTRL_STATUS_MAX + 1];
	size_t n = ivt_broker_status(x->b, status, sizeof(status));
	assert_int_equal(n, strlen(status));
	assert_true(n < sizeof(status));
	assert_non_null(strstr(status, "more channels"));
	char tiny[10];
	ivt_broker_status(x->b, tiny, sizeof(tiny));
	assert_true(strlen(tiny) < sizeof(tiny));
	for (int i = 0; i < 200; i++)
		fake_end_gone(x, ends[i], 1);
}

/* libxenvchan grants a ring to one domain (IVT_CAP_PEER_BOUND): the vchan
 * listener must learn its client's domid in its answer, so it is answered
 * only when a client comes; IVT_CAP_XS_PATH gives both ends the path. */
static void test_vchan_listener_answered_with_client_domid(void **state)
{
	struct fake_broker *x = *state;
	ivt_broker_set_backend(x->b, "vchan", VCHAN_CAPS, 1, NULL);
	struct fake_end *srv = fake_end_new(x, "dom:7"), *cli = fake_end_new(x, "dom:9");
	fake_request(x, srv, "xen", 1, NULL, 0);
	assert_int_equal(srv->ok_count, 0);
	assert_int_equal(srv->err_count, 0);

	fake_request(x, cli, "xen", 0, NULL, 0);
	assert_int_equal(srv->ok_count, 1);
	assert_int_equal(srv->last_ok.is_server, 1);
	assert_string_equal(srv->last_ok.backend, "vchan");
	assert_int_equal(srv->last_ok.peer_domid, 9);
	assert_int_equal(cli->ok_count, 1);
	assert_int_equal(cli->last_ok.peer_domid, 7);
	assert_string_equal(cli->last_ok.xs_path, srv->last_ok.xs_path);
	assert_non_null(strstr(srv->last_ok.xs_path, "/local/domain/7/"));
	fake_end_gone(x, cli, 1);
	fake_end_gone(x, srv, 1);
}

/* No rule for the name: refused at once (EACCES), not "no listener"
 * (ENOENT), which libivt would retry until the connector's deadline. */
static void test_connect_without_rule_refused(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *cli = fake_end_new(x, "uid:1000");
	fake_request(x, cli, "nosuch", 0, NULL, 0);
	assert_int_equal(cli->err_count, 1);
	assert_int_equal(cli->last_err, EACCES);
	assert_non_null(strstr(cli->last_msg, "no rule in b.json matches channel 'nosuch'"));
	/* a name a rule allows still says nobody listens: that one waits */
	fake_request(x, cli, "demo", 0, NULL, 0);
	assert_int_equal(cli->last_err, ENOENT);
	fake_end_gone(x, cli, 1);
}

/* Policy refusals are logged at most 5 per 10 s: anyone can ask for them. */
static void test_refusals_rate_limited(void **state)
{
	struct fake_broker *x = *state;
	struct fake_end *bad = fake_end_new(x, "uid:1001");
	char path[] = "/tmp/ivt-broker-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	dup2(fd, STDERR_FILENO);
	int level = ivt_log_get_level();
	ivt_log_set_level(IVT_LOG_INFO);
	for (int i = 0; i < 40; i++)
		fake_request(x, bad, "locked", 0, NULL, 0);
	ivt_log_set_level(level);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_int_equal(bad->err_count, 40);
	char buf[16384];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	assert_true(n > 0);
	buf[n] = 0;
	int lines = 0;
	for (const char *p = buf; (p = strstr(p, "refused uid:1001 (EACCES)")); p++)
		lines++;
	assert_in_range(lines, 1, 5);
	fake_end_gone(x, bad, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_fx, teardown_fx)

int main(void)
{
	ivt_log_set_level(ivt_log_level_from_env(IVT_LOG_WARN));
	const struct CMUnitTest tests[] = {
		T(test_listen_connect),
		T(test_second_listener_and_connector),
		T(test_refusals),
		T(test_connect_without_rule_refused),
		T(test_refusals_rate_limited),
		T(test_died_notifications),
		T(test_setup_relayed),
		T(test_setup_after_connect),
		T(test_ring_clamped_and_policy_swap),
		T(test_status_truncates),
		T(test_vchan_listener_answered_with_client_domid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
