/* SPDX-License-Identifier: MIT */
/* The shm plugin's kept rings (park, peer_done, renew; plugin.h): a new
 * connection on a ring both ends parked starts clean (indices, flags, no
 * stale wake-ups), its header is checked again, and a peer whose process
 * let go is never renewed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/plugin_loader.h"
#include "shm_ep.h" /* the mapping, to forge a header */
#include "testsupport/ep_io.h"
#include "testsupport/oob_pair.h"

#define RING (64u * 1024)
#define TMO 10000

static const struct ivt_plugin_ops *ops;

static int load_plugin(void **state)
{
	(void)state;
	char why[512];
	ops = ivt_plugin_load(NULL, "shm", why, sizeof(why));
	if (!ops) {
		fprintf(stderr, "%s (IVT_PLUGIN_DIR=%s)\n", why, ivt_plugin_dir());
		return -1;
	}
	return ops->park && ops->peer_done && ops->renew ? 0 : -1;
}

struct pair {
	struct oob_end a, b;
	struct ivt_ep *srv, *cli; /* srv made the ring (listen), cli attached */
};

/* A connection that carried some bytes both ways. */
static void pair_open(struct pair *p)
{
	assert_int_equal(oob_pair_open(&p->a, &p->b), 0);
	struct ivt_ep_params ps = {.channel = "reuse", .is_server = 1, .ring_size = RING,
				   .oob = &p->a.oob, .timeout_ms = TMO};
	struct ivt_ep_params pc = ps;
	pc.is_server = 0;
	pc.oob = &p->b.oob;
	assert_int_equal(ops->listen(&ps, &p->srv), 0);
	assert_int_equal(ops->connect(&pc, &p->cli), 0);
	assert_int_equal(ep_accept_wait(ops, p->srv, TMO), 0);
	char buf[8];
	assert_int_equal(ep_send_all(ops, p->srv, "hello", 5, TMO), 5);
	assert_int_equal(ep_recv_all(ops, p->cli, buf, 5, TMO), 5);
	assert_int_equal(ep_send_all(ops, p->cli, "bye", 3, TMO), 3);
	assert_int_equal(ep_recv_all(ops, p->srv, buf, 3, TMO), 3);
}

static void pair_close(struct pair *p)
{
	if (p->srv)
		ops->close(p->srv);
	if (p->cli)
		ops->close(p->cli);
	oob_end_close(&p->a);
	oob_end_close(&p->b);
}

/* Bytes queued on our end of the wake-up pair (never waiting). */
static int queued(struct ivt_ep *ep)
{
	char buf[64];
	ssize_t n = recv(ops->poll_fd(ep), buf, sizeof(buf), MSG_DONTWAIT);
	return n < 0 ? (errno == EAGAIN ? 0 : -errno) : (int)n;
}

static void test_renewed_ring_starts_clean(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p);
	assert_int_equal(ops->park(p.cli), 0);
	char b;
	assert_int_equal(ep_recv_some(ops, p.srv, &b, 1, TMO), 0); /* its end of stream */
	assert_int_equal(ops->park(p.srv), 0);
	assert_int_equal(ops->peer_done(p.srv), 1);
	assert_int_equal(ops->peer_done(p.cli), 1);
	/* wake-ups left over from the connection before, both ways */
	assert_int_equal(send(ops->poll_fd(p.srv), "zzzz", 4, MSG_DONTWAIT), 4);
	assert_int_equal(send(ops->poll_fd(p.cli), "yyyy", 4, MSG_DONTWAIT), 4);
	assert_int_equal(ops->renew(p.srv), 0);
	assert_int_equal(ops->accept(p.srv), -EAGAIN); /* not attached again yet */
	assert_int_equal(ops->renew(p.cli), 0);
	assert_int_equal(queued(p.cli), 0);   /* the stale ones are gone */
	assert_int_equal(queued(p.srv), 1);   /* only the attach's kick */
	assert_int_equal(ops->accept(p.srv), 0);
	/* indices from zero, both directions, nothing of the old stream */
	struct ivt_ep_stats st;
	assert_int_equal(ops->stats(p.srv, &st), 0);
	assert_int_equal(st.bytes_sent, 0);
	assert_int_equal(ops->recv(p.cli, &b, 1), -EAGAIN);
	assert_int_equal(ops->recv(p.srv, &b, 1), -EAGAIN);
	char buf[8] = {0};
	assert_int_equal(ep_send_all(ops, p.cli, "new", 3, TMO), 3);
	assert_int_equal(ep_recv_all(ops, p.srv, buf, 3, TMO), 3);
	assert_string_equal(buf, "new");
	assert_int_equal(ep_send_all(ops, p.srv, "ok", 2, TMO), 2);
	assert_int_equal(ep_recv_all(ops, p.cli, buf, 2, TMO), 2);
	/* and it ends as any: a close is a clean end of stream */
	ops->close(p.srv);
	p.srv = NULL;
	assert_int_equal(ep_recv_some(ops, p.cli, buf, 1, TMO), 0);
	pair_close(&p);
}

static void test_peer_done_waits_for_its_close(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p);
	assert_int_equal(ops->park(p.srv), 0);
	assert_int_equal(ops->peer_done(p.srv), 0); /* the other end is open */
	char b;
	assert_int_equal(ep_recv_some(ops, p.cli, &b, 1, TMO), 0);
	assert_int_equal(ops->send(p.cli, "x", 1), -EPIPE);
	assert_int_equal(ops->park(p.cli), 0);
	assert_int_equal(ops->peer_done(p.srv), 1);
	pair_close(&p);
}

static void test_gone_peer_is_not_renewed(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p);
	assert_int_equal(ops->park(p.srv), 0);
	ops->close(p.cli); /* its process lets go: the socket closes */
	p.cli = NULL;
	int done = ops->peer_done(p.srv); /* its close mark, or its socket's end */
	assert_true(done == 1 || done == -ECONNRESET);
	assert_int_equal(ops->renew(p.srv), -ECONNRESET);
	pair_close(&p);
}

static void test_renewed_header_is_checked(void **state)
{
	(void)state;
	struct pair p;
	pair_open(&p);
	assert_int_equal(ops->park(p.cli), 0);
	assert_int_equal(ops->park(p.srv), 0);
	assert_int_equal(ops->renew(p.srv), 0);
	/* the ring's maker writes another ring size into the fresh header */
	struct ivt_ring_hdr *h = p.srv->map;
	h->c2s_order = 20;
	assert_int_equal(ops->renew(p.cli), -EPROTO);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_renewed_ring_starts_clean),
		cmocka_unit_test(test_peer_done_waits_for_its_close),
		cmocka_unit_test(test_gone_peer_is_not_renewed),
		cmocka_unit_test(test_renewed_header_is_checked),
	};
	return cmocka_run_group_tests(tests, load_plugin, NULL);
}
