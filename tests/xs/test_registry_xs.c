/* SPDX-License-Identifier: MIT */
/*
 * registry_xs.c with the real libxenstore, against fake_xenstored: the
 * guest protocol of docs/xenstore.md end to end (requests found at start
 * and later, answers and their permissions, hostile values, rewrite,
 * graceful close, domain death with cleanup of stale vchan nodes).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <event2/event.h>

#include "fake_xenstored.h"
#include "xs_pump.h"
#include "ivtd/registries/registry.h"

#define DIR3 "/local/domain/3/data/ivt"
#define DIR5 "/local/domain/5/data/ivt"

struct seen_end {
	struct ivt_reg_end *end;
	struct ivt_end_request req;
	uint32_t domid;
	char identity[48];
};

static struct {
	int requests, gones, last_graceful;
	struct seen_end last; /* of the latest request */
	uint32_t gone_domid;
	char gone_identity[48];
} rec;

static void on_request(void *arg, struct ivt_reg_end *end, const struct ivt_end_request *req)
{
	rec.requests++;
	rec.last.end = end;
	rec.last.req = *req;
	rec.last.domid = end->domid;
	ivt_identity_format(&end->who, rec.last.identity, sizeof(rec.last.identity));
}

static void on_gone(void *arg, struct ivt_reg_end *end, int graceful)
{
	rec.gones++;
	rec.last_graceful = graceful;
	rec.gone_domid = end->domid;
	ivt_identity_format(&end->who, rec.gone_identity, sizeof(rec.gone_identity));
}

static struct event_base *base;

/* Run the loop until cond() holds; the deadline only guards against hangs. */
static int pump(int (*cond)(void *), void *arg) { return xs_pump(base, cond, arg); }

static int requests_at_least(void *n) { return rec.requests >= *(int *)n; }
static int gones_at_least(void *n) { return rec.gones >= *(int *)n; }

static void wait_requests(int n) { assert_true(pump(requests_at_least, &n)); }
static void wait_gones(int n) { assert_true(pump(gones_at_least, &n)); }

static void assert_value(const char *path, const char *want)
{
	char *v = fx_read(path);
	if (!v || strcmp(v, want))
		fail_msg("%s = '%s', wanted '%s'", path, v ? v : "(none)", want);
	free(v);
}

static void assert_prefix(const char *path, const char *want)
{
	char *v = fx_read(path);
	if (!v || strncmp(v, want, strlen(want)))
		fail_msg("%s = '%s', wanted '%s...'", path, v ? v : "(none)", want);
	free(v);
}

static void test_no_xenstore(void **state)
{
	char why[256] = "";
	struct ivt_broker_cb cb = {.request = on_request, .gone = on_gone};
	setenv("XENSTORED_PATH", "/nonexistent/xenstored", 1);
	struct event_base *b = event_base_new();
	struct ivt_registry *r = ivt_registry_xs_new(b, &cb, why, sizeof(why));
	assert_null(r);
	assert_non_null(strstr(why, "cannot reach XenStore: "));
	event_base_free(b);
}

static struct ivt_ctrl_open_ok ok_for(int server, uint32_t local, uint32_t peer, const char *path)
{
	struct ivt_ctrl_open_ok ok = {.chan_id = 1, .ring_size = 65536, .is_server = (uint32_t)server,
				      .local_domid = local, .peer_domid = peer};
	strcpy(ok.backend, "vchan");
	snprintf(ok.xs_path, sizeof(ok.xs_path), "%s", path);
	return ok;
}

static void test_protocol(void **state)
{
	char why[256] = "";
	struct ivt_broker_cb cb = {.request = on_request, .gone = on_gone};

	assert_int_equal(fx_start(), 0);
	fx_write("/local/domain/0/name", "Domain-0");
	fx_write("/local/domain/3/name", "server");
	fx_set_introduced(3, 1);
	/* Written before ivtd starts: found by the first watch firing. */
	fx_write(DIR3 "/demo/request", "listen backend=auto ring=65536 seq=11");

	base = event_base_new();
	struct ivt_registry *reg = ivt_registry_xs_new(base, &cb, why, sizeof(why));
	if (!reg)
		fail_msg("registry: %s", why);
	assert_string_equal(reg->ops->name, "xenstore");

	wait_requests(1);
	struct ivt_reg_end *srv = rec.last.end;
	assert_string_equal(rec.last.identity, "dom:3");
	assert_int_equal(rec.last.domid, 3);
	assert_int_equal(srv->pid, -1);
	assert_string_equal(rec.last.req.name, "demo");
	assert_string_equal(rec.last.req.backend, "auto");
	assert_int_equal(rec.last.req.listen, 1);
	assert_int_equal(rec.last.req.ring_size, 65536);

	/* Answer through a transaction that has to be retried once. */
	fx_fail_next_commit();
	struct ivt_ctrl_open_ok ok = ok_for(1, 3, 5, DIR3 "/demo/vchan");
	assert_int_equal(reg->ops->reply_ok(srv, &ok), 0);
	assert_int_equal(fx_failed_commits(), 1);
	assert_value(DIR3 "/demo/response",
		     "ok backend=vchan ring=65536 path=/local/domain/3/data/ivt/demo/vchan peer=5 "
		     "chan=1 seq=11");
	char *perms = fx_perms(DIR3 "/demo/response");
	assert_string_equal(perms, "n0,r3"); /* dom0 owns it, the guest may only read */
	free(perms);

	/* A second domain appears and connects. */
	fx_write("/local/domain/5/name", "client");
	fx_set_introduced(5, 1);
	fx_fire("@introduceDomain");
	fx_write(DIR5 "/demo/request", "connect peer=3 seq=22");
	wait_requests(2);
	struct ivt_reg_end *cli = rec.last.end;
	assert_string_equal(rec.last.identity, "dom:5");
	assert_int_equal(rec.last.req.listen, 0);

	/* The guest insisted on dom3: a match with dom4 is refused. */
	ok = ok_for(0, 5, 4, "/local/domain/4/data/ivt/demo/vchan");
	assert_int_equal(reg->ops->reply_ok(cli, &ok), -ECONNREFUSED);
	assert_prefix(DIR5 "/demo/response", "error 111 seq=22 ");
	/* A client's ring must be in the server's subtree. */
	ok = ok_for(0, 5, 3, DIR5 "/demo/vchan");
	assert_int_equal(reg->ops->reply_ok(cli, &ok), -EINVAL);
	ok = ok_for(0, 5, 3, DIR3 "/demo/vchan");
	assert_int_equal(reg->ops->reply_ok(cli, &ok), 0);
	assert_value(DIR5 "/demo/response",
		     "ok backend=vchan ring=65536 path=/local/domain/3/data/ivt/demo/vchan peer=3 "
		     "chan=1 seq=22");

	assert_int_equal(reg->ops->notify_peer(srv, IVT_PEER_CONNECTED, 5), 0);
	assert_value(DIR3 "/demo/event", "peer=connected domid=5 seq=11");
	perms = fx_perms(DIR3 "/demo/event");
	assert_string_equal(perms, "n0,r3");
	free(perms);
	assert_int_equal(reg->ops->relay_setup(srv, "x", 1, NULL, 0), -ENOTSUP);
	assert_int_equal(reg->ops->reply_error(cli, -EACCES, "policy\tsays\nno"), 0);
	assert_value(DIR5 "/demo/response", "error 13 seq=22 reason=policy says no");

	/* Hostile values: refused with a reason, never reach the broker. */
	fx_write(DIR5 "/bad/request", "listen ring=12 seq=1");
	assert_true(pump(node_exists, DIR5 "/bad/response"));
	assert_prefix(DIR5 "/bad/response", "error 22 reason=ring must be 0 or a power of two");
	char big[400];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fx_write(DIR5 "/big/request", big);
	assert_true(pump(node_exists, DIR5 "/big/response"));
	assert_prefix(DIR5 "/big/response", "error 22 reason=request longer than");
	fx_write(DIR5 "/x/y/request", "listen");         /* not a request path */
	fx_write(DIR5 "/.hidden/request", "listen");     /* not a channel name */
	fx_write("/local/domain/5/data/ivtx/request", "listen");
	fx_write(DIR5 "/sentinel/request", "listen seq=3"); /* processed after those */
	wait_requests(3);
	assert_string_equal(rec.last.req.name, "sentinel");
	assert_int_equal(rec.requests, 3);
	assert_false(node_exists(DIR5 "/x/y/response"));
	assert_false(node_exists(DIR5 "/.hidden/response"));

	assert_false(rec.last.req.message);

	/* Rewriting a request ends the old end and opens a new one. The
	 * mode travels both ways: IVT_MESSAGE in, the channel's mode out. */
	fx_write(DIR5 "/sentinel/request", "listen message=1 seq=4");
	wait_requests(4);
	assert_true(rec.last.req.message);
	ok = ok_for(1, 5, 3, DIR5 "/sentinel/vchan");
	ok.flags = IVT_CTRL_OK_MESSAGE;
	assert_int_equal(reg->ops->reply_ok(rec.last.end, &ok), 0);
	assert_value(DIR5 "/sentinel/response",
		     "ok backend=vchan ring=65536 path=/local/domain/5/data/ivt/sentinel/vchan "
		     "peer=3 chan=1 message=1 seq=4");
	assert_int_equal(rec.gones, 1);
	assert_int_equal(rec.last_graceful, 1);

	/* Graceful close: the guest removes its channel node. */
	fx_rm(DIR5 "/demo");
	wait_gones(2);
	assert_int_equal(rec.last_graceful, 1);
	assert_string_equal(rec.gone_identity, "dom:5");

	/* The server crashes and its domain dies: ends go away ungracefully
	 * and no stale ring nodes or answers remain. */
	fx_write(DIR3 "/demo/vchan/ring-ref", "8");
	fx_write(DIR3 "/demo/vchan/event-channel", "12");
	fx_set_introduced(3, 0);
	fx_fire("@releaseDomain");
	wait_gones(3);
	assert_int_equal(rec.last_graceful, 0);
	assert_int_equal(rec.gone_domid, 3);
	assert_true(pump(node_gone, DIR3 "/demo/vchan"));
	assert_false(node_exists(DIR3 "/demo/response"));
	assert_false(node_exists(DIR3 "/demo/event"));

	/* The toolstack removes a domain's directory before @releaseDomain:
	 * still a death, not a close. */
	fx_rm("/local/domain/5");
	wait_gones(4);
	assert_int_equal(rec.last_graceful, 0);
	assert_int_equal(rec.gone_domid, 5);

	reg->ops->destroy(reg);
	event_base_free(base);
	fx_stop();
}

/* Half-close: "halfclose=1" in a request marks the end; its ok says
 * "halfclose=1" only when the broker's peer_info said the other end takes
 * it too (and never to an end that did not ask). */
static void test_halfclose_grant(void **state)
{
	(void)state;
	char why[256] = "";
	struct ivt_broker_cb cb = {.request = on_request, .gone = on_gone};
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(fx_start(), 0);
	fx_write("/local/domain/3/name", "server");
	fx_set_introduced(3, 1);
	base = event_base_new();
	struct ivt_registry *reg = ivt_registry_xs_new(base, &cb, why, sizeof(why));
	if (!reg)
		fail_msg("registry: %s", why);
	struct ivt_identity peer = ivt_identity_dom(5);
	static const struct {
		const char *name, *request;
		uint32_t peer_flags;
		const char *want;
	} cases[] = {
		{"a", "listen halfclose=1 seq=1", IVT_CTRL_PEER_HALFCLOSE, " halfclose=1 seq=1"},
		{"b", "listen halfclose=1 seq=2", 0, " seq=2"},
		{"c", "listen seq=3", IVT_CTRL_PEER_HALFCLOSE, " seq=3"},
	};
	for (int i = 0; i < 3; i++) {
		char path[96], want[160];
		snprintf(path, sizeof(path), DIR3 "/%s/request", cases[i].name);
		fx_write(path, cases[i].request);
		wait_requests(i + 1);
		struct ivt_reg_end *e = rec.last.end;
		assert_int_equal(e->halfclose, i < 2);
		assert_int_equal(reg->ops->peer_info(e, &peer, 5, cases[i].peer_flags), 0);
		snprintf(path, sizeof(path), DIR3 "/%s/vchan", cases[i].name);
		struct ivt_ctrl_open_ok ok = ok_for(1, 3, 5, path);
		assert_int_equal(reg->ops->reply_ok(e, &ok), 0);
		snprintf(path, sizeof(path), DIR3 "/%s/response", cases[i].name);
		snprintf(want, sizeof(want), "ok backend=vchan ring=65536 path=" DIR3 "/%s/vchan "
					     "peer=5 chan=1%s", cases[i].name, cases[i].want);
		assert_value(path, want);
	}
	reg->ops->destroy(reg);
	event_base_free(base);
	fx_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_xenstore),
		cmocka_unit_test(test_protocol),
		cmocka_unit_test(test_halfclose_grant),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
