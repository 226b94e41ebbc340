/* SPDX-License-Identifier: MIT */
/*
 * Zero-copy send on vchan: the host builds its bytes straight in
 * libxenvchan's write ring (struct libxenvchan and struct ring_shared are
 * public, <libxenvchan.h> and <xen/io/libxenvchan.h>), then commit
 * publishes them the way libxenvchan's own do_send does: data, barrier,
 * producer index, full barrier, notify if the peer asked.
 *
 * Barrier pairs (src/common/barrier.h), with the reader's side in
 * libxenvchan's io.c (do_recv) and vchan_peek.c:
 *  - reserve: read cons /then/ let the caller write data (acquire);
 *    pairs with the reader's "data read /then/ move cons", so we never
 *    overwrite bytes it is still copying out. libxenvchan has xen_mb()
 *    here; a load before later stores needs no more than acquire.
 *  - commit: write data /then/ publish prod (release); pairs with the
 *    reader's "read prod /then/ data".
 *  - commit: publish prod /then/ look at the notify flag (full: a store
 *    before a load); pairs with the reader's "post the request /then/
 *    re-read indexes", so either it sees our prod or we see its request
 *    (no lost wake-up).
 *
 * Fewer looks at the peer's index than libxenvchan: reserve re-reads
 * cons only when the room last seen is not enough for `want`, so a run
 * of small writes leaves the reader's cache line alone.
 */
#include <errno.h>
#include <string.h>

#include <libxenvchan.h>

#include "common/barrier.h"
#include "vchan.h"

static uint32_t wr_size(const struct libxenvchan *c) { return 1u << c->write.order; }

ssize_t vchan_send_reserve(struct ivt_ep *ep, size_t want, void **ptr, size_t *space)
{
	struct libxenvchan *c = ep->ctrl;
	volatile struct ring_shared *w = c->write.shr;
	if (!libxenvchan_is_open(c))
		return -EPIPE;
	uint32_t size = wr_size(c);
	if (want == 0)
		want = 1; /* a full ring must be looked at again too */
	uint32_t prod = w->prod; /* ours: only we move it */
	uint32_t off = prod & (size - 1);
	uint32_t used = prod - ep->wr_cons_seen;
	/* what the last look showed, up to the wrap: enough, or look again */
	if (used > size || (size - used < size - off ? size - used : size - off) < want) {
		uint32_t cons = w->cons; /* the peer's: read once, then checked */
		/* between the last cons we saw and our prod (when that view
		 * was sane): an honest reader never moves it back or past us */
		if (prod - cons > size ||
		    (used <= size && cons - ep->wr_cons_seen > used)) {
			ep->st.protocol_errors++;
			return -EPROTO;
		}
		ep->wr_cons_seen = cons;
		used = prod - cons;
		ivt_acquire(); /* read cons /then/ write data */
	}
	uint32_t free_b = size - used;
	uint32_t contig = size - off < free_b ? size - off : free_b;
	/* Not enough: arm(IVT_EV_SEND) waits until `want` is free rather
	 * than waking the host at every byte the reader frees. */
	__atomic_store_n(&ep->send_want, contig < want ? (want < size ? (uint32_t)want : size) : 0,
			 __ATOMIC_RELAXED);
	if (free_b == 0)
		return -EAGAIN;
	*ptr = (uint8_t *)c->write.buffer + off;
	*space = free_b;
	return (ssize_t)contig;
}

int vchan_send_commit(struct ivt_ep *ep, size_t len)
{
	struct libxenvchan *c = ep->ctrl;
	volatile struct ring_shared *w = c->write.shr;
	if (len == 0)
		return 0;
	if (len > wr_size(c))
		return -EINVAL; /* more than any reserve returned */
	ivt_release(); /* write data /then/ publish prod */
	w->prod += (uint32_t)len;
	ep->st.bytes_sent += len;
	ivt_mb(); /* publish prod /then/ look at the notify flag */
	vchan_notify_if_asked(ep, VCHAN_NOTIFY_WRITE);
	return 0;
}

void vchan_notify_if_asked(struct ivt_ep *ep, uint8_t bit)
{
	struct libxenvchan *c = ep->ctrl;
	uint8_t *flag = c->is_server ? &c->ring->srv_notify : &c->ring->cli_notify;
	/* A plain load first: the caller's full barrier already ordered its
	 * index before this look, so the locked and-not (which libxenvchan
	 * issues every time) is only needed when the bit is set. */
	if (!(__atomic_load_n(flag, __ATOMIC_RELAXED) & bit))
		return;
	uint8_t prev = __atomic_fetch_and(flag, (uint8_t)~bit, __ATOMIC_SEQ_CST);
	if (!(prev & bit))
		return;
	ep->st.notifies_sent++;
	/* The index moved whatever happens here; a port that cannot be
	 * notified belongs to a peer that is gone, which the next call
	 * reports through libxenvchan_is_open. */
	if (xenevtchn_notify(c->event, c->event_port) < 0)
		vchan_log(IVT_LOG_DEBUG, "notify: %s", strerror(errno));
}
