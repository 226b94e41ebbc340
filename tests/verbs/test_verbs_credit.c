/* SPDX-License-Identifier: MIT */
/* Credit accounting of the verbs byte pipe, as pure code: two simulated
 * ends exchange messages through FIFOs (an RC QP delivers in order); the
 * receiver must never be overrun, lies must be caught, and traffic must
 * never deadlock. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "verbs_credit.h"

#define QMAX 4096

struct end {
	struct vc_credit cr;
	int posted[3];  /* receive buffers posted, per class reservation (sum is what counts) */
	int posted_total;
	int held;       /* DATA messages received, not yet consumed */
	uint64_t data_in, data_out;
	struct vw_hdr q[QMAX]; /* messages in flight towards this end */
	int qh, qn;
};

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void init_pair(struct end *a, struct end *b, int da, int ca, int db, int cb)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	vc_init(&a->cr, (uint32_t)da, (uint32_t)ca, (uint32_t)db, (uint32_t)cb);
	vc_init(&b->cr, (uint32_t)db, (uint32_t)cb, (uint32_t)da, (uint32_t)ca);
	a->posted_total = da + ca + 1;
	b->posted_total = db + cb + 1;
}

static int post(struct end *from, struct end *to, uint8_t type)
{
	int rc = vc_take(&from->cr, vw_msg_class(type));
	if (rc)
		return rc;
	struct vw_hdr h = {.type = type};
	vc_fill(&from->cr, &h);
	assert_true(to->qn < QMAX);
	to->q[(to->qh + to->qn++) % QMAX] = h;
	if (type == VW_MSG_DATA)
		from->data_out++;
	return 0;
}

static void maybe_credit(struct end *self, struct end *peer)
{
	while (vc_want_credit_msg(&self->cr))
		assert_int_equal(post(self, peer, VW_MSG_CREDIT), 0);
}

/* Deliver one message to `to` (from `from`), as the CQ poll would. */
static int deliver(struct end *to, struct end *from)
{
	if (!to->qn)
		return 0;
	struct vw_hdr h = to->q[to->qh];
	to->qh = (to->qh + 1) % QMAX;
	to->qn--;
	/* The heart of it: a SEND must always find a posted receive. */
	assert_true(to->posted_total > 0);
	to->posted_total--;
	assert_int_equal(vc_on_recv(&to->cr, &h), 0);
	if (h.type == VW_MSG_DATA) {
		to->held++;
		to->data_in++;
	} else if (h.type != VW_MSG_CLOSE) {
		to->posted_total++; /* ctrl buffers are re-posted at once */
	}
	maybe_credit(to, from);
	return 1;
}

static void consume(struct end *self, struct end *peer)
{
	if (!self->held)
		return;
	self->held--;
	self->posted_total++;
	vc_on_data_reposted(&self->cr);
	maybe_credit(self, peer);
}

static void random_traffic(int da, int ca, int db, int cb, int bidirectional, int steps)
{
	struct end a, b;
	init_pair(&a, &b, da, ca, db, cb);
	for (int i = 0; i < steps; i++) {
		switch (rnd() % 6) {
		case 0:
			post(&a, &b, VW_MSG_DATA);
			break;
		case 1:
			if (bidirectional)
				post(&b, &a, VW_MSG_DATA);
			break;
		case 2:
			deliver(&b, &a);
			break;
		case 3:
			deliver(&a, &b);
			break;
		case 4:
			consume(&b, &a);
			break;
		case 5:
			consume(&a, &b);
			break;
		}
		assert_true(a.cr.data_credits <= (uint32_t)db);
		assert_true(a.cr.ctrl_credits <= (uint32_t)cb);
	}
	/* Drain: both readers consume everything; then both writers must
	 * have their whole window back (no credit lost or invented), which
	 * also means neither can be stuck. */
	for (int round = 0; round < 100000 && (a.qn || b.qn || a.held || b.held); round++) {
		deliver(&a, &b);
		deliver(&b, &a);
		consume(&a, &b);
		consume(&b, &a);
	}
	assert_int_equal(a.qn + b.qn + a.held + b.held, 0);
	assert_true(a.data_out == b.data_in && b.data_out == a.data_in);
	uint32_t owed_to_a = b.cr.data_to_return, owed_to_b = a.cr.data_to_return;
	assert_int_equal(a.cr.data_credits + owed_to_a, (uint32_t)db);
	assert_int_equal(b.cr.data_credits + owed_to_b, (uint32_t)da);
	/* Pending returns stay below the threshold, so the writer always
	 * keeps most of its window. */
	assert_true(owed_to_a < b.cr.threshold || b.cr.ctrl_credits == 0);
	assert_true(a.cr.data_credits > 0);
}

static void random_one_way(void **state)
{
	random_traffic(16, 4, 16, 4, 0, 200000);
	random_traffic(2, 2, 2, 2, 0, 50000);
}

static void random_both_ways(void **state)
{
	random_traffic(16, 4, 8, 2, 1, 200000);
	random_traffic(1, 2, 1, 2, 1, 50000);
	random_traffic(1024, 4, 3, 2, 1, 100000);
}

/* A greedy writer and a reader that reads everything: must keep going. */
static void streaming_makes_progress(void **state)
{
	struct end a, b;
	init_pair(&a, &b, 16, 4, 16, 4);
	for (int i = 0; i < 100000; i++) {
		while (post(&a, &b, VW_MSG_DATA) == 0)
			;
		while (deliver(&b, &a))
			consume(&b, &a);
		while (deliver(&a, &b))
			;
	}
	assert_true(b.data_in > 100000);
	assert_int_equal(b.posted_total, 16 + 4 + 1);
}

static void take_and_close(void **state)
{
	struct vc_credit c;
	vc_init(&c, 4, 2, 2, 2);
	assert_int_equal(vc_take(&c, VW_CLASS_DATA), 0);
	assert_int_equal(vc_take(&c, VW_CLASS_DATA), 0);
	assert_int_equal(vc_take(&c, VW_CLASS_DATA), -EAGAIN);
	vc_untake(&c, VW_CLASS_DATA);
	assert_int_equal(c.data_credits, 1);
	assert_int_equal(vc_take(&c, VW_CLASS_CLOSE), 0);
	assert_int_equal(vc_take(&c, VW_CLASS_CLOSE), -EPIPE);
	assert_false(vc_want_credit_msg(&c)); /* nothing after CLOSE */
}

static void lies_are_caught(void **state)
{
	struct vc_credit c;
	struct vw_hdr h;
	/* returning credits never taken */
	vc_init(&c, 4, 2, 4, 2);
	h = (struct vw_hdr){.type = VW_MSG_DATA, .credits_returned = 1};
	assert_int_equal(vc_on_recv(&c, &h), -EPROTO);
	h = (struct vw_hdr){.type = VW_MSG_DATA, .ctrl_returned = 1};
	assert_int_equal(vc_on_recv(&c, &h), -EPROTO);
	h = (struct vw_hdr){.type = VW_MSG_DATA, .credits_returned = UINT32_MAX};
	assert_int_equal(vc_on_recv(&c, &h), -EPROTO);
	/* more DATA than granted */
	vc_init(&c, 2, 2, 4, 2);
	h = (struct vw_hdr){.type = VW_MSG_DATA};
	assert_int_equal(vc_on_recv(&c, &h), 0);
	assert_int_equal(vc_on_recv(&c, &h), 0);
	assert_int_equal(vc_on_recv(&c, &h), -EPROTO);
	/* buffers re-posted but not yet returned still count */
	vc_on_data_reposted(&c);
	assert_int_equal(vc_on_recv(&c, &h), -EPROTO);
	/* more ctrl than granted; a CREDIT returning nothing */
	vc_init(&c, 2, 2, 4, 2);
	h = (struct vw_hdr){.type = VW_MSG_READY};
	assert_int_equal(vc_on_recv(&c, &h), 0);
	assert_int_equal(vc_on_recv(&c, &h), 0);
	assert_int_equal(vc_on_recv(&c, &h), -EPROTO);
	vc_init(&c, 2, 2, 4, 2);
	h = (struct vw_hdr){.type = VW_MSG_CREDIT, .credits_returned = 0};
	assert_int_equal(vc_on_recv(&c, &h), -EPROTO);
	/* two CLOSEs */
	h = (struct vw_hdr){.type = VW_MSG_CLOSE};
	assert_int_equal(vc_on_recv(&c, &h), 0);
	assert_int_equal(vc_on_recv(&c, &h), -EPROTO);
}

static void piggyback_and_threshold(void **state)
{
	struct vc_credit c;
	vc_init(&c, 16, 4, 16, 4);
	assert_int_equal(c.threshold, 4);
	struct vw_hdr d = {.type = VW_MSG_DATA};
	for (int i = 0; i < 5; i++)
		assert_int_equal(vc_on_recv(&c, &d), 0);
	for (int i = 0; i < 3; i++)
		vc_on_data_reposted(&c);
	assert_false(vc_want_credit_msg(&c));
	vc_on_data_reposted(&c);
	assert_true(vc_want_credit_msg(&c));
	struct vw_hdr out = {.type = VW_MSG_DATA};
	vc_fill(&c, &out);
	assert_int_equal(out.credits_returned, 4);
	assert_false(vc_want_credit_msg(&c));
	/* no ctrl credit left: no CREDIT message even above threshold */
	vc_init(&c, 4, 2, 4, 2);
	c.ctrl_credits = 0;
	assert_int_equal(vc_on_recv(&c, &d), 0);
	vc_on_data_reposted(&c);
	assert_false(vc_want_credit_msg(&c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(take_and_close),          cmocka_unit_test(lies_are_caught),
		cmocka_unit_test(piggyback_and_threshold), cmocka_unit_test(random_one_way),
		cmocka_unit_test(random_both_ways),        cmocka_unit_test(streaming_makes_progress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
