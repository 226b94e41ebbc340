/* SPDX-License-Identifier: MIT */
/*
 * verbs-bench: bandwidth and latency through the verbs plugin between two
 * processes on one RDMA device (soft-RoCE in the test VM), to set against
 * perftest's ib_write_bw / ib_send_lat on the same device.
 *
 *   send_bw        byte pipe, one message of `size` per send() call
 *   rdma_write_bw  rdma_write of `size` into the peer's region, 8 in flight
 *   send_lat       ping-pong of `size` bytes over the byte pipe; half RTT
 *
 * Busy polling by default, like perftest; --event waits on poll_fd.
 * MiB/s = 2^20 bytes per second (perftest's "MB/sec" unit).
 * Usage: verbs-bench [--event] [--sizes 64,4096,...] [--lat-iters N]
 *                    [--bytes-per-size N]
 * Output: a table and "VERBS-BENCH <test> <size> <value> <unit>" lines.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ivt/ivt.h"
#include "testsupport/ep_io.h"
#include "testsupport/oob_pair.h"
#include "testsupport/plugin_find.h"

#define TMO 60000
#define MAXSIZES 16

static const struct ivt_plugin_ops *P;
static int busy = 1;
/* how ep_io waits: spinning (busy polling) or on poll_fd */
#define WAIT (busy ? EP_IO_SPIN : TMO)
static size_t sizes[MAXSIZES] = {64, 1024, 4096, 65536, 1048576};
static int nsizes = 5;
static int lat_iters = 2000;
static uint64_t bytes_per_size = 64ull << 20;

static uint8_t *buf;
static size_t buflen;

static void die(const char *what, long rc)
{
	fprintf(stderr, "verbs-bench: %s: %ld (%s)\n", what, rc, strerror((int)-rc));
	exit(1);
}

static uint64_t msgs_for(size_t size)
{
	uint64_t n = bytes_per_size / size;
	return n < 100 ? 100 : n > 200000 ? 200000 : n;
}

static void result(const char *test, size_t size, uint64_t iters, double value, const char *unit)
{
	printf("%-14s %9zu %9llu %12.2f %s\n", test, size, (unsigned long long)iters, value, unit);
	printf("VERBS-BENCH %s %zu %.3f %s\n", test, size, value, unit);
	fflush(stdout);
}

/* ---- the sending/measuring side (server) ------------------------------------ */

static void server(struct ivt_ep *ep)
{
	uint8_t ack;
	for (int i = 0; i < nsizes; i++) {
		size_t s = sizes[i];
		uint64_t n = msgs_for(s);
		double t0 = ep_io_now();
		for (uint64_t m = 0; m < n; m++) {
			ssize_t rc = ep_send_all(P, ep, buf, s, WAIT);
			if (rc < 0)
				die("send", rc);
		}
		ssize_t rc = ep_recv_all(P, ep, &ack, 1, WAIT);
		if (rc != 1)
			die("ack", rc);
		double dt = ep_io_now() - t0;
		result("send_bw", s, n, (double)(n * s) / (1 << 20) / dt, "MiB/s");
	}

	uint64_t key;
	if (ep_recv_all(P, ep, &key, sizeof(key), WAIT) != sizeof(key))
		die("key", -EPROTO);
	for (int i = 0; i < nsizes; i++) {
		size_t s = sizes[i];
		if (s > P->max_rdma_len)
			continue;
		uint64_t n = msgs_for(s), posted = 0, done = 0;
		double t0 = ep_io_now();
		while (done < n) {
			while (posted < n) {
				int rc = P->rdma_write(ep, buf, s, key, 0, posted);
				if (rc == -EAGAIN)
					break;
				if (rc)
					die("rdma_write", rc);
				posted++;
			}
			struct ivt_ep_completion c[16];
			int got = P->poll_completions(ep, c, 16);
			if (got < 0)
				die("poll_completions", got);
			for (int k = 0; k < got; k++)
				if (c[k].status)
					die("rdma completion", c[k].status);
			done += (uint64_t)got;
			if (!got && ep_wait(P, ep, IVT_EV_COMPLETION, WAIT) < 0)
				die("wait completion", -ETIMEDOUT);
		}
		double dt = ep_io_now() - t0;
		result("rdma_write_bw", s, n, (double)(n * s) / (1 << 20) / dt, "MiB/s");
	}

	for (int i = 0; i < nsizes; i++) {
		size_t s = sizes[i];
		if (s > 65536)
			continue;
		double t0 = ep_io_now();
		for (int k = 0; k < lat_iters; k++) {
			if (ep_send_all(P, ep, buf, s, WAIT) < 0 ||
			    ep_recv_all(P, ep, buf, s, WAIT) != (ssize_t)s)
				die("ping-pong", -EPROTO);
		}
		double dt = ep_io_now() - t0;
		result("send_lat", s, (uint64_t)lat_iters, dt / lat_iters / 2 * 1e6, "usec");
	}
}

/* ---- the receiving side (client) ----------------------------------------------- */

static void client(struct ivt_ep *ep)
{
	for (int i = 0; i < nsizes; i++) {
		uint64_t total = msgs_for(sizes[i]) * sizes[i], got = 0;
		while (got < total) {
			size_t want = total - got < buflen ? (size_t)(total - got) : buflen;
			ssize_t rc = ep_recv_all(P, ep, buf, want, WAIT);
			if (rc <= 0)
				die("recv", rc);
			got += (uint64_t)rc;
		}
		if (ep_send_all(P, ep, "A", 1, WAIT) < 0)
			die("ack", -EIO);
	}
	uint64_t key;
	int rc = P->register_region(ep, buf, buflen, IVT_ACCESS_REMOTE_WRITE, &key);
	if (rc)
		die("register_region", rc);
	if (ep_send_all(P, ep, &key, sizeof(key), WAIT) < 0)
		die("send key", -EIO);
	for (int i = 0; i < nsizes; i++) {
		size_t s = sizes[i];
		if (s > 65536)
			continue;
		static uint8_t pong[65536];
		for (int k = 0; k < lat_iters; k++)
			if (ep_recv_all(P, ep, pong, s, WAIT) != (ssize_t)s ||
			    ep_send_all(P, ep, pong, s, WAIT) < 0)
				die("pong", -EPROTO);
	}
	uint8_t c;
	ep_recv_all(P, ep, &c, 1, WAIT); /* until the server closes */
}

static int parse_sizes(const char *s)
{
	nsizes = 0;
	char *copy = strdup(s), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t && nsizes < MAXSIZES;
	     t = strtok_r(NULL, ",", &save)) {
		long v = atol(t);
		if (v <= 0 || v > (64l << 20))
			return -1;
		sizes[nsizes++] = (size_t)v;
	}
	free(copy);
	return nsizes ? 0 : -1;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--event"))
			busy = 0;
		else if (!strcmp(argv[i], "--sizes") && i + 1 < argc && !parse_sizes(argv[i + 1]))
			i++;
		else if (!strcmp(argv[i], "--lat-iters") && i + 1 < argc)
			lat_iters = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--bytes-per-size") && i + 1 < argc)
			bytes_per_size = strtoull(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: %s [--event] [--sizes a,b,...] [--lat-iters N] "
					"[--bytes-per-size N]\n", argv[0]);
			return 2;
		}
	}
	if (lat_iters <= 0 || bytes_per_size == 0)
		return 2;
	char why[256] = "";
	if (!(P = ts_plugin_load("verbs", why, sizeof(why)))) {
		fprintf(stderr, "verbs-bench: %s\n", why);
		return 1;
	}
	if (!P->rdma_write) {
		fprintf(stderr, "verbs-bench: the verbs plugin has no native one-sided ops\n");
		return 1;
	}
	if (P->probe(why, sizeof(why))) {
		printf("verbs-bench: SKIP: %s\n", why);
		return 77;
	}
	for (int i = 0; i < nsizes; i++)
		if (sizes[i] > buflen)
			buflen = sizes[i];
	if (buflen < P->max_rdma_len)
		buflen = P->max_rdma_len;
	buf = aligned_alloc(4096, (buflen + 4095) & ~(size_t)4095);
	memset(buf, 0x5a, buflen);

	printf("# verbs-bench on %s, %s polling, ring 4 MiB\n", why, busy ? "busy" : "event");
	printf("%-14s %9s %9s %12s\n", "# test", "size", "iters", "value");
	fflush(stdout);
	struct oob_end oob[2];
	int rc = oob_pair_open(&oob[0], &oob[1]);
	if (rc)
		die("socketpair", rc);
	pid_t child = fork();
	struct ivt_ep *ep;
	if (child == 0) {
		oob_end_close(&oob[0]);
		rc = ep_open(P, &oob[1].oob, "verbs-bench", 0, 4 << 20, TMO, &ep);
		if (rc)
			die("connect", rc);
		client(ep);
		P->close(ep);
		_exit(0);
	}
	oob_end_close(&oob[1]);
	rc = ep_open(P, &oob[0].oob, "verbs-bench", 1, 4 << 20, TMO, &ep);
	if (rc) {
		kill(child, SIGKILL);
		die("accept", rc);
	}
	server(ep);
	P->close(ep);
	int st;
	waitpid(child, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
