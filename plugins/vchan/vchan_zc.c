/* SPDX-License-Identifier: MIT */
/*
 * Zero-copy send on vchan: the host builds its bytes straight in
 * libxenvchan's write ring (struct libxenvchan and struct ring_shared are
 * public, <libxenvchan.h> and <xen/io/libxenvchan.h>), then commit
 * publishes them the way libxenvchan's own do_send does: data, write
 * barrier, producer index, full barrier, notify if the peer asked.
 *
 * Barrier pairs, with the reader's side in libxenvchan's io.c:
 *  - reserve: read indexes /then/ let the caller write data; pairs with
 *    the reader's "consume /then/ notify" barrier before it moves cons,
 *    so we never overwrite bytes it is still copying out.
 *  - commit: write data /then/ publish prod; pairs with the reader's
 *    "data read /after/ prod read" barrier.
 *  - commit: publish prod /then/ look at the notify flag; pairs with the
 *    reader's "post the request /before/ re-reading indexes", so either
 *    it sees our prod or we see its request (no lost wake-up).
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <libxenvchan.h>

#include "vchan.h"

static inline void full_barrier(void) { atomic_thread_fence(memory_order_seq_cst); }
static inline void write_barrier(void) { atomic_thread_fence(memory_order_release); }

static uint32_t wr_size(const struct libxenvchan *c) { return 1u << c->write.order; }

ssize_t vchan_send_reserve(struct ivt_ep *ep, size_t want, void **ptr, size_t *space)
{
	struct libxenvchan *c = ep->ctrl;
	volatile struct ring_shared *w = c->write.shr;
	(void)want; /* one look at the peer's index either way */
	if (!libxenvchan_is_open(c))
		return -EPIPE;
	uint32_t size = wr_size(c);
	uint32_t prod = w->prod; /* ours: only we move it */
	uint32_t cons = w->cons; /* the peer's: read once, then checked */
	uint32_t used = prod - cons;
	if (used > size) {
		ep->st.protocol_errors++;
		return -EPROTO;
	}
	uint32_t free_b = size - used;
	if (free_b == 0)
		return -EAGAIN;
	uint32_t off = prod & (size - 1);
	uint32_t contig = size - off < free_b ? size - off : free_b;
	full_barrier(); /* read indexes /then/ write data (pairs with the
			 * reader's "consume /then/ notify") */
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
	write_barrier(); /* write data /then/ publish prod (pairs with the
			  * reader's "data read /after/ prod read") */
	w->prod += (uint32_t)len;
	ep->st.bytes_sent += len;
	full_barrier(); /* publish prod /then/ decide to notify (pairs with
			 * the reader's "post the request /before/ re-reading") */
	vchan_notify_if_asked(ep, VCHAN_NOTIFY_WRITE);
	return 0;
}

void vchan_notify_if_asked(struct ivt_ep *ep, uint8_t bit)
{
	struct libxenvchan *c = ep->ctrl;
	uint8_t *flag = c->is_server ? &c->ring->srv_notify : &c->ring->cli_notify;
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
