/* SPDX-License-Identifier: MIT */
/*
 * Receiving frames. Everything arriving here comes from the peer and is
 * untrusted: a header is validated before any byte of its frame is used,
 * one-sided ops are checked against our regions (key, access, bounds)
 * before memory is touched, and answers must match the op we are waiting
 * for. Anything else breaks the channel for good (-EPROTO) and is counted.
 * The parser keeps its state between calls, so frames may arrive in
 * pieces of any size.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "xport.h"

static int peek_usable(const struct ivt_plugin_ops *o)
{
	return IVT_PLUGIN_OPS_HAS(o, recv_consume) && o->recv_peek && o->recv_consume;
}

/* Give the peer back what the parser took from the window. */
static int window_release(struct ivt_xport *xp)
{
	struct rx_state *rx = &xp->rx;
	int rc = 0;
	if (rx->win_used)
		rc = xp->ops->recv_consume(xp->ep, rx->win_used);
	rx->win = NULL;
	rx->win_len = rx->win_used = 0;
	return rc;
}

/* The window is used up: release it and look again. Bytes in the new
 * window (>0), or what the plugin says instead (-EAGAIN, 0 at the end,
 * an error). */
static ssize_t window_refill(struct ivt_xport *xp)
{
	struct rx_state *rx = &xp->rx;
	int rc = window_release(xp);
	if (rc < 0)
		return rc;
	const void *p = NULL;
	ssize_t n = xp->ops->recv_peek(xp->ep, &p);
	if (n <= 0)
		return n;
	rx->win = p;
	rx->win_len = (size_t)n;
	return n;
}

/* Bytes from the pipe: with recv_peek, copied out of one window over the
 * pipe's memory, so a run of small frames costs one look at the peer's
 * index and one release instead of two plugin calls per frame. Every byte
 * is copied once into our memory (head or the caller's buffer) and judged
 * there: the window may be peer-writable. */
static ssize_t pipe_recv(struct ivt_xport *xp, void *buf, size_t len)
{
	struct rx_state *rx = &xp->rx;
	if (!peek_usable(xp->ops))
		return xp->ops->recv(xp->ep, buf, len);
	if (rx->win_used == rx->win_len) {
		ssize_t n = window_refill(xp);
		if (n <= 0)
			return n;
	}
	size_t k = rx->win_len - rx->win_used;
	if (k > len)
		k = len;
	memcpy(buf, rx->win + rx->win_used, k);
	rx->win_used += k;
	return (ssize_t)k;
}

/* Every pending op fails; the one whose body was arriving goes with them. */
static void fail_ops(struct ivt_xport *xp, int32_t status)
{
	xp->rx.rd_op = NULL;
	ivt_track_fail_all(&xp->track, status);
}

static int proto_error(struct ivt_xport *xp, const char *what)
{
	struct rx_state *rx = &xp->rx;
	if (!rx->err) {
		IVT_WARN("libivt", "peer broke the frame protocol: %s; closing the channel", what);
		atomic_fetch_add(&xp->protocol_errors, 1);
		rx->err = -EPROTO;
		atomic_store(&xp->broken, 1);
		fail_ops(xp, -EPROTO);
	}
	return -EPROTO;
}

static void next_frame(struct rx_state *rx)
{
	rx->phase = RX_HEAD;
	rx->have = 0;
	rx->need = IVT_FRAME_HDR_SIZE;
	rx->body_left = 0;
	rx->rd_op = NULL;
}

/* Between frames, and not inside a message (a complete one not yet
 * delivered is fine: it goes out before the end). */
static int at_boundary(const struct rx_state *rx)
{
	return rx->phase == RX_HEAD && rx->have == 0 && !rx->wr_open &&
	       (!rx->msg_open || rx->msg_got == rx->msg_len);
}

/* The pipe ended (recv returned 0). Clean only between frames. */
static void end_of_stream(struct ivt_xport *xp)
{
	struct rx_state *rx = &xp->rx;
	if (at_boundary(rx))
		rx->eof = 1;
	else
		rx->err = -ECONNRESET;
	fail_ops(xp, -ECONNRESET);
}

/* A plugin error other than -EAGAIN. */
static void pipe_error(struct ivt_xport *xp, ssize_t r)
{
	struct rx_state *rx = &xp->rx;
	if (r == -EPROTO) {
		/* the plugin caught the peer corrupting shared state and counted it */
		rx->err = -EPROTO;
		atomic_store(&xp->broken, 1);
	} else {
		rx->err = (int)r;
	}
	fail_ops(xp, rx->err);
}

static int range_status(struct ivt_xport *xp, uint64_t key, uint64_t off, uint64_t len,
			unsigned need)
{
	uint8_t *p;
	pthread_mutex_lock(&xp->regions.lock);
	int st = ivt_regions_resolve_locked(&xp->regions, key, off, len, need, &p);
	pthread_mutex_unlock(&xp->regions.lock);
	return st;
}

static int answers_backlogged(struct ivt_xport *xp)
{
	if (atomic_load(&xp->tx.n_items) < IVT_TX_QUEUE_MAX)
		return 0;
	ivt_xport_try_flush(xp);
	return atomic_load(&xp->tx.n_items) >= IVT_TX_QUEUE_MAX;
}

static int queue_answer(struct ivt_xport *xp, enum tx_item_kind kind, uint64_t tag, int32_t status,
			const struct ivt_frame_ext *req)
{
	struct tx_item *it = calloc(1, sizeof(*it));
	if (!it) {
		xp->rx.err = -ENOMEM;
		return -ENOMEM;
	}
	it->kind = kind;
	it->tag = tag;
	it->status = status;
	if (kind == TXI_READ_RESP) {
		it->key = req->key;
		it->offset = req->offset;
		it->len = req->length;
	} else {
		struct ivt_frame_ext ext = {.status = status};
		it->head_len = ivt_frame_encode(it->head,
						status ? IVT_FRAME_RDMA_NACK : IVT_FRAME_RDMA_ACK,
						tag, &ext, 0);
	}
	ivt_tx_enqueue(xp, it);
	return 0;
}

/* Header and extension are in; set up the body or act on the frame. */
static int frame_begin(struct ivt_xport *xp, int *answered)
{
	struct rx_state *rx = &xp->rx;
	const struct ivt_frame_hdr *h = &rx->hdr;
	const struct ivt_frame_ext *e = &rx->ext;
	rx->body_left = ivt_frame_payload_len(h);

	/* A write's chunks are consecutive on the wire (the sender frames one
	 * queue item at a time), so anything else in between is forged. */
	if (rx->wr_open && (h->type != IVT_FRAME_RDMA_WRITE || h->tag != rx->wr_tag))
		return proto_error(xp, "frame inside an RDMA write");
	if (rx->fin && (h->type == IVT_FRAME_MSG || h->type == IVT_FRAME_DATA))
		return proto_error(xp, "stream data after its FIN");

	switch (h->type) {
	case IVT_FRAME_MSG:
		if (!xp->msg_mode)
			return proto_error(xp, "message frame on a stream channel");
		if (rx->msg_open)
			return proto_error(xp, "message frame inside a message");
		if (e->length == 0 || rx->body_left > e->length)
			return proto_error(xp, "message frame empty or longer than its message");
		rx->msg_open = 1;
		rx->msg_len = e->length;
		rx->msg_got = 0;
		if (rx->body_left == 0) {
			next_frame(rx);
			return 0;
		}
		rx->phase = RX_BODY;
		return 0;
	case IVT_FRAME_DATA:
		if (xp->msg_mode && !rx->msg_open)
			return proto_error(xp, "data outside a message");
		if (xp->msg_mode && rx->body_left > rx->msg_len - rx->msg_got)
			return proto_error(xp, "data beyond the end of its message");
		rx->phase = RX_BODY;
		return 0;
	case IVT_FRAME_MSG_ABORT:
		/* the sender gave up inside it (send timeout): the part we
		 * have is no message; the parse stops here (msg_aborted) so
		 * a caller's buffer sized for it takes nothing of the next */
		if (!xp->msg_mode || !rx->msg_open || rx->msg_got == rx->msg_len)
			return proto_error(xp, "message abort outside an unfinished message");
		free(rx->msg_priv);
		rx->msg_priv = NULL;
		rx->msg_open = 0;
		rx->msg_len = rx->msg_got = 0;
		rx->msg_aborted = 1;
		next_frame(rx);
		return 0;
	case IVT_FRAME_PAD:
		if (rx->body_left == 0)
			next_frame(rx);
		else
			rx->phase = RX_BODY;
		return 0;
	case IVT_FRAME_FIN:
		/* the sender queues it behind whole messages only */
		if (rx->msg_open)
			return proto_error(xp, "FIN inside a message");
		if (rx->fin)
			return proto_error(xp, "second FIN");
		rx->fin = 1;
		next_frame(rx);
		return 0;
	case IVT_FRAME_RDMA_WRITE:
		if (!rx->wr_open) {
			rx->wr_open = 1;
			rx->wr_tag = h->tag;
			rx->wr_key = e->key;
			rx->wr_off = e->offset;
			rx->wr_len = e->length;
			rx->wr_pos = 0;
			/* the whole op is checked before its first byte lands */
			rx->wr_status = range_status(xp, e->key, e->offset, e->length,
						     IVT_ACCESS_REMOTE_WRITE);
		} else if (e->key != rx->wr_key || e->offset != rx->wr_off ||
			   e->length != rx->wr_len) {
			return proto_error(xp, "RDMA write chunk does not match its op");
		}
		if (rx->body_left > rx->wr_len - rx->wr_pos)
			return proto_error(xp, "RDMA write chunk beyond the op's length");
		rx->phase = RX_BODY;
		return 0;
	case IVT_FRAME_RDMA_READ_REQ: {
		int st = range_status(xp, e->key, e->offset, e->length, IVT_ACCESS_REMOTE_READ);
		next_frame(rx);
		*answered = 1;
		return queue_answer(xp, TXI_READ_RESP, h->tag, st, e);
	}
	case IVT_FRAME_RDMA_READ_RESP: {
		struct ivt_rdma_op *op = ivt_track_oldest(&xp->track);
		if (!op || op->tag != h->tag || op->opcode != IVT_OP_RDMA_READ)
			return proto_error(xp, "read data for no pending read");
		if (e->offset != op->received || rx->body_left > op->len - op->received)
			return proto_error(xp, "read data out of place");
		rx->rd_op = op;
		rx->phase = RX_BODY;
		return 0;
	}
	case IVT_FRAME_RDMA_ACK:
	case IVT_FRAME_RDMA_NACK: {
		int rc = ivt_track_answer(&xp->track, h->tag,
					  h->type == IVT_FRAME_RDMA_ACK ? 0 : e->status);
		if (rc == -ENOENT)
			return proto_error(xp, "answer for no pending op");
		if (rc)
			return proto_error(xp, "read acknowledged before all data arrived");
		next_frame(rx);
		return 0;
	}
	default:
		return proto_error(xp, "unknown frame type"); /* decode_hdr stops these */
	}
}

/* Bytes for the header or extension have arrived. */
static int head_complete(struct ivt_xport *xp, int *answered)
{
	struct rx_state *rx = &xp->rx;
	if (rx->phase == RX_HEAD) {
		if (ivt_frame_decode_hdr(rx->head, &rx->hdr) != 0)
			return proto_error(xp, "invalid frame header");
		size_t ext = ivt_frame_ext_size(rx->hdr.type);
		if (ext) {
			rx->phase = RX_EXT;
			rx->need = IVT_FRAME_HDR_SIZE + ext;
			return 0;
		}
	} else if (ivt_frame_decode_ext(rx->hdr.type, rx->head + IVT_FRAME_HDR_SIZE, &rx->ext) != 0) {
		return proto_error(xp, "invalid frame extension");
	}
	return frame_begin(xp, answered);
}

/* RDMA_WRITE payload: into the region if the op is allowed, else dropped. */
static ssize_t body_write(struct ivt_xport *xp)
{
	struct rx_state *rx = &xp->rx;
	uint8_t scratch[4096];
	ssize_t r;
	pthread_mutex_lock(&xp->regions.lock);
	uint8_t *dst = NULL;
	if (rx->wr_status == 0) /* again: it may have been deregistered since */
		rx->wr_status = ivt_regions_resolve_locked(&xp->regions, rx->wr_key,
							   rx->wr_off + rx->wr_pos, rx->body_left,
							   IVT_ACCESS_REMOTE_WRITE, &dst);
	if (rx->wr_status == 0)
		r = pipe_recv(xp, dst, rx->body_left);
	else
		r = pipe_recv(xp, scratch,
			      rx->body_left < sizeof(scratch) ? rx->body_left : sizeof(scratch));
	pthread_mutex_unlock(&xp->regions.lock);
	if (r > 0)
		rx->wr_pos += (uint64_t)r;
	return r;
}

/* READ_RESP payload: into the reader's buffer, or dropped once its post
 * failed (orphaned: the buffer may be gone). rd_op stays valid: only this
 * path removes ops, under rx_lock, which we hold. */
static ssize_t body_read_resp(struct ivt_xport *xp)
{
	struct rx_state *rx = &xp->rx;
	struct ivt_rdma_op *op = rx->rd_op;
	uint8_t scratch[4096];
	ssize_t r;
	if (!op->orphaned)
		r = pipe_recv(xp, op->buf + op->received, rx->body_left);
	else
		r = pipe_recv(xp, scratch,
			      rx->body_left < sizeof(scratch) ? rx->body_left : sizeof(scratch));
	if (r > 0)
		op->received += (uint64_t)r;
	return r;
}

static int write_frame_end(struct ivt_xport *xp, int *answered)
{
	struct rx_state *rx = &xp->rx;
	next_frame(rx);
	if (rx->wr_pos != rx->wr_len)
		return 0; /* more chunks of this op follow */
	rx->wr_open = 0;
	*answered = 1;
	return queue_answer(xp, TXI_CTRL, rx->wr_tag, rx->wr_status, NULL);
}

/* Discard padding (reserve/commit skipped the ring's wrap with it). */
static ssize_t body_pad(struct ivt_xport *xp)
{
	uint8_t scratch[4096];
	uint64_t n = xp->rx.body_left;
	return pipe_recv(xp, scratch, n < sizeof(scratch) ? (size_t)n : sizeof(scratch));
}

/* Stream bytes of the current DATA/MSG frame into the sink. */
static ssize_t body_data(struct ivt_xport *xp, struct rx_sink *s)
{
	struct rx_state *rx = &xp->rx;
	uint8_t *p = NULL;
	size_t max = s->room < rx->body_left ? s->room : (size_t)rx->body_left;
	size_t k = ivt_iov_piece(&s->c, max, &p);
	ssize_t r = pipe_recv(xp, p, k);
	if (r > 0) {
		s->c.off += (size_t)r;
		s->room -= (size_t)r;
		s->got += (size_t)r;
		if (rx->msg_open)
			rx->msg_got += (uint64_t)r;
	}
	return r;
}

/* The hot case of a stream read, ahead of the general steps: the next
 * bytes are a DATA frame's (for the caller's one flat buffer, with room
 * left) or a whole header, and the window over the pipe holds them.
 * Copies them straight out of the window (once, as pipe_recv does) and
 * returns 1; refills an empty window first (an end or error it meets
 * is recorded as the general steps record it, and 1 returned so they
 * report it). 0: not this case, the general steps take over from the
 * same state. -EAGAIN: the pipe is empty. -EBUSY: the caller's buffer
 * is full and a DATA frame's bytes come next (what the general steps
 * would say, without going through them). */
static ssize_t rx_fast(struct ivt_xport *xp, struct rx_sink *s, int *answered)
{
	struct rx_state *rx = &xp->rx;
	if (rx->err || rx->eof)
		return 0;
	/* Payload, header, payload... in one loop while the window holds
	 * them: nothing below sets err or eof without returning. */
	for (;;) {
		int body = rx->phase == RX_BODY && rx->hdr.type == IVT_FRAME_DATA;
		if (body && !s->room)
			return -EBUSY;
		if (!body && !(rx->phase == RX_HEAD && rx->have == 0))
			return 0;
		if (!body && answers_backlogged(xp))
			return 0; /* the general step says -ENOBUFS */
		if (rx->win_used == rx->win_len) {
			ssize_t n = window_refill(xp);
			if (n == -EAGAIN)
				return n;
			if (n <= 0) { /* as the general steps do; they report it next */
				if (n == 0)
					end_of_stream(xp);
				else
					pipe_error(xp, n);
				return 1;
			}
		}
		size_t avail = rx->win_len - rx->win_used;
		const uint8_t *from = rx->win + rx->win_used;
		if (body) {
			size_t k = avail < s->room ? avail : s->room;
			k = k < rx->body_left ? k : (size_t)rx->body_left;
			memcpy((uint8_t *)s->c.iov[0].iov_base + s->c.off, from, k);
			rx->win_used += k;
			s->c.off += k;
			s->room -= k;
			s->got += k;
			rx->body_left -= k;
			if (!rx->body_left)
				next_frame(rx);
			continue;
		}
		if (avail < IVT_FRAME_HDR_SIZE)
			return 0; /* a header split at the window's end: pipe_recv joins it */
		memcpy(rx->head, from, IVT_FRAME_HDR_SIZE);
		rx->win_used += IVT_FRAME_HDR_SIZE;
		rx->have = IVT_FRAME_HDR_SIZE;
		/* A stream's usual header, DATA, judged on our copy by the rules
		 * of ivt_frame_decode_hdr and frame_begin (flags, reserved bits
		 * and tag 0, 1..IVT_FRAME_PAYLOAD_MAX bytes, not inside an RDMA
		 * write); any other header, valid or not, goes the general way. */
		const uint8_t *h = rx->head;
		uint32_t len;
		uint64_t tag;
		memcpy(&len, h + 4, 4);
		memcpy(&tag, h + 8, 8);
		len = le32toh(len);
		if (h[0] == IVT_FRAME_DATA && h[1] == 0 && h[2] == 0 && h[3] == 0 && tag == 0 &&
		    len && len <= IVT_FRAME_PAYLOAD_MAX && !rx->wr_open && !rx->fin) {
			rx->hdr = (struct ivt_frame_hdr){.type = IVT_FRAME_DATA, .len = len};
			rx->body_left = len;
			rx->phase = RX_BODY;
			continue;
		}
		head_complete(xp, answered);
		return 1;
	}
}

ssize_t ivt_rx_parse(struct ivt_xport *xp, struct rx_sink *s)
{
	struct rx_state *rx = &xp->rx;
	ssize_t st = 0;
	int answered = 0;
	/* stream bytes into one flat buffer through a window: rx_fast */
	int flat = s && s->c.cnt == 1 && !xp->msg_mode && peek_usable(xp->ops);

	for (;;) {
		if (flat) {
			ssize_t f = rx_fast(xp, s, &answered);
			if (f == 1)
				continue;
			if (f == -EAGAIN || f == -EBUSY) {
				st = (int)f;
				break;
			}
		}
		if (rx->msg_aborted) {
			rx->msg_aborted = 0;
			if (s) { /* s was sized for that message: start over (rx_msg.c) */
				st = -ECANCELED;
				break;
			}
		}
		/* a whole message waits for the caller, even if the end came */
		if (rx->msg_open && rx->msg_got == rx->msg_len) {
			st = -EBUSY;
			break;
		}
		if (rx->err) {
			st = rx->err;
			break;
		}
		if (rx->eof) {
			st = 0;
			break;
		}
		ssize_t r;
		if (rx->phase != RX_BODY) {
			/* back-pressure: take no new requests while our answers pile up */
			if (rx->phase == RX_HEAD && rx->have == 0 && answers_backlogged(xp)) {
				st = -ENOBUFS;
				break;
			}
			r = pipe_recv(xp, rx->head + rx->have, rx->need - rx->have);
			if (r > 0) {
				rx->have += (size_t)r;
				if (rx->have == rx->need)
					head_complete(xp, &answered);
				continue;
			}
		} else if (rx->hdr.type == IVT_FRAME_DATA || rx->hdr.type == IVT_FRAME_MSG) {
			if (!s || s->room == 0) {
				st = -EBUSY; /* stream data next: for ivt_recv, not progress */
				break;
			}
			r = body_data(xp, s);
			if (r > 0) {
				rx->body_left -= (uint64_t)r;
				if (!rx->body_left)
					next_frame(rx);
				continue;
			}
		} else if (rx->hdr.type == IVT_FRAME_PAD) {
			r = body_pad(xp);
			if (r > 0) {
				rx->body_left -= (uint64_t)r;
				if (!rx->body_left)
					next_frame(rx);
				continue;
			}
		} else if (rx->hdr.type == IVT_FRAME_RDMA_WRITE) {
			r = body_write(xp);
			if (r > 0) {
				rx->body_left -= (uint64_t)r;
				if (!rx->body_left)
					write_frame_end(xp, &answered);
				continue;
			}
		} else { /* READ_RESP */
			r = body_read_resp(xp);
			if (r > 0) {
				rx->body_left -= (uint64_t)r;
				if (!rx->body_left)
					next_frame(rx);
				continue;
			}
		}
		if (r == -EAGAIN) {
			st = -EAGAIN;
			break;
		}
		if (r == 0)
			end_of_stream(xp);
		else
			pipe_error(xp, r);
	}
	if (rx->win) {
		int rc = window_release(xp);
		if (rc < 0 && !rx->err) {
			pipe_error(xp, rc);
			if (st == -EAGAIN || st == 0)
				st = rx->err;
		}
	}
	if (answered)
		atomic_store(&xp->rx_answered, 1);
	/* after the peer's FIN, an empty pipe is the stream's end for a
	 * reader (one-sided traffic still comes: the parse went on) */
	if (st == -EAGAIN && rx->fin && s)
		st = 0;
	return st;
}

/* rx lock released: send the answers the parse queued. */
void ivt_rx_after(struct ivt_xport *xp)
{
	/* a plain load first: the locked exchange only when there is news */
	if (atomic_load(&xp->rx_answered) && atomic_exchange(&xp->rx_answered, 0))
		ivt_xport_try_flush(xp);
}

ssize_t ivt_xport_recvv(struct ivt_xport *xp, const struct iovec *iov, int iovcnt)
{
	ssize_t total = ivt_iov_total(iov, iovcnt);
	if (total < 0)
		return total;
	return ivt_xport_recvv_n(xp, iov, iovcnt, (size_t)total);
}

ssize_t ivt_xport_recvv_n(struct ivt_xport *xp, const struct iovec *iov, int iovcnt,
			  size_t total)
{
	if (atomic_load(&xp->broken))
		return -EPROTO;
	if (xp->msg_mode && iov) /* ivt_recv on a message channel: one message */
		return ivt_xport_recv_msg(xp, iov, iovcnt, 0, 0);
	struct rx_sink s = {.c = {.iov = iov, .cnt = iovcnt}, .room = total};
	pthread_mutex_lock(&xp->rx_lock);
	ssize_t st = ivt_rx_parse(xp, iov ? &s : NULL);
	if (s.got) {
		xport_count(&xp->bytes_received, s.got);
		xport_count(&xp->recvs, 1);
	}
	pthread_mutex_unlock(&xp->rx_lock);
	ivt_rx_after(xp);
	return s.got ? (ssize_t)s.got : st;
}

ssize_t ivt_xport_recv(struct ivt_xport *xp, void *buf, size_t len)
{
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	return ivt_xport_recvv(xp, buf ? &iov : NULL, buf ? 1 : 0);
}

void ivt_xport_peer_gone(struct ivt_xport *xp, int graceful)
{
	struct rx_state *rx = &xp->rx;
	pthread_mutex_lock(&xp->rx_lock);
	if (!rx->err && !rx->eof) {
		/* a close between frames is a clean end; anything in progress
		 * will never be finished */
		if (graceful && at_boundary(rx))
			rx->eof = 1;
		else
			rx->err = -ECONNRESET;
	}
	fail_ops(xp, -ECONNRESET);
	pthread_mutex_unlock(&xp->rx_lock);
}

void ivt_xport_orphan_op(struct ivt_xport *xp, uint64_t tag)
{
	pthread_mutex_lock(&xp->rx_lock);
	ivt_track_orphan(&xp->track, tag);
	pthread_mutex_unlock(&xp->rx_lock);
}

void ivt_rx_init(struct rx_state *rx)
{
	memset(rx, 0, sizeof(*rx));
	next_frame(rx);
}

void ivt_rx_fini(struct rx_state *rx)
{
	free(rx->msg_priv);
	rx->msg_priv = NULL;
}
