/* SPDX-License-Identifier: MIT */
/* The stream and message API: ivt_send(v), ivt_recv(v), ivt_recv_all,
 * ivt_next_msg_size, with the per-channel timeouts. */
#include <errno.h>
#include <sys/uio.h>

#include "channel.h"
#include "errors.h"
#include "common/clock.h"

/* A blocking send-side wait bounded by the channel's send timeout. The
 * clock is read at the first wait, not on every call that never waits
 * (like SO_SNDTIMEO, the limit is on waiting). */
static int timed_send_wait(void *ctx, unsigned events)
{
	struct timed_wait *t = ctx;
	int e = chan_peer_send_error(t->ch);
	if (e)
		return e;
	if (t->deadline == TIMED_WAIT_UNSET)
		t->deadline = ivt_deadline_ms(atomic_load(&t->ch->send_timeout_ms));
	int left = ivt_left_ms(t->deadline);
	if (left == 0)
		return -ETIMEDOUT;
	chan_wait(t->ch, CHAN_SENDER, events, left);
	return chan_peer_send_error(t->ch);
}

/* The waiter for one blocking send-side call (t lives in the caller). */
struct ivt_waiter chan_send_waiter(struct ivt_channel *ch, struct timed_wait *t)
{
	t->ch = ch;
	t->deadline = TIMED_WAIT_UNSET;
	return (struct ivt_waiter){.wait = timed_send_wait, .ctx = t};
}

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

/* Policy "spill" parks stream bytes in utmem; with an iovec, each piece
 * goes through it in order (byte streams only: spill has no messages). */
static ssize_t spill_sendv(struct ivt_channel *ch, const struct iovec *iov, int iovcnt)
{
	size_t done = 0;
	for (int i = 0; i < iovcnt; i++) {
		if (!iov[i].iov_len)
			continue;
		ssize_t n = chan_spill_send(ch, iov[i].iov_base, iov[i].iov_len);
		if (n < 0)
			return done ? (ssize_t)done : n;
		done += (size_t)n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	return (ssize_t)done;
}

IVT_EXPORT ssize_t ivt_sendv(ivt_channel *ch, const struct iovec *iov, int iovcnt)
{
	if (!ch)
		return ivt_einval(__func__);
	ssize_t total = ivt_iov_total(iov, iovcnt);
	if (total < 0)
		return total;
	if (atomic_load(&ch->wr_shut))
		return -EPIPE; /* our own SHUT_WR, as send(2) after shutdown */
	int rc = chan_send_ready(ch);
	if (rc)
		return rc;
	if (ch->spill && !ch->xp.msg_mode) { /* policy "spill": a full ring parks bytes in utmem */
		ssize_t n = iovcnt == 1 ? chan_spill_send(ch, iov[0].iov_base, iov[0].iov_len)
					: spill_sendv(ch, iov, iovcnt);
		if (n != -ENOSYS)
			return n;
	}
	if (!atomic_load(&ch->nonblock)) {
		struct timed_wait t;
		struct ivt_waiter w = chan_send_waiter(ch, &t);
		return chan_send_error(ch, ivt_xport_sendv_n(&ch->xp, iov, iovcnt, (size_t)total, &w));
	}
	for (int tries = 0;;) {
		ssize_t n = ivt_xport_sendv_n(&ch->xp, iov, iovcnt, (size_t)total, NULL);
		if (n != -EAGAIN) {
			if (n > 0 && atomic_load(&ch->send_wanted)) /* no locked store per send */
				atomic_store(&ch->send_wanted, 0);
			return n < 0 ? chan_send_error(ch, (int)n) : n;
		}
		int again = chan_retry_nonblock(ch, IVT_EV_SEND, &tries);
		if ((rc = chan_peer_send_error(ch)))
			return rc;
		if (!again)
			return -EAGAIN;
	}
}

IVT_EXPORT ssize_t ivt_send(ivt_channel *ch, const void *buf, size_t len)
{
	if (!ch || (len && !buf))
		return ivt_einval(__func__);
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	return ivt_sendv(ch, &iov, 1);
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

/* One non-blocking attempt: stream bytes, or (message mode) one message
 * or its size (peek). keep: a blocking caller comes back with iov. */
static ssize_t recv_once(struct ivt_channel *ch, const struct iovec *iov, int iovcnt, int peek,
			 int keep)
{
	if (ch->xp.msg_mode)
		return ivt_xport_recv_msg(&ch->xp, iov, iovcnt, peek, keep);
	return ivt_xport_recvv(&ch->xp, iov, iovcnt);
}

static ssize_t recv_common(struct ivt_channel *ch, const struct iovec *iov, int iovcnt, int peek)
{
	int rc = chan_ensure_accepted(ch);
	if (rc < 0)
		return rc;
	long long deadline = TIMED_WAIT_UNSET; /* read the clock once we wait */
	for (int tries = 0;;) {
		chan_spill_progress(ch); /* parked bytes of ours move on too */
		int ev_before = ivt_ctrl_peer_event(&ch->ctrl);
		int nonblock = atomic_load(&ch->nonblock);
		ssize_t n = recv_once(ch, iov, iovcnt, peek, !nonblock);
		chan_fd_rx_done(ch);
		unsigned events;
		if (n == -EAGAIN) {
			if (end_stream_if_peer_gone(ch, ev_before))
				continue; /* now returns 0 or -ECONNRESET */
			events = chan_recv_events(ch);
			if (nonblock && events == IVT_EV_RECV && atomic_load(&ch->manual_arm) &&
			    tries == 0 && !(ivt_ready(ch) & IVT_READY_RECV)) {
				/* nothing there, nothing of ours to push: the
				 * caller arms before it sleeps (ivt_set_manual_arm).
				 * Not once this call prepared a sleep: that consumed
				 * the caller's kick, maybe for a frame header whose
				 * payload is still to come; the arming below asks the
				 * peer again, or its payload would wake nobody
				 * (test_libivt_manual_rearm). */
				if (ch->xp.msg_mode && !peek)
					ivt_xport_msg_detach(&ch->xp, iov, iovcnt);
				return -EAGAIN;
			}
		} else if (n == -ENOBUFS) {
			events = IVT_EV_SEND; /* our answers must drain first */
		} else {
			chan_fd_progress(ch); /* more may be there, or the end stays */
			return n;
		}
		if (nonblock) {
			if (ch->xp.msg_mode && !peek)
				ivt_xport_msg_detach(&ch->xp, iov, iovcnt);
			int again = chan_retry_nonblock(ch, events, &tries);
			if (ivt_ctrl_peer_event(&ch->ctrl) != ev_before)
				continue; /* re-read the pipe, then report the end */
			if (!again)
				return -EAGAIN;
			continue;
		}
		if (deadline == TIMED_WAIT_UNSET)
			deadline = ivt_deadline_ms(atomic_load(&ch->recv_timeout_ms));
		int left = ivt_left_ms(deadline);
		if (left == 0) {
			if (ch->xp.msg_mode && !peek) /* the part we have stays with us */
				ivt_xport_msg_detach(&ch->xp, iov, iovcnt);
			return -ETIMEDOUT;
		}
		chan_wait(ch, CHAN_RECEIVER, events, left);
	}
}

IVT_EXPORT ssize_t ivt_recvv(ivt_channel *ch, const struct iovec *iov, int iovcnt)
{
	if (!ch)
		return ivt_einval(__func__);
	ssize_t total = ivt_iov_total(iov, iovcnt);
	if (total < 0)
		return total;
	if (total == 0 && !ch->xp.msg_mode)
		return 0;
	if (atomic_load(&ch->rd_shut))
		return 0; /* our own SHUT_RD */
	/* Bytes already there, on an attached stream channel: take them
	 * without the waiting loop's bookkeeping (peer events, deadline,
	 * spill). Anything else (empty, end, error) goes the full way,
	 * which parses again: ends and errors are sticky. */
	if (!ch->xp.msg_mode && !ch->spill && atomic_load(&ch->accepted)) {
		ssize_t n = ivt_xport_recvv_n(&ch->xp, iov, iovcnt, (size_t)total);
		if (n > 0) {
			chan_fd_rx_done(ch);
			chan_fd_progress(ch);
			return n;
		}
	}
	return recv_common(ch, iov, iovcnt, 0);
}

IVT_EXPORT ssize_t ivt_recv(ivt_channel *ch, void *buf, size_t len)
{
	if (!ch || (len && !buf))
		return ivt_einval(__func__);
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	return ivt_recvv(ch, &iov, 1);
}

IVT_EXPORT ssize_t ivt_next_msg_size(ivt_channel *ch)
{
	if (!ch)
		return ivt_einval(__func__);
	if (!ch->xp.msg_mode) {
		ivt_reason_set(-EINVAL, "ivt_next_msg_size: '%s' is a byte stream, not in message "
					"mode", ch->name);
		return -EINVAL;
	}
	if (atomic_load(&ch->rd_shut))
		return 0; /* our own SHUT_RD */
	return recv_common(ch, NULL, 0, 1);
}

/* Like recv(MSG_WAITALL): a count already taken is never dropped. */
IVT_EXPORT ssize_t ivt_recv_all(ivt_channel *ch, void *buf, size_t len)
{
	if (!ch || (len && !buf))
		return ivt_einval(__func__);
	if (ch->xp.msg_mode)
		return ivt_recv(ch, buf, len); /* a message is whole already */
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
