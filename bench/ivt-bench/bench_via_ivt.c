/* SPDX-License-Identifier: MIT */
/*
 * ivt-bench --via-ivt (see bench_via_ivt.h). Per ring size R both halves
 * open channel "<channel>-<R>" with ring_size R (the listener is the
 * writer); per write size W, on that channel:
 *
 *   writer -> reader   header {magic, W, bytes}     (the reader checks it
 *                      is the sweep it runs too)
 *   writer -> reader   `bytes` in ivt_send calls of W bytes; the first 8
 *                      bytes of each write carry its stream offset, so a
 *                      lost, repeated or reordered write changes the hash
 *   reader -> writer   {hash of what arrived, nanoseconds from the header
 *                      to the last byte}; the reader reads W at a time
 *
 * The writer compares the hash with its own: a point counts only when
 * they match. MB/s are the reader's (receive side) time.
 */
#include "bench_via_ivt.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_cost.h"
#include "bench_raw_vchan.h"
#include "bench_report.h"
#include "bench_zc.h"
#include "ivt/ivt.h"

#define VIA_MAGIC 0x3148435442544649ull /* "IVTBTCH1" */

struct point_hdr {
	uint64_t magic, wsize, bytes;
};
struct point_reply {
	uint64_t hash, nanos;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- a stream hash that does not care how the stream was cut ----------
 * 8 bytes per step (byte-wise FNV would cost more than the transfer under
 * emulation). Each step is a bijection of the state, so any changed word
 * changes the result. */
struct stream_hash {
	uint64_t h, len;
	uint8_t part[8];
	unsigned npart;
};

static void sh_init(struct stream_hash *s) { *s = (struct stream_hash){.h = 0xcbf29ce484222325ull}; }

static void sh_word(struct stream_hash *s, uint64_t w)
{
	uint64_t h = (s->h ^ w) * 0x100000001b3ull;
	s->h = h ^ (h >> 29);
}

static void sh_feed(struct stream_hash *s, const uint8_t *p, size_t n)
{
	s->len += n;
	while (s->npart && n) {
		s->part[s->npart++ % 8] = *p++; /* npart < 8 always; % tells the compiler */
		n--;
		if (s->npart == 8) {
			uint64_t w;
			memcpy(&w, s->part, 8);
			sh_word(s, w);
			s->npart = 0;
		}
	}
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		sh_word(s, w);
	}
	while (n--) /* n < 8 and npart == 0 here */
		s->part[s->npart++ % 8] = *p++;
}

static uint64_t sh_final(struct stream_hash *s)
{
	uint64_t w = 0;
	memcpy(&w, s->part, s->npart % 8);
	sh_word(s, w);
	sh_word(s, s->len);
	return s->h;
}

/* ---- a stuck peer must not hang the run ---------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "ivt-bench: timed out waiting for the peer\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(1);
}

static void watchdog(const struct via_ivt_config *c) { alarm((unsigned)c->timeout_s); }

/* ---- one point ------------------------------------------------------------------ */

static int fail(const char *what, ssize_t rc)
{
	fprintf(stderr, "ivt-bench: %s: %s\n", what,
		rc < 0 ? ivt_strerror((int)rc) : rc == 0 ? "end of stream" : "short transfer");
	return -1;
}

/* Writer: returns MB/s (reader's time) if the reader's hash matches, NAN
 * if it differs, -1 if the channel failed. */
static double write_point(ivt_channel *ch, size_t wsize, uint64_t bytes, uint8_t *buf)
{
	struct point_hdr hdr = {VIA_MAGIC, wsize, bytes};
	ssize_t rc = ivt_send(ch, &hdr, sizeof(hdr));
	if (rc != (ssize_t)sizeof(hdr))
		return fail("sending the point header", rc);
	struct stream_hash sh;
	sh_init(&sh);
	for (uint64_t off = 0; off < bytes;) {
		size_t n = bytes - off < wsize ? (size_t)(bytes - off) : wsize;
		if (n >= sizeof(off))
			memcpy(buf, &off, sizeof(off));
		sh_feed(&sh, buf, n);
		if ((rc = ivt_send(ch, buf, n)) != (ssize_t)n)
			return fail("send", rc);
		off += n;
	}
	struct point_reply rep;
	if ((rc = ivt_recv_all(ch, &rep, sizeof(rep))) != (ssize_t)sizeof(rep))
		return fail("the reader's checksum", rc);
	uint64_t mine = sh_final(&sh);
	if (rep.hash != mine) {
		fprintf(stderr, "ivt-bench: write size %zu: checksum %016llx, reader has %016llx\n",
			wsize, (unsigned long long)mine, (unsigned long long)rep.hash);
		return NAN;
	}
	return rep.nanos ? bytes / (rep.nanos * 1e-9) / 1e6 : NAN;
}

/* Reader: returns MB/s as it saw them, -1 if the channel failed. */
static double read_point(ivt_channel *ch, size_t wsize, uint64_t bytes, uint8_t *buf)
{
	struct point_hdr hdr;
	ssize_t rc = ivt_recv_all(ch, &hdr, sizeof(hdr));
	if (rc != (ssize_t)sizeof(hdr))
		return fail("the point header", rc);
	if (hdr.magic != VIA_MAGIC || hdr.wsize != wsize || hdr.bytes != bytes) {
		fprintf(stderr, "ivt-bench: the writer runs another sweep (write size %llu, %llu "
				"bytes; expected %zu, %llu): use the same options on both ends\n",
			(unsigned long long)hdr.wsize, (unsigned long long)hdr.bytes, wsize,
			(unsigned long long)bytes);
		return -1;
	}
	struct stream_hash sh;
	sh_init(&sh);
	double t0 = now();
	for (uint64_t got = 0; got < bytes;) {
		size_t want = bytes - got < wsize ? (size_t)(bytes - got) : wsize;
		if ((rc = ivt_recv(ch, buf, want)) <= 0)
			return fail("recv", rc);
		sh_feed(&sh, buf, (size_t)rc);
		got += (uint64_t)rc;
	}
	double dt = now() - t0;
	struct point_reply rep = {sh_final(&sh), (uint64_t)(dt * 1e9)};
	if ((rc = ivt_send(ch, &rep, sizeof(rep))) != (ssize_t)sizeof(rep))
		return fail("sending the checksum", rc);
	return dt > 0 ? bytes / dt / 1e6 : NAN;
}

/* ---- one channel per ring size ------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The kinds of run a point has: plain (--via-ivt alone), or with --zc the
 * copy send and reserve/commit, with --vs-vchan raw libxenvchan too. */
enum mode { MODE_PLAIN, MODE_RAW, MODE_COPY, MODE_RESERVE };

/* One run of one mode on this end: MB/s, NAN (data differs), or -1. */
static double run_mode(const struct via_ivt_config *c, ivt_channel *ch, int r, int w,
		       uint8_t *buf, enum mode m)
{
	size_t ws = c->writes[w];
	uint64_t b = c->bytes[w];
	switch (m) {
	case MODE_PLAIN:
		return c->listen ? write_point(ch, ws, b, buf) : read_point(ch, ws, b, buf);
	case MODE_RAW:
		return c->listen ? raw_vchan_write_point(ch, c->rings[r], ws, b, buf)
				 : raw_vchan_read_point(ch, c->rings[r], ws, b, buf);
	default:
		return c->listen ? zc_write_point(ch, ws, b, buf, m == MODE_RESERVE)
				 : zc_read_point(ch, ws, b, buf);
	}
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	for (int i = 0; i < n; i++)
		if (isnan(v[i]))
			return NAN; /* a run whose data differed spoils the point */
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One point: c->repeat rounds of every mode, each round starting one mode
 * later (raw, copy, reserve; copy, reserve, raw; ...) so that no mode
 * always runs first or right after another, then the median per mode.
 * Returns the plain or copy median (-1: a run failed); with --zc the
 * reserve/commit one into *zc_v, with --vs-vchan the raw one into *raw_v.
 * Both ends derive the same order from the same options. */
static double point(const struct via_ivt_config *c, ivt_channel *ch, int r, int w, uint8_t *buf,
		    double *zc_v, double *raw_v)
{
	enum mode order[3];
	int n = 0;
	if (!c->zc) {
		order[n++] = MODE_PLAIN;
	} else {
		if (c->vs_vchan)
			order[n++] = MODE_RAW;
		order[n++] = MODE_COPY;
		order[n++] = MODE_RESERVE;
	}
	double v[4][VIA_IVT_MAXREPEAT];
	struct bench_cost_sum cost[4] = {{0}};
	int reps = c->repeat < 1 ? 1 : c->repeat > VIA_IVT_MAXREPEAT ? VIA_IVT_MAXREPEAT : c->repeat;
	for (int k = 0; k < reps; k++)
		for (int j = 0; j < n; j++) {
			enum mode m = order[(j + k) % n];
			watchdog(c);
			struct bench_cost before = bench_cost_now(ch);
			double x = run_mode(c, ch, r, w, buf, m);
			if (x < 0)
				return -1;
			struct bench_cost after = bench_cost_now(ch);
			bench_cost_add(&cost[m], &before, &after, c->bytes[w]);
			v[m][k] = x;
		}
	static const char *const mode_name[] = {"plain", "raw", "copy", "reserve"};
	for (int j = 0; c->costs && j < n; j++)
		bench_cost_print(c->listen ? "writer" : "reader", c->rings[r], c->writes[w],
				 mode_name[order[j]], &cost[order[j]]);
	if (c->vs_vchan)
		*raw_v = median(v[MODE_RAW], reps);
	if (c->zc)
		*zc_v = median(v[MODE_RESERVE], reps);
	return median(v[c->zc ? MODE_COPY : MODE_PLAIN], reps);
}

static int run_ring(const struct via_ivt_config *c, int r, double *row, double *zc_row,
		    double *raw_row, uint8_t *buf)
{
	char name[80];
	snprintf(name, sizeof(name), "%s-%zu", c->channel, c->rings[r]);
	struct ivt_open_opts opts = {.struct_size = sizeof(opts), .backend = c->backend,
				     .ring_size = c->rings[r], .timeout_ms = c->timeout_s * 1000};
	ivt_channel *ch = NULL;
	watchdog(c);
	int rc = ivt_open(name, c->listen ? IVT_LISTEN : 0, &opts, &ch);
	if (rc < 0) {
		fprintf(stderr, "ivt-bench: %s %s: %s\n", c->listen ? "listen" : "connect", name,
			ivt_strerror(rc));
		return -1;
	}
	struct ivt_stats st = {0};
	ivt_get_stats(ch, &st);
	printf("# %s: backend %s, ring %zu asked, %llu granted\n", name, ivt_backend_name(ch),
	       c->rings[r], (unsigned long long)st.ring_size);
	fflush(stdout);
	int failed = 0;
	for (int w = 0; w < c->nwrites && !failed; w++) {
		watchdog(c);
		double v = point(c, ch, r, w, buf, &zc_row[w], &raw_row[w]);
		if (v < 0) {
			failed = 1;
			v = NAN;
		}
		row[w] = v;
		csv_row("bandwidth", c->zc ? "via-ivt-copy" : "via-ivt", c->rings[r], c->writes[w],
			c->bytes[w], NAN, v, NAN, NAN, NAN);
		if (c->zc)
			csv_row("bandwidth", "via-ivt-reserve", c->rings[r], c->writes[w],
				c->bytes[w], NAN, zc_row[w], NAN, NAN, NAN);
		if (c->vs_vchan)
			csv_row("bandwidth", "raw-vchan", c->rings[r], c->writes[w], c->bytes[w],
				NAN, raw_row[w], NAN, NAN, NAN);
	}
	if (!failed && !c->listen) {
		/* the writer closes after the last point: a clean end must follow */
		ssize_t n = ivt_recv(ch, buf, 1);
		if (n != 0)
			failed = fail("end of stream after the last point", n ? n : 1) != 0;
	}
	watchdog(c);
	rc = ivt_close(ch);
	alarm(0);
	if (rc < 0 && !failed)
		failed = fail("close", rc) != 0;
	return failed ? -1 : 0;
}

/* The table of num/den, and one line with its median, min and max. */
static void ratio_table(const struct via_ivt_config *c, const char *tag, const char *title,
			const char *const *rn, const char *const *wn, const double *num,
			const double *den)
{
	double ratio[VIA_IVT_MAXPTS * VIA_IVT_MAXPTS], sorted[VIA_IVT_MAXPTS * VIA_IVT_MAXPTS];
	int n = 0;
	for (int i = 0; i < c->nrings * c->nwrites; i++) {
		ratio[i] = num[i] / den[i];
		if (!isnan(ratio[i]))
			sorted[n++] = ratio[i];
	}
	table_print(&(struct table){title, "ring", rn, c->nrings, wn, c->nwrites, ratio, 2});
	if (!n)
		return;
	qsort(sorted, (size_t)n, sizeof(sorted[0]), cmp_double);
	double med = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	printf("ratio %s: median %.2f, min %.2f, max %.2f over %d points\n", tag, med, sorted[0],
	       sorted[n - 1], n);
}

/* --zc: the reserve/commit table and its ratio to the copy table above;
 * --vs-vchan: the raw libxenvchan table and both ratios to it. */
static void zc_tables(const struct via_ivt_config *c, const char *const *rn,
		      const char *const *wn, const double *copy, const double *zc, const double *raw)
{
	table_print(&(struct table){"the same data built in the ring with ivt_send_reserve/"
				    "ivt_send_commit, MB/s at the reader (every word verified)",
				    "ring", rn, c->nrings, wn, c->nwrites, zc, 1});
	ratio_table(c, "reserve/copy", "reserve/commit / copy send (same run, same channel)", rn,
		    wn, zc, copy);
	if (!c->vs_vchan)
		return;
	table_print(&(struct table){"raw libxenvchan between the same two domains, the same data "
				    "built in the writer's buffer then libxenvchan_write, MB/s at "
				    "the reader (every word verified)",
				    "ring", rn, c->nrings, wn, c->nwrites, raw, 1});
	ratio_table(c, "copy/raw", "ivt copy send / raw libxenvchan (same run)", rn, wn, copy, raw);
	ratio_table(c, "reserve/raw", "ivt reserve/commit / raw libxenvchan (same run)", rn, wn, zc,
		    raw);
}

int via_ivt_run(const struct via_ivt_config *c)
{
	size_t maxw = 8;
	for (int w = 0; w < c->nwrites; w++)
		maxw = c->writes[w] > maxw ? c->writes[w] : maxw;
	uint8_t *buf = malloc(maxw);
	if (!buf)
		return 1;
	for (size_t i = 0; i < maxw; i++)
		buf[i] = (uint8_t)(i * 131u + 7u);
	signal(SIGALRM, on_alarm);

	printf("ivt-bench --via-ivt: %s, channels %s-<ring>, backend %s, bytes per point:",
	       c->listen ? "listen (writer)" : "connect (reader)", c->channel,
	       c->backend ? c->backend : "(policy)");
	for (int w = 0; w < c->nwrites; w++)
		printf(" %llu", (unsigned long long)c->bytes[w]);
	printf(", MB = 10^6 B");
	if (c->repeat > 1)
		printf(", median of %d runs per point%s", c->repeat,
		       c->zc ? " (modes alternating, each round starting with the next)" : "");
	printf("\n");
	fflush(stdout);

	double vals[VIA_IVT_MAXPTS * VIA_IVT_MAXPTS], zc_vals[VIA_IVT_MAXPTS * VIA_IVT_MAXPTS];
	double raw_vals[VIA_IVT_MAXPTS * VIA_IVT_MAXPTS];
	int bad = 0;
	for (int r = 0; r < c->nrings; r++) {
		int o = r * c->nwrites;
		for (int w = 0; w < c->nwrites; w++)
			vals[o + w] = zc_vals[o + w] = raw_vals[o + w] = NAN;
		if (run_ring(c, r, &vals[o], &zc_vals[o], &raw_vals[o], buf) < 0)
			bad = 1;
		for (int w = 0; w < c->nwrites; w++)
			bad |= isnan(vals[o + w]) || (c->zc && isnan(zc_vals[o + w])) ||
			       (c->vs_vchan && isnan(raw_vals[o + w]));
	}
	free(buf);

	char rb[VIA_IVT_MAXPTS][16], wb[VIA_IVT_MAXPTS][16];
	const char *rn[VIA_IVT_MAXPTS], *wn[VIA_IVT_MAXPTS];
	for (int r = 0; r < c->nrings; r++)
		rn[r] = fmt_size(c->rings[r], rb[r], sizeof(rb[r]));
	for (int w = 0; w < c->nwrites; w++)
		wn[w] = fmt_size(c->writes[w], wb[w], sizeof(wb[w]));
	table_print(&(struct table){
		c->zc ? "copy send: data built in the writer's buffer, then ivt_send; MB/s at the "
			"reader (every word verified)"
		: c->listen ? "ivt channel via libivt, MB/s at the reader, checksum verified by the "
			    "writer ('-': failed or differs) (rows: ring size, columns: write size)"
			  : "ivt channel via libivt, MB/s as this reader saw them (rows: ring size, "
			    "columns: write and read size)",
		"ring", rn, c->nrings, wn, c->nwrites, vals, 1});
	if (c->zc)
		zc_tables(c, rn, wn, vals, zc_vals, raw_vals);
	if (bad)
		printf("ivt-bench: some points failed\n");
	else
		printf("ivt-bench: all %d points %s\n", c->nrings * c->nwrites,
		       c->listen ? "verified (checksums match)" : "received");
	return bad ? 1 : 0;
}
