/* SPDX-License-Identifier: MIT */
/*
 * Accepted ends ivtd lets go of (policy limits.detach_above, here 0:
 * always). ivtd then holds one control connection per ivt_listen channel
 * instead of two, and the ends learn each other's close and death from
 * the backend (shm) alone: the stream, end of stream, a reset, the peer's
 * identity and ivtctl status must be as with both ends watched.
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
#include <unistd.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define POLICY                                                                                \
	"{\"version\":1,\"limits\":{\"detach_above\":0},\"channels\":[{\"name\":\"t*\","     \
	"\"listeners\":[\"*\"],\"connectors\":[\"*\"],\"backend\":\"shm\"}]}"

#define CONNS 16

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	return e2e_group_start(POLICY);
}

static int ivtd_fds(void)
{
	return e2e_count_fds(e2e_group_daemon.pid);
}

/* ivtd reaps a released connection after the dispatch that let it go:
 * wait until its count settles at want (or give up and show it). */
static int ivtd_fds_settle(int want)
{
	int n = ivtd_fds();
	for (int i = 0; i < 200 && n != want; i++) {
		usleep(10000);
		n = ivtd_fds();
	}
	return n;
}

/* ivtd's count once it holds still (a STATUS connection reaped). */
static int ivtd_fds_still(void)
{
	int n = ivtd_fds();
	for (int same = 0; same < 5;) {
		usleep(20000);
		int m = ivtd_fds();
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

/* Connects, sends its index, expects it back +1, then waits for EOF. */
static int connector(void *arg)
{
	intptr_t i = (intptr_t)arg;
	ivt_channel *ch;
	if (e2e_open("t-detach", 0, 10000, 0, &ch) < 0)
		return 10;
	uint8_t b = (uint8_t)i;
	if (ivt_send(ch, &b, 1) != 1)
		return 11;
	if (ivt_recv(ch, &b, 1) != 1 || b != (uint8_t)(i + 1))
		return 12;
	char c;
	ssize_t n = ivt_recv(ch, &c, 1); /* the server closes: end of stream */
	ivt_close(ch);
	return n == 0 ? 0 : 13;
}

static void test_one_fd_per_channel(void **state)
{
	(void)state;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = -1};
	ivt_listener *l;
	assert_int_equal(ivt_listen("t-detach", &o, &l), 0);
	char st[16384], line[256];
	/* a STATUS answered: ivtd is in its loop, done opening plugins;
	 * then its count holds still (the STATUS connection reaped) */
	assert_int_equal(e2e_status(e2e_group_daemon.sock, st, sizeof(st)), 0);
	int before = ivtd_fds_still();
	pid_t pid[CONNS];
	ivt_channel *ch[CONNS];
	for (int i = 0; i < CONNS; i++)
		pid[i] = e2e_fork(connector, (void *)(intptr_t)i);
	char me[32];
	snprintf(me, sizeof(me), "uid:%u", (unsigned)getuid());
	for (int i = 0; i < CONNS; i++) {
		assert_int_equal(ivt_accept(l, &ch[i]), 0);
		assert_string_equal(ivt_peer_identity(ch[i]), me);
		uint8_t b;
		assert_int_equal(ivt_recv(ch[i], &b, 1), 1);
		b++;
		assert_int_equal(ivt_send(ch[i], &b, 1), 1);
	}
	/* one control connection per channel: the connector's */
	assert_int_equal(ivtd_fds_settle(before + CONNS), before + CONNS);
	assert_int_equal(e2e_status(e2e_group_daemon.sock, st, sizeof(st)), 0);
	assert_non_null(strstr(st, "16 connected"));
	for (int i = 0; i < CONNS; i++)
		assert_int_equal(ivt_close(ch[i]), 0);
	for (int i = 0; i < CONNS; i++)
		assert_int_equal(e2e_wait(pid[i]), 0);
	assert_int_equal(ivt_listener_close(l), 0);
	/* the connectors' connections went with them */
	assert_int_equal(ivtd_fds_settle(before - 1), before - 1);
	assert_int_equal(e2e_status(e2e_group_daemon.sock, st, sizeof(st)), 0);
	assert_string_equal(e2e_status_line(st, "t-detach", line, sizeof(line)), "");
}

/* Connectors that bring their own rings (docs/conn-setup.md): one process
 * opens RINGED channels in turn (the first learns the grant, the others
 * make the ring), each echoes, then all wait for end of stream. ivtd
 * lets go of the accepting ends as it answers them. */
#define RINGED 4

static int ringed_connector(void *arg)
{
	(void)arg;
	/* through ivtd each time: direct lines never reach it (test_e2e_lines) */
	setenv("IVT_LINES", "0", 1);
	ivt_channel *ch[RINGED];
	for (int i = 0; i < RINGED; i++) {
		if (e2e_open("t-detach-ring", 0, 10000, 0, &ch[i]) < 0)
			return 20 + i;
		uint8_t b = (uint8_t)i;
		if (ivt_send(ch[i], &b, 1) != 1 || ivt_recv(ch[i], &b, 1) != 1 || b != i + 1)
			return 30 + i;
	}
	for (int i = 0; i < RINGED; i++) {
		char c;
		if (ivt_recv(ch[i], &c, 1) != 0)
			return 40 + i;
		ivt_close(ch[i]);
	}
	return 0;
}

static void test_ring_connectors_detached(void **state)
{
	(void)state;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = -1};
	ivt_listener *l;
	assert_int_equal(ivt_listen("t-detach-ring", &o, &l), 0);
	char st[16384];
	assert_int_equal(e2e_status(e2e_group_daemon.sock, st, sizeof(st)), 0);
	int before = ivtd_fds_still();
	pid_t pid = e2e_fork(ringed_connector, NULL);
	ivt_channel *ch[RINGED];
	for (int i = 0; i < RINGED; i++) {
		assert_int_equal(ivt_accept(l, &ch[i]), 0);
		uint8_t b;
		assert_int_equal(ivt_recv(ch[i], &b, 1), 1);
		assert_int_equal(b, i);
		b++;
		assert_int_equal(ivt_send(ch[i], &b, 1), 1);
	}
	/* one control connection per channel (the connector's), none of the
	 * accepting ends' */
	assert_int_equal(ivtd_fds_settle(before + RINGED), before + RINGED);
	assert_int_equal(e2e_status(e2e_group_daemon.sock, st, sizeof(st)), 0);
	assert_non_null(strstr(st, "4 connected"));
	for (int i = 0; i < RINGED; i++)
		assert_int_equal(ivt_close(ch[i]), 0);
	assert_int_equal(e2e_wait(pid), 0);
	assert_int_equal(ivt_listener_close(l), 0);
}

/* The accepting side dies (no close): its connector hears a reset. */
static int dying_server(void *arg)
{
	(void)arg;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = -1};
	ivt_listener *l;
	ivt_channel *ch;
	if (ivt_listen("t-detach-die", &o, &l) < 0 || ivt_accept(l, &ch) < 0)
		return 10;
	uint8_t b;
	if (ivt_recv(ch, &b, 1) != 1 || ivt_send(ch, &b, 1) != 1)
		return 11;
	kill(getpid(), SIGKILL);
	return 12;
}

static void test_server_death_is_a_reset(void **state)
{
	(void)state;
	pid_t pid = e2e_fork(dying_server, NULL);
	ivt_channel *ch;
	assert_int_equal(e2e_open("t-detach-die", 0, 10000, 0, &ch), 0);
	uint8_t b = 7;
	assert_int_equal(ivt_send(ch, &b, 1), 1);
	assert_int_equal(ivt_recv(ch, &b, 1), 1);
	assert_int_equal(ivt_recv(ch, &b, 1), -ECONNRESET);
	assert_int_equal(e2e_wait(pid), 128 + SIGKILL);
	ivt_close(ch);
}

/* The connector closes: the accepted end reads to the end of stream. */
static int closing_client(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("t-detach-eof", 0, 10000, 0, &ch) < 0)
		return 10;
	if (e2e_send_pattern(ch, 3, 100000, 4096) != 0)
		return 11;
	return ivt_close(ch) == 0 ? 0 : 12;
}

static void test_connector_close_is_eof(void **state)
{
	(void)state;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = -1};
	ivt_listener *l;
	assert_int_equal(ivt_listen("t-detach-eof", &o, &l), 0);
	pid_t pid = e2e_fork(closing_client, NULL);
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), 0);
	assert_int_equal(e2e_recv_pattern(ch, 3, 100000), 0);
	char c;
	assert_int_equal(ivt_recv(ch, &c, 1), 0);
	assert_int_equal(e2e_wait(pid), 0);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(ivt_listener_close(l), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_fd_per_channel),
		cmocka_unit_test(test_server_death_is_a_reset),
		cmocka_unit_test(test_connector_close_is_eof),
		cmocka_unit_test(test_ring_connectors_detached),
	};
	return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
