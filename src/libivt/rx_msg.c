/* SPDX-License-Identifier: MIT */
/*
 * Message mode, receive side: a message is a MSG frame (its total length
 * plus the first bytes) and DATA frames with the rest (docs/framing.md).
 * ivt_recv hands out exactly one whole message or nothing: the length is
 * known from the MSG header before any payload byte is taken, so a buffer
 * that is too small is refused with nothing consumed. A message larger
 * than the ring arrives while the caller waits, straight into its buffer;
 * only when a caller stops waiting (non-blocking, timeout) with part of a
 * message in hand is that part moved to private memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xport.h"

/* rx lock held: the bytes of the open message in the caller's array move
 * to private memory (the caller's array stops being ours). */
static int detach_locked(struct ivt_xport *xp, const struct iovec *iov, int iovcnt)
{
	struct rx_state *rx = &xp->rx;
	if (!rx->msg_open || rx->msg_priv || rx->msg_got == 0)
		return 0;
	/* msg_len <= the caller's array, which it held: a size it can afford */
	rx->msg_priv = malloc(rx->msg_len);
	if (!rx->msg_priv) {
		rx->err = -ENOMEM; /* the message can no longer be delivered whole */
		return -ENOMEM;
	}
	struct iov_cur c = {.iov = iov, .cnt = iovcnt};
	ivt_iov_gather(&c, rx->msg_priv, rx->msg_got);
	return 0;
}

int ivt_xport_msg_detach(struct ivt_xport *xp, const struct iovec *iov, int iovcnt)
{
	pthread_mutex_lock(&xp->rx_lock);
	int rc = detach_locked(xp, iov, iovcnt);
	pthread_mutex_unlock(&xp->rx_lock);
	return rc;
}

/* rx lock held: take what has arrived of the open message. */
static ssize_t fill(struct ivt_xport *xp, const struct iovec *iov, int iovcnt, int keep)
{
	struct rx_state *rx = &xp->rx;
	struct iovec priv = {.iov_base = rx->msg_priv, .iov_len = rx->msg_len};
	struct rx_sink s = {.c = {.iov = iov, .cnt = iovcnt}};
	if (rx->msg_priv)
		s.c = (struct iov_cur){.iov = &priv, .cnt = 1};
	ivt_iov_advance(&s.c, rx->msg_got);
	s.room = rx->msg_len - rx->msg_got;
	ssize_t st = ivt_rx_parse(xp, &s);
	if (st == -ECANCELED)
		return st; /* the sender dropped it (MSG_ABORT): nothing to hand out */
	if (rx->msg_got == rx->msg_len) {
		ssize_t len = (ssize_t)rx->msg_len;
		if (rx->msg_priv) {
			struct iov_cur out = {.iov = iov, .cnt = iovcnt};
			ivt_iov_scatter(&out, rx->msg_priv, rx->msg_len);
			free(rx->msg_priv);
			rx->msg_priv = NULL;
		}
		rx->msg_open = 0;
		xport_count(&xp->bytes_received, (uint64_t)len);
		xport_count(&xp->recvs, 1);
		return len;
	}
	if ((st == -EAGAIN || st == -ENOBUFS) && !keep) {
		int rc = detach_locked(xp, iov, iovcnt);
		if (rc < 0)
			return rc;
	}
	return st;
}

ssize_t ivt_xport_recv_msg(struct ivt_xport *xp, const struct iovec *iov, int iovcnt, int peek,
			   int keep)
{
	ssize_t cap = ivt_iov_total(iov, iovcnt);
	if (cap < 0)
		return cap;
	if (atomic_load(&xp->broken))
		return -EPROTO;
	struct rx_state *rx = &xp->rx;
	ssize_t st;
	pthread_mutex_lock(&xp->rx_lock);
	do {
		if (!rx->msg_open) {
			/* one-sided traffic up to the next message's header */
			st = ivt_rx_parse(xp, NULL);
			if (st == -EAGAIN && rx->fin)
				st = 0; /* the peer's FIN: no message comes any more */
			if (st != -EBUSY || !rx->msg_open)
				break;
		}
		if (peek)
			st = (ssize_t)rx->msg_len;
		else if (rx->msg_len > (uint64_t)cap)
			st = -EMSGSIZE; /* nothing taken: retry with a bigger buffer */
		else
			st = fill(xp, iov, iovcnt, keep);
	} while (st == -ECANCELED); /* that message was dropped: the next one */
	pthread_mutex_unlock(&xp->rx_lock);
	ivt_rx_after(xp);
	return st;
}
