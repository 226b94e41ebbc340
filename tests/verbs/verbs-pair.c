/* SPDX-License-Identifier: MIT */
/*
 * ivt-verbs-pair: two processes talk through the real verbs plugin on a
 * real RDMA device (soft-RoCE in the test VM), the oob blobs carried over a
 * socketpair as the broker would. Scenarios:
 *   stream      256 MiB one way + 32 MiB the other at once, byte-exact,
 *               then graceful close (EOF, then -EPIPE on send)
 *   rdma        register/cache, RDMA write + read checked byte-exact,
 *               refused ops (-ERANGE, -EACCES, -EMSGSIZE), stale key after
 *               the owner deregistered
 *   hostile     a peer answering with a forged blob is refused (-EPROTO)
 *   kill-idle   peer SIGKILLed while we wait in recv -> -ECONNRESET
 *   kill-busy   peer SIGKILLed while we stream to it -> -ECONNRESET
 * Prints "IVT-TEST <name> PASS|FAIL <detail>" per check; exit 0 all
 * passed, 1 some failed, 77 no RDMA device (SKIP).
 * Usage: ivt-verbs-pair [all|stream|rdma|hostile|kill-idle|kill-busy]...
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ivt/ivt.h"
#include "testsupport/ep_io.h"
#include "testsupport/oob_pair.h"
#include "testsupport/plugin_find.h"
#include "verbs_wire.h"

#define TMO 30000
#define MiB (1024u * 1024u)

static const struct ivt_plugin_ops *P;
static int failures;

/* The deterministic test pattern: byte at stream offset off. */
static uint8_t pattern(uint64_t off, uint32_t seed)
{
	uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull ^ seed;
	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (off & 7)));
}

static void report(const char *name, int ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(const char *name, int ok, const char *fmt, ...)
{
	char d[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d, sizeof(d), fmt, ap);
	va_end(ap);
	printf("IVT-TEST %s %s %s\n", name, ok ? "PASS" : "FAIL", d);
	fflush(stdout);
	if (!ok)
		failures++;
}

/* ---- stream --------------------------------------------------------------- */

/* Send send_total bytes of pattern sseed while receiving recv_total bytes
 * of pattern rseed and checking each one. 0 or a negative errno; *bad set
 * to the first wrong offset + 1. */
static int pump(struct ivt_ep *ep, uint64_t send_total, uint32_t sseed, uint64_t recv_total,
		uint32_t rseed, uint64_t *bad)
{
	static uint8_t sbuf[MiB + 4096], rbuf[MiB];
	uint64_t sent = 0, rcvd = 0;
	unsigned turn = 0;
	*bad = 0;
	while (sent < send_total || rcvd < recv_total) {
		int progress = 0;
		turn++;
		if (sent < send_total) {
			/* varying sizes: partial slots, several slots, odd lengths */
			size_t want = (size_t)(1 + (turn * 7919u) % (MiB + 4095));
			if (want > send_total - sent)
				want = (size_t)(send_total - sent);
			for (size_t i = 0; i < want; i++)
				sbuf[i] = pattern(sent + i, sseed);
			ssize_t n = P->send(ep, sbuf, want);
			if (n > 0) {
				sent += (uint64_t)n;
				progress = 1;
			} else if (n != -EAGAIN) {
				return (int)n;
			}
		}
		if (rcvd < recv_total) {
			size_t want = (size_t)(1 + (turn * 104729u) % MiB);
			if (want > recv_total - rcvd)
				want = (size_t)(recv_total - rcvd);
			ssize_t n = P->recv(ep, rbuf, want);
			if (n > 0) {
				for (ssize_t i = 0; i < n; i++)
					if (rbuf[i] != pattern(rcvd + (uint64_t)i, rseed)) {
						*bad = rcvd + (uint64_t)i + 1;
						return -EBADMSG;
					}
				rcvd += (uint64_t)n;
				progress = 1;
			} else if (n == 0) {
				return -EPIPE; /* EOF before everything arrived */
			} else if (n != -EAGAIN) {
				return (int)n;
			}
		}
		if (!progress) {
			unsigned ev = (sent < send_total ? IVT_EV_SEND : 0) |
				      (rcvd < recv_total ? IVT_EV_RECV : 0);
			int r = ep_wait(P, ep, ev, TMO);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int stream_side(struct ivt_ep *ep, int is_server)
{
	const uint64_t big = 256ull * MiB, small = 32ull * MiB;
	const char *name = is_server ? "verbs-stream-s2c-256MiB" : "verbs-stream-c2s-32MiB";
	uint64_t bad;
	double t0 = ep_io_now();
	int rc = is_server ? pump(ep, big, 1, small, 2, &bad) : pump(ep, small, 2, big, 1, &bad);
	double dt = ep_io_now() - t0;
	if (rc == -EBADMSG)
		report(name, 0, "byte %llu differs", (unsigned long long)bad - 1);
	else
		report(name, rc == 0, "rc=%d (%s) %.2f s, %.0f MiB/s received", rc,
		       rc ? strerror(-rc) : "ok", dt,
		       (is_server ? small : big) / (double)MiB / (dt > 0 ? dt : 1));
	if (rc)
		return rc;
	if (is_server) {
		struct ivt_ep_stats st;
		P->stats(ep, &st);
		report("verbs-stream-stats", st.bytes_sent == big && st.bytes_received == small &&
						    st.protocol_errors == 0,
		       "sent %llu received %llu protocol_errors %llu",
		       (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received,
		       (unsigned long long)st.protocol_errors);
		return 0; /* main closes gracefully */
	}
	/* client: the server's close must read as EOF, then sending is EPIPE */
	uint8_t c;
	ssize_t n = ep_recv_all(P, ep, &c, 1, TMO);
	ssize_t s = P->send(ep, "x", 1);
	report("verbs-graceful-close", n == 0 && s == -EPIPE, "recv after close %zd, send %zd", n,
	       s);
	return n == 0 && s == -EPIPE ? 0 : -EPROTO;
}

/* ---- rdma ------------------------------------------------------------------ */

#define REGION (1u * MiB)
#define WOFF 4096u
#define WLEN (64u * 1024u)

static int expect_completion(struct ivt_ep *ep, uint64_t wr_id, uint64_t len)
{
	struct ivt_ep_completion c;
	int rc = ep_wait_completions(P, ep, &c, 1, TMO);
	if (rc)
		return rc;
	if (c.status)
		return c.status;
	return c.wr_id == wr_id && c.len == len ? 0 : -EPROTO;
}

static int rdma_owner(struct ivt_ep *ep) /* client: owns the region */
{
	uint8_t *mem = aligned_alloc(4096, REGION);
	for (uint32_t i = 0; i < REGION; i++)
		mem[i] = pattern(i, 7);
	uint64_t key = 0, key2 = 0;
	unsigned acc = IVT_ACCESS_REMOTE_WRITE | IVT_ACCESS_REMOTE_READ;
	int rc = P->register_region(ep, mem, REGION, acc, &key);
	int rc2 = P->register_region(ep, mem, REGION, acc, &key2);
	report("verbs-regcache-hit", rc == 0 && rc2 == 0 && key == key2 && key != 0,
	       "rc %d/%d same key %d", rc, rc2, key == key2);
	P->deregister_region(ep, key2); /* one reference left */
	if (rc || ep_send_all(P, ep, &key, sizeof(key), TMO) < 0)
		return -EIO;
	uint8_t w;
	if (ep_recv_all(P, ep, &w, 1, TMO) != 1 || w != 'W')
		return -EPROTO;
	/* The write finished before 'W' was sent (RC order), so it is here. */
	size_t bad = 0;
	for (uint32_t i = 0; i < REGION && !bad; i++) {
		uint8_t want = i >= WOFF && i < WOFF + WLEN ? pattern(i - WOFF, 9) : pattern(i, 7);
		if (mem[i] != want)
			bad = i + 1;
	}
	report("verbs-rdma-write-visible", !bad, "%s", bad ? "target memory differs" : "64 KiB landed byte-exact, rest untouched");
	uint8_t verdict = bad ? 'N' : 'Y';
	ep_send_all(P, ep, &verdict, 1, TMO);
	/* Deregister, then tell the peer: its next use of the key must fail. */
	rc = P->deregister_region(ep, key);
	int rc3 = P->deregister_region(ep, key);
	report("verbs-deregister", rc == 0 && rc3 == -ENOENT, "rc %d then %d", rc, rc3);
	ep_send_all(P, ep, "D", 1, TMO);
	uint8_t c;
	ssize_t n = ep_recv_all(P, ep, &c, 1, TMO); /* wait for the server's close */
	free(mem);
	return n == 0 ? 0 : -EPROTO;
}

static int rdma_user(struct ivt_ep *ep) /* server: writes and reads */
{
	uint64_t key;
	if (ep_recv_all(P, ep, &key, sizeof(key), TMO) != sizeof(key))
		return -EIO;
	static uint8_t w[WLEN], r[REGION];
	for (uint32_t i = 0; i < WLEN; i++)
		w[i] = pattern(i, 9);
	int e1 = P->rdma_write(ep, w, 100, key, REGION - 10, 1);
	int e2 = P->rdma_read(ep, r, 16, key ^ 1, 0, 2);
	int e3 = P->rdma_read(ep, r, 16, key ^ (1ull << 40), 0, 2);
	int e4 = P->rdma_write(ep, w, P->max_rdma_len + 1, key, 0, 3);
	report("verbs-rdma-refused-at-origin", e1 == -ERANGE && e2 == -EACCES && e3 == -EACCES &&
						       e4 == -EMSGSIZE,
	       "range %d badid %d badrkey %d toolong %d", e1, e2, e3, e4);

	int rc = P->rdma_write(ep, w, WLEN, key, WOFF, 10);
	if (rc == 0)
		rc = expect_completion(ep, 10, WLEN);
	report("verbs-rdma-write", rc == 0, "64 KiB at offset %u: %d", WOFF, rc);
	/* 8 reads in flight at once, covering the region */
	int posted = 0;
	const uint32_t part = REGION / 8;
	for (int i = 0; i < 8 && rc == 0; i++, posted++)
		rc = P->rdma_read(ep, r + i * part, part, key, (uint64_t)i * part, 100 + i);
	struct ivt_ep_completion c[8];
	if (rc == 0)
		rc = ep_wait_completions(P, ep, c, 8, TMO);
	for (int i = 0; i < 8 && rc == 0; i++)
		if (c[i].status || c[i].len != part || c[i].opcode != IVT_OP_RDMA_READ)
			rc = c[i].status ? c[i].status : -EPROTO;
	size_t bad = 0;
	for (uint32_t i = 0; i < REGION && rc == 0 && !bad; i++) {
		uint8_t want = i >= WOFF && i < WOFF + WLEN ? pattern(i - WOFF, 9) : pattern(i, 7);
		if (r[i] != want)
			bad = i + 1;
	}
	report("verbs-rdma-read", rc == 0 && !bad, "8 x 128 KiB in flight: rc %d%s", rc,
	       bad ? ", data differs" : ", byte-exact incl. the write");
	if (ep_send_all(P, ep, "W", 1, TMO) < 0)
		return -EIO;
	uint8_t v = 0, d = 0;
	ep_recv_all(P, ep, &v, 1, TMO);
	ep_recv_all(P, ep, &d, 1, TMO);
	int e5 = P->rdma_write(ep, w, 16, key, 0, 11);
	report("verbs-rdma-stale-key", d == 'D' && e5 == -EACCES,
	       "write with a deregistered key: %d", e5);
	return v == 'Y' && rc == 0 && !bad ? 0 : -EPROTO;
}

/* ---- peer death ---------------------------------------------------------------- */

static __attribute__((noreturn)) void kill_victim(struct ivt_ep *ep, int busy_reader)
{
	ep_send_all(P, ep, "R", 1, TMO);
	static uint8_t buf[MiB];
	for (;;) {
		if (busy_reader)
			P->recv(ep, buf, sizeof(buf));
		else
			pause();
		usleep(1000); /* a slow reader: the sender runs into credits */
	}
}

static int kill_survivor(struct ivt_ep *ep, pid_t victim, int busy)
{
	const char *name = busy ? "verbs-peer-killed-while-sending" : "verbs-peer-killed-while-idle";
	uint8_t c;
	if (ep_recv_all(P, ep, &c, 1, TMO) != 1)
		return -EIO;
	static uint8_t buf[256 * 1024];
	if (busy) /* get data flowing before the peer dies */
		for (int i = 0; i < 16; i++)
			ep_send_all(P, ep, buf, sizeof(buf), TMO);
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	double t0 = ep_io_now();
	ssize_t rc;
	if (busy) {
		do
			rc = ep_send_all(P, ep, buf, sizeof(buf), TMO);
		while (rc > 0 && ep_io_now() - t0 < 60);
	} else {
		rc = ep_recv_all(P, ep, buf, 1, 60000);
	}
	double dt = ep_io_now() - t0;
	ssize_t again = busy ? P->recv(ep, buf, 1) : P->send(ep, buf, 1);
	report(name, rc == -ECONNRESET && again == -ECONNRESET,
	       "%s -> %zd (%s) after %.2f s; then %s -> %zd", busy ? "send" : "recv", rc,
	       strerror((int)-rc), dt, busy ? "recv" : "send", again);
	return 0;
}

/* ---- hostile peer ------------------------------------------------------------ */

static int forge_blob(int fd)
{
	uint8_t blob[IVT_OOB_BLOB_MAX];
	ssize_t n = recv(fd, blob, sizeof(blob), 0);
	if (n != VW_BLOB_LEN)
		return -EPROTO;
	memset(blob + 8, 0, 4); /* QP number 0 */
	send(fd, blob, (size_t)n, 0);
	pause();
	return 0;
}

/* ---- running a scenario ------------------------------------------------------ */

enum scenario { S_STREAM, S_RDMA, S_HOSTILE, S_KILL_IDLE, S_KILL_BUSY };

static void run(enum scenario s)
{
	struct oob_end oob[2];
	int rc = oob_pair_open(&oob[0], &oob[1]);
	if (rc) {
		report("verbs-pair-setup", 0, "socketpair: %s", strerror(-rc));
		return;
	}
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) { /* the client */
		oob_end_close(&oob[0]);
		if (s == S_HOSTILE)
			_exit(forge_blob(oob[1].fd) ? 1 : 0);
		struct ivt_ep *ep;
		rc = ep_open(P, &oob[1].oob, "verbs-pair", 0, 1 << 20, TMO, &ep);
		if (rc) {
			report("verbs-connect", 0, "client connect: %d (%s)", rc, strerror(-rc));
			_exit(1);
		}
		if (s == S_STREAM)
			rc = stream_side(ep, 0);
		else if (s == S_RDMA)
			rc = rdma_owner(ep);
		else
			kill_victim(ep, s == S_KILL_BUSY);
		P->close(ep);
		_exit(rc || failures ? 1 : 0);
	}
	oob_end_close(&oob[1]);
	struct ivt_ep *ep = NULL;
	rc = ep_open(P, &oob[0].oob, "verbs-pair", 1, 1 << 20, TMO, &ep);
	if (s == S_HOSTILE) {
		report("verbs-hostile-blob", rc == -EPROTO, "accept with a forged QP number: %d",
		       rc);
		if (ep)
			P->close(ep);
		kill(child, SIGKILL);
	} else if (rc) {
		report("verbs-accept", 0, "server accept: %d (%s)", rc, strerror(-rc));
		kill(child, SIGKILL);
	} else {
		if (s == S_STREAM)
			stream_side(ep, 1);
		else if (s == S_RDMA)
			rdma_user(ep);
		else
			kill_survivor(ep, child, s == S_KILL_BUSY);
		P->close(ep);
	}
	oob_end_close(&oob[0]);
	int st = 0;
	if (waitpid(child, &st, 0) == child && s != S_HOSTILE && s != S_KILL_IDLE &&
	    s != S_KILL_BUSY && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		failures++; /* the client reported its own FAIL lines */
}

int main(int argc, char **argv)
{
	char why[256] = "";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!(P = ts_plugin_load("verbs", why, sizeof(why))) || !P->rdma_write) {
		report("verbs-pair-load", 0, "%s", P ? "no native one-sided ops" : why);
		return 1;
	}
	int rc = P->probe(why, sizeof(why));
	if (rc) {
		printf("IVT-TEST verbs-pair SKIP %s\n", why);
		return 77;
	}
	printf("# device: %s\n", why);
	static const struct {
		const char *name;
		enum scenario s;
	} all[] = {{"stream", S_STREAM},       {"rdma", S_RDMA},
		   {"hostile", S_HOSTILE},     {"kill-idle", S_KILL_IDLE},
		   {"kill-busy", S_KILL_BUSY}};
	const int nall = (int)(sizeof(all) / sizeof(all[0]));
	if (argc < 2 || !strcmp(argv[1], "all")) {
		for (int i = 0; i < nall; i++)
			run(all[i].s);
	} else {
		for (int a = 1; a < argc; a++) {
			int found = 0;
			for (int i = 0; i < nall; i++)
				if (!strcmp(argv[a], all[i].name)) {
					run(all[i].s);
					found = 1;
				}
			if (!found) {
				fprintf(stderr, "unknown scenario %s\n", argv[a]);
				return 2;
			}
		}
	}
	return failures ? 1 : 0;
}
