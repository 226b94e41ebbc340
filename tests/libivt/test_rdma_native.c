/* SPDX-License-Identifier: MIT */
/*
 * libivt's native one-sided path over a fake RDMA-capable plugin
 * (fake_rdma.h): the API (rdma_api.c) hands ops to the plugin instead of
 * the frame layer, splits ops larger than max_rdma_len (tail first),
 * merges their completions into one for the caller's wr_id, and passes
 * errors on. The channel is built by hand; the channel helpers rdma_api.c
 * uses (wait.c, spill_tx.c) are stubbed below, with "sleeping" letting the fake wire
 * deliver one op.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libivt/channel.h"
#include "libivt/rdma_native.h"
#include "fake_rdma.h"

/* ---- stand-ins for wait.c ---------------------------------------------------- */

static int peer_error;       /* what the daemon says about the peer */
static int wait_kills_peer;  /* the next chan_wait learns that the peer died */
static int waits, nonblock_retries;

int chan_peer_send_error(struct ivt_channel *ch)
{
	(void)ch;
	return peer_error;
}

int chan_ensure_accepted(struct ivt_channel *ch)
{
	(void)ch;
	return 0;
}

/* Sleeping: meanwhile the wire carries one op. */
int chan_wait(struct ivt_channel *ch, enum chan_role role, unsigned events, int timeout_ms)
{
	(void)role;
	(void)timeout_ms;
	assert_true(events & IVT_EV_COMPLETION);
	waits++;
	fake_rdma_deliver(ch->ep->rdma, 1);
	if (wait_kills_peer)
		peer_error = -ECONNRESET;
	return 0;
}

int chan_retry_nonblock(struct ivt_channel *ch, unsigned events, int *tries)
{
	(void)ch;
	(void)tries;
	assert_true(events & IVT_EV_COMPLETION);
	nonblock_retries++;
	return 0; /* "-EAGAIN; ivt_fd will wake you" */
}

unsigned chan_recv_events(struct ivt_channel *ch)
{
	(void)ch;
	return IVT_EV_RECV;
}

/* spill_tx.c: no "spill" policy on these channels */
void chan_spill_progress(struct ivt_channel *ch)
{
	(void)ch;
}

/* ---- a channel on the fake --------------------------------------------------- */

struct rig {
	struct fake_queue *in, *out;
	struct fake_rdma r;
	struct ivt_ep ep;
	struct ivt_channel *ch;
};

static uint8_t target[65536];

/* What ivt_open does once the plugin connected. */
static struct rig *rig_open(int nonblock)
{
	struct rig *g = calloc(1, sizeof(*g));
	g->in = fq_new(65536);
	g->out = fq_new(65536);
	g->ep = (struct ivt_ep){.in = g->in, .out = g->out, .rdma = &g->r};
	struct ivt_channel *ch = calloc(1, sizeof(*ch));
	ch->ops = fake_rdma_ops();
	ch->ep = &g->ep;
	atomic_store(&ch->accepted, 1);
	atomic_store(&ch->nonblock, nonblock);
	ivt_xport_init(&ch->xp, ch->ops, ch->ep, 65536);
	assert_true(ivt_native_usable(ch->ops));
	ch->native = ivt_native_new(ch->ops, ch->ep);
	assert_non_null(ch->native);
	g->ch = ch;
	memset(target, 0, sizeof(target));
	peer_error = wait_kills_peer = waits = nonblock_retries = 0;
	return g;
}

static void rig_close(struct rig *g)
{
	ivt_native_free(g->ch->native);
	ivt_xport_fini(&g->ch->xp);
	free(g->ch);
	fq_free(g->in);
	fq_free(g->out);
	free(g);
}

static uint64_t reg(struct rig *g, size_t len, unsigned access)
{
	uint64_t key = 0;
	assert_int_equal(ivt_register_region(g->ch, target, len, access, &key), 0);
	/* the plugin's key, not one of the emulation's */
	assert_true((key & FAKE_RDMA_KEY_MARK) == FAKE_RDMA_KEY_MARK);
	assert_int_equal(g->ch->xp.regions.n, 0);
	return key;
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 9));
}

/* Deliver and poll until one completion comes (bounded). */
static struct ivt_completion reap_one(struct rig *g)
{
	struct ivt_completion c[2];
	for (int round = 0; round < 100; round++) {
		int n = ivt_poll_completions(g->ch, c, 2);
		assert_true(n >= 0 && n <= 1);
		if (n == 1)
			return c[0];
		fake_rdma_deliver(&g->r, -1);
	}
	fail_msg("no completion");
	return c[0];
}

#define ALL (IVT_ACCESS_REMOTE_WRITE | IVT_ACCESS_REMOTE_READ)

/* ---- tests ------------------------------------------------------------------------ */

static void test_usable_needs_everything(void **state)
{
	(void)state;
	const struct ivt_plugin_ops *full = fake_rdma_ops();
	assert_true(ivt_native_usable(full));
	struct ivt_plugin_ops t = *full;
	t.ops_size = (uint32_t)IVT_PLUGIN_OPS_V1_SIZE; /* an older plugin: fields absent */
	assert_false(ivt_native_usable(&t));
	t = *full;
	t.caps &= ~(uint32_t)IVT_CAP_RDMA;
	assert_false(ivt_native_usable(&t));
	/* (the capability without every op never loads: test_plugin_abi) */
	assert_false(ivt_native_usable(&fake_ops)); /* a pipe: emulated */
}

static void test_small_write_goes_to_the_plugin(void **state)
{
	(void)state;
	struct rig *g = rig_open(0);
	uint64_t key = reg(g, 4096, ALL);
	uint8_t src[100];
	pattern(src, sizeof(src), 1);
	assert_int_equal(ivt_rdma_write(g->ch, src, sizeof(src), key, 10, 42), 0);
	assert_int_equal(g->r.n_posts, 1);
	assert_int_equal(g->r.log[0].len, 100);
	assert_int_equal(g->r.log[0].offset, 10);
	assert_int_equal(g->r.log[0].key, key);
	assert_int_equal(g->out->len, 0); /* no frame on the byte pipe */
	struct ivt_completion c;
	assert_int_equal(ivt_poll_completions(g->ch, &c, 1), 0); /* still on the wire */
	assert_true(nonblock_retries > 0); /* armed so that ivt_fd wakes the caller */
	c = reap_one(g);
	assert_int_equal(c.wr_id, 42);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.opcode, IVT_OP_RDMA_WRITE);
	assert_int_equal(c.len, 100);
	assert_memory_equal(target + 10, src, sizeof(src));
	assert_int_equal(ivt_deregister_region(g->ch, key), 0);
	assert_int_equal(ivt_deregister_region(g->ch, key), -ENOENT);
	rig_close(g);
}

static void test_large_write_split_tail_first_one_completion(void **state)
{
	(void)state;
	struct rig *g = rig_open(0); /* blocking: returns once all is with the plugin */
	uint64_t key = reg(g, sizeof(target), ALL);
	const size_t len = 4 * FAKE_RDMA_MAX_LEN + 100, off = 1000;
	static uint8_t src[4 * FAKE_RDMA_MAX_LEN + 100], orig[sizeof(src)];
	pattern(src, len, 2);
	memcpy(orig, src, len);
	assert_int_equal(ivt_rdma_write(g->ch, src, len, key, off, 7), 0);
	assert_true(waits > 0); /* the rest waited for the tail's success */
	/* tail first, then the front in order; pieces cover the op exactly */
	assert_int_equal(g->r.n_posts, 5);
	assert_int_equal(g->r.log[0].offset, off + len - FAKE_RDMA_MAX_LEN);
	assert_int_equal(g->r.log[0].len, FAKE_RDMA_MAX_LEN);
	uint64_t at = off;
	for (int i = 1; i < 5; i++) {
		assert_int_equal(g->r.log[i].offset, at);
		assert_true(g->r.log[i].len <= FAKE_RDMA_MAX_LEN);
		assert_int_equal(g->r.log[i].wr_id, g->r.log[0].wr_id); /* one op */
		at += g->r.log[i].len;
	}
	assert_int_equal(at, off + len - FAKE_RDMA_MAX_LEN);
	memset(src, 0xee, len); /* the caller's buffer is free again */
	struct ivt_completion c = reap_one(g);
	assert_int_equal(c.wr_id, 7);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.len, len);
	assert_int_equal(ivt_poll_completions(g->ch, &c, 1), 0); /* merged: just one */
	assert_memory_equal(target + off, orig, len);
	assert_int_equal(target[off - 1], 0);
	assert_int_equal(target[off + len], 0);
	rig_close(g);
}

static void test_large_read_split_nonblocking(void **state)
{
	(void)state;
	struct rig *g = rig_open(1);
	uint64_t key = reg(g, sizeof(target), IVT_ACCESS_REMOTE_READ);
	pattern(target, sizeof(target), 3);
	const size_t len = 3 * FAKE_RDMA_MAX_LEN + 1;
	static uint8_t dst[3 * FAKE_RDMA_MAX_LEN + 1];
	assert_int_equal(ivt_rdma_read(g->ch, dst, len, key, 5, 9), 0);
	struct ivt_completion c = reap_one(g);
	assert_int_equal(c.wr_id, 9);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.opcode, IVT_OP_RDMA_READ);
	assert_int_equal(c.len, len);
	assert_int_equal(g->r.n_posts, 4);
	assert_memory_equal(dst, target + 5, len);
	rig_close(g);
}

static void test_nonblocking_backlog_keeps_a_copy_and_order(void **state)
{
	(void)state;
	struct rig *g = rig_open(1);
	g->r.max_inflight = 2;
	uint64_t key = reg(g, sizeof(target), ALL);
	const size_t len = 5 * FAKE_RDMA_MAX_LEN;
	static uint8_t src[5 * FAKE_RDMA_MAX_LEN], orig[sizeof(src)];
	pattern(src, len, 4);
	memcpy(orig, src, len);
	assert_int_equal(ivt_rdma_write(g->ch, src, len, key, 0, 1), 0);
	memset(src, 0xee, len); /* non-blocking: the rest was copied */
	/* earlier pieces still wait: a new op is not taken, and does not overtake */
	uint8_t small[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	int posts = g->r.n_posts;
	assert_int_equal(ivt_rdma_write(g->ch, small, sizeof(small), key, 60000, 2), -EAGAIN);
	assert_int_equal(g->r.n_posts, posts);
	struct ivt_completion c = reap_one(g);
	assert_int_equal(c.wr_id, 1);
	assert_int_equal(c.status, 0);
	assert_memory_equal(target, orig, len);
	assert_int_equal(ivt_rdma_write(g->ch, small, sizeof(small), key, 60000, 2), 0);
	c = reap_one(g);
	assert_int_equal(c.wr_id, 2);
	assert_memory_equal(target + 60000, small, sizeof(small));
	rig_close(g);
}

static void test_plugin_full_nonblocking_says_eagain(void **state)
{
	(void)state;
	struct rig *g = rig_open(1);
	g->r.max_inflight = 1;
	uint64_t key = reg(g, 4096, ALL);
	uint8_t b[16] = {0};
	assert_int_equal(ivt_rdma_write(g->ch, b, sizeof(b), key, 0, 1), 0);
	assert_int_equal(ivt_rdma_write(g->ch, b, sizeof(b), key, 0, 2), -EAGAIN);
	assert_true(nonblock_retries > 0);
	fake_rdma_deliver(&g->r, -1);
	assert_int_equal(ivt_rdma_write(g->ch, b, sizeof(b), key, 0, 2), 0);
	rig_close(g);
}

static void test_errors_propagate(void **state)
{
	(void)state;
	struct rig *g = rig_open(1);
	uint64_t key = reg(g, 10000, ALL);
	uint8_t b[3 * FAKE_RDMA_MAX_LEN];
	memset(b, 0x5a, sizeof(b));
	struct ivt_completion c;

	/* the caller's mistakes */
	assert_int_equal(ivt_rdma_write(g->ch, b, 0, key, 0, 1), -EINVAL);
	assert_int_equal(ivt_rdma_read(g->ch, NULL, 16, key, 0, 1), -EINVAL);
	assert_int_equal(ivt_register_region(g->ch, target, 16, 0, &c.wr_id), -EINVAL);
	assert_int_equal(g->r.n_calls, 0);

	/* an op whose range wraps: refused before any piece reaches the
	 * plugin (a later piece's offset would wrap to the region's start),
	 * reported like any range error, as its completion */
	assert_int_equal(ivt_rdma_write(g->ch, b, sizeof(b), key, UINT64_MAX - 100, 1), 0);
	assert_int_equal(ivt_poll_completions(g->ch, &c, 1), 1);
	assert_int_equal(c.wr_id, 1);
	assert_int_equal(c.status, -ERANGE);
	assert_int_equal(g->r.n_calls, 0);

	/* refused by the target: a completion with the status */
	assert_int_equal(ivt_rdma_write(g->ch, b, 16, key ^ 1, 0, 2), 0);
	c = reap_one(g);
	assert_int_equal(c.wr_id, 2);
	assert_int_equal(c.status, -EACCES);
	assert_int_equal(c.len, 0);

	/* a split op running past the region: its tail (sent first) is
	 * refused and nothing of it touches memory */
	int posts = g->r.n_posts;
	assert_int_equal(ivt_rdma_write(g->ch, b, sizeof(b), key, 0, 3), 0);
	c = reap_one(g);
	assert_int_equal(c.wr_id, 3);
	assert_int_equal(c.status, -ERANGE);
	assert_int_equal(g->r.n_posts, posts + 1);
	for (size_t i = 0; i < 10000; i++)
		assert_int_equal(target[i], 0);

	/* refused by the plugin at the origin: the same, a completion (as
	 * the emulation reports the target's refusal), nothing posted */
	g->r.origin_checks = 1;
	posts = g->r.n_posts;
	assert_int_equal(ivt_rdma_write(g->ch, b, 16, key ^ 1, 0, 4), 0);
	assert_int_equal(ivt_rdma_read(g->ch, b, 16, key, 9990, 14), 0);
	struct ivt_completion two[2];
	assert_int_equal(ivt_poll_completions(g->ch, two, 2), 2);
	assert_int_equal(two[0].wr_id, 4);
	assert_int_equal(two[0].status, -EACCES);
	assert_int_equal(two[1].wr_id, 14);
	assert_int_equal(two[1].status, -ERANGE);
	assert_int_equal(two[1].opcode, IVT_OP_RDMA_READ);
	assert_int_equal(g->r.n_posts, posts);
	g->r.origin_checks = 0;

	/* a later piece refused when posted: the op ends with that error */
	g->r.fail_post_at = g->r.n_calls + 3; /* tail, first front piece, then this */
	g->r.fail_post_err = -ENOMEM;
	assert_int_equal(ivt_rdma_write(g->ch, b, sizeof(b) - 3000, key, 0, 5), 0);
	c = reap_one(g);
	assert_int_equal(c.wr_id, 5);
	assert_int_equal(c.status, -ENOMEM);
	assert_int_equal(c.len, 0);

	/* the connection dies with an op on the wire */
	assert_int_equal(ivt_rdma_read(g->ch, b, 16, key, 0, 6), 0);
	fake_rdma_kill(&g->r);
	c = reap_one(g);
	assert_int_equal(c.wr_id, 6);
	assert_int_equal(c.status, -ECONNRESET);
	assert_int_equal(ivt_rdma_write(g->ch, b, 16, key, 0, 7), -ECONNRESET);
	assert_int_equal(ivt_poll_completions(g->ch, &c, 1), 0);
	rig_close(g);
}

static void test_blocking_write_gives_up_when_peer_dies(void **state)
{
	(void)state;
	struct rig *g = rig_open(0);
	uint64_t key = reg(g, sizeof(target), ALL);
	static uint8_t b[3 * FAKE_RDMA_MAX_LEN];
	wait_kills_peer = 1;
	assert_int_equal(ivt_rdma_write(g->ch, b, sizeof(b), key, 0, 8), 0);
	assert_int_equal(g->r.n_posts, 1); /* the tail; the rest was abandoned */
	struct ivt_completion c = reap_one(g);
	assert_int_equal(c.wr_id, 8);
	assert_int_equal(c.status, -ECONNRESET);
	/* the daemon says the peer is gone: new ops are refused */
	assert_int_equal(ivt_rdma_write(g->ch, b, 16, key, 0, 9), -ECONNRESET);
	rig_close(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usable_needs_everything),
		cmocka_unit_test(test_small_write_goes_to_the_plugin),
		cmocka_unit_test(test_large_write_split_tail_first_one_completion),
		cmocka_unit_test(test_large_read_split_nonblocking),
		cmocka_unit_test(test_nonblocking_backlog_keeps_a_copy_and_order),
		cmocka_unit_test(test_plugin_full_nonblocking_says_eagain),
		cmocka_unit_test(test_errors_propagate),
		cmocka_unit_test(test_blocking_write_gives_up_when_peer_dies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
