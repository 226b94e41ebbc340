/* SPDX-License-Identifier: MIT */
/* libxenvchan-style byte rings over shared memory; see ring.h, docs/ring.md. */
#include "ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "barrier.h"
#include "spin.h"

/* Full barriers (ivt_mb) where libxenvchan has xen_mb()/xen_rmb(). */

static uint32_t load32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static uint8_t load8(const uint8_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store8(uint8_t *p, uint8_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static int order_of(size_t ring_size)
{
	if (ring_size < IVT_RING_MIN_SIZE || ring_size > IVT_RING_MAX_SIZE ||
	    (ring_size & (ring_size - 1)))
		return -1;
	return __builtin_ctzll(ring_size);
}

size_t ivt_ring_shm_size(size_t ring_size)
{
	if (order_of(ring_size) < 0)
		return 0;
	return (size_t)IVT_RING_HDR_SIZE + 2 * ring_size;
}

/* Pointers into the header for the indices/flags of our side. */
static uint32_t *rd_prod_p(struct ivt_ring *r) { return r->is_server ? &r->hdr->c2s_prod : &r->hdr->s2c_prod; }
static uint32_t *rd_cons_p(struct ivt_ring *r) { return r->is_server ? &r->hdr->c2s_cons : &r->hdr->s2c_cons; }
static uint32_t *wr_prod_p(struct ivt_ring *r) { return r->is_server ? &r->hdr->s2c_prod : &r->hdr->c2s_prod; }
static uint32_t *wr_cons_p(struct ivt_ring *r) { return r->is_server ? &r->hdr->s2c_cons : &r->hdr->c2s_cons; }
static uint8_t *own_live_p(struct ivt_ring *r) { return r->is_server ? &r->hdr->srv_live : &r->hdr->cli_live; }
static uint8_t *peer_live_p(struct ivt_ring *r) { return r->is_server ? &r->hdr->cli_live : &r->hdr->srv_live; }
/* The byte we clear when kicking (our duties) and the one we set to ask. */
static uint8_t *own_notify_p(struct ivt_ring *r) { return r->is_server ? &r->hdr->srv_notify : &r->hdr->cli_notify; }
static uint8_t *peer_notify_p(struct ivt_ring *r) { return r->is_server ? &r->hdr->cli_notify : &r->hdr->srv_notify; }

static void bind(struct ivt_ring *r, void *mem, uint32_t size, int is_server,
		 ivt_ring_kick_fn kick, void *kick_ctx)
{
	uint8_t *base = mem;
	uint8_t *c2s = base + IVT_RING_HDR_SIZE, *s2c = c2s + size;
	memset(r, 0, sizeof(*r));
	r->hdr = mem;
	r->is_server = is_server;
	r->rd_size = r->wr_size = size;
	r->rd_data = is_server ? c2s : s2c;
	r->wr_data = is_server ? s2c : c2s;
	r->kick = kick;
	r->kick_ctx = kick_ctx;
	r->order = (uint32_t)__builtin_ctz(size);
	ivt_spin_init(&r->spin);
}

int ivt_ring_create(struct ivt_ring *r, void *mem, size_t mem_len, size_t ring_size,
		    ivt_ring_kick_fn kick, void *kick_ctx)
{
	int order = order_of(ring_size);
	if (!r || !mem || order < 0 || mem_len < ivt_ring_shm_size(ring_size))
		return -EINVAL;
	struct ivt_ring_hdr *h = mem;
	memset(h, 0, IVT_RING_HDR_SIZE);
	h->magic = IVT_RING_MAGIC;
	h->version = IVT_RING_VERSION;
	h->hdr_size = IVT_RING_HDR_SIZE;
	h->c2s_order = h->s2c_order = (uint32_t)order;
	h->cli_live = IVT_RING_LIVE_NOT_YET;
	h->srv_live = IVT_RING_LIVE_OPEN;
	bind(r, mem, (uint32_t)ring_size, 1, kick, kick_ctx);
	ivt_mb(); /* header complete before anyone is told about it */
	return 0;
}

/* Does the read-only part of the header still say what we agreed? Cheap:
 * the line is never written after setup, so it stays cached on both cores. */
static int header_intact(struct ivt_ring *r)
{
	const struct ivt_ring_hdr *h = r->hdr;
	return load32(&h->magic) == IVT_RING_MAGIC && load32(&h->version) == IVT_RING_VERSION &&
	       load32(&h->hdr_size) == IVT_RING_HDR_SIZE && load32(&h->c2s_order) == r->order &&
	       load32(&h->s2c_order) == r->order;
}

int ivt_ring_attach(struct ivt_ring *r, void *mem, size_t mem_len, size_t ring_size,
		    ivt_ring_kick_fn kick, void *kick_ctx)
{
	int order = order_of(ring_size);
	if (!r || !mem || order < 0)
		return -EINVAL;
	if (mem_len < ivt_ring_shm_size(ring_size))
		return -EPROTO;
	bind(r, mem, (uint32_t)ring_size, 0, kick, kick_ctx);
	if (!header_intact(r)) {
		r->broken = 1;
		return -EPROTO;
	}
	/* Our own indices start at zero whatever the creator wrote there; the
	 * creator's indices are validated on first use like any other. */
	store32(wr_prod_p(r), 0);
	store32(rd_cons_p(r), 0);
	return 0;
}

static int fail(struct ivt_ring *r)
{
	if (!r->broken)
		r->protocol_errors++;
	r->broken = 1;
	return -EPROTO;
}

static int kick(struct ivt_ring *r)
{
	r->notifies_sent++;
	return r->kick ? r->kick(r->kick_ctx) : 0;
}

/* send_notify: after our index update, kick the peer only if it asked. */
static void send_notify(struct ivt_ring *r, uint8_t bit)
{
	uint8_t *notify = own_notify_p(r);
	ivt_mb(); /* index update /before/ we look at the request */
	/* Plain load first: the locked RMW is only needed when the bit is set,
	 * and skipping it keeps the line local while the peer never sleeps. */
	if (!(load8(notify) & bit))
		return;
	uint8_t prev = __atomic_fetch_and(notify, (uint8_t)~bit, __ATOMIC_SEQ_CST);
	if (prev & bit)
		kick(r);
}

/* request_notify: ask the peer to kick us on the given bits. */
static void request_notify(struct ivt_ring *r, uint8_t bits)
{
	__atomic_or_fetch(peer_notify_p(r), bits, __ATOMIC_SEQ_CST);
	ivt_mb(); /* post the request /before/ we re-read any index */
}

int ivt_ring_set_live(struct ivt_ring *r)
{
	store8(own_live_p(r), IVT_RING_LIVE_OPEN);
	ivt_mb();
	return kick(r); /* unconditional: a waiting accept has no notify bit to set */
}

int ivt_ring_peer_attached(struct ivt_ring *r) { return load8(peer_live_p(r)) != IVT_RING_LIVE_NOT_YET; }

/* Anything but "not yet" and "open" counts as closed: a hint, never an index. */
static int peer_closed(struct ivt_ring *r)
{
	uint8_t v = load8(peer_live_p(r));
	return v != IVT_RING_LIVE_NOT_YET && v != IVT_RING_LIVE_OPEN;
}

int ivt_ring_peer_closed(struct ivt_ring *r) { return peer_closed(r); }

void ivt_ring_close(struct ivt_ring *r)
{
	if (r->closed)
		return;
	r->closed = 1;
	ivt_mb(); /* our last index update /before/ the flag */
	store8(own_live_p(r), IVT_RING_LIVE_CLOSED);
	ivt_mb();
	kick(r);
}

/* The peer's indices, loaded once and checked. keep: store what was seen
 * as the cache; only the direction's own data path does, under its
 * caller's lock. ivt_ring_ready also runs in a waiter of the other
 * direction, concurrently with that path: it only looks (a cache moved
 * back by it let the reader take unpublished bytes), and the snapshots
 * are taken in an order the other thread's progress cannot make look
 * forged (our cache before the peer's index, our own index after it). */

/* prod may only move forward, and never claim more than a ring of unread
 * data. *ready: bytes readable (0 if a concurrent reader passed prod). */
static int refresh_readable(struct ivt_ring *r, uint32_t *ready, int keep)
{
	uint32_t seen = __atomic_load_n(&r->rd_prod_seen, __ATOMIC_ACQUIRE);
	uint32_t prod = load32(rd_prod_p(r));
	uint32_t cons = __atomic_load_n(&r->rd_cons, __ATOMIC_ACQUIRE);
	uint32_t avail = prod - cons;
	if ((int32_t)(prod - seen) < 0 || ((int32_t)avail > 0 && avail > r->rd_size))
		return fail(r);
	if (keep)
		__atomic_store_n(&r->rd_prod_seen, prod, __ATOMIC_RELAXED);
	*ready = (int32_t)avail > 0 ? avail : 0;
	return 0;
}

/* cons within [last cons seen, our prod]: forward and not past what we
 * wrote. *space: bytes writable. */
static int refresh_writable(struct ivt_ring *r, uint32_t *space, int keep)
{
	uint32_t seen = __atomic_load_n(&r->wr_cons_seen, __ATOMIC_ACQUIRE);
	uint32_t cons = load32(wr_cons_p(r));
	uint32_t prod = __atomic_load_n(&r->wr_prod, __ATOMIC_ACQUIRE);
	if (cons - seen > prod - seen)
		return fail(r);
	if (keep)
		__atomic_store_n(&r->wr_cons_seen, cons, __ATOMIC_RELAXED);
	*space = prod - cons >= r->wr_size ? 0 : r->wr_size - (prod - cons);
	return 0;
}

/* n bytes written at our producer index become the peer's to read. */
static void publish(struct ivt_ring *r, uint32_t n)
{
	ivt_mb(); /* write data /then/ publish */
	r->wr_prod += n;
	store32(wr_prod_p(r), r->wr_prod);
	r->bytes_written += n;
	send_notify(r, IVT_RING_NOTIFY_WRITE);
}

/* Copy one piece in (two memcpy at most, for the wrap) and publish it. */
static void write_piece(struct ivt_ring *r, const uint8_t *buf, uint32_t n)
{
	uint32_t off = r->wr_prod & (r->wr_size - 1);
	uint32_t first = r->wr_size - off < n ? r->wr_size - off : n;
	ivt_mb(); /* read indexes /then/ write data */
	memcpy(r->wr_data + off, buf, first);
	if (first < n)
		memcpy(r->wr_data, buf + first, n - first);
	publish(r, n);
}

static void read_piece(struct ivt_ring *r, uint8_t *buf, uint32_t n)
{
	uint32_t off = r->rd_cons & (r->rd_size - 1);
	uint32_t first = r->rd_size - off < n ? r->rd_size - off : n;
	ivt_mb(); /* data read /after/ the index read */
	memcpy(buf, r->rd_data + off, first);
	if (first < n)
		memcpy(buf + first, r->rd_data, n - first);
	ivt_mb(); /* consume /then/ publish */
	r->rd_cons += n;
	store32(rd_cons_p(r), r->rd_cons);
	r->bytes_read += n;
	send_notify(r, IVT_RING_NOTIFY_READ);
}

/* Publishing in pieces of at most a quarter ring lets the peer copy one
 * piece while we copy the next; one big copy would leave it idle. */
static uint32_t piece_limit(uint32_t ring_size)
{
	uint32_t q = ring_size / 4;
	return q < IVT_RING_PIECE_MAX ? q : IVT_RING_PIECE_MAX;
}

static uint32_t min3(size_t a, uint32_t b, uint32_t c)
{
	uint32_t m = b < c ? b : c;
	return a < m ? (uint32_t)a : m;
}

/* Before writing: -EPROTO (broken), -EPIPE (either side closed) or 0. */
static int writable_state(struct ivt_ring *r)
{
	if (r->broken)
		return -EPROTO;
	if (!header_intact(r))
		return fail(r);
	if (r->closed || peer_closed(r))
		return -EPIPE;
	return 0;
}

ssize_t ivt_ring_write(struct ivt_ring *r, const void *buf, size_t len)
{
	int st = writable_state(r);
	if (st)
		return st;
	/* Fill as much as fits, taking the space the reader frees meanwhile. */
	size_t done = 0;
	while (done < len) {
		/* Only re-read the peer's index when our cached view is too small. */
		uint32_t space = r->wr_size - (r->wr_prod - r->wr_cons_seen);
		if (space < len - done && refresh_writable(r, &space, 1) < 0)
			return -EPROTO;
		if (space == 0)
			break;
		uint32_t n = min3(len - done, space, piece_limit(r->wr_size));
		write_piece(r, (const uint8_t *)buf + done, n);
		done += n;
	}
	return done || len == 0 ? (ssize_t)done : -EAGAIN;
}

ssize_t ivt_ring_reserve(struct ivt_ring *r, size_t want, void **ptr, size_t *space)
{
	int st = writable_state(r);
	if (st)
		return st;
	/* Only re-read the peer's index when our cached view is too small. */
	uint32_t free_b = r->wr_size - (r->wr_prod - r->wr_cons_seen);
	uint32_t off0 = r->wr_prod & (r->wr_size - 1);
	uint32_t contig0 = r->wr_size - off0 < free_b ? r->wr_size - off0 : free_b;
	if (contig0 < want && refresh_writable(r, &free_b, 1) < 0)
		return -EPROTO;
	if (free_b == 0)
		return -EAGAIN;
	uint32_t off = r->wr_prod & (r->wr_size - 1);
	uint32_t contig = r->wr_size - off < free_b ? r->wr_size - off : free_b;
	ivt_mb(); /* read indexes /then/ let the caller write data (pairs with
		    * the reader's "consume /then/ publish" in read_piece) */
	*ptr = r->wr_data + off;
	*space = free_b;
	return (ssize_t)contig;
}

int ivt_ring_commit(struct ivt_ring *r, size_t len)
{
	if (r->broken)
		return -EPROTO;
	if (len == 0)
		return 0;
	/* the caller checked len against what reserve returned; space the
	 * peer frees meanwhile only grows it */
	publish(r, (uint32_t)len);
	return 0;
}

/* Read what is there (and what arrives meanwhile): bytes or -EPROTO. */
static ssize_t read_available(struct ivt_ring *r, uint8_t *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		uint32_t ready = r->rd_prod_seen - r->rd_cons;
		if (ready < len - done && refresh_readable(r, &ready, 1) < 0)
			return -EPROTO;
		if (ready == 0)
			break;
		uint32_t n = min3(len - done, ready, piece_limit(r->rd_size));
		read_piece(r, buf + done, n);
		done += n;
	}
	return (ssize_t)done;
}

ssize_t ivt_ring_read(struct ivt_ring *r, void *buf, size_t len)
{
	if (r->broken)
		return -EPROTO;
	if (!header_intact(r))
		return fail(r);
	if (len == 0)
		return 0;
	ssize_t n = read_available(r, buf, len);
	if (n != 0)
		return n;
	if (!peer_closed(r))
		return -EAGAIN;
	/* The peer publishes its last index before the flag: look again. */
	ivt_mb();
	return read_available(r, buf, len);
}

ssize_t ivt_ring_peek(struct ivt_ring *r, const void **ptr)
{
	if (r->broken)
		return -EPROTO;
	if (!header_intact(r))
		return fail(r);
	/* Only re-read the peer's index once what we saw is consumed. */
	uint32_t ready = r->rd_prod_seen - r->rd_cons;
	if (ready == 0) {
		if (refresh_readable(r, &ready, 1) < 0)
			return -EPROTO;
		if (ready == 0) {
			if (!peer_closed(r))
				return -EAGAIN;
			ivt_mb(); /* the peer publishes its last index before the flag */
			if (refresh_readable(r, &ready, 1) < 0)
				return -EPROTO;
			if (ready == 0)
				return 0;
		}
	}
	/* read prod /then/ read data; pairs with "write data /then/
	 * publish" in publish() (loads before loads: acquire is enough) */
	ivt_acquire();
	uint32_t off = r->rd_cons & (r->rd_size - 1);
	uint32_t contig = min3(r->rd_size - off, ready, piece_limit(r->rd_size));
	*ptr = r->rd_data + off;
	return (ssize_t)contig;
}

int ivt_ring_consume(struct ivt_ring *r, size_t len)
{
	if (r->broken)
		return -EPROTO;
	if (len == 0)
		return 0;
	if (len > (uint32_t)(r->rd_prod_seen - r->rd_cons))
		return -EINVAL; /* more than any peek showed */
	/* data read /then/ move cons; pairs with "read indexes /then/ write
	 * data" in write_piece (loads before a store: release is enough) */
	ivt_release();
	r->rd_cons += (uint32_t)len;
	store32(rd_cons_p(r), r->rd_cons);
	r->bytes_read += len;
	send_notify(r, IVT_RING_NOTIFY_READ); /* its full barrier: cons /then/ the request */
	return 0;
}

unsigned ivt_ring_ready(struct ivt_ring *r)
{
	unsigned ev = 0;
	uint32_t n;
	if (r->broken || !header_intact(r)) {
		fail(r);
		return IVT_RING_READABLE | IVT_RING_WRITABLE; /* so the caller sees -EPROTO */
	}
	int closed = peer_closed(r);
	ivt_mb(); /* flag /before/ index: a closing peer publishes in that order */
	if (refresh_readable(r, &n, 0) < 0)
		return IVT_RING_READABLE | IVT_RING_WRITABLE;
	if (n > 0 || closed)
		ev |= IVT_RING_READABLE;
	if (refresh_writable(r, &n, 0) < 0)
		return IVT_RING_READABLE | IVT_RING_WRITABLE;
	if (n > 0 || closed || r->closed)
		ev |= IVT_RING_WRITABLE;
	return ev;
}

/* Before asking for a kick, watch the peer's index for a while (spin.h). */
static int spin_until_changed(struct ivt_ring *r, unsigned events)
{
	struct ivt_spin_watch w = {
		.w = {(events & IVT_RING_READABLE) ? rd_prod_p(r) : NULL,
		      (events & IVT_RING_WRITABLE) ? wr_cons_p(r) : NULL},
		.old = {r->rd_prod_seen, r->wr_cons_seen},
		.b = peer_live_p(r),
		.old_b = load8(peer_live_p(r)),
	};
	return ivt_spin_until_changed(&r->spin, &w);
}

unsigned ivt_ring_arm(struct ivt_ring *r, unsigned events)
{
	unsigned ready = ivt_ring_ready(r) & events;
	if (ready)
		return ready;
	if (spin_until_changed(r, events) && (ready = ivt_ring_ready(r) & events))
		return ready;
	uint8_t bits = 0;
	if (events & IVT_RING_READABLE)
		bits |= IVT_RING_NOTIFY_WRITE;
	if (events & IVT_RING_WRITABLE)
		bits |= IVT_RING_NOTIFY_READ;
	if (bits)
		request_notify(r, bits);
	return ivt_ring_ready(r) & events;
}
