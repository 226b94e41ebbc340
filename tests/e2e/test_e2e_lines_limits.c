/* SPDX-License-Identifier: MIT */
/*
 * What direct lines cost and what bounds them (docs/conn-setup.md):
 *
 *  - a line comes with a process's second connection to a listener, not
 *    its first: processes that connect once each leave the listener no
 *    line (no descriptors); a process that connects twice has one from
 *    its second on;
 *  - the policy's max_connections holds over lines: with 3 connections
 *    held, a 4th offered on the line waits there (ivt_accept -EAGAIN,
 *    ivt_listener_fd not readable) until one closes; a connector that
 *    finds its line full meanwhile comes through ivtd, which counts the
 *    listener's reported connections and refuses it with max_connections'
 *    error;
 *  - a rule that sets max_connections without saying "lines" has none.
 *
 * Checked by ivtd's status (its request counter, its lines row), never
 * by timing.
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

#define POLICY                                                                                \
	"{\"version\":1,\"channels\":["                                                      \
	"{\"name\":\"lbound\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"                 \
	"\"backend\":\"shm\",\"ring_size\":65536,\"max_connections\":3,\"lines\":true},"      \
	"{\"name\":\"lnolines\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"               \
	"\"backend\":\"shm\",\"ring_size\":65536,\"max_connections\":3},"                     \
	"{\"name\":\"l*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"                      \
	"\"backend\":\"shm\",\"ring_size\":65536}]}"

static int group_setup(void **state)
{
	(void)state;
	return e2e_group_start(POLICY);
}

static char status_buf[16384];

/* ivtd's request counter (every OPEN it read); status_buf holds the text. */
static uint64_t requests(void)
{
	assert_int_equal(e2e_status(e2e_group_daemon.sock, status_buf, sizeof(status_buf)), 0);
	const char *p = strstr(status_buf, "requests ");
	assert_non_null(p);
	return strtoull(p + 9, NULL, 10);
}

static ivt_channel *accept_one(ivt_listener *l)
{
	ivt_channel *ch = NULL;
	assert_int_equal(e2e_accept(l, 10000, &ch), 0);
	return ch;
}

/* One connection: open (timeout 0: it goes on once queued or sent on the
 * line), a byte each way, close both. */
static void one_connection(ivt_listener *l, const char *name)
{
	ivt_channel *c, *s;
	assert_int_equal(e2e_open(name, 0, 0, 0, &c), 0);
	assert_int_equal(ivt_send(c, "q", 1), 1);
	s = accept_one(l);
	char b;
	ivt_set_timeouts(s, -1, 10000);
	ivt_set_timeouts(c, -1, 10000);
	assert_int_equal(ivt_recv(s, &b, 1), 1);
	assert_int_equal(ivt_send(s, "a", 1), 1);
	assert_int_equal(ivt_recv(c, &b, 1), 1);
	assert_int_equal(ivt_close(c), 0);
	ivt_close(s);
}

static int listener_readable(ivt_listener *l, int timeout_ms)
{
	struct pollfd p = {.fd = ivt_listener_fd(l), .events = POLLIN};
	return poll(&p, 1, timeout_ms) == 1;
}

/* ---- a line at the second connection, not the first -------------------- */

#define ONCE 8

static int connect_once(void *arg)
{
	(void)arg;
	ivt_channel *c;
	char b;
	if (e2e_open("lonce", 0, 10000, 0, &c) < 0)
		return 10;
	ivt_set_timeouts(c, 10000, 10000);
	if (ivt_send(c, "q", 1) != 1 || ivt_recv(c, &b, 1) != 1)
		return 11;
	ivt_close(c);
	return 0;
}

static void test_no_line_for_one_connection(void **state)
{
	(void)state;
	ivt_listener *l;
	assert_int_equal(e2e_listen("lonce", 1, &l), 0);
	int fds0 = e2e_count_fds(0);
	pid_t pids[ONCE];
	for (int i = 0; i < ONCE; i++)
		pids[i] = e2e_fork(connect_once, NULL);
	for (int i = 0; i < ONCE; i++) {
		ivt_channel *s = accept_one(l);
		char b;
		ivt_set_timeouts(s, 10000, 10000);
		assert_int_equal(ivt_recv(s, &b, 1), 1);
		assert_int_equal(ivt_send(s, "a", 1), 1);
		ivt_close(s);
	}
	for (int i = 0; i < ONCE; i++)
		assert_int_equal(e2e_wait(pids[i]), 0);
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), -EAGAIN); /* anything left is read */
	requests();
	assert_null(strstr(status_buf, "lines:")); /* none granted */
	/* the listener holds no line: 2 descriptors each before */
	assert_true(e2e_count_fds(0) < fds0 + ONCE);
	/* a process that connects twice has its line from the second on */
	uint64_t r = requests();
	one_connection(l, "lonce");
	assert_true(requests() > r);
	assert_null(strstr(status_buf, "lines:"));
	r = requests();
	one_connection(l, "lonce"); /* through ivtd: brings the line */
	assert_true(requests() > r);
	assert_non_null(strstr(status_buf, "lines: 1 granted"));
	r = requests();
	one_connection(l, "lonce"); /* over the line */
	assert_int_equal(requests(), r);
	assert_int_equal(ivt_listener_close(l), 0);
}

/* ---- max_connections over lines ------------------------------------------ */

#define BOUND 3
#define FLOOD 64 /* more than a line's queue holds */

static void test_max_connections_over_lines(void **state)
{
	(void)state;
	ivt_listener *l;
	assert_int_equal(e2e_listen("lbound", 1, &l), 0);
	one_connection(l, "lbound");
	one_connection(l, "lbound"); /* brings the line */
	uint64_t r = requests();
	assert_non_null(strstr(status_buf, "lines: 1 granted"));
	ivt_channel *c[BOUND + 1], *s[BOUND + 1];
	for (int i = 0; i < BOUND; i++) {
		assert_int_equal(e2e_open("lbound", 0, 0, 0, &c[i]), 0);
		s[i] = accept_one(l);
	}
	/* the 4th waits on the line: not accepted while 3 are held */
	assert_int_equal(e2e_open("lbound", 0, 0, 0, &c[BOUND]), 0);
	assert_int_equal(ivt_send(c[BOUND], "d", 1), 1);
	assert_int_equal(requests(), r); /* all four on the line */
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), -EAGAIN);
	assert_false(listener_readable(l, 0));
	assert_int_equal(ivt_accept(l, &ch), -EAGAIN);
	/* ivtd hears the listener's count: it shows it, and refuses a
	 * connector that comes through it (its line full) as at
	 * max_connections */
	int told = 0;
	for (int i = 0; i < 500 && !told; i++) {
		requests();
		told = strstr(status_buf, "(3 held)") != NULL;
		if (!told)
			poll(NULL, 0, 10);
	}
	assert_true(told);
	ivt_channel *more[FLOOD];
	int n = 0, rc = 0;
	for (; n < FLOOD && (rc = ivt_open("lbound", 0, &(struct ivt_open_opts){
				  .struct_size = sizeof(struct ivt_open_opts)}, &more[n])) == 0; n++)
		;
	assert_true(n < FLOOD);
	assert_int_equal(rc, -EUSERS);
	assert_false(listener_readable(l, 0));
	/* one closes: the listener wakes, and the 4th is accepted */
	ivt_close(s[0]);
	assert_true(listener_readable(l, 10000));
	s[0] = accept_one(l);
	char b;
	ivt_set_timeouts(s[0], -1, 10000);
	assert_int_equal(ivt_recv(s[0], &b, 1), 1);
	assert_int_equal(b, 'd');
	assert_int_equal(ivt_accept(l, &ch), -EAGAIN); /* 3 held again */
	ivt_close(c[0]);
	/* the rest of the flood, one close at a time */
	for (int i = 0; i < n; i++) {
		ivt_close(s[0]);
		s[0] = accept_one(l);
		ivt_close(more[i]);
	}
	for (int i = 0; i < BOUND; i++)
		ivt_close(s[i]);
	for (int i = 1; i <= BOUND; i++)
		ivt_close(c[i]);
	assert_int_equal(ivt_listener_close(l), 0);
}

/* ---- a rule with limits of its own and no "lines": none ---------------- */

static void test_limits_without_lines_key(void **state)
{
	(void)state;
	ivt_listener *l;
	assert_int_equal(e2e_listen("lnolines", 1, &l), 0);
	for (int i = 0; i < 3; i++) {
		uint64_t r = requests();
		one_connection(l, "lnolines");
		assert_true(requests() > r);
	}
	assert_null(strstr(status_buf, "lines:"));
	assert_int_equal(ivt_listener_close(l), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_line_for_one_connection),
		cmocka_unit_test(test_max_connections_over_lines),
		cmocka_unit_test(test_limits_without_lines_key),
	};
	return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
