/* SPDX-License-Identifier: MIT */
/*
 * libivt's frame layer over an in-memory fake plugin: stream round trips
 * with frames split at every size, one-sided ops, and a hostile peer
 * writing raw bytes (bad types, oversized lengths, forged keys, offsets
 * beyond or wrapping around a region). Regions sit between guard bytes
 * that must never change.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_pipe.h"
#include "libivt/frame.h"
#include "libivt/xport.h"

/* test_libivt_frame_inplace builds this file again with FAKE_OPS
 * (&fake_ops_inplace): every case then reads through recv_peek windows and writes
 * whole frames with reserve/commit. */
#ifndef FAKE_OPS
#define FAKE_OPS (&fake_ops)
#endif

/* ---- fixtures ------------------------------------------------------------ */

/* One frame layer whose peer is the test, writing raw bytes. */
struct solo {
	struct fake_queue *in, *out;
	struct ivt_ep ep;
	struct ivt_xport xp;
};

static struct solo *solo_new(size_t ring)
{
	struct solo *s = calloc(1, sizeof(*s));
	s->in = fq_new(1 << 20);
	s->out = fq_new(1 << 20);
	s->ep = (struct ivt_ep){.in = s->in, .out = s->out};
	ivt_xport_init(&s->xp, FAKE_OPS, &s->ep, ring);
	return s;
}

static void solo_free(struct solo *s)
{
	ivt_xport_fini(&s->xp);
	fq_free(s->in);
	fq_free(s->out);
	free(s);
}

/* Two frame layers joined by fake queues of qcap bytes. */
struct pair {
	struct fake_queue *ab, *ba;
	struct ivt_ep ea, eb;
	struct ivt_xport a, b;
};

static struct pair *pair_new(size_t qcap, size_t max_io, size_t ring)
{
	struct pair *p = calloc(1, sizeof(*p));
	p->ab = fq_new(qcap);
	p->ba = fq_new(qcap);
	p->ea = (struct ivt_ep){.in = p->ba, .out = p->ab, .max_io = max_io};
	p->eb = (struct ivt_ep){.in = p->ab, .out = p->ba, .max_io = max_io};
	ivt_xport_init(&p->a, FAKE_OPS, &p->ea, ring);
	ivt_xport_init(&p->b, FAKE_OPS, &p->eb, ring);
	return p;
}

static void pair_free(struct pair *p)
{
	ivt_xport_fini(&p->a);
	ivt_xport_fini(&p->b);
	fq_free(p->ab);
	fq_free(p->ba);
	free(p);
}

/* A well-formed frame (header, extension, payload) into buf. */
static size_t mk(uint8_t *buf, uint8_t type, uint64_t tag, uint64_t key, uint64_t off,
		 uint64_t length, int32_t status, const void *payload, uint32_t plen)
{
	struct ivt_frame_ext ext = {.key = key, .offset = off, .length = length, .status = status};
	size_t n = ivt_frame_encode(buf, type, tag, &ext, plen);
	if (plen)
		memcpy(buf + n, payload, plen);
	return n + plen;
}

static void inject(struct solo *s, const void *buf, size_t len)
{
	assert_int_equal(fq_put(s->in, buf, len), len);
}

/* Read the next frame the layer sent: header, extension, payload copy. */
static int next_out(struct solo *s, struct ivt_frame_hdr *h, struct ivt_frame_ext *e,
		    uint8_t *payload, size_t cap)
{
	uint8_t head[IVT_FRAME_HEAD_MAX];
	if (fq_get(s->out, head, IVT_FRAME_HDR_SIZE) != IVT_FRAME_HDR_SIZE)
		return -1;
	assert_int_equal(ivt_frame_decode_hdr(head, h), 0);
	size_t ext = ivt_frame_ext_size(h->type);
	assert_int_equal(fq_get(s->out, head + IVT_FRAME_HDR_SIZE, ext), ext);
	assert_int_equal(ivt_frame_decode_ext(h->type, head + IVT_FRAME_HDR_SIZE, e), 0);
	size_t pl = ivt_frame_payload_len(h);
	assert_true(pl <= cap);
	assert_int_equal(fq_get(s->out, payload, pl), pl);
	return 0;
}

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 2654435761u >> 13); }

/* A region inside guard bytes. */
#define GUARD 64
#define REGION 256
struct guarded {
	uint8_t bytes[GUARD + REGION + GUARD];
};

static void guarded_init(struct guarded *g)
{
	memset(g->bytes, 0xAA, sizeof(g->bytes));
	memset(g->bytes + GUARD, 0, REGION);
}

static void assert_guards_intact(const struct guarded *g)
{
	for (size_t i = 0; i < GUARD; i++) {
		assert_int_equal(g->bytes[i], 0xAA);
		assert_int_equal(g->bytes[GUARD + REGION + i], 0xAA);
	}
}

static void assert_region_zero(const struct guarded *g)
{
	for (size_t i = 0; i < REGION; i++)
		assert_int_equal(g->bytes[GUARD + i], 0);
}

/* ---- stream ---------------------------------------------------------------- */

/* Non-blocking sender and receiver through a tiny pipe that takes at most
 * 7 bytes a call: every frame is split everywhere, partial frames are
 * finished later, and the bytes come out exact. */
static void test_stream_roundtrip_split_everywhere(void **state)
{
	(void)state;
	struct pair *p = pair_new(1000, 7, 4096);
	const size_t total = 300000;
	uint8_t *src = malloc(total), *dst = malloc(total);
	for (size_t i = 0; i < total; i++)
		src[i] = pattern(i);
	size_t sent = 0, got = 0, step = 1;
	while (got < total) {
		if (sent < total) {
			size_t n = total - sent < step ? total - sent : step;
			ssize_t r = ivt_xport_send(&p->a, src + sent, n, NULL);
			assert_true(r == -EAGAIN || (r > 0 && (size_t)r <= n));
			if (r > 0)
				sent += (size_t)r;
			step = step * 3 % 5000 + 1; /* sizes from 1 byte to several frames */
		} else {
			ivt_xport_try_flush(&p->a);
		}
		ssize_t r = ivt_xport_recv(&p->b, dst + got, (got % 3 + 1) * 500);
		assert_true(r == -EAGAIN || r > 0);
		if (r > 0)
			got += (size_t)r;
	}
	assert_memory_equal(src, dst, total);
	assert_int_equal(atomic_load(&p->b.protocol_errors), 0);
	free(src);
	free(dst);
	pair_free(p);
}

/* With recv_peek, one receive parses a run of small frames out of one
 * window and releases it once: no plugin call per header or payload. */
static void test_peek_one_release_per_run(void **state)
{
	(void)state;
	struct solo *s = solo_new(4096);
	s->xp.ops = &fake_ops_inplace;
	uint8_t frame[64], out[800];
	for (int i = 0; i < 100; i++) {
		size_t n = mk(frame, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "01234567", 8);
		inject(s, frame, n);
	}
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), (ssize_t)sizeof(out));
	for (int i = 0; i < 100; i++)
		assert_memory_equal(out + 8 * i, "01234567", 8);
	assert_int_equal(s->ep.consumes, 1);
	assert_int_equal(s->in->len, 0);
	/* a forged header inside the window breaks the channel, nothing else
	 * of the window is delivered */
	size_t n = mk(frame, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "ab", 2);
	inject(s, frame, n);
	frame[0] = 0x7f;
	inject(s, frame, n);
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), 2);
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), -EPROTO);
	solo_free(s);
}

/* With reserve/commit, a copy send puts header and payload into the pipe
 * with one commit, and the bytes are those two sends would have made. */
static void test_copy_send_one_commit_per_frame(void **state)
{
	(void)state;
	struct solo *s = solo_new(4096);
	s->xp.ops = &fake_ops_inplace;
	uint8_t src[1000], pay[1000];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = pattern(i);
	assert_int_equal(ivt_xport_send(&s->xp, src, sizeof(src), NULL), (ssize_t)sizeof(src));
	assert_int_equal(s->ep.commits, 1);
	struct ivt_frame_hdr h;
	struct ivt_frame_ext e;
	assert_int_equal(next_out(s, &h, &e, pay, sizeof(pay)), 0);
	assert_int_equal(h.type, IVT_FRAME_DATA);
	assert_int_equal(ivt_frame_payload_len(&h), sizeof(src));
	assert_memory_equal(pay, src, sizeof(src));
	assert_int_equal(s->out->len, 0);
	solo_free(s);
}

/* A frame arriving one byte per call, header included. */
static void test_partial_header_byte_by_byte(void **state)
{
	(void)state;
	struct solo *s = solo_new(4096);
	uint8_t frame[64], out[64];
	size_t n = mk(frame, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "hello, ivt", 10);
	size_t got = 0;
	for (size_t i = 0; i < n; i++) {
		inject(s, frame + i, 1);
		ssize_t r = ivt_xport_recv(&s->xp, out + got, sizeof(out) - got);
		if (i < IVT_FRAME_HDR_SIZE) {
			assert_int_equal(r, -EAGAIN);
		} else {
			assert_int_equal(r, 1);
			got++;
		}
	}
	assert_int_equal(got, 10);
	assert_memory_equal(out, "hello, ivt", 10);
	solo_free(s);
}

static void test_eof_between_frames_is_clean(void **state)
{
	(void)state;
	struct solo *s = solo_new(4096);
	uint8_t frame[64], out[16];
	inject(s, frame, mk(frame, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "abc", 3));
	s->in->eof = 1;
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), 3);
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), 0);
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), 0);
	solo_free(s);
}

static void test_eof_inside_frame_is_reset(void **state)
{
	(void)state;
	struct solo *s = solo_new(4096);
	uint8_t frame[64], out[16];
	size_t n = mk(frame, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "abcdef", 6);
	inject(s, frame, n - 2); /* the sender died mid-frame */
	s->in->eof = 1;
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), 4); /* what arrived */
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), -ECONNRESET);
	solo_free(s);
}

/* ---- hostile headers ------------------------------------------------------- */

static void expect_broken(struct solo *s)
{
	uint8_t out[64];
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), -EPROTO);
	assert_int_equal(atomic_load(&s->xp.protocol_errors), 1);
	/* broken for good: later calls fail, and are not counted again */
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), -EPROTO);
	assert_int_equal(ivt_xport_send(&s->xp, "x", 1, NULL), -EPROTO);
	assert_int_equal(atomic_load(&s->xp.protocol_errors), 1);
}

static void test_bad_type(void **state)
{
	(void)state;
	uint8_t types[] = {0, IVT_FRAME_TYPE_END, 0x7f, 0xff};
	for (size_t i = 0; i < sizeof(types); i++) {
		struct solo *s = solo_new(4096);
		uint8_t frame[IVT_FRAME_HDR_SIZE] = {0};
		frame[0] = types[i];
		frame[4] = 4; /* len 4 */
		inject(s, frame, sizeof(frame));
		inject(s, "abcd", 4);
		expect_broken(s);
		solo_free(s);
	}
}

static void test_oversized_len(void **state)
{
	(void)state;
	uint32_t lens[] = {IVT_FRAME_PAYLOAD_MAX + 1, UINT32_MAX};
	for (size_t i = 0; i < 2; i++) {
		struct solo *s = solo_new(4096);
		uint8_t frame[IVT_FRAME_HDR_SIZE] = {IVT_FRAME_DATA};
		memcpy(frame + 4, &lens[i], 4);
		inject(s, frame, sizeof(frame));
		expect_broken(s);
		solo_free(s);
	}
}

static void test_reserved_bits_flags_and_zero_len(void **state)
{
	(void)state;
	for (int variant = 0; variant < 5; variant++) {
		struct solo *s = solo_new(4096);
		uint8_t frame[64];
		size_t n = mk(frame, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "abcd", 4);
		switch (variant) {
		case 0: frame[1] = 1; break;                 /* flags */
		case 1: frame[2] = 1; break;                 /* reserved */
		case 2: frame[8] = 1; break;                 /* DATA with a tag */
		case 3: memset(frame + 4, 0, 4); n = 16; break; /* DATA of 0 bytes */
		case 4: /* ACK with a payload */
			n = mk(frame, IVT_FRAME_RDMA_ACK, 1, 0, 0, 0, 0, NULL, 0);
			frame[4] = 8;
			memset(frame + n, 0, 8);
			n += 8;
			break;
		}
		inject(s, frame, n);
		expect_broken(s);
		solo_free(s);
	}
}

static void test_unsolicited_answers(void **state)
{
	(void)state;
	uint8_t frame[64];
	size_t sizes[3];
	uint8_t frames[3][64];
	sizes[0] = mk(frames[0], IVT_FRAME_RDMA_ACK, 5, 0, 0, 0, 0, NULL, 0);
	sizes[1] = mk(frames[1], IVT_FRAME_RDMA_NACK, 5, 0, 0, 0, -EACCES, NULL, 0);
	sizes[2] = mk(frames[2], IVT_FRAME_RDMA_READ_RESP, 5, 0, 0, 0, 0, "zz", 2);
	for (int i = 0; i < 3; i++) {
		struct solo *s = solo_new(4096);
		memcpy(frame, frames[i], sizes[i]);
		inject(s, frame, sizes[i]);
		expect_broken(s);
		solo_free(s);
	}
}

static void test_nack_status_must_be_negative_errno(void **state)
{
	(void)state;
	int32_t bad[] = {0, 5, -4096, INT32_MIN};
	for (size_t i = 0; i < 4; i++) {
		struct solo *s = solo_new(4096);
		uint8_t buf[8] = {0};
		/* make the NACK answer a real pending op, so only the status is wrong */
		assert_int_equal(ivt_xport_rdma_post(&s->xp, IVT_OP_RDMA_WRITE, buf, 8, 1, 0, 9, NULL), 0);
		uint8_t frame[64];
		size_t n = mk(frame, IVT_FRAME_RDMA_NACK, 1, 0, 0, 0, -EACCES, NULL, 0);
		memcpy(frame + IVT_FRAME_HDR_SIZE, &bad[i], 4);
		inject(s, frame, n);
		expect_broken(s);
		/* the op completes with the channel's error */
		struct ivt_completion c;
		assert_int_equal(ivt_track_poll(&s->xp.track, &c, 1), 1);
		assert_int_equal(c.status, -EPROTO);
		assert_int_equal(c.wr_id, 9);
		solo_free(s);
	}
}

/* ---- one-sided ops against a hostile peer ----------------------------------- */

/* Inject an RDMA_WRITE (len bytes of 0x55), process it, return the answer. */
static struct ivt_frame_hdr write_attempt(struct solo *s, uint64_t key, uint64_t off, uint32_t len,
					   int32_t *status)
{
	uint8_t *frame = malloc(IVT_FRAME_HEAD_MAX + len), *pl = malloc(len);
	memset(pl, 0x55, len);
	size_t n = mk(frame, IVT_FRAME_RDMA_WRITE, 77, key, off, len, 0, pl, len);
	inject(s, frame, n);
	assert_int_equal(ivt_xport_recv(&s->xp, NULL, 0), -EAGAIN);
	struct ivt_frame_hdr h;
	struct ivt_frame_ext e;
	uint8_t ans[64];
	assert_int_equal(next_out(s, &h, &e, ans, sizeof(ans)), 0);
	assert_int_equal(h.tag, 77);
	*status = h.type == IVT_FRAME_RDMA_NACK ? e.status : 0;
	free(frame);
	free(pl);
	return h;
}

static void test_rdma_write_refused_without_touching_memory(void **state)
{
	(void)state;
	struct {
		const char *what;
		int use_key; /* 0: forged key */
		unsigned access;
		uint64_t off;
		uint32_t len;
		int32_t want;
	} cases[] = {
		{"wrong key", 0, IVT_ACCESS_REMOTE_WRITE, 0, 16, -EACCES},
		{"no write access", 1, IVT_ACCESS_REMOTE_READ, 0, 16, -EACCES},
		{"offset beyond region", 1, IVT_ACCESS_REMOTE_WRITE, REGION + 1, 16, -ERANGE},
		{"offset at end", 1, IVT_ACCESS_REMOTE_WRITE, REGION, 1, -ERANGE},
		{"len past the end", 1, IVT_ACCESS_REMOTE_WRITE, REGION - 8, 16, -ERANGE},
		{"offset+len wraps", 1, IVT_ACCESS_REMOTE_WRITE, UINT64_MAX - 7, 16, -ERANGE},
		{"huge offset", 1, IVT_ACCESS_REMOTE_WRITE, 1ull << 63, 16, -ERANGE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case: %s\n", cases[i].what);
		struct solo *s = solo_new(4096);
		struct guarded g;
		guarded_init(&g);
		uint64_t key;
		assert_int_equal(ivt_regions_add(&s->xp.regions, g.bytes + GUARD, REGION,
						 cases[i].access, &key), 0);
		int32_t st;
		struct ivt_frame_hdr h = write_attempt(s, cases[i].use_key ? key : key ^ 0x5a5a, cases[i].off,
						       cases[i].len, &st);
		assert_int_equal(h.type, IVT_FRAME_RDMA_NACK);
		assert_int_equal(st, cases[i].want);
		assert_region_zero(&g);
		assert_guards_intact(&g);
		/* a refused op is not a protocol error: the stream goes on */
		uint8_t frame[64], out[8];
		inject(s, frame, mk(frame, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "ok", 2));
		assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), 2);
		assert_int_equal(atomic_load(&s->xp.protocol_errors), 0);
		solo_free(s);
	}
}

static void test_rdma_write_allowed_lands_exactly(void **state)
{
	(void)state;
	struct solo *s = solo_new(4096);
	struct guarded g;
	guarded_init(&g);
	uint64_t key;
	assert_int_equal(ivt_regions_add(&s->xp.regions, g.bytes + GUARD, REGION,
					 IVT_ACCESS_REMOTE_WRITE, &key), 0);
	int32_t st;
	struct ivt_frame_hdr h = write_attempt(s, key, REGION - 16, 16, &st);
	assert_int_equal(h.type, IVT_FRAME_RDMA_ACK);
	for (size_t i = 0; i < REGION; i++)
		assert_int_equal(g.bytes[GUARD + i], i >= REGION - 16 ? 0x55 : 0);
	assert_guards_intact(&g);
	/* after deregistration the same key is refused */
	assert_int_equal(ivt_regions_remove(&s->xp.regions, key), 0);
	h = write_attempt(s, key, 0, 16, &st);
	assert_int_equal(h.type, IVT_FRAME_RDMA_NACK);
	assert_int_equal(st, -EACCES);
	solo_free(s);
}

static void test_rdma_write_chunk_must_match_op(void **state)
{
	(void)state;
	for (int variant = 0; variant < 3; variant++) {
		struct solo *s = solo_new(4096);
		struct guarded g;
		guarded_init(&g);
		uint64_t key;
		assert_int_equal(ivt_regions_add(&s->xp.regions, g.bytes + GUARD, REGION,
						 IVT_ACCESS_REMOTE_WRITE, &key), 0);
		uint8_t frame[256], pl[64];
		memset(pl, 0x55, sizeof(pl));
		size_t n;
		if (variant == 0) {
			/* a chunk longer than the op it claims to belong to */
			n = mk(frame, IVT_FRAME_RDMA_WRITE, 1, key, 0, 8, 0, pl, 32);
		} else {
			/* first chunk of a 64-byte op, then something else */
			n = mk(frame, IVT_FRAME_RDMA_WRITE, 1, key, 0, 64, 0, pl, 32);
			if (variant == 1)
				n += mk(frame + n, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "x", 1);
			else
				n += mk(frame + n, IVT_FRAME_RDMA_WRITE, 1, key, 8, 64, 0, pl, 32);
		}
		inject(s, frame, n);
		expect_broken(s);
		/* variant 0 wrote nothing; the others at most their first valid chunk */
		assert_guards_intact(&g);
		if (variant == 0)
			assert_region_zero(&g);
		solo_free(s);
	}
}

static void test_rdma_read_requests(void **state)
{
	(void)state;
	struct solo *s = solo_new(4096);
	struct guarded g;
	guarded_init(&g);
	for (size_t i = 0; i < REGION; i++)
		g.bytes[GUARD + i] = pattern(i);
	uint64_t rkey, wkey;
	assert_int_equal(ivt_regions_add(&s->xp.regions, g.bytes + GUARD, REGION,
					 IVT_ACCESS_REMOTE_READ, &rkey), 0);
	assert_int_equal(ivt_regions_add(&s->xp.regions, g.bytes + GUARD, REGION,
					 IVT_ACCESS_REMOTE_WRITE, &wkey), 0);
	struct {
		uint64_t key, off, len;
		int32_t want;
	} cases[] = {
		{rkey, 10, 100, 0},
		{rkey ^ 1, 0, 10, -EACCES},
		{wkey, 0, 10, -EACCES},
		{rkey, REGION, 1, -ERANGE},
		{rkey, 8, UINT64_MAX - 4, -ERANGE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t frame[64];
		inject(s, frame, mk(frame, IVT_FRAME_RDMA_READ_REQ, 100 + i, cases[i].key, cases[i].off,
				    cases[i].len, 0, NULL, 0));
		assert_int_equal(ivt_xport_recv(&s->xp, NULL, 0), -EAGAIN);
		struct ivt_frame_hdr h;
		struct ivt_frame_ext e;
		uint8_t data[256];
		assert_int_equal(next_out(s, &h, &e, data, sizeof(data)), 0);
		assert_int_equal(h.tag, 100 + i);
		if (cases[i].want == 0) {
			assert_int_equal(h.type, IVT_FRAME_RDMA_READ_RESP);
			assert_int_equal(e.offset, 0);
			assert_int_equal(ivt_frame_payload_len(&h), cases[i].len);
			assert_memory_equal(data, g.bytes + GUARD + cases[i].off, cases[i].len);
			assert_int_equal(next_out(s, &h, &e, data, sizeof(data)), 0);
			assert_int_equal(h.type, IVT_FRAME_RDMA_ACK);
		} else {
			assert_int_equal(h.type, IVT_FRAME_RDMA_NACK);
			assert_int_equal(e.status, cases[i].want);
		}
	}
	assert_guards_intact(&g);
	assert_int_equal(atomic_load(&s->xp.protocol_errors), 0);
	solo_free(s);
}

/* A forged read answer must not write past the reader's buffer. */
static void test_read_response_bounded_by_request(void **state)
{
	(void)state;
	struct solo *s = solo_new(4096);
	struct guarded g;
	guarded_init(&g);
	assert_int_equal(ivt_xport_rdma_post(&s->xp, IVT_OP_RDMA_READ, g.bytes + GUARD, 16, 3, 0, 1,
					     NULL), 0);
	uint8_t frame[256], pl[64];
	memset(pl, 0x55, sizeof(pl));
	inject(s, frame, mk(frame, IVT_FRAME_RDMA_READ_RESP, 1, 0, 0, 0, 0, pl, 32));
	expect_broken(s);
	assert_region_zero(&g);
	assert_guards_intact(&g);
	solo_free(s);
}

/* ---- one-sided ops between two honest ends ------------------------------- */

static int progress_until_completion(struct pair *p, struct ivt_completion *c)
{
	for (int i = 0; i < 100000; i++) {
		ivt_xport_try_flush(&p->a);
		ivt_xport_recv(&p->b, NULL, 0);
		ivt_xport_try_flush(&p->b);
		ivt_xport_recv(&p->a, NULL, 0);
		if (ivt_track_poll(&p->a.track, c, 1) == 1)
			return 0;
	}
	return -1;
}

static void test_rdma_between_two_ends(void **state)
{
	(void)state;
	/* small pipe and ring: ops are chunked and split */
	struct pair *p = pair_new(3000, 100, 4096);
	const size_t len = 20000;
	uint8_t *region = calloc(1, len), *src = malloc(len), *back = calloc(1, len);
	for (size_t i = 0; i < len; i++)
		src[i] = pattern(i + 7);
	uint64_t key;
	assert_int_equal(ivt_regions_add(&p->b.regions, region, len,
					 IVT_ACCESS_REMOTE_WRITE | IVT_ACCESS_REMOTE_READ, &key), 0);

	assert_int_equal(ivt_xport_rdma_post(&p->a, IVT_OP_RDMA_WRITE, src, len, key, 0, 1, NULL), 0);
	memset(src, 0, len); /* non-blocking post copied it */
	struct ivt_completion c;
	assert_int_equal(progress_until_completion(p, &c), 0);
	assert_int_equal(c.wr_id, 1);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.opcode, IVT_OP_RDMA_WRITE);
	assert_int_equal(c.len, len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(region[i], pattern(i + 7));

	assert_int_equal(ivt_xport_rdma_post(&p->a, IVT_OP_RDMA_READ, back, len, key, 0, 2, NULL), 0);
	assert_int_equal(progress_until_completion(p, &c), 0);
	assert_int_equal(c.wr_id, 2);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.len, len);
	assert_memory_equal(back, region, len);

	/* a bad key fails at the origin */
	assert_int_equal(ivt_xport_rdma_post(&p->a, IVT_OP_RDMA_WRITE, back, 10, key + 1, 0, 3, NULL), 0);
	assert_int_equal(progress_until_completion(p, &c), 0);
	assert_int_equal(c.wr_id, 3);
	assert_int_equal(c.status, -EACCES);
	/* out of bounds */
	assert_int_equal(ivt_xport_rdma_post(&p->a, IVT_OP_RDMA_READ, back, 10, key, len - 5, 4, NULL), 0);
	assert_int_equal(progress_until_completion(p, &c), 0);
	assert_int_equal(c.status, -ERANGE);

	/* stream data after the ops still flows */
	assert_int_equal(ivt_xport_send(&p->a, "tail", 4, NULL), 4);
	char out[8];
	assert_int_equal(ivt_xport_recv(&p->b, out, sizeof(out)), 4);
	assert_memory_equal(out, "tail", 4);
	free(region);
	free(src);
	free(back);
	pair_free(p);
}

/* The receiver's pending op fails when the stream ends. */
static void test_pending_ops_fail_on_peer_death(void **state)
{
	(void)state;
	struct solo *s = solo_new(4096);
	uint8_t buf[32];
	assert_int_equal(ivt_xport_rdma_post(&s->xp, IVT_OP_RDMA_READ, buf, sizeof(buf), 1, 0, 42, NULL), 0);
	ivt_xport_peer_gone(&s->xp, 0);
	struct ivt_completion c;
	assert_int_equal(ivt_track_poll(&s->xp.track, &c, 1), 1);
	assert_int_equal(c.wr_id, 42);
	assert_int_equal(c.status, -ECONNRESET);
	assert_int_equal(ivt_xport_recv(&s->xp, buf, sizeof(buf)), -ECONNRESET);
	solo_free(s);
}

/* The daemon says the peer closed: a clean end between frames, a reset
 * inside one. */
static void test_graceful_peer_gone(void **state)
{
	(void)state;
	uint8_t frame[64], out[16];
	struct solo *s = solo_new(4096);
	inject(s, frame, mk(frame, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "abc", 3));
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), 3);
	ivt_xport_peer_gone(&s->xp, 1);
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), 0);
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), 0);
	solo_free(s);

	s = solo_new(4096);
	inject(s, frame, mk(frame, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "abc", 3) - 1);
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), 2);
	ivt_xport_peer_gone(&s->xp, 1);
	assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), -ECONNRESET);
	solo_free(s);
}

/* ---- a sender and a receiver thread (ivt.h allows both at once) ------------ */

struct race {
	struct solo *s;
	pthread_mutex_t m;
	pthread_cond_t cv;
	int blocked, release, rc;
	uint8_t *buf;
};

/* The blocking post's wait for room: park until the test says the peer
 * closed. */
static int race_wait(void *ctx, unsigned events)
{
	(void)events;
	struct race *r = ctx;
	pthread_mutex_lock(&r->m);
	r->blocked = 1;
	pthread_cond_broadcast(&r->cv);
	while (!r->release)
		pthread_cond_wait(&r->cv, &r->m);
	pthread_mutex_unlock(&r->m);
	return -EPIPE;
}

static void *race_sender(void *arg)
{
	struct race *r = arg;
	struct ivt_waiter w = {.wait = race_wait, .ctx = r};
	r->rc = ivt_xport_rdma_post(&r->s->xp, IVT_OP_RDMA_READ, r->buf, 64, 1, 0, 7, &w);
	return NULL;
}

/* A peer that never drains answers our read's (predictable) tag with a
 * READ_RESP header and half its body, then closes: the blocked post fails
 * and its caller frees the buffer while the receive path is inside that
 * body. The rest must be dropped, not copied through a freed op, and the
 * op's answer completes nothing (issue 9). ASan/valgrind see the old
 * use-after-free; the answer's protocol error shows it in any build. */
static void test_failed_read_post_while_its_answer_arrives(void **state)
{
	(void)state;
	struct race r = {.s = solo_new(4096), .buf = malloc(64)};
	pthread_mutex_init(&r.m, NULL);
	pthread_cond_init(&r.cv, NULL);
	r.s->out->cap = 0; /* nothing we send fits: the post blocks */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, race_sender, &r), 0);
	pthread_mutex_lock(&r.m);
	while (!r.blocked)
		pthread_cond_wait(&r.cv, &r.m);
	pthread_mutex_unlock(&r.m);

	uint8_t frame[256], pl[64], out[8];
	memset(pl, 0x55, sizeof(pl));
	size_t n = mk(frame, IVT_FRAME_RDMA_READ_RESP, 1, 0, 0, 0, 0, pl, 64);
	inject(r.s, frame, n - 32);
	assert_int_equal(ivt_xport_recv(&r.s->xp, NULL, 0), -EAGAIN); /* inside the body */

	pthread_mutex_lock(&r.m);
	r.release = 1;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.m);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.rc, -EPIPE);
	free(r.buf); /* the call failed: the buffer is the caller's again */

	inject(r.s, frame + n - 32, 32);
	inject(r.s, frame, mk(frame, IVT_FRAME_RDMA_ACK, 1, 0, 0, 0, 0, NULL, 0));
	inject(r.s, frame, mk(frame, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "ok", 2));
	assert_int_equal(ivt_xport_recv(&r.s->xp, out, sizeof(out)), 2);
	assert_memory_equal(out, "ok", 2);
	assert_int_equal(atomic_load(&r.s->xp.protocol_errors), 0);
	struct ivt_completion c;
	assert_int_equal(ivt_track_poll(&r.s->xp.track, &c, 1), 0);
	pthread_mutex_destroy(&r.m);
	pthread_cond_destroy(&r.cv);
	solo_free(r.s);
}

/* ---- encode/decode --------------------------------------------------------- */

static void test_encode_decode_roundtrip(void **state)
{
	(void)state;
	uint8_t buf[IVT_FRAME_HEAD_MAX];
	struct ivt_frame_ext in = {.key = 0x1122334455667788ull, .offset = 99, .length = 1000};
	size_t n = ivt_frame_encode(buf, IVT_FRAME_RDMA_WRITE, 5, &in, 1000);
	assert_int_equal(n, IVT_FRAME_HDR_SIZE + 24);
	struct ivt_frame_hdr h;
	struct ivt_frame_ext out;
	assert_int_equal(ivt_frame_decode_hdr(buf, &h), 0);
	assert_int_equal(h.type, IVT_FRAME_RDMA_WRITE);
	assert_int_equal(h.len, 24 + 1000);
	assert_int_equal(h.tag, 5);
	assert_int_equal(ivt_frame_decode_ext(h.type, buf + IVT_FRAME_HDR_SIZE, &out), 0);
	assert_int_equal(out.key, in.key);
	assert_int_equal(out.offset, 99);
	assert_int_equal(out.length, 1000);
	/* a zero-length op is invalid on the wire */
	in.length = 0;
	ivt_frame_encode(buf, IVT_FRAME_RDMA_READ_REQ, 5, &in, 0);
	assert_int_equal(ivt_frame_decode_ext(IVT_FRAME_RDMA_READ_REQ, buf + IVT_FRAME_HDR_SIZE, &out),
			 -EPROTO);
}

/* ---- message mode, padding, iovecs ---------------------------------------- */

static void test_message_frames_hostile(void **state)
{
	(void)state;
	uint8_t f[128], g[128], out[64];
	/* 0: MSG on a stream channel; 1: DATA outside a message; 2: empty
	 * message; 3: above IVT_FRAME_MSG_MAX; 4: first part longer than it */
	for (int i = 0; i < 5; i++) {
		struct solo *s = solo_new(4096);
		s->xp.msg_mode = i != 0;
		size_t n = i == 0 ? mk(f, IVT_FRAME_MSG, 0, 0, 0, 3, 0, "abc", 3)
			 : i == 1 ? mk(f, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "abc", 3)
			 : i == 2 ? mk(f, IVT_FRAME_MSG, 0, 0, 0, 0, 0, NULL, 0)
			 : i == 3 ? mk(f, IVT_FRAME_MSG, 0, 0, 0, IVT_FRAME_MSG_MAX + 1, 0, "a", 1)
				  : mk(f, IVT_FRAME_MSG, 0, 0, 0, 2, 0, "abc", 3);
		inject(s, f, n);
		expect_broken(s);
		solo_free(s);
	}
	/* a second MSG inside a message, DATA beyond its end */
	for (int i = 0; i < 2; i++) {
		struct solo *s = solo_new(4096);
		s->xp.msg_mode = 1;
		inject(s, f, mk(f, IVT_FRAME_MSG, 0, 0, 0, 5, 0, "ab", 2));
		size_t n = i == 0 ? mk(g, IVT_FRAME_MSG, 0, 0, 0, 3, 0, "cde", 3)
				  : mk(g, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "cdef", 4);
		inject(s, g, n);
		struct iovec iov = {out, sizeof(out)};
		assert_int_equal(ivt_xport_recv_msg(&s->xp, &iov, 1, 0, 0), -EPROTO);
		assert_int_equal(atomic_load(&s->xp.protocol_errors), 1);
		solo_free(s);
	}
}

/* The peer dies inside a message: the part is never handed out. */
static void test_message_cut_off_is_reset(void **state)
{
	(void)state;
	struct solo *s = solo_new(4096);
	s->xp.msg_mode = 1;
	uint8_t f[64], out[64];
	inject(s, f, mk(f, IVT_FRAME_MSG, 0, 0, 0, 10, 0, "abcd", 4));
	s->in->eof = 1;
	struct iovec iov = {out, sizeof(out)};
	assert_int_equal(ivt_xport_recv_msg(&s->xp, &iov, 1, 1, 0), 10); /* peek */
	assert_int_equal(ivt_xport_recv_msg(&s->xp, &iov, 1, 0, 0), -ECONNRESET);
	solo_free(s);
}

/* MSG_ABORT (a sender's timeout inside a message): the part is dropped
 * whether it sat in the caller's buffer or was detached, and the receive
 * goes on with the next message, sized anew against the caller's buffer.
 * Anywhere else, or with a payload, it breaks the channel. */
static void test_message_abort(void **state)
{
	(void)state;
	uint8_t f[64], out[64];
	for (int detach = 0; detach < 2; detach++) {
		struct solo *s = solo_new(4096);
		s->xp.msg_mode = 1;
		inject(s, f, mk(f, IVT_FRAME_MSG, 0, 0, 0, 10, 0, "abcd", 4));
		struct iovec small = {out, 10};
		/* keep=0: the part moves to private memory; keep=1: it stays */
		assert_int_equal(ivt_xport_recv_msg(&s->xp, &small, 1, 0, !detach), -EAGAIN);
		inject(s, f, mk(f, IVT_FRAME_MSG_ABORT, 0, 0, 0, 0, 0, NULL, 0));
		inject(s, f, mk(f, IVT_FRAME_MSG, 0, 0, 0, 20, 0, "0123456789abcdefghij", 20));
		assert_int_equal(ivt_xport_recv_msg(&s->xp, &small, 1, 0, 0), -EMSGSIZE);
		struct iovec big = {out, sizeof(out)};
		assert_int_equal(ivt_xport_recv_msg(&s->xp, &big, 1, 0, 0), 20);
		assert_memory_equal(out, "0123456789abcdefghij", 20);
		assert_int_equal(atomic_load(&s->xp.protocol_errors), 0);
		solo_free(s);
	}
	/* 0: outside a message; 1: on a stream channel; 2: with a payload;
	 * 3: after the whole message arrived */
	for (int i = 0; i < 4; i++) {
		struct solo *s = solo_new(4096);
		s->xp.msg_mode = i != 1;
		if (i == 3)
			inject(s, f, mk(f, IVT_FRAME_MSG, 0, 0, 0, 2, 0, "ab", 2));
		inject(s, f, mk(f, IVT_FRAME_MSG_ABORT, 0, 0, 0, 0, 0, i == 2 ? "x" : NULL,
				i == 2 ? 1 : 0));
		if (i == 3) {
			struct iovec iov = {out, sizeof(out)};
			assert_int_equal(ivt_xport_recv_msg(&s->xp, &iov, 1, 0, 0), 2);
		}
		expect_broken(s);
		solo_free(s);
	}
}

/* PAD frames (reserve/commit at the wrap) are skipped, in both modes. */
static void test_pad_frames_skipped(void **state)
{
	(void)state;
	for (int mode = 0; mode < 2; mode++) {
		struct solo *s = solo_new(4096);
		s->xp.msg_mode = mode;
		uint8_t f[64], out[16];
		inject(s, f, mk(f, IVT_FRAME_PAD, 0, 0, 0, 0, 0, "junk!", 5));
		inject(s, f, mk(f, IVT_FRAME_PAD, 0, 0, 0, 0, 0, NULL, 0));
		inject(s, f, mk(f, mode ? IVT_FRAME_MSG : IVT_FRAME_DATA, 0, 0, 0, 3, 0, "abc", 3));
		assert_int_equal(ivt_xport_recv(&s->xp, out, sizeof(out)), 3);
		assert_memory_equal(out, "abc", 3);
		solo_free(s);
	}
}

/* ---- half-close: the FIN frame ------------------------------------------- */

/* a's FIN ends b's stream after every byte a sent (the pipe small, so it
 * waits behind them), while b still sends to a and a one-sided op of b's
 * is still answered by a. */
static void test_fin_ends_one_direction(void **state)
{
	(void)state;
	struct pair *p = pair_new(3000, 100, 4096);
	const size_t len = 20000;
	uint8_t *src = malloc(len), *dst = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		src[i] = pattern(i);
	size_t sent = 0, got = 0;
	int fin = -EAGAIN;
	while (got < len || fin == -EAGAIN) {
		if (sent < len) {
			ssize_t n = ivt_xport_send(&p->a, src + sent, len - sent, NULL);
			assert_true(n > 0 || n == -EAGAIN);
			sent += n > 0 ? (size_t)n : 0;
		} else if (fin == -EAGAIN) {
			fin = ivt_xport_shutdown_wr(&p->a, NULL);
			assert_true(fin == 0 || fin == -EAGAIN);
			if (fin == -EAGAIN)
				fin = ivt_xport_try_flush(&p->a) ? -EAGAIN : 0;
		}
		ssize_t r = ivt_xport_recv(&p->b, dst + got, len + 1 - got);
		assert_true(r >= 0 || r == -EAGAIN);
		assert_true(r != 0 || got == len); /* the end only after every byte */
		got += r > 0 ? (size_t)r : 0;
	}
	assert_memory_equal(src, dst, len);
	while (ivt_xport_try_flush(&p->a))
		assert_true(ivt_xport_recv(&p->b, NULL, 0) != -EPROTO);
	assert_int_equal(ivt_xport_recv(&p->b, dst, len), 0);
	assert_int_equal(ivt_xport_recv(&p->b, dst, len), 0); /* the end stays */
	assert_int_equal(ivt_xport_send(&p->a, "x", 1, NULL), -EPIPE);
	assert_int_equal(ivt_xport_shutdown_wr(&p->a, NULL), 0); /* again: nothing more */

	/* b -> a still flows, and a still answers b's one-sided op */
	assert_int_equal(ivt_xport_send(&p->b, "reply", 5, NULL), 5);
	char out[8];
	assert_int_equal(ivt_xport_recv(&p->a, out, sizeof(out)), 5);
	assert_memory_equal(out, "reply", 5);
	uint64_t key;
	assert_int_equal(ivt_regions_add(&p->a.regions, dst, 64, IVT_ACCESS_REMOTE_READ, &key), 0);
	uint8_t back[64];
	assert_int_equal(ivt_xport_rdma_post(&p->b, IVT_OP_RDMA_READ, back, 64, key, 0, 9, NULL), 0);
	struct ivt_completion c;
	for (int i = 0; i < 100000 && ivt_track_poll(&p->b.track, &c, 1) == 0; i++) {
		ivt_xport_try_flush(&p->b);
		ivt_xport_recv(&p->a, NULL, 0);
		ivt_xport_try_flush(&p->a);
		ivt_xport_recv(&p->b, NULL, 0);
	}
	assert_int_equal(c.wr_id, 9);
	assert_int_equal(c.status, 0);
	assert_memory_equal(back, dst, 64);
	free(src);
	free(dst);
	pair_free(p);
}

/* Message mode: the messages before the FIN, then 0 (peek too). */
static void test_fin_after_messages(void **state)
{
	(void)state;
	struct solo *s = solo_new(4096);
	s->xp.msg_mode = 1;
	uint8_t f[64], out[16];
	inject(s, f, mk(f, IVT_FRAME_MSG, 0, 0, 0, 3, 0, "abc", 3));
	inject(s, f, mk(f, IVT_FRAME_FIN, 0, 0, 0, 0, 0, NULL, 0));
	struct iovec iov = {out, sizeof(out)};
	assert_int_equal(ivt_xport_recv_msg(&s->xp, &iov, 1, 0, 0), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(ivt_xport_recv_msg(&s->xp, &iov, 1, 1, 0), 0);
	assert_int_equal(ivt_xport_recv_msg(&s->xp, &iov, 1, 0, 0), 0);
	/* and what our end sends after it: a MSG frame, then our own FIN */
	assert_int_equal(ivt_xport_send(&s->xp, "xy", 2, NULL), 2);
	assert_int_equal(ivt_xport_shutdown_wr(&s->xp, NULL), 0);
	assert_int_equal(ivt_xport_send(&s->xp, "z", 1, NULL), -EPIPE);
	struct ivt_frame_hdr h;
	struct ivt_frame_ext e;
	assert_int_equal(next_out(s, &h, &e, out, sizeof(out)), 0);
	assert_int_equal(h.type, IVT_FRAME_MSG);
	assert_int_equal(next_out(s, &h, &e, out, sizeof(out)), 0);
	assert_int_equal(h.type, IVT_FRAME_FIN);
	assert_int_equal(h.len, 0);
	assert_int_equal(next_out(s, &h, &e, out, sizeof(out)), -1);
	solo_free(s);
}

/* A FIN inside a message, a second one, stream data after it, and FIN
 * headers with a tag or a length are the peer breaking the protocol. */
static void test_fin_hostile(void **state)
{
	(void)state;
	for (int i = 0; i < 5; i++) {
		struct solo *s = solo_new(4096);
		s->xp.msg_mode = i == 0;
		uint8_t f[64], g[64];
		size_t n = 0;
		if (i == 0)
			n = mk(f, IVT_FRAME_MSG, 0, 0, 0, 10, 0, "abcd", 4);
		else if (i == 1 || i == 2)
			n = mk(f, IVT_FRAME_FIN, 0, 0, 0, 0, 0, NULL, 0);
		if (n)
			inject(s, f, n);
		if (i == 0 || i == 1)
			n = mk(g, IVT_FRAME_FIN, 0, 0, 0, 0, 0, NULL, 0);
		else if (i == 2)
			n = mk(g, IVT_FRAME_DATA, 0, 0, 0, 0, 0, "late", 4);
		else if (i == 3)
			n = mk(g, IVT_FRAME_FIN, 5, 0, 0, 0, 0, NULL, 0); /* a tag */
		else
			n = mk(g, IVT_FRAME_FIN, 0, 0, 0, 0, 0, "x", 1); /* a payload */
		inject(s, g, n);
		if (i == 0) {
			uint8_t out[16];
			struct iovec iov = {out, sizeof(out)};
			assert_int_equal(ivt_xport_recv_msg(&s->xp, &iov, 1, 0, 0), -EPROTO);
			assert_int_equal(atomic_load(&s->xp.protocol_errors), 1);
		} else {
			expect_broken(s);
		}
		solo_free(s);
	}
}

/* A message larger than the ring, gathered from several iovecs by a
 * non-blocking sender through a pipe that takes 7 bytes a call, received
 * whole by a non-blocking receiver that uses a new buffer every try. */
static void test_message_larger_than_ring_nonblocking(void **state)
{
	(void)state;
	struct pair *p = pair_new(1000, 7, 4096);
	p->a.msg_mode = p->b.msg_mode = 1;
	enum { N = 10000 };
	static uint8_t src[N];
	for (size_t i = 0; i < N; i++)
		src[i] = pattern(i);
	struct iovec iov[3] = {{src, 1}, {src + 1, 4000}, {src + 4001, N - 4001}};
	assert_int_equal(ivt_xport_sendv(&p->a, iov, 3, NULL), N); /* taken whole */
	assert_int_equal(ivt_xport_sendv(&p->a, iov, 3, NULL), -EAGAIN); /* one at a time */
	uint8_t small[100];
	struct iovec siov = {small, sizeof(small)};
	ssize_t r;
	while ((r = ivt_xport_recv_msg(&p->b, &siov, 1, 1, 0)) == -EAGAIN)
		ivt_xport_try_flush(&p->a);
	assert_int_equal(r, N);
	assert_int_equal(ivt_xport_recv_msg(&p->b, &siov, 1, 0, 0), -EMSGSIZE);
	for (;;) {
		uint8_t *dst = malloc(N);
		struct iovec d[2] = {{dst, 3}, {dst + 3, N - 3}};
		r = ivt_xport_recv_msg(&p->b, d, 2, 0, 0);
		if (r == -EAGAIN) {
			memset(dst, 0, N); /* libivt must not have kept a pointer to it */
			free(dst);
			ivt_xport_try_flush(&p->a);
			continue;
		}
		assert_int_equal(r, N);
		assert_memory_equal(dst, src, N);
		free(dst);
		break;
	}
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_decode_roundtrip),
		cmocka_unit_test(test_stream_roundtrip_split_everywhere),
		cmocka_unit_test(test_partial_header_byte_by_byte),
		cmocka_unit_test(test_peek_one_release_per_run),
		cmocka_unit_test(test_copy_send_one_commit_per_frame),
		cmocka_unit_test(test_eof_between_frames_is_clean),
		cmocka_unit_test(test_eof_inside_frame_is_reset),
		cmocka_unit_test(test_bad_type),
		cmocka_unit_test(test_oversized_len),
		cmocka_unit_test(test_reserved_bits_flags_and_zero_len),
		cmocka_unit_test(test_unsolicited_answers),
		cmocka_unit_test(test_nack_status_must_be_negative_errno),
		cmocka_unit_test(test_rdma_write_refused_without_touching_memory),
		cmocka_unit_test(test_rdma_write_allowed_lands_exactly),
		cmocka_unit_test(test_rdma_write_chunk_must_match_op),
		cmocka_unit_test(test_rdma_read_requests),
		cmocka_unit_test(test_read_response_bounded_by_request),
		cmocka_unit_test(test_rdma_between_two_ends),
		cmocka_unit_test(test_pending_ops_fail_on_peer_death),
		cmocka_unit_test(test_graceful_peer_gone),
		cmocka_unit_test(test_message_frames_hostile),
		cmocka_unit_test(test_message_cut_off_is_reset),
		cmocka_unit_test(test_message_abort),
		cmocka_unit_test(test_pad_frames_skipped),
		cmocka_unit_test(test_message_larger_than_ring_nonblocking),
		cmocka_unit_test(test_failed_read_post_while_its_answer_arrives),
		cmocka_unit_test(test_fin_ends_one_direction),
		cmocka_unit_test(test_fin_after_messages),
		cmocka_unit_test(test_fin_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
