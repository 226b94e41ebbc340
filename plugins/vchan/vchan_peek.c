/* SPDX-License-Identifier: MIT */
/*
 * Receive in place on vchan: the host copies its frames straight out of
 * libxenvchan's read ring and releases a whole run of them at once, where
 * libxenvchan_read costs a call, an index check and a possible notify per
 * piece. The ring is the peer's to write: the host copies each byte out
 * once and judges only the copy (plugin.h recv_peek).
 *
 * Barrier pairs, with the writer's side in libxenvchan's io.c (do_send)
 * and vchan_zc.c:
 *  - peek: read prod /then/ read data; pairs with the writer's "write
 *    data /then/ publish prod".
 *  - consume: data read /then/ move cons; pairs with the writer's "read
 *    indexes /then/ write data", so it never overwrites bytes we still
 *    copy out.
 *  - consume: move cons /then/ look at the notify flag; pairs with the
 *    writer's "post the request /before/ re-reading indexes".
 */
#include <errno.h>
#include <stdatomic.h>

#include <libxenvchan.h>

#include "vchan.h"

static uint32_t rd_size(const struct libxenvchan *c) { return 1u << c->read.order; }

ssize_t vchan_recv_peek(struct ivt_ep *ep, const void **ptr)
{
	struct libxenvchan *c = ep->ctrl;
	volatile struct ring_shared *r = c->read.shr;
	uint32_t size = rd_size(c);
	uint32_t cons = r->cons; /* ours: only we move it */
	uint32_t prod = r->prod; /* the peer's: read once, then checked */
	uint32_t ready = prod - cons;
	if (ready > size) {
		ep->st.protocol_errors++;
		return -EPROTO;
	}
	if (ready == 0) {
		if (libxenvchan_is_open(c))
			return -EAGAIN;
		/* it may have written, then closed: one more look */
		atomic_thread_fence(memory_order_seq_cst);
		prod = r->prod;
		ready = prod - cons;
		if (ready > size) {
			ep->st.protocol_errors++;
			return -EPROTO;
		}
		if (ready == 0)
			return 0; /* everything read and the peer closed */
	}
	atomic_thread_fence(memory_order_acquire); /* read prod /then/ data */
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
	atomic_thread_fence(memory_order_seq_cst); /* data read /then/ move cons */
	r->cons += (uint32_t)len;
	ep->st.bytes_received += len;
	atomic_thread_fence(memory_order_seq_cst); /* move cons /then/ decide to notify */
	vchan_notify_if_asked(ep, VCHAN_NOTIFY_READ);
	return 0;
}
