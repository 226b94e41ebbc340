/* SPDX-License-Identifier: MIT */
/*
 * ivt_ready and ivt_arm (issue 12): readiness read from the ring without a
 * system call must follow the data and the room exactly, and a sleep armed
 * with ivt_arm must end when the peer acts, also after our own receive
 * call consumed the wake-up in between (what libivt-preload.so does).
 * A poll that sleeps POLL_MS with progress possible fails the test (a
 * hang detector, not a timing assertion).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define POLL_MS 10000
#define RING 4096
#define HELLO 100

static int to_parent[2], to_child[2];

static void say(int fd)
{
	char c = 1;
	if (write(fd, &c, 1) != 1)
		_exit(90);
}

static void hear(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1)
		_exit(91);
}

/* Listener: sends HELLO bytes, then on the parent's word reads to the end. */
static int peer(void *arg)
{
	ivt_channel *ch;
	if (e2e_open(arg, IVT_LISTEN, -1, RING, &ch) < 0)
		return 10;
	uint8_t b[HELLO];
	e2e_fill(b, 3, 0, HELLO);
	if (ivt_send(ch, b, HELLO) != HELLO)
		return 11;
	say(to_parent[1]);
	hear(to_child[0]);
	char buf[1024];
	ssize_t n;
	while ((n = ivt_recv(ch, buf, sizeof(buf))) > 0)
		;
	ivt_close(ch);
	return n == 0 ? 0 : 12;
}

static void test_ready_follows_ring(void **state)
{
	(void)state;
	pid_t pid = e2e_fork(peer, "t-ready");
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-ready", IVT_NONBLOCK, 10000, RING, &ch), 0);
	hear(to_parent[0]);
	assert_true(ivt_ready(ch) & IVT_READY_RECV);
	uint8_t buf[HELLO];
	assert_int_equal(ivt_recv_all(ch, buf, HELLO), HELLO);
	assert_int_equal(e2e_mismatch(buf, 3, 0, HELLO), -1);
	assert_int_equal(ivt_ready(ch), IVT_READY_SEND); /* empty, room */

	/* fill the ring: no room any more */
	static uint8_t junk[8192];
	ssize_t n;
	size_t sent = 0;
	while ((n = ivt_send(ch, junk, sizeof(junk))) > 0)
		sent += (size_t)n;
	assert_int_equal(n, -EAGAIN);
	assert_true(sent >= RING / 2);
	assert_int_equal(ivt_flush(ch), -EAGAIN); /* the tail of a frame waits too */
	assert_false(ivt_ready(ch) & IVT_READY_SEND);

	/* sleep for room; a receive call of ours in between consumes the
	 * one wake-up both directions share */
	assert_int_equal(ivt_arm(ch, IVT_READY_SEND), 0);
	say(to_child[1]);
	struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
	char c;
	assert_int_equal(ivt_recv(ch, &c, 1), -EAGAIN);
	while (!(ivt_ready(ch) & IVT_READY_SEND))
		if (poll(&p, 1, POLL_MS) != 1)
			fail_msg("no room and no wake-up for %d ms", POLL_MS);
	/* room: everything goes out, and the peer reads it to the end */
	for (int i = 0; i < 1000 && ivt_flush(ch) == -EAGAIN; i++)
		if (poll(&p, 1, POLL_MS) != 1)
			fail_msg("flush stalled for %d ms", POLL_MS);
	assert_int_equal(ivt_flush(ch), 0);
	assert_int_equal(ivt_ready(ch) & IVT_READY_RECV, 0);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(pid), 0);
}

/* Listener for the manual-arming test: HELLO bytes on the parent's first
 * word, a close on its second. */
static int peer_manual(void *arg)
{
	ivt_channel *ch;
	if (e2e_open(arg, IVT_LISTEN, -1, RING, &ch) < 0)
		return 10;
	hear(to_child[0]);
	uint8_t b[HELLO];
	e2e_fill(b, 5, 0, HELLO);
	if (ivt_send(ch, b, HELLO) != HELLO)
		return 11;
	hear(to_child[0]);
	ivt_close(ch);
	return 0;
}

/* Wait on ivt_fd as a manual-arming caller does: ivt_arm, then poll. */
static void arm_and_wait(ivt_channel *ch)
{
	struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
	while (ivt_arm(ch, IVT_READY_RECV) == 0)
		if (poll(&p, 1, POLL_MS) != 1)
			fail_msg("armed, yet no wake-up for %d ms", POLL_MS);
}

/* ivt_set_manual_arm: an empty ring's -EAGAIN arms nothing, ivt_arm before
 * the sleep does, and the peer's data and close both end that sleep. */
static void test_manual_arm(void **state)
{
	(void)state;
	pid_t pid = e2e_fork(peer_manual, "t-manual");
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-manual", IVT_NONBLOCK, 10000, RING, &ch), 0);
	assert_int_equal(ivt_set_manual_arm(NULL, 1), -EINVAL);
	assert_int_equal(ivt_set_manual_arm(ch, 1), 0);
	char c;
	assert_int_equal(ivt_recv(ch, &c, 1), -EAGAIN);
	assert_int_equal(ivt_arm(ch, IVT_READY_RECV), 0); /* nothing sent yet */
	say(to_child[1]);
	uint8_t buf[HELLO];
	size_t got = 0;
	while (got < HELLO) {
		ssize_t n = ivt_recv(ch, buf + got, HELLO - got);
		if (n == -EAGAIN) {
			arm_and_wait(ch);
			continue;
		}
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(e2e_mismatch(buf, 5, 0, HELLO), -1);
	assert_int_equal(ivt_recv(ch, &c, 1), -EAGAIN);
	say(to_child[1]); /* the peer closes: ivt_arm says "call", the call ends */
	ssize_t n;
	while ((n = ivt_recv(ch, &c, 1)) == -EAGAIN)
		arm_and_wait(ch);
	assert_int_equal(n, 0);
	ivt_close(ch);
	assert_int_equal(e2e_wait(pid), 0);
}

static void test_ready_bad_args(void **state)
{
	(void)state;
	assert_int_equal(ivt_ready(NULL), -EINVAL);
	assert_int_equal(ivt_arm(NULL, IVT_READY_RECV), -EINVAL);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (pipe(to_parent) < 0 || pipe(to_child) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_follows_ring),
		cmocka_unit_test(test_manual_arm),
		cmocka_unit_test(test_ready_bad_args),
	};
	return cmocka_run_group_tests(tests, e2e_group_setup_open, e2e_group_teardown);
}
