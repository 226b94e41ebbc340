/* SPDX-License-Identifier: MIT */
/*
 * A connector with timeout 0 to an ivt_listen listener returns once it
 * is queued there, as TCP's connect does (ivt.h; the preload's connect
 * relies on it). Everything runs in one thread, so a connector that
 * waited for the accept could never return: ivt_open before ivt_accept,
 * bytes sent before the accept read after it, both for a connector that
 * did not know the listener's grant yet and one that did; a connector
 * that sends and closes before the accept still delivers its bytes and
 * the end of stream; one whose listener closes first reads a reset; and a
 * full backlog still refuses at once.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define POLICY                                                                                \
	"{\"version\":1,\"channels\":["                                                      \
	"{\"name\":\"qback\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"                   \
	"\"backend\":\"shm\",\"ring_size\":65536,\"backlog\":1},"                            \
	"{\"name\":\"q*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"                      \
	"\"backend\":\"shm\",\"ring_size\":65536}]}"

static int group_setup(void **state)
{
	(void)state;
	return e2e_group_start(POLICY);
}

static ivt_channel *accept_one(ivt_listener *l)
{
	struct pollfd p = {.fd = ivt_listener_fd(l), .events = POLLIN};
	ivt_channel *ch = NULL;
	for (int i = 0; i < 100; i++) {
		if (ivt_accept(l, &ch) == 0)
			return ch;
		poll(&p, 1, 100);
	}
	fail_msg("nothing to accept");
	return NULL;
}

static void recv_exact(ivt_channel *ch, const char *want)
{
	char buf[64];
	size_t n = strlen(want);
	ivt_set_timeouts(ch, -1, 10000);
	assert_int_equal(ivt_recv_all(ch, buf, n), (ssize_t)n);
	assert_memory_equal(buf, want, n);
}

/* The first connection learns the grant (ivtd answers it alone), the
 * second brings its ring at once: both are queued, not accepted. */
static void test_queued_before_accept(void **state)
{
	(void)state;
	ivt_listener *l = NULL;
	assert_int_equal(e2e_listen("qfirst", 1, &l), 0);
	for (int round = 0; round < 2; round++) {
		ivt_channel *c, *s;
		assert_int_equal(e2e_open("qfirst", 0, 0, 0, &c), 0);
		assert_int_equal(ivt_send(c, "hello", 5), 5); /* waits in the ring */
		s = accept_one(l);
		recv_exact(s, "hello");
		assert_int_equal(ivt_send(s, "world", 5), 5);
		recv_exact(c, "world");
		assert_string_equal(ivt_peer_identity(c), ivt_peer_identity(s));
		assert_int_equal(ivt_close(c), 0);
		char b;
		assert_int_equal(ivt_recv(s, &b, 1), 0);
		ivt_close(s);
	}
	ivt_listener_close(l);
}

/* TCP: a client that writes and closes before the accept; the server
 * accepts later and reads the bytes, then the end. */
static void test_closed_before_accept(void **state)
{
	(void)state;
	ivt_listener *l = NULL;
	assert_int_equal(e2e_listen("qgone", 1, &l), 0);
	ivt_channel *c, *s;
	for (int round = 0; round < 2; round++) {
		assert_int_equal(e2e_open("qgone", 0, 0, 0, &c), 0);
		assert_int_equal(ivt_send(c, "bye", 3), 3);
		assert_int_equal(ivt_close(c), 0);
		s = accept_one(l);
		recv_exact(s, "bye");
		char b;
		assert_int_equal(ivt_recv(s, &b, 1), 0);
		ivt_close(s);
	}
	ivt_listener_close(l);
}

/* The listener closes with the connector still queued: refused, as the
 * listener never took its ring (the second connection goes over the
 * direct line ivtd gave with the first). */
static void test_listener_closes_first(void **state)
{
	(void)state;
	ivt_listener *l = NULL;
	assert_int_equal(e2e_listen("qrst", 1, &l), 0);
	ivt_channel *c, *s;
	assert_int_equal(e2e_open("qrst", 0, 0, 0, &c), 0); /* learns the grant */
	s = accept_one(l);
	ivt_close(c);
	ivt_close(s);
	assert_int_equal(e2e_open("qrst", 0, 0, 0, &c), 0);
	assert_int_equal(ivt_listener_close(l), 0);
	ivt_set_timeouts(c, -1, 10000);
	char b;
	assert_int_equal(ivt_recv(c, &b, 1), -ECONNREFUSED);
	ivt_close(c);
}

/* A full backlog refuses at once, as before. This is ivtd's backlog:
 * without direct lines (over a line the line's queue is the backlog,
 * test_e2e_lines). */
static void test_full_backlog_refuses(void **state)
{
	(void)state;
	setenv("IVT_LINES", "0", 1);
	ivt_listener *l = NULL;
	assert_int_equal(e2e_listen("qback", 1, &l), 0);
	ivt_channel *a, *b, *s;
	assert_int_equal(e2e_open("qback", 0, 0, 0, &a), 0);
	assert_int_equal(e2e_open("qback", 0, 0, 0, &b), -EAGAIN);
	s = accept_one(l);
	assert_int_equal(e2e_open("qback", 0, 0, 0, &b), 0); /* room again */
	ivt_close(a);
	ivt_close(s);
	s = accept_one(l);
	ivt_close(b);
	ivt_close(s);
	ivt_listener_close(l);
	unsetenv("IVT_LINES");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queued_before_accept),
		cmocka_unit_test(test_closed_before_accept),
		cmocka_unit_test(test_listener_closes_first),
		cmocka_unit_test(test_full_backlog_refuses),
	};
	return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
