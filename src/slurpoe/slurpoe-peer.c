/* SPDX-License-Identifier: MIT */
/*
 * slurpoe-peer: one end of a SLURPoE connection over a real interface,
 * for tests and demos.
 *
 *   slurpoe-peer --if veth0 --listen EP [--mode stream|rdma]
 *   slurpoe-peer --if veth1 --connect MAC EP --bytes N [--mode stream|rdma]
 *
 * stream: the client sends N pattern bytes and closes; the server checks
 * every byte, answers with (count, crc32c) and closes; both print a line.
 * rdma: the server registers an N-byte region and sends its key; the
 * client RDMA-writes the pattern into it, reads it back, checks, and
 * tells the server, which checks its memory too.
 * --busy-poll US spins that long before sleeping, reading a TPACKET_V2
 * ring (rxring.h; the path it got is printed).
 * Exit: 0 ok, 1 usage/setup, 2 transfer error (e.g. the peer died), 3
 * data mismatch.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "loop.h"

#define CHUNK 65536
#define RDMA_CHUNK (1u << 20)
#define RDMA_DEPTH 16

static struct {
	const char *ifname, *impair, *mode;
	int listen;
	uint32_t ep;
	uint8_t mac[6];
	uint64_t bytes;
	int ring, xdp, udp, verbose, timeout_s;
	uint32_t retries, busy_poll_us;
} opt = {.mode = "stream", .bytes = 1 << 20, .timeout_s = 120};

static struct slp_loop loop;
static struct slp_conn *conn;
static uint64_t deadline_us;

static void pattern(uint64_t off, uint8_t *buf, size_t len)
{
	/* Position-dependent, so lost, duplicated or reordered bytes show. */
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (off + i) >> 3;
		x = (x ^ (x >> 17)) * 0x9E3779B97F4A7C15ull;
		buf[i] = (uint8_t)(x >> (8 * ((off + i) & 7)));
	}
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "slurpoe-peer: %s: %s\n", what, strerror(-err));
	return 2;
}

/* Run the loop until cond() holds; the connection failing ends it too. */
static int wait_for(int (*cond)(void *), void *arg)
{
	return slp_loop_wait_until(&loop, &conn, cond, arg, deadline_us);
}

static int is_open(void *arg)
{
	(void)arg;
	return conn && slp_conn_state(conn) == SLP_ST_OPEN;
}

static int is_closed(void *arg)
{
	(void)arg;
	return slp_conn_state(conn) == SLP_ST_CLOSED;
}

/* Blocking helpers over the non-blocking engine, within the run's time. */
static int send_all(const void *buf, size_t len)
{
	return slp_loop_send_until(&loop, conn, buf, len, deadline_us);
}

static ssize_t recv_some(void *buf, size_t len)
{
	return slp_loop_recv_some_until(&loop, conn, buf, len, deadline_us);
}

static int recv_all(void *buf, size_t len)
{
	return slp_loop_recv_until(&loop, conn, buf, len, deadline_us);
}

/* Like TCP's TIME_WAIT: after CLOSED, stay a moment to acknowledge a
 * retransmitted CLOSE whose first ACK was lost, or the peer times out. */
static void linger(void)
{
	uint64_t end = slp_clock_us() + 300000;
	while (slp_clock_us() < end)
		slp_loop_run_once(&loop, 20);
}

static int finish(void)
{
	int err = slp_close(conn);
	if (!err)
		err = wait_for(is_closed, NULL);
	if (!err)
		linger();
	return err;
}

static int stream_server(void)
{
	static uint8_t buf[CHUNK], want[CHUNK];
	uint64_t got = 0;
	uint32_t crc = 0;
	int bad = 0;
	uint64_t t0 = slp_clock_us();
	for (;;) {
		ssize_t r = recv_some(buf, sizeof(buf));
		if (r == 0)
			break;
		if (r < 0) {
			fprintf(stderr, "slurpoe-peer: after %" PRIu64 " bytes: %s\n", got,
				strerror((int)-r));
			return 2;
		}
		pattern(got, want, (size_t)r);
		if (memcmp(buf, want, (size_t)r) && !bad) {
			fprintf(stderr, "slurpoe-peer: mismatch near byte %" PRIu64 "\n", got);
			bad = 1;
		}
		crc = slp_crc32c(crc, buf, (size_t)r);
		got += (uint64_t)r;
	}
	double s = (double)(slp_clock_us() - t0) / 1e6;
	uint8_t reply[12];
	memcpy(reply, &got, 8);
	memcpy(reply + 8, &crc, 4);
	int err = send_all(reply, sizeof(reply));
	if (!err)
		err = finish();
	printf("received %" PRIu64 " bytes crc32c=%08x in %.2f s (%.1f MB/s) %s\n", got, crc, s,
	       s > 0 ? (double)got / s / 1e6 : 0.0, bad ? "MISMATCH" : "ok");
	if (err)
		return fail("close", err);
	return bad ? 3 : 0;
}

static int stream_client(void)
{
	static uint8_t buf[CHUNK];
	uint32_t crc = 0;
	uint64_t t0 = slp_clock_us();
	for (uint64_t off = 0; off < opt.bytes;) {
		size_t n = opt.bytes - off < CHUNK ? (size_t)(opt.bytes - off) : CHUNK;
		pattern(off, buf, n);
		crc = slp_crc32c(crc, buf, n);
		int err = send_all(buf, n);
		if (err) {
			fprintf(stderr, "slurpoe-peer: after %" PRIu64 " bytes: %s\n", off,
				strerror(-err));
			return 2;
		}
		off += n;
	}
	int err = slp_close(conn);
	uint8_t reply[12];
	if (!err)
		err = recv_all(reply, sizeof(reply));
	if (err)
		return fail("waiting for the receiver's summary", err);
	uint64_t got;
	uint32_t pcrc;
	memcpy(&got, reply, 8);
	memcpy(&pcrc, reply + 8, 4);
	err = wait_for(is_closed, NULL);
	if (!err)
		linger();
	double s = (double)(slp_clock_us() - t0) / 1e6;
	printf("sent %" PRIu64 " bytes crc32c=%08x in %.2f s (%.1f MB/s); peer got %" PRIu64
	       " crc32c=%08x %s\n",
	       opt.bytes, crc, s, (double)opt.bytes / s / 1e6, got, pcrc,
	       got == opt.bytes && pcrc == crc ? "ok" : "MISMATCH");
	if (err)
		return fail("close", err);
	return got == opt.bytes && pcrc == crc ? 0 : 3;
}

static int rdma_server(void)
{
	size_t len = (size_t)opt.bytes;
	uint8_t *region = calloc(1, len ? len : 1), *want = malloc(CHUNK);
	uint64_t key;
	int err = slp_register_region(conn, region, len, SLP_ACCESS_WRITE | SLP_ACCESS_READ, &key);
	if (err)
		return fail("register", err);
	uint64_t hello[2] = {key, len};
	err = send_all(hello, sizeof(hello));
	char done[4];
	if (!err)
		err = recv_all(done, sizeof(done));
	if (err)
		return fail("rdma session", err);
	int bad = 0;
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;
		pattern(off, want, n);
		bad |= memcmp(region + off, want, n) != 0;
	}
	err = finish();
	printf("region of %zu bytes written by the peer: %s\n", len, bad ? "MISMATCH" : "ok");
	free(region);
	free(want);
	if (err)
		return fail("close", err);
	return bad ? 3 : 0;
}

struct cq_wait {
	int outstanding, errors;
};

static int cq_below(void *arg)
{
	struct cq_wait *w = arg;
	struct slp_completion cqe[RDMA_DEPTH];
	int n = slp_poll_cq(conn, cqe, RDMA_DEPTH);
	for (int i = 0; i < n; i++) {
		if (cqe[i].status) {
			fprintf(stderr, "slurpoe-peer: op %" PRIu64 ": %s\n", cqe[i].wr_id,
				strerror(-cqe[i].status));
			w->errors++;
		}
	}
	w->outstanding -= n;
	return w->outstanding < RDMA_DEPTH;
}

static int cq_empty(void *arg)
{
	cq_below(arg);
	return ((struct cq_wait *)arg)->outstanding == 0;
}

static int rdma_client(void)
{
	uint64_t hello[2];
	int err = recv_all(hello, sizeof(hello));
	if (err)
		return fail("waiting for the region key", err);
	uint64_t key = hello[0], len = hello[1];
	uint8_t *buf = malloc(len ? len : 1), *back = calloc(1, len ? len : 1);
	struct cq_wait w = {0};
	uint64_t t0 = slp_clock_us();
	for (int pass = 0; pass < 2 && !err; pass++) {
		for (uint64_t off = 0; off < len && !err; off += RDMA_CHUNK) {
			size_t n = len - off < RDMA_CHUNK ? (size_t)(len - off) : RDMA_CHUNK;
			err = wait_for(cq_below, &w);
			if (err)
				break;
			/* The data is made chunk by chunk, between loop turns: a
			 * long pause before the first would leave the server's
			 * ACCEPT unconfirmed (impairment holds our ACK until the
			 * loop runs) for longer than it waits. */
			if (pass == 0)
				pattern(off, buf + off, n);
			err = pass == 0 ? slp_rdma_write(conn, buf + off, n, key, off, off)
					: slp_rdma_read(conn, back + off, n, key, off, off);
			w.outstanding++;
		}
		if (!err)
			err = wait_for(cq_empty, &w);
		if (pass == 0)
			printf("rdma-wrote %" PRIu64 " bytes in %.2f s\n", len,
			       (double)(slp_clock_us() - t0) / 1e6);
	}
	if (err)
		return fail("rdma", err);
	int bad = w.errors || memcmp(buf, back, len);
	err = send_all("done", 4);
	if (!err)
		err = finish();
	printf("rdma write+read of %" PRIu64 " bytes in %.2f s: %s\n", len,
	       (double)(slp_clock_us() - t0) / 1e6, bad ? "MISMATCH" : "ok");
	free(buf);
	free(back);
	if (err)
		return fail("close", err);
	return bad ? 3 : 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 255)
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: slurpoe-peer --if IFACE (--listen EP | --connect MAC EP) [--bytes N]\n"
		"         [--mode stream|rdma] [--ring] [--xdp] [--udp] [--impair loss=5,dup=1,reorder=25,delay_us=1000]\n"
		"         [--retries N] [--timeout S] [--busy-poll US]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"if", 1, 0, 'i'},      {"listen", 1, 0, 'l'}, {"connect", 1, 0, 'c'},
		{"bytes", 1, 0, 'b'},   {"mode", 1, 0, 'm'},   {"ring", 0, 0, 'r'},
		{"impair", 1, 0, 'I'},  {"retries", 1, 0, 'R'}, {"timeout", 1, 0, 't'},
		{"xdp", 0, 0, 'X'},     {"udp", 0, 0, 'U'},    {"busy-poll", 1, 0, 'B'},
		{0, 0, 0, 0}};
	int c, role = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'i': opt.ifname = optarg; break;
		case 'l': opt.listen = 1; opt.ep = (uint32_t)strtoul(optarg, NULL, 0); role++; break;
		case 'c':
			if (optind >= argc || parse_mac(optarg, opt.mac)) {
				usage();
				return 1;
			}
			opt.ep = (uint32_t)strtoul(argv[optind++], NULL, 0);
			role++;
			break;
		case 'b': opt.bytes = strtoull(optarg, NULL, 0); break;
		case 'm': opt.mode = optarg; break;
		case 'r': opt.ring = 1; break;
		case 'X': opt.xdp = 1; break;
		case 'U': opt.udp = 1; break;
		case 'B': opt.busy_poll_us = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'I': opt.impair = optarg; break;
		case 'R': opt.retries = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 't': opt.timeout_s = atoi(optarg) > 0 ? atoi(optarg) : 120; break;
		default: usage(); return 1;
		}
	}
	if (!opt.ifname || role != 1 || !opt.ep ||
	    (strcmp(opt.mode, "stream") && strcmp(opt.mode, "rdma")) ||
	    (!strcmp(opt.mode, "rdma") && opt.bytes > (1ull << 30))) {
		usage();
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	struct slp_loop_opts lo2 = {.ifname = opt.ifname,
				    .rawsock_flags = (opt.ring ? SLP_RS_RX_RING : 0) |
						     (opt.xdp ? SLP_RS_XDP : 0) |
						     (opt.udp ? SLP_RS_UDP : 0),
				    .impair = opt.impair, .impair_seed = (uint64_t)getpid(),
				    .max_retries = opt.retries, .busy_poll_us = opt.busy_poll_us,
				    /* A peer descheduled for seconds on a loaded
				     * machine is busy, not dead (docs/slurpoe.md):
				     * only a run that asks for a retry budget
				     * wants death detected by it alone. */
				    .min_dead_us = opt.retries ? 0
						   : (uint32_t)(opt.timeout_s < 4000 ? opt.timeout_s : 4000) * 1000000u};
	int err = slp_loop_open(&loop, &lo2);
	if (err) {
		fprintf(stderr, "slurpoe-peer: %s: %s\n", opt.ifname, strerror(-err));
		return 1;
	}
	if (opt.xdp || opt.udp || opt.busy_poll_us)
		fprintf(stderr, "slurpoe-peer: frames over %s\n", slp_rawsock_path(loop.rs));
	deadline_us = slp_clock_us() + (uint64_t)opt.timeout_s * 1000000u;
	if (opt.listen)
		err = slp_listen(loop.engine, opt.ep, NULL);
	else
		err = slp_connect(loop.engine, opt.mac, opt.ep, 0, NULL, &conn);
	if (!err)
		err = wait_for(is_open, NULL);
	int rc;
	if (err) {
		rc = fail("connect", err);
	} else {
		if (opt.verbose)
			fprintf(stderr, "connected\n");
		int rdma = !strcmp(opt.mode, "rdma");
		rc = opt.listen ? (rdma ? rdma_server() : stream_server())
				: (rdma ? rdma_client() : stream_client());
	}
	const struct slp_stats *st = slp_engine_stats(loop.engine);
	struct slp_rawsock_stats rst;
	slp_rawsock_stats(loop.rs, &rst);
	uint64_t bad = 0;
	for (int i = 0; i < 8; i++)
		bad += st->rx_bad[i];
	fprintf(stderr,
		"stats: rx %" PRIu64 " tx %" PRIu64 " retransmits %" PRIu64 " (fast %" PRIu64
		") rto %" PRIu64 " dup %" PRIu64 " bad %" PRIu64 " unknown-ep %" PRIu64
		" impair-dropped %" PRIu64 "\n",
		st->rx_frames, st->tx_frames, st->retransmits, st->fast_retransmits,
		st->rto_expirations, st->rx_duplicate, bad, st->rx_unknown_ep, rst.impair_dropped);
	slp_loop_close(&loop);
	return rc;
}
