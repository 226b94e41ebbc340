/* SPDX-License-Identifier: MIT */
/*
 * Channels re-attach to a restarted ivtd (issue 9, item 9). ivtd is
 * killed and started again while a channel is open; both ends re-attach
 * on their own (the client from inside a blocking ivt_recv, the listener
 * from an event loop on ivt_fd), so the new ivtd lists the channel again,
 * and when the client is then SIGKILLed the new ivtd notices and counts
 * it. A one-shot listener still waiting for its connector when ivtd
 * dies gets -ECONNRESET instead of waiting for good; an ivt_listen
 * listener listens again once ivtd is back. A malformed ATTACH
 * gets a clear error.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctrl_msg.h"
#include "e2e/e2e_util.h"

/* A hang is a failure, reported by SIGALRM rather than by ctest's timeout;
 * waits for ivtd to see something give up after WAIT_S. */
#define HANG_S 90
#define WAIT_S 30

static int sync_fd[2];

/* Connects, sends "abc", tells the parent, then sleeps in ivt_recv until
 * the parent sends 'q' (then closes) or kills it. */
static int client(void *arg)
{
	ivt_channel *ch;
	if (e2e_open(arg, 0, 10000, 0, &ch) < 0)
		return 10;
	if (ivt_send(ch, "abc", 3) != 3)
		return 11;
	char c = 1;
	if (write(sync_fd[1], &c, 1) != 1)
		return 12;
	if (ivt_recv(ch, &c, 1) != 1 || c != 'q')
		return 13;
	return ivt_close(ch) == 0 ? 0 : 14;
}

/* One event-loop round of the listener: poll ivt_fd briefly, then
 * ivt_recv, which must have nothing to say yet. */
static void loop_round(ivt_channel *ch)
{
	struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
	poll(&p, 1, 100);
	char c;
	assert_int_equal(ivt_recv(ch, &c, 1), -EAGAIN);
}

static int listed_as(const char *name, const char *state)
{
	char st[IVT_CTRL_STATUS_MAX + 1], line[256];
	if (e2e_status(e2e_group_daemon.sock, st, sizeof(st)) < 0)
		return 0;
	e2e_status_line(st, name, line, sizeof(line));
	return state ? strstr(line, state) != NULL : line[0] != '\0';
}

static int status_has(const char *text)
{
	char st[IVT_CTRL_STATUS_MAX + 1];
	return e2e_status(e2e_group_daemon.sock, st, sizeof(st)) == 0 && strstr(st, text);
}

/* Open name with a client child, read its "abc", restart ivtd. */
static ivt_channel *restarted_pair(const char *name, pid_t *pid)
{
	*pid = e2e_fork(client, (void *)name);
	ivt_channel *ch;
	assert_int_equal(e2e_open(name, IVT_LISTEN, -1, 0, &ch), 0);
	char c, buf[4];
	assert_int_equal(read(sync_fd[0], &c, 1), 1);
	assert_int_equal(ivt_recv_all(ch, buf, 3), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_true(listed_as(name, " connected "));
	ivt_set_nonblock(ch, 1);
	assert_int_equal(e2e_daemon_kill(&e2e_group_daemon), 0);
	assert_int_equal(e2e_daemon_respawn(&e2e_group_daemon), 0);
	/* the new ivtd may already have the client (it re-attaches from its
	 * blocking ivt_recv), but not this end, which made no call yet */
	assert_false(listed_as(name, " connected "));
	return ch;
}

static void wait_listed(ivt_channel *ch, const char *name, const char *state)
{
	time_t end = time(NULL) + WAIT_S;
	while (!listed_as(name, state)) {
		if (time(NULL) > end)
			fail_msg("channel '%s' not listed as '%s' by the restarted ivtd", name, state);
		loop_round(ch);
	}
}

static void test_reattach_then_death_counted(void **state)
{
	(void)state;
	alarm(HANG_S);
	pid_t pid;
	ivt_channel *ch = restarted_pair("t-reattach-kill", &pid);
	wait_listed(ch, "t-reattach-kill", " connected ");
	assert_true(status_has("ends died 0"));
	/* the data path never needed ivtd */
	assert_int_equal(ivt_recv(ch, (char[1]){0}, 1), -EAGAIN);

	kill(pid, SIGKILL);
	assert_int_equal(e2e_wait(pid), 128 + SIGKILL);
	char c;
	ssize_t n;
	while ((n = ivt_recv(ch, &c, 1)) == -EAGAIN) {
		struct pollfd p = {.fd = ivt_fd(ch), .events = POLLIN};
		poll(&p, 1, 1000);
	}
	assert_int_equal(n, -ECONNRESET);
	time_t end = time(NULL) + WAIT_S;
	while (!status_has("ends died 1"))
		if (time(NULL) > end)
			fail_msg("the restarted ivtd did not count the client's death");
	assert_true(listed_as("t-reattach-kill", "client-gone"));
	ivt_close(ch);
	end = time(NULL) + WAIT_S;
	while (listed_as("t-reattach-kill", NULL))
		if (time(NULL) > end)
			fail_msg("the closed channel stays listed");
	alarm(0);
}

static void test_reattach_then_clean_close(void **state)
{
	(void)state;
	alarm(HANG_S);
	pid_t pid;
	ivt_channel *ch = restarted_pair("t-reattach-close", &pid);
	wait_listed(ch, "t-reattach-close", " connected ");
	ivt_set_nonblock(ch, 0);
	assert_int_equal(ivt_send(ch, "q", 1), 1);
	assert_int_equal(e2e_wait(pid), 0);
	char c;
	assert_int_equal(ivt_recv(ch, &c, 1), 0);
	/* told by ivtd too: a send reports the close, not a death */
	assert_int_equal(ivt_send(ch, "x", 1), -EPIPE);
	assert_true(listed_as("t-reattach-close", "client-gone"));
	assert_int_equal(ivt_close(ch), 0);
	alarm(0);
}

/* A one-shot listener whose ivtd dies before any connector came: the new
 * ivtd does not know it, so it must not wait for good (shm: ivtd held the
 * other end of its wake-up socket pair for the connector, so accepting
 * fails at once). arg: timeout 0 (then the wait is in the first
 * ivt_recv) or forever. */
static int lonely_listener(void *arg)
{
	int timeout = *(int *)arg;
	ivt_channel *ch;
	int rc = e2e_open("t-lonely", IVT_LISTEN, timeout, 0, &ch);
	if (timeout == 0) {
		if (rc < 0)
			return 10;
		char c = 1;
		if (write(sync_fd[1], &c, 1) != 1)
			return 11;
		rc = (int)ivt_recv(ch, &c, 1);
		ivt_close(ch);
	}
	if (rc != -ECONNRESET) {
		fprintf(stderr, "lonely listener: %d (%s)\n", rc, ivt_strerror(rc));
		return 12;
	}
	return 0;
}

static void test_waiting_listener_not_orphaned(void **state)
{
	(void)state;
	alarm(HANG_S);
	static int timeouts[] = {-1, 0};
	for (int i = 0; i < 2; i++) {
		pid_t pid = e2e_fork(lonely_listener, &timeouts[i]);
		char c;
		if (timeouts[i] == 0)
			assert_int_equal(read(sync_fd[0], &c, 1), 1);
		time_t end = time(NULL) + WAIT_S;
		while (!listed_as("t-lonely", "listening"))
			if (time(NULL) > end)
				fail_msg("the listener is not listed");
		assert_int_equal(e2e_daemon_kill(&e2e_group_daemon), 0);
		assert_int_equal(e2e_daemon_respawn(&e2e_group_daemon), 0);
		assert_int_equal(e2e_wait(pid), 0);
	}
	alarm(0);
}

/* Connects to arg, sends 'z', closes. */
static int late_client(void *arg)
{
	ivt_channel *ch;
	if (e2e_open(arg, 0, 10000, 0, &ch) < 0)
		return 10;
	if (ivt_send(ch, "z", 1) != 1)
		return 11;
	return ivt_close(ch) == 0 ? 0 : 12;
}

/* poll the listener's fd (it must wake within 5 s), then ivt_accept:
 * 0 with *ch, or -EAGAIN. */
static int poll_accept(ivt_listener *l, ivt_channel **ch)
{
	struct pollfd p = {.fd = ivt_listener_fd(l), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	int rc = ivt_accept(l, ch);
	if (rc != 0 && rc != -EAGAIN)
		fail_msg("ivt_accept: %s", ivt_strerror(rc));
	return rc;
}

/* An ivt_listen listener outlives a restart of ivtd: a blocking
 * ivt_accept waits through it; a non-blocking one is woken by its fd
 * (the same fd throughout) only when an attempt is due, not spinning on
 * the dead socket while ivtd is away, and accepts the next connector. */
static void test_listener_listens_again(void **state)
{
	(void)state;
	alarm(HANG_S);
	for (int nb = 0; nb < 2; nb++) {
		struct ivt_open_opts o = {.struct_size = sizeof(o), .flags = nb ? IVT_NONBLOCK : 0};
		ivt_listener *l;
		assert_int_equal(ivt_listen("t-relisten", &o, &l), 0);
		int fd = ivt_listener_fd(l);
		assert_int_equal(e2e_daemon_kill(&e2e_group_daemon), 0);
		ivt_channel *ch = NULL;
		if (nb) {
			/* ivtd away for ~0.5 s: the fd wakes per attempt (50, 100,
			 * 200 ms apart), not once per poll of a dead socket */
			int wakes = 0;
			struct timespec t0, t1;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			do {
				assert_int_equal(poll_accept(l, &ch), -EAGAIN);
				wakes++;
				clock_gettime(CLOCK_MONOTONIC, &t1);
			} while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
			assert_true(wakes < 50);
		}
		assert_int_equal(e2e_daemon_respawn(&e2e_group_daemon), 0);
		pid_t pid = e2e_fork(late_client, "t-relisten");
		if (nb) {
			while (poll_accept(l, &ch) != 0)
				;
		} else {
			assert_int_equal(ivt_accept(l, &ch), 0);
		}
		assert_int_equal(ivt_listener_fd(l), fd);
		ivt_set_nonblock(ch, 0);
		char c = 0;
		assert_int_equal(ivt_recv(ch, &c, 1), 1);
		assert_int_equal(c, 'z');
		assert_int_equal(ivt_close(ch), 0);
		assert_int_equal(e2e_wait(pid), 0);
		assert_int_equal(ivt_listener_close(l), 0);
	}
	alarm(0);
}

/* Raw ATTACH datagrams on a fresh control connection. */
static int attach_answer(const struct ivt_ctrl_attach *a, uint32_t len)
{
	int s = e2e_ctrl_connect(e2e_group_daemon.sock);
	assert_true(s >= 0);
	struct {
		struct ivt_ctrl_hdr h;
		struct ivt_ctrl_attach a;
	} d = {.h = {.magic = IVT_CTRL_MAGIC, .version = IVT_CTRL_VERSION, .type = IVT_CTRL_ATTACH,
		     .len = len, .seq = 7},
	       .a = *a};
	assert_int_equal(send(s, &d, sizeof(d.h) + len, 0), (ssize_t)(sizeof(d.h) + len));
	struct ivt_ctrl_msg m;
	int rc = ivt_ctrl_recv(s, &m, 10000);
	close(s);
	assert_int_equal(rc, 0);
	if (m.hdr.type == IVT_CTRL_ATTACH_OK)
		return 0;
	assert_int_equal(m.hdr.type, IVT_CTRL_ERROR);
	return -m.u.error.err;
}

static void test_malformed_attach(void **state)
{
	(void)state;
	struct ivt_ctrl_attach a;
	memset(&a, 0, sizeof(a));
	memset(a.cookie, 7, sizeof(a.cookie));
	snprintf(a.name, sizeof(a.name), "t-attach");
	snprintf(a.backend, sizeof(a.backend), "shm");
	snprintf(a.peer_identity, sizeof(a.peer_identity), "uid:0");
	a.ring_size = 65536;
	assert_int_equal(attach_answer(&a, sizeof(a)), 0); /* well-formed: waits for its peer */
	assert_int_equal(attach_answer(&a, sizeof(a) - 1), -EPROTO);
	struct ivt_ctrl_attach b = a;
	memset(b.cookie, 0, sizeof(b.cookie));
	assert_int_equal(attach_answer(&b, sizeof(b)), -EPROTO);
	b = a;
	b.flags = 0x80;
	assert_int_equal(attach_answer(&b, sizeof(b)), -EPROTO);
	b = a;
	snprintf(b.name, sizeof(b.name), "../x");
	assert_int_equal(attach_answer(&b, sizeof(b)), -EINVAL);
	b = a;
	b.ring_size = 12345;
	assert_int_equal(attach_answer(&b, sizeof(b)), -EINVAL);
	/* ivtd is fine and holds nothing of them */
	assert_true(status_has("requests"));
	assert_false(listed_as("t-attach", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reattach_then_death_counted),
		cmocka_unit_test(test_reattach_then_clean_close),
		cmocka_unit_test(test_waiting_listener_not_orphaned),
		cmocka_unit_test(test_listener_listens_again),
		cmocka_unit_test(test_malformed_attach),
	};
	signal(SIGPIPE, SIG_IGN);
	if (pipe(sync_fd) < 0)
		return 1;
	return cmocka_run_group_tests(tests, e2e_group_setup_open, e2e_group_teardown);
}
