/* SPDX-License-Identifier: MIT */
/*
 * Client for tests/remote/netns-tier.sh: drives ivtd's utmem store
 * through libivt's ivt_store API and checks every value byte-exact.
 *
 *   tier-client fill N SIZE [HOLD]
 *       one persistent private pool; N puts of SIZE bytes, each must be
 *       stored (locally or in the lower tier); then N gets, byte-exact;
 *       an invalidation of the first and the last, which must then miss.
 *       With HOLD (a file name): create it, then keep the connection (and
 *       so its pools) until it is removed, at most 120 s.
 *   tier-client overflow N SIZE
 *       the lower tier is gone: N puts must each be stored or refused
 *       with -ENOSPC (nothing else), at least one refused; every stored
 *       one reads back byte-exact.
 *
 * The socket comes from $IVT_SOCKET. Prints one summary line; exit 0 on
 * success, 1 on any failure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ivt/ivt.h"

static void fill_value(uint8_t *buf, size_t len, uint64_t oid)
{
	uint64_t x = oid * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
}

/* 0 if (pool, oid) reads back as fill_value(oid), else -1 (logged). */
static int check_value(ivt_store *st, uint32_t pool, uint64_t oid, uint8_t *want, uint8_t *got,
		       size_t size)
{
	fill_value(want, size, oid);
	ssize_t n = ivt_get(st, pool, oid, 0, got, size, 0);
	if (n != (ssize_t)size || memcmp(want, got, size) != 0) {
		fprintf(stderr, "get oid %llu: %s\n", (unsigned long long)oid,
			n < 0 ? ivt_strerror((int)n) : "wrong bytes");
		return -1;
	}
	return 0;
}

static int hold(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	fclose(f);
	for (int i = 0; i < 1200 && access(path, F_OK) == 0; i++)
		usleep(100000);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "fill") && strcmp(argv[1], "overflow"))) {
		fprintf(stderr, "usage: %s fill|overflow N SIZE [HOLD]\n", argv[0]);
		return 2;
	}
	int fill = !strcmp(argv[1], "fill");
	long n = atol(argv[2]), size = atol(argv[3]);
	if (n < 2 || size < 1 || size > (16l << 20)) {
		fprintf(stderr, "bad N or SIZE\n");
		return 2;
	}
	struct ivt_open_opts o = {.struct_size = sizeof(o)};
	ivt_store *st;
	int rc = ivt_store_open(&o, &st);
	if (rc < 0) {
		fprintf(stderr, "ivt_store_open: %s\n", ivt_strerror(rc));
		return 1;
	}
	uint32_t pool;
	rc = ivt_pool_create(st, IVT_POOL_PERSISTENT, NULL, &pool);
	if (rc < 0) {
		fprintf(stderr, "ivt_pool_create: %s\n", ivt_strerror(rc));
		return 1;
	}
	uint8_t *want = malloc((size_t)size), *got = malloc((size_t)size);
	uint8_t *stored = calloc((size_t)n, 1);
	if (!want || !got || !stored)
		return 1;
	long ok = 0, refused = 0, bad = 0;
	for (long i = 0; i < n; i++) {
		fill_value(want, (size_t)size, (uint64_t)i);
		rc = ivt_put(st, pool, (uint64_t)i, 0, want, (size_t)size);
		if (rc == 0) {
			ok++;
			stored[i] = 1;
		} else if (rc == -ENOSPC && !fill) {
			refused++;
		} else {
			fprintf(stderr, "put oid %ld: %s\n", i, ivt_strerror(rc));
			bad++;
		}
	}
	long read_ok = 0;
	for (long i = 0; i < n; i++)
		if (stored[i] && check_value(st, pool, (uint64_t)i, want, got, (size_t)size) == 0)
			read_ok++;
	if (read_ok != ok)
		bad++;
	if (fill) {
		/* Both ends of the range: one likely local, one likely below. */
		long ends[2] = {0, n - 1};
		for (int k = 0; k < 2; k++) {
			rc = ivt_invalidate(st, pool, (uint64_t)ends[k], 0);
			ssize_t g = ivt_get(st, pool, (uint64_t)ends[k], 0, got, (size_t)size, 0);
			if (rc != 0 || g != -ENOENT) {
				fprintf(stderr, "invalidate oid %ld: %d, then get: %zd\n", ends[k], rc,
					g);
				bad++;
			}
		}
	} else if (refused == 0) {
		fprintf(stderr, "no put was refused\n");
		bad++;
	}
	struct ivt_store_stats s;
	if (ivt_store_stats(st, &s) == 0)
		printf("%s: puts %ld stored %ld refused %ld read back %ld; here: used %llu "
		       "pages %llu refused %llu\n",
		       argv[1], n, ok, refused, read_ok, (unsigned long long)s.used,
		       (unsigned long long)s.pages, (unsigned long long)s.puts_refused);
	fflush(stdout);
	if (!bad && fill && argc > 4 && hold(argv[4]) < 0)
		bad++;
	ivt_store_close(st);
	free(want);
	free(got);
	free(stored);
	if (bad) {
		printf("FAIL (%ld problems)\n", bad);
		return 1;
	}
	printf("OK\n");
	return 0;
}
