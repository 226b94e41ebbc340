/* SPDX-License-Identifier: MIT */
/*
 * ivt-bench --via-ivt --zc: copy send against zero-copy send in the same
 * run, on the same channel. Per write size W the writer produces the same
 * data twice: once into its own buffer and then ivt_send (the copy a
 * program pays when it builds a message before sending it), once straight
 * into the ring with ivt_send_reserve/ivt_send_commit. The reader checks
 * every 8-byte word of both against the formula, so both modes are
 * verified the same way and the only difference is the copy.
 */
#include "bench_zc.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ZC_PIECE_MAX (32u * 1024)
#define ZC_MAGIC 0x31435a5442544649ull /* "IVTBTZC1" */

struct zc_hdr {
	uint64_t magic, wsize, bytes, reserve;
};
struct zc_reply {
	uint64_t bad_word, nanos; /* bad_word: index of the first wrong word + 1, or 0 */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The data: word k of the stream. Cheap to make, impossible to guess wrong. */
static inline uint64_t word(uint64_t k) { return (k + 1) * 0x9E3779B97F4A7C15ull; }

void zc_produce(uint64_t *dst, uint64_t first, size_t words)
{
	for (size_t i = 0; i < words; i++)
		dst[i] = word(first + i);
}

uint64_t zc_check(const uint64_t *w, uint64_t first, size_t words)
{
	for (size_t i = 0; i < words; i++)
		if (w[i] != word(first + i))
			return first + i + 1;
	return 0;
}

static int fail(const char *what, ssize_t rc)
{
	fprintf(stderr, "ivt-bench --zc: %s: %s\n", what,
		rc < 0 ? ivt_strerror((int)rc) : rc == 0 ? "end of stream" : "short transfer");
	return -1;
}

double zc_write_point(ivt_channel *ch, size_t wsize, uint64_t bytes, uint8_t *buf, int reserve)
{
	struct zc_hdr hdr = {ZC_MAGIC, wsize, bytes, (uint64_t)reserve};
	ssize_t rc = ivt_send(ch, &hdr, sizeof(hdr));
	if (rc != (ssize_t)sizeof(hdr))
		return fail("sending the point header", rc);
	/* Large writes are built in pieces of at most 32 KiB: the unit in
	 * which a copying send publishes too, so the reader starts as early */
	size_t piece = wsize;
	if (reserve && piece > ZC_PIECE_MAX)
		piece = ZC_PIECE_MAX;
	if (reserve && piece > ivt_send_reserve_max(ch))
		piece = ivt_send_reserve_max(ch) & ~(size_t)7;
	for (uint64_t off = 0; off < bytes;) {
		size_t n = bytes - off < piece ? (size_t)(bytes - off) : piece;
		if (reserve) {
			void *p;
			if ((rc = ivt_send_reserve(ch, n, &p)) < 0)
				return fail("reserve", rc);
			zc_produce(p, off / 8, n / 8);
			if ((rc = ivt_send_commit(ch, p, n)) < 0)
				return fail("commit", rc);
		} else {
			zc_produce((uint64_t *)buf, off / 8, n / 8);
			if ((rc = ivt_send(ch, buf, n)) != (ssize_t)n)
				return fail("send", rc);
		}
		off += n;
	}
	struct zc_reply rep;
	if ((rc = ivt_recv_all(ch, &rep, sizeof(rep))) != (ssize_t)sizeof(rep))
		return fail("the reader's verdict", rc);
	if (rep.bad_word) {
		fprintf(stderr, "ivt-bench --zc: write size %zu (%s): word %llu differs\n", wsize,
			reserve ? "reserve/commit" : "copy", (unsigned long long)rep.bad_word - 1);
		return NAN;
	}
	return rep.nanos ? bytes / (rep.nanos * 1e-9) / 1e6 : NAN;
}

double zc_read_point(ivt_channel *ch, size_t wsize, uint64_t bytes, uint8_t *buf)
{
	struct zc_hdr hdr;
	ssize_t rc = ivt_recv_all(ch, &hdr, sizeof(hdr));
	if (rc != (ssize_t)sizeof(hdr))
		return fail("the point header", rc);
	if (hdr.magic != ZC_MAGIC || hdr.wsize != wsize || hdr.bytes != bytes) {
		fprintf(stderr, "ivt-bench --zc: the writer runs another sweep: use the same "
				"options on both ends\n");
		return -1;
	}
	struct zc_reply rep = {0, 0};
	double t0 = now();
	for (uint64_t got = 0; got < bytes;) {
		size_t want = bytes - got < wsize ? (size_t)(bytes - got) : wsize;
		if ((rc = ivt_recv_all(ch, buf, want)) != (ssize_t)want)
			return fail("recv", rc);
		uint64_t bad = zc_check((const uint64_t *)buf, got / 8, want / 8);
		if (bad && !rep.bad_word)
			rep.bad_word = bad;
		got += want;
	}
	rep.nanos = (uint64_t)((now() - t0) * 1e9);
	if ((rc = ivt_send(ch, &rep, sizeof(rep))) != (ssize_t)sizeof(rep))
		return fail("sending the verdict", rc);
	return rep.nanos ? bytes / (rep.nanos * 1e-9) / 1e6 : NAN;
}
