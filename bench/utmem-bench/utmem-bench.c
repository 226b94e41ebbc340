/* SPDX-License-Identifier: MIT */
/*
 * utmem-bench: put/get latency and throughput per value size, through the
 * utmem protocol to a store in a server process over a Unix socket, and
 * against a private redis-server on a Unix socket, in the same run; and
 * through a real ivtd (started here, private socket) with libivt's
 * ivt_put/ivt_get over the shm channel "ivt.utmem".
 *
 *   utmem-bench [--quick] [--iters N] [--repeat R]
 *
 * The machine may be shared, so each size is measured R times (default 3),
 * alternating utmem and redis, and the best run of each is reported.
 *
 * Both clients do one request at a time, build each request in one buffer
 * and write it with one call, so the comparison is request/response round
 * trip plus copying on both sides. Ratios are redis time / utmem time
 * (> 1: utmem is faster).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ivt/ivt.h"
#include "ivtd_run.h"
#include "redis_client.h"
#include "utmem/proto.h"

/* The ivtd the third row set talks to: the store on a 4 MiB shm ring. */
#define IVTD_POLICY                                                                           \
	"{\"version\":1,\"channels\":[{\"name\":\"ivt.utmem\",\"listeners\":[],"              \
	"\"connectors\":[\"*\"],\"backend\":\"shm\",\"ring_size\":4194304,"                    \
	"\"max_ring_size\":4194304}]}"

struct result {
	double put_us, get_us;     /* mean per op */
	double put_p99, get_p99;   /* 99th percentile per op */
	double put_mbs, get_mbs;   /* MB/s (10^6 bytes) */
	int ok;
};

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void summarize(double *lat, size_t n, size_t size, double *mean, double *p99, double *mbs)
{
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, n, sizeof(*lat), cmp_double);
	*mean = sum / (double)n;
	*p99 = lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
	*mbs = (double)size * (double)n / sum; /* bytes per us = MB/s */
}

/* ---- the utmem server process ------------------------------------------- */

static pid_t utmem_server_start(const char *path)
{
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1)) {
		perror("utmem server socket");
		return -1;
	}
	pid_t pid = fork();
	if (pid != 0) {
		close(ls);
		return pid;
	}
	int fd = accept(ls, NULL, NULL);
	close(ls);
	struct utmem_store *st = utmem_store_new(NULL);
	struct utmem_tier *t = st ? utmem_store_tier(st, 0) : NULL;
	if (fd < 0 || !t)
		_exit(1);
	struct utmem_io io = utmem_io_fd(fd);
	struct utmem_server_opts opts = {.domid = 0, .store = st};
	int rc = utmem_serve(t, &io, &opts);
	_exit(rc ? 2 : 0);
}

static int utmem_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect to utmem server");
		return -1;
	}
	return fd;
}

static void fill(uint8_t *buf, size_t size, unsigned seed)
{
	for (size_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(i * 31 + seed);
}

static int check(const uint8_t *buf, size_t size, unsigned seed)
{
	return buf[0] == (uint8_t)seed && buf[size - 1] == (uint8_t)((size - 1) * 31 + seed);
}

static struct result bench_utmem(struct utmem_client *c, uint32_t pool, size_t size, size_t n,
				 uint8_t *val, uint8_t *out, double *lat)
{
	struct result r = {0};
	struct utmem_key k = {pool, 0, size};
	for (size_t i = 0; i < n; i++) {
		k.index = (uint32_t)i;
		fill(val, size < 64 ? size : 64, (unsigned)i);
		val[size - 1] = (uint8_t)((size - 1) * 31 + i);
		double t0 = now_us();
		int rc = utmem_client_put(c, &k, val, size);
		lat[i] = now_us() - t0;
		if (rc) {
			fprintf(stderr, "utmem put: %s\n", strerror(-rc));
			return r;
		}
	}
	summarize(lat, n, size, &r.put_us, &r.put_p99, &r.put_mbs);
	for (size_t i = 0; i < n; i++) {
		k.index = (uint32_t)i;
		double t0 = now_us();
		ssize_t got = utmem_client_get(c, &k, out, size, 0);
		lat[i] = now_us() - t0;
		if (got != (ssize_t)size || !check(out, size, (unsigned)i)) {
			fprintf(stderr, "utmem get: wrong answer (%zd)\n", got);
			return r;
		}
	}
	summarize(lat, n, size, &r.get_us, &r.get_p99, &r.get_mbs);
	utmem_client_invalidate_object(c, pool, size);
	r.ok = 1;
	return r;
}

static struct result bench_redis(struct redis *rd, size_t size, size_t n, uint8_t *val,
				 uint8_t *out, double *lat)
{
	struct result r = {0};
	char key[64];
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "utmem-bench:%zu:%zu", size, i);
		fill(val, size < 64 ? size : 64, (unsigned)i);
		val[size - 1] = (uint8_t)((size - 1) * 31 + i);
		double t0 = now_us();
		int rc = redis_set(rd, key, val, size);
		lat[i] = now_us() - t0;
		if (rc) {
			fprintf(stderr, "redis set: %s\n", strerror(-rc));
			return r;
		}
	}
	summarize(lat, n, size, &r.put_us, &r.put_p99, &r.put_mbs);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "utmem-bench:%zu:%zu", size, i);
		double t0 = now_us();
		ssize_t got = redis_get(rd, key, out, size);
		lat[i] = now_us() - t0;
		if (got != (ssize_t)size || !check(out, size, (unsigned)i)) {
			fprintf(stderr, "redis get: wrong answer (%zd)\n", got);
			return r;
		}
	}
	summarize(lat, n, size, &r.get_us, &r.get_p99, &r.get_mbs);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "utmem-bench:%zu:%zu", size, i);
		redis_del(rd, key);
	}
	r.ok = 1;
	return r;
}

/* The same through ivtd + libivt: the store in ivtd, the shm channel. */
static struct result bench_ivt(ivt_store *st, uint32_t pool, size_t size, size_t n, uint8_t *val,
			       uint8_t *out, double *lat)
{
	struct result r = {0};
	for (size_t i = 0; i < n; i++) {
		fill(val, size < 64 ? size : 64, (unsigned)i);
		val[size - 1] = (uint8_t)((size - 1) * 31 + i);
		double t0 = now_us();
		int rc = ivt_put(st, pool, size, (uint32_t)i, val, size);
		lat[i] = now_us() - t0;
		if (rc) {
			fprintf(stderr, "ivt_put: %s\n", ivt_strerror(rc));
			return r;
		}
	}
	summarize(lat, n, size, &r.put_us, &r.put_p99, &r.put_mbs);
	for (size_t i = 0; i < n; i++) {
		double t0 = now_us();
		ssize_t got = ivt_get(st, pool, size, (uint32_t)i, out, size, 0);
		lat[i] = now_us() - t0;
		if (got != (ssize_t)size || !check(out, size, (unsigned)i)) {
			fprintf(stderr, "ivt_get: wrong answer (%zd)\n", got);
			return r;
		}
	}
	summarize(lat, n, size, &r.get_us, &r.get_p99, &r.get_mbs);
	ivt_invalidate_object(st, pool, size);
	r.ok = 1;
	return r;
}

/* Best of several runs: lowest latencies, highest throughput; a failed
 * run makes the result failed. */
static void keep_best(struct result *best, struct result r, size_t rep)
{
	if (rep == 0 || !r.ok) {
		*best = r;
		return;
	}
	if (!best->ok)
		return;
#define MIN_(f) best->f = r.f < best->f ? r.f : best->f
#define MAX_(f) best->f = r.f > best->f ? r.f : best->f
	MIN_(put_us);
	MIN_(get_us);
	MIN_(put_p99);
	MIN_(get_p99);
	MAX_(put_mbs);
	MAX_(get_mbs);
#undef MIN_
#undef MAX_
}

static void size_name(size_t s, char *b, size_t n)
{
	if (s >= 1 << 20)
		snprintf(b, n, "%zu MiB", s >> 20);
	else if (s >= 1 << 10)
		snprintf(b, n, "%zu KiB", s >> 10);
	else
		snprintf(b, n, "%zu B", s);
}

int main(int argc, char **argv)
{
	int quick = 0;
	size_t iters = 0, repeat = 3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: %s [--quick] [--iters N] [--repeat R]\n", argv[0]);
			return 2;
		}
	}
	if (quick || repeat == 0)
		repeat = 1;
	signal(SIGPIPE, SIG_IGN);
	const size_t sizes[] = {64, 4096, 65536, 1 << 20};
	enum { NS = sizeof(sizes) / sizeof(sizes[0]) };

	char upath[108];
	snprintf(upath, sizeof(upath), "/tmp/utmem-bench-%d.sock", (int)getpid());
	pid_t upid = utmem_server_start(upath);
	if (upid < 0)
		return 1;
	int ufd = utmem_connect(upath);
	struct utmem_io io = utmem_io_fd(ufd);
	struct utmem_client *c = NULL;
	uint32_t pool = 0;
	int rc = ufd < 0 ? -ECONNREFUSED : utmem_client_open(&io, &c);
	if (!rc)
		rc = utmem_client_pool_create(c, UTMEM_POOL_PERSISTENT, NULL, &pool);
	if (rc) {
		fprintf(stderr, "utmem client: %s\n", strerror(-rc));
		kill(upid, SIGTERM);
		waitpid(upid, NULL, 0);
		unlink(upath);
		return 1;
	}

	struct redis rd;
	char why[128] = "";
	int have_redis = redis_start(&rd, why, sizeof(why)) == 0;
	if (!have_redis)
		printf("redis: skipped (%s)\n", why);

	struct ivtd_run ivtd;
	ivt_store *ist = NULL;
	uint32_t ipool = 0;
	why[0] = '\0';
	int have_ivt = ivtd_run_start(&ivtd, IVTD_POLICY, why, sizeof(why)) == 0;
	if (have_ivt) {
		int irc = ivt_store_open(NULL, &ist);
		if (!irc)
			irc = ivt_pool_create(ist, IVT_POOL_PERSISTENT, NULL, &ipool);
		if (irc) {
			snprintf(why, sizeof(why), "%s", ivt_strerror(irc));
			have_ivt = 0;
		}
	}
	if (!have_ivt)
		printf("ivtd + libivt: skipped (%s)\n", why);

	/* Warm both paths up (connections, allocators) before measuring. */
	uint8_t warm[64] = {0};
	for (uint32_t i = 0; i < 200; i++) {
		struct utmem_key k = {pool, i, 0};
		utmem_client_put(c, &k, warm, sizeof(warm));
		utmem_client_get(c, &k, warm, sizeof(warm), UTMEM_GET_TAKE);
		if (have_redis) {
			redis_set(&rd, "utmem-bench:warm", warm, sizeof(warm));
			redis_get(&rd, "utmem-bench:warm", warm, sizeof(warm));
		}
		if (have_ivt) {
			ivt_put(ist, ipool, 0, i, warm, sizeof(warm));
			ivt_get(ist, ipool, 0, i, warm, sizeof(warm), IVT_GET_TAKE);
		}
	}

	struct result ur[NS], rr[NS], ir[NS];
	size_t ns[NS];
	uint8_t *val = malloc(sizes[NS - 1]), *out = malloc(sizes[NS - 1]);
	memset(val, 0x5a, sizes[NS - 1]);
	for (int s = 0; s < NS; s++) {
		size_t n = iters;
		if (!n) {
			n = (128u << 20) / sizes[s]; /* 128 MiB of values per size */
			if (n > 20000)
				n = 20000;
			if (quick)
				n = 20;
		}
		ns[s] = n;
		double *lat = malloc(n * sizeof(*lat));
		memset(&ur[s], 0, sizeof(ur[s]));
		memset(&rr[s], 0, sizeof(rr[s]));
		memset(&ir[s], 0, sizeof(ir[s]));
		for (size_t rep = 0; rep < repeat; rep++) {
			keep_best(&ur[s], bench_utmem(c, pool, sizes[s], n, val, out, lat), rep);
			if (have_redis)
				keep_best(&rr[s], bench_redis(&rd, sizes[s], n, val, out, lat), rep);
			if (have_ivt)
				keep_best(&ir[s], bench_ivt(ist, ipool, sizes[s], n, val, out, lat), rep);
		}
		free(lat);
	}

	printf("\nutmem (protocol over Unix socket, server process) vs redis-server %s"
	       "(Unix socket, RESP)\n",
	       have_redis ? "" : "[skipped] ");
	printf("latency: mean / p99 per op in us, best of %zu runs; "
	       "ratio = redis / utmem mean (>1: utmem faster)\n\n",
	       repeat);
	printf("%-8s %6s | %-17s %-17s %6s | %-17s %-17s %6s | %9s %9s %9s %9s\n", "size", "ops",
	       "utmem put", "redis SET", "ratio", "utmem get", "redis GET", "ratio", "u put MB/s",
	       "r SET MB/s", "u get MB/s", "r GET MB/s");
	int failed = 0;
	for (int s = 0; s < NS; s++) {
		char sn[32], a[32], b[32], d[32], e[32];
		size_name(sizes[s], sn, sizeof(sn));
		failed |= !ur[s].ok || (have_redis && !rr[s].ok);
		snprintf(a, sizeof(a), "%.1f / %.1f", ur[s].put_us, ur[s].put_p99);
		snprintf(b, sizeof(b), "%.1f / %.1f", rr[s].put_us, rr[s].put_p99);
		snprintf(d, sizeof(d), "%.1f / %.1f", ur[s].get_us, ur[s].get_p99);
		snprintf(e, sizeof(e), "%.1f / %.1f", rr[s].get_us, rr[s].get_p99);
		printf("%-8s %6zu | %-17s %-17s %6.2f | %-17s %-17s %6.2f | %9.0f %9.0f %9.0f %9.0f\n",
		       sn, ns[s], a, have_redis ? b : "-",
		       have_redis && ur[s].put_us > 0 ? rr[s].put_us / ur[s].put_us : 0.0, d,
		       have_redis ? e : "-",
		       have_redis && ur[s].get_us > 0 ? rr[s].get_us / ur[s].get_us : 0.0,
		       ur[s].put_mbs, rr[s].put_mbs, ur[s].get_mbs, rr[s].get_mbs);
	}
	if (have_ivt) {
		printf("\nthrough ivtd + libivt (ivt_put/ivt_get, channel \"ivt.utmem\" over shm, "
		       "4 MiB ring)\nratio = ivt mean / Unix-socket utmem mean (<1: ivt path faster)\n\n");
		printf("%-8s %6s | %-17s %6s | %-17s %6s | %9s %9s\n", "size", "ops", "ivt put",
		       "ratio", "ivt get", "ratio", "put MB/s", "get MB/s");
		for (int s = 0; s < NS; s++) {
			char sn[32], a[32], d[32];
			size_name(sizes[s], sn, sizeof(sn));
			failed |= !ir[s].ok;
			snprintf(a, sizeof(a), "%.1f / %.1f", ir[s].put_us, ir[s].put_p99);
			snprintf(d, sizeof(d), "%.1f / %.1f", ir[s].get_us, ir[s].get_p99);
			printf("%-8s %6zu | %-17s %6.2f | %-17s %6.2f | %9.0f %9.0f\n", sn, ns[s], a,
			       ur[s].put_us > 0 ? ir[s].put_us / ur[s].put_us : 0.0, d,
			       ur[s].get_us > 0 ? ir[s].get_us / ur[s].get_us : 0.0, ir[s].put_mbs,
			       ir[s].get_mbs);
		}
		ivt_store_close(ist);
		ivtd_run_stop(&ivtd);
	}
	if (quick)
		printf("\n(--quick: %d ops per size, numbers are only a smoke test)\n", 20);

	if (have_redis)
		redis_stop(&rd);
	utmem_client_free(c);
	close(ufd); /* the server sees end of stream and exits */
	int status = 0;
	waitpid(upid, &status, 0);
	unlink(upath);
	free(val);
	free(out);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "utmem server exited badly (status %d)\n", status);
		failed = 1;
	}
	return failed ? 1 : 0;
}
