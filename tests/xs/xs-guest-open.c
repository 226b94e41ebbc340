/* SPDX-License-Identifier: MIT */
/*
 * ivt-xs-open: a transfer check for real Xen guests (and dom0 as a Xen
 * domain), run by the Xen testbed (tests/xen/ivt-checks.sh). A thin
 * program over libivt: ivt_open always goes through XenStore here
 * (IVT_REGISTRY=xenstore; the protocol is libivt's xs_conn.c, see
 * docs/xenstore.md), then the backend ivtd picked (vchan) carries:
 *
 *   ivt-xs-open listen  NAME [options]   server end: sends the data
 *   ivt-xs-open connect NAME [options]   client end: receives and checks
 *
 * The server sends --bytes of a known pattern, the client checks every
 * byte and returns its FNV-1a checksum, both compare; the server closes
 * and the client checks it sees a clean end of stream. Prints PASS or FAIL.
 *
 * Options: --ring N, --backend B (default vchan), --bytes N (default
 * 64 MiB), --timeout S (default 60: for ivtd, the peer and each transfer
 * step). --peer D is accepted for compatibility but not enforced: libivt's
 * API has no way to insist on the server's domain; the policy decides.
 * Exit 0 on success, 1 on failure, 2 on usage errors.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ivt/ivt.h"

#define CHUNK (256 * 1024)

struct opts {
	int listen;
	const char *name, *backend;
	unsigned long long ring, bytes;
	int timeout_s;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: ivt-xs-open listen|connect NAME [--peer D] [--ring N] "
			"[--backend B] [--bytes N] [--timeout S]\n");
	return 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.backend = "vchan", .ring = 65536, .bytes = 64ull << 20,
			   .timeout_s = 60};
	if (argc < 3 || (strcmp(argv[1], "listen") && strcmp(argv[1], "connect")))
		return -1;
	o->listen = !strcmp(argv[1], "listen");
	o->name = argv[2];
	for (int i = 3; i < argc; i += 2) {
		if (i + 1 >= argc)
			return -1;
		const char *k = argv[i], *v = argv[i + 1];
		char *end;
		unsigned long long n = strtoull(v, &end, 0);
		if (!strcmp(k, "--backend"))
			o->backend = v;
		else if (*end || !*v)
			return -1;
		else if (!strcmp(k, "--peer"))
			continue; /* see the header comment */
		else if (!strcmp(k, "--ring"))
			o->ring = n;
		else if (!strcmp(k, "--bytes"))
			o->bytes = n;
		else if (!strcmp(k, "--timeout") && n > 0 && n < 86400)
			o->timeout_s = (int)n;
		else
			return -1;
	}
	return 0;
}

static uint8_t pattern(uint64_t i) { return (uint8_t)((i ^ (i >> 9) ^ (i >> 17)) * 131u + 7u); }

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static int run_server(ivt_channel *ch, const struct opts *o)
{
	static uint8_t buf[CHUNK];
	uint64_t h = 0xcbf29ce484222325ull, peer_h = 0;
	double t0 = now_s();
	for (uint64_t off = 0; off < o->bytes;) {
		size_t n = o->bytes - off < CHUNK ? (size_t)(o->bytes - off) : CHUNK;
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		h = fnv(h, buf, n);
		ssize_t rc = ivt_send(ch, buf, n);
		if (rc < 0)
			return fprintf(stderr, "send failed: %s\n", ivt_strerror((int)rc)), -1;
		off += n;
	}
	ssize_t rc = ivt_recv_all(ch, &peer_h, sizeof(peer_h));
	double dt = now_s() - t0;
	if (rc != (ssize_t)sizeof(peer_h))
		return fprintf(stderr, "no checksum from client: %s\n",
			       rc ? ivt_strerror((int)rc) : "end of stream"), -1;
	printf("server: sent %llu bytes in %.3f s (%.1f MB/s), fnv %016llx, client says %016llx\n",
	       o->bytes, dt, o->bytes / dt / 1e6, (unsigned long long)h,
	       (unsigned long long)peer_h);
	return h == peer_h ? 0 : -1;
}

static int run_client(ivt_channel *ch, const struct opts *o)
{
	static uint8_t buf[CHUNK];
	uint64_t h = 0xcbf29ce484222325ull, bad = 0;
	double t0 = now_s();
	for (uint64_t off = 0; off < o->bytes;) {
		size_t want = o->bytes - off < CHUNK ? (size_t)(o->bytes - off) : CHUNK;
		ssize_t n = ivt_recv(ch, buf, want);
		if (n <= 0)
			return fprintf(stderr, "recv at %llu: %s\n", (unsigned long long)off,
				       n ? ivt_strerror((int)n) : "early end of stream"), -1;
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != pattern(off + (uint64_t)i);
		h = fnv(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	double dt = now_s() - t0;
	ssize_t rc = ivt_send(ch, &h, sizeof(h));
	if (rc < 0)
		return fprintf(stderr, "sending checksum: %s\n", ivt_strerror((int)rc)), -1;
	/* The server closes after reading it: we must see a clean end. */
	char c;
	ssize_t n = ivt_recv(ch, &c, 1);
	printf("client: received %llu bytes in %.3f s (%.1f MB/s), fnv %016llx, %llu bad bytes, "
	       "end of stream: %s\n",
	       o->bytes, dt, o->bytes / dt / 1e6, (unsigned long long)h, (unsigned long long)bad,
	       n == 0 ? "yes" : "NO");
	return bad == 0 && n == 0 ? 0 : -1;
}

/* Errors that are ivtd's answer rather than a local failure. */
static int from_ivtd(int rc)
{
	return rc == -EACCES || rc == -ENOENT || rc == -EADDRINUSE || rc == -EMFILE ||
	       rc == -EINVAL;
}

int main(int argc, char **argv)
{
	struct opts o;
	if (parse_args(argc, argv, &o))
		return usage();
	/* This tool checks the guest path, even in dom0 next to ivtd's socket. */
	setenv("IVT_REGISTRY", "xenstore", 1);
	unsetenv("IVT_SOCKET");

	printf("%s %s: request via XenStore (data/ivt/%s/request), backend %s, ring %llu\n",
	       o.listen ? "listen" : "connect", o.name, o.name, o.backend, o.ring);
	struct ivt_open_opts opts = {.struct_size = sizeof(opts), .backend = o.backend,
				     .ring_size = (size_t)o.ring, .timeout_ms = o.timeout_s * 1000};
	ivt_channel *ch = NULL;
	int rc = ivt_open(o.name, o.listen ? IVT_LISTEN : 0, &opts, &ch);
	if (rc < 0) {
		if (from_ivtd(rc))
			fprintf(stderr, "ivtd refused: %s (%s)\n", strerror(-rc), ivt_strerror(rc));
		else
			fprintf(stderr, "%s failed: %s\n", o.listen ? "listen" : "connect",
				ivt_strerror(rc));
	} else {
		struct ivt_stats st;
		ivt_get_stats(ch, &st);
		printf("open: backend=%s ring=%llu\n", ivt_backend_name(ch),
		       (unsigned long long)st.ring_size);
		rc = o.listen ? run_server(ch, &o) : run_client(ch, &o);
		ivt_get_stats(ch, &st);
		printf("stats: ring %llu, notifies %llu, protocol errors %llu\n",
		       (unsigned long long)st.ring_size, (unsigned long long)st.notifies_sent,
		       (unsigned long long)st.protocol_errors);
		int crc = ivt_close(ch); /* removes the request: ivtd tells the peer */
		if (rc == 0 && crc < 0) {
			fprintf(stderr, "close: %s\n", ivt_strerror(crc));
			rc = -1;
		}
	}
	printf("%s\n", rc == 0 ? "PASS" : "FAIL");
	return rc == 0 ? 0 : 1;
}
