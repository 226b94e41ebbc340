/* SPDX-License-Identifier: MIT */
/*
 * ivt-xs-open: the guest side of docs/xenstore.md, for real Xen guests.
 *
 *   ivt-xs-open listen  NAME [options]   server end: sends the data
 *   ivt-xs-open connect NAME [options]   client end: receives and checks
 *
 * Writes the request, waits (with a watch) for ivtd's response carrying
 * our seq, opens the vchan through the vchan plugin (the same code libivt
 * will use), moves --bytes of a known pattern server -> client, the client
 * returns its FNV-1a checksum, both compare, then close gracefully
 * (the client also checks it sees end-of-stream) and remove the request.
 *
 * Options: --peer D (connect: insist on the server domain), --ring N,
 * --backend B (default vchan), --bytes N (default 64 MiB), --timeout S
 * (default 60). Exit 0 on success, 1 on failure, 2 on usage errors.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "common/ctrl_msg.h"
#include "common/plugin_loader.h"
#include "common/xs_paths.h"
#include "common/xs_request.h"
#include "common/xs_response.h"

#define CHUNK (256 * 1024)

struct opts {
	int listen;
	const char *name, *backend;
	long long peer;
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
	*o = (struct opts){.backend = "vchan", .peer = -1, .ring = 65536, .bytes = 64ull << 20,
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
			o->peer = (long long)n;
		else if (!strcmp(k, "--ring"))
			o->ring = n;
		else if (!strcmp(k, "--bytes"))
			o->bytes = n;
		else if (!strcmp(k, "--timeout"))
			o->timeout_s = (int)n;
		else
			return -1;
	}
	return ivt_name_valid(o->name) ? 0 : -1;
}

/* Wait for a response carrying our seq. */
static int wait_response(struct xs_handle *xs, const char *path, uint32_t seq, int timeout_s,
			 struct ivt_xs_response *resp)
{
	double deadline = now_s() + timeout_s;
	char why[160];
	if (!xs_watch(xs, path, "resp")) {
		perror("xs_watch");
		return -1;
	}
	for (;;) {
		unsigned len = 0;
		char *v = xs_read(xs, XBT_NULL, path, &len);
		if (v) {
			int rc = ivt_xs_parse_response(v, len, resp, why, sizeof(why));
			if (rc)
				fprintf(stderr, "ignoring malformed response '%.80s': %s\n", v, why);
			free(v);
			if (!rc && resp->has_seq && resp->seq == seq)
				break;
		}
		int left = (int)((deadline - now_s()) * 1000);
		if (left <= 0) {
			fprintf(stderr, "no response from ivtd within %d s (is ivtd running?)\n",
				timeout_s);
			return -1;
		}
		struct pollfd p = {.fd = xs_fileno(xs), .events = POLLIN};
		poll(&p, 1, left);
		char **ev;
		while ((ev = xs_check_watch(xs)))
			free(ev);
	}
	xs_unwatch(xs, path, "resp");
	return 0;
}

/* Wait until the endpoint may make progress for `events`. */
static int wait_ep(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, unsigned events,
		   int timeout_ms)
{
	if (ops->arm(ep, events))
		return 0;
	struct pollfd p = {.fd = ops->poll_fd(ep), .events = POLLIN};
	int n = poll(&p, 1, timeout_ms);
	if (n == 0)
		return -ETIMEDOUT;
	if (n > 0)
		ops->ack(ep);
	return 0;
}

static uint8_t pattern(uint64_t i) { return (uint8_t)((i ^ (i >> 9) ^ (i >> 17)) * 131u + 7u); }

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static int xfer_all(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, void *buf, size_t len,
		    int sending, int timeout_ms)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = sending ? ops->send(ep, (char *)buf + done, len - done)
				    : ops->recv(ep, (char *)buf + done, len - done);
		if (n == -EAGAIN) {
			if (wait_ep(ops, ep, sending ? IVT_EV_SEND : IVT_EV_RECV, timeout_ms))
				return -ETIMEDOUT;
			continue;
		}
		if (n <= 0)
			return n == 0 ? -ECONNRESET : (int)n;
		done += (size_t)n;
	}
	return 0;
}

static int run_server(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, const struct opts *o)
{
	static uint8_t buf[CHUNK];
	int tmo = o->timeout_s * 1000;
	uint64_t h = 0xcbf29ce484222325ull, peer_h = 0;
	while (ops->accept(ep) == -EAGAIN)
		if (wait_ep(ops, ep, IVT_EV_RECV, tmo))
			return fprintf(stderr, "no client within %d s\n", o->timeout_s), -1;
	double t0 = now_s();
	for (uint64_t off = 0; off < o->bytes;) {
		size_t n = o->bytes - off < CHUNK ? (size_t)(o->bytes - off) : CHUNK;
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		h = fnv(h, buf, n);
		int rc = xfer_all(ops, ep, buf, n, 1, tmo);
		if (rc)
			return fprintf(stderr, "send failed: %s\n", strerror(-rc)), -1;
		off += n;
	}
	int rc = xfer_all(ops, ep, &peer_h, sizeof(peer_h), 0, tmo);
	double dt = now_s() - t0;
	if (rc)
		return fprintf(stderr, "no checksum from client: %s\n", strerror(-rc)), -1;
	printf("server: sent %llu bytes in %.3f s (%.1f MB/s), fnv %016llx, client says %016llx\n",
	       o->bytes, dt, o->bytes / dt / 1e6, (unsigned long long)h,
	       (unsigned long long)peer_h);
	return h == peer_h ? 0 : -1;
}

static int run_client(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, const struct opts *o)
{
	static uint8_t buf[CHUNK];
	int tmo = o->timeout_s * 1000;
	uint64_t h = 0xcbf29ce484222325ull, bad = 0;
	double t0 = now_s();
	for (uint64_t off = 0; off < o->bytes;) {
		size_t want = o->bytes - off < CHUNK ? (size_t)(o->bytes - off) : CHUNK;
		ssize_t n = ops->recv(ep, buf, want);
		if (n == -EAGAIN) {
			if (wait_ep(ops, ep, IVT_EV_RECV, tmo))
				return fprintf(stderr, "recv timed out at %llu\n",
					       (unsigned long long)off), -1;
			continue;
		}
		if (n <= 0)
			return fprintf(stderr, "recv at %llu: %s\n", (unsigned long long)off,
				       n ? strerror((int)-n) : "early end of stream"), -1;
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != pattern(off + (uint64_t)i);
		h = fnv(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	double dt = now_s() - t0;
	int rc = xfer_all(ops, ep, &h, sizeof(h), 1, tmo);
	if (rc)
		return fprintf(stderr, "sending checksum: %s\n", strerror(-rc)), -1;
	/* The server closes after reading it: we must see a clean end. */
	char c;
	ssize_t n;
	while ((n = ops->recv(ep, &c, 1)) == -EAGAIN)
		if (wait_ep(ops, ep, IVT_EV_RECV, tmo))
			break;
	printf("client: received %llu bytes in %.3f s (%.1f MB/s), fnv %016llx, %llu bad bytes, "
	       "end of stream: %s\n",
	       o->bytes, dt, o->bytes / dt / 1e6, (unsigned long long)h, (unsigned long long)bad,
	       n == 0 ? "yes" : "NO");
	return bad == 0 && n == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	char req_path[256], resp_path[256], value[IVT_XS_REQUEST_MAX + 1], why[256];
	struct ivt_xs_response resp;
	unsigned len;

	if (parse_args(argc, argv, &o))
		return usage();
	struct xs_handle *xs = xs_open(0);
	if (!xs)
		return perror("cannot reach XenStore"), 1;
	char *self = xs_read(xs, XBT_NULL, "domid", &len);
	uint32_t domid;
	if (!self || ivt_xs_parse_domid(self, len, &domid))
		return fprintf(stderr, "cannot read my domid from XenStore\n"), 1;
	free(self);

	uint32_t seq = (uint32_t)(getpid() ^ (uint32_t)time(NULL));
	if (ivt_xs_end_path(req_path, sizeof(req_path), domid, o.name, IVT_XS_LEAF_REQUEST) ||
	    ivt_xs_end_path(resp_path, sizeof(resp_path), domid, o.name, IVT_XS_LEAF_RESPONSE) ||
	    ivt_xs_format_request(value, sizeof(value), o.listen, o.backend, o.ring, o.peer, seq))
		return fprintf(stderr, "bad name, backend, ring or peer\n"), 2;
	if (!xs_write(xs, XBT_NULL, req_path, value, strlen(value)))
		return perror("writing request"), 1;
	printf("dom%u: %s = \"%s\"\n", domid, req_path, value);

	int rc = wait_response(xs, resp_path, seq, o.timeout_s, &resp);
	if (rc == 0 && !resp.ok) {
		fprintf(stderr, "ivtd refused: %s (%s)\n", strerror(resp.err), resp.reason);
		rc = -1;
	}
	if (rc == 0 && strcmp(resp.backend, "vchan")) {
		fprintf(stderr, "ivtd chose backend %s; this tool only speaks vchan\n", resp.backend);
		rc = -1;
	}
	const struct ivt_plugin_ops *ops = NULL;
	if (rc == 0 && !(ops = ivt_plugin_load(NULL, "vchan", why, sizeof(why)))) {
		fprintf(stderr, "%s\n", why);
		rc = -1;
	}
	if (rc == 0) {
		printf("response: backend=%s ring=%llu path=%s peer=%u\n", resp.backend,
		       (unsigned long long)resp.ring_size, resp.path, resp.peer_domid);
		struct ivt_ep_params p = {.channel = o.name, .is_server = o.listen,
					  .local_domid = domid, .peer_domid = resp.peer_domid,
					  .ring_size = resp.ring_size, .xs_path = resp.path,
					  .timeout_ms = o.timeout_s * 1000};
		struct ivt_ep *ep = NULL;
		rc = o.listen ? ops->listen(&p, &ep) : ops->connect(&p, &ep);
		if (rc)
			fprintf(stderr, "%s failed: %s\n", o.listen ? "listen" : "connect",
				strerror(-rc));
		else
			rc = o.listen ? run_server(ops, ep, &o) : run_client(ops, ep, &o);
		if (ep) {
			struct ivt_ep_stats st;
			ops->stats(ep, &st);
			printf("stats: ring %llu, notifies %llu, protocol errors %llu\n",
			       (unsigned long long)st.ring_size, (unsigned long long)st.notifies_sent,
			       (unsigned long long)st.protocol_errors);
			ops->close(ep);
		}
	}
	xs_rm(xs, XBT_NULL, req_path); /* graceful close for ivtd */
	xs_close(xs);
	printf("%s\n", rc == 0 ? "PASS" : "FAIL");
	return rc == 0 ? 0 : 1;
}
