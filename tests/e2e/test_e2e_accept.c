/* SPDX-License-Identifier: MIT */
/*
 * One listener, many connections (ivt_listen / ivt_accept) through a real
 * ivtd: 64 concurrent clients each streaming a byte-exact pattern; the
 * policy checked per connector (a refused one never reaches the accept
 * queue); the listener closing with a connector queued (-ECONNREFUSED,
 * accepted channels live on); backlog and max_connections full (-EAGAIN,
 * -EUSERS, or a wait until there is room); and a connector whose setup
 * fails never hangs a listener (issue 9 item 8), one-shot or not.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctrl_msg.h"
#include "e2e/e2e_util.h"

#define NOBODY 65534
/* First match wins: the specific rules before "t*". */
#define POLICY                                                                                \
	"{\"version\":1,\"channels\":["                                                      \
	"{\"name\":\"tacl\",\"listeners\":[\"uid:0\"],\"connectors\":[\"uid:65534\"],"       \
	"\"backend\":\"shm\"},"                                                               \
	"{\"name\":\"tback\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"                 \
	"\"backend\":\"shm\",\"backlog\":1,\"max_connections\":2},"                           \
	"{\"name\":\"t*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"                    \
	"\"backend\":\"shm\",\"ring_size\":65536}]}"

static int group_setup(void **state)
{
	(void)state;
	if (e2e_group_start(POLICY) != 0)
		return -1;
	/* let uid 65534 reach the socket (the policy decides the rest) */
	return chmod(e2e_group_daemon.dir, 0755);
}

static ivt_listener *listen_on(const char *name, int nonblock)
{
	ivt_listener *l = NULL;
	assert_int_equal(e2e_listen(name, nonblock, &l), 0);
	return l;
}

static int readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* ---- 64 concurrent clients ------------------------------------------ */

#define CLIENTS 64
#define STREAM (256u << 10)

static int stream_client(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg;
	ivt_channel *ch;
	if (e2e_open("tmany", 0, 30000, 0, &ch) < 0)
		return 10;
	if (strcmp(ivt_peer_identity(ch), "uid:0"))
		return 11;
	if (ivt_send(ch, &seed, sizeof(seed)) != sizeof(seed))
		return 12;
	if (e2e_send_pattern(ch, seed, STREAM, 10007) < 0)
		return 13;
	/* wait for the listener's verdict: one byte, 1 = all bytes right */
	uint8_t ok = 0;
	if (ivt_recv_all(ch, &ok, 1) != 1 || ok != 1)
		return 14;
	ivt_close(ch);
	return 0;
}

static void test_64_clients(void **state)
{
	(void)state;
	ivt_listener *l = listen_on("tmany", 1);
	pid_t pids[CLIENTS];
	for (int i = 0; i < CLIENTS; i++)
		pids[i] = e2e_fork(stream_client, (void *)(uintptr_t)(1000 + i));
	struct e2e_stream_in c[CLIENTS];
	memset(c, 0, sizeof(c));
	int accepted = 0, finished = 0;
	uint64_t seeds_seen = 0;
	while (finished < CLIENTS) {
		struct pollfd p[CLIENTS + 1];
		int n = 0;
		p[n++] = (struct pollfd){.fd = ivt_listener_fd(l), .events = POLLIN};
		for (int i = 0; i < accepted; i++)
			p[n++] = (struct pollfd){.fd = c[i].done ? -1 : ivt_fd(c[i].ch),
						 .events = POLLIN};
		assert_true(poll(p, (nfds_t)n, 30000) > 0);
		if (p[0].revents & POLLIN) {
			ivt_channel *ch;
			int rc;
			while (accepted < CLIENTS && (rc = ivt_accept(l, &ch)) == 0) {
				assert_string_equal(ivt_peer_identity(ch), "uid:0");
				ivt_set_nonblock(ch, 1);
				c[accepted].total = STREAM;
				c[accepted++].ch = ch;
			}
		}
		for (int i = 0; i < accepted; i++) {
			if (c[i].done)
				continue;
			int r = e2e_stream_in_read(&c[i]);
			assert_true(r >= 0);
			if (r == 1) {
				c[i].done = 1;
				finished++;
				seeds_seen += c[i].seed;
				ivt_set_nonblock(c[i].ch, 0);
				uint8_t ok = 1;
				assert_int_equal(ivt_send(c[i].ch, &ok, 1), 1);
			}
		}
	}
	/* every client's own stream, each exactly once */
	assert_int_equal(seeds_seen, (uint64_t)CLIENTS * 1000 + CLIENTS * (CLIENTS - 1) / 2);
	for (int i = 0; i < CLIENTS; i++)
		assert_int_equal(e2e_wait(pids[i]), 0);
	for (int i = 0; i < CLIENTS; i++) {
		struct ivt_stats st;
		assert_int_equal(ivt_get_stats(c[i].ch, &st), 0);
		assert_int_equal(st.bytes_received, 8 + STREAM); /* stats per connection */
		ivt_close(c[i].ch);
	}
	assert_int_equal(ivt_listener_close(l), 0);
}

/* ---- per-connector policy ------------------------------------------- */

static int nobody_client(void *arg)
{
	(void)arg;
	if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		return 20;
	ivt_channel *ch;
	if (e2e_open("tacl", 0, 10000, 0, &ch) < 0)
		return 21;
	const char *msg = "hello";
	if (ivt_send(ch, msg, 5) != 5)
		return 22;
	ivt_close(ch);
	return 0;
}

static void test_refused_connector_never_queued(void **state)
{
	(void)state;
	ivt_listener *l = listen_on("tacl", 1);
	ivt_channel *ch;
	/* uid 0 is not among the connectors: refused by ivtd, not queued */
	int rc = e2e_open("tacl", 0, 0, 0, &ch);
	assert_int_equal(rc, -EACCES);
	assert_false(readable(ivt_listener_fd(l), 200));
	assert_int_equal(ivt_accept(l, &ch), -EAGAIN);

	pid_t pid = e2e_fork(nobody_client, NULL);
	assert_true(readable(ivt_listener_fd(l), 10000));
	assert_int_equal(ivt_accept(l, &ch), 0);
	assert_string_equal(ivt_peer_identity(ch), "uid:65534");
	char buf[8];
	assert_int_equal(ivt_recv_all(ch, buf, 5), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(ivt_recv(ch, buf, 1), 0);
	assert_int_equal(e2e_wait(pid), 0);
	ivt_close(ch);
	ivt_listener_close(l);
}

/* ---- the listener goes with a connector queued ----------------------- */

static int refused_client(void *arg)
{
	ivt_channel *ch;
	int rc = e2e_open((const char *)arg, 0, 20000, 0, &ch);
	return rc == -ECONNREFUSED ? 0 : 30;
}

static int echo_client(void *arg)
{
	ivt_channel *ch;
	if (e2e_open((const char *)arg, 0, 20000, 0, &ch) < 0)
		return 40;
	char buf[4];
	if (ivt_recv_all(ch, buf, 4) != 4 || ivt_send(ch, buf, 4) != 4)
		return 41;
	ivt_close(ch);
	return 0;
}

/* Four bytes out to an echo_client and the same four back. */
static void expect_echo(ivt_channel *ch, const char *four)
{
	assert_int_equal(ivt_send(ch, four, 4), 4);
	char buf[4];
	assert_int_equal(ivt_recv_all(ch, buf, 4), 4);
	assert_memory_equal(buf, four, 4);
}

static void test_listener_close_refuses_queued(void **state)
{
	(void)state;
	ivt_listener *l = listen_on("tgone", 1);
	pid_t a = e2e_fork(echo_client, "tgone");
	assert_true(readable(ivt_listener_fd(l), 10000));
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), 0);
	pid_t b = e2e_fork(refused_client, "tgone");
	/* b is queued (ivtd says so: the listener's fd may be readable
	 * already for the direct line ivtd gave with a's accept) */
	char st[8192];
	int queued = 0;
	for (int i = 0; i < 1000 && !queued; i++) {
		assert_int_equal(e2e_status(e2e_group_daemon.sock, st, sizeof(st)), 0);
		queued = strstr(st, "1 queued (backlog") != NULL;
		if (!queued)
			poll(NULL, 0, 10);
	}
	assert_true(queued);
	assert_int_equal(ivt_listener_close(l), 0);
	assert_int_equal(e2e_wait(b), 0);
	expect_echo(ch, "ping"); /* the accepted channel lives on */
	assert_int_equal(e2e_wait(a), 0);
	ivt_close(ch);
	/* and the name is free for a new listener */
	l = listen_on("tgone", 1);
	ivt_listener_close(l);
}

/* ---- a ticket whose connector gave up -------------------------------- */

/* The accepting end sends its setup right behind its OPEN: when ivtd
 * refuses that OPEN (the connector is gone), the end it built early is
 * dropped, ivt_accept goes on to the next connector, and the next
 * connection works. */
static void test_stale_ticket_skipped(void **state)
{
	(void)state;
	ivt_listener *l = listen_on("tstale", 1);
	ivt_channel *x, *ch;
	/* nobody accepts in time: ivtd refuses it, its ticket stays queued */
	assert_int_equal(e2e_open("tstale", 0, 200, 0, &x), -ETIMEDOUT);
	assert_true(readable(ivt_listener_fd(l), 10000));
	assert_int_equal(ivt_accept(l, &ch), -EAGAIN);
	pid_t a = e2e_fork(echo_client, "tstale");
	assert_true(readable(ivt_listener_fd(l), 10000));
	assert_int_equal(ivt_accept(l, &ch), 0);
	expect_echo(ch, "late");
	assert_int_equal(e2e_wait(a), 0);
	ivt_close(ch);
	ivt_listener_close(l);
}

/* ---- backlog and max_connections ------------------------------------ */

static void test_backlog_and_max_connections(void **state)
{
	(void)state;
	/* tback: backlog 1, max_connections 2 */
	ivt_listener *l = listen_on("tback", 1);
	pid_t c1 = e2e_fork(echo_client, "tback");
	assert_true(readable(ivt_listener_fd(l), 10000)); /* c1 fills the backlog */
	ivt_channel *ch, *x;
	/* timeout 0: refused at once, saying which limit */
	assert_int_equal(e2e_open("tback", 0, 0, 0, &x), -EAGAIN);
	assert_non_null(strstr(ivt_strerror(-EAGAIN), "backlog"));
	/* with a timeout: waits until there is room */
	pid_t c2 = e2e_fork(echo_client, "tback");
	ivt_channel *s[2];
	assert_int_equal(ivt_listener_set_nonblock(l, 0), 0);
	assert_int_equal(ivt_accept(l, &s[0]), 0);
	assert_int_equal(ivt_accept(l, &s[1]), 0); /* c2, offered once c1 was taken */
	/* two connections held: the most the policy allows */
	assert_int_equal(e2e_open("tback", 0, 0, 0, &x), -EUSERS);
	assert_non_null(strstr(ivt_strerror(-EUSERS), "max_connections"));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ivt_send(s[i], "abcd", 4), 4);
		char buf[4];
		assert_int_equal(ivt_recv_all(s[i], buf, 4), 4);
		ivt_close(s[i]);
	}
	assert_int_equal(e2e_wait(c1), 0);
	assert_int_equal(e2e_wait(c2), 0);
	/* room again once they closed */
	pid_t c3 = e2e_fork(echo_client, "tback");
	assert_int_equal(ivt_accept(l, &ch), 0);
	assert_int_equal(ivt_send(ch, "efgh", 4), 4);
	assert_int_equal(e2e_wait(c3), 0);
	ivt_close(ch);
	ivt_listener_close(l);
}

/* ---- a connector whose setup fails (issue 9 item 8) ------------------ */

/* Opens as a connector over a raw control socket and, once ivtd said
 * OPEN_OK, goes away without attaching: what a connector whose backend
 * setup failed (a plugin it cannot load, a bad mapping) does. */
static int broken_client(void *arg)
{
	for (int tries = 0; tries < 2000; tries++) {
		int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", getenv("IVT_SOCKET"));
		if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			return 50;
		struct ivt_ctrl_open o = {.flags = IVT_CTRL_OPEN_INFO, .arg = 20000};
		snprintf(o.name, sizeof(o.name), "%s", (const char *)arg);
		if (ivt_ctrl_send(s, IVT_CTRL_OPEN, 1, &o, sizeof(o), NULL, 0) != 0)
			return 51;
		struct ivt_ctrl_msg m;
		do {
			if (ivt_ctrl_recv(s, &m, 20000) != 0)
				return 52;
			ivt_ctrl_msg_close_fds(&m);
		} while (m.hdr.type == IVT_CTRL_PEER_INFO);
		close(s);
		if (m.hdr.type == IVT_CTRL_OPEN_OK)
			return 0; /* and gone */
		if (m.hdr.type != IVT_CTRL_ERROR || m.u.error.err != ENOENT)
			return 53;
		usleep(10000); /* the listener is not there yet */
	}
	return 54;
}

static void test_failed_connector_never_hangs_listener(void **state)
{
	(void)state;
	alarm(60); /* the old code waited forever: fail, do not hang */
	ivt_listener *l = listen_on("tbroken", 0);
	pid_t bad = e2e_fork(broken_client, "tbroken");
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), 0);
	char buf[4];
	assert_int_equal(ivt_recv(ch, buf, sizeof(buf)), -ECONNRESET);
	ivt_close(ch);
	assert_int_equal(e2e_wait(bad), 0);
	/* the listener serves the next connector as usual */
	pid_t good = e2e_fork(echo_client, "tbroken");
	assert_int_equal(ivt_accept(l, &ch), 0);
	assert_int_equal(ivt_send(ch, "wxyz", 4), 4);
	assert_int_equal(ivt_recv_all(ch, buf, 4), 4);
	assert_int_equal(e2e_wait(good), 0);
	ivt_close(ch);
	ivt_listener_close(l);

	/* one-shot: ivt_open(IVT_LISTEN) returns instead of waiting forever,
	 * and the name does not answer EBUSY afterwards */
	bad = e2e_fork(broken_client, "toneshot");
	assert_int_equal(e2e_open("toneshot", IVT_LISTEN, -1, 0, &ch), -ECONNRESET);
	assert_int_equal(e2e_wait(bad), 0);
	good = e2e_fork(echo_client, "toneshot");
	assert_int_equal(e2e_open("toneshot", IVT_LISTEN, -1, 0, &ch), 0);
	assert_int_equal(ivt_send(ch, "1234", 4), 4);
	assert_int_equal(ivt_recv_all(ch, buf, 4), 4);
	assert_int_equal(e2e_wait(good), 0);
	ivt_close(ch);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_64_clients),
		cmocka_unit_test(test_refused_connector_never_queued),
		cmocka_unit_test(test_listener_close_refuses_queued),
		cmocka_unit_test(test_stale_ticket_skipped),
		cmocka_unit_test(test_backlog_and_max_connections),
		cmocka_unit_test(test_failed_connector_never_hangs_listener),
	};
	return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
