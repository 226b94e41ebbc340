/* SPDX-License-Identifier: MIT */
/*
 * The pump of a channel bridged over an RDMA plugin (bridge_pipe.c), with
 * two real shm pipes standing in: br->de is the local ring (its client
 * `loc` is the test), br->xp.de the plugin's pipe to the peer host (its
 * far end `far` is the test). Toward the ring the plugin's recv lands in
 * the ring's reserved space: every byte is checked, a full ring stops the
 * pump without losing or duplicating a byte, and a peer that vanishes (its
 * pipe ends without the SLURPoE connection's word, or breaks) is a death
 * reported after the bytes that arrived. No network: br->conn is NULL.
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/plugin_loader.h"
#include "ivtd/remote/peers_int.h"
#include "peers_fixture.h"
#include "testsupport/oob_pair.h"

#define LOCAL_RING 16384
#define FAR_RING 65536

struct pipe_end {
	struct oob_end a, b;
	struct ivt_ep *test_ep; /* the test's end (the ring's server) */
};

struct fixture {
	struct peers_fixture pf;
	const struct ivt_plugin_ops *ops;
	struct pipe_end loc, far;
	struct bridge *br;
	uint8_t buf[65536], chk[65536];
};

/* As bridge.c's de_ready: readiness of either pipe runs the pump. */
static void ready(void *arg, struct ivt_daemon_end *de)
{
	(void)de;
	struct fixture *f = arg;
	if (f->br)
		pipe_pump(f->br);
}

/* A shm pair: the test's end listens, the daemon end attaches. */
static struct ivt_daemon_end *pipe_open(struct fixture *f, struct pipe_end *pe, size_t ring)
{
	char why[256];
	assert_int_equal(oob_pair_open(&pe->a, &pe->b), 0);
	struct ivt_ep_params lp = {.channel = "t", .is_server = 1, .ring_size = ring,
				   .oob = &pe->a.oob, .timeout_ms = 1000};
	assert_int_equal(f->ops->listen(&lp, &pe->test_ep), 0);
	_Alignas(8) unsigned char blob[IVT_OOB_BLOB_MAX];
	int fds[IVT_OOB_FDS_MAX], nfds = IVT_OOB_FDS_MAX;
	int len = oob_pair_recv(&pe->b, blob, sizeof(blob), fds, &nfds, 1000);
	assert_true(len > 0);
	struct ivt_daemon_end_cb cb = {.arg = f, .readable = ready, .writable = ready};
	struct ivt_daemon_end_params p = {.backend = "shm", .channel = "t", .ring_size = ring};
	struct ivt_daemon_end *de = NULL;
	assert_int_equal(ivt_daemon_end_connect(f->pf.base, &p, blob, (size_t)len, fds, nfds, &cb, &de,
						why, sizeof(why)),
			 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return de;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	peers_fixture_open(&f->pf, "{\"version\": 1, \"channels\": [{\"name\": \"bulk\", "
				   "\"listeners\": [\"*\"], \"connectors\": [\"*\"]}]}");
	char err[256];
	f->ops = ivt_plugin_load(NULL, "shm", err, sizeof(err));
	assert_non_null(f->ops);
	/* An acceptor nobody asked for yet: the house-keeping pass keeps it
	 * (and its ring, for the linger time) after it ended. */
	struct bridge *br = bridge_new(f->pf.P, NULL, BRIDGE_ACCEPTOR, "hostB");
	assert_non_null(br);
	snprintf(br->channel, sizeof(br->channel), "bulk");
	br->de = pipe_open(f, &f->loc, LOCAL_RING);
	br->xp.de = pipe_open(f, &f->far, FAR_RING);
	br->xp.l2r.buf = malloc(BRIDGE_XPORT_STAGE);
	assert_non_null(br->xp.l2r.buf);
	br->xp.active = 1;
	br->phase = PH_PUMP;
	f->br = br;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	for (struct bridge *b = f->pf.P->bridges; b; b = b->next)
		if (b == f->br) { /* not reaped (a slow run outlives the linger) */
			bridge_free(f->br); /* closes whichever daemon ends are open */
			break;
		}
	struct pipe_end *pe[] = {&f->loc, &f->far};
	for (int i = 0; i < 2; i++) {
		f->ops->close(pe[i]->test_ep);
		oob_end_close(&pe[i]->a);
		oob_end_close(&pe[i]->b);
	}
	peers_fixture_close(&f->pf);
	free(f);
	return 0;
}

/* A vanished process shows when ivtd's loop drains its wake-up socket. */
static void pump_until_done(struct fixture *f, int *done)
{
	for (int i = 0; i < 100 && !*done; i++) {
		event_base_loop(f->pf.base, EVLOOP_NONBLOCK);
		pipe_pump(f->br);
	}
}

/* The test's end of a pipe writes pattern bytes from *sent on. */
static void put(struct fixture *f, struct ivt_ep *ep, uint64_t *sent, uint64_t total)
{
	while (*sent < total) {
		size_t n = total - *sent < sizeof(f->buf) ? (size_t)(total - *sent) : sizeof(f->buf);
		for (size_t i = 0; i < n; i++)
			f->buf[i] = (uint8_t)((*sent + i) * 2654435761u >> 13);
		ssize_t w = f->ops->send(ep, f->buf, n);
		if (w == -EAGAIN)
			return;
		assert_true(w > 0);
		*sent += (uint64_t)w;
	}
}

/* Reads up to max bytes at the test's end and checks them. Returns the
 * last recv's result (bytes, -EAGAIN, 0 at the end, -errno). */
static ssize_t get(struct fixture *f, struct ivt_ep *ep, uint64_t *got, size_t max)
{
	size_t n = max < sizeof(f->buf) ? max : sizeof(f->buf);
	ssize_t r = f->ops->recv(ep, f->buf, n);
	if (r <= 0)
		return r;
	for (ssize_t i = 0; i < r; i++)
		f->chk[i] = (uint8_t)((*got + (uint64_t)i) * 2654435761u >> 13);
	assert_memory_equal(f->buf, f->chk, (size_t)r);
	*got += (uint64_t)r;
	return r;
}

/* Peer -> ring with a reader slower than the peer: the ring is full again
 * and again, the pump stops (blocked) each time, and every byte arrives
 * once, in order. Then the other way, through the staging buffer. */
static void test_every_byte_ring_full(void **state)
{
	struct fixture *f = *state;
	struct bridge *br = f->br;
	const uint64_t total = 4u << 20;
	uint64_t sent = 0, got = 0;
	int full = 0;
	for (int i = 0; got < total && i < 100000; i++) {
		put(f, f->far.test_ep, &sent, total);
		pipe_pump(br);
		if (br->xp.r2l.blocked) {
			full++;
			/* full means full: the ring holds LOCAL_RING unread bytes */
			assert_int_equal(br->r2l.total - got, LOCAL_RING);
		}
		get(f, f->loc.test_ep, &got, 3000);
	}
	assert_int_equal(got, total);
	assert_int_equal(br->r2l.total, total);
	assert_true(full > 10);
	assert_false(br->r2l_done);

	sent = got = 0;
	for (int i = 0; got < total && i < 100000; i++) {
		put(f, f->loc.test_ep, &sent, total);
		pipe_pump(br);
		get(f, f->far.test_ep, &got, 5000);
	}
	assert_int_equal(got, total);
	assert_int_equal(br->l2r.total, total);
}

/* The peer's pipe ends (its ivtd went away) with bytes still on the way
 * and the ring full: they all reach the reader, then a death (no
 * SLURPoE connection said "closed"); the ring stays open for the reader
 * to see it. */
static void test_peer_vanishes_ring_full(void **state)
{
	struct fixture *f = *state;
	struct bridge *br = f->br;
	const uint64_t total = 40000; /* more than the local ring holds */
	uint64_t sent = 0, got = 0;
	put(f, f->far.test_ep, &sent, total);
	assert_int_equal(sent, total);
	pipe_pump(br);
	assert_true(br->xp.r2l.blocked);
	f->ops->close(f->far.test_ep); /* graceful at the pipe: only the bytes */
	f->far.test_ep = NULL;
	for (int i = 0; i < 1000 && !br->r2l_done; i++) {
		pipe_pump(br);
		get(f, f->loc.test_ep, &got, 4096);
	}
	assert_true(br->r2l_done);
	assert_int_equal(br->remote, SIDE_DIED);
	assert_int_equal(br->remote_err, -ECONNRESET);
	while (get(f, f->loc.test_ep, &got, 4096) > 0)
		;
	assert_int_equal(got, total);
	assert_non_null(br->de); /* a death: no end of stream in the ring */
}

/* The pipe breaks (-ECONNRESET: the peer's process let go without a
 * word): a death at once, after the bytes already in the ring. */
static void test_pipe_breaks(void **state)
{
	struct fixture *f = *state;
	struct bridge *br = f->br;
	uint64_t sent = 0, got = 0;
	put(f, f->far.test_ep, &sent, 1000);
	pipe_pump(br);
	assert_int_equal(br->r2l.total, 1000);
	assert_int_equal(shutdown(f->ops->poll_fd(f->far.test_ep), SHUT_RDWR), 0);
	pump_until_done(f, &br->r2l_done);
	assert_true(br->r2l_done);
	assert_int_equal(br->remote, SIDE_DIED);
	while (get(f, f->loc.test_ep, &got, 4096) > 0)
		;
	assert_int_equal(got, 1000);
}

/* The local client vanishes while its ring is full: the pump stops for
 * good in both directions, and the peer's pipe is closed behind it. */
static void test_local_vanishes_ring_full(void **state)
{
	struct fixture *f = *state;
	struct bridge *br = f->br;
	uint64_t sent = 0;
	put(f, f->far.test_ep, &sent, 40000);
	pipe_pump(br);
	assert_true(br->xp.r2l.blocked);
	assert_int_equal(shutdown(f->ops->poll_fd(f->loc.test_ep), SHUT_RDWR), 0);
	pump_until_done(f, &br->l2r_done);
	assert_true(br->r2l_done);
	assert_true(br->l2r_done);
	assert_int_equal(br->local, SIDE_DIED);
	assert_null(br->xp.de); /* closed behind the last byte */
	assert_int_equal(br->phase, PH_DONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_byte_ring_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_vanishes_ring_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipe_breaks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_vanishes_ring_full, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
