/* SPDX-License-Identifier: MIT */
/*
 * Channels that outlive their ivtd (issue 9, item 9). ivtd is killed while
 * a channel is open; then one end dies (the other must hear -ECONNRESET,
 * blocking or through ivt_fd, instead of waiting forever), or closes (a
 * clean end of stream). ivtd is restarted on the same socket and the same
 * process opens new channels through it.
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

/* A hang is a failure, reported by SIGALRM rather than by ctest's timeout. */
#define HANG_S 60

static struct e2e_daemon daemon_;
static int sync_fd[2];

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (pipe(sync_fd) < 0)
		return -1;
	return e2e_daemon_start(&daemon_, E2E_POLICY_OPEN);
}

static int teardown(void **state)
{
	(void)state;
	e2e_daemon_stop(&daemon_, 1);
	return 0;
}

/* Connects, sends "abc", tells the parent, then waits for a signal:
 * SIGKILL (dies) or SIGTERM (closes gracefully). */
static ivt_channel *term_ch;
static void on_term(int sig)
{
	(void)sig;
	_exit(ivt_close(term_ch) == 0 ? 0 : 21);
}

static int talker(void *arg)
{
	if (e2e_open(arg, 0, 10000, 0, &term_ch) < 0)
		return 10;
	signal(SIGTERM, on_term);
	if (ivt_send(term_ch, "abc", 3) != 3)
		return 11;
	char c = 1;
	if (write(sync_fd[1], &c, 1) != 1)
		return 12;
	for (;;)
		pause();
}

/* Open name as listener with a talker child, read its "abc", then kill
 * ivtd. Returns the channel; *pid the child. */
static ivt_channel *orphan_pair(const char *name, unsigned flags, pid_t *pid)
{
	*pid = e2e_fork(talker, (void *)name);
	ivt_channel *ch;
	assert_int_equal(e2e_open(name, IVT_LISTEN | flags, -1, 0, &ch), 0);
	char c, buf[4];
	assert_int_equal(read(sync_fd[0], &c, 1), 1);
	ivt_set_nonblock(ch, 0);
	assert_int_equal(ivt_recv_all(ch, buf, 3), 3);
	assert_memory_equal(buf, "abc", 3);
	ivt_set_nonblock(ch, !!(flags & IVT_NONBLOCK));
	assert_int_equal(e2e_daemon_kill(&daemon_), 0);
	return ch;
}

static void test_peer_death_without_daemon_blocking(void **state)
{
	(void)state;
	pid_t pid;
	ivt_channel *ch = orphan_pair("t-orphan-block", 0, &pid);
	kill(pid, SIGKILL);
	assert_int_equal(e2e_wait(pid), 128 + SIGKILL);
	alarm(HANG_S);
	char c;
	assert_int_equal(ivt_recv(ch, &c, 1), -ECONNRESET);
	assert_int_equal(ivt_send(ch, "x", 1), -ECONNRESET);
	alarm(0);
	ivt_close(ch);
	assert_int_equal(e2e_daemon_respawn(&daemon_), 0);
}

static void test_peer_death_without_daemon_polled(void **state)
{
	(void)state;
	pid_t pid;
	ivt_channel *ch = orphan_pair("t-orphan-poll", IVT_NONBLOCK, &pid);
	char c;
	assert_int_equal(ivt_recv(ch, &c, 1), -EAGAIN);
	kill(pid, SIGKILL);
	assert_int_equal(e2e_wait(pid), 128 + SIGKILL);
	ssize_t n;
	while ((n = ivt_recv(ch, &c, 1)) == -EAGAIN) {
		struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
		if (poll(&p, 1, HANG_S * 1000) != 1)
			fail_msg("the peer died but ivt_fd stayed quiet");
	}
	assert_int_equal(n, -ECONNRESET);
	ivt_close(ch);
	assert_int_equal(e2e_daemon_respawn(&daemon_), 0);
}

static void test_clean_close_without_daemon(void **state)
{
	(void)state;
	pid_t pid;
	ivt_channel *ch = orphan_pair("t-orphan-close", 0, &pid);
	kill(pid, SIGTERM);
	assert_int_equal(e2e_wait(pid), 0);
	alarm(HANG_S);
	char c;
	assert_int_equal(ivt_recv(ch, &c, 1), 0);
	assert_int_equal(ivt_send(ch, "x", 1), -EPIPE);
	alarm(0);
	ivt_close(ch);
	assert_int_equal(e2e_daemon_respawn(&daemon_), 0);
}

static int echo_once(void *arg)
{
	ivt_channel *ch;
	if (e2e_open(arg, 0, 10000, 0, &ch) < 0)
		return 10;
	char buf[8];
	if (ivt_recv_all(ch, buf, 4) != 4 || ivt_send(ch, buf, 4) != 4)
		return 11;
	return ivt_close(ch) == 0 ? 0 : 12;
}

/* A channel open across the restart keeps working, and the same process
 * opens new ones through the restarted ivtd. */
static void test_reopen_after_restart(void **state)
{
	(void)state;
	pid_t pid;
	ivt_channel *old = orphan_pair("t-restart-old", 0, &pid);
	assert_int_equal(e2e_daemon_respawn(&daemon_), 0);
	for (int i = 0; i < 3; i++) {
		char name[32], buf[8];
		snprintf(name, sizeof(name), "t-restart-new-%d", i);
		pid_t echo = e2e_fork(echo_once, name);
		ivt_channel *ch;
		assert_int_equal(e2e_open(name, IVT_LISTEN, -1, 0, &ch), 0);
		assert_int_equal(ivt_send(ch, "ping", 4), 4);
		assert_int_equal(ivt_recv_all(ch, buf, 4), 4);
		assert_memory_equal(buf, "ping", 4);
		assert_int_equal(ivt_close(ch), 0);
		assert_int_equal(e2e_wait(echo), 0);
	}
	/* the old channel still carries data, and its end is still heard */
	kill(pid, SIGKILL);
	assert_int_equal(e2e_wait(pid), 128 + SIGKILL);
	alarm(HANG_S);
	char c;
	assert_int_equal(ivt_recv(old, &c, 1), -ECONNRESET);
	alarm(0);
	ivt_close(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_death_without_daemon_blocking),
		cmocka_unit_test(test_peer_death_without_daemon_polled),
		cmocka_unit_test(test_clean_close_without_daemon),
		cmocka_unit_test(test_reopen_after_restart),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
