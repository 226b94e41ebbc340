/* SPDX-License-Identifier: MIT */
/*
 * ivt-vchan-smoke: plain libxenvchan transfer between two Xen domains,
 * without ivt. It proves the test bed (grant tables, event channels,
 * XenStore) before the project's own binaries are tested on it.
 *
 *   ivt-vchan-smoke domid                       print this domain's id
 *   ivt-vchan-smoke xs-read <path>              print a XenStore value
 *   ivt-vchan-smoke server <test> <peer> <path> <MiB>
 *       offer a vchan at <path> to domain <peer>, send <MiB> of a pattern,
 *       read the client's verdict, print "IVT-TEST <test> PASS|FAIL ..."
 *   ivt-vchan-smoke client <peer> <path>
 *       connect, check every byte against the pattern, send the verdict
 *
 * The pattern is a function of the byte offset, so the client checks each
 * byte wherever the chunk boundaries fall.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxenvchan.h>
#include <xenstore.h>

#define CHUNK (64u * 1024u)

struct verdict {
	uint64_t bytes;     /* bytes received */
	uint64_t bad;       /* bytes that differed from the pattern */
	uint64_t first_bad; /* offset of the first bad byte, or UINT64_MAX */
};

static uint64_t mix64(uint64_t x)
{
	/* splitmix64 finaliser: cheap, and every word differs */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* buf[0..n) = pattern bytes at stream offsets [off, off+n), n <= CHUNK */
static void fill_pattern(uint8_t *buf, uint64_t off, size_t n)
{
	uint64_t words[CHUNK / 8 + 2];
	uint64_t first = off / 8;
	size_t nwords = (size_t)((off + n + 7) / 8 - first);

	for (size_t i = 0; i < nwords; i++)
		words[i] = mix64(first + i);
	memcpy(buf, (uint8_t *)words + (off % 8), n);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int cmd_xs_read(const char *path)
{
	struct xs_handle *xs = xs_open(0);
	unsigned int len;
	char *val;

	if (!xs) {
		perror("xs_open");
		return 1;
	}
	val = xs_read(xs, XBT_NULL, path, &len);
	if (!val) {
		fprintf(stderr, "xs_read %s: %s\n", path, strerror(errno));
		xs_close(xs);
		return 1;
	}
	printf("%.*s\n", (int)len, val);
	free(val);
	xs_close(xs);
	return 0;
}

static int cmd_server(const char *test, int peer, const char *path, uint64_t mib)
{
	static uint8_t buf[CHUNK];
	struct libxenvchan *vc;
	struct verdict v;
	uint64_t total = mib << 20, sent = 0;
	double t0;

	vc = libxenvchan_server_init(NULL, peer, path, CHUNK, CHUNK);
	if (!vc) {
		printf("IVT-TEST %s FAIL server_init(%s): %s\n", test, path, strerror(errno));
		return 1;
	}
	vc->blocking = 1;
	t0 = now_s();
	/* Length first, so the client knows when the stream is complete. */
	if (libxenvchan_send(vc, &total, sizeof(total)) != (int)sizeof(total)) {
		printf("IVT-TEST %s FAIL send length: %s\n", test, strerror(errno));
		libxenvchan_close(vc);
		return 1;
	}
	while (sent < total) {
		size_t n = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK;

		fill_pattern(buf, sent, n);
		if (libxenvchan_write(vc, buf, n) != (int)n) {
			printf("IVT-TEST %s FAIL send at %" PRIu64 ": %s\n", test, sent,
			       strerror(errno));
			libxenvchan_close(vc);
			return 1;
		}
		sent += n;
	}
	if (libxenvchan_recv(vc, &v, sizeof(v)) != (int)sizeof(v)) {
		printf("IVT-TEST %s FAIL no verdict from client\n", test);
		libxenvchan_close(vc);
		return 1;
	}
	double secs = now_s() - t0;

	libxenvchan_close(vc);
	if (v.bytes != total || v.bad) {
		printf("IVT-TEST %s FAIL client got %" PRIu64 "/%" PRIu64 " bytes, %" PRIu64
		       " bad, first bad at %" PRIu64 "\n",
		       test, v.bytes, total, v.bad, v.first_bad);
		return 1;
	}
	printf("IVT-TEST %s PASS %" PRIu64 " MiB byte-exact in %.1f s (%.1f MB/s, emulated)\n",
	       test, mib, secs, (double)total / secs / 1e6);
	return 0;
}

static int cmd_client(int peer, const char *path)
{
	static uint8_t buf[CHUNK], want[CHUNK];
	struct libxenvchan *vc = NULL;
	struct verdict v = { 0, 0, UINT64_MAX };

	/* The server may not have published its grants yet. */
	for (int i = 0; i < 600 && !vc; i++) {
		vc = libxenvchan_client_init(NULL, peer, path);
		if (!vc)
			usleep(100 * 1000);
	}
	if (!vc) {
		fprintf(stderr, "client_init(%d, %s): %s\n", peer, path, strerror(errno));
		return 1;
	}
	vc->blocking = 1;
	uint64_t total;

	if (libxenvchan_recv(vc, &total, sizeof(total)) != (int)sizeof(total)) {
		fprintf(stderr, "no length from server\n");
		libxenvchan_close(vc);
		return 1;
	}
	while (v.bytes < total) {
		size_t want_n = total - v.bytes < CHUNK ? (size_t)(total - v.bytes) : CHUNK;
		int n = libxenvchan_read(vc, buf, want_n);

		if (n <= 0)
			break; /* server gone early: the verdict says how far we got */
		fill_pattern(want, v.bytes, (size_t)n);
		if (memcmp(buf, want, (size_t)n)) {
			for (int i = 0; i < n; i++) {
				if (buf[i] == want[i])
					continue;
				if (v.first_bad == UINT64_MAX)
					v.first_bad = v.bytes + (uint64_t)i;
				v.bad++;
			}
		}
		v.bytes += (uint64_t)n;
	}
	if (libxenvchan_send(vc, &v, sizeof(v)) != (int)sizeof(v))
		fprintf(stderr, "could not send verdict\n");
	/* Let the server read the verdict before the ring goes away. */
	while (libxenvchan_is_open(vc))
		libxenvchan_wait(vc);
	libxenvchan_close(vc);
	printf("vchan-smoke client: %" PRIu64 " bytes, %" PRIu64 " bad\n", v.bytes, v.bad);
	return v.bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t peer, mib;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "domid"))
		return cmd_xs_read("domid");
	if (argc == 3 && !strcmp(argv[1], "xs-read"))
		return cmd_xs_read(argv[2]);
	if (argc == 6 && !strcmp(argv[1], "server") && !parse_u64(argv[3], 0x7fef, &peer) &&
	    !parse_u64(argv[5], 1u << 20, &mib))
		return cmd_server(argv[2], (int)peer, argv[4], mib);
	if (argc == 4 && !strcmp(argv[1], "client") && !parse_u64(argv[2], 0x7fef, &peer))
		return cmd_client((int)peer, argv[3]);
	fprintf(stderr, "usage: %s domid | xs-read PATH | server TEST PEER PATH MIB | "
			"client PEER PATH\n",
		argv[0]);
	return 2;
}
