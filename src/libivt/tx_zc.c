/* SPDX-License-Identifier: MIT */
/*
 * Zero-copy send (ivt_send_reserve / ivt_send_commit): the caller writes
 * its payload straight into the plugin's ring, behind room left for the
 * frame header, which is filled in at commit when the length is known.
 *
 * A frame must be contiguous in the ring for the caller's pointer to be
 * one flat buffer. When the space before the wrap is too short, a PAD
 * frame (docs/framing.md) fills it and the frame starts at the ring's
 * beginning; the receiver skips the padding. That is why a reservation
 * may take at most about half a ring (ivt_xport_reserve_max).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "xport.h"

/* Room kept before the caller's bytes: DATA needs 16, MSG 24. */
static size_t head_size(const struct ivt_xport *xp)
{
	return IVT_FRAME_HDR_SIZE + (xp->msg_mode ? ivt_frame_ext_size(IVT_FRAME_MSG) : 0);
}

size_t ivt_xport_reserve_max(const struct ivt_xport *xp)
{
	/* the pad before the wrap plus the frame must fit one ring */
	size_t h = IVT_FRAME_HEAD_MAX;
	return xp->chunk > 2 * h ? xp->chunk - 2 * h : 0;
}

int ivt_xport_zc_usable(const struct ivt_xport *xp)
{
	const struct ivt_plugin_ops *o = xp->ops;
	return o && IVT_PLUGIN_OPS_HAS(o, send_commit) && o->send_reserve && o->send_commit;
}

/* Fill the contig bytes before the wrap with a PAD frame. With fewer than
 * a header's worth there, the PAD header itself wraps (send copies it). */
static int pad_to_wrap(struct ivt_xport *xp, uint8_t *at, size_t contig)
{
	uint8_t h[IVT_FRAME_HEAD_MAX];
	if (contig >= IVT_FRAME_HDR_SIZE) {
		ivt_frame_encode(h, IVT_FRAME_PAD, 0, NULL, (uint32_t)(contig - IVT_FRAME_HDR_SIZE));
		memcpy(at, h, IVT_FRAME_HDR_SIZE);
		return xp->ops->send_commit(xp->ep, contig);
	}
	ivt_frame_encode(h, IVT_FRAME_PAD, 0, NULL, 0);
	ssize_t r = xp->ops->send(xp->ep, h, IVT_FRAME_HDR_SIZE);
	/* the caller saw room for it; a short write would split a frame */
	return r == IVT_FRAME_HDR_SIZE ? 0 : r < 0 ? (int)r : -EPROTO;
}

int ivt_xport_reserve(struct ivt_xport *xp, size_t len, void **ptr, const struct ivt_waiter *w)
{
	if (atomic_load(&xp->broken))
		return -EPROTO;
	if (!ivt_xport_zc_usable(xp))
		return -EOPNOTSUPP;
	if (!ptr || len == 0)
		return -EINVAL;
	if (len > ivt_xport_reserve_max(xp))
		return -EMSGSIZE;
	size_t need = head_size(xp) + len;
	if (xp->tx.resv)
		return -EBUSY; /* our own open reservation: commit it first */
	pthread_mutex_lock(&xp->tx_lock);
	if (atomic_load(&xp->tx.fin)) { /* our own SHUT_WR: nothing after the FIN */
		ivt_tx_unlock(xp);
		return -EPIPE;
	}
	int rc = ivt_tx_flush_locked(xp, w); /* earlier frames first */
	size_t space_before = 0;
	while (rc == 0) {
		void *p = NULL;
		size_t space = 0;
		ssize_t contig = xp->ops->send_reserve(xp->ep, need, &p, &space);
		if (contig >= (ssize_t)need) {
			xp->tx.resv = p;
			xp->tx.resv_head = head_size(xp);
			xp->tx.resv_cap = len;
			*ptr = (uint8_t *)p + xp->tx.resv_head;
			return 0; /* tx lock stays held until commit */
		}
		size_t padded = (size_t)(contig > 0 ? contig : 0) + need + IVT_FRAME_HDR_SIZE;
		if (contig > 0 && space < padded) {
			/* Too short before the wrap, and not yet room to pad
			 * over it: look again for all of it, which also tells a
			 * plugin that wakes senders by the room they want (vchan)
			 * not to wake us before that much is free. */
			contig = xp->ops->send_reserve(xp->ep, padded, &p, &space);
			if (contig >= (ssize_t)need)
				continue; /* it moved meanwhile: take it from the top */
		}
		if (contig > 0 && space >= padded) {
			rc = pad_to_wrap(xp, p, (size_t)contig);
			continue;
		}
		if (contig < 0 && contig != -EAGAIN) {
			rc = (int)contig;
			break;
		}
		if (!w) {
			rc = -EAGAIN;
			break;
		}
		/* A pipe that reports "writable" at any free byte makes this
		 * loop poll while some but not enough room is free: yield to
		 * the reader when the last wait brought no room. */
		if (contig > 0 && space <= space_before)
			sched_yield();
		space_before = contig > 0 ? space : 0;
		rc = w->wait(w->ctx, IVT_EV_SEND);
	}
	ivt_tx_unlock(xp);
	return rc;
}

int ivt_xport_commit(struct ivt_xport *xp, void *ptr, size_t len)
{
	/* Only the thread holding the reservation may get here with a match;
	 * tx.resv is read without the lock only to refuse strangers. */
	uint8_t *base = xp->tx.resv;
	/* NULL with bytes to publish is a caller's lost pointer (a failed
	 * reserve sets it NULL), not a cancel: dropping them would lose data */
	if (!base || (ptr && ptr != base + xp->tx.resv_head) || len > xp->tx.resv_cap ||
	    (!ptr && len))
		return -EINVAL;
	int rc = 0;
	if (ptr && len) { /* ptr NULL or len 0: cancel */
		uint8_t h[IVT_FRAME_HEAD_MAX];
		struct ivt_frame_ext ext = {.length = len};
		size_t hl = ivt_frame_encode(h, xp->msg_mode ? IVT_FRAME_MSG : IVT_FRAME_DATA, 0,
					     &ext, (uint32_t)len);
		memcpy(base, h, hl);
		rc = xp->ops->send_commit(xp->ep, hl + len);
	}
	xp->tx.resv = NULL;
	if (rc == 0 && ptr && len) {
		xport_count(&xp->bytes_sent, len);
		xport_count(&xp->sends, 1);
	}
	ivt_tx_unlock(xp);
	return rc;
}
