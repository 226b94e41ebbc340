/* SPDX-License-Identifier: MIT */
/*
 * Rings kept over a direct line (docs/conn-setup.md, "Ring reuse"): once
 * both ends of a connection over a line closed, the next connection over
 * that line takes the same ring again (no memfd, no mmap). Reuse is seen
 * from outside, never by timing: a ring is a memfd, so its inode in
 * /proc/self/maps names it; connections that reuse rings make no new one.
 *
 * Checked: many sequential connections (stream with half-close, and
 * message mode) byte-exact on a handful of rings; concurrent connections
 * byte-exact; a reused ring starts without the stale wake-ups of the one
 * before; a listener that closes with a REUSE queued refuses it
 * (ECONNREFUSED); a connector or listener process that dies on a reused
 * ring is a reset for its peer; IVT_RING_REUSE=0 makes a new ring each
 * time.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define POLICY                                                                                \
	"{\"version\":1,\"channels\":[{\"name\":\"rp*\",\"listeners\":[\"*\"],"              \
	"\"connectors\":[\"*\"],\"backend\":\"shm\",\"ring_size\":65536}]}"

static int group_setup(void **state)
{
	(void)state;
	return e2e_group_start(POLICY);
}

/* ---- rings by their memfd's inode ------------------------------------- */

#define INODES_MAX 512

struct inodes {
	unsigned long v[INODES_MAX];
	int n;
};

static void inodes_add(struct inodes *s, unsigned long ino)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i] == ino)
			return;
	if (s->n < INODES_MAX)
		s->v[s->n++] = ino;
}

/* Add the inode of every ring of channel `name` mapped in this process. */
static void rings_mapped(const char *name, struct inodes *s)
{
	char want[96], line[512];
	snprintf(want, sizeof(want), "memfd:ivt-shm:%s ", name);
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long ino;
		if (strstr(line, want) && sscanf(line, "%*s %*s %*s %*s %lu", &ino) == 1)
			inodes_add(s, ino);
	}
	fclose(f);
}

static int rings_now(const char *name)
{
	struct inodes s = {.n = 0};
	rings_mapped(name, &s);
	return s.n;
}

static ivt_channel *accept_one(ivt_listener *l)
{
	ivt_channel *ch = NULL;
	assert_int_equal(e2e_accept(l, 20000, &ch), 0);
	return ch;
}

/* ---- sequential: streams with half-close, messages -------------------- */

#define STREAM (200u * 1024) /* several laps of the 64 KiB ring */

/* One connection in this process: the connector streams STREAM bytes and
 * shuts down its sending side, the accepting end checks them and answers
 * with its own stream, both close (the connector first). Adds the rings
 * of name mapped while it was open to *seen. */
static void stream_connection(ivt_listener *l, const char *name, uint64_t seed,
			      struct inodes *seen)
{
	ivt_channel *c, *s;
	assert_int_equal(e2e_open(name, 0, 0, 0, &c), 0);
	ivt_set_timeouts(c, 10000, 10000);
	/* sent before the accept: it waits in the ring (64 KiB of it) */
	assert_int_equal(e2e_send_pattern(c, seed, 1000, 333), 0);
	s = accept_one(l);
	ivt_set_timeouts(s, 10000, 10000);
	rings_mapped(name, seen);
	/* one piece in flight at a time: each fits the ring */
	for (uint64_t off = 1000; off < STREAM; off += 16384) {
		uint64_t n = STREAM - off < 16384 ? STREAM - off : 16384;
		uint8_t buf[16384];
		e2e_fill(buf, seed, off, (size_t)n);
		assert_int_equal(ivt_send(c, buf, (size_t)n), (ssize_t)n);
		if (off == 1000)
			assert_int_equal(e2e_recv_pattern(s, seed, 1000), 0);
		uint8_t got[16384];
		assert_int_equal(ivt_recv_all(s, got, (size_t)n), (ssize_t)n);
		assert_int_equal(e2e_mismatch(got, seed, off, (size_t)n), -1);
	}
	assert_int_equal(ivt_shutdown(c, IVT_SHUT_WR), 0);
	char b;
	assert_int_equal(ivt_recv(s, &b, 1), 0); /* its half-close */
	assert_int_equal(e2e_send_pattern(s, seed + 1, 5000, 777), 0);
	assert_int_equal(ivt_shutdown(s, IVT_SHUT_WR), 0);
	assert_int_equal(e2e_recv_pattern(c, seed + 1, 5000), 0);
	assert_int_equal(ivt_recv(c, &b, 1), 0);
	/* the connector closes first: the listener's close then releases
	 * the ring at once (else at its next look at the line) */
	assert_int_equal(ivt_close(c), 0);
	assert_int_equal(ivt_close(s), 0);
}

/* The first two connections go through ivtd (the second brings the
 * line), the next makes a ring and keeps it; every later one takes it
 * again. */
static void test_sequential_reuse_byte_exact(void **state)
{
	(void)state;
	ivt_listener *l;
	assert_int_equal(e2e_listen("rpseq", 1, &l), 0);
	struct inodes seen = {.n = 0};
	for (int i = 0; i < 40; i++)
		stream_connection(l, "rpseq", 1000 + (uint64_t)i, &seen);
	/* connections 1 and 2 (through ivtd), connection 3's ring, kept since */
	assert_true(seen.n <= 3);
	assert_int_equal(ivt_listener_close(l), 0);
	/* the listener's rings went with its lines; the connector's go with
	 * its line at its next use (line EOF), or with the process */
}

static const size_t msg_sizes[] = {1, 300, 40000, 5, 65536 - 64};
#define N_MSG (sizeof(msg_sizes) / sizeof(msg_sizes[0]))

static void test_messages_on_reused_rings(void **state)
{
	(void)state;
	ivt_listener *l;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 5000,
				  .flags = IVT_MESSAGE | IVT_NONBLOCK};
	assert_int_equal(ivt_listen("rpmsg", &o, &l), 0);
	struct inodes seen = {.n = 0};
	uint8_t *buf = malloc(70000);
	assert_non_null(buf);
	for (int r = 0; r < 20; r++) {
		ivt_channel *c, *s;
		assert_int_equal(e2e_open("rpmsg", IVT_MESSAGE, 0, 0, &c), 0);
		ivt_set_timeouts(c, 10000, 10000);
		s = accept_one(l);
		ivt_set_timeouts(s, 10000, 10000);
		rings_mapped("rpmsg", &seen);
		for (size_t i = 0; i < N_MSG; i++) {
			e2e_fill(buf, 50 + (uint64_t)r, i, msg_sizes[i]);
			assert_int_equal(ivt_send(c, buf, msg_sizes[i]), (ssize_t)msg_sizes[i]);
			assert_int_equal(ivt_recv(s, buf, 70000), (ssize_t)msg_sizes[i]);
			assert_int_equal(e2e_mismatch(buf, 50 + (uint64_t)r, i, msg_sizes[i]), -1);
		}
		assert_int_equal(ivt_send(s, "end", 3), 3);
		assert_int_equal(ivt_recv(c, buf, 70000), 3);
		assert_int_equal(ivt_close(c), 0);
		assert_int_equal(ivt_recv(s, buf, 70000), 0);
		assert_int_equal(ivt_close(s), 0);
	}
	free(buf);
	assert_true(seen.n <= 3);
	assert_int_equal(ivt_listener_close(l), 0);
}

/* ---- concurrent connections on one line ------------------------------- */

/* As many clients as a line has slots (IVT_LINE_SLOTS): each client waits
 * for its connection's accepting end to close before it connects again,
 * so that connection's RELEASED is in the line by then and every later
 * connection finds a ring to reuse, however the threads are scheduled.
 * (Without the wait, reuse depends on the accepting threads winning a
 * race against the next connect: on a loaded 2-core machine they may
 * not, and a count of rings would measure the scheduler.) */
#define THREADS 4
#define ROUNDS 20
#define CSTREAM (96u * 1024)

static ivt_listener *conc_l;
static pthread_mutex_t conc_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conc_cv = PTHREAD_COND_INITIALIZER;
static struct inodes conc_seen;
static unsigned char conc_closed[THREADS + 1][ROUNDS]; /* by seed */

static int conc_seed_ok(uint64_t seed)
{
	return seed / 1000 >= 1 && seed / 1000 <= THREADS && seed % 1000 < ROUNDS;
}

/* The accepting side of one connection: the seed, the stream, then the
 * stream back with seed + 1; the connector closes first. */
static void *conc_serve(void *arg)
{
	ivt_channel *s = arg;
	ivt_set_timeouts(s, 20000, 20000);
	uint64_t seed = 0;
	intptr_t bad = 0;
	if (ivt_recv_all(s, &seed, sizeof(seed)) != sizeof(seed) ||
	    e2e_recv_pattern(s, seed, CSTREAM) < 0)
		bad = 1;
	if (!bad && e2e_send_pattern(s, seed + 1, CSTREAM, 4099) < 0)
		bad = 3;
	char b;
	if (!bad && ivt_recv(s, &b, 1) != 0)
		bad = 2;
	ivt_close(s);
	pthread_mutex_lock(&conc_mu);
	if (conc_seed_ok(seed))
		conc_closed[seed / 1000][seed % 1000] = 1;
	else
		bad = 4;
	pthread_cond_broadcast(&conc_cv);
	pthread_mutex_unlock(&conc_mu);
	return (void *)bad;
}

static void *conc_accepter(void *arg)
{
	(void)arg;
	pthread_t t[THREADS * ROUNDS];
	intptr_t bad = 0;
	for (int i = 0; i < THREADS * ROUNDS; i++) {
		ivt_channel *s;
		int rc;
		while ((rc = ivt_accept(conc_l, &s)) == -EAGAIN) {
			struct pollfd p = {.fd = ivt_listener_fd(conc_l), .events = POLLIN};
			poll(&p, 1, 100);
		}
		if (rc < 0 || pthread_create(&t[i], NULL, conc_serve, s) != 0)
			return (void *)(intptr_t)100;
	}
	for (int i = 0; i < THREADS * ROUNDS; i++) {
		void *r;
		pthread_join(t[i], &r);
		if (r)
			bad = (intptr_t)r;
	}
	return (void *)bad;
}

static void *conc_client(void *arg)
{
	uint64_t base = (uint64_t)(uintptr_t)arg;
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t seed = base * 1000 + (uint64_t)r;
		ivt_channel *c;
		if (e2e_open("rpconc", 0, 20000, 0, &c) < 0)
			return (void *)(intptr_t)10;
		ivt_set_timeouts(c, 20000, 20000);
		if (ivt_send(c, &seed, sizeof(seed)) != sizeof(seed) ||
		    e2e_send_pattern(c, seed, CSTREAM, 1500 + (size_t)base) < 0)
			return (void *)(intptr_t)11;
		pthread_mutex_lock(&conc_mu);
		rings_mapped("rpconc", &conc_seen);
		pthread_mutex_unlock(&conc_mu);
		if (e2e_recv_pattern(c, seed + 1, CSTREAM) < 0)
			return (void *)(intptr_t)13;
		ivt_close(c);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 20;
		int rc = 0;
		pthread_mutex_lock(&conc_mu);
		while (!conc_closed[base][r] && rc == 0)
			rc = pthread_cond_timedwait(&conc_cv, &conc_mu, &until);
		pthread_mutex_unlock(&conc_mu);
		if (rc != 0)
			return (void *)(intptr_t)14;
	}
	return NULL;
}

static void test_concurrent_reuse_byte_exact(void **state)
{
	(void)state;
	assert_int_equal(e2e_listen("rpconc", 1, &conc_l), 0);
	/* the line first: two connections through ivtd */
	for (int i = 0; i < 2; i++) {
		ivt_channel *c, *s;
		assert_int_equal(e2e_open("rpconc", 0, 0, 0, &c), 0);
		s = accept_one(conc_l);
		ivt_close(c);
		ivt_close(s);
	}
	conc_seen.n = 0;
	pthread_t acc, cl[THREADS];
	assert_int_equal(pthread_create(&acc, NULL, conc_accepter, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&cl[i], NULL, conc_client, (void *)(uintptr_t)(i + 1)),
				 0);
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(cl[i], &r);
		assert_int_equal((intptr_t)r, 0);
	}
	void *r;
	pthread_join(acc, &r);
	assert_int_equal((intptr_t)r, 0);
	/* every connection was seen open with its ring mapped: without reuse
	 * that is one ring per connection (80); with it, the first
	 * connection's ring and one per slot, and a few spare should a ring
	 * read be taken before its RELEASED was read */
	assert_true(conc_seen.n <= 1 + 2 * THREADS);
	assert_int_equal(ivt_listener_close(conc_l), 0);
}

/* ---- no stale wake-ups on a reused ring -------------------------------- */

/* The connector's last kicks of the connection before (its close) are
 * left in the accepting end's wake-up socket; a reused ring drops them:
 * the new accepting end's ivt_fd is not readable before anything came. */
static void test_no_stale_kicks(void **state)
{
	(void)state;
	ivt_listener *l;
	assert_int_equal(e2e_listen("rpkick", 1, &l), 0);
	struct inodes seen = {.n = 0};
	for (int i = 0; i < 5; i++) {
		ivt_channel *c, *s;
		assert_int_equal(e2e_open("rpkick", 0, 0, 0, &c), 0);
		s = accept_one(l);
		rings_mapped("rpkick", &seen);
		if (i >= 3) { /* reused (i == 2 made the ring) */
			char b;
			struct pollfd p = {.fd = ivt_fd(s), .events = POLLIN};
			assert_true(p.fd >= 0);
			assert_int_equal(ivt_set_nonblock(s, 1), 0);
			assert_int_equal(ivt_recv(s, &b, 1), -EAGAIN);
			assert_int_equal(poll(&p, 1, 0), 0);
			assert_int_equal(ivt_set_nonblock(s, 0), 0);
		}
		ivt_set_timeouts(s, 10000, 10000);
		ivt_set_timeouts(c, 10000, 10000);
		/* kicks both ways: each side waits for the other */
		for (int k = 0; k < 20; k++) {
			char b = (char)k;
			assert_int_equal(ivt_send(c, &b, 1), 1);
			assert_int_equal(ivt_recv(s, &b, 1), 1);
			assert_int_equal(ivt_send(s, &b, 1), 1);
			assert_int_equal(ivt_recv(c, &b, 1), 1);
			assert_int_equal(b, (char)k);
		}
		assert_int_equal(ivt_close(c), 0);
		char b;
		assert_int_equal(ivt_recv(s, &b, 1), 0);
		assert_int_equal(ivt_close(s), 0);
	}
	assert_true(seen.n <= 3);
	assert_int_equal(ivt_listener_close(l), 0);
}

/* ---- the listener closes with a REUSE queued ---------------------------- */

static void test_listener_close_refuses_reuse(void **state)
{
	(void)state;
	ivt_listener *l;
	assert_int_equal(e2e_listen("rpclose", 1, &l), 0);
	struct inodes seen = {.n = 0};
	for (int i = 0; i < 3; i++) { /* through ivtd twice, then a ring kept */
		ivt_channel *c, *s;
		assert_int_equal(e2e_open("rpclose", 0, 0, 0, &c), 0);
		s = accept_one(l);
		assert_int_equal(ivt_close(c), 0);
		char b;
		ivt_set_timeouts(s, 10000, 10000);
		assert_int_equal(ivt_recv(s, &b, 1), 0);
		assert_int_equal(ivt_close(s), 0);
	}
	rings_mapped("rpclose", &seen);
	ivt_channel *c;
	assert_int_equal(e2e_open("rpclose", 0, 0, 0, &c), 0); /* REUSE on the line */
	assert_int_equal(ivt_send(c, "x", 1), 1);
	int before = seen.n;
	rings_mapped("rpclose", &seen);
	assert_int_equal(seen.n, before); /* no new ring: the kept one */
	assert_int_equal(ivt_listener_close(l), 0);
	char b;
	ivt_set_timeouts(c, 10000, 10000);
	assert_int_equal(ivt_recv(c, &b, 1), -ECONNREFUSED);
	assert_int_equal(ivt_send(c, "y", 1), -ECONNREFUSED);
	ivt_close(c); /* "x" never went: its error */
	/* the next connector comes through ivtd to the new listener */
	assert_int_equal(e2e_listen("rpclose", 1, &l), 0);
	assert_int_equal(e2e_open("rpclose", 0, 0, 0, &c), 0);
	ivt_channel *s = accept_one(l);
	assert_int_equal(ivt_send(c, "z", 1), 1);
	ivt_set_timeouts(s, 10000, 10000);
	assert_int_equal(ivt_recv(s, &b, 1), 1);
	assert_int_equal(b, 'z');
	ivt_close(c);
	ivt_close(s);
	ivt_listener_close(l);
}

/* ---- a connector process dies on a reused ring ------------------------- */

static int sync_pipe[2];

/* Four connections, each closed first by us and then by the listener
 * (it says so on the pipe); the fourth is on the kept ring, and we die
 * on it without closing. */
static int dying_connector(void *arg)
{
	(void)arg;
	for (int i = 0; i < 4; i++) {
		ivt_channel *c;
		if (e2e_open("rpdie", 0, 10000, 0, &c) < 0)
			return 20;
		ivt_set_timeouts(c, 10000, 10000);
		char b;
		if (ivt_send(c, "q", 1) != 1 || ivt_recv(c, &b, 1) != 1 || b != 'a')
			return 21;
		if (i == 3)
			kill(getpid(), SIGKILL);
		ivt_close(c);
		if (read(sync_pipe[0], &b, 1) != 1)
			return 22;
	}
	return 23;
}

static void test_connector_death_on_reused_ring(void **state)
{
	(void)state;
	ivt_listener *l;
	assert_int_equal(e2e_listen("rpdie", 1, &l), 0);
	assert_int_equal(pipe(sync_pipe), 0);
	pid_t child = e2e_fork(dying_connector, NULL);
	for (int i = 0; i < 4; i++) {
		int kept = rings_now("rpdie");
		ivt_channel *s = accept_one(l);
		ivt_set_timeouts(s, 10000, 10000);
		char b;
		assert_int_equal(ivt_recv(s, &b, 1), 1);
		assert_int_equal(ivt_send(s, "a", 1), 1);
		if (i == 3) {
			assert_int_equal(kept, 1);
			assert_int_equal(rings_now("rpdie"), 1); /* the kept ring, reused */
			assert_int_equal(ivt_recv(s, &b, 1), -ECONNRESET);
			ivt_close(s);
			break;
		}
		assert_int_equal(ivt_recv(s, &b, 1), 0);
		assert_int_equal(ivt_close(s), 0);
		assert_int_equal(write(sync_pipe[1], "k", 1), 1);
	}
	assert_int_not_equal(e2e_wait(child), 0); /* killed */
	close(sync_pipe[0]);
	close(sync_pipe[1]);
	/* the dead connector's ring is not kept */
	assert_int_equal(rings_now("rpdie"), 0);
	assert_int_equal(ivt_listener_close(l), 0);
}

/* A listener process that dies on a reused ring: a reset for its
 * connector. It says on the pipe when it listens and when it closed each
 * of the first three connections (after the connector: RELEASED is out). */
static int dying_listener(void *arg)
{
	(void)arg;
	ivt_listener *l;
	if (e2e_listen("rpldie", 0, &l) < 0 || write(sync_pipe[1], "L", 1) != 1)
		return 30;
	for (int i = 0; i < 4; i++) {
		ivt_channel *s;
		if (ivt_accept(l, &s) < 0)
			return 31;
		ivt_set_timeouts(s, 10000, 10000);
		char b;
		if (ivt_recv(s, &b, 1) != 1 || ivt_send(s, "a", 1) != 1)
			return 32;
		if (i == 3)
			kill(getpid(), SIGKILL);
		if (ivt_recv(s, &b, 1) != 0)
			return 33;
		ivt_close(s);
		if (write(sync_pipe[1], "k", 1) != 1)
			return 34;
	}
	return 35;
}

static void test_listener_death_on_reused_ring(void **state)
{
	(void)state;
	assert_int_equal(pipe(sync_pipe), 0);
	pid_t child = e2e_fork(dying_listener, NULL);
	char b;
	assert_int_equal(read(sync_pipe[0], &b, 1), 1);
	for (int i = 0; i < 4; i++) {
		int kept = rings_now("rpldie");
		ivt_channel *c;
		assert_int_equal(e2e_open("rpldie", 0, 10000, 0, &c), 0);
		ivt_set_timeouts(c, 10000, 10000);
		assert_int_equal(ivt_send(c, "q", 1), 1);
		assert_int_equal(ivt_recv(c, &b, 1), 1);
		assert_int_equal(b, 'a');
		if (i == 3) {
			assert_int_equal(kept, 1);
			assert_int_equal(rings_now("rpldie"), 1); /* the kept ring, reused */
			assert_int_equal(ivt_recv(c, &b, 1), -ECONNRESET);
			assert_int_equal(ivt_send(c, "x", 1), -ECONNRESET);
			ivt_close(c);
			break;
		}
		assert_int_equal(ivt_close(c), 0);
		assert_int_equal(read(sync_pipe[0], &b, 1), 1);
	}
	assert_int_not_equal(e2e_wait(child), 0); /* killed */
	close(sync_pipe[0]);
	close(sync_pipe[1]);
	/* the next connection finds the line gone: its kept rings go too */
	ivt_listener *l;
	assert_int_equal(e2e_listen("rpldie", 1, &l), 0);
	ivt_channel *c, *s;
	assert_int_equal(e2e_open("rpldie", 0, 0, 0, &c), 0);
	s = accept_one(l);
	assert_int_equal(ivt_send(c, "z", 1), 1);
	ivt_set_timeouts(s, 10000, 10000);
	assert_int_equal(ivt_recv(s, &b, 1), 1);
	ivt_close(c);
	ivt_close(s);
	assert_int_equal(ivt_listener_close(l), 0);
}

/* ---- rings kept for connectors that went -------------------------------- */

#define GONE 40 /* more than half of RING_POOL_PARKED_MAX (64) */

/* Three connections (the third over the line, on a ring the listener
 * keeps once both closed), then the process exits. */
static int short_lived_connector(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++) {
		ivt_channel *c;
		if (e2e_open("rpgone", 0, 10000, 0, &c) < 0)
			return 40;
		ivt_set_timeouts(c, 10000, 10000);
		char b;
		if (ivt_send(c, "q", 1) != 1 || ivt_recv(c, &b, 1) != 1)
			return 41;
		ivt_close(c);
		if (read(sync_pipe[0], &b, 1) != 1)
			return 42;
	}
	return 0;
}

/* A listener's end of a line never reads end of file (it holds a copy of
 * the connector's end), so rings it released to connector processes that
 * exited would stay until the line is dropped; once half the process's
 * limit is kept, an idle ivt_accept closes them (at most once a second). */
static void test_rings_of_gone_connectors_freed(void **state)
{
	(void)state;
	ivt_listener *l;
	assert_int_equal(e2e_listen("rpgone", 1, &l), 0);
	assert_int_equal(pipe(sync_pipe), 0);
	for (int k = 0; k < GONE; k++) {
		pid_t child = e2e_fork(short_lived_connector, NULL);
		for (int i = 0; i < 3; i++) {
			ivt_channel *s = accept_one(l);
			ivt_set_timeouts(s, 10000, 10000);
			char b;
			assert_int_equal(ivt_recv(s, &b, 1), 1);
			assert_int_equal(ivt_send(s, "a", 1), 1);
			assert_int_equal(ivt_recv(s, &b, 1), 0);
			assert_int_equal(ivt_close(s), 0);
			assert_int_equal(write(sync_pipe[1], "k", 1), 1);
		}
		assert_int_equal(e2e_wait(child), 0);
	}
	close(sync_pipe[0]);
	close(sync_pipe[1]);
	/* one ring was kept per line, and swept once crowded: what is left
	 * stays under the threshold (half of 64); without the sweep, GONE */
	poll(NULL, 0, 1100); /* a sweep at most once a second */
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), -EAGAIN); /* idle */
	assert_true(rings_now("rpgone") < 32);
	assert_int_equal(ivt_listener_close(l), 0);
}

/* ---- IVT_RING_REUSE=0 --------------------------------------------------- */

static void test_reuse_off(void **state)
{
	(void)state;
	setenv("IVT_RING_REUSE", "0", 1);
	ivt_listener *l;
	assert_int_equal(e2e_listen("rpoff", 1, &l), 0);
	struct inodes seen = {.n = 0};
	for (int i = 0; i < 6; i++)
		stream_connection(l, "rpoff", 70 + (uint64_t)i, &seen);
	assert_int_equal(seen.n, 6); /* a ring per connection */
	assert_int_equal(rings_now("rpoff"), 0);
	assert_int_equal(ivt_listener_close(l), 0);
	unsetenv("IVT_RING_REUSE");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequential_reuse_byte_exact),
		cmocka_unit_test(test_messages_on_reused_rings),
		cmocka_unit_test(test_concurrent_reuse_byte_exact),
		cmocka_unit_test(test_no_stale_kicks),
		cmocka_unit_test(test_listener_close_refuses_reuse),
		cmocka_unit_test(test_connector_death_on_reused_ring),
		cmocka_unit_test(test_listener_death_on_reused_ring),
		cmocka_unit_test(test_rings_of_gone_connectors_freed),
		cmocka_unit_test(test_reuse_off),
	};
	return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
