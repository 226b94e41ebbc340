/* SPDX-License-Identifier: MIT */
/*
 * The manual-arming contract (ivt_set_manual_arm) when a receive consumes
 * the caller's kick: a non-blocking ivt_recv that returns -EAGAIN must
 * leave the peer asked to kick, or its wake-up still pending. The race it
 * pins down: the ring is empty at the first look, the peer then publishes
 * a frame header alone (its payload follows in a second commit) and
 * kicks; the receive sees "ready", prepares to sleep (which consumes the
 * kick), parses the header, finds no payload yet. Answering -EAGAIN there
 * without asking the peer again left the application's fd waiting for a
 * kick that was never to come: iperf3 under libivt-preload.so stalled at
 * 0 bits/s (preload_programs).
 *
 * The race is staged deterministically: the fake plugin's ready() is the
 * moment the peer acts. The channel is built by hand over the real io.c,
 * wait.c and ready.c; the control path is a stub that never has news.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "libivt/channel.h"
#include "libivt/frame.h"
#include "libivt/rdma_native.h"
#include "libivt/spill_tx.h"
#include "fake_pipe.h"

/* ---- the peer, staged -------------------------------------------------- */

static int kick_pending;     /* a kick of the peer's not yet consumed (ack) */
static int notify_requested; /* we asked the peer to kick for data */
static int act_in_ready;     /* the next ready() is when the peer publishes */
static struct fake_queue *wire;

/* The peer publishes a DATA header alone and, as we had asked, kicks. */
static void peer_publishes_header(void)
{
	uint8_t h[IVT_FRAME_HEAD_MAX];
	size_t n = ivt_frame_encode(h, IVT_FRAME_DATA, 0, NULL, 100);
	assert_int_equal(fq_put(wire, h, n), n);
	if (notify_requested) {
		notify_requested = 0; /* the peer clears the request it serves */
		kick_pending = 1;
	}
}

static int staged_ready(struct ivt_ep *ep, unsigned events)
{
	if (act_in_ready) {
		act_in_ready = 0;
		peer_publishes_header();
	}
	return fake_ops.arm(ep, events);
}

static int staged_arm(struct ivt_ep *ep, unsigned events)
{
	int ready = fake_ops.arm(ep, events);
	if (!ready && (events & IVT_EV_RECV))
		notify_requested = 1;
	return ready;
}

static void staged_ack(struct ivt_ep *ep)
{
	(void)ep;
	kick_pending = 0;
}

static struct ivt_plugin_ops staged_ops;

/* ---- a control path with no news ----------------------------------------- */

static int quiet_drain(void *impl) { return (void)impl, 0; }
static int quiet_event(void *impl) { return (void)impl, 0; }
static int quiet_gone(void *impl) { return (void)impl, 1; } /* nothing to poll */
static int quiet_fd(void *impl) { return (void)impl, -1; }
static const struct ivt_ctrl_ops quiet_ctrl = {
	.name = "quiet", .drain = quiet_drain, .peer_event = quiet_event,
	.gone = quiet_gone, .fd = quiet_fd,
};

/* ---- stand-ins for what io.c links but these cases never reach ---------- */

void chan_spill_progress(struct ivt_channel *ch) { (void)ch; }
unsigned chan_spill_events(struct ivt_channel *ch) { return (void)ch, 0u; }
int ivt_native_pending(struct ivt_native *n) { return (void)n, 0; }
ssize_t chan_spill_send(struct ivt_channel *ch, const void *buf, size_t len)
{
	return (void)ch, (void)buf, (void)len, -ENOSYS;
}
int ivt_fd(ivt_channel *ch) { return ch->wake_fd; } /* made by hand below */

/* ---- the case ------------------------------------------------------------------ */

static void test_recv_that_consumed_the_kick_rearms(void **state)
{
	(void)state;
	staged_ops = fake_ops;
	staged_ops.ready = staged_ready;
	staged_ops.arm = staged_arm;
	staged_ops.ack = staged_ack;
	wire = fq_new(4096);
	struct fake_queue *back = fq_new(4096);
	struct ivt_ep ep = {.in = wire, .out = back};
	struct ivt_channel *ch = calloc(1, sizeof(*ch));
	ch->ops = &staged_ops;
	ch->ep = &ep;
	ch->ctrl.ops = &quiet_ctrl;
	ch->epfd = ch->retry_fd = -1;
	ch->role[0].fd = ch->role[1].fd = -1;
	atomic_store(&ch->retry_at, -1);
	ch->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(ch->wake_fd >= 0);
	atomic_store(&ch->accepted, 1);
	atomic_store(&ch->nonblock, 1);
	atomic_store(&ch->fd_used, 1);
	atomic_store(&ch->manual_arm, 1);
	atomic_store(&ch->recv_timeout_ms, -1);
	ivt_xport_init(&ch->xp, ch->ops, ch->ep, 4096);

	/* the application armed before it slept (ivt_arm), the ring empty */
	notify_requested = 1;
	act_in_ready = 1;
	char buf[200];
	assert_int_equal(ivt_recv(ch, buf, sizeof(buf)), -EAGAIN);
	/* the header came and was parsed; its payload is still to come */
	assert_int_equal(wire->len, 0);
	/* whoever sleeps on ivt_fd now must be woken by the payload */
	if (!kick_pending && !notify_requested)
		fail_msg("-EAGAIN after consuming the peer's kick, and the peer not asked again");

	ivt_xport_fini(&ch->xp);
	close(ch->wake_fd);
	free(ch);
	fq_free(wire);
	fq_free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recv_that_consumed_the_kick_rearms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
