/* SPDX-License-Identifier: MIT */
/*
 * The one-sided API. A channel whose plugin does one-sided ops itself
 * (ch->native, rdma_native.c) hands them to it; every other channel
 * emulates them over the frame layer (docs/framing.md).
 */
#include <errno.h>
#include <time.h>

#include "channel.h"
#include "rdma_native.h"
#include "errors.h"

/* Blocking native waits poll with this cap: a plugin need not wake
 * poll_fd when it merely gets room for more ops. */
#define NATIVE_WAIT_CAP_MS 50
#define NATIVE_DEREGISTER_TIMEOUT_MS 10000

/* ---- native: the plugin does the work; we only wait ------------------------- */

static int native_wait(ivt_channel *ch, unsigned events)
{
	int e = chan_peer_send_error(ch);
	if (!e) {
		chan_wait(ch, CHAN_SENDER, events, NATIVE_WAIT_CAP_MS);
		e = chan_peer_send_error(ch);
	}
	return e == -EPIPE ? -ECONNRESET : e;
}

static int native_register(ivt_channel *ch, void *addr, size_t len, unsigned access,
			   uint64_t *key_out)
{
	int rc = ivt_regions_check_args(addr, len, access, key_out);
	if (rc == 0 && (rc = chan_ensure_accepted(ch)) == 0) /* the plugin needs its peer */
		rc = ivt_native_register(ch->native, addr, len, access, key_out);
	return rc;
}

static int native_deregister(ivt_channel *ch, uint64_t key)
{
	/* -EAGAIN: the plugin has no room yet to tell the peer */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int rc = ivt_native_deregister(ch->native, key);
		if (rc != -EAGAIN || atomic_load(&ch->nonblock))
			return rc;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
		    NATIVE_DEREGISTER_TIMEOUT_MS)
			return -ETIMEDOUT;
		if ((rc = native_wait(ch, IVT_EV_SEND)))
			return rc;
	}
}

static int native_post(ivt_channel *ch, uint32_t opcode, void *buf, size_t len, uint64_t key,
		       uint64_t offset, uint64_t wr_id)
{
	int nonblock = atomic_load(&ch->nonblock);
	uint64_t tag = 0;
	int rc;
	for (int tries = 0;;) {
		rc = ivt_native_post(ch->native, opcode, buf, len, key, offset, wr_id, nonblock, &tag);
		if (rc != -EAGAIN)
			break;
		if (nonblock) {
			if (!chan_retry_nonblock(ch, IVT_EV_COMPLETION, &tries))
				return -EAGAIN;
		} else if ((rc = native_wait(ch, IVT_EV_COMPLETION))) {
			return rc;
		}
	}
	if (rc || nonblock || opcode != IVT_OP_RDMA_WRITE)
		return rc;
	/* A blocking write's buf is the caller's again only once all of it is
	 * with the plugin (which copies what it takes). */
	while (!ivt_native_all_posted(ch->native, tag)) {
		int e = native_wait(ch, IVT_EV_COMPLETION);
		if (e) {
			ivt_native_abandon(ch->native, tag, e); /* its completion reports e */
			break;
		}
	}
	return 0;
}

static int native_poll(ivt_channel *ch, struct ivt_completion *out, int max)
{
	int n = ivt_native_poll(ch->native, out, max);
	/* returning 0 is this call's -EAGAIN: ivt_fd must wake the caller */
	for (int tries = 0; n == 0 && chan_retry_nonblock(ch, IVT_EV_COMPLETION, &tries);)
		n = ivt_native_poll(ch->native, out, max);
	if (n > 0)
		chan_fd_rx_done(ch); /* those not reaped yet keep ivt_fd readable */
	return n;
}

/* ---- the API --------------------------------------------------------------- */

IVT_EXPORT int ivt_register_region(ivt_channel *ch, void *addr, size_t len, unsigned access,
				   uint64_t *key_out)
{
	if (!ch)
		return ivt_einval(__func__);
	if (ch->native)
		return native_register(ch, addr, len, access, key_out);
	return ivt_regions_add(&ch->xp.regions, addr, len, access, key_out);
}

IVT_EXPORT int ivt_deregister_region(ivt_channel *ch, uint64_t key)
{
	if (!ch)
		return ivt_einval(__func__);
	if (ch->native)
		return native_deregister(ch, key);
	return ivt_regions_remove(&ch->xp.regions, key);
}

static int post(ivt_channel *ch, uint32_t opcode, void *buf, size_t len, uint64_t key,
		uint64_t offset, uint64_t wr_id)
{
	if (!ch)
		return -EINVAL;
	int rc = chan_peer_send_error(ch);
	if (rc)
		return rc == -EPIPE ? -ECONNRESET : rc;
	if ((rc = chan_ensure_accepted(ch)) < 0)
		return rc;
	if (ch->native)
		return native_post(ch, opcode, buf, len, key, offset, wr_id);
	if (!atomic_load(&ch->nonblock))
		return ivt_xport_rdma_post(&ch->xp, opcode, buf, len, key, offset, wr_id,
					   &ch->waiter);
	for (int tries = 0;;) {
		rc = ivt_xport_rdma_post(&ch->xp, opcode, buf, len, key, offset, wr_id, NULL);
		if (rc != -EAGAIN) {
			if (rc == 0)
				atomic_store(&ch->send_wanted, 0);
			return rc;
		}
		int again = chan_retry_nonblock(ch, IVT_EV_SEND, &tries);
		if ((rc = chan_peer_send_error(ch)))
			return rc;
		if (!again)
			return -EAGAIN;
	}
}

IVT_EXPORT int ivt_rdma_write(ivt_channel *ch, const void *buf, size_t len, uint64_t key,
			      uint64_t offset, uint64_t wr_id)
{
	/* the frame layer only reads from buf for writes */
	return post(ch, IVT_OP_RDMA_WRITE, (void *)(uintptr_t)buf, len, key, offset, wr_id);
}

IVT_EXPORT int ivt_rdma_read(ivt_channel *ch, void *buf, size_t len, uint64_t key,
			     uint64_t offset, uint64_t wr_id)
{
	return post(ch, IVT_OP_RDMA_READ, buf, len, key, offset, wr_id);
}

/* Emulated: completions need the peer's answers, which arrive on the pipe:
 * read the one-sided traffic (up to the next stream byte, which stays for
 * ivt_recv), then reap. */
IVT_EXPORT int ivt_poll_completions(ivt_channel *ch, struct ivt_completion *out, int max)
{
	if (!ch || max < 0 || (max && !out))
		return ivt_einval(__func__);
	if (max == 0)
		return 0;
	chan_spill_progress(ch); /* policy "spill": parked bytes move on */
	if (ch->native)
		return native_poll(ch, out, max);
	int n = ivt_track_poll(&ch->xp.track, out, max);
	if (n > 0) {
		chan_fd_rx_done(ch); /* those not reaped yet keep ivt_fd readable */
		return n;
	}
	if (!atomic_load(&ch->accepted))
		return 0;
	int ev_before = ivt_ctrl_peer_event(&ch->ctrl);
	ssize_t r = ivt_xport_recv(&ch->xp, NULL, 0);
	unsigned events = chan_recv_events(ch);
	if (r == -EAGAIN && (ev_before == IVT_PEER_DIED || ev_before == IVT_PEER_CLOSED))
		ivt_xport_peer_gone(&ch->xp, ev_before == IVT_PEER_CLOSED); /* ops fail -ECONNRESET */
	n = ivt_track_poll(&ch->xp.track, out, max);
	if (n == 0) {
		/* returning 0 is this call's -EAGAIN: ivt_fd must wake the caller */
		int tries = 0;
		while (chan_retry_nonblock(ch, r == -ENOBUFS ? IVT_EV_SEND : events, &tries)) {
			r = ivt_xport_recv(&ch->xp, NULL, 0);
			events = chan_recv_events(ch);
			if ((n = ivt_track_poll(&ch->xp.track, out, max)) > 0)
				break;
		}
	}
	if (n > 0)
		chan_fd_rx_done(ch);
	return n;
}
