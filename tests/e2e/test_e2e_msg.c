/* SPDX-License-Identifier: MIT */
/*
 * The API for real programs, through a real ivtd and the shm plugin:
 * ivt_sendv/ivt_recvv, message mode (whole messages, -EMSGSIZE with
 * nothing consumed, ivt_next_msg_size, messages larger than the ring,
 * non-blocking reassembly), per-channel timeouts, and zero-copy send
 * (reserve/commit across the ring's wrap, in both modes).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define SMALL_RING 65536

static int wait_fd(ivt_channel *ch)
{
	struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
	return poll(&p, 1, -1) < 0 ? -errno : 0;
}

/* ---- sendv / recvv ------------------------------------------------------ */

#define V_BYTES (8u << 20)

static int sendv_peer(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("t-iov", 0, 10000, SMALL_RING, &ch) < 0)
		return 10;
	uint8_t *buf = malloc(300000);
	uint64_t off = 0;
	size_t step = 1;
	while (off < V_BYTES) {
		/* three pieces of odd sizes, one empty: gathered into frames */
		size_t a = step % 5000, b = 0, c = step % 250000 + 1;
		size_t n = a + b + c;
		if (n > V_BYTES - off) {
			n = (size_t)(V_BYTES - off);
			a = n / 2;
			c = n - a;
		}
		e2e_fill(buf, 7, off, n);
		struct iovec iov[3] = {{buf, a}, {buf + a, b}, {buf + a, c}};
		if (ivt_sendv(ch, iov, 3) != (ssize_t)n)
			return 11;
		off += n;
		step = step * 31 % 999983 + 1;
	}
	free(buf);
	return ivt_close(ch) < 0 ? 12 : 0;
}

static void test_sendv_recvv_byte_exact(void **state)
{
	(void)state;
	pid_t child = e2e_fork(sendv_peer, NULL);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-iov", IVT_LISTEN, -1, SMALL_RING, &ch), 0);
	uint8_t *buf = malloc(V_BYTES);
	uint64_t got = 0;
	size_t step = 3;
	while (got < V_BYTES) {
		size_t a = step % 777 + 1, c = step % 100000 + 1;
		struct iovec iov[3] = {{buf + got, a}, {NULL, 0}, {buf + got + a, c}};
		if (got + a + c > V_BYTES) {
			iov[0].iov_len = V_BYTES - got;
			iov[2].iov_len = 0;
		}
		ssize_t r = ivt_recvv(ch, iov, 3);
		assert_true(r > 0);
		got += (uint64_t)r;
		step = step * 17 % 99991 + 1;
	}
	assert_int_equal(e2e_mismatch(buf, 7, 0, V_BYTES), -1);
	char x;
	assert_int_equal(ivt_recv(ch, &x, 1), 0);
	struct iovec bad = {NULL, 5};
	assert_int_equal(ivt_recvv(ch, &bad, 1), -EINVAL);
	assert_int_equal(ivt_sendv(ch, NULL, -1), -EINVAL);
	free(buf);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(child), 0);
}

/* ---- message mode -------------------------------------------------------- */

static const size_t msg_sizes[] = {1, 100, 256, 257, 40000, 300000, 5u << 20, 3};
#define N_MSGS (sizeof(msg_sizes) / sizeof(msg_sizes[0]))

static int msg_peer(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	/* no IVT_MESSAGE here: the listener's choice reaches us through ivtd */
	if (e2e_open("t-msg", 0, 10000, SMALL_RING, &ch) < 0)
		return 10;
	uint8_t *buf = malloc(5u << 20);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < N_MSGS; i++) {
			size_t n = msg_sizes[i];
			e2e_fill(buf, 100 + i, 0, n);
			/* as two pieces: still one message */
			struct iovec iov[2] = {{buf, n / 3}, {buf + n / 3, n - n / 3}};
			if (ivt_sendv(ch, iov, 2) != (ssize_t)n)
				return 11;
		}
		if (ivt_send(ch, buf, 0) != 0) /* no empty messages: nothing sent */
			return 12;
		/* round 2 is read by a non-blocking receiver: wait for its go */
		char go;
		if (round == 0 && ivt_recv(ch, &go, 1) != 1)
			return 13;
	}
	free(buf);
	return ivt_close(ch) < 0 ? 14 : 0;
}

static void test_message_mode(void **state)
{
	(void)state;
	pid_t child = e2e_fork(msg_peer, NULL);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-msg", IVT_LISTEN | IVT_MESSAGE, -1, SMALL_RING, &ch), 0);
	uint8_t *buf = malloc(5u << 20);

	assert_int_equal(ivt_next_msg_size(ch), 1);
	assert_int_equal(ivt_recv(ch, buf, 1), 1);
	assert_int_equal(e2e_mismatch(buf, 100, 0, 1), -1);
	/* too small: refused, nothing consumed, the size is there to retry */
	assert_int_equal(ivt_recv(ch, buf, 99), -EMSGSIZE);
	assert_int_equal(ivt_next_msg_size(ch), 100);
	assert_int_equal(ivt_recv(ch, buf, 5u << 20), 100); /* exactly one message */
	assert_int_equal(e2e_mismatch(buf, 101, 0, 100), -1);
	for (size_t i = 2; i < N_MSGS; i++) {
		size_t n = msg_sizes[i];
		ssize_t r = i == 4 ? ivt_recv_all(ch, buf, 5u << 20) : ivt_recv(ch, buf, 5u << 20);
		assert_int_equal(r, (ssize_t)n);
		assert_int_equal(e2e_mismatch(buf, 100 + i, 0, n), -1);
	}
	assert_int_equal(ivt_send(ch, "g", 1), 1);

	/* non-blocking: large messages arrive in pieces and are kept by libivt */
	assert_int_equal(ivt_set_nonblock(ch, 1), 0);
	for (size_t i = 0; i < N_MSGS; i++) {
		size_t n = msg_sizes[i];
		ssize_t r;
		/* a different buffer each try: nothing may be left in the old one */
		uint8_t *tmp = malloc(n);
		while ((r = ivt_recv(ch, tmp, n)) == -EAGAIN) {
			memset(tmp, 0xEE, n);
			free(tmp);
			assert_int_equal(wait_fd(ch), 0);
			tmp = malloc(n);
		}
		assert_int_equal(r, (ssize_t)n);
		assert_int_equal(e2e_mismatch(tmp, 100 + i, 0, n), -1);
		free(tmp);
	}
	assert_int_equal(ivt_set_nonblock(ch, 0), 0);
	assert_int_equal(ivt_recv(ch, buf, 10), 0); /* end of stream */
	struct ivt_stats st;
	assert_int_equal(ivt_get_stats(ch, &st), 0);
	assert_int_equal(st.protocol_errors, 0);
	free(buf);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(child), 0);
}

static int stream_peer(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	int rc = e2e_open("t-stream-only", IVT_MESSAGE, 10000, 0, &ch);
	if (rc == 0)
		ivt_close(ch);
	return rc == -EPROTOTYPE ? 0 : 10;
}

static void test_message_flag_on_stream_channel_refused(void **state)
{
	(void)state;
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-stream-only", IVT_LISTEN, 0, 0, &ch), 0);
	pid_t child = e2e_fork(stream_peer, NULL);
	assert_int_equal(e2e_wait(child), 0);
	assert_int_equal(ivt_next_msg_size(ch), -EINVAL);
	assert_int_equal(ivt_close(ch), 0);
}

/* ---- timeouts ------------------------------------------------------------- */

static int idle_peer(void *arg)
{
	int *go = arg;
	ivt_channel *ch;
	if (e2e_open("t-timeout", 0, 10000, SMALL_RING, &ch) < 0)
		return 10;
	/* read nothing until the listener says so, so its sends time out */
	char c;
	if (read(go[0], &c, 1) != 1)
		return 11;
	ssize_t r = ivt_recv(ch, &c, 1);
	ivt_close(ch);
	return r == 1 ? 0 : 12;
}

static void test_timeouts(void **state)
{
	(void)state;
	int go[2];
	assert_int_equal(pipe(go), 0);
	pid_t child = e2e_fork(idle_peer, go);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-timeout", IVT_LISTEN, -1, SMALL_RING, &ch), 0);
	assert_int_equal(ivt_set_timeouts(ch, 100, 100), 0);
	assert_int_equal(ivt_set_timeouts(ch, -2, 0), -EINVAL);
	char c;
	assert_int_equal(ivt_recv(ch, &c, 1), -ETIMEDOUT);
	/* more than the ring: what fitted is reported, then nothing fits */
	size_t big = 4 * SMALL_RING;
	uint8_t *buf = calloc(1, big);
	ssize_t r = ivt_send(ch, buf, big);
	assert_true(r > 0 && r < (ssize_t)big);
	assert_int_equal(ivt_send(ch, buf, big), -ETIMEDOUT);
	assert_int_equal(ivt_set_timeouts(ch, 0, -1), 0);
	assert_int_equal(ivt_send(ch, buf, 1), -ETIMEDOUT);
	free(buf);
	assert_int_equal(ivt_set_timeouts(ch, -1, -1), 0);
	/* the channel still works: the peer gets its first byte */
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(child), 0);
	close(go[0]);
	close(go[1]);
}

/* A blocking message send whose timeout expires inside the message: the
 * message is not sent (-ETIMEDOUT, the peer drops the part it saw), never
 * reported sent (it used to copy the rest and return its length). */
#define MT_BIG (4 * SMALL_RING)

static int msg_timeout_peer(void *arg)
{
	int *p = arg; /* go[0] read, done[1] write */
	alarm(120); /* a listener that failed never says go: do not outlive it */
	ivt_channel *ch;
	if (e2e_open("t-msg-timeout", 0, 10000, SMALL_RING, &ch) < 0)
		return 10;
	char c;
	if (read(p[0], &c, 1) != 1)
		return 11;
	uint8_t *buf = malloc(MT_BIG);
	/* part of the big message is in the ring, the rest never comes: the
	 * receive times out and libivt keeps the part */
	if (ivt_set_timeouts(ch, -1, 50) != 0 || ivt_recv(ch, buf, MT_BIG) != -ETIMEDOUT)
		return 12;
	if (ivt_set_timeouts(ch, -1, -1) != 0 || write(p[1], "d", 1) != 1)
		return 13;
	/* the next message is the small one: the big one was dropped */
	ssize_t r = ivt_recv(ch, buf, MT_BIG);
	if (r != 100 || e2e_mismatch(buf, 77, 0, 100) != -1)
		return 14;
	struct ivt_stats st;
	if (ivt_get_stats(ch, &st) != 0 || st.protocol_errors != 0)
		return 15;
	if (ivt_recv(ch, buf, MT_BIG) != 0) /* then the end */
		return 16;
	free(buf);
	return ivt_close(ch) < 0 ? 17 : 0;
}

static void test_message_send_timeout_sends_nothing(void **state)
{
	(void)state;
	int go[2], done[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	int ends[2] = {go[0], done[1]};
	pid_t child = e2e_fork(msg_timeout_peer, ends);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-msg-timeout", IVT_LISTEN | IVT_MESSAGE, -1, SMALL_RING, &ch),
			 0);
	uint8_t *buf = malloc(MT_BIG);
	e2e_fill(buf, 66, 0, MT_BIG);
	assert_int_equal(ivt_set_timeouts(ch, 100, -1), 0);
	assert_int_equal(ivt_send(ch, buf, MT_BIG), -ETIMEDOUT);
	/* the ring is still full: nothing of another message goes either */
	assert_int_equal(ivt_send(ch, buf, SMALL_RING / 4), -ETIMEDOUT);
	struct ivt_stats st;
	assert_int_equal(ivt_get_stats(ch, &st), 0);
	assert_int_equal(st.bytes_sent, 0);
	assert_int_equal(write(go[1], "g", 1), 1);
	char c;
	assert_int_equal(read(done[0], &c, 1), 1);
	assert_int_equal(ivt_set_timeouts(ch, -1, -1), 0);
	e2e_fill(buf, 77, 0, 100);
	assert_int_equal(ivt_send(ch, buf, 100), 100);
	free(buf);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(child), 0);
	for (int i = 0; i < 2; i++) {
		close(go[i]);
		close(done[i]);
	}
}

/* ---- zero-copy send ------------------------------------------------------ */

#define ZC_ROUNDS 3000

static int zc_peer(void *arg)
{
	unsigned flags = *(unsigned *)arg;
	ivt_channel *ch;
	if (e2e_open(flags ? "t-zc-msg" : "t-zc", flags, 10000, SMALL_RING, &ch) < 0)
		return 10;
	size_t max = ivt_send_reserve_max(ch);
	if (max < 1000 || max >= SMALL_RING / 2)
		return 11;
	void *p;
	if (ivt_send_reserve(ch, max + 1, &p) != -EMSGSIZE || ivt_send_reserve(ch, 0, &p) != -EINVAL)
		return 12;
	uint64_t off = 0;
	size_t n = 1;
	for (int i = 0; i < ZC_ROUNDS; i++) {
		/* odd sizes so frames land across the wrap in every way */
		n = n * 7 % (max - 1) + 1;
		if (ivt_send_reserve(ch, n, &p) != 0)
			return 13;
		size_t use = i % 5 == 0 ? n / 2 + 1 : n; /* commit may take less */
		e2e_fill(p, 9, off, use);
		if (i == 3) { /* a second reserve fails and NULLs its pointer: a commit
			       * of NULL with bytes is refused, not a silent cancel */
			void *q = p;
			if (ivt_send_reserve(ch, 1, &q) != -EBUSY || q ||
			    ivt_send_commit(ch, q, use) != -EINVAL)
				return 17;
		}
		if (ivt_send_commit(ch, p, use) != 0)
			return 14;
		off += use;
	}
	if (ivt_send_reserve(ch, 10, &p) != 0 || ivt_send_commit(ch, NULL, 0) != 0)
		return 15; /* cancelled: sends nothing */
	return ivt_close(ch) < 0 ? 16 : 0;
}

static void zc_run(unsigned flags)
{
	pid_t child = e2e_fork(zc_peer, &flags);
	ivt_channel *ch;
	assert_int_equal(e2e_open(flags ? "t-zc-msg" : "t-zc", IVT_LISTEN | flags, -1, SMALL_RING,
				  &ch), 0);
	uint8_t *buf = malloc(SMALL_RING);
	uint64_t off = 0;
	int msgs = 0;
	ssize_t r;
	while ((r = ivt_recv(ch, buf, SMALL_RING)) > 0) {
		assert_int_equal(e2e_mismatch(buf, 9, off, (size_t)r), -1);
		off += (uint64_t)r;
		msgs++;
	}
	assert_int_equal(r, 0);
	if (flags)
		assert_int_equal(msgs, ZC_ROUNDS); /* one message per commit */
	struct ivt_stats st;
	assert_int_equal(ivt_get_stats(ch, &st), 0);
	assert_int_equal(st.protocol_errors, 0);
	free(buf);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(child), 0);
}

static void test_reserve_commit_stream(void **state)
{
	(void)state;
	zc_run(0);
}

static void test_reserve_commit_messages(void **state)
{
	(void)state;
	zc_run(IVT_MESSAGE);
}

/* ---- regression: a receive's -EAGAIN must not eat a send's wake-up ------ */

struct nb_sync {
	int go[2], done[2];
};

static int drain_peer(void *arg)
{
	struct nb_sync *y = arg;
	ivt_channel *ch;
	if (e2e_open("t-nbwake", 0, 10000, SMALL_RING, &ch) < 0)
		return 10;
	uint64_t n;
	if (read(y->go[0], &n, sizeof(n)) != sizeof(n))
		return 11;
	uint8_t *buf = malloc(n);
	if (ivt_recv_all(ch, buf, n) != (ssize_t)n) /* frees the whole ring: a kick */
		return 12;
	free(buf);
	if (write(y->done[1], "d", 1) != 1)
		return 13;
	if (read(y->go[0], &n, sizeof(n)) != sizeof(n)) /* until the listener is done */
		return 14;
	ivt_close(ch);
	return 0;
}

static void test_nonblocking_send_wakeup_survives_recv(void **state)
{
	(void)state;
	struct nb_sync y;
	assert_int_equal(pipe(y.go), 0);
	assert_int_equal(pipe(y.done), 0);
	pid_t child = e2e_fork(drain_peer, &y);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-nbwake", IVT_LISTEN, -1, SMALL_RING, &ch), 0);
	assert_int_equal(ivt_set_nonblock(ch, 1), 0);
	static uint8_t buf[4096];
	uint64_t sent = 0;
	ssize_t r;
	while ((r = ivt_send(ch, buf, sizeof(buf))) > 0)
		sent += (uint64_t)r;
	assert_int_equal(r, -EAGAIN); /* full: armed for room */
	/* the tail of the last frame may wait in libivt, not in the ring */
	sent -= sizeof(buf);
	assert_int_equal(write(y.go[1], &sent, sizeof(sent)), sizeof(sent));
	char d;
	assert_int_equal(read(y.done[0], &d, 1), 1); /* the peer read it all and kicked */
	char c;
	assert_int_equal(ivt_recv(ch, &c, 1), -EAGAIN); /* consumes that kick */
	/* ivt_fd must still say "try again": there is room to send now. Before
	 * the fix this poll slept (forever, in ivt-cat). */
	struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 20000), 1);
	assert_true(ivt_send(ch, buf, 1) == 1);
	assert_int_equal(write(y.go[1], &sent, sizeof(sent)), sizeof(sent));
	assert_int_equal(ivt_set_nonblock(ch, 0), 0);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(child), 0);
	for (int i = 0; i < 2; i++) {
		close(y.go[i]);
		close(y.done[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sendv_recvv_byte_exact),
		cmocka_unit_test(test_message_mode),
		cmocka_unit_test(test_message_flag_on_stream_channel_refused),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_message_send_timeout_sends_nothing),
		cmocka_unit_test(test_reserve_commit_stream),
		cmocka_unit_test(test_reserve_commit_messages),
		cmocka_unit_test(test_nonblocking_send_wakeup_survives_recv),
	};
	return cmocka_run_group_tests(tests, e2e_group_setup_open, e2e_group_teardown);
}
