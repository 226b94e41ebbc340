/* SPDX-License-Identifier: MIT */
/*
 * ivt_fd() is level-triggered (issue 9, item 6): it is readable whenever
 * ivt_recv or ivt_poll_completions may make progress, whatever the caller
 * consumed last. Each case runs many rounds against a peer process, since
 * the old code lost wake-ups only when the peer's write fell into a window:
 * (a) data that arrived before the connector's first poll,
 * (b) reading one byte per wake-up (also with an edge-triggered epoll),
 * (c) completions reaped one at a time.
 * A poll that sleeps POLL_MS with progress possible fails the test (a hang
 * detector, not a timing assertion).
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
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define POLL_MS 10000
#define ROUNDS 40

static int sync_fd[2]; /* child -> parent: "done with this step" */

static void child_signal(void)
{
	char c = 1;
	if (write(sync_fd[1], &c, 1) != 1)
		_exit(90);
}

static void parent_await(void)
{
	char c;
	assert_int_equal(read(sync_fd[0], &c, 1), 1);
}

/* Sleep on ivt_fd until readable; fail if it stays quiet POLL_MS. */
static void wait_readable(ivt_channel *ch)
{
	struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
	int r = poll(&p, 1, POLL_MS);
	if (r != 1)
		fail_msg("ivt_fd stayed quiet for %d ms although a call could make progress",
			 POLL_MS);
}

/* Open a connector with IVT_NONBLOCK to a listener in a child. */
static ivt_channel *open_nonblock(const char *name)
{
	ivt_channel *ch;
	assert_int_equal(e2e_open(name, IVT_NONBLOCK, 10000, 0, &ch), 0);
	return ch;
}

/* ---- (a) data that was there before the first poll ------------------------ */

static int early_sender(void *arg)
{
	ivt_channel *ch;
	if (e2e_open(arg, IVT_LISTEN, -1, 0, &ch) < 0)
		return 10;
	if (ivt_send(ch, "hello", 5) != 5)
		return 11;
	child_signal();
	char c;
	ivt_recv(ch, &c, 1); /* until the parent closes */
	ivt_close(ch);
	return 0;
}

static void test_data_before_first_poll(void **state)
{
	(void)state;
	for (int i = 0; i < ROUNDS; i++) {
		char name[32], buf[8];
		snprintf(name, sizeof(name), "t-early-%d", i);
		pid_t pid = e2e_fork(early_sender, name);
		ivt_channel *ch = open_nonblock(name);
		parent_await(); /* the 5 bytes are in the ring */
		wait_readable(ch);
		ssize_t n;
		while ((n = ivt_recv(ch, buf, sizeof(buf))) == -EAGAIN)
			wait_readable(ch); /* spurious is allowed, a stall is not */
		assert_int_equal(n, 5);
		assert_memory_equal(buf, "hello", 5);
		assert_int_equal(ivt_close(ch), 0);
		assert_int_equal(e2e_wait(pid), 0);
	}
}

/* ---- (a') ivt_fd's descriptors come with the first ivt_fd ----------------- */

/* An end nobody polls costs no epoll set and no eventfds (5 syscalls to
 * make, 2 to close per connection); the first ivt_fd makes them, the
 * next ones return the same fd, and data that came before still wakes
 * the first poll. */
static void test_fd_made_on_first_use(void **state)
{
	(void)state;
	pid_t pid = e2e_fork(early_sender, "t-lazyfd");
	ivt_channel *ch = open_nonblock("t-lazyfd");
	parent_await();
	int before = e2e_count_fds(0);
	int fd = ivt_fd(ch);
	assert_true(fd >= 0);
	assert_int_equal(e2e_count_fds(0), before + 2); /* the epoll set and its eventfd */
	assert_int_equal(ivt_fd(ch), fd);
	assert_int_equal(e2e_count_fds(0), before + 2);
	wait_readable(ch);
	char buf[8];
	ssize_t n;
	while ((n = ivt_recv(ch, buf, sizeof(buf))) == -EAGAIN)
		wait_readable(ch);
	assert_int_equal(n, 5);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(pid), 0);
}

/* ---- (b) one byte per wake-up ----------------------------------------------- */

#define BURST 10

/* Sends ROUNDS bursts of BURST bytes; waits for a 1-byte answer after each. */
static int burst_sender(void *arg)
{
	ivt_channel *ch;
	if (e2e_open(arg, IVT_LISTEN, -1, 0, &ch) < 0)
		return 10;
	for (int r = 0; r < ROUNDS; r++) {
		uint8_t b[BURST];
		e2e_fill(b, 9, (uint64_t)r * BURST, BURST);
		if (ivt_send(ch, b, BURST) != BURST)
			return 11;
		char c;
		if (ivt_recv(ch, &c, 1) != 1)
			return 12;
	}
	ivt_close(ch);
	return 0;
}

/* Wait the way the caller chose: poll, or an edge-triggered epoll. */
struct waiter {
	ivt_channel *ch;
	int epfd; /* -1: poll(ivt_fd) */
};

static void waiter_wait(struct waiter *w)
{
	if (w->epfd < 0) {
		wait_readable(w->ch);
		return;
	}
	struct epoll_event ev;
	if (epoll_wait(w->epfd, &ev, 1, POLL_MS) != 1)
		fail_msg("edge-triggered epoll on ivt_fd stayed quiet for %d ms", POLL_MS);
}

static void read_bytewise(int edge)
{
	char name[32];
	snprintf(name, sizeof(name), "t-bytewise-%d", edge);
	pid_t pid = e2e_fork(burst_sender, name);
	struct waiter w = {.ch = open_nonblock(name), .epfd = -1};
	if (edge) {
		w.epfd = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
		assert_int_equal(epoll_ctl(w.epfd, EPOLL_CTL_ADD, ivt_fd(w.ch), &ev), 0);
	}
	uint64_t got = 0;
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < BURST;) {
			waiter_wait(&w);
			/* level: one byte per wake-up; edge: read until -EAGAIN */
			for (;;) {
				uint8_t c;
				ssize_t n = ivt_recv(w.ch, &c, 1);
				if (n == -EAGAIN)
					break;
				assert_int_equal(n, 1);
				assert_int_equal(e2e_mismatch(&c, 9, got, 1), -1);
				got++;
				i++;
				if (!edge) /* edge-triggered: drain to -EAGAIN first */
					break;
			}
		}
		ssize_t s;
		while ((s = ivt_send(w.ch, "k", 1)) == -EAGAIN)
			waiter_wait(&w);
		assert_int_equal(s, 1);
	}
	if (w.epfd >= 0)
		close(w.epfd);
	assert_int_equal(ivt_close(w.ch), 0);
	assert_int_equal(e2e_wait(pid), 0);
}

static void test_one_byte_per_wakeup(void **state)
{
	(void)state;
	read_bytewise(0);
}

static void test_one_byte_per_wakeup_edge_triggered(void **state)
{
	(void)state;
	read_bytewise(1);
}

/* ---- (c) completions reaped one at a time ---------------------------------- */

#define OPS 8
#define SLOT 64

/* Offers a region for the parent's writes, then serves them (the receive
 * path answers one-sided ops) until the parent closes. */
static int rdma_target(void *arg)
{
	ivt_channel *ch;
	if (e2e_open(arg, IVT_LISTEN, -1, 0, &ch) < 0)
		return 10;
	static uint8_t region[OPS * SLOT];
	uint64_t key;
	if (ivt_register_region(ch, region, sizeof(region), IVT_ACCESS_REMOTE_WRITE, &key) < 0)
		return 11;
	if (ivt_send(ch, &key, sizeof(key)) != sizeof(key))
		return 12;
	char c;
	while (ivt_recv(ch, &c, 1) == 1)
		child_signal(); /* "your writes before this byte are answered" */
	ivt_close(ch);
	return 0;
}

static void test_completions_reaped_one_by_one(void **state)
{
	(void)state;
	pid_t pid = e2e_fork(rdma_target, "t-cq");
	ivt_channel *ch = open_nonblock("t-cq");
	uint64_t key;
	ssize_t n;
	while ((n = ivt_recv(ch, &key, sizeof(key))) == -EAGAIN)
		wait_readable(ch);
	assert_int_equal(n, sizeof(key));
	static uint8_t src[SLOT];
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < OPS; i++) {
			int rc;
			while ((rc = ivt_rdma_write(ch, src, SLOT, key, (uint64_t)i * SLOT,
						    (uint64_t)r * OPS + i)) == -EAGAIN)
				wait_readable(ch);
			assert_int_equal(rc, 0);
		}
		/* In odd rounds the answers are all in our ring before we look. */
		if (r & 1) {
			while ((n = ivt_send(ch, "s", 1)) == -EAGAIN)
				wait_readable(ch);
			assert_int_equal(n, 1);
			parent_await();
		}
		for (int done = 0; done < OPS;) {
			wait_readable(ch);
			struct ivt_completion c;
			int k = ivt_poll_completions(ch, &c, 1);
			assert_true(k == 0 || k == 1);
			if (getenv("WAKEUP_DEBUG"))
				fprintf(stderr, "round %d done %d k %d\n", r, done, k);
			if (k == 1) {
				assert_int_equal(c.status, 0);
				assert_int_equal(c.wr_id, (uint64_t)r * OPS + done);
				done++;
			}
		}
	}
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(pid), 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (pipe(sync_fd) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_before_first_poll),
		cmocka_unit_test(test_fd_made_on_first_use),
		cmocka_unit_test(test_one_byte_per_wakeup),
		cmocka_unit_test(test_one_byte_per_wakeup_edge_triggered),
		cmocka_unit_test(test_completions_reaped_one_by_one),
	};
	return cmocka_run_group_tests(tests, e2e_group_setup_open, e2e_group_teardown);
}
