/* SPDX-License-Identifier: MIT */
/* The one-sided API, emulated over the frame layer for every backend. */
#include <errno.h>

#include "channel.h"

IVT_EXPORT int ivt_register_region(ivt_channel *ch, void *addr, size_t len, unsigned access,
				   uint64_t *key_out)
{
	if (!ch)
		return -EINVAL;
	return ivt_regions_add(&ch->xp.regions, addr, len, access, key_out);
}

IVT_EXPORT int ivt_deregister_region(ivt_channel *ch, uint64_t key)
{
	if (!ch)
		return -EINVAL;
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
	if (!atomic_load(&ch->nonblock))
		return ivt_xport_rdma_post(&ch->xp, opcode, buf, len, key, offset, wr_id,
					   &ch->waiter);
	for (int tries = 0;;) {
		rc = ivt_xport_rdma_post(&ch->xp, opcode, buf, len, key, offset, wr_id, NULL);
		if (rc != -EAGAIN)
			return rc;
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

/* Completions need the peer's answers, which arrive on the pipe: read the
 * one-sided traffic (up to the next stream byte, which stays for
 * ivt_recv), then reap. */
IVT_EXPORT int ivt_poll_completions(ivt_channel *ch, struct ivt_completion *out, int max)
{
	if (!ch || max < 0 || (max && !out))
		return -EINVAL;
	if (max == 0)
		return 0;
	int n = ivt_track_poll(&ch->xp.track, out, max);
	if (n > 0)
		return n;
	if (!atomic_load(&ch->accepted))
		return 0;
	int ev_before = atomic_load(&ch->ctrl.peer_event);
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
	return n;
}
