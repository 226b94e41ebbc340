/* SPDX-License-Identifier: MIT */
/*
 * Receive in place on vchan: the host copies its frames straight out of
 * libxenvchan's read ring and releases a whole run of them at once, where
 * libxenvchan_read costs a call, an index check and a possible notify per
 * piece. The ring is the peer's to write: the host copies each byte out
 * once and judges only the copy (plugin.h recv_peek).
 *
 * Barrier pairs (src/common/barrier.h), with the writer's side in
 * libxenvchan's io.c (do_send) and vchan_zc.c:
 *  - peek: read prod /then/ read data (acquire); pairs with the writer's
 *    "write data /then/ publish prod".
 *  - consume: data read /then/ move cons (release); pairs with the
 *    writer's "read cons /then/ write data", so it never overwrites
 *    bytes we still copy out. libxenvchan has xen_mb() here; loads
 *    before a later store need no more than release.
 *  - consume: move cons /then/ look at the notify flag (full: a store
 *    before a load); pairs with the writer's "post the request /then/
 *    re-read indexes".
 *
 * peek re-reads prod only once the bytes it last saw are all consumed:
 * a reader taking small pieces leaves the writer's cache line alone.
 */
#include <errno.h>

#include <libxenvchan.h>

#include "common/barrier.h"
#include "vchan.h"

static uint32_t rd_size(const struct libxenvchan *c) { return 1u << c->read.order; }

/* The peer's prod, read once and checked: bytes ready from cons, or
 * -EPROTO (more than the ring holds: a prod gone back lands here too,
 * as we only look once everything seen before is consumed). */
static int64_t look_at_prod(struct ivt_ep *ep, uint32_t cons)
{
	volatile struct ring_shared *r = ep->ctrl->read.shr;
	uint32_t size = rd_size(ep->ctrl);
	uint32_t prod = r->prod;
	uint32_t ready = prod - cons;
	if (ready > size) {
		ep->st.protocol_errors++;
		return -EPROTO;
	}
	ep->rd_prod_seen = prod;
	return ready;
}

ssize_t vchan_recv_peek(struct ivt_ep *ep, const void **ptr)
{
	struct libxenvchan *c = ep->ctrl;
	volatile struct ring_shared *r = c->read.shr;
	uint32_t size = rd_size(c);
	uint32_t cons = r->cons; /* ours: only we move it */
	uint32_t ready = ep->rd_prod_seen - cons;
	if (ready == 0 || ready > size) {
		/* nothing left of the last look (or recv moved cons past it) */
		int64_t n = look_at_prod(ep, cons);
		if (n < 0)
			return (ssize_t)n;
		if (n == 0) {
			if (libxenvchan_is_open(c))
				return -EAGAIN;
			/* it may have written, then closed: one more look */
			ivt_mb(); /* read its live flag /then/ prod again */
			if ((n = look_at_prod(ep, cons)) <= 0)
				return (ssize_t)n; /* 0: all read and the peer closed */
		}
		ready = (uint32_t)n;
		ivt_acquire(); /* read prod /then/ read data */
	}
	uint32_t off = cons & (size - 1);
	uint32_t contig = size - off < ready ? size - off : ready;
	*ptr = (const uint8_t *)c->read.buffer + off;
	return (ssize_t)contig;
}

int vchan_recv_consume(struct ivt_ep *ep, size_t len)
{
	struct libxenvchan *c = ep->ctrl;
	volatile struct ring_shared *r = c->read.shr;
	if (len == 0)
		return 0;
	if (len > rd_size(c))
		return -EINVAL; /* more than any peek returned */
	ivt_release(); /* data read /then/ move cons */
	r->cons += (uint32_t)len;
	ep->st.bytes_received += len;
	ivt_mb(); /* move cons /then/ look at the notify flag */
	vchan_notify_if_asked(ep, VCHAN_NOTIFY_READ);
	return 0;
}
