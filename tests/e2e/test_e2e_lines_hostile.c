/* SPDX-License-Identifier: MIT */
/*
 * A direct line's connector end is the connector's to abuse
 * (docs/conn-setup.md): this test takes a line from ivtd by hand (a raw
 * OPEN that hints lines) and puts on it what a hostile connector could:
 * garbage, a SETUP with fewer or more descriptors than it declares, a
 * message of another type, an unsealed memfd. The listener drops each
 * (closing every descriptor it got), accepts nothing from it, and then
 * takes a good ring from the same line, whose identity is the one ivtd
 * named; closing our end does not wake the listener. A line peer that
 * breaks the ring pool's slot rules loses the line.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctrl_msg.h"
#include "common/fd_send.h"
#include "e2e/e2e_util.h"
#include "e2e/raw_ring.h"

#define POLICY                                                                                \
	"{\"version\":1,\"channels\":[{\"name\":\"h*\",\"listeners\":[\"*\"],"               \
	"\"connectors\":[\"*\"],\"backend\":\"shm\",\"ring_size\":65536}]}"

static int group_setup(void **state)
{
	(void)state;
	return e2e_group_start(POLICY);
}

static int readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* A raw connector accepted by l: its control connection, and in *line
 * the line ivtd gave it (our end), or -1. */
static int raw_open(ivt_listener *l, const char *name, int *line_out)
{
	int s = e2e_ctrl_connect(e2e_group_daemon.sock);
	assert_true(s >= 0);
	struct ivt_ctrl_open req;
	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", name);
	snprintf(req.backend, sizeof(req.backend), "shm");
	req.flags = IVT_CTRL_OPEN_INFO | IVT_CTRL_OPEN_RINGS | IVT_CTRL_OPEN_LINES;
	req.arg = 5000;
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_OPEN, 1, &req, sizeof(req), NULL, 0), 0);
	assert_true(readable(ivt_listener_fd(l), 10000));
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), 0);
	int line = -1;
	for (;;) {
		struct ivt_ctrl_msg m;
		assert_int_equal(ivt_ctrl_recv(s, &m, 10000), 0);
		if (m.hdr.type == IVT_CTRL_LINE) {
			assert_int_equal(m.nfds, 1);
			assert_int_equal(m.u.line.ring_size, RAW_RING);
			line = m.fds[0];
			m.nfds = 0;
		}
		ivt_ctrl_msg_close_fds(&m);
		if (m.hdr.type == IVT_CTRL_OPEN_OK)
			break;
	}
	ivt_close(ch);
	*line_out = line;
	return s;
}

/* The line of a raw connector: ivtd grants it with this process's second
 * connection to the listener (docs/conn-setup.md), not its first. */
static int raw_line(ivt_listener *l, const char *name, int *ctrl)
{
	int line;
	close(raw_open(l, name, &line));
	assert_int_equal(line, -1);
	*ctrl = raw_open(l, name, &line);
	assert_true(line >= 0);
	return line;
}

/* What the listener makes of the next message: nothing to accept. */
static void dropped(ivt_listener *l)
{
	assert_true(readable(ivt_listener_fd(l), 10000));
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), -EAGAIN);
}

/* A SETUP as bytes, declaring `declared` fds, sent with n of fds. */
static void send_setup(int line, uint32_t declared, const int *fds, int n)
{
	struct {
		struct ivt_ctrl_hdr h;
		struct ivt_ctrl_setup s;
	} msg;
	memset(&msg, 0, sizeof(msg));
	msg.h = (struct ivt_ctrl_hdr){.magic = IVT_CTRL_MAGIC, .version = IVT_CTRL_VERSION,
				      .type = IVT_CTRL_SETUP, .len = sizeof(msg.s)};
	msg.s = raw_shm_setup();
	msg.s.nfds = declared;
	assert_int_equal(ivt_send_with_fds(line, &msg, sizeof(msg), fds, n), (ssize_t)sizeof(msg));
}

/* fd's other end sees it closed everywhere (the listener kept no copy):
 * end of file at once, not "nothing yet". */
static void all_closed(int other_end)
{
	char b;
	assert_int_equal(fcntl(other_end, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(read(other_end, &b, 1), 0);
}

static void test_hostile_line_messages(void **state)
{
	(void)state;
	ivt_listener *l;
	assert_int_equal(e2e_listen("hline", 1, &l), 0);
	int ctrl, line = raw_line(l, "hline", &ctrl);
	struct raw_ring r;
	raw_ring_make(&r);

	/* garbage of the wrong size */
	assert_int_equal(send(line, "hello", 5, MSG_NOSIGNAL), 5);
	dropped(l);

	/* one fd where two are declared, and three: all closed */
	int p[2];
	assert_int_equal(pipe(p), 0);
	send_setup(line, 2, (int[]){p[1]}, 1);
	dropped(l);
	send_setup(line, 2, (int[]){r.memfd, r.wake[1], p[1]}, 3);
	dropped(l);
	close(p[1]);
	all_closed(p[0]);
	close(p[0]);

	/* another message type, and an OPEN at that */
	struct ivt_ctrl_open o;
	memset(&o, 0, sizeof(o));
	snprintf(o.name, sizeof(o.name), "hline");
	assert_int_equal(ivt_ctrl_send(line, IVT_CTRL_OPEN, 1, &o, sizeof(o), NULL, 0), 0);
	dropped(l);

	/* an unsealed memfd: the backend's checks refuse the ring */
	int bad = raw_other_memfd(ivt_ring_shm_size(RAW_RING), 0);
	int w[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, w), 0);
	struct ivt_ctrl_setup s = raw_shm_setup();
	assert_int_equal(ivt_ctrl_send(line, IVT_CTRL_SETUP, 1, &s, sizeof(s),
				       (int[]){bad, w[1]}, 2), 0);
	dropped(l);
	close(bad);
	close(w[1]);
	all_closed(w[0]); /* its connector would read ECONNREFUSED */
	close(w[0]);

	/* and a good ring after all that */
	assert_int_equal(ivt_ctrl_send(line, IVT_CTRL_SETUP, 1, &s, sizeof(s),
				       (int[]){r.memfd, r.wake[1]}, 2), 0);
	assert_true(readable(ivt_listener_fd(l), 10000));
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), 0);
	char id[40];
	snprintf(id, sizeof(id), "uid:%u", (unsigned)getuid());
	assert_string_equal(ivt_peer_identity(ch), id);
	assert_true(ivt_ring_peer_attached(&r.ring));
	assert_int_equal(ivt_send(ch, "ok", 2), 2);
	ivt_close(ch);

	/* our end closed (our process going): the listener's fd does not
	 * wake for it, as a TCP listening socket does not for a client gone */
	close(line);
	assert_false(readable(ivt_listener_fd(l), 200));
	raw_ring_free(&r);
	close(ctrl);
	ivt_listener_close(l);
}

/* The listener dropped the line: after what it said (RELEASED), its end
 * is closed. */
static int line_closed(int line)
{
	char buf[256];
	for (;;) {
		ssize_t n = recv(line, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue;
		return n == 0;
	}
}

/* The ring pool's slot rules (docs/conn-setup.md, "Ring reuse"): a REUSE
 * of a slot the listener never released, and a fresh ring on a slot
 * whose ring is still in use, each drop the whole line; the channel
 * already made over it lives on. */
static void test_hostile_reuse(void **state)
{
	(void)state;
	ivt_listener *l;
	assert_int_equal(e2e_listen("hreuse", 1, &l), 0);

	/* REUSE of a slot never offered */
	int ctrl, line = raw_line(l, "hreuse", &ctrl);
	assert_int_equal(ivt_ctrl_send(line, IVT_CTRL_LINE_REUSE, 2, NULL, 0, NULL, 0), 0);
	dropped(l);
	assert_true(line_closed(line));
	close(line);
	close(ctrl);

	/* a ring on slot 1, then another on slot 1 while the first is open */
	line = raw_line(l, "hreuse", &ctrl);
	struct raw_ring r, r2;
	raw_ring_make(&r);
	raw_ring_make(&r2);
	struct ivt_ctrl_setup s = raw_shm_setup();
	assert_int_equal(ivt_ctrl_send(line, IVT_CTRL_SETUP, 1, &s, sizeof(s),
				       (int[]){r.memfd, r.wake[1]}, 2), 0);
	assert_true(readable(ivt_listener_fd(l), 10000));
	ivt_channel *ch;
	assert_int_equal(ivt_accept(l, &ch), 0);
	assert_int_equal(ivt_ctrl_send(line, IVT_CTRL_SETUP, 1, &s, sizeof(s),
				       (int[]){r2.memfd, r2.wake[1]}, 2), 0);
	dropped(l);
	assert_true(line_closed(line));
	close(r2.wake[1]);
	r2.wake[1] = -1;
	all_closed(r2.wake[0]); /* the second ring was not kept either */
	/* the first connection goes on */
	assert_true(ivt_ring_peer_attached(&r.ring));
	assert_int_equal(ivt_send(ch, "ok", 2), 2);
	ivt_close(ch);
	raw_ring_free(&r);
	raw_ring_free(&r2);
	close(line);
	close(ctrl);
	ivt_listener_close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_line_messages),
		cmocka_unit_test(test_hostile_reuse),
	};
	return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
