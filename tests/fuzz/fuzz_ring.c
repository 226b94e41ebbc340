/* SPDX-License-Identifier: MIT */
/*
 * The shared ring (src/common/ring.c) against a peer the input controls.
 *
 * "us" is one side of a ring in a mapping between PROT_NONE guard pages;
 * "peer" is an honest ivt_ring on the other side of the same memory. The
 * input is a script: us and the peer read, write, arm, close, and the
 * peer also writes raw values into the fields it owns (its indices, live
 * and notify bytes, the header), including from inside our kick callback,
 * i.e. between two reads of one ivt_ring_write/read call. Properties:
 *   - nothing is touched outside the mapping and the caller's buffer;
 *   - read/write never return more than asked, our cached views of the
 *     peer's indices stay within one ring;
 *   - once a call said -EPROTO, every later read/write says it too;
 *   - while the peer only used the API, every byte arrives intact and in
 *     order, both ways.
 */
#include <errno.h>
#include <sys/mman.h>

#include "common/ring.h"
#include "fuzz_input.h"

#define PAGE 4096u

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 131 + (i >> 9)); }

struct world {
	struct fz in;
	struct ivt_ring us, peer;
	struct ivt_ring_hdr *hdr;
	int us_server;
	int tampered;      /* the peer forged indices: contents are not ours to check */
	int saw_eproto;    /* a read/write of ours said -EPROTO */
	int in_kick;
	uint64_t us_sent, us_got, peer_sent, peer_got;
};

/* Fields the peer owns, as seen from our side. */
static uint32_t *peer_prod(struct world *w) { return w->us_server ? &w->hdr->c2s_prod : &w->hdr->s2c_prod; }
static uint32_t *peer_cons(struct world *w) { return w->us_server ? &w->hdr->s2c_cons : &w->hdr->c2s_cons; }
static uint8_t *peer_live(struct world *w) { return w->us_server ? &w->hdr->cli_live : &w->hdr->srv_live; }
static uint8_t *peer_notify_req(struct world *w) { return w->us_server ? &w->hdr->srv_notify : &w->hdr->cli_notify; }

static void raw_write(struct world *w, uint8_t what)
{
	uint32_t v = fz_u32(&w->in);
	int16_t delta = (int16_t)v;
	/* Forged indices or header: the bytes that arrive are not the peer's. */
	w->tampered |= what % 6 == 0 || what % 6 == 1 || what % 6 == 4;
	switch (what % 6) {
	case 0: /* producer index: near what we consumed, or anything */
		__atomic_store_n(peer_prod(w), (v >> 31) ? v : w->us.rd_cons + delta, __ATOMIC_RELEASE);
		break;
	case 1:
		__atomic_store_n(peer_cons(w), (v >> 31) ? v : w->us.wr_prod + delta, __ATOMIC_RELEASE);
		break;
	case 2:
		__atomic_store_n(peer_live(w), (uint8_t)v, __ATOMIC_RELEASE);
		break;
	case 3:
		__atomic_store_n(peer_notify_req(w), (uint8_t)v, __ATOMIC_RELEASE);
		break;
	case 4: { /* the read-only header */
		uint32_t *f[] = {&w->hdr->magic, &w->hdr->version, &w->hdr->hdr_size,
				 &w->hdr->c2s_order, &w->hdr->s2c_order};
		__atomic_store_n(f[(v >> 8) % 5], v & 0xff, __ATOMIC_RELEASE);
		break;
	}
	default: /* undo: the peer's honest indices again */
		__atomic_store_n(peer_prod(w), w->peer.wr_prod, __ATOMIC_RELEASE);
		__atomic_store_n(peer_cons(w), w->peer.rd_cons, __ATOMIC_RELEASE);
	}
}

/* Our kick lands "in the peer": it may act right then, in the middle of
 * our read or write call, as a real peer on another core could. */
static int kick_from_us(void *ctx)
{
	struct world *w = ctx;
	if (w->in_kick || !w->in.left)
		return 0;
	uint8_t b = fz_u8(&w->in);
	if (b & 0x80) {
		w->in_kick = 1;
		raw_write(w, b);
		w->in_kick = 0;
	}
	return 0;
}

static int kick_from_peer(void *ctx) { return 0; }

static void check_views(const struct world *w)
{
	const struct ivt_ring *r = &w->us;
	FZ_CHECK(r->rd_prod_seen - r->rd_cons <= r->rd_size);
	FZ_CHECK(r->wr_prod - r->wr_cons_seen <= r->wr_size);
}

static void us_read(struct world *w, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1); /* exact: ASan catches overruns */
	ssize_t n = ivt_ring_read(&w->us, buf, len);
	FZ_CHECK(n == -EAGAIN || n == -EPROTO || (n >= 0 && (size_t)n <= len));
	FZ_CHECK(!w->saw_eproto || n == -EPROTO);
	w->saw_eproto |= n == -EPROTO;
	for (ssize_t i = 0; n > 0 && i < n; i++)
		FZ_CHECK(w->tampered || buf[i] == pattern(w->us_got + (uint64_t)i));
	if (n > 0)
		w->us_got += (uint64_t)n;
	free(buf);
}

static void us_write(struct world *w, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(w->us_sent + i);
	ssize_t n = ivt_ring_write(&w->us, buf, len);
	FZ_CHECK(n == -EAGAIN || n == -EPROTO || n == -EPIPE || (n >= 0 && (size_t)n <= len));
	FZ_CHECK(!w->saw_eproto || n == -EPROTO);
	w->saw_eproto |= n == -EPROTO;
	if (n > 0)
		w->us_sent += (uint64_t)n;
	free(buf);
}

static void peer_io(struct world *w, int write, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	if (write) {
		for (size_t i = 0; i < len; i++)
			buf[i] = pattern(w->peer_sent + i);
		ssize_t n = ivt_ring_write(&w->peer, buf, len);
		if (n > 0)
			w->peer_sent += (uint64_t)n;
	} else {
		ssize_t n = ivt_ring_read(&w->peer, buf, len);
		for (ssize_t i = 0; n > 0 && i < n; i++)
			FZ_CHECK(w->tampered || buf[i] == pattern(w->peer_got + (uint64_t)i));
		if (n > 0)
			w->peer_got += (uint64_t)n;
	}
	free(buf);
}

static void run(struct world *w)
{
	for (int steps = 0; w->in.left && steps < 256; steps++) {
		uint8_t op = fz_u8(&w->in);
		/* Mostly small pieces (fast, many per input); bit 7: up to three rings. */
		size_t len = (op & 0x80) ? fz_u16(&w->in) % (3 * w->us.rd_size) : fz_u8(&w->in);
		switch (op % 12) {
		case 0: us_read(w, len); break;
		case 1: us_write(w, len); break;
		case 2: peer_io(w, 0, len); break;
		case 3: peer_io(w, 1, len); break;
		case 4: raw_write(w, op >> 4); break;
		case 5: (void)ivt_ring_ready(&w->us); break;
		case 6: (void)ivt_ring_arm(&w->us, (op >> 4) & 3); break;
		case 7: (void)ivt_ring_arm(&w->peer, (op >> 4) & 3); break;
		case 8: ivt_ring_close(&w->us); break;
		case 9: ivt_ring_close(&w->peer); break;
		case 10: (void)ivt_ring_peer_attached(&w->us); break;
		default: (void)ivt_ring_ready(&w->peer);
		}
		check_views(w);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct world w;
	memset(&w, 0, sizeof(w));
	w.in = fz_init(data, size);
	uint8_t how = fz_u8(&w.in);
	size_t ring = (size_t)IVT_RING_MIN_SIZE << (how & 1);
	size_t mem_len = ivt_ring_shm_size(ring), span = mem_len + 2 * PAGE;
	uint8_t *g = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FZ_CHECK(g != MAP_FAILED);
	void *mem = g + PAGE;
	FZ_CHECK(mprotect(mem, mem_len, PROT_READ | PROT_WRITE) == 0);
	w.hdr = mem;
	w.us_server = (how >> 1) & 1;
	struct ivt_ring *srv = w.us_server ? &w.us : &w.peer;
	struct ivt_ring *cli = w.us_server ? &w.peer : &w.us;
	FZ_CHECK(ivt_ring_create(srv, mem, mem_len, ring, w.us_server ? kick_from_us : kick_from_peer,
				 &w) == 0);
	if (!w.us_server && (how & 4))
		raw_write(&w, 4); /* a creator that wrote a bad header: attach must refuse it */
	int rc = ivt_ring_attach(cli, mem, mem_len, ring, w.us_server ? kick_from_peer : kick_from_us,
				 &w);
	if (rc == 0) {
		/* arm() spins up to 50 us before asking for a kick; nothing
		 * runs meanwhile here, so start both sides at the floor. */
		w.us.spin.ns = w.peer.spin.ns = IVT_SPIN_MIN_NS;
		ivt_ring_set_live(cli);
		run(&w);
	} else {
		FZ_CHECK(rc == -EPROTO && w.tampered);
	}
	munmap(g, span);
	return 0;
}
