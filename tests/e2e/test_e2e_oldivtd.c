/* SPDX-License-Identifier: MIT */
/*
 * A newer libivt against an older ivtd. An "old ivtd" here is a relay in
 * front of the real one that answers an OPEN carrying flags outside its
 * era's set the way those daemons did (ERROR EINVAL "invalid OPEN flags",
 * nothing else said) and passes everything else through untouched. libivt
 * must open again without the optional flags (peer identity, re-attach)
 * and fail with a clear -EOPNOTSUPP only when the call needs a flag the
 * daemon lacks (ivt_listen, message mode). The real ivtd names the flags
 * it knows in its ERROR and ignores unknown hint bits.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctrl_msg.h"
#include "e2e/e2e_util.h"

/* The flags of two past daemons: before listen/accept (message mode
 * already), and listen/accept before re-attach. */
#define ERA_BEFORE_LISTEN (IVT_LISTEN | IVT_MESSAGE)
#define ERA_BEFORE_ATTACH                                                                     \
	(IVT_LISTEN | IVT_MESSAGE | IVT_CTRL_OPEN_MULTI | IVT_CTRL_OPEN_ACCEPT | IVT_CTRL_OPEN_INFO)

static struct {
	int lsock;
	int stop[2];
	char path[108];
	pthread_t thr;
	pthread_mutex_t lock;
	uint32_t known;    /* the era's flags */
	int refused;       /* OPENs refused */
	uint32_t last_ok;  /* flags of the last OPEN passed through */
} old;

/* Moves one datagram (and its fds) from a to b; -1 when a or b is gone. */
static int relay_one(int a, int b)
{
	static __thread char buf[65536];
	char cbuf[CMSG_SPACE(sizeof(int) * 16)];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(a, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return -1;
	iov.iov_len = (size_t)n;
	int fds[16], nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)nfds);
		}
	if (!nfds) {
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	} else {
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
	}
	ssize_t w = sendmsg(b, &mh, MSG_NOSIGNAL);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return w == n ? 0 : -1;
}

/* One client connection: judge its OPEN like an old ivtd, then relay. */
static void *serve_one(void *arg)
{
	int c = (int)(intptr_t)arg, d = -1;
	struct ivt_ctrl_msg m;
	if (ivt_ctrl_recv(c, &m, 30000) != 0)
		goto out;
	if (m.hdr.type == IVT_CTRL_OPEN) {
		pthread_mutex_lock(&old.lock);
		int refuse = (m.u.open.flags & ~old.known) != 0;
		if (refuse)
			old.refused++;
		else
			old.last_ok = m.u.open.flags;
		pthread_mutex_unlock(&old.lock);
		if (refuse) {
			struct ivt_ctrl_error e = {.err = EINVAL};
			snprintf(e.msg, sizeof(e.msg), "invalid OPEN flags");
			ivt_ctrl_send(c, IVT_CTRL_ERROR, m.hdr.seq, &e, sizeof(e), NULL, 0);
			ivt_ctrl_msg_close_fds(&m);
			goto out;
		}
	}
	if ((d = e2e_ctrl_connect(e2e_group_daemon.sock)) < 0 ||
	    ivt_ctrl_send(d, m.hdr.type, m.hdr.seq, &m.u, m.hdr.len, m.fds, m.nfds) != 0) {
		ivt_ctrl_msg_close_fds(&m);
		goto out;
	}
	ivt_ctrl_msg_close_fds(&m);
	for (;;) {
		struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = d, .events = POLLIN}};
		if (poll(p, 2, -1) < 0)
			break;
		if ((p[0].revents && relay_one(c, d) < 0) || (p[1].revents && relay_one(d, c) < 0))
			break;
	}
out:
	if (d >= 0)
		close(d);
	close(c);
	return NULL;
}

static void *accept_loop(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = old.lsock, .events = POLLIN},
				      {.fd = old.stop[0], .events = POLLIN}};
		if (poll(p, 2, -1) < 0 || p[1].revents)
			return NULL;
		int c = accept4(old.lsock, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		pthread_t t;
		if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)c) == 0)
			pthread_detach(t);
		else
			close(c);
	}
}

static int group_setup(void **state)
{
	if (e2e_group_setup_open(state) != 0)
		return -1;
	pthread_mutex_init(&old.lock, NULL);
	snprintf(old.path, sizeof(old.path), "%s/old.sock", e2e_group_daemon.dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", old.path);
	old.lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (old.lsock < 0 || bind(old.lsock, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(old.lsock, 64) != 0 || pipe(old.stop) != 0 ||
	    pthread_create(&old.thr, NULL, accept_loop, NULL) != 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	if (write(old.stop[1], "x", 1) == 1)
		pthread_join(old.thr, NULL);
	close(old.lsock);
	unlink(old.path);
	return e2e_group_teardown(state);
}

static void era(uint32_t known)
{
	pthread_mutex_lock(&old.lock);
	old.known = known;
	old.refused = 0;
	old.last_ok = 0;
	pthread_mutex_unlock(&old.lock);
}

static int refused(void)
{
	pthread_mutex_lock(&old.lock);
	int n = old.refused;
	pthread_mutex_unlock(&old.lock);
	return n;
}

static int open_old(const char *name, unsigned flags, ivt_channel **ch)
{
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 10000,
				  .socket_path = old.path};
	return ivt_open(name, flags, &o, ch);
}

static void round_trip(ivt_channel *a, ivt_channel *b)
{
	char buf[8];
	assert_int_equal(ivt_send(a, "ping", 4), 4);
	assert_int_equal(ivt_recv(b, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(ivt_send(b, "pong", 4), 4);
	assert_int_equal(ivt_recv(a, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);
}

static void *connect_thread(void *arg)
{
	ivt_channel *ch = NULL;
	int rc = open_old(arg, 0, &ch);
	return rc == 0 ? ch : NULL;
}

/* Before listen/accept: a one-shot channel works without the optional
 * flags, in two tries per end; no peer identity. */
static void test_oneshot_before_listen(void **state)
{
	(void)state;
	era(ERA_BEFORE_LISTEN);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, connect_thread, "told1"), 0);
	ivt_channel *srv = NULL;
	int rc = open_old("told1", IVT_LISTEN, &srv);
	if (rc < 0)
		fprintf(stderr, "listen: %s\n", ivt_strerror(rc));
	ivt_channel *cli = NULL;
	pthread_join(t, (void **)&cli);
	assert_int_equal(rc, 0);
	assert_non_null(cli);
	round_trip(cli, srv);
	assert_string_equal(ivt_peer_identity(srv), "");
	assert_true(refused() >= 2); /* each end: INFO|ATTACH, then INFO */
	assert_int_equal(old.last_ok & ~(uint32_t)ERA_BEFORE_LISTEN, 0);
	ivt_close(cli);
	ivt_close(srv);
}

/* Before listen/accept, ivt_listen and message mode on a daemon that
 * lacks them: -EOPNOTSUPP, and the reason names the feature. */
static void test_listen_before_listen(void **state)
{
	(void)state;
	era(ERA_BEFORE_LISTEN);
	struct ivt_open_opts o = {.struct_size = sizeof(o), .socket_path = old.path};
	ivt_listener *l = NULL;
	int rc = ivt_listen("told2", &o, &l);
	assert_int_equal(rc, -EOPNOTSUPP);
	assert_null(l);
	assert_non_null(strstr(ivt_strerror(rc), "ivt_listen"));
	assert_non_null(strstr(ivt_strerror(rc), "upgrade ivtd"));

	era(IVT_LISTEN);
	ivt_channel *ch = NULL;
	rc = open_old("told2", IVT_LISTEN | IVT_MESSAGE, &ch);
	assert_int_equal(rc, -EOPNOTSUPP);
	assert_non_null(strstr(ivt_strerror(rc), "message mode"));
}

/* Listen/accept before re-attach: only ATTACH is dropped, so accepted
 * channels still know their peer. */
static void test_accept_before_attach(void **state)
{
	(void)state;
	era(ERA_BEFORE_ATTACH);
	struct ivt_open_opts o = {.struct_size = sizeof(o), .socket_path = old.path};
	ivt_listener *l = NULL;
	int rc = ivt_listen("told3", &o, &l);
	if (rc < 0)
		fprintf(stderr, "ivt_listen: %s\n", ivt_strerror(rc));
	assert_int_equal(rc, 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, connect_thread, "told3"), 0);
	ivt_channel *srv = NULL;
	rc = ivt_accept(l, &srv);
	if (rc < 0)
		fprintf(stderr, "ivt_accept: %s\n", ivt_strerror(rc));
	ivt_channel *cli = NULL;
	pthread_join(t, (void **)&cli);
	assert_int_equal(rc, 0);
	assert_non_null(cli);
	round_trip(cli, srv);
	char want[32];
	snprintf(want, sizeof(want), "uid:%u", (unsigned)getuid());
	assert_string_equal(ivt_peer_identity(srv), want);
	assert_true(old.last_ok & IVT_CTRL_OPEN_INFO);
	assert_false(old.last_ok & IVT_CTRL_OPEN_ATTACH);
	ivt_close(cli);
	ivt_close(srv);
	ivt_listener_close(l);
}

/* Half-close only where both ends announced it: an end behind an old
 * daemon (its libivt as if older: no hint) and a listener on today's
 * ivtd. Neither may send a FIN the other cannot read: -EOPNOTSUPP with
 * a reason, nothing sent, and the channel works on. */
static void test_halfclose_needs_both_ends(void **state)
{
	(void)state;
	era(ERA_BEFORE_ATTACH);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, connect_thread, "told5"), 0);
	ivt_channel *srv = NULL;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 10000};
	assert_int_equal(ivt_open("told5", IVT_LISTEN, &o, &srv), 0);
	ivt_channel *cli = NULL;
	pthread_join(t, (void **)&cli);
	assert_non_null(cli);
	assert_false(old.last_ok & IVT_CTRL_OPEN_HALFCLOSE);
	round_trip(cli, srv);
	int rc = ivt_shutdown(srv, IVT_SHUT_WR);
	assert_int_equal(rc, -EOPNOTSUPP);
	assert_non_null(strstr(ivt_strerror(rc), "half-close"));
	assert_int_equal(ivt_shutdown(cli, IVT_SHUT_RDWR), -EOPNOTSUPP);
	round_trip(cli, srv); /* nothing changed */
	ivt_close(cli);
	char b;
	assert_int_equal(ivt_recv(srv, &b, 1), 0);
	ivt_close(srv);
}

/* Today's ivtd: unknown flags are refused with the flags it knows; unknown
 * hint bits are ignored. */
static void test_daemon_names_known_flags(void **state)
{
	(void)state;
	struct ivt_ctrl_open req = {.flags = IVT_LISTEN | IVT_CTRL_OPEN_MULTI | (1u << 15)};
	snprintf(req.name, sizeof(req.name), "told4");
	int s = e2e_ctrl_connect(e2e_group_daemon.sock);
	assert_true(s >= 0);
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_OPEN, 1, &req, sizeof(req), NULL, 0), 0);
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(s, &m, 10000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_ERROR);
	assert_int_equal(m.u.error.err, EINVAL);
	assert_int_equal(m.u.error.known_flags, IVT_CTRL_OPEN_FLAGS);
	close(s);

	req.flags = IVT_LISTEN | IVT_CTRL_OPEN_MULTI | (1u << 20);
	s = e2e_ctrl_connect(e2e_group_daemon.sock);
	assert_true(s >= 0);
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_OPEN, 1, &req, sizeof(req), NULL, 0), 0);
	assert_int_equal(ivt_ctrl_recv(s, &m, 10000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_OPEN_OK);
	close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oneshot_before_listen),
		cmocka_unit_test(test_listen_before_listen),
		cmocka_unit_test(test_accept_before_attach),
		cmocka_unit_test(test_daemon_names_known_flags),
		cmocka_unit_test(test_halfclose_needs_both_ends),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
