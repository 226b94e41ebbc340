/* SPDX-License-Identifier: MIT */
/*
 * ivt_listen/ivt_accept over XenStore, ivtd's side: the real broker and
 * registry_xs.c against fake_xenstored, the test writing what guests
 * write. dom3 listens on "svc" (multi=1); dom5 and dom7 connect (dom7
 * twice, the second time from a slot); dom3 accepts each ticket in slot
 * <ticket>; hostile accepts; dom7 dies (fx_release_domain: what xenstored
 * does) and only its connections go; the listener keeps accepting, then
 * closes with a connector queued. Also guests' TCP ports (tcp.<P> scoped
 * per guest, connectors finding the guest by its toolstack address).
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
#include "ivt/plugin.h"
#include "ivtd/core/broker.h"
#include "ivtd/registries/registry.h"

#define DIR3 "/local/domain/3/data/ivt"
#define DIR5 "/local/domain/5/data/ivt"
#define DIR7 "/local/domain/7/data/ivt"

static const char *policy_text =
	"{\"version\":1,\"channels\":[\n"
	"{\"name\":\"svc\",\"listeners\":[\"dom:3\"],\"connectors\":[\"dom:5\",\"dom:7\"],"
	"\"backend\":\"vchan\",\"ring_size\":65536},\n"
	"{\"name\":\"db.*\",\"listeners\":[\"dom:3\"],\"connectors\":[\"dom:5\"],"
	"\"backend\":\"vchan\",\"ring_size\":65536},\n"
	"{\"name\":\"svc-*\",\"listeners\":[\"dom:*\"],\"connectors\":[\"dom:*\"],"
	"\"backend\":\"vchan\",\"ring_size\":65536},\n"
	"{\"name\":\"tcp.*\",\"listeners\":[\"dom:*\"],\"connectors\":[\"dom:*\"],"
	"\"backend\":\"vchan\",\"ring_size\":65536}\n"
	"]}";

static struct event_base *base;

static int pump(int (*cond)(void *), void *arg) { return xs_pump(base, cond, arg); }


static void wait_node(const char *path)
{
	if (!pump(node_exists, (void *)path))
		fail_msg("%s never appeared", path);
}

/* Wait for path to hold a value starting with want; returns it (freed by
 * the caller). */
static char *wait_prefix(const char *path, const char *want)
{
	char *v = NULL;
	for (int i = 0; i < 200; i++) {
		wait_node(path);
		v = fx_read(path);
		if (v && !strncmp(v, want, strlen(want)))
			return v;
		free(v);
		v = NULL;
		struct timeval tick = {0, 10000};
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	fail_msg("%s never started with '%s'", path, want);
	return NULL;
}

static void expect(const char *path, const char *want)
{
	free(wait_prefix(path, want));
}

static void domain(uint32_t d)
{
	char p[64];
	snprintf(p, sizeof(p), "/local/domain/%u/name", d);
	fx_write(p, "guest");
	fx_set_introduced(d, 1);
}

/* The vchan path in an ok response (to compare the two ends'). */
static void path_of(const char *resp, char *out, size_t len)
{
	const char *p = strstr(resp, " path=");
	assert_non_null(p);
	p += 6;
	size_t n = strcspn(p, " ");
	assert_true(n < len);
	memcpy(out, p, n);
	out[n] = '\0';
}

/* dom3 accepts ticket t in slot t: both ends answered with one ring path
 * below dom3, the offer withdrawn, the server told "connected". */
static void accept_ticket(unsigned t, unsigned seq, const char *client_resp, unsigned peer,
			  char *ring, size_t ring_len)
{
	char req[64], path[96], want[96], in[96];
	snprintf(path, sizeof(path), DIR3 "/svc/%u/request", t);
	snprintf(req, sizeof(req), "listen ticket=%u seq=%u", t, seq);
	fx_write(path, req);
	snprintf(path, sizeof(path), DIR3 "/svc/%u/response", t);
	char *srv = wait_prefix(path, "ok backend=vchan ring=65536 path=" DIR3 "/@v");
	snprintf(want, sizeof(want), " peer=%u ", peer);
	assert_non_null(strstr(srv, want));
	path_of(srv, ring, ring_len);
	char *cli = wait_prefix(client_resp, "ok backend=vchan ring=65536 path=");
	char other[64];
	path_of(cli, other, sizeof(other));
	assert_string_equal(ring, other);
	assert_non_null(strstr(cli, " peer=3 "));
	free(srv);
	free(cli);
	snprintf(in, sizeof(in), DIR3 "/svc/in/%u", t);
	assert_true(pump(node_gone, in));
	snprintf(path, sizeof(path), DIR3 "/svc/%u/event", t);
	snprintf(want, sizeof(want), "peer=connected domid=%u seq=%u", peer, seq);
	expect(path, want);
}

static struct ivt_broker *start_ivtd(struct ivt_registry **reg);
static void kill_ivtd(struct ivt_broker *b, struct ivt_registry *reg);

/* A fresh fake xenstored with dom0, 3, 5 and 7 per test. */
static int setup(void **state)
{
	if (fx_start())
		return -1;
	fx_write("/local/domain/0/name", "Domain-0");
	domain(3);
	domain(5);
	domain(7);
	base = event_base_new();
	return base ? 0 : -1;
}

static int teardown(void **state)
{
	event_base_free(base);
	fx_stop();
	return 0;
}

static void test_listen_accept_over_xenstore(void **state)
{
	struct ivt_registry *reg;
	struct ivt_broker *b = start_ivtd(&reg);

	/* The listener is answered at once (no ring of its own). */
	fx_write(DIR3 "/svc/request", "listen multi=1 seq=1");
	expect(DIR3 "/svc/response", "ok backend=vchan ring=65536 peer=0 chan=");

	/* Three connectors, dom7's second one from a slot: offered as
	 * in/<ticket>, dom0's nodes the listener may read. */
	fx_write(DIR5 "/svc/request", "connect seq=2");
	wait_node(DIR3 "/svc/in/1");
	fx_write(DIR7 "/svc/request", "connect seq=3");
	wait_node(DIR3 "/svc/in/2");
	fx_write(DIR7 "/svc/9/request", "connect seq=4");
	wait_node(DIR3 "/svc/in/3");
	expect(DIR3 "/svc/in/1", "peer=5");
	expect(DIR3 "/svc/in/3", "peer=7");
	char *perms = fx_perms(DIR3 "/svc/in/2");
	assert_string_equal(perms, "n0,r3");
	free(perms);
	assert_false(node_exists(DIR5 "/svc/response")); /* answered when accepted */

	char ring[3][64];
	accept_ticket(2, 5, DIR7 "/svc/response", 7, ring[1], sizeof(ring[1]));
	accept_ticket(1, 6, DIR5 "/svc/response", 5, ring[0], sizeof(ring[0]));
	accept_ticket(3, 7, DIR7 "/svc/9/response", 7, ring[2], sizeof(ring[2]));
	assert_string_not_equal(ring[0], ring[1]);
	assert_string_not_equal(ring[1], ring[2]);

	/* Hostile accepts: a ticket nobody holds, a foreign domain taking
	 * dom3's connection, ticket with connect, a slot spelled two ways. */
	fx_write(DIR3 "/svc/99/request", "listen ticket=99 seq=8");
	expect(DIR3 "/svc/99/response", "error 103 seq=8 ");
	fx_write(DIR5 "/svc/1/request", "listen ticket=1 seq=9");
	expect(DIR5 "/svc/1/response", "error 13 seq=9 ");
	fx_write(DIR5 "/svc/2/request", "connect ticket=1 seq=10");
	expect(DIR5 "/svc/2/response", "error 22 reason=ticket must be");
	fx_write(DIR5 "/svc/007/request", "connect seq=11");
	fx_write(DIR5 "/svc/in/request", "connect seq=12");
	fx_write(DIR5 "/svc/0/request", "connect seq=13");
	fx_write(DIR5 "/sentinel/request", "connect seq=14");
	expect(DIR5 "/sentinel/response", "error 13 seq=14 "); /* no rule: refused at once */
	assert_false(node_exists(DIR5 "/svc/007/response"));
	assert_false(node_exists(DIR5 "/svc/in/response"));
	assert_false(node_exists(DIR5 "/svc/0/response"));

	/* dom3's vchan servers publish each ring for its one client. */
	char rr[3][96];
	for (int i = 0; i < 3; i++) {
		snprintf(rr[i], sizeof(rr[i]), "%s/ring-ref", ring[i]);
		fx_write(rr[i], "8");
		fx_set_perms(rr[i], i == 0 ? "n3,r5" : "n3,r7");
	}

	/* dom7 is destroyed, as the Xen bed's xenstored does it: its home
	 * goes, it leaves dom3's ACLs: its two connections die, dom5's lives,
	 * and the listener keeps all it wrote. */
	fx_release_domain(7);
	expect(DIR3 "/svc/2/event", "peer=died domid=7 seq=5");
	expect(DIR3 "/svc/3/event", "peer=died domid=7 seq=7");
	expect(DIR3 "/svc/1/event", "peer=connected domid=5 seq=6");
	expect(DIR3 "/svc/request", "listen multi=1 seq=1");
	expect(DIR3 "/svc/response", "ok backend=vchan ");
	char *rp = fx_perms(rr[1]);
	assert_string_equal(rp, "n3");
	free(rp);
	rp = fx_perms(rr[0]);
	assert_string_equal(rp, "n3,r5");
	free(rp);

	/* ... and the listener keeps accepting. */
	fx_write(DIR5 "/svc/8/request", "connect seq=15");
	wait_node(DIR3 "/svc/in/4");
	fx_write(DIR5 "/svc/6/request", "connect seq=16");
	wait_node(DIR3 "/svc/in/5");
	accept_ticket(4, 17, DIR5 "/svc/8/response", 5, ring[1], sizeof(ring[1]));

	/* A connector that gives up before it is accepted: its offer goes. */
	fx_rm(DIR5 "/svc/6");
	assert_true(pump(node_gone, DIR3 "/svc/in/5"));

	/* The listener closes with a connector queued: it is refused, the
	 * offers go, accepted connections live on. */
	fx_write(DIR5 "/svc/10/request", "connect seq=18");
	wait_node(DIR3 "/svc/in/6");
	fx_rm(DIR3 "/svc/request");
	expect(DIR5 "/svc/10/response", "error 111 seq=18 ");
	assert_true(pump(node_gone, DIR3 "/svc/in"));
	assert_true(node_exists(DIR3 "/svc/1/response"));
	assert_true(node_exists(DIR3 "/svc/4/response"));

	/* An accepted end closes: its client hears it. */
	fx_rm(DIR3 "/svc/1");
	expect(DIR5 "/svc/event", "peer=closed domid=3 seq=2");

	struct ivt_broker_stats st;
	ivt_broker_get_stats(b, &st);
	/* ticket 4's, and the two whose client died: their server ends stay
	 * until dom3 closes them */
	assert_int_equal(st.channels, 3);

	kill_ivtd(b, reg);
}

/* ---- TCP ports of guests (docs/xenstore.md) ----------------------------- */

/* dom3 and dom7 both listen on TCP port 80 (the preload's tcp.80): each
 * guest's is its own. dom5 dials 10.0.0.7, which the toolstack gave dom7
 * (dom0's vif backend); dom3 claims the address in nodes of its own,
 * which ivtd never reads. Unknown, doubly configured and dead addresses
 * are refused, and nobody but dom7 listens on dom7's name. */
static void test_tcp_ports_of_guests(void **state)
{
	struct ivt_registry *reg;
	struct ivt_broker *b = start_ivtd(&reg);

	fx_write("/local/domain/0/backend/vif/3/0/ip", "10.0.0.3");
	fx_write("/local/domain/0/backend/vif/7/0/ip", "192.168.1.7/24 10.0.0.7");
	fx_write("/local/domain/3/device/vif/0/ip", "10.0.0.7"); /* guest-written */
	fx_write(DIR3 "/ip", "10.0.0.7");

	fx_write(DIR3 "/tcp@80/request", "listen multi=1 seq=1");
	expect(DIR3 "/tcp@80/response", "ok backend=vchan ring=65536 peer=0 chan=");
	fx_write(DIR7 "/tcp@80/request", "listen multi=1 seq=2");
	expect(DIR7 "/tcp@80/response", "ok backend=vchan ring=65536 peer=0 chan=");

	/* dom5 dials 10.0.0.7:80: offered to dom7 alone, answered by dom7's
	 * ring. */
	fx_write(DIR5 "/tcp@80/request", "connect addr=10.0.0.7 seq=3");
	wait_node(DIR7 "/tcp@80/in/1");
	expect(DIR7 "/tcp@80/in/1", "peer=5");
	assert_false(node_exists(DIR3 "/tcp@80/in"));
	fx_write(DIR7 "/tcp@80/1/request", "listen ticket=1 seq=4");
	char *cli = wait_prefix(DIR5 "/tcp@80/response", "ok backend=vchan ring=65536 path=");
	assert_non_null(strstr(cli, "path=/local/domain/7/data/ivt/@v"));
	assert_non_null(strstr(cli, " peer=7 "));
	free(cli);

	/* IPv4-mapped is the same address; a second connector from a slot. */
	fx_write(DIR5 "/tcp@80/4/request", "connect addr=::ffff:10.0.0.7 seq=5");
	wait_node(DIR7 "/tcp@80/in/2");

	/* Refused: nobody has it, insisting on another peer, not a port
	 * name, malformed. */
	fx_write(DIR5 "/tcp@80/5/request", "connect addr=10.0.0.9 seq=6");
	expect(DIR5 "/tcp@80/5/response", "error 113 seq=6 reason=no guest on this host has "
					    "address 10.0.0.9");
	fx_write(DIR5 "/tcp@80/6/request", "connect addr=10.0.0.7 peer=3 seq=7");
	expect(DIR5 "/tcp@80/6/response", "error 111 seq=7 ");
	fx_write(DIR5 "/svc-x/request", "connect addr=10.0.0.7 seq=8");
	expect(DIR5 "/svc-x/response", "error 22 seq=8 ");
	fx_write(DIR5 "/tcp@81/request", "connect addr=10.0.0 seq=9");
	expect(DIR5 "/tcp@81/response", "error 22 reason=addr must be");

	/* dom3 squats dom7's name: the broker refuses whatever the policy. */
	fx_write(DIR3 "/tcp@80@dom7/request", "listen multi=1 seq=10");
	expect(DIR3 "/tcp@80@dom7/response", "error 13 seq=10 ");

	/* tcp.<P>.<addr> is a port on an address of ivtd's host: no guest
	 * listens there or connects to it (before, the name went through
	 * unscoped, to the host's listener bound to 127.0.0.1). */
	fx_write(DIR3 "/tcp@80@127@0@0@1/request", "listen multi=1 seq=30");
	expect(DIR3 "/tcp@80@127@0@0@1/response", "error 13 seq=30 ");
	fx_write(DIR5 "/tcp@80@127@0@0@1/request", "connect seq=31");
	expect(DIR5 "/tcp@80@127@0@0@1/response", "error 13 seq=31 ");

	/* Inside the guest (no addr=), tcp.80 is its own port. */
	fx_write(DIR3 "/tcp@80/2/request", "connect seq=11");
	wait_node(DIR3 "/tcp@80/in/1");
	expect(DIR3 "/tcp@80/in/1", "peer=3");

	/* TCP's rules for what a listener is bound to: loopback is the
	 * guest's alone, a specific address only for those who dial it. */
	fx_write("/local/domain/0/backend/vif/3/0/ip", "10.0.0.3 10.0.0.33");
	fx_write(DIR3 "/tcp@90/request", "listen multi=1 addr=127.0.0.1 seq=20");
	expect(DIR3 "/tcp@90/response", "ok ");
	fx_write(DIR5 "/tcp@90/request", "connect addr=10.0.0.3 seq=21");
	expect(DIR5 "/tcp@90/response", "error 111 seq=21 reason=dom3's tcp.90 listens on "
					 "127.0.0.1 (loopback) only");
	fx_write(DIR3 "/tcp@90/3/request", "connect seq=22");
	wait_node(DIR3 "/tcp@90/in/1");
	fx_write(DIR3 "/tcp@91/request", "listen multi=1 addr=10.0.0.3 seq=23");
	expect(DIR3 "/tcp@91/response", "ok ");
	fx_write(DIR5 "/tcp@91/request", "connect addr=10.0.0.33 seq=24");
	expect(DIR5 "/tcp@91/response", "error 111 seq=24 ");
	fx_write(DIR5 "/tcp@91/2/request", "connect addr=10.0.0.3 seq=25");
	wait_node(DIR3 "/tcp@91/in/1");
	expect(DIR3 "/tcp@91/in/1", "peer=5");
	fx_write("/local/domain/0/backend/vif/3/0/ip", "10.0.0.3");

	/* Two guests configured with one address: refused, not guessed. */
	fx_write("/local/domain/0/backend/vif/3/1/ip", "10.0.0.7");
	fx_write(DIR5 "/tcp@80/7/request", "connect addr=10.0.0.7 seq=12");
	expect(DIR5 "/tcp@80/7/response", "error 76 seq=12 ");
	fx_rm("/local/domain/0/backend/vif/3/1");

	/* dom7 is destroyed but its backend node lingers: not mapped. */
	fx_release_domain(7);
	fx_write(DIR5 "/tcp@80/8/request", "connect addr=10.0.0.7 seq=13");
	expect(DIR5 "/tcp@80/8/response", "error 113 seq=13 ");

	kill_ivtd(b, reg);
}

/* ---- ivtd restarts ---------------------------------------------------- */

static struct ivt_broker *start_ivtd(struct ivt_registry **reg)
{
	char why[256] = "";
	struct ivt_policy *p = ivt_policy_load_string(policy_text, "t.json", why, sizeof(why));
	if (!p)
		fail_msg("policy: %s", why);
	struct ivt_broker *b = ivt_broker_new(p);
	ivt_broker_set_backend(b, "vchan",
			       IVT_CAP_COLOCATED | IVT_CAP_NEEDS_XEN | IVT_CAP_PEER_BOUND |
				       IVT_CAP_XS_PATH,
			       1, NULL);
	struct ivt_broker_cb cb = ivt_broker_callbacks(b);
	*reg = ivt_registry_xs_new(base, &cb, why, sizeof(why));
	if (!*reg)
		fail_msg("registry: %s", why);
	return b;
}

/* ivtd dies: its memory goes, XenStore keeps everything. */
static void kill_ivtd(struct ivt_broker *b, struct ivt_registry *reg)
{
	reg->ops->destroy(reg);
	ivt_broker_free(b);
}

static char *value(const char *path)
{
	char *v = fx_read(path);
	if (!v)
		fail_msg("%s missing", path);
	return v;
}

static void assert_same(const char *path, const char *before)
{
	char *v = value(path);
	if (strcmp(v, before))
		fail_msg("%s changed: '%s' -> '%s'", path, before, v);
	free(v);
}

static unsigned long long chan_of(const char *resp)
{
	const char *c = strstr(resp, " chan=");
	assert_non_null(c);
	return strtoull(c + 6, NULL, 10);
}

/* A restarted ivtd takes over what XenStore holds: answered ends are not
 * new (no answer rewritten, no ticket offered twice), live channels stay,
 * an end whose peer went while ivtd was away hears it, and closes and
 * deaths afterwards reach the other end as ever. */
static void test_restart_adopts(void **state)
{
	struct ivt_registry *reg;
	struct ivt_broker *b = start_ivtd(&reg);

	/* a one-shot channel dom3 <- dom5 */
	fx_write(DIR3 "/svc-one/request", "listen seq=1");
	fx_write(DIR5 "/svc-one/request", "connect seq=2");
	expect(DIR3 "/svc-one/response", "ok ");
	expect(DIR5 "/svc-one/response", "ok ");
	/* a listener with one accepted connection (dom7) and one queued (dom5) */
	fx_write(DIR3 "/svc/request", "listen multi=1 seq=3");
	expect(DIR3 "/svc/response", "ok ");
	fx_write(DIR7 "/svc/request", "connect seq=4");
	wait_node(DIR3 "/svc/in/1");
	fx_write(DIR3 "/svc/1/request", "listen ticket=1 seq=5");
	expect(DIR7 "/svc/response", "ok ");
	expect(DIR3 "/svc/1/event", "peer=connected domid=7 seq=5");
	fx_write(DIR5 "/svc/4/request", "connect seq=6");
	wait_node(DIR3 "/svc/in/2");
	/* dom5 <- dom7, whose end will close while ivtd is away */
	fx_write(DIR5 "/svc-two/request", "listen seq=7");
	fx_write(DIR7 "/svc-two/request", "connect seq=8");
	expect(DIR5 "/svc-two/response", "ok ");
	expect(DIR7 "/svc-two/response", "ok ");
	fx_write(DIR5 "/svc-bad/request", "connect seq=9");
	expect(DIR5 "/svc-bad/response", "error 2 seq=9 ");

	const char *kept[] = {DIR3 "/svc-one/response", DIR5 "/svc-one/response",
			      DIR3 "/svc/response",     DIR3 "/svc/1/response",
			      DIR7 "/svc/response",     DIR5 "/svc-two/response",
			      DIR5 "/svc-bad/response"};
	char *before[7];
	unsigned long long top = 0;
	for (int i = 0; i < 7; i++) {
		before[i] = value(kept[i]);
		if (strncmp(before[i], "ok ", 3) == 0 && chan_of(before[i]) > top)
			top = chan_of(before[i]);
	}

	kill_ivtd(b, reg);
	fx_rm(DIR7 "/svc-two/request"); /* closed while nobody brokered */
	b = start_ivtd(&reg);

	/* the queued connector was never answered: offered anew, above the
	 * old tickets; the old offer is gone */
	wait_node(DIR3 "/svc/in/3");
	expect(DIR3 "/svc/in/3", "peer=5");
	assert_false(node_exists(DIR3 "/svc/in/2"));
	expect(DIR5 "/svc-two/event", "peer=closed domid=7 seq=7");
	for (int i = 0; i < 7; i++) {
		assert_same(kept[i], before[i]);
		free(before[i]);
	}
	expect(DIR3 "/svc/1/event", "peer=connected domid=7 seq=5");
	expect(DIR3 "/svc-one/event", "peer=connected domid=5 seq=1");

	/* the adopted listener accepts; its new channel has a new id */
	fx_write(DIR3 "/svc/3/request", "listen ticket=3 seq=10");
	char *resp = wait_prefix(DIR5 "/svc/4/response", "ok ");
	assert_true(chan_of(resp) > top);
	free(resp);
	/* the name stays the adopted listeners' */
	fx_write(DIR7 "/svc-one/request", "listen seq=11");
	expect(DIR7 "/svc-one/response", "error 98 seq=11 ");

	/* afterwards: a close and a death reach the other ends */
	fx_rm(DIR5 "/svc-one/request");
	expect(DIR3 "/svc-one/event", "peer=closed domid=5 seq=1");
	fx_release_domain(7);
	expect(DIR3 "/svc/1/event", "peer=died domid=7 seq=5");

	kill_ivtd(b, reg);
}

/* Channel names with '.' (valid for ivt, not in XenStore paths) live at
 * their node with '@' for '.': ivtd matches the policy on the real name
 * and answers there; the fake, like xenstored, refuses a '.' in a path. */
static void test_dotted_name(void **state)
{
	struct ivt_registry *reg;
	struct ivt_broker *b = start_ivtd(&reg);
	fx_write(DIR3 "/db@replica/request", "listen seq=1");
	fx_write(DIR5 "/db@replica/request", "connect seq=2");
	expect(DIR3 "/db@replica/response",
	       "ok backend=vchan ring=65536 path=" DIR3 "/db@replica/vchan peer=5 ");
	expect(DIR5 "/db@replica/response",
	       "ok backend=vchan ring=65536 path=" DIR3 "/db@replica/vchan peer=3 ");
	fx_rm(DIR5 "/db@replica/request");
	expect(DIR3 "/db@replica/event", "peer=closed domid=5 seq=1");
	kill_ivtd(b, reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listen_accept_over_xenstore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_adopts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dotted_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_ports_of_guests, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
