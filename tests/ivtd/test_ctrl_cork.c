/* SPDX-License-Identifier: MIT */
/*
 * ivtd's held answers (src/ivtd/registries/ctrl_cork.c): nothing held
 * outside a dispatch or beyond the size limit; inside one, each
 * connection's messages arrive in order when it ends, however they were
 * interleaved; a connection whose batch fails is reported once, the others
 * still get theirs; a forgotten connection's messages are not sent.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "ivtd/registries/ctrl_cork.h"

static int failures;
static void *failed_conn;

static void failed(void *conn, int rc, void *arg)
{
	(void)arg;
	assert_true(rc < 0);
	failures++;
	failed_conn = conn;
}

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

static struct ivt_ctrl_peer peer(uint32_t domid)
{
	return (struct ivt_ctrl_peer){.event = IVT_PEER_CONNECTED, .peer_domid = domid};
}

/* The next message on s: a PEER with domid want. */
static void expect_peer(int s, uint32_t want)
{
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(s, &m, 1000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_PEER);
	assert_int_equal(m.u.peer.peer_domid, want);
}

static void test_held_only_in_a_dispatch(void **state)
{
	(void)state;
	struct ivt_ctrl_cork k = {.failed = failed};
	int a[2];
	pair(a);
	struct ivt_ctrl_peer p = peer(1);
	assert_int_equal(ivt_ctrl_cork_hold(&k, &a, a[0], IVT_CTRL_PEER, 1, &p, sizeof(p)), 0);
	ivt_ctrl_cork_begin(&k);
	char big[IVT_CORK_PAYLOAD_MAX + 1] = {0};
	assert_int_equal(ivt_ctrl_cork_hold(&k, &a, a[0], IVT_CTRL_STATUS_OK, 1, big, sizeof(big)),
			 0);
	assert_int_equal(ivt_ctrl_cork_hold(&k, &a, a[0], IVT_CTRL_PEER, 1, &p, sizeof(p)), 1);
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(a[1], &m, 0), -ETIMEDOUT); /* held */
	ivt_ctrl_cork_end(&k);
	expect_peer(a[1], 1);
	close(a[0]);
	close(a[1]);
}

static void test_order_per_connection(void **state)
{
	(void)state;
	struct ivt_ctrl_cork k = {.failed = failed};
	int a[2], b[2];
	pair(a);
	pair(b);
	ivt_ctrl_cork_begin(&k);
	/* more than one batch's worth, interleaved: a flush in between */
	for (uint32_t i = 0; i < IVT_CTRL_BATCH_MAX + 4; i++) {
		struct ivt_ctrl_peer p = peer(i);
		int *s = i % 3 ? a : b;
		assert_int_equal(ivt_ctrl_cork_hold(&k, s, s[0], IVT_CTRL_PEER, i, &p, sizeof(p)), 1);
	}
	ivt_ctrl_cork_end(&k);
	for (uint32_t i = 0; i < IVT_CTRL_BATCH_MAX + 4; i++)
		expect_peer(i % 3 ? a[1] : b[1], i);
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(a[1], &m, 0), -ETIMEDOUT);
	assert_int_equal(ivt_ctrl_recv(b[1], &m, 0), -ETIMEDOUT);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

static void test_failure_and_forget(void **state)
{
	(void)state;
	struct ivt_ctrl_cork k = {.failed = failed};
	int a[2], b[2], c[2];
	pair(a);
	pair(b);
	pair(c);
	close(a[1]); /* a's peer is gone: its batch fails */
	failures = 0;
	ivt_ctrl_cork_begin(&k);
	struct ivt_ctrl_peer p = peer(7);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ivt_ctrl_cork_hold(&k, a, a[0], IVT_CTRL_PEER, 1, &p, sizeof(p)), 1);
		assert_int_equal(ivt_ctrl_cork_hold(&k, b, b[0], IVT_CTRL_PEER, 1, &p, sizeof(p)), 1);
		assert_int_equal(ivt_ctrl_cork_hold(&k, c, c[0], IVT_CTRL_PEER, 1, &p, sizeof(p)), 1);
	}
	ivt_ctrl_cork_forget(&k, c);
	ivt_ctrl_cork_end(&k);
	assert_int_equal(failures, 1);
	assert_ptr_equal(failed_conn, a);
	expect_peer(b[1], 7);
	expect_peer(b[1], 7);
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(c[1], &m, 0), -ETIMEDOUT);
	close(a[0]);
	close(b[0]);
	close(b[1]);
	close(c[0]);
	close(c[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_held_only_in_a_dispatch),
		cmocka_unit_test(test_order_per_connection),
		cmocka_unit_test(test_failure_and_forget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
