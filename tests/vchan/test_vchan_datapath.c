/* SPDX-License-Identifier: MIT */
/*
 * The vchan plugin's data path over an in-process libxenvchan
 * (fake_libxenvchan.c): zero-copy send straight into the write ring
 * (wrap, full ring, closed peer, corrupt peer index, notify only when
 * asked), receive in place (peek/consume across wraps, the writer woken
 * only when it waits for room, end of stream after the last byte, corrupt
 * peer index), peer indices read only when the last look is not enough,
 * and an ack that never blocks when another thread took the event.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxenvchan.h>

#include "fake_libxenvchan.h"
#include "vchan.h"

const struct ivt_plugin_ops *ivt_plugin_entry(uint32_t host_abi);
static const struct ivt_plugin_ops *ops;

static void quiet(int level, const char *who, const char *fmt, ...)
{
	(void)level, (void)who, (void)fmt;
}

static const struct ivt_plugin_host host = {.abi_version = IVT_PLUGIN_ABI_VERSION, .log = quiet};

struct pair {
	struct ivt_ep *srv, *cli;
};

static int pair_open(void **state)
{
	static struct pair p;
	ops = ivt_plugin_entry(IVT_PLUGIN_ABI_VERSION);
	assert_int_equal(ops->init(&host), 0);
	struct ivt_ep_params prm = {.channel = "t", .is_server = 1, .peer_domid = 0,
				    .ring_size = FAKE_RING, .xs_path = "/local/domain/0/data/t"};
	assert_int_equal(ops->listen(&prm, &p.srv), 0);
	assert_int_equal(ops->accept(p.srv), -EAGAIN);
	prm.is_server = 0;
	assert_int_equal(ops->connect(&prm, &p.cli), 0);
	assert_int_equal(ops->accept(p.srv), 0);
	*state = &p;
	return 0;
}

static int pair_close(void **state)
{
	struct pair *p = *state;
	ops->close(p->cli);
	ops->close(p->srv);
	return 0;
}

static int readable(struct ivt_ep *ep)
{
	struct pollfd pfd = {.fd = ops->poll_fd(ep), .events = POLLIN};
	return poll(&pfd, 1, 0) == 1;
}

static uint8_t byte_at(uint64_t i) { return (uint8_t)(i * 131u + (i >> 8)); }

/* Reserve/commit frames of odd sizes across many wraps; the reader gets
 * exactly the stream, and is woken only when it asked. */
static void test_zc_stream(void **state)
{
	struct pair *p = *state;
	uint64_t wr = 0, rd = 0;
	uint8_t buf[FAKE_RING];
	for (int round = 0; round < 200; round++) {
		size_t want = 1 + (size_t)(round * 977) % 1500;
		void *ptr;
		size_t space;
		ssize_t contig = ops->send_reserve(p->srv, want, &ptr, &space);
		assert_true(contig > 0);
		assert_true((size_t)contig <= space && space <= FAKE_RING);
		size_t n = want < (size_t)contig ? want : (size_t)contig;
		for (size_t i = 0; i < n; i++)
			((uint8_t *)ptr)[i] = byte_at(wr + i);
		int asked = ops->arm(p->cli, IVT_EV_RECV) == 0; /* nothing there: it asks */
		assert_int_equal(ops->send_commit(p->srv, n), 0);
		wr += n;
		assert_int_equal(readable(p->cli), asked);
		ops->ack(p->cli);
		ssize_t got = ops->recv(p->cli, buf, sizeof(buf));
		assert_int_equal(got, (ssize_t)n);
		for (ssize_t i = 0; i < got; i++)
			assert_int_equal(buf[i], byte_at(rd + (uint64_t)i));
		rd += (uint64_t)got;
	}
	struct ivt_ep_stats st;
	assert_int_equal(ops->stats(p->srv, &st), 0);
	assert_int_equal(st.bytes_sent, wr);
	assert_int_equal(ops->send_commit(p->srv, 0), 0);
}

/* A full ring is -EAGAIN; a peer index beyond the ring is -EPROTO and
 * counted; a closed peer is -EPIPE. */
static void test_zc_full_corrupt_closed(void **state)
{
	struct pair *p = *state;
	void *ptr;
	size_t space;
	ssize_t c;
	while ((c = ops->send_reserve(p->srv, 1, &ptr, &space)) > 0)
		assert_int_equal(ops->send_commit(p->srv, (size_t)c), 0);
	assert_int_equal(c, -EAGAIN);
	volatile struct ring_shared *w = p->srv->ctrl->write.shr;
	uint32_t cons = w->cons;
	w->cons = w->prod + 16; /* the peer claims to have read more than exists */
	assert_int_equal(ops->send_reserve(p->srv, 1, &ptr, &space), -EPROTO);
	struct ivt_ep_stats st;
	ops->stats(p->srv, &st);
	assert_int_equal(st.protocol_errors, 1);
	w->cons = cons;
	ops->close(p->cli);
	p->cli = NULL;
	assert_int_equal(ops->send_reserve(p->srv, 1, &ptr, &space), -EPIPE);
	/* reopen for pair_close */
	ops->close(p->srv);
	pair_open(state);
}

/* Two threads saw poll_fd readable; the other one consumed the event
 * first. ack must return, not sleep in read() until the next event. */
static void test_ack_never_blocks(void **state)
{
	struct pair *p = *state;
	assert_int_equal(ops->arm(p->srv, IVT_EV_RECV), 0);
	uint8_t b = 7;
	assert_int_equal(ops->send(p->cli, &b, 1), 1);
	assert_true(readable(p->srv));
	fake_steal_before_wait = 1;
	alarm(10); /* the old blocking read: killed here, the test fails */
	ops->ack(p->srv);
	alarm(0);
	assert_false(readable(p->srv));
	assert_int_equal(ops->recv(p->srv, &b, 1), 1);
}

/* Peek/consume: odd-sized writes across many wraps come out exactly as
 * sent, a peek never runs past the wrap, and a writer waiting for room is
 * woken by the consume that makes it. */
static void test_peek_stream(void **state)
{
	struct pair *p = *state;
	uint64_t wr = 0, rd = 0;
	uint8_t buf[FAKE_RING];
	const void *ptr;
	assert_int_equal(ops->recv_peek(p->cli, &ptr), -EAGAIN);
	for (int round = 0; round < 300; round++) {
		size_t n = 1 + (size_t)(round * 1237) % (FAKE_RING - 1);
		for (size_t i = 0; i < n; i++)
			buf[i] = byte_at(wr + i);
		ssize_t put = ops->send(p->srv, buf, n);
		assert_true(put > 0);
		wr += (uint64_t)put;
		/* the writer fills the ring and waits for room */
		if (ops->arm(p->srv, IVT_EV_SEND) == 0) {
			ssize_t c = ops->recv_peek(p->cli, &ptr);
			assert_true(c > 0);
			assert_int_equal(ops->recv_consume(p->cli, 1), 0);
			assert_true(readable(p->srv));
			ops->ack(p->srv);
			assert_int_equal(((const uint8_t *)ptr)[0], byte_at(rd));
			rd++;
		}
		while (rd < wr) {
			ssize_t c = ops->recv_peek(p->cli, &ptr);
			assert_true(c > 0 && (uint64_t)c <= wr - rd);
			size_t at = (size_t)(rd & (FAKE_RING - 1));
			assert_true((size_t)c <= FAKE_RING - at); /* stops at the wrap */
			for (ssize_t i = 0; i < c; i++)
				assert_int_equal(((const uint8_t *)ptr)[i], byte_at(rd + (uint64_t)i));
			assert_int_equal(ops->recv_consume(p->cli, (size_t)c), 0);
			rd += (uint64_t)c;
		}
	}
	assert_int_equal(ops->recv_peek(p->cli, &ptr), -EAGAIN);
	struct ivt_ep_stats st;
	assert_int_equal(ops->stats(p->cli, &st), 0);
	assert_int_equal(st.bytes_received, rd);
	assert_int_equal(ops->recv_consume(p->cli, 0), 0);
	assert_int_equal(ops->recv_consume(p->cli, FAKE_RING + 1), -EINVAL);
}

/* A producer index beyond the ring is -EPROTO and counted; after the
 * peer closed, what it wrote is still read, then end of stream (0). */
static void test_peek_corrupt_then_eof(void **state)
{
	struct pair *p = *state;
	const void *ptr;
	volatile struct ring_shared *r = p->cli->ctrl->read.shr;
	uint32_t prod = r->prod;
	r->prod = r->cons + FAKE_RING + 1;
	assert_int_equal(ops->recv_peek(p->cli, &ptr), -EPROTO);
	struct ivt_ep_stats st;
	ops->stats(p->cli, &st);
	assert_int_equal(st.protocol_errors, 1);
	r->prod = prod;
	uint8_t msg[5] = "tail";
	assert_int_equal(ops->send(p->srv, msg, sizeof(msg)), (ssize_t)sizeof(msg));
	ops->close(p->srv);
	p->srv = NULL;
	assert_int_equal(ops->recv_peek(p->cli, &ptr), (ssize_t)sizeof(msg));
	assert_memory_equal(ptr, msg, sizeof(msg));
	assert_int_equal(ops->recv_consume(p->cli, sizeof(msg)), 0);
	assert_int_equal(ops->recv_peek(p->cli, &ptr), 0);
	assert_int_equal(ops->recv_peek(p->cli, &ptr), 0);
	/* reopen for pair_close */
	ops->close(p->cli);
	pair_open(state);
}

/* reserve looks at the reader's cons only when the room it last saw is
 * not enough for `want` (plugin.h): a run of small writes leaves the
 * reader's cache line alone. Seen here through a forged cons, which is
 * caught only once the plugin has to look. */
static void test_reserve_looks_only_when_needed(void **state)
{
	struct pair *p = *state;
	void *ptr;
	size_t space;
	assert_true(ops->send_reserve(p->srv, 100, &ptr, &space) >= 100);
	assert_int_equal(ops->send_commit(p->srv, 100), 0);
	volatile struct ring_shared *w = p->srv->ctrl->write.shr;
	uint32_t cons = w->cons;
	w->cons = w->prod + 16; /* forged: would be -EPROTO if read */
	ssize_t c = ops->send_reserve(p->srv, 64, &ptr, &space);
	assert_int_equal(c, FAKE_RING - 100); /* room known from the last look */
	assert_int_equal(space, FAKE_RING - 100);
	assert_int_equal(ops->send_reserve(p->srv, FAKE_RING, &ptr, &space), -EPROTO);
	w->cons = cons;
}

/* A reserve that found too little room makes arm(IVT_EV_SEND) wait until
 * that much is free, not wake the writer at every byte the reader frees;
 * a reserve that fits (or a send) makes any room do again. */
static void test_arm_send_waits_for_want(void **state)
{
	struct pair *p = *state;
	void *ptr;
	size_t space;
	const void *rp;
	ssize_t c;
	while ((c = ops->send_reserve(p->srv, 1, &ptr, &space)) > 0)
		assert_int_equal(ops->send_commit(p->srv, (size_t)c), 0);
	assert_int_equal(ops->recv_peek(p->cli, &rp), (ssize_t)FAKE_RING);
	assert_int_equal(ops->recv_consume(p->cli, 100), 0);
	/* 100 free at the wrap, 1000 wanted */
	assert_int_equal(ops->send_reserve(p->srv, 1000, &ptr, &space), 100);
	assert_int_equal(ops->arm(p->srv, IVT_EV_SEND), 0);
	assert_true(ops->recv_peek(p->cli, &rp) > 0);
	assert_int_equal(ops->recv_consume(p->cli, 500), 0);
	assert_true(readable(p->srv)); /* woken: it asked */
	ops->ack(p->srv);
	assert_int_equal(ops->arm(p->srv, IVT_EV_SEND), 0); /* 600 free: not yet */
	assert_int_equal(ops->recv_consume(p->cli, 400), 0);
	assert_int_equal(ops->arm(p->srv, IVT_EV_SEND), IVT_EV_SEND); /* 1000 free */
	ops->ack(p->srv);
	/* a reserve that fits: any room will do again */
	assert_int_equal(ops->send_reserve(p->srv, 50, &ptr, &space), 100);
	assert_int_equal(ops->send_commit(p->srv, 100), 0);
	assert_int_equal(ops->arm(p->srv, IVT_EV_SEND), IVT_EV_SEND); /* 900 free */
}

/* peek looks at the writer's prod only once what it saw is consumed. */
static void test_peek_looks_only_when_needed(void **state)
{
	struct pair *p = *state;
	const void *ptr;
	uint8_t msg[100];
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = byte_at(i);
	assert_int_equal(ops->send(p->srv, msg, sizeof(msg)), (ssize_t)sizeof(msg));
	assert_int_equal(ops->recv_peek(p->cli, &ptr), (ssize_t)sizeof(msg));
	assert_int_equal(ops->recv_consume(p->cli, 10), 0);
	volatile struct ring_shared *r = p->cli->ctrl->read.shr;
	uint32_t prod = r->prod;
	/* forged: more than the ring holds even after the 90 are consumed */
	r->prod = r->cons + 90 + FAKE_RING + 1;
	assert_int_equal(ops->recv_peek(p->cli, &ptr), 90);
	assert_memory_equal(ptr, msg + 10, 90);
	assert_int_equal(ops->recv_consume(p->cli, 90), 0);
	assert_int_equal(ops->recv_peek(p->cli, &ptr), -EPROTO);
	r->prod = prod;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_zc_stream, pair_open, pair_close),
		cmocka_unit_test_setup_teardown(test_zc_full_corrupt_closed, pair_open, pair_close),
		cmocka_unit_test_setup_teardown(test_ack_never_blocks, pair_open, pair_close),
		cmocka_unit_test_setup_teardown(test_peek_stream, pair_open, pair_close),
		cmocka_unit_test_setup_teardown(test_peek_corrupt_then_eof, pair_open, pair_close),
		cmocka_unit_test_setup_teardown(test_reserve_looks_only_when_needed, pair_open,
						pair_close),
		cmocka_unit_test_setup_teardown(test_peek_looks_only_when_needed, pair_open,
						pair_close),
		cmocka_unit_test_setup_teardown(test_arm_send_waits_for_want, pair_open,
						pair_close),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
