/* SPDX-License-Identifier: MIT */
/*
 * ivt-bench: bandwidth and latency of the shm channel, measured in the
 * same run as memcpy (the ceiling), a Unix stream socketpair and TCP over
 * 127.0.0.1. Every channel has a writer process and a reader process.
 * With --via-ivt it is instead one half of a sweep through libivt and
 * ivtd, for any backend (bench_via_ivt.c): two runs, possibly in two Xen
 * guests, one with --role listen and one with --role connect.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_chan.h"
#include "bench_report.h"
#include "bench_via_ivt.h"

#define MAXPTS 8
_Static_assert(MAXPTS == VIA_IVT_MAXPTS, "one sweep size for both modes");
#define STREAM_BUF (64u << 20) /* memcpy-stream working set: beyond any cache */

struct config {
	size_t rings[MAXPTS];
	int nrings;
	size_t writes[MAXPTS];
	int nwrites;
	size_t lat_sizes[2];
	uint64_t bytes;
	int lat_iters;
	const char *csv;
	int no_pin;
	int repeat;
	int via_ivt; /* --via-ivt: the rest is in `via` */
	struct via_ivt_config via;
};

static int pin_cpus; /* writer on CPU 0, reader on CPU 1 */

/* Pinning makes runs comparable: the two ends always sit on different
 * cores instead of wherever the scheduler put them this time. */
static void pin_to(int cpu)
{
	if (!pin_cpus)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Small writes cost per call, not per byte: move less so a point stays short. */
static uint64_t bytes_for(const struct config *c, size_t wsize)
{
	uint64_t b = wsize < 4096 ? c->bytes / 8 : c->bytes;
	return b < wsize ? wsize : b - b % wsize;
}

static double mbps(uint64_t bytes, double secs) { return secs > 0 ? bytes / secs / 1e6 : NAN; }

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of n runs of a measurement (the machine is shared: one run can
 * lose its core for a while). Any failed run makes the point NAN. */
#define MEDIAN_OF(n, expr)                                                        \
	({                                                                        \
		double v_[16];                                                    \
		int n_ = (n) < 16 ? (n) : 16, bad_ = 0;                           \
		for (int i_ = 0; i_ < n_; i_++)                                   \
			bad_ |= isnan(v_[i_] = (expr));                           \
		qsort(v_, n_, sizeof(double), cmp_double);                        \
		bad_ ? NAN : v_[n_ / 2];                                          \
	})

/* memcpy between two wsize buffers that stay in cache: the per-copy ceiling. */
static double memcpy_hot(size_t wsize, uint64_t bytes)
{
	char *src = malloc(wsize), *dst = malloc(wsize);
	memset(src, 1, wsize);
	memset(dst, 2, wsize);
	double t0 = now();
	for (uint64_t done = 0; done < bytes; done += wsize) {
		memcpy(dst, src, wsize);
		__asm__ volatile("" : : "r"(dst) : "memory"); /* keep every copy */
	}
	double t = now() - t0;
	free(src);
	free(dst);
	return mbps(bytes, t);
}

/* memcpy in wsize pieces through 64 MiB buffers: memory-bound copying. */
static double memcpy_stream(size_t wsize, uint64_t bytes)
{
	size_t len = STREAM_BUF - STREAM_BUF % wsize;
	char *src = malloc(STREAM_BUF), *dst = malloc(STREAM_BUF);
	memset(src, 1, STREAM_BUF);
	memset(dst, 2, STREAM_BUF);
	size_t off = 0;
	double t0 = now();
	for (uint64_t done = 0; done < bytes; done += wsize) {
		memcpy(dst + off, src + off, wsize);
		__asm__ volatile("" : : "r"(dst) : "memory");
		off = off + wsize >= len ? 0 : off + wsize;
	}
	double t = now() - t0;
	free(src);
	free(dst);
	return mbps(bytes, t);
}

static int reap(pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

/* Writer child: wait for the reader's go byte, then stream. */
static int stream_writer(struct chan_end *e, size_t wsize, uint64_t bytes)
{
	char *buf = malloc(wsize), go;
	memset(buf, 0x5a, wsize);
	int rc = chan_recv_all(e, &go, 1) == 1 ? 0 : -1;
	for (uint64_t done = 0; rc == 0 && done < bytes; done += wsize)
		if (chan_send_all(e, buf, wsize) != (ssize_t)wsize)
			rc = -1;
	free(buf);
	return rc;
}

/* One bandwidth point; MB/s as the reader sees it, or NAN on failure. */
static double measure_stream(enum chan_kind kind, size_t ring, size_t wsize, uint64_t bytes)
{
	struct chan_prep p;
	struct chan_end e;
	if (chan_prepare(&p, kind, ring, 0) < 0)
		return NAN;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return NAN;
	if (pid == 0) {
		pin_to(0);
		int rc = chan_open(&p, 0, &e);
		if (rc == 0)
			rc = stream_writer(&e, wsize, bytes);
		chan_close(&e);
		_exit(rc == 0 ? 0 : 1);
	}
	double res = NAN;
	char *buf = malloc(wsize);
	if (chan_open(&p, 1, &e) == 0) {
		uint64_t got = 0;
		double t0 = now();
		ssize_t n = chan_send_all(&e, "g", 1);
		while (n > 0 && got < bytes) {
			n = chan_recv_some(&e, buf, wsize);
			if (n > 0)
				got += (uint64_t)n;
		}
		double t = now() - t0;
		if (got == bytes && chan_recv_some(&e, buf, 1) == 0)
			res = mbps(bytes, t);
		chan_close(&e);
	}
	free(buf);
	if (reap(pid) < 0)
		res = NAN;
	return res;
}

/* Ping-pong: round-trip time in microseconds, or NAN. */
static double measure_pingpong(enum chan_kind kind, size_t msg, int iters)
{
	struct chan_prep p;
	struct chan_end e;
	if (chan_prepare(&p, kind, 64 * 1024, 1) < 0)
		return NAN;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return NAN;
	char *buf = calloc(1, msg);
	if (pid == 0) {
		pin_to(0);
		int rc = chan_open(&p, 0, &e);
		while (rc == 0) {
			ssize_t n = chan_recv_all(&e, buf, msg);
			if (n == 0)
				break;
			if (n != (ssize_t)msg || chan_send_all(&e, buf, msg) != (ssize_t)msg)
				rc = -1;
		}
		chan_close(&e);
		_exit(rc == 0 ? 0 : 1);
	}
	double res = NAN;
	if (chan_open(&p, 1, &e) == 0) {
		int warm = iters / 10 + 1, ok = 1;
		double t0 = 0;
		for (int i = 0; ok && i < warm + iters; i++) {
			if (i == warm)
				t0 = now();
			ok = chan_send_all(&e, buf, msg) == (ssize_t)msg &&
			     chan_recv_all(&e, buf, msg) == (ssize_t)msg;
		}
		if (ok)
			res = (now() - t0) / iters * 1e6;
		chan_close(&e);
	}
	free(buf);
	if (reap(pid) < 0)
		res = NAN;
	return res;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [--quick] [--bytes N] [--csv FILE] [--iters N] [--repeat N]\n"
		"       [--no-pin]\n"
		"\n"
		"Measures, in one run: memcpy bandwidth (the ceiling), the ivt shm channel\n"
		"(shm plugin, writer and reader processes, bootstrapped over a socketpair),\n"
		"a Unix stream socketpair and TCP over 127.0.0.1.\n"
		"  bandwidth: ring size 4K..4M x write size 64B..1M (shm), write size (others)\n"
		"  latency:   ping-pong round trip of 64 B and 4 KiB messages\n"
		"\n"
		"  --bytes N   bytes per bandwidth point (K/M/G suffixes; default 256M;\n"
		"              writes below 4 KiB move N/8)\n"
		"  --iters N   round trips per latency point (default 20000)\n"
		"  --csv FILE  also write every measurement to FILE\n"
		"  --repeat N  runs per point, the median is reported (default 3, --quick 1)\n"
		"  --no-pin    let the scheduler place the processes (default: with 2+ CPUs\n"
		"              the writer/echo process runs on CPU 0, the reader on CPU 1)\n"
		"  --quick     small sweep that runs in a few seconds (smoke test)\n"
		"  --rings L   ring sizes, comma-separated (e.g. 4K,64K,1M; at most 8)\n"
		"  --writes L  write sizes, comma-separated (e.g. 64,16K,1M; at most 8)\n"
		"  --help      this text\n"
		"Needs the shm plugin: $IVT_PLUGIN_DIR or the installed plugin directory.\n"
		"\n"
		"       %s --via-ivt --role listen|connect --channel NAME [--backend B]\n"
		"       [--rings L] [--writes L] [--bytes N] [--timeout S] [--csv FILE] [--zc]\n"
		"       [--vs-vchan] [--repeat N] [--costs]\n"
		"\n"
		"One half of a bandwidth sweep through libivt, so ivtd and the backend the\n"
		"policy picks are measured, e.g. vchan between two Xen guests. Per ring\n"
		"size R (default 4K,16K,64K,256K,1M) both halves open channel NAME-R with\n"
		"ring_size R (the policy's max_ring_size must allow it); per write size\n"
		"(default 64B..1M) the listener writes, the connector reads and returns a\n"
		"checksum and its time. The listener prints the verified table. Run both\n"
		"halves with the same options. --timeout: seconds for ivt_open and for\n"
		"each point (default 60).\n"
		"  --zc  per point, copy send against zero-copy send on the same channel:\n"
		"        the writer builds the same data in its buffer and ivt_send()s it,\n"
		"        then builds it in the ring with ivt_send_reserve/ivt_send_commit;\n"
		"        the reader checks every 8-byte word of both. Prints both tables and\n"
		"        their ratio. Write sizes and bytes must be multiples of 8; the\n"
		"        backend must support reserve/commit (shm, vchan).\n"
		"  --vs-vchan  --zc, and per point first the baseline: raw libxenvchan\n"
		"        between the same two Xen domains (the listener offers a vchan\n"
		"        under its XenStore data/ivt-bench/, the connector joins it), the\n"
		"        same data written with libxenvchan_write and verified the same\n"
		"        way; prints the raw table and ivt copy / raw, reserve / raw.\n"
		"  --repeat N  runs of each mode per point (default 1), the median is\n"
		"        reported; with --zc/--vs-vchan the modes alternate, each round\n"
		"        starting with the next (raw, copy, reserve; copy, reserve, raw;\n"
		"        ...), so load that comes and goes hits them alike.\n"
		"  --costs  per point and mode, on stderr: this end's CPU time, sleeps\n"
		"        (voluntary context switches), preemptions, libivt's waits and the\n"
		"        wake-ups it sent, all per MB moved (a profile for where a mode\n"
		"        loses, e.g. in a guest without perf).\n",
		argv0, argv0);
}

/* "4K,64K,1M" -> sizes; count or -1. */
static int parse_list(const char *arg, size_t *out, const char *what)
{
	char tmp[256];
	int n = 0;
	snprintf(tmp, sizeof(tmp), "%s", arg);
	for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint64_t v = parse_size(t);
		if (!v || v > (1u << 30) || n == MAXPTS) {
			fprintf(stderr, "%s: need 1..%d sizes of 1..1G, got '%s'\n", what, MAXPTS, arg);
			return -1;
		}
		out[n++] = (size_t)v;
	}
	if (!n)
		fprintf(stderr, "%s: empty list\n", what);
	return n ? n : -1;
}

static uint64_t bytes_for(const struct config *c, size_t wsize);

/* --via-ivt: check its options, copy the sweep into c->via. */
static int via_config(struct config *c, const char *role)
{
	if (!role || (strcmp(role, "listen") && strcmp(role, "connect"))) {
		fprintf(stderr, "--via-ivt needs --role listen or --role connect\n");
		return -1;
	}
	if (!c->via.channel) {
		fprintf(stderr, "--via-ivt needs --channel NAME\n");
		return -1;
	}
	c->via.listen = !strcmp(role, "listen");
	for (int w = 0; c->via.zc && w < c->nwrites; w++)
		if (c->writes[w] % 8) {
			fprintf(stderr, "--zc: write sizes must be multiples of 8\n");
			return -1;
		}
	c->via.nrings = c->nrings;
	c->via.nwrites = c->nwrites;
	memcpy(c->via.rings, c->rings, sizeof(c->via.rings));
	memcpy(c->via.writes, c->writes, sizeof(c->via.writes));
	for (int w = 0; w < c->nwrites; w++)
		c->via.bytes[w] = bytes_for(c, c->writes[w]) & ~(c->via.zc ? 7ull : 0ull);
	return 0;
}

static int parse_args(int argc, char **argv, struct config *c)
{
	static const size_t rings[] = {4096, 16384, 65536, 262144, 1u << 20, 4u << 20};
	static const size_t writes[] = {64, 1024, 16384, 65536, 1u << 20};
	*c = (struct config){.nrings = 6, .nwrites = 5, .lat_sizes = {64, 4096},
			     .bytes = 256u << 20, .lat_iters = 20000};
	memcpy(c->rings, rings, sizeof(rings));
	memcpy(c->writes, writes, sizeof(writes));
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},       {"quick", no_argument, NULL, 'q'},
		{"bytes", required_argument, NULL, 'b'}, {"csv", required_argument, NULL, 'c'},
		{"iters", required_argument, NULL, 'i'}, {"no-pin", no_argument, NULL, 'P'},
		{"repeat", required_argument, NULL, 'r'},
		{"via-ivt", no_argument, NULL, 'V'},    {"role", required_argument, NULL, 'R'},
		{"channel", required_argument, NULL, 'C'}, {"backend", required_argument, NULL, 'B'},
		{"rings", required_argument, NULL, 'G'}, {"writes", required_argument, NULL, 'W'},
		{"timeout", required_argument, NULL, 'T'}, {"zc", no_argument, NULL, 'Z'},
		{"vs-vchan", no_argument, NULL, 'X'},   {"costs", no_argument, NULL, 'K'},
		{NULL, 0, NULL, 0},
	};
	const char *role = NULL, *rings_arg = NULL, *writes_arg = NULL;
	c->via.timeout_s = 60;
	int quick = 0, repeat = 0, o;
	uint64_t bytes = 0;
	while ((o = getopt_long(argc, argv, "hqb:c:i:", opts, NULL)) != -1) {
		switch (o) {
		case 'h':
			usage(stdout, argv[0]);
			exit(0);
		case 'q':
			quick = 1;
			break;
		case 'b':
			if (!(bytes = parse_size(optarg))) {
				fprintf(stderr, "--bytes: bad size '%s'\n", optarg);
				return -1;
			}
			break;
		case 'r':
			repeat = atoi(optarg);
			if (repeat <= 0 || repeat > 15) {
				fprintf(stderr, "--repeat: need 1..15\n");
				return -1;
			}
			break;
		case 'P':
			c->no_pin = 1;
			break;
		case 'c':
			c->csv = optarg;
			break;
		case 'V':
			c->via_ivt = 1;
			break;
		case 'Z':
			c->via.zc = 1;
			break;
		case 'X':
			c->via.zc = c->via.vs_vchan = 1;
			break;
		case 'K':
			c->via.costs = 1;
			break;
		case 'R':
			role = optarg;
			break;
		case 'C':
			c->via.channel = optarg;
			break;
		case 'B':
			c->via.backend = optarg;
			break;
		case 'G':
			rings_arg = optarg;
			break;
		case 'W':
			writes_arg = optarg;
			break;
		case 'T':
			c->via.timeout_s = atoi(optarg);
			if (c->via.timeout_s <= 0 || c->via.timeout_s > 86400) {
				fprintf(stderr, "--timeout: need 1..86400 seconds\n");
				return -1;
			}
			break;
		case 'i':
			c->lat_iters = atoi(optarg);
			if (c->lat_iters <= 0) {
				fprintf(stderr, "--iters: need a positive count\n");
				return -1;
			}
			break;
		default:
			usage(stderr, argv[0]);
			return -1;
		}
	}
	if (optind < argc) {
		usage(stderr, argv[0]);
		return -1;
	}
	if (quick) {
		static const size_t qr[] = {16384, 262144}, qw[] = {64, 65536};
		memcpy(c->rings, qr, sizeof(qr));
		memcpy(c->writes, qw, sizeof(qw));
		c->nrings = c->nwrites = 2;
		c->bytes = 16u << 20;
		c->lat_iters = 2000;
	}
	if (bytes)
		c->bytes = bytes;
	c->repeat = repeat ? repeat : quick ? 1 : 3;
	c->via.repeat = repeat ? repeat : 1;
	if (c->via_ivt && !quick && !rings_arg) {
		/* vchan caps rings at 1 MiB per direction: the default sweep stops there */
		static const size_t vr[] = {4096, 16384, 65536, 262144, 1u << 20};
		memcpy(c->rings, vr, sizeof(vr));
		c->nrings = 5;
	}
	if ((rings_arg && (c->nrings = parse_list(rings_arg, c->rings, "--rings")) < 0) ||
	    (writes_arg && (c->nwrites = parse_list(writes_arg, c->writes, "--writes")) < 0))
		return -1;
	return c->via_ivt ? via_config(c, role) : 0;
}

static void names(const size_t *v, int n, char (*buf)[16], const char **out)
{
	for (int i = 0; i < n; i++)
		out[i] = fmt_size(v[i], buf[i], sizeof(buf[i]));
}

int main(int argc, char **argv)
{
	struct config c;
	if (parse_args(argc, argv, &c) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (c.via_ivt) {
		if (c.csv && csv_open(c.csv) < 0) {
			fprintf(stderr, "ivt-bench: cannot write %s: %s\n", c.csv, strerror(errno));
			return 1;
		}
		int rc = via_ivt_run(&c.via);
		csv_close();
		return rc;
	}
	char why[512];
	if (!chan_shm_ops(why, sizeof(why))) {
		fprintf(stderr, "ivt-bench: %s\n", why);
		return 1;
	}
	if (c.csv && csv_open(c.csv) < 0) {
		fprintf(stderr, "ivt-bench: cannot write %s: %s\n", c.csv, strerror(errno));
		return 1;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pin_cpus = !c.no_pin && ncpu >= 2;
	pin_to(1); /* this process: baselines, readers, pingers */
	printf("ivt-bench: %ld CPUs online%s, %llu bytes per point (writes < 4K: 1/8), "
	       "median of %d runs, MB = 10^6 B\n", ncpu,
	       pin_cpus ? " (ends pinned to CPU 0 and 1)" : "", (unsigned long long)c.bytes,
	       c.repeat);

	int nw = c.nwrites, nr = c.nrings;
	char wbuf[MAXPTS][16], rbuf[MAXPTS][16];
	const char *wn[MAXPTS], *rn[MAXPTS];
	names(c.writes, nw, wbuf, wn);
	names(c.rings, nr, rbuf, rn);

	/* Baselines per write size: memcpy hot, memcpy stream, unix, tcp. */
	double base[4 * MAXPTS];
	for (int w = 0; w < nw; w++) {
		uint64_t b = bytes_for(&c, c.writes[w]);
		base[0 * nw + w] = MEDIAN_OF(c.repeat, memcpy_hot(c.writes[w], b));
		base[1 * nw + w] = MEDIAN_OF(c.repeat, memcpy_stream(c.writes[w], b));
		base[2 * nw + w] = MEDIAN_OF(c.repeat, measure_stream(CHAN_UNIX, 0, c.writes[w], b));
		base[3 * nw + w] = MEDIAN_OF(c.repeat, measure_stream(CHAN_TCP, 0, c.writes[w], b));
		static const char *what[] = {"memcpy-hot", "memcpy-stream", "unix", "tcp"};
		for (int k = 0; k < 4; k++)
			csv_row("bandwidth", what[k], 0, c.writes[w], b, NAN, base[k * nw + w], NAN,
				NAN, NAN);
	}
	const char *base_rows[] = {"memcpy-hot", "memcpy-str", "unix", "tcp"};
	table_print(&(struct table){"Baselines, MB/s by write size (memcpy-hot: write-size buffers in "
				    "cache; memcpy-str: through 64 MiB buffers)",
				    "", base_rows, 4, wn, nw, base, 0});

	double shm[MAXPTS * MAXPTS], vs_mem[MAXPTS * MAXPTS], vs_tcp[MAXPTS * MAXPTS];
	for (int r = 0; r < nr; r++)
		for (int w = 0; w < nw; w++) {
			uint64_t b = bytes_for(&c, c.writes[w]);
			double v = MEDIAN_OF(c.repeat,
					     measure_stream(CHAN_SHM, c.rings[r], c.writes[w], b));
			int i = r * nw + w;
			shm[i] = v;
			vs_mem[i] = v / base[0 * nw + w];
			vs_tcp[i] = v / base[3 * nw + w];
			csv_row("bandwidth", "shm", c.rings[r], c.writes[w], b, NAN, v, NAN, vs_mem[i],
				vs_tcp[i]);
		}
	table_print(&(struct table){"shm channel, MB/s (rows: ring size per direction, columns: "
				    "write size)", "ring", rn, nr, wn, nw, shm, 0});
	table_print(&(struct table){"shm / memcpy-hot at the same write size", "ring", rn, nr, wn,
				    nw, vs_mem, 2});
	table_print(&(struct table){"shm / tcp loopback at the same write size", "ring", rn, nr, wn,
				    nw, vs_tcp, 1});

	double lat[2 * 3];
	static const enum chan_kind lk[] = {CHAN_SHM, CHAN_UNIX, CHAN_TCP};
	const char *lcols[] = {"shm", "unix", "tcp"};
	char lbuf[2][16];
	const char *lrows[2];
	names(c.lat_sizes, 2, lbuf, lrows);
	for (int s = 0; s < 2; s++)
		for (int k = 0; k < 3; k++) {
			double v = MEDIAN_OF(c.repeat,
					     measure_pingpong(lk[k], c.lat_sizes[s], c.lat_iters));
			lat[s * 3 + k] = v;
			csv_row("latency", chan_kind_name(lk[k]), lk[k] == CHAN_SHM ? 65536 : 0,
				c.lat_sizes[s], (uint64_t)c.lat_iters * c.lat_sizes[s] * 2, NAN, NAN, v,
				NAN, NAN);
		}
	table_print(&(struct table){"Ping-pong round trip, microseconds (shm ring 64K)", "msg",
				    lrows, 2, lcols, 3, lat, 2});
	csv_close();

	int failed = 0;
	for (int i = 0; i < nr * nw; i++)
		failed |= isnan(shm[i]);
	for (int i = 0; i < 4 * nw; i++)
		failed |= isnan(base[i]);
	for (int i = 0; i < 6; i++)
		failed |= isnan(lat[i]);
	if (failed)
		fprintf(stderr, "ivt-bench: some measurements failed (shown as '-')\n");
	return failed ? 1 : 0;
}
