/* SPDX-License-Identifier: MIT */
/* The stream API: ivt_send, ivt_recv, ivt_recv_all. */
#include <errno.h>

#include "channel.h"

/* A plugin's -EPIPE means "peer closed"; if the daemon told us it died,
 * say that instead. */
int chan_send_error(struct ivt_channel *ch, int rc)
{
	if (rc == -EPIPE && ivt_ctrl_peer_event(&ch->ctrl) == IVT_PEER_DIED)
		return -ECONNRESET;
	return rc;
}

int chan_send_ready(struct ivt_channel *ch)
{
	int rc = chan_peer_send_error(ch);
	if (rc)
		return rc;
	rc = chan_ensure_accepted(ch);
	return rc < 0 ? rc : 0;
}

IVT_EXPORT ssize_t ivt_send(ivt_channel *ch, const void *buf, size_t len)
{
	if (!ch || (len && !buf))
		return -EINVAL;
	int rc = chan_send_ready(ch);
	if (rc)
		return rc;
	if (ch->spill) { /* policy "spill": a full ring parks bytes in utmem */
		ssize_t n = chan_spill_send(ch, buf, len);
		if (n != -ENOSYS)
			return n;
	}
	if (!atomic_load(&ch->nonblock))
		return chan_send_error(ch, ivt_xport_send(&ch->xp, buf, len, &ch->waiter));
	for (int tries = 0;;) {
		ssize_t n = ivt_xport_send(&ch->xp, buf, len, NULL);
		if (n != -EAGAIN)
			return n < 0 ? chan_send_error(ch, (int)n) : n;
		int again = chan_retry_nonblock(ch, IVT_EV_SEND, &tries);
		if ((rc = chan_peer_send_error(ch)))
			return rc;
		if (!again)
			return -EAGAIN;
	}
}

/* The pipe is empty. If the daemon reported the peer's end (observed
 * before that read, so nothing it sent can still be on the way), end the
 * stream: the next read returns 0 after a close, -ECONNRESET after a death
 * or inside a frame. shm marks a close in the ring itself; this covers the
 * peer's death and backends that cannot. Returns 1 if it ended it. */
static int end_stream_if_peer_gone(struct ivt_channel *ch, int ev_before)
{
	if (ev_before != IVT_PEER_DIED && ev_before != IVT_PEER_CLOSED)
		return 0;
	ivt_xport_peer_gone(&ch->xp, ev_before == IVT_PEER_CLOSED);
	return 1;
}

IVT_EXPORT ssize_t ivt_recv(ivt_channel *ch, void *buf, size_t len)
{
	if (!ch || (len && !buf))
		return -EINVAL;
	if (len == 0)
		return 0;
	int rc = chan_ensure_accepted(ch);
	if (rc < 0)
		return rc;
	for (int tries = 0;;) {
		chan_spill_progress(ch); /* parked bytes of ours move on too */
		int ev_before = ivt_ctrl_peer_event(&ch->ctrl);
		ssize_t n = ivt_xport_recv(&ch->xp, buf, len);
		unsigned events;
		if (n == -EAGAIN) {
			if (end_stream_if_peer_gone(ch, ev_before))
				continue; /* now returns 0 or -ECONNRESET */
			events = chan_recv_events(ch);
		} else if (n == -ENOBUFS) {
			events = IVT_EV_SEND; /* our answers must drain first */
		} else {
			return n;
		}
		if (atomic_load(&ch->nonblock)) {
			int again = chan_retry_nonblock(ch, events, &tries);
			if (ivt_ctrl_peer_event(&ch->ctrl) != ev_before)
				continue; /* re-read the pipe, then report the end */
			if (!again)
				return -EAGAIN;
			continue;
		}
		chan_wait(ch, CHAN_RECEIVER, events, -1);
	}
}

/* Like recv(MSG_WAITALL): a count already taken is never dropped. */
IVT_EXPORT ssize_t ivt_recv_all(ivt_channel *ch, void *buf, size_t len)
{
	if (!ch || (len && !buf))
		return -EINVAL;
	size_t got = 0;
	while (got < len) {
		ssize_t n = ivt_recv(ch, (char *)buf + got, len - got);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		/* The stream ended inside the message (0 and -ECONNRESET are
		 * sticky: the next call reports them), or a non-blocking channel
		 * has no more yet: hand over what arrived. */
		return got > 0 ? (ssize_t)got : n;
	}
	return (ssize_t)len;
}
