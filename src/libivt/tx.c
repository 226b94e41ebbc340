/* SPDX-License-Identifier: MIT */
/*
 * Sending frames. A frame, once begun, is always finished before any other
 * frame starts, whatever the caller does next: otherwise the peer would
 * parse the next header out of the middle of a payload. Non-blocking calls
 * therefore copy the unsent rest of a frame they began (DATA: into the
 * spill buffer; RDMA writes: the whole op) and report it as taken.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xport.h"

static ssize_t pipe_send(struct ivt_xport *xp, const void *buf, size_t len)
{
	ssize_t r = xp->ops->send(xp->ep, buf, len);
	/* A plugin may only return >0 or an error; treat 0 as "full" rather
	 * than spinning on it. */
	return r == 0 ? -EAGAIN : r;
}

static void frame_reset(struct tx_frame *f)
{
	f->active = 0;
	f->head_len = f->head_done = 0;
	f->src = TX_SRC_NONE;
	f->mem = NULL;
	f->pay_len = f->pay_done = 0;
	if (f->owned) {
		free(f->owned);
		f->owned = NULL;
	}
	f->region_lost = 0;
	f->item = NULL;
}

static void item_free(struct tx_item *it)
{
	free(it->owned);
	free(it);
}

/* The pipe is unusable: drop everything queued. Also what makes it safe
 * to return from a blocking call whose buffer is still referenced. */
static void tx_fail(struct ivt_xport *xp, int err)
{
	struct tx_state *tx = &xp->tx;
	if (!tx->err)
		tx->err = err;
	frame_reset(&tx->cur);
	pthread_mutex_lock(&tx->q_lock);
	struct tx_item *it = tx->head;
	tx->head = tx->tail = NULL;
	atomic_store(&tx->n_items, 0);
	pthread_mutex_unlock(&tx->q_lock);
	while (it) {
		struct tx_item *next = it->next;
		item_free(it);
		it = next;
	}
}

void ivt_tx_enqueue(struct ivt_xport *xp, struct tx_item *it)
{
	struct tx_state *tx = &xp->tx;
	it->next = NULL;
	pthread_mutex_lock(&tx->q_lock);
	if (tx->tail)
		tx->tail->next = it;
	else
		tx->head = it;
	tx->tail = it;
	atomic_fetch_add(&tx->n_items, 1);
	pthread_mutex_unlock(&tx->q_lock);
}

static struct tx_item *queue_head(struct tx_state *tx)
{
	/* Empty, the common case, without the lock: n_items goes up only
	 * after an item is linked, and an enqueuer that we miss here sets
	 * flush_wanted, which ivt_tx_unlock honours. */
	if (atomic_load_explicit(&tx->n_items, memory_order_acquire) == 0)
		return NULL;
	pthread_mutex_lock(&tx->q_lock);
	struct tx_item *it = tx->head;
	pthread_mutex_unlock(&tx->q_lock);
	return it;
}

static void queue_pop(struct tx_state *tx)
{
	pthread_mutex_lock(&tx->q_lock);
	struct tx_item *it = tx->head;
	tx->head = it->next;
	if (!tx->head)
		tx->tail = NULL;
	atomic_fetch_sub(&tx->n_items, 1);
	pthread_mutex_unlock(&tx->q_lock);
	item_free(it);
}

/* Read responses come straight out of our region, looked up again for
 * every piece: if the user deregistered it meanwhile, the frame is padded
 * with zeros and the op ends in a NACK, so the origin never trusts them. */
static ssize_t send_from_region(struct ivt_xport *xp, struct tx_frame *f, size_t left)
{
	static const uint8_t zeros[4096];
	ssize_t r;
	pthread_mutex_lock(&xp->regions.lock);
	uint8_t *p = NULL;
	if (!f->region_lost &&
	    ivt_regions_resolve_locked(&xp->regions, f->key, f->roff + f->pay_done, left,
				       IVT_ACCESS_REMOTE_READ, &p) != 0)
		f->region_lost = 1;
	if (f->region_lost)
		r = pipe_send(xp, zeros, left < sizeof(zeros) ? left : sizeof(zeros));
	else
		r = pipe_send(xp, p, left);
	pthread_mutex_unlock(&xp->regions.lock);
	return r;
}

/* A whole frame copied into the pipe's own memory and published with one
 * commit, when the plugin has reserve/commit and the frame fits before the
 * wrap: one call and one notify check per frame instead of two sends.
 * 1 done, 0 not possible now (send as usual), or a negative errno. */
static int write_in_place(struct ivt_xport *xp, struct tx_frame *f)
{
	if (f->head_done || f->pay_done || f->src == TX_SRC_REGION || !ivt_xport_zc_usable(xp))
		return 0;
	size_t need = f->head_len + f->pay_len;
	void *p = NULL;
	size_t space = 0;
	ssize_t contig = xp->ops->send_reserve(xp->ep, need, &p, &space);
	if (contig < (ssize_t)need)
		return contig < 0 && contig != -EAGAIN ? (int)contig : 0;
	uint8_t *d = p;
	memcpy(d, f->head, f->head_len);
	if (f->src == TX_SRC_IOV) {
		struct iov_cur c = f->ic;
		ivt_iov_gather(&c, d + f->head_len, f->pay_len);
	} else if (f->pay_len) {
		memcpy(d + f->head_len, f->mem, f->pay_len);
	}
	int rc = xp->ops->send_commit(xp->ep, need);
	if (rc < 0)
		return rc;
	if (f->src == TX_SRC_IOV)
		ivt_iov_advance(&f->ic, f->pay_len);
	f->head_done = f->head_len;
	f->pay_done = f->pay_len;
	return 1;
}

/* Write what is left of the current frame: 0 when it is all out. */
static int write_cur(struct ivt_xport *xp)
{
	struct tx_frame *f = &xp->tx.cur;
	int done = write_in_place(xp, f);
	if (done)
		return done < 0 ? done : 0;
	while (f->head_done < f->head_len) {
		ssize_t r = pipe_send(xp, f->head + f->head_done, f->head_len - f->head_done);
		if (r < 0)
			return (int)r;
		f->head_done += (size_t)r;
	}
	while (f->pay_done < f->pay_len) {
		size_t left = f->pay_len - f->pay_done;
		ssize_t r;
		if (f->src == TX_SRC_REGION) {
			r = send_from_region(xp, f, left);
		} else if (f->src == TX_SRC_IOV) {
			uint8_t *p = NULL;
			size_t k = ivt_iov_piece(&f->ic, left, &p);
			r = pipe_send(xp, p, k);
			if (r > 0)
				f->ic.off += (size_t)r;
		} else {
			r = pipe_send(xp, f->mem + f->pay_done, left);
		}
		if (r < 0)
			return (int)r;
		f->pay_done += (size_t)r;
	}
	return 0;
}

static void frame_done(struct ivt_xport *xp)
{
	struct tx_frame *f = &xp->tx.cur;
	struct tx_item *it = f->item;
	if (it && f->region_lost && it->status == 0)
		it->status = -EACCES;
	frame_reset(f);
	if (it && it->finished)
		queue_pop(&xp->tx);
}

static size_t min_sz(uint64_t a, size_t b) { return a < b ? (size_t)a : b; }

/* The next chunk of it->src as the current frame (WRITE, DATA items). */
static void frame_chunk(struct ivt_xport *xp, struct tx_item *it, uint8_t type,
			const struct ivt_frame_ext *ext)
{
	struct tx_frame *f = &xp->tx.cur;
	size_t n = min_sz(it->len - it->framed, xp->chunk);
	f->head_len = ivt_frame_encode(f->head, type, it->tag, ext, (uint32_t)n);
	f->src = TX_SRC_MEM;
	f->mem = it->src + it->framed;
	f->pay_len = n;
	it->framed += n;
	it->finished = it->framed == it->len;
}

/* Make the next frame of queue item `it` the current one. */
static void frame_from_item(struct ivt_xport *xp, struct tx_item *it)
{
	struct tx_frame *f = &xp->tx.cur;
	frame_reset(f);
	f->active = 1;
	f->item = it;
	switch (it->kind) {
	case TXI_DATA:
		frame_chunk(xp, it, IVT_FRAME_DATA, NULL);
		break;
	case TXI_CTRL:
		memcpy(f->head, it->head, it->head_len);
		f->head_len = it->head_len;
		it->finished = 1;
		break;
	case TXI_WRITE: {
		struct ivt_frame_ext ext = {.key = it->key, .offset = it->offset, .length = it->len};
		frame_chunk(xp, it, IVT_FRAME_RDMA_WRITE, &ext);
		break;
	}
	case TXI_READ_RESP:
		if (it->status < 0 || it->framed == it->len) {
			/* every read ends with ACK or NACK, even after all data */
			struct ivt_frame_ext ext = {.status = it->status};
			f->head_len = ivt_frame_encode(
				f->head, it->status ? IVT_FRAME_RDMA_NACK : IVT_FRAME_RDMA_ACK,
				it->tag, &ext, 0);
			it->finished = 1;
		} else {
			size_t n = min_sz(it->len - it->framed, xp->chunk);
			struct ivt_frame_ext ext = {.offset = it->framed};
			f->head_len = ivt_frame_encode(f->head, IVT_FRAME_RDMA_READ_RESP, it->tag,
						       &ext, (uint32_t)n);
			f->src = TX_SRC_REGION;
			f->key = it->key;
			f->roff = it->offset + it->framed;
			f->pay_len = n;
			it->framed += n;
		}
		break;
	}
}

/* Send the current frame and the queue until done or the pipe is full. */
static int pump(struct ivt_xport *xp)
{
	for (;;) {
		if (xp->tx.cur.active) {
			int rc = write_cur(xp);
			if (rc < 0)
				return rc;
			frame_done(xp);
		}
		struct tx_item *it = queue_head(&xp->tx);
		if (!it)
			return 0;
		frame_from_item(xp, it);
	}
}

/* tx lock held. With a waiter: everything sent or an error; without:
 * 0 or -EAGAIN when frames still wait for room. */
int ivt_tx_flush_locked(struct ivt_xport *xp, const struct ivt_waiter *w)
{
	for (;;) {
		if (xp->tx.err)
			return xp->tx.err;
		int rc = pump(xp);
		if (rc == 0)
			return 0;
		if (rc == -EAGAIN) {
			if (!w)
				return -EAGAIN;
			rc = w->wait(w->ctx, IVT_EV_SEND);
			if (rc == 0)
				continue;
			if (rc == -ETIMEDOUT)
				return rc; /* what waits is ours (copied): keep it */
		}
		tx_fail(xp, rc);
		return rc;
	}
}

/* Let go of the tx lock, then send what the receive path queued meanwhile. */
void ivt_tx_unlock(struct ivt_xport *xp)
{
	pthread_mutex_unlock(&xp->tx_lock);
	if (atomic_load(&xp->tx.flush_wanted))
		ivt_xport_try_flush(xp);
}

int ivt_xport_flush(struct ivt_xport *xp, const struct ivt_waiter *w)
{
	if (xp->tx.resv)
		return -EBUSY; /* see ivt_xport_sendv */
	pthread_mutex_lock(&xp->tx_lock);
	int rc = ivt_tx_flush_locked(xp, w);
	ivt_tx_unlock(xp);
	return rc;
}

int ivt_xport_try_flush(struct ivt_xport *xp)
{
	int pending = 0;
	for (;;) {
		atomic_store(&xp->tx.flush_wanted, 1);
		if (pthread_mutex_trylock(&xp->tx_lock) != 0)
			return pending; /* the holder sees flush_wanted after unlocking */
		atomic_store(&xp->tx.flush_wanted, 0);
		ivt_tx_flush_locked(xp, NULL);
		pending = xp->tx.cur.active || queue_head(&xp->tx) != NULL;
		pthread_mutex_unlock(&xp->tx_lock);
		/* someone queued while we held it: go round once more */
		if (!atomic_load(&xp->tx.flush_wanted))
			return pending;
	}
}

/* A DATA (or, opening a message, MSG) frame of n bytes straight from the
 * caller's iovecs at c; small ones ride in the header's plugin send.
 * Advances c past the frame's payload. */
static void frame_data(struct ivt_xport *xp, struct iov_cur *c, size_t n, int msg_start,
		       uint64_t msg_len)
{
	struct tx_frame *f = &xp->tx.cur;
	frame_reset(f);
	f->active = 1;
	struct ivt_frame_ext ext = {.length = msg_len};
	f->head_len = ivt_frame_encode(f->head, msg_start ? IVT_FRAME_MSG : IVT_FRAME_DATA, 0,
				       &ext, (uint32_t)n);
	if (n <= IVT_TX_INLINE_MAX) {
		ivt_iov_gather(c, f->head + f->head_len, n);
		f->head_len += n;
	} else {
		f->src = TX_SRC_IOV;
		f->ic = *c;
		f->pay_len = n;
		ivt_iov_advance(c, n);
	}
}

/* The usual DATA (or MSG) frame in one step: header and payload built
 * straight in the pipe's memory from the caller's iovecs and published
 * with one commit, not staged in tx.cur first. 1 sent (c advanced), 0
 * not possible now (no reserve/commit, or not enough room before the
 * wrap: the staged path takes it), or a negative errno. */
static int send_direct(struct ivt_xport *xp, struct iov_cur *c, size_t n, int msg_start,
		       uint64_t msg_len)
{
	if (!ivt_xport_zc_usable(xp))
		return 0;
	uint8_t type = msg_start ? IVT_FRAME_MSG : IVT_FRAME_DATA;
	size_t need = IVT_FRAME_HDR_SIZE + ivt_frame_ext_size(type) + n;
	void *p = NULL;
	size_t space = 0;
	ssize_t contig = xp->ops->send_reserve(xp->ep, need, &p, &space);
	if (contig < (ssize_t)need)
		return contig < 0 && contig != -EAGAIN ? (int)contig : 0;
	struct ivt_frame_ext ext = {.length = msg_len};
	uint8_t *d = p;
	size_t hl = ivt_frame_encode(d, type, 0, &ext, (uint32_t)n);
	struct iov_cur at = *c;
	ivt_iov_gather(&at, d + hl, n);
	int rc = xp->ops->send_commit(xp->ep, hl + n);
	if (rc < 0)
		return rc;
	*c = at;
	return 1;
}

/* The hot case of a stream send in one go: one buffer, at most a chunk,
 * nothing queued or half-written, room for the frame before the wrap:
 * header and bytes straight into the pipe's memory, one commit, none
 * of the general path's staging. len, a pipe error, or 0: take the
 * general path (which then finds the same state under the lock). */
static ssize_t send_flat(struct ivt_xport *xp, const void *buf, size_t len)
{
	ssize_t r = 0;
	pthread_mutex_lock(&xp->tx_lock);
	if (atomic_load(&xp->tx.fin)) {
		r = -EPIPE; /* our own SHUT_WR */
	} else if (!xp->tx.err && !xp->tx.cur.active && !queue_head(&xp->tx)) {
		size_t need = IVT_FRAME_HDR_SIZE + len;
		void *p = NULL;
		size_t space = 0;
		ssize_t contig = xp->ops->send_reserve(xp->ep, need, &p, &space);
		if (contig >= (ssize_t)need) {
			uint8_t *d = p;
			ivt_frame_encode(d, IVT_FRAME_DATA, 0, NULL, (uint32_t)len);
			memcpy(d + IVT_FRAME_HDR_SIZE, buf, len);
			int rc = xp->ops->send_commit(xp->ep, need);
			r = rc < 0 ? rc : (ssize_t)len;
		} else if (contig < 0 && contig != -EAGAIN) {
			r = contig; /* reported once: the plugin counted it */
		}
		if (r < 0)
			tx_fail(xp, (int)r);
		else if (r > 0) {
			xport_count(&xp->bytes_sent, len);
			xport_count(&xp->sends, 1);
		}
	}
	ivt_tx_unlock(xp);
	return r;
}

/* Non-blocking send stopped inside a frame: keep its unsent payload. */
static int keep_rest_of_frame(struct ivt_xport *xp)
{
	struct tx_frame *f = &xp->tx.cur;
	if (f->pay_done == f->pay_len || f->src != TX_SRC_IOV)
		return 0; /* header (with any inline payload) lives in f->head */
	if (!xp->tx.spill) {
		xp->tx.spill = malloc(xp->chunk);
		if (!xp->tx.spill)
			return -ENOMEM;
	}
	size_t rest = f->pay_len - f->pay_done;
	ivt_iov_gather(&f->ic, xp->tx.spill, rest);
	f->src = TX_SRC_MEM;
	f->mem = xp->tx.spill;
	f->pay_len = rest;
	f->pay_done = 0;
	return 0;
}

/* A message was begun but the pipe is full: the rest goes into a private
 * copy queued behind it, so the peer still gets the whole message. */
static int keep_rest_of_message(struct ivt_xport *xp, struct iov_cur *c, size_t rest)
{
	struct tx_item *it = calloc(1, sizeof(*it));
	if (!it || !(it->owned = malloc(rest))) {
		free(it);
		return -ENOMEM;
	}
	ivt_iov_gather(c, it->owned, rest);
	it->kind = TXI_DATA;
	it->src = it->owned;
	it->len = rest;
	ivt_tx_enqueue(xp, it);
	return 0;
}

/* A blocking send timed out inside a message: queue a MSG_ABORT behind
 * the part that went (its last frame is finished first, as always). */
static int abort_message(struct ivt_xport *xp)
{
	struct tx_item *it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->kind = TXI_CTRL;
	it->head_len = ivt_frame_encode(it->head, IVT_FRAME_MSG_ABORT, 0, NULL, 0);
	ivt_tx_enqueue(xp, it);
	return 0;
}

ssize_t ivt_xport_send(struct ivt_xport *xp, const void *buf, size_t len,
		       const struct ivt_waiter *w)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	return ivt_xport_sendv(xp, &iov, 1, w);
}

ssize_t ivt_xport_sendv(struct ivt_xport *xp, const struct iovec *iov, int iovcnt,
			const struct ivt_waiter *w)
{
	ssize_t total_s = ivt_iov_total(iov, iovcnt);
	if (total_s < 0)
		return total_s;
	return ivt_xport_sendv_n(xp, iov, iovcnt, (size_t)total_s, w);
}

ssize_t ivt_xport_sendv_n(struct ivt_xport *xp, const struct iovec *iov, int iovcnt, size_t len,
			  const struct ivt_waiter *w)
{
	if (atomic_load(&xp->broken))
		return -EPROTO;
	int msg = xp->msg_mode;
	if (msg && len > IVT_FRAME_MSG_MAX)
		return -EMSGSIZE;
	if (msg && len == 0)
		return 0; /* no empty messages: 0 means end of stream to the reader */
	if (xp->tx.resv)
		return -EBUSY; /* this thread's open reservation holds the send side */
	if (iovcnt == 1 && len && len <= xp->chunk && !msg && ivt_xport_zc_usable(xp)) {
		ssize_t r = send_flat(xp, iov[0].iov_base, len);
		if (r != 0)
			return r;
	}
	struct iov_cur c = {.iov = iov, .cnt = iovcnt};
	size_t sent = 0;
	int taken = 0; /* a frame of this call has begun */
	pthread_mutex_lock(&xp->tx_lock);
	if (atomic_load(&xp->tx.fin)) { /* our own SHUT_WR: nothing after the FIN */
		ivt_tx_unlock(xp);
		return -EPIPE;
	}
	int rc = ivt_tx_flush_locked(xp, w);
	while (rc == 0 && sent < len) {
		size_t n = min_sz(len - sent, xp->chunk);
		rc = send_direct(xp, &c, n, msg && !taken, len);
		if (rc == 0) { /* staged in tx.cur: it may go out in pieces */
			frame_data(xp, &c, n, msg && !taken, len);
			rc = write_cur(xp);
			while (rc == -EAGAIN && w) {
				rc = w->wait(w->ctx, IVT_EV_SEND);
				if (rc == 0)
					rc = write_cur(xp);
			}
			if (rc == 0)
				frame_done(xp);
		} else if (rc == 1) {
			rc = 0;
		}
		if (rc == 0) {
			sent += n;
			taken = 1;
			/* answers the receive path queued go out between chunks */
			if (queue_head(&xp->tx))
				rc = ivt_tx_flush_locked(xp, w);
		} else if (rc == -EAGAIN || rc == -ETIMEDOUT) {
			struct tx_frame *f = &xp->tx.cur;
			if (f->head_done == 0) {
				frame_reset(f); /* nothing of it left: not taken */
			} else {
				int k = keep_rest_of_frame(xp);
				if (k == 0) {
					sent += n;
					taken = 1;
				} else {
					tx_fail(xp, rc = k);
				}
			}
			break;
		} else {
			tx_fail(xp, rc);
		}
	}
	/* A message is all or nothing. Once begun, a non-blocking send keeps
	 * the rest and reports it sent; a blocking one whose timeout expired
	 * tells the peer to drop the part that went and reports -ETIMEDOUT:
	 * it promised the caller no more waiting, nor an unbounded copy. */
	if (msg && taken && sent < len && !xp->tx.err) {
		int k;
		if (rc == -ETIMEDOUT) {
			k = abort_message(xp);
			sent = 0;
			taken = 0;
		} else {
			k = keep_rest_of_message(xp, &c, len - sent);
			if (k == 0)
				sent = len;
		}
		if (k < 0)
			tx_fail(xp, rc = k);
	}
	if (rc < 0 && rc != -EAGAIN && rc != -ETIMEDOUT && !xp->tx.err)
		tx_fail(xp, rc);
	if (sent) {
		xport_count(&xp->bytes_sent, sent);
		xport_count(&xp->sends, 1);
	}
	ivt_tx_unlock(xp);

	if (taken && (rc == 0 || rc == -EAGAIN || rc == -ETIMEDOUT))
		return (ssize_t)sent; /* all, or what a stop took (non-blocking, timeout) */
	if (w && rc < 0)
		return rc; /* blocking: all or an error (ivt.h) */
	if (len == 0)
		return 0;
	return rc < 0 ? rc : -EAGAIN;
}

int ivt_xport_rdma_post(struct ivt_xport *xp, uint32_t opcode, void *buf, size_t len,
			uint64_t key, uint64_t offset, uint64_t wr_id, const struct ivt_waiter *w)
{
	if (atomic_load(&xp->broken))
		return -EPROTO;
	if (!len || !buf || (opcode != IVT_OP_RDMA_WRITE && opcode != IVT_OP_RDMA_READ))
		return -EINVAL;
	if (xp->tx.resv)
		return -EBUSY; /* see ivt_xport_sendv */
	struct tx_item *it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	pthread_mutex_lock(&xp->tx_lock);
	/* Non-blocking: refuse new work while earlier frames wait, so a fast
	 * poster cannot pile up copies without bound. */
	int rc = ivt_tx_flush_locked(xp, w);
	if (rc < 0)
		goto out_free;
	if (opcode == IVT_OP_RDMA_WRITE) {
		it->kind = TXI_WRITE;
		it->key = key;
		it->offset = offset;
		it->len = len;
		if (w) {
			it->src = buf; /* we do not return before it is all on the pipe */
		} else {
			it->owned = malloc(len);
			if (!it->owned) {
				rc = -ENOMEM;
				goto out_free;
			}
			memcpy(it->owned, buf, len);
			it->src = it->owned;
		}
	} else {
		it->kind = TXI_CTRL;
	}
	rc = ivt_track_add(&xp->track, opcode, wr_id, opcode == IVT_OP_RDMA_READ ? buf : NULL,
			   len, &it->tag);
	if (rc < 0)
		goto out_free;
	if (opcode == IVT_OP_RDMA_READ) {
		struct ivt_frame_ext ext = {.key = key, .offset = offset, .length = len};
		it->head_len =
			ivt_frame_encode(it->head, IVT_FRAME_RDMA_READ_REQ, it->tag, &ext, 0);
	}
	uint64_t tag = it->tag;
	ivt_tx_enqueue(xp, it);
	rc = ivt_tx_flush_locked(xp, w);
	if (rc == -EAGAIN)
		rc = 0; /* queued; the next call or the receive path sends it */
	else if (rc < 0)
		ivt_xport_orphan_op(xp, tag); /* failed call: no completion, buf untouched */
	ivt_tx_unlock(xp);
	return rc;
out_free:
	ivt_tx_unlock(xp);
	item_free(it);
	return rc;
}

void ivt_tx_fini(struct ivt_xport *xp)
{
	tx_fail(xp, -ECANCELED);
	free(xp->tx.spill);
	xp->tx.spill = NULL;
}
