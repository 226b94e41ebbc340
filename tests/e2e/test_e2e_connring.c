/* SPDX-License-Identifier: MIT */
/*
 * Connector-made rings (docs/conn-setup.md) through a real ivtd, with a
 * libivt listener and the connector spoken by hand on the control socket:
 * ivtd tells an ordinary connector the grant (IVT_CTRL_OK_RINGS); a
 * connector that brings a good ring is accepted through it; a hostile
 * ring (unsealed memfd, wrong size, not a socket) is refused by the
 * accepting end, which goes on to the next connector; a stale grant is
 * refused with ESTALE and a policy refusal still comes first, in neither
 * case reaching the listener; the listener closing refuses a ring
 * connector with ECONNREFUSED; a listener that asks gets its accepting
 * end's control connection with each offer; a ring connector may send
 * its OPEN and SETUP as one datagram; and a libivt connector that
 * connects twice uses the ring the second time, both ends byte-exact.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctrl_msg.h"
#include "common/ring.h"
#include "e2e/e2e_util.h"
#include "e2e/raw_ring.h"

#define RING RAW_RING
#define POLICY                                                                                \
	"{\"version\":1,\"channels\":["                                                      \
	"{\"name\":\"racl\",\"listeners\":[\"uid:0\"],\"connectors\":[\"uid:65534\"],"       \
	"\"backend\":\"shm\"},"                                                               \
	"{\"name\":\"rback\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"           \
	"\"backend\":\"shm\",\"ring_size\":65536,\"backlog\":1},"                            \
	"{\"name\":\"r*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"                    \
	"\"backend\":\"shm\",\"ring_size\":65536}]}"

static int group_setup(void **state)
{
	(void)state;
	return e2e_group_start(POLICY);
}

static ivt_listener *listen_on(const char *name)
{
	ivt_listener *l = NULL;
	assert_int_equal(e2e_listen(name, 1, &l), 0);
	return l;
}

static int readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static struct ivt_ctrl_open open_req(const char *name, uint32_t flags, uint64_t ring)
{
	struct ivt_ctrl_open r;
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.backend, sizeof(r.backend), "shm");
	r.flags = flags | IVT_CTRL_OPEN_INFO | IVT_CTRL_OPEN_RINGS;
	r.arg = 5000;
	r.ring_size = ring;
	return r;
}

/* The next message on s that is not PEER_INFO / ATTACH_INFO. */
static int next_answer(int s, struct ivt_ctrl_msg *m)
{
	for (;;) {
		int rc = ivt_ctrl_recv(s, m, 10000);
		if (rc < 0)
			return rc;
		ivt_ctrl_msg_close_fds(m);
		if (m->hdr.type != IVT_CTRL_PEER_INFO && m->hdr.type != IVT_CTRL_ATTACH_INFO)
			return 0;
	}
}

/* OPEN with RING and the ring's SETUP in one go (one: as one datagram,
 * OPEN_SETUP); fds: {memfd, wake end}. */
static int send_ring_open_as(const char *name, uint64_t ring, const int fds[2], int one)
{
	int s = e2e_ctrl_connect(e2e_group_daemon.sock);
	assert_true(s >= 0);
	struct ivt_ctrl_open req = open_req(name, IVT_CTRL_OPEN_RING, ring);
	struct ivt_ctrl_setup setup = raw_shm_setup();
	assert_int_equal(ivt_ctrl_send_open_setup(s, 1, &req, &setup, fds, 2, one), 0);
	return s;
}

static int send_ring_open(const char *name, uint64_t ring, const int fds[2])
{
	return send_ring_open_as(name, ring, fds, 0);
}

/* ---- the grant, then a ring ------------------------------------------ */

/* An ordinary connector (OPEN flags extra) accepted by l: its OPEN_OK's
 * flags (the grant's ring size checked). */
static uint32_t ordinary_grant(ivt_listener *l, const char *name, uint32_t extra)
{
	int s = e2e_ctrl_connect(e2e_group_daemon.sock);
	struct ivt_ctrl_open req = open_req(name, extra, 0);
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_OPEN, 1, &req, sizeof(req), NULL, 0), 0);
	assert_true(readable(ivt_listener_fd(l), 10000));
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), 0);
	struct ivt_ctrl_msg m;
	assert_int_equal(next_answer(s, &m), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_OPEN_OK);
	assert_int_equal(m.u.open_ok.ring_size, RING);
	ivt_close(ch);
	close(s);
	return m.u.open_ok.flags;
}

/* A ring connector (one: OPEN_SETUP) accepted by l through its ring,
 * before ivtd answers it; then its OPEN_OK. */
static void ring_accepted(ivt_listener *l, const char *name, int one)
{
	struct raw_ring r;
	raw_ring_make(&r);
	int s = send_ring_open_as(name, RING, (int[]){r.memfd, r.wake[1]}, one);
	close(r.wake[1]);
	r.wake[1] = -1;
	assert_true(readable(ivt_listener_fd(l), 10000));
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), 0);
	assert_true(ivt_ring_peer_attached(&r.ring)); /* before ivtd answers us */
	assert_string_equal(ivt_peer_identity(ch), "uid:0");
	assert_int_equal(ivt_send(ch, "ok", 2), 2);
	struct ivt_ctrl_msg m;
	assert_int_equal(next_answer(s, &m), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_OPEN_OK);
	ivt_close(ch);
	close(s);
	raw_ring_free(&r);
}

static void test_grant_then_ring(void **state)
{
	(void)state;
	ivt_listener *l = listen_on("rgrant");
	/* an ordinary connector that takes the grant hears it */
	assert_true(ordinary_grant(l, "rgrant", 0) & IVT_CTRL_OK_RINGS);
	/* a connector with its own ring: accepted through it */
	ring_accepted(l, "rgrant", 0);
	ivt_listener_close(l);
}

/* ---- hostile rings ---------------------------------------------------- */

/* A ring the accepting end must refuse: dropped, and the listener takes
 * the next connector. kind 0: not sealed, 1: a page short, 2: the wake-up
 * fd is a pipe. */
static void hostile_then_good(ivt_listener *l, int kind)
{
	struct raw_ring r;
	size_t need = ivt_ring_shm_size(RING);
	raw_ring_make(&r);
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	int mem = kind == 0 ? raw_other_memfd(need, 0) : kind == 1 ? raw_other_memfd(need - 4096, 1)
							      : dup(r.memfd);
	int s = send_ring_open("rhostile", RING, (int[]){mem, kind == 2 ? p[0] : r.wake[1]});
	close(mem);
	close(r.wake[1]);
	r.wake[1] = -1;
	close(p[0]);
	assert_true(readable(ivt_listener_fd(l), 10000));
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), -EAGAIN); /* refused, none left */
	assert_false(ivt_ring_peer_attached(&r.ring));
	if (kind != 2) { /* the accepting end let go of our wake-up socket */
		char c;
		assert_true(readable(r.wake[0], 10000));
		assert_int_equal(read(r.wake[0], &c, 1), 0);
	}
	close(s);
	close(p[1]);
	raw_ring_free(&r);

	ring_accepted(l, "rhostile", 0); /* the next (good) one goes through */
}

static void test_hostile_rings_refused(void **state)
{
	(void)state;
	ivt_listener *l = listen_on("rhostile");
	for (int kind = 0; kind < 3; kind++)
		hostile_then_good(l, kind);
	ivt_listener_close(l);
}

/* ---- refusals before the listener ----------------------------------- */

static void expect_refused(const char *name, uint64_t ring, int err, ivt_listener *l)
{
	struct raw_ring r;
	raw_ring_make(&r);
	int s = send_ring_open(name, ring, (int[]){r.memfd, r.wake[1]});
	struct ivt_ctrl_msg m;
	assert_int_equal(next_answer(s, &m), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_ERROR);
	assert_int_equal(m.u.error.err, err);
	assert_false(readable(ivt_listener_fd(l), 200)); /* it never saw it */
	/* the SETUP sent with the OPEN gets no second refusal */
	assert_false(readable(s, 0));
	/* and ivtd kept no copy of our wake-up socket */
	close(r.wake[1]);
	r.wake[1] = -1;
	assert_true(readable(r.wake[0], 10000));
	close(s);
	raw_ring_free(&r);
}

static void test_stale_grant_and_policy_first(void **state)
{
	(void)state;
	ivt_listener *l = listen_on("rstale");
	expect_refused("rstale", 4096, ESTALE, l); /* not the listener's ring size */
	ivt_listener_close(l);
	/* uid 0 may not connect to racl: the policy answers, not the grant check */
	l = listen_on("racl");
	expect_refused("racl", RING, EACCES, l);
	ivt_listener_close(l);
}

static void test_listener_close_refuses_ring(void **state)
{
	(void)state;
	ivt_listener *l = listen_on("rclose");
	struct raw_ring r;
	raw_ring_make(&r);
	int s = send_ring_open("rclose", RING, (int[]){r.memfd, r.wake[1]});
	close(r.wake[1]);
	r.wake[1] = -1;
	assert_true(readable(ivt_listener_fd(l), 10000)); /* offered, not accepted */
	ivt_listener_close(l);
	struct ivt_ctrl_msg m;
	assert_int_equal(next_answer(s, &m), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_ERROR);
	assert_int_equal(m.u.error.err, ECONNREFUSED);
	close(s);
	raw_ring_free(&r);
}

/* Room at the OPEN, none by its SETUP (another ring took the last
 * backlog place in between): refused with ESTALE and forgotten, and its
 * connection closing afterwards is harmless to ivtd. */
static void test_backlog_filled_before_setup(void **state)
{
	(void)state;
	ivt_listener *l = listen_on("rback");
	struct raw_ring a, b;
	raw_ring_make(&a);
	int sa = e2e_ctrl_connect(e2e_group_daemon.sock);
	struct ivt_ctrl_open req = open_req("rback", IVT_CTRL_OPEN_RING, RING);
	assert_int_equal(ivt_ctrl_send(sa, IVT_CTRL_OPEN, 1, &req, sizeof(req), NULL, 0), 0);
	char st[16384], line[256];
	/* a STATUS answered after our OPEN: ivtd took it (CONN in RING) */
	assert_int_equal(e2e_status(e2e_group_daemon.sock, st, sizeof(st)), 0);
	raw_ring_make(&b);
	int sb = send_ring_open("rback", RING, (int[]){b.memfd, b.wake[1]});
	assert_true(readable(ivt_listener_fd(l), 10000)); /* b holds the backlog */
	struct ivt_ctrl_setup setup = raw_shm_setup();
	assert_int_equal(ivt_ctrl_send(sa, IVT_CTRL_SETUP, 2, &setup, sizeof(setup),
				       (int[]){a.memfd, a.wake[1]}, 2), 0);
	struct ivt_ctrl_msg m;
	assert_int_equal(next_answer(sa, &m), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_ERROR);
	assert_int_equal(m.u.error.err, ESTALE);
	close(sa); /* ivtd forgot it: its end going is nothing to it */
	assert_int_equal(e2e_status(e2e_group_daemon.sock, st, sizeof(st)), 0);
	assert_non_null(e2e_status_line(st, "rback", line, sizeof(line)));
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), 0); /* b's */
	assert_true(ivt_ring_peer_attached(&b.ring));
	ivt_close(ch);
	close(sb);
	raw_ring_free(&a);
	raw_ring_free(&b);
	ivt_listener_close(l);
}

/* ---- the accepting end's control connection with the offer ------------ */

/* A listener spoken by hand: OPEN (MULTI, RINGS, and extra) answered. */
static int raw_listener(const char *name, uint32_t extra)
{
	int s = e2e_ctrl_connect(e2e_group_daemon.sock);
	assert_true(s >= 0);
	struct ivt_ctrl_open req = open_req(name, IVT_LISTEN | IVT_CTRL_OPEN_MULTI | extra, 0);
	req.arg = 0;
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_OPEN, 1, &req, sizeof(req), NULL, 0), 0);
	struct ivt_ctrl_msg m;
	assert_int_equal(next_answer(s, &m), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_OPEN_OK);
	return s;
}

/* A ring connector offered to listener socket ls: its control socket,
 * the INCOMING_RING's ticket and its fds beyond the setup's (-1: none). */
static int offered(int ls, const char *name, struct raw_ring *r, uint32_t *ticket, int *extra)
{
	raw_ring_make(r);
	int s = send_ring_open(name, RING, (int[]){r->memfd, r->wake[1]});
	close(r->wake[1]);
	r->wake[1] = -1;
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(ls, &m, 10000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_INCOMING_RING);
	assert_int_equal(m.u.incoming_ring.setup.nfds, 2);
	*ticket = m.u.incoming_ring.in.ticket;
	*extra = m.nfds == 3 ? m.fds[2] : -1;
	assert_true(m.nfds == 2 || m.nfds == 3);
	close(m.fds[0]);
	close(m.fds[1]);
	return s;
}

/* OPEN ACCEPT of ticket on s, answered OPEN_OK (as the server end). */
static void accept_on(int s, const char *name, uint32_t ticket)
{
	struct ivt_ctrl_open req = open_req(name, IVT_LISTEN | IVT_CTRL_OPEN_ACCEPT, RING);
	req.arg = ticket;
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_OPEN, 1, &req, sizeof(req), NULL, 0), 0);
	struct ivt_ctrl_msg m;
	assert_int_equal(next_answer(s, &m), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_OPEN_OK);
	assert_int_equal(m.u.open_ok.is_server, 1);
}

/* A listener that asks (IVT_CTRL_OPEN_CTRL_FD) gets with each offer a
 * control connection ivtd already serves as one of the listener's: OPEN
 * ACCEPT on it takes the connector, no connect needed. One dropped
 * unused costs nothing: the connector stays queued and is accepted the
 * ordinary way. A listener that does not ask gets the setup's fds only. */
static void test_accept_end_ctrl_with_offer(void **state)
{
	(void)state;
	int ls = raw_listener("rctlfd", IVT_CTRL_OPEN_CTRL_FD);
	struct raw_ring r;
	uint32_t ticket;
	int cfd;
	int s = offered(ls, "rctlfd", &r, &ticket, &cfd);
	assert_true(cfd >= 0);
	int type = 0;
	socklen_t tl = sizeof(type);
	assert_int_equal(getsockopt(cfd, SOL_SOCKET, SO_TYPE, &type, &tl), 0);
	assert_int_equal(type, SOCK_SEQPACKET);
	accept_on(cfd, "rctlfd", ticket);
	struct ivt_ctrl_msg m;
	assert_int_equal(next_answer(s, &m), 0); /* the connector is accepted */
	assert_int_equal(m.hdr.type, IVT_CTRL_OPEN_OK);
	close(cfd);
	close(s);
	raw_ring_free(&r);

	/* unused: dropped before any OPEN; the ticket is still good */
	s = offered(ls, "rctlfd", &r, &ticket, &cfd);
	assert_true(cfd >= 0);
	close(cfd);
	int as = e2e_ctrl_connect(e2e_group_daemon.sock);
	accept_on(as, "rctlfd", ticket);
	assert_int_equal(next_answer(s, &m), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_OPEN_OK);
	close(as);
	close(s);
	raw_ring_free(&r);
	close(ls);

	/* not asked for: none */
	ls = raw_listener("rctlfd2", 0);
	s = offered(ls, "rctlfd2", &r, &ticket, &cfd);
	assert_int_equal(cfd, -1);
	close(s);
	raw_ring_free(&r);
	close(ls);
}

/* ---- OPEN and SETUP as one datagram ----------------------------------- */

/* The grant says IVT_CTRL_OK_OPEN_SETUP only to a connector that said it
 * takes it (IVT_CTRL_OPEN_ONE_MSG); a ring connector's OPEN_SETUP is
 * accepted as the OPEN and SETUP it carries, a policy refusal still comes
 * first (its fds not kept, the listener never told), and an OPEN_SETUP
 * without RING is a protocol error. */
static void test_open_setup_one_datagram(void **state)
{
	(void)state;
	ivt_listener *l = listen_on("rone");
	for (int hint = 0; hint <= 1; hint++) {
		uint32_t f = ordinary_grant(l, "rone", hint ? IVT_CTRL_OPEN_ONE_MSG : 0);
		assert_true(f & IVT_CTRL_OK_RINGS);
		assert_int_equal(!!(f & IVT_CTRL_OK_OPEN_SETUP), hint);
	}
	ring_accepted(l, "rone", 1);
	ivt_listener_close(l);

	struct raw_ring r;
	struct ivt_ctrl_msg m;
	/* the policy first: uid 0 may not connect to racl */
	l = listen_on("racl");
	raw_ring_make(&r);
	int s = send_ring_open_as("racl", RING, (int[]){r.memfd, r.wake[1]}, 1);
	assert_int_equal(next_answer(s, &m), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_ERROR);
	assert_int_equal(m.u.error.err, EACCES);
	assert_false(readable(ivt_listener_fd(l), 200));
	close(r.wake[1]);
	r.wake[1] = -1;
	assert_true(readable(r.wake[0], 10000)); /* ivtd kept no copy */
	close(s);
	raw_ring_free(&r);
	ivt_listener_close(l);

	/* without RING */
	s = e2e_ctrl_connect(e2e_group_daemon.sock);
	struct ivt_ctrl_open_setup os = {.open = open_req("rone", 0, RING), .setup = raw_shm_setup()};
	os.setup.nfds = 0;
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_OPEN_SETUP, 1, &os, sizeof(os), NULL, 0), 0);
	assert_int_equal(next_answer(s, &m), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_ERROR);
	assert_int_equal(m.u.error.err, EPROTO);
	close(s);
}

/* ---- libivt on both ends --------------------------------------------- */

/* Three connections from one process: the first learns the grant, the
 * others bring their rings. Each sends its number and reads it back. */
static int twice_client(void *arg)
{
	(void)arg;
	for (uint8_t i = 1; i <= 3; i++) {
		ivt_channel *ch;
		if (e2e_open("rboth", 0, 10000, 0, &ch) < 0)
			return 10 + i;
		if (strcmp(ivt_peer_identity(ch), "uid:0"))
			return 20 + i;
		uint8_t c = 0;
		if (ivt_send(ch, &i, 1) != 1 || ivt_recv_all(ch, &c, 1) != 1 || c != i)
			return 30 + i;
		ivt_close(ch);
	}
	return 0;
}

static void test_libivt_both_ends(void **state)
{
	(void)state;
	ivt_listener *l = listen_on("rboth");
	pid_t pid = e2e_fork(twice_client, NULL);
	for (int i = 1; i <= 3; i++) {
		ivt_channel *ch;
		/* readable means ivt_accept may succeed: ivtd's LINE can wake
		 * the listener just before the offer it goes with (the second
		 * connection's), and that accept says -EAGAIN */
		assert_int_equal(e2e_accept(l, 10000, &ch), 0);
		assert_string_equal(ivt_peer_identity(ch), "uid:0");
		uint8_t c;
		assert_int_equal(ivt_set_nonblock(ch, 0), 0);
		assert_int_equal(ivt_recv_all(ch, &c, 1), 1);
		assert_int_equal(c, i);
		assert_int_equal(ivt_send(ch, &c, 1), 1);
		assert_int_equal(ivt_recv(ch, &c, 1), 0); /* its close */
		ivt_close(ch);
	}
	assert_int_equal(e2e_wait(pid), 0);
	ivt_listener_close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grant_then_ring),
		cmocka_unit_test(test_hostile_rings_refused),
		cmocka_unit_test(test_stale_grant_and_policy_first),
		cmocka_unit_test(test_listener_close_refuses_ring),
		cmocka_unit_test(test_backlog_filled_before_setup),
		cmocka_unit_test(test_accept_end_ctrl_with_offer),
		cmocka_unit_test(test_open_setup_one_datagram),
		cmocka_unit_test(test_libivt_both_ends),
	};
	return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
