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
 *   ivt-xs-open accept  NAME --count N   ivt_listen: serves N connections
 *
 * The server sends --bytes of a known pattern, the client checks every
 * byte and returns its FNV-1a checksum, both compare; the server closes
 * and the client checks it sees a clean end of stream. Prints PASS or FAIL.
 *
 * accept: ivt_listen once, ivt_accept --count connections (each waited
 * for up to --timeout), each served by a thread of its own. A connector
 * with --seed S first sends S and its --bytes; the stream it gets is
 * the pattern shifted by S, so streams that crossed would not verify.
 * Each connection is closed as soon as it is served (its connector waits
 * for that end of stream) while the listener goes on accepting.
 * A connection whose peer died (-ECONNRESET, its domain destroyed) is
 * counted, not failed: PASS needs exactly --expect-died of those, the
 * others verified, and no other error.
 *
 * Options: --ring N, --backend B (default vchan), --bytes N (default
 * 64 MiB), --timeout S (default 60: for ivtd, the peer and each transfer
 * step), --seed S (connect), --count N and --expect-died D (accept),
 * --registry xenstore|local (default xenstore). --peer D is accepted for
 * compatibility but not enforced: libivt's API has no way to insist on
 * the server's domain; the policy decides.
 * Exit 0 on success, 1 on failure, 2 on usage errors.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ivt/ivt.h"

#define CHUNK (256 * 1024)

struct opts {
	int listen, accept;
	const char *name, *backend, *registry;
	unsigned long long ring, bytes, seed;
	unsigned count, expect_died;
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
	fprintf(stderr, "usage: ivt-xs-open listen|connect|accept NAME [--peer D] [--ring N] "
			"[--backend B] [--bytes N] [--timeout S] [--seed S] [--count N] "
			"[--expect-died D] [--registry xenstore|local]\n");
	return 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.backend = "vchan", .registry = "xenstore", .ring = 65536,
			   .bytes = 64ull << 20, .timeout_s = 60};
	if (argc < 3 ||
	    (strcmp(argv[1], "listen") && strcmp(argv[1], "connect") && strcmp(argv[1], "accept")))
		return -1;
	o->accept = !strcmp(argv[1], "accept");
	o->listen = !strcmp(argv[1], "listen") || o->accept;
	o->count = 1;
	o->name = argv[2];
	for (int i = 3; i < argc; i += 2) {
		if (i + 1 >= argc)
			return -1;
		const char *k = argv[i], *v = argv[i + 1];
		char *end;
		unsigned long long n = strtoull(v, &end, 0);
		if (!strcmp(k, "--backend"))
			o->backend = v;
		else if (!strcmp(k, "--registry") && (!strcmp(v, "xenstore") || !strcmp(v, "local")))
			o->registry = v;
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
		else if (!strcmp(k, "--seed"))
			o->seed = n;
		else if (!strcmp(k, "--count") && n > 0 && n <= 256)
			o->count = (unsigned)n;
		else if (!strcmp(k, "--expect-died") && n <= 256)
			o->expect_died = (unsigned)n;
		else
			return -1;
	}
	return 0;
}

static uint8_t pattern(uint64_t i) { return (uint8_t)((i ^ (i >> 9) ^ (i >> 17)) * 131u + 7u); }
/* Stream position i of the stream for seed (0: the plain pattern). */
static uint8_t seeded(uint64_t seed, uint64_t i) { return pattern(i + seed * 1000003u); }

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Sends bytes of the seed's stream, then compares the client's checksum.
 * 0 verified, -ECONNRESET the peer died, -1 anything else. */
static int serve(ivt_channel *ch, uint64_t seed, uint64_t bytes, const char *who)
{
	uint8_t *buf = malloc(CHUNK);
	uint64_t h = 0xcbf29ce484222325ull, peer_h = 0, off = 0;
	int ret = -1;
	double t0 = now_s();
	if (!buf)
		return -1;
	while (off < bytes) {
		size_t n = bytes - off < CHUNK ? (size_t)(bytes - off) : CHUNK;
		for (size_t i = 0; i < n; i++)
			buf[i] = seeded(seed, off + i);
		h = fnv(h, buf, n);
		ssize_t rc = ivt_send(ch, buf, n);
		if (rc < 0) {
			printf("%s: send at %llu failed: %s\n", who, (unsigned long long)off,
			       ivt_strerror((int)rc));
			ret = rc == -ECONNRESET ? -ECONNRESET : -1;
			goto out;
		}
		off += n;
	}
	ssize_t rc = ivt_recv_all(ch, &peer_h, sizeof(peer_h));
	double dt = now_s() - t0;
	if (rc != (ssize_t)sizeof(peer_h)) {
		printf("%s: no checksum from client: %s\n", who,
		       rc ? ivt_strerror((int)rc) : "end of stream");
		ret = rc == -ECONNRESET ? -ECONNRESET : -1;
		goto out;
	}
	printf("%s: sent %llu bytes in %.3f s (%.1f MB/s), fnv %016llx, client says %016llx\n",
	       who, (unsigned long long)bytes, dt, bytes / dt / 1e6, (unsigned long long)h,
	       (unsigned long long)peer_h);
	ret = h == peer_h ? 0 : -1;
out:
	free(buf);
	return ret;
}

static int run_server(ivt_channel *ch, const struct opts *o)
{
	return serve(ch, 0, o->bytes, "server") == 0 ? 0 : -1;
}

/* ---- accept: one thread per connection -------------------------------- */

struct conn {
	pthread_t thread;
	ivt_channel *ch;
	unsigned index;
	int result; /* serve()'s */
	char who[80];
};

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	uint64_t hello[2]; /* seed, bytes */
	ssize_t rc = ivt_recv_all(c->ch, hello, sizeof(hello));
	if (rc != (ssize_t)sizeof(hello)) {
		printf("%s: no seed: %s\n", c->who, rc ? ivt_strerror((int)rc) : "end of stream");
		c->result = rc == -ECONNRESET ? -ECONNRESET : -1;
		ivt_close(c->ch);
		c->ch = NULL;
		return NULL;
	}
	snprintf(c->who + strlen(c->who), sizeof(c->who) - strlen(c->who), " seed %llu",
		 (unsigned long long)hello[0]);
	c->result = serve(c->ch, hello[0], hello[1], c->who);
	/* Close now, not when the accept loop ends: the connector waits for
	 * this end of stream, and a service keeps accepting meanwhile. */
	ivt_close(c->ch);
	c->ch = NULL;
	fflush(stdout);
	return NULL;
}

static int run_accept(const struct opts *o)
{
	struct ivt_open_opts lo = {.struct_size = sizeof(lo), .backend = o->backend,
				   .ring_size = (size_t)o->ring, .timeout_ms = o->timeout_s * 1000,
				   .flags = IVT_NONBLOCK};
	ivt_listener *l = NULL;
	int rc = ivt_listen(o->name, &lo, &l);
	if (rc < 0) {
		fprintf(stderr, "ivt_listen: %s\n", ivt_strerror(rc));
		return -1;
	}
	printf("accept %s: listening (ivt_listen), %u connections to serve\n", o->name, o->count);
	fflush(stdout);
	struct conn *conns = calloc(o->count, sizeof(*conns));
	unsigned n = 0, verified = 0, died = 0, failed = 0;
	while (conns && n < o->count) {
		struct pollfd p = {.fd = ivt_listener_fd(l), .events = POLLIN};
		if (poll(&p, 1, o->timeout_s * 1000) == 0) {
			printf("accept: no connector within %d s (%u accepted)\n", o->timeout_s, n);
			break;
		}
		struct conn *c = &conns[n];
		rc = ivt_accept(l, &c->ch);
		if (rc == -EAGAIN)
			continue; /* readable without a connector left: poll again */
		if (rc < 0) {
			printf("ivt_accept: %s\n", ivt_strerror(rc));
			failed++;
			break;
		}
		c->index = n++;
		snprintf(c->who, sizeof(c->who), "conn %u from %s", c->index,
			 ivt_peer_identity(c->ch));
		printf("%s: accepted\n", c->who);
		fflush(stdout);
		if (pthread_create(&c->thread, NULL, conn_main, c)) {
			c->result = -1;
			c->thread = 0;
			ivt_close(c->ch);
			c->ch = NULL;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (conns[i].thread)
			pthread_join(conns[i].thread, NULL);
		if (conns[i].result == 0)
			verified++;
		else if (conns[i].result == -ECONNRESET)
			died++;
		else
			failed++;
	}
	free(conns);
	ivt_listener_close(l);
	printf("accept %s: %u accepted, %u verified, %u peer died, %u failed\n", o->name, n,
	       verified, died, failed);
	return n == o->count && failed == 0 && died == o->expect_died ? 0 : -1;
}

static int run_client(ivt_channel *ch, const struct opts *o)
{
	static uint8_t buf[CHUNK];
	uint64_t h = 0xcbf29ce484222325ull, bad = 0;
	double t0 = now_s();
	if (o->seed) {
		uint64_t hello[2] = {o->seed, o->bytes};
		ssize_t rc = ivt_send(ch, hello, sizeof(hello));
		if (rc < 0)
			return fprintf(stderr, "sending seed: %s\n", ivt_strerror((int)rc)), -1;
	}
	for (uint64_t off = 0; off < o->bytes;) {
		size_t want = o->bytes - off < CHUNK ? (size_t)(o->bytes - off) : CHUNK;
		ssize_t n = ivt_recv(ch, buf, want);
		if (n <= 0)
			return fprintf(stderr, "recv at %llu: %s\n", (unsigned long long)off,
				       n ? ivt_strerror((int)n) : "early end of stream"), -1;
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != seeded(o->seed, off + (uint64_t)i);
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
	setvbuf(stdout, NULL, _IOLBF, 0); /* guests' lines interleave on consoles */
	/* This tool checks the guest path, even in dom0 next to ivtd's socket;
	 * --registry local runs the same choreography through ivtd's socket
	 * (tests/xs/accept-rounds.sh, no Xen needed). */
	setenv("IVT_REGISTRY", o.registry, 1);
	if (!strcmp(o.registry, "xenstore"))
		unsetenv("IVT_SOCKET");
	if (o.accept) {
		int rc = run_accept(&o);
		printf("%s\n", rc == 0 ? "PASS" : "FAIL");
		return rc == 0 ? 0 : 1;
	}

	printf("%s %s: request via %s, backend %s, ring %llu\n", o.listen ? "listen" : "connect",
	       o.name, strcmp(o.registry, "local") ? "XenStore" : "ivtd's socket", o.backend, o.ring);
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
