/* SPDX-License-Identifier: MIT */
/*
 * Ends that go away: a sender killed with SIGKILL mid-transfer (the reader
 * still gets every byte it had sent, then -ECONNRESET, and ivtd serves new
 * opens), ivtd itself killed mid-transfer (the data path carries on), and
 * a graceful close (end of stream, then -EPIPE for the other side).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

/* ---- SIGKILL of the sender ------------------------------------------------ */

#define PIECE 65536
static int progress_fd = -1;

/* Sends the pattern forever, reporting after every ivt_send how many bytes
 * libivt has accepted; only SIGKILL stops it. */
static int doomed_sender(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("t-kill", 0, 10000, 0, &ch) < 0)
		return 10;
	uint8_t *buf = malloc(PIECE);
	for (uint64_t off = 0; off < (8ull << 30); off += PIECE) {
		e2e_fill(buf, 5, off, PIECE);
		if (ivt_send(ch, buf, PIECE) != PIECE)
			return 11;
		uint64_t total = off + PIECE;
		if (write(progress_fd, &total, sizeof(total)) != sizeof(total))
			return 12;
	}
	return 13; /* never killed */
}

static void test_sigkill_mid_transfer(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	progress_fd = p[1];
	pid_t child = e2e_fork(doomed_sender, NULL);
	close(p[1]);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-kill", IVT_LISTEN, -1, 0, &ch), 0);

	uint8_t *buf = malloc(1 << 20);
	uint64_t got = 0;
	/* read a while, then kill the sender wherever it is */
	while (got < (4u << 20)) {
		ssize_t r = ivt_recv(ch, buf, 100000);
		assert_true(r > 0);
		assert_int_equal(e2e_mismatch(buf, 5, got, (size_t)r), -1);
		got += (uint64_t)r;
	}
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(e2e_wait(child), 128 + SIGKILL);
	uint64_t confirmed = 0, v;
	while (read(p[0], &v, sizeof(v)) == sizeof(v))
		confirmed = v;
	close(p[0]);

	/* everything still in the ring arrives, exact, then the reset */
	ssize_t r;
	while ((r = ivt_recv(ch, buf, 1 << 20)) > 0) {
		assert_int_equal(e2e_mismatch(buf, 5, got, (size_t)r), -1);
		got += (uint64_t)r;
	}
	print_message("sender confirmed %llu bytes; reader got %llu\n",
		      (unsigned long long)confirmed, (unsigned long long)got);
	assert_int_equal(r, -ECONNRESET);
	assert_true(got >= confirmed);
	assert_int_equal(ivt_recv(ch, buf, 1), -ECONNRESET); /* and stays so */
	assert_int_equal(ivt_send(ch, "x", 1), -ECONNRESET);
	assert_int_equal(ivt_close(ch), 0);
	free(buf);

	/* the daemon is fine */
	assert_int_equal(e2e_open("t-after-kill", IVT_LISTEN, 0, 0, &ch), 0);
	assert_int_equal(ivt_close(ch), 0);
}

/* ---- ivtd killed mid-transfer --------------------------------------------- */

#define DD_BYTES (8u << 20)

static int dd_sender(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("t-daemon-dies", 0, 10000, 0, &ch) < 0)
		return 10;
	int rc = e2e_send_pattern(ch, 6, DD_BYTES, 100000);
	ivt_close(ch);
	return rc ? 11 : 0;
}

static void test_daemon_death_keeps_data_path(void **state)
{
	(void)state;
	struct e2e_daemon own;
	assert_int_equal(e2e_daemon_start(&own, E2E_POLICY_OPEN), 0);
	pid_t child = e2e_fork(dd_sender, NULL);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-daemon-dies", IVT_LISTEN, -1, 0, &ch), 0);
	assert_int_equal(e2e_recv_pattern(ch, 6, 1u << 20), 0);
	e2e_daemon_stop(&own, 1); /* SIGKILL */
	uint8_t *buf = malloc(1 << 20);
	uint64_t got = 1u << 20;
	ssize_t r;
	while ((r = ivt_recv(ch, buf, 1 << 20)) > 0) {
		assert_int_equal(e2e_mismatch(buf, 6, got, (size_t)r), -1);
		got += (uint64_t)r;
	}
	assert_int_equal(r, 0); /* the sender closed: a clean end, no data lost */
	assert_int_equal(got, DD_BYTES);
	free(buf);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(child), 0);
	setenv("IVT_SOCKET", e2e_group_daemon.sock, 1);
}

/* ---- graceful close --------------------------------------------------------- */

static int closer(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("t-close", 0, 10000, 0, &ch) < 0)
		return 10;
	int rc = e2e_send_pattern(ch, 7, 1000, 1000);
	return ivt_close(ch) == 0 && rc == 0 ? 0 : 11;
}

static void test_graceful_close(void **state)
{
	(void)state;
	pid_t child = e2e_fork(closer, NULL);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-close", IVT_LISTEN, -1, 0, &ch), 0);
	assert_int_equal(e2e_recv_pattern(ch, 7, 1000), 0);
	char c;
	assert_int_equal(ivt_recv(ch, &c, 1), 0);
	assert_int_equal(e2e_wait(child), 0);
	ssize_t r = ivt_send(ch, "x", 1);
	assert_true(r == -EPIPE);
	assert_int_equal(ivt_close(ch), 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigkill_mid_transfer),
		cmocka_unit_test(test_graceful_close),
		cmocka_unit_test(test_daemon_death_keeps_data_path),
	};
	return cmocka_run_group_tests(tests, e2e_group_setup_open, e2e_group_teardown);
}
