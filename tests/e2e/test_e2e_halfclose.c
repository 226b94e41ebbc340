/* SPDX-License-Identifier: MIT */
/*
 * Half-close through a real ivtd and the shm plugin (ivt_shutdown): a
 * client sends a request larger than the ring, shuts its side down and
 * reads the reply; the server reads to the end of stream, then replies
 * (the pattern of nc -N, HTTP/1.0 clients, rsync). Byte streams on a
 * one-shot listener, messages on ivt_listen (the connector's first and
 * second connection: the second brings its own ring), a non-blocking end
 * that learns of the end through ivt_fd, SHUT_RD, and the grant missing
 * (an end that does not announce half-close: -EOPNOTSUPP, nothing sent).
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
#include <unistd.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define RING 65536
#define REQ_BYTES (3u << 20) /* many rings: the end must wait behind them */
#define REPLY_BYTES (2u << 20)

/* Read pattern `seed` until the end of stream; its length, or -1. */
static long long recv_to_end(ivt_channel *ch, uint64_t seed, size_t cap)
{
	uint8_t *buf = malloc(cap);
	size_t got = 0;
	for (;;) {
		ssize_t n = ivt_recv(ch, buf + got, cap - got < 70000 ? cap - got : 70000);
		if (n == 0)
			break;
		if (n < 0 || got + (size_t)n > cap) {
			fprintf(stderr, "recv_to_end: %zd (%s) after %zu\n", n, ivt_strerror((int)n),
				got);
			free(buf);
			return -1;
		}
		got += (size_t)n;
	}
	long long bad = e2e_mismatch(buf, seed, 0, got);
	free(buf);
	return bad == -1 ? (long long)got : -1;
}

/* ---- byte stream, one-shot listener ------------------------------------- */

static int stream_server(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("t-hc", IVT_LISTEN, 10000, RING, &ch) < 0)
		return 10;
	if (recv_to_end(ch, 1, REQ_BYTES + 1) != REQ_BYTES)
		return 11;
	char x;
	if (ivt_recv(ch, &x, 1) != 0) /* the end stays */
		return 12;
	/* the client still reads: our direction is open */
	if (e2e_send_pattern(ch, 2, REPLY_BYTES, 50000) != 0)
		return 13;
	return ivt_close(ch) < 0 ? 14 : 0;
}

static void test_stream_request_shutdown_reply(void **state)
{
	(void)state;
	pid_t child = e2e_fork(stream_server, NULL);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-hc", 0, 10000, RING, &ch), 0);
	assert_int_equal(e2e_send_pattern(ch, 1, REQ_BYTES, 40000), 0);
	assert_int_equal(ivt_shutdown(ch, IVT_SHUT_WR), 0);
	assert_int_equal(ivt_shutdown(ch, IVT_SHUT_WR), 0); /* again: nothing more */
	assert_int_equal(ivt_send(ch, "x", 1), -EPIPE);
	assert_int_equal(recv_to_end(ch, 2, REPLY_BYTES + 1), REPLY_BYTES);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(child), 0);
}

/* ---- messages, ivt_listen / ivt_accept ---------------------------------- */

static const size_t sizes[] = {1, 300, 70000, 200000, 5};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static int msg_client(void *arg)
{
	int rounds = *(int *)arg;
	uint8_t *buf = malloc(200000);
	for (int r = 0; r < rounds; r++) {
		ivt_channel *ch;
		if (e2e_open("t-hcmsg", 0, 10000, 0, &ch) < 0)
			return 20;
		for (size_t i = 0; i < N_SIZES; i++) {
			e2e_fill(buf, 30 + i, 0, sizes[i]);
			if (ivt_send(ch, buf, sizes[i]) != (ssize_t)sizes[i])
				return 21;
		}
		if (ivt_shutdown(ch, IVT_SHUT_WR) != 0)
			return 22;
		/* the answer: each message back, in reverse order */
		for (size_t i = N_SIZES; i-- > 0;) {
			if (ivt_recv(ch, buf, 200000) != (ssize_t)sizes[i] ||
			    e2e_mismatch(buf, 60 + i, 0, sizes[i]) != -1)
				return 23;
		}
		if (ivt_recv(ch, buf, 200000) != 0)
			return 24;
		if (ivt_close(ch) < 0)
			return 25;
	}
	free(buf);
	return 0;
}

static void test_messages_on_accepted_channels(void **state)
{
	(void)state;
	ivt_listener *l;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 5000,
				  .flags = IVT_MESSAGE, .ring_size = RING};
	assert_int_equal(ivt_listen("t-hcmsg", &o, &l), 0);
	int rounds = 2; /* the second connection brings its own ring */
	pid_t child = e2e_fork(msg_client, &rounds);
	uint8_t *buf = malloc(200000);
	for (int r = 0; r < rounds; r++) {
		ivt_channel *ch;
		assert_int_equal(ivt_accept(l, &ch), 0);
		for (size_t i = 0; i < N_SIZES; i++) {
			assert_int_equal(ivt_next_msg_size(ch), (ssize_t)sizes[i]);
			assert_int_equal(ivt_recv(ch, buf, 200000), (ssize_t)sizes[i]);
			assert_int_equal(e2e_mismatch(buf, 30 + i, 0, sizes[i]), -1);
		}
		assert_int_equal(ivt_next_msg_size(ch), 0); /* no message comes any more */
		assert_int_equal(ivt_recv(ch, buf, 200000), 0);
		for (size_t i = N_SIZES; i-- > 0;) {
			e2e_fill(buf, 60 + i, 0, sizes[i]);
			assert_int_equal(ivt_send(ch, buf, sizes[i]), (ssize_t)sizes[i]);
		}
		assert_int_equal(ivt_close(ch), 0);
	}
	free(buf);
	assert_int_equal(e2e_wait(child), 0);
	assert_int_equal(ivt_listener_close(l), 0);
}

/* ---- non-blocking: the end wakes ivt_fd ---------------------------------- */

static int nb_client(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("t-hcnb", 0, 10000, RING, &ch) < 0)
		return 30;
	if (ivt_send(ch, "request", 7) != 7)
		return 31;
	usleep(100000); /* the server sleeps in poll when the FIN comes */
	if (ivt_shutdown(ch, IVT_SHUT_WR) != 0)
		return 32;
	char buf[16];
	if (ivt_recv_all(ch, buf, 5) != 5 || memcmp(buf, "reply", 5) != 0)
		return 33;
	if (ivt_recv(ch, buf, sizeof(buf)) != 0)
		return 34;
	return ivt_close(ch) < 0 ? 35 : 0;
}

static void test_nonblocking_end_wakes_fd(void **state)
{
	(void)state;
	pid_t child = e2e_fork(nb_client, NULL);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-hcnb", IVT_LISTEN | IVT_NONBLOCK, 10000, RING, &ch), 0);
	char buf[64];
	size_t got = 0;
	int ended = 0;
	while (!ended) {
		struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
		assert_true(poll(&p, 1, 10000) == 1);
		for (;;) {
			ssize_t n = ivt_recv(ch, buf + got, sizeof(buf) - got);
			if (n == -EAGAIN)
				break;
			assert_true(n >= 0);
			if (n == 0) {
				ended = 1;
				break;
			}
			got += (size_t)n;
		}
	}
	assert_int_equal(got, 7);
	assert_memory_equal(buf, "request", 7);
	assert_true(ivt_ready(ch) & IVT_READY_RECV); /* the end stays ready */
	assert_int_equal(ivt_send(ch, "reply", 5), 5);
	assert_int_equal(ivt_shutdown(ch, IVT_SHUT_RDWR), 0);
	assert_int_equal(ivt_send(ch, "x", 1), -EPIPE);
	assert_int_equal(ivt_flush(ch) == 0 || ivt_flush(ch) == -EAGAIN, 1);
	assert_int_equal(e2e_wait(child), 0);
	assert_int_equal(ivt_close(ch), 0);
}

/* ---- an accepted non-blocking end, at once ------------------------------ */

static int early_client(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("t-hcearly", 0, 10000, RING, &ch) < 0)
		return 50;
	char b[8];
	if (ivt_recv(ch, b, sizeof(b)) != 0) /* the server's end, before any byte */
		return 51;
	if (ivt_send(ch, "bye", 3) != 3)
		return 52;
	return ivt_close(ch) < 0 ? 53 : 0;
}

/* shutdown right after ivt_accept, maybe before the connector attached to
 * the ring: TCP's shutdown does not wait, the FIN follows on attach. */
static void test_shutdown_right_after_accept(void **state)
{
	(void)state;
	ivt_listener *l;
	assert_int_equal(e2e_listen("t-hcearly", 0, &l), 0);
	pid_t child = e2e_fork(early_client, NULL);
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), 0);
	assert_int_equal(ivt_set_nonblock(ch, 1), 0);
	assert_int_equal(ivt_shutdown(ch, IVT_SHUT_WR), 0);
	char buf[8];
	size_t got = 0;
	for (;;) {
		ssize_t n = ivt_recv(ch, buf + got, sizeof(buf) - got);
		if (n == 0)
			break;
		if (n == -EAGAIN) {
			struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
			assert_int_equal(poll(&p, 1, 10000), 1);
			continue;
		}
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(got, 3);
	assert_memory_equal(buf, "bye", 3);
	assert_int_equal(e2e_wait(child), 0);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(ivt_listener_close(l), 0);
}

/* ---- SHUT_RD ---------------------------------------------------------------- */

static int rd_peer(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("t-hcrd", 0, 10000, RING, &ch) < 0)
		return 40;
	if (ivt_send(ch, "ignored", 7) != 7)
		return 41;
	char b[8];
	if (ivt_recv_all(ch, b, 4) != 4 || memcmp(b, "ping", 4) != 0)
		return 42;
	return ivt_close(ch) < 0 ? 43 : 0;
}

static void test_shut_rd_ends_own_receives(void **state)
{
	(void)state;
	pid_t child = e2e_fork(rd_peer, NULL);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-hcrd", IVT_LISTEN, 10000, RING, &ch), 0);
	assert_int_equal(ivt_shutdown(ch, IVT_SHUT_RD), 0);
	char b[8];
	assert_int_equal(ivt_recv(ch, b, sizeof(b)), 0);
	assert_true(ivt_ready(ch) & IVT_READY_RECV);
	assert_int_equal(ivt_send(ch, "ping", 4), 4); /* our direction is untouched */
	assert_int_equal(e2e_wait(child), 0);
	assert_int_equal(ivt_shutdown(ch, 7), -EINVAL);
	assert_int_equal(ivt_shutdown(NULL, IVT_SHUT_WR), -EINVAL);
	assert_int_equal(ivt_close(ch), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_request_shutdown_reply),
		cmocka_unit_test(test_messages_on_accepted_channels),
		cmocka_unit_test(test_nonblocking_end_wakes_fd),
		cmocka_unit_test(test_shut_rd_ends_own_receives),
		cmocka_unit_test(test_shutdown_right_after_accept),
	};
	return cmocka_run_group_tests(tests, e2e_group_setup_open, e2e_group_teardown);
}
