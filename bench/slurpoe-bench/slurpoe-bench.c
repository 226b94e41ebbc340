/* SPDX-License-Identifier: MIT */
/*
 * slurpoe-bench: SLURPoE vs TCP over the same veth pair between two
 * network namespaces, in the same run. Needs root (creates the namespaces
 * itself and removes them at exit).
 *
 *   slurpoe-bench [--quick] [--ring] [--xdp] [--udp] [--mtu N] [--repeat N] [--busy-poll US] [--ack-now] [--auth]
 *                 [--encrypt] [--impair SPEC] [--sizes LIST] [--latency]
 *
 * Per message size: stream bandwidth (MB/s, until the receiver confirmed
 * every byte), RDMA-write bandwidth (until completions, i.e. acknowledged
 * by the target), and ping-pong round-trip latency (median, us); then
 * where the time goes: CPU per byte and per frame on each side, frames per
 * syscall, syscalls and CPU per round trip. --repeat N runs each stream and
 * latency test N times and reports the median run. --busy-poll US spins
 * that long on the socket before sleeping (both sides); --ack-now sends
 * pure ACKs at the end of each input batch instead of at the end of the
 * application's turn (slp_engine_flush_acks); --auth authenticates every
 * frame (ChaCha20-Poly1305 tag, docs/remote.md); --encrypt also encrypts
 * payloads (implies --auth); --xdp carries frames over AF_XDP where it can
 * (the first line says which path; with XDP on a veth, TCP loses GSO);
 * --latency measures only the round trips (no stream or RDMA tests).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "testsupport/netns.h"

#define EP 0xBE
#define TCP_PORT 5999
#define REGION (64u << 20)
#define TIMEOUT_MS 60000

enum { REQ_QUIT, REQ_BW, REQ_PINGPONG, REQ_REGION };
struct req {
	uint32_t kind, size;
	uint64_t count;
};

/* What one side's transport did during a test: frames per syscall. Zero
 * for TCP (the kernel batches there). */
struct xstats {
	uint64_t rx_frames, rx_calls, tx_frames, tx_calls, waits, retx;
};

/* One measurement: rate, CPU of both processes, both sides' transport. */
struct result {
	double mbps;                 /* MB/s, or us for round trips */
	uint64_t bytes, msgs;
	uint64_t cpu_client_ns, cpu_server_ns;
	struct xstats client, server;
};

static const size_t sizes[] = {64, 1024, 8192, 65536, 1u << 20};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
/* --sizes: which of them to measure (bit i: sizes[i]); all by default */
static unsigned size_mask = (1u << NSIZES) - 1;

static char ns_a[32], ns_b[32];
static int use_udp;
static int latency_only;
static int quick, use_ring, use_xdp, mtu, repeat = 1, ack_now, auth, encrypt;
static unsigned busy_us;
static const char *impair;
static pid_t servers[2];

/* ---- a blocking byte pipe over either transport ---- */

struct pipe_ops {
	int (*send)(void *ctx, const void *buf, size_t len);
	int (*recv)(void *ctx, void *buf, size_t len);
	void *ctx;
};

struct slp_side {
	struct slp_loop loop;
	struct slp_conn *c;
};

static uint64_t cpu_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void xstats_now(struct slp_side *s, struct xstats *x)
{
	memset(x, 0, sizeof(*x));
	if (!s)
		return;
	struct slp_rawsock_stats st;
	slp_rawsock_stats(s->loop.rs, &st);
	*x = (struct xstats){st.rx_frames, st.rx_calls, st.tx_frames, st.tx_calls, s->loop.waits,
			     slp_engine_stats(s->loop.engine)->retransmits};
}

static void xstats_sub(struct xstats *x, const struct xstats *before)
{
	x->rx_frames -= before->rx_frames;
	x->rx_calls -= before->rx_calls;
	x->tx_frames -= before->tx_frames;
	x->tx_calls -= before->tx_calls;
	x->waits -= before->waits;
	x->retx -= before->retx;
}

static int slp_send_cb(void *ctx, const void *buf, size_t len)
{
	struct slp_side *s = ctx;
	return slp_loop_send_all(&s->loop, s->c, buf, len, TIMEOUT_MS);
}

static int slp_recv_cb(void *ctx, void *buf, size_t len)
{
	struct slp_side *s = ctx;
	return slp_loop_recv_all(&s->loop, s->c, buf, len, TIMEOUT_MS);
}

static int tcp_send_cb(void *ctx, const void *buf, size_t len)
{
	int fd = *(int *)ctx;
	const char *p = buf;
	while (len) {
		ssize_t r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int tcp_recv_cb(void *ctx, void *buf, size_t len)
{
	int fd = *(int *)ctx;
	char *p = buf;
	while (len) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -EPIPE;
		if (r < 0)
			return -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* ---- server ---- */

static void serve(struct pipe_ops *p, struct slp_side *slp)
{
	static uint8_t buf[1u << 20];
	uint8_t *region = NULL;
	for (;;) {
		struct req r;
		if (p->recv(p->ctx, &r, sizeof(r)))
			return;
		struct xstats x0, x1;
		xstats_now(slp, &x0);
		if (r.kind == REQ_BW) {
			for (uint64_t left = r.count * r.size; left;) {
				size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);
				if (p->recv(p->ctx, buf, n))
					return;
				left -= n;
			}
			xstats_now(slp, &x1);
			xstats_sub(&x1, &x0);
			if (p->send(p->ctx, &x1, sizeof(x1)))
				return;
		} else if (r.kind == REQ_PINGPONG && r.size <= sizeof(buf)) {
			for (uint64_t i = 0; i < r.count; i++)
				if (p->recv(p->ctx, buf, r.size) || p->send(p->ctx, buf, r.size))
					return;
			xstats_now(slp, &x1);
			xstats_sub(&x1, &x0);
			if (p->send(p->ctx, &x1, sizeof(x1)))
				return;
		} else if (r.kind == REQ_REGION && slp) {
			uint64_t key = 0;
			region = region ? region : calloc(1, REGION);
			if (slp_register_region(slp->c, region, REGION, SLP_ACCESS_WRITE, &key))
				return;
			if (p->send(p->ctx, &key, sizeof(key)))
				return;
		} else {
			return;
		}
	}
}

static int enter_ns(const char *name)
{
	if (ts_netns_enter(name) == 0)
		return 0;
	fprintf(stderr, "slurpoe-bench: netns %s: %s\n", name, strerror(errno));
	return -1;
}

/* --auth: both ends share one host-pair key (a fixed one: this measures
 * the cost, not the key management). */
static int bench_key(void *ctx, const uint8_t mac[6], uint8_t key[32])
{
	(void)ctx;
	(void)mac;
	memcpy(key, "slurpoe-bench host pair key 0123", 32);
	return 0;
}

/* The client runs one transport at a time: while it measures TCP (seconds
 * for 64 B writes) its SLURPoE engine does not run, and the server's
 * retransmissions of its last reply (or keepalive probes) go unanswered.
 * The retry budget alone (~5 s) then declared the client dead: the next
 * SLURPoE test failed with "Connection timed out" (the intermittent
 * failure of --repeat 3 runs). A busy peer is not a dead one: no peer is
 * declared dead before the test timeout. */
#define MIN_DEAD_US ((uint32_t)TIMEOUT_MS * 1000u)

static int bench_encrypt(void *ctx, const uint8_t mac[6])
{
	(void)ctx;
	(void)mac;
	return encrypt;
}

static struct slp_loop_opts loop_opts(const char *ifname)
{
	struct slp_loop_opts o = {.ifname = ifname, .rawsock_flags = (use_ring ? SLP_RS_RX_RING : 0) | (use_xdp ? SLP_RS_XDP : 0) | (use_udp ? SLP_RS_UDP : 0),
				  .impair = impair, .impair_seed = (uint64_t)getpid(),
				  .stream_buf = 4u << 20, .ack_at_turn_end = !ack_now,
				  .busy_poll_us = busy_us, .peer_key = auth ? bench_key : NULL,
				  .peer_encrypt = bench_encrypt, .min_dead_us = MIN_DEAD_US};
	return o;
}

static void slp_server(void)
{
	struct slp_side s = {0};
	struct slp_loop_opts o = loop_opts("sb0");
	if (slp_loop_open(&s.loop, &o) || slp_listen(s.loop.engine, EP, NULL) ||
	    slp_loop_wait_open(&s.loop, &s.c, TIMEOUT_MS))
		_exit(1);
	struct pipe_ops p = {slp_send_cb, slp_recv_cb, &s};
	serve(&p, &s);
	/* Let the last acknowledgements out before going. */
	for (int i = 0; i < 50; i++)
		slp_loop_run_once(&s.loop, 10);
	_exit(0);
}

static void tcp_server(void)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(TCP_PORT),
				.sin_addr.s_addr = htonl(INADDR_ANY)};
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (void *)&a, sizeof(a)) || listen(ls, 1))
		_exit(1);
	int fd = accept(ls, NULL, NULL);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct pipe_ops p = {tcp_send_cb, tcp_recv_cb, &fd};
	serve(&p, NULL);
	_exit(0);
}

/* ---- client measurements ---- */

static uint64_t bytes_for(size_t size)
{
	uint64_t total = quick ? (16u << 20) : (128u << 20);
	return size < 1024 ? total / 8 : total;
}

/* Starts a measurement: CPU clocks and client transport counters. */
static void begin(struct result *res, struct slp_side *s, pid_t server, struct xstats *x0,
		  clockid_t *srv_clock)
{
	memset(res, 0, sizeof(*res));
	if (clock_getcpuclockid(server, srv_clock))
		*srv_clock = CLOCK_PROCESS_CPUTIME_ID; /* never: the server is our child */
	res->cpu_client_ns = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
	res->cpu_server_ns = cpu_ns(*srv_clock);
	xstats_now(s, x0);
}

static void end(struct result *res, struct slp_side *s, const struct xstats *x0,
		clockid_t srv_clock)
{
	res->cpu_client_ns = cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - res->cpu_client_ns;
	res->cpu_server_ns = cpu_ns(srv_clock) - res->cpu_server_ns;
	xstats_now(s, &res->client);
	xstats_sub(&res->client, x0);
}

static int bw(struct pipe_ops *p, struct slp_side *s, pid_t server, size_t size,
	      struct result *res)
{
	static uint8_t buf[1u << 20];
	struct req r = {REQ_BW, (uint32_t)size, bytes_for(size) / size};
	struct xstats x0;
	clockid_t sc;
	begin(res, s, server, &x0, &sc);
	uint64_t t0 = slp_clock_us();
	if (p->send(p->ctx, &r, sizeof(r)))
		return -1;
	for (uint64_t i = 0; i < r.count; i++)
		if (p->send(p->ctx, buf, size))
			return -1;
	if (p->recv(p->ctx, &res->server, sizeof(res->server)))
		return -1;
	uint64_t us = slp_clock_us() - t0;
	end(res, s, &x0, sc);
	res->bytes = r.count * size;
	res->msgs = r.count;
	res->mbps = (double)res->bytes / (double)us;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Median round trip in res->mbps (us). */
static int rtt(struct pipe_ops *p, struct slp_side *s, pid_t server, size_t size,
	       struct result *res)
{
	static uint8_t buf[1u << 20];
	uint64_t n = size >= (1u << 20) ? (quick ? 10 : 50) : (quick ? 200 : 2000);
	uint64_t *t = calloc(n, sizeof(*t));
	struct req r = {REQ_PINGPONG, (uint32_t)size, n};
	struct xstats x0;
	clockid_t sc;
	if (!t)
		return -1;
	begin(res, s, server, &x0, &sc);
	if (p->send(p->ctx, &r, sizeof(r)))
		goto fail;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = cpu_ns(CLOCK_MONOTONIC); /* ns: whole us hide 64 B differences */
		if (p->send(p->ctx, buf, size) || p->recv(p->ctx, buf, size))
			goto fail;
		t[i] = cpu_ns(CLOCK_MONOTONIC) - t0;
	}
	if (p->recv(p->ctx, &res->server, sizeof(res->server)))
		goto fail;
	end(res, s, &x0, sc);
	qsort(t, n, sizeof(*t), cmp_u64);
	res->mbps = (double)t[n / 2] / 1000.0;
	res->msgs = n;
	res->bytes = n * size;
	free(t);
	return 0;
fail:
	free(t);
	return -1;
}

static double rdma_bw(struct slp_side *s, struct pipe_ops *p, size_t size)
{
	static uint8_t buf[1u << 20];
	struct req r = {REQ_REGION, 0, 0};
	uint64_t key;
	if (p->send(p->ctx, &r, sizeof(r)) || p->recv(p->ctx, &key, sizeof(key)))
		return -1;
	uint64_t total = bytes_for(size), count = total / size, posted = 0, done = 0;
	int depth = size >= (1u << 20) ? 8 : 256;
	uint64_t t0 = slp_clock_us();
	while (done < count) {
		while (posted < count && posted - done < (uint64_t)depth) {
			uint64_t off = (posted * size) % (REGION - size + 1);
			int err = slp_rdma_write(s->c, buf, size, key, off, posted);
			if (err == -EAGAIN)
				break;
			if (err)
				return -1;
			posted++;
		}
		struct slp_completion cqe[64];
		int n = slp_poll_cq(s->c, cqe, 64);
		for (int i = 0; i < n; i++)
			if (cqe[i].status)
				return -1;
		done += (uint64_t)n;
		if (!n && slp_loop_run_once(&s->loop, 100))
			return -1;
		if (slp_conn_state(s->c) == SLP_ST_FAILED)
			return -1;
	}
	return (double)(count * size) / (double)(slp_clock_us() - t0);
}

/* ---- repeats and reports ---- */

typedef int (*measure_fn)(struct pipe_ops *, struct slp_side *, pid_t, size_t, struct result *);

static int cmp_result(const void *a, const void *b)
{
	double x = ((const struct result *)a)->mbps, y = ((const struct result *)b)->mbps;
	return x < y ? -1 : x > y;
}

/* The run with the median rate (or latency) of `repeat`, whole, so that its
 * CPU and syscall counts belong to the rate printed. */
static int median_of(measure_fn fn, struct pipe_ops *p, struct slp_side *s, pid_t server,
		     size_t size, struct result *out)
{
	struct result r[16];
	for (int i = 0; i < repeat; i++)
		if (fn(p, s, server, size, &r[i]))
			return -1;
	qsort(r, (size_t)repeat, sizeof(r[0]), cmp_result);
	*out = r[repeat / 2];
	return 0;
}

static const char *size_label(size_t sz)
{
	static char label[16];
	if (sz >= (1u << 20))
		snprintf(label, sizeof(label), "%zuM", sz >> 20);
	else if (sz >= 1024)
		snprintf(label, sizeof(label), "%zuK", sz >> 10);
	else
		snprintf(label, sizeof(label), "%zu", sz);
	return label;
}

static double per(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : 0; }

/* --sizes 64K,1M: a comma-separated subset of the sizes, labelled as printed. */
static int parse_sizes(const char *list)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", list);
	size_mask = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t i = 0;
		while (i < NSIZES && strcmp(t, size_label(sizes[i])) != 0)
			i++;
		if (i == NSIZES) {
			fprintf(stderr, "slurpoe-bench: --sizes: '%s' is not one of 64,1K,8K,64K,1M\n", t);
			return -1;
		}
		size_mask |= 1u << i;
	}
	return size_mask ? 0 : -1;
}

/* Where the time goes: CPU per byte and per frame on each side, frames per
 * syscall, and what one round trip costs (docs/slurpoe.md). */
static void print_cost(const struct result *sb, const struct result *tb, const struct result *sl,
		       const struct result *tl)
{
	if (latency_only)
		goto round_trips;
	printf("\nstream CPU (both processes, user+sys incl. softirq run in them) and batching\n");
	printf("%8s | %8s %8s %8s | %8s %8s | %6s | %7s %7s | %6s %6s %6s | %5s | %6s %6s\n",
	       "size", "slp tx", "slp rx", "s/GB", "tcp tx", "tcp rx", "cpu", "ns/frm", "ns/frm",
	       "frm/", "frm/", "polls/", "retx", "acks/", "polls/");
	printf("%8s | %8s %8s %8s | %8s %8s | %6s | %7s %7s | %6s %6s %6s | %5s | %6s %6s\n", "",
	       "ns/KB", "ns/KB", "slp", "ns/KB", "ns/KB", "ratio", "tx", "rx", "sendm", "recvm",
	       "frm rx", "%", "kfrm", "frm tx");
	for (size_t i = 0; i < NSIZES; i++) {
		const struct result *s = &sb[i], *t = &tb[i];
		if (!(size_mask & (1u << i)))
			continue;
		double kb = (double)s->bytes / 1024, tkb = (double)t->bytes / 1024;
		double scpu = (double)(s->cpu_client_ns + s->cpu_server_ns);
		double tcpu = (double)(t->cpu_client_ns + t->cpu_server_ns);
		printf("%8s | %8.0f %8.0f %8.2f | %8.0f %8.0f | %6.2f | %7.0f %7.0f | %6.1f %6.1f %6.2f | "
		       "%5.2f | %6.1f %6.2f\n",
		       size_label(sizes[i]), (double)s->cpu_client_ns / kb,
		       (double)s->cpu_server_ns / kb, scpu / 1e9 / ((double)s->bytes / 1e9),
		       (double)t->cpu_client_ns / tkb, (double)t->cpu_server_ns / tkb,
		       (scpu / (double)s->bytes) / (tcpu / (double)t->bytes),
		       per(s->cpu_client_ns, s->client.tx_frames),
		       per(s->cpu_server_ns, s->server.rx_frames),
		       per(s->client.tx_frames, s->client.tx_calls),
		       per(s->server.rx_frames, s->server.rx_calls),
		       per(s->server.waits, s->server.rx_frames),
		       100.0 * per(s->client.retx, s->client.tx_frames),
		       1000.0 * per(s->server.tx_frames, s->client.tx_frames),
		       per(s->client.waits, s->client.tx_frames));
	}
round_trips:
	printf("\nround trip per message (client = pinger): syscalls and CPU each side\n");
	printf("%8s | %7s %7s %7s %7s | %7s %7s %7s %7s | %8s %8s\n", "size", "cli tx", "cli rx",
	       "cli wt", "cli us", "srv tx", "srv rx", "srv wt", "srv us", "tcp cli", "tcp srv");
	for (size_t i = 0; i < NSIZES; i++) {
		const struct result *s = &sl[i], *t = &tl[i];
		if (!(size_mask & (1u << i)))
			continue;
		printf("%8s | %7.2f %7.2f %7.2f %7.2f | %7.2f %7.2f %7.2f %7.2f | %6.2fus %6.2fus\n",
		       size_label(sizes[i]), per(s->client.tx_calls, s->msgs),
		       per(s->client.rx_calls, s->msgs), per(s->client.waits, s->msgs),
		       per(s->cpu_client_ns, s->msgs) / 1000, per(s->server.tx_calls, s->msgs),
		       per(s->server.rx_calls, s->msgs), per(s->server.waits, s->msgs),
		       per(s->cpu_server_ns, s->msgs) / 1000, per(t->cpu_client_ns, t->msgs) / 1000,
		       per(t->cpu_server_ns, t->msgs) / 1000);
	}
}

/* ---- setup ---- */

static void cleanup(void)
{
	for (int i = 0; i < 2; i++)
		if (servers[i] > 0)
			kill(servers[i], SIGKILL);
	ts_sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", ns_a, ns_b);
}

static void on_signal(int sig)
{
	(void)sig;
	exit(2); /* runs cleanup via atexit */
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"quick", 0, 0, 'q'}, {"ring", 0, 0, 'r'},
					   {"impair", 1, 0, 'i'}, {"mtu", 1, 0, 'm'},
					   {"repeat", 1, 0, 'n'}, {"busy-poll", 1, 0, 'b'},
					   {"ack-now", 0, 0, 'a'}, {"auth", 0, 0, 'A'},
					   {"encrypt", 0, 0, 'E'}, {"xdp", 0, 0, 'X'}, {"udp", 0, 0, 'U'},
					   {"sizes", 1, 0, 'S'}, {"latency", 0, 0, 'L'},
					   {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'q': quick = 1; break;
		case 'r': use_ring = 1; break;
		case 'i': impair = optarg; break;
		case 'm': mtu = atoi(optarg); break;
		case 'b': busy_us = (unsigned)atoi(optarg); break;
		case 'a': ack_now = 1; break;
		case 'A': auth = 1; break;
		case 'E': auth = encrypt = 1; break;
		case 'X': use_xdp = 1; break;
		case 'U': use_udp = 1; break;
		case 'L': latency_only = 1; break;
		case 'S':
			if (parse_sizes(optarg))
				return 1;
			break;
		case 'n':
			repeat = atoi(optarg);
			if (repeat < 1 || repeat > 15)
				repeat = 15;
			break;
		default:
			fprintf(stderr, "usage: slurpoe-bench [--quick] [--ring] [--xdp] [--udp] [--mtu N] [--repeat N] [--busy-poll US] [--ack-now] [--auth] [--encrypt] [--impair SPEC] [--sizes LIST] [--latency]\n");
			return 1;
		}
	}
	if (geteuid()) {
		fprintf(stderr, "slurpoe-bench: needs root (network namespaces, raw sockets)\n");
		return 77;
	}
	snprintf(ns_a, sizeof(ns_a), "slpb-a-%d", getpid());
	snprintf(ns_b, sizeof(ns_b), "slpb-b-%d", getpid());
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (ts_sh("ip netns add %s && ip netns add %s && "
	       "ip link add sb0 netns %s type veth peer name sb1 netns %s && "
	       "ip -n %s addr add 10.99.0.1/24 dev sb0 && ip -n %s addr add 10.99.0.2/24 dev sb1 && "
	       "ip -n %s link set sb0 up && ip -n %s link set sb1 up",
	       ns_a, ns_b, ns_a, ns_b, ns_a, ns_b, ns_a, ns_b)) {
		fprintf(stderr, "slurpoe-bench: cannot set up namespaces\n");
		return 77;
	}
	if (mtu && ts_sh("ip -n %s link set sb0 mtu %d && ip -n %s link set sb1 mtu %d", ns_a, mtu,
		       ns_b, mtu)) {
		fprintf(stderr, "slurpoe-bench: cannot set MTU %d\n", mtu);
		return 1;
	}
	char mac_s[32] = "";
	char path[128];
	snprintf(path, sizeof(path), "ip netns exec %s cat /sys/class/net/sb0/address", ns_a);
	FILE *f = popen(path, "r");
	if (!f || !fgets(mac_s, sizeof(mac_s), f))
		return 1;
	pclose(f);
	uint8_t mac[6];
	unsigned v[6];
	if (sscanf(mac_s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return 1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];

	for (int i = 0; i < 2; i++) {
		servers[i] = fork();
		if (servers[i] == 0) {
			if (enter_ns(ns_a))
				_exit(1);
			if (i == 0)
				slp_server();
			tcp_server();
		}
	}
	if (enter_ns(ns_b))
		return 1;
	usleep(200000);

	struct slp_side s = {0};
	struct slp_loop_opts o = loop_opts("sb1");
	int err = slp_loop_open(&s.loop, &o);
	if (!err)
		err = slp_connect(s.loop.engine, mac, EP, 0, NULL, &s.c);
	if (!err)
		err = slp_loop_wait_open(&s.loop, &s.c, TIMEOUT_MS);
	if (err) {
		fprintf(stderr, "slurpoe-bench: slurpoe connect: %s\n", strerror(-err));
		return 1;
	}
	int tfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(TCP_PORT)};
	inet_pton(AF_INET, "10.99.0.1", &a.sin_addr);
	if (connect(tfd, (void *)&a, sizeof(a))) {
		perror("tcp connect");
		return 1;
	}
	setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct pipe_ops ps = {slp_send_cb, slp_recv_cb, &s}, pt = {tcp_send_cb, tcp_recv_cb, &tfd};

	printf("frames over %s\n", slp_rawsock_path(s.loop.rs));
	printf("SLURPoE%s vs TCP over veth between two netns (MTU %d, rx %s, acks %s, busy-poll %u us, "
	       "median of %d%s%s)\n", encrypt ? " (authenticated, encrypted)" : auth ? " (authenticated)" : "",
	       slp_rawsock_mtu(s.loop.rs), use_ring ? "TPACKET_V3 ring"
	       : strstr(slp_rawsock_path(s.loop.rs), "TPACKET_V2") ? "TPACKET_V2 ring" : "recvmmsg",
	       ack_now ? "per batch" : "at turn end", busy_us, repeat,
	       impair ? ", impair " : "", impair ? impair : "");
	printf("%8s | %10s %10s %6s | %10s %6s | %9s %9s %6s\n", "size", "slp MB/s", "tcp MB/s",
	       "ratio", "rdmaw MB/s", "ratio", "slp rtt", "tcp rtt", "ratio");
	struct result rs_bw[NSIZES], rt_bw[NSIZES], rs_rt[NSIZES], rt_rt[NSIZES];
	for (size_t i = 0; i < NSIZES; i++) {
		size_t sz = sizes[i];
		double rb = 0;
		if (!(size_mask & (1u << i)))
			continue;
		const char *what = "slurpoe stream";
		memset(&rs_bw[i], 0, sizeof(rs_bw[i]));
		memset(&rt_bw[i], 0, sizeof(rt_bw[i]));
		if ((!latency_only && median_of(bw, &ps, &s, servers[0], sz, &rs_bw[i])) ||
		    (what = "tcp stream",
		     !latency_only && median_of(bw, &pt, NULL, servers[1], sz, &rt_bw[i])) ||
		    (what = "slurpoe rdma write", !latency_only && (rb = rdma_bw(&s, &ps, sz)) < 0) ||
		    (what = "slurpoe round trip", median_of(rtt, &ps, &s, servers[0], sz, &rs_rt[i])) ||
		    (what = "tcp round trip", median_of(rtt, &pt, NULL, servers[1], sz, &rt_rt[i]))) {
			fprintf(stderr, "slurpoe-bench: size %zu: %s failed (connection: %s)\n", sz,
				what, slp_conn_error(s.c) ? strerror(-slp_conn_error(s.c)) : "ok");
			const struct slp_stats *st = slp_engine_stats(s.loop.engine);
			fprintf(stderr, "slurpoe client: %llu retransmits, %llu rto, %llu unauthenticated\n",
				(unsigned long long)st->retransmits,
				(unsigned long long)st->rto_expirations,
				(unsigned long long)st->rx_auth_fail);
			return 1;
		}
		double sb = rs_bw[i].mbps, tb = rt_bw[i].mbps, sl = rs_rt[i].mbps, tl = rt_rt[i].mbps;
		printf("%8s | %10.1f %10.1f %6.2f | %10.1f %6.2f | %7.1fus %7.1fus %6.2f\n",
		       size_label(sz), sb, tb, sb / tb, rb, rb / tb, sl, tl, sl / tl);
		fflush(stdout);
	}
	print_cost(rs_bw, rt_bw, rs_rt, rt_rt);
	const struct slp_stats *st = slp_engine_stats(s.loop.engine);
	printf("slurpoe client: %llu frames out, %llu retransmits, %llu rto expirations, "
	       "%llu unauthenticated frames in\n",
	       (unsigned long long)st->tx_frames, (unsigned long long)st->retransmits,
	       (unsigned long long)st->rto_expirations, (unsigned long long)st->rx_auth_fail);
	struct req q = {REQ_QUIT, 0, 0};
	ps.send(ps.ctx, &q, sizeof(q));
	pt.send(pt.ctx, &q, sizeof(q));
	for (int i = 0; i < 20; i++)
		slp_loop_run_once(&s.loop, 10);
	for (int i = 0; i < 2; i++) {
		waitpid(servers[i], NULL, 0);
		servers[i] = 0;
	}
	close(tfd);
	slp_loop_close(&s.loop);
	return 0;
}
