/* SPDX-License-Identifier: MIT */
/* Control-message parsing against hostile input, through a real
 * SOCK_SEQPACKET socketpair so truncation and SCM_RIGHTS are the kernel's. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctrl_msg.h"
#include "common/fd_send.h"
#include "testsupport/fd_count.h"

struct pair {
	int a, b;
};

static int setup_pair(void **state)
{
	struct pair *p = malloc(sizeof(*p));
	int sv[2];
	if (!p || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	p->a = sv[0];
	p->b = sv[1];
	*state = p;
	return 0;
}

static int teardown_pair(void **state)
{
	struct pair *p = *state;
	if (p->a >= 0)
		close(p->a);
	if (p->b >= 0)
		close(p->b);
	free(p);
	return 0;
}

/* Send raw bytes + fds, bypassing ivt_ctrl_send's own checks. */
static void send_raw(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	assert_int_equal(ivt_send_with_fds(sock, buf, len, fds, nfds), (ssize_t)len);
}

/* Header + payload as a raw datagram. */
static size_t build(void *out, uint16_t type, uint32_t len_field, const void *payload,
		    size_t payload_len)
{
	struct ivt_ctrl_hdr h = {IVT_CTRL_MAGIC, IVT_CTRL_VERSION, type, len_field, 7};
	memcpy(out, &h, sizeof(h));
	if (payload_len)
		memcpy((char *)out + sizeof(h), payload, payload_len);
	return sizeof(h) + payload_len;
}

static void expect_eproto(int rx, const void *buf, size_t len, const int *fds, int nfds, int tx)
{
	struct ivt_ctrl_msg m;
	send_raw(tx, buf, len, fds, nfds);
	assert_int_equal(ivt_ctrl_recv(rx, &m, 1000), -EPROTO);
	assert_int_equal(m.nfds, 0);
}

static void test_name_valid(void **state)
{
	(void)state;
	assert_true(ivt_name_valid("demo"));
	assert_true(ivt_name_valid("a.b-c_D9"));
	assert_false(ivt_name_valid(""));
	assert_false(ivt_name_valid(NULL));
	assert_false(ivt_name_valid(".hidden"));
	assert_false(ivt_name_valid("a/b"));
	assert_false(ivt_name_valid("sp ace"));
	assert_false(ivt_name_valid("ümlaut"));
	char longname[IVT_NAME_MAX + 2];
	memset(longname, 'x', sizeof(longname));
	longname[IVT_NAME_MAX] = '\0';
	assert_true(ivt_name_valid(longname));
	longname[IVT_NAME_MAX] = 'x';
	longname[IVT_NAME_MAX + 1] = '\0';
	assert_false(ivt_name_valid(longname));
}

static void test_roundtrip_open(void **state)
{
	struct pair *p = *state;
	struct ivt_ctrl_open o = {.flags = IVT_LISTEN, .ring_size = 65536};
	strcpy(o.name, "demo");
	strcpy(o.backend, "shm");
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_OPEN, 42, &o, sizeof(o), NULL, 0), 0);
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_OPEN);
	assert_int_equal(m.hdr.seq, 42);
	assert_string_equal(m.u.open.name, "demo");
	assert_string_equal(m.u.open.backend, "shm");
	assert_int_equal(m.u.open.ring_size, 65536);
	assert_int_equal(m.nfds, 0);
}

static void test_roundtrip_setup_fds(void **state)
{
	struct pair *p = *state;
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	struct ivt_ctrl_setup s = {.blob_len = 5, .nfds = 2};
	memcpy(s.blob, "hello", 5);
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_SETUP, 1, &s, sizeof(s), pipefd, 2), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.nfds, 2);
	assert_int_equal(m.u.setup.blob_len, 5);
	assert_memory_equal(m.u.setup.blob, "hello", 5);
	for (int i = 0; i < 2; i++)
		assert_true(fcntl(m.fds[i], F_GETFD) & FD_CLOEXEC);
	/* the fds really are the pipe */
	assert_int_equal(write(m.fds[1], "x", 1), 1);
	char c;
	assert_int_equal(read(m.fds[0], &c, 1), 1);
	int fd0 = m.fds[0];
	ivt_ctrl_msg_close_fds(&m);
	assert_int_equal(m.nfds, 0);
	assert_true(fcntl(fd0, F_GETFD) < 0);
}

static void test_roundtrip_status(void **state)
{
	struct pair *p = *state;
	const char *txt = "channel demo: 1 listener\n";
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_STATUS, 3, NULL, 0, NULL, 0), 0);
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_STATUS_OK, 3, txt, (uint32_t)strlen(txt) + 1,
				       NULL, 0), 0);
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_STATUS);
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_STATUS_OK);
	assert_string_equal(m.u.status, txt);
}

static void test_send_refuses_bad(void **state)
{
	struct pair *p = *state;
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	/* fds only on SETUP */
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_CLOSE, 1, NULL, 0, pipefd, 1), -EINVAL);
	/* wrong size for the type */
	struct ivt_ctrl_peer pe = {.event = IVT_PEER_CLOSED};
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_PEER, 1, &pe, 4, NULL, 0), -EINVAL);
	/* nfds field that disagrees with the fds passed */
	struct ivt_ctrl_setup s = {.blob_len = 0, .nfds = 1};
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_SETUP, 1, &s, sizeof(s), pipefd, 2), -EINVAL);
	assert_int_equal(ivt_ctrl_send(p->a, 99, 1, NULL, 0, NULL, 0), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	/* nothing reached the wire */
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 0), -ETIMEDOUT);
}

static void test_hostile_headers(void **state)
{
	struct pair *p = *state;
	char buf[8192];
	size_t n;

	/* shorter than a header */
	expect_eproto(p->b, "IVT", 3, NULL, 0, p->a);
	/* bad magic */
	struct ivt_ctrl_hdr h = {0xdeadbeef, IVT_CTRL_VERSION, IVT_CTRL_CLOSE, 0, 1};
	expect_eproto(p->b, &h, sizeof(h), NULL, 0, p->a);
	/* bad version */
	h = (struct ivt_ctrl_hdr){IVT_CTRL_MAGIC, 2, IVT_CTRL_CLOSE, 0, 1};
	expect_eproto(p->b, &h, sizeof(h), NULL, 0, p->a);
	/* type out of range, both ends */
	n = build(buf, 0, 0, NULL, 0);
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	n = build(buf, IVT_CTRL_TYPE_MAX, 0, NULL, 0);
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	n = build(buf, 0xffff, 0, NULL, 0);
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	/* len says more than arrived (truncated message) */
	struct ivt_ctrl_open o = {0};
	strcpy(o.name, "demo");
	n = build(buf, IVT_CTRL_OPEN, sizeof(o), &o, sizeof(o) - 8);
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	/* len says less than arrived */
	n = build(buf, IVT_CTRL_OPEN, sizeof(o) - 8, &o, sizeof(o));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	/* len near UINT32_MAX must not wrap anything */
	n = build(buf, IVT_CTRL_OPEN, 0xfffffff0u, &o, sizeof(o));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	/* consistent header, wrong size for the type */
	n = build(buf, IVT_CTRL_OPEN, sizeof(o) - 8, &o, sizeof(o) - 8);
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	n = build(buf, IVT_CTRL_CLOSE, 4, "abcd", 4);
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	/* the socket still works after all that */
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_CLOSE, 9, NULL, 0, NULL, 0), 0);
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_CLOSE);
}

static void test_oversized_datagram(void **state)
{
	struct pair *p = *state;
	int sz = 1 << 20;
	setsockopt(p->a, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	size_t big = 64 * 1024;
	char *buf = calloc(1, big);
	assert_non_null(buf);
	build(buf, IVT_CTRL_STATUS_OK, (uint32_t)(big - sizeof(struct ivt_ctrl_hdr)), NULL, 0);
	expect_eproto(p->b, buf, big, NULL, 0, p->a);
	free(buf);
	/* next message is intact */
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_STATUS, 9, NULL, 0, NULL, 0), 0);
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_STATUS);
}

static void test_unterminated_strings(void **state)
{
	struct pair *p = *state;
	char buf[8192];
	size_t n;

	struct ivt_ctrl_open o;
	memset(&o, 'A', sizeof(o));
	n = build(buf, IVT_CTRL_OPEN, sizeof(o), &o, sizeof(o));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	/* name ok, backend unterminated */
	memset(&o, 0, sizeof(o));
	strcpy(o.name, "demo");
	memset(o.backend, 'b', sizeof(o.backend));
	n = build(buf, IVT_CTRL_OPEN, sizeof(o), &o, sizeof(o));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);

	struct ivt_ctrl_error e;
	memset(&e, 'E', sizeof(e));
	e.err = EACCES;
	n = build(buf, IVT_CTRL_ERROR, sizeof(e), &e, sizeof(e));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	/* terminated message but nonsense errno */
	memset(&e, 0, sizeof(e));
	e.err = -5;
	n = build(buf, IVT_CTRL_ERROR, sizeof(e), &e, sizeof(e));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);

	struct ivt_ctrl_open_ok ok;
	memset(&ok, 0, sizeof(ok));
	memset(ok.xs_path, 'p', sizeof(ok.xs_path));
	n = build(buf, IVT_CTRL_OPEN_OK, sizeof(ok), &ok, sizeof(ok));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);

	/* listeners: an INCOMING needs a ticket and a terminated identity */
	struct ivt_ctrl_incoming in;
	memset(&in, 0, sizeof(in));
	strcpy(in.identity, "uid:1000");
	n = build(buf, IVT_CTRL_INCOMING, sizeof(in), &in, sizeof(in));
	expect_eproto(p->b, buf, n, NULL, 0, p->a); /* ticket 0 */
	in.ticket = 7;
	memset(in.identity, 'u', sizeof(in.identity));
	n = build(buf, IVT_CTRL_INCOMING, sizeof(in), &in, sizeof(in));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	struct ivt_ctrl_peer_info pi;
	memset(&pi, 'i', sizeof(pi));
	n = build(buf, IVT_CTRL_PEER_INFO, sizeof(pi), &pi, sizeof(pi));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	/* and the valid forms pass */
	struct ivt_ctrl_msg m;
	strcpy(in.identity, "host:hostB/uid:0");
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_INCOMING, 3, &in, sizeof(in), NULL, 0), 0);
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.u.incoming.ticket, 7);
	assert_string_equal(m.u.incoming.identity, "host:hostB/uid:0");

	/* status text without NUL, and with an early NUL */
	n = build(buf, IVT_CTRL_STATUS_OK, 5, "hello", 5);
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	n = build(buf, IVT_CTRL_STATUS_OK, 6, "he\0lo", 6);
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	n = build(buf, IVT_CTRL_STATUS_OK, 0, NULL, 0);
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
}

static void test_bad_setup_and_peer(void **state)
{
	struct pair *p = *state;
	char buf[8192];
	size_t n;
	struct ivt_ctrl_setup s = {.blob_len = IVT_OOB_BLOB_MAX + 1, .nfds = 0};
	n = build(buf, IVT_CTRL_SETUP, sizeof(s), &s, sizeof(s));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	/* nfds claims fds that did not come */
	s = (struct ivt_ctrl_setup){.blob_len = 1, .nfds = 2};
	n = build(buf, IVT_CTRL_SETUP, sizeof(s), &s, sizeof(s));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	s.nfds = 0xffffffffu;
	n = build(buf, IVT_CTRL_SETUP, sizeof(s), &s, sizeof(s));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);

	struct ivt_ctrl_peer pe = {.event = 0};
	n = build(buf, IVT_CTRL_PEER, sizeof(pe), &pe, sizeof(pe));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	pe.event = 4;
	n = build(buf, IVT_CTRL_PEER, sizeof(pe), &pe, sizeof(pe));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
}

static void test_fds_on_wrong_type_closed(void **state)
{
	struct pair *p = *state;
	char buf[8192];
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	int before = ts_count_open_fds();

	/* fds on a CLOSE message */
	size_t n = build(buf, IVT_CTRL_CLOSE, 0, NULL, 0);
	expect_eproto(p->b, buf, n, pipefd, 2, p->a);
	assert_int_equal(ts_count_open_fds(), before);

	/* fds on a well-formed OPEN */
	struct ivt_ctrl_open o = {0};
	strcpy(o.name, "demo");
	n = build(buf, IVT_CTRL_OPEN, sizeof(o), &o, sizeof(o));
	expect_eproto(p->b, buf, n, pipefd, 1, p->a);
	assert_int_equal(ts_count_open_fds(), before);

	/* fds on a SETUP whose nfds disagrees */
	struct ivt_ctrl_setup s = {.blob_len = 0, .nfds = 1};
	n = build(buf, IVT_CTRL_SETUP, sizeof(s), &s, sizeof(s));
	expect_eproto(p->b, buf, n, pipefd, 2, p->a);
	assert_int_equal(ts_count_open_fds(), before);

	/* fds on a malformed (truncated) message */
	n = build(buf, IVT_CTRL_SETUP, sizeof(s), &s, 10);
	expect_eproto(p->b, buf, n, pipefd, 2, p->a);
	assert_int_equal(ts_count_open_fds(), before);

	/* more fds than any message may carry */
	int many[IVT_OOB_FDS_MAX + 3];
	for (int i = 0; i < IVT_OOB_FDS_MAX + 3; i++)
		many[i] = pipefd[i % 2];
	s = (struct ivt_ctrl_setup){.blob_len = 0, .nfds = IVT_OOB_FDS_MAX + 3};
	n = build(buf, IVT_CTRL_SETUP, sizeof(s), &s, sizeof(s));
	expect_eproto(p->b, buf, n, many, IVT_OOB_FDS_MAX + 3, p->a);
	assert_int_equal(ts_count_open_fds(), before);

	close(pipefd[0]);
	close(pipefd[1]);
}

static void test_timeout_and_reset(void **state)
{
	struct pair *p = *state;
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 0), -ETIMEDOUT);
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 10), -ETIMEDOUT);
	close(p->a);
	p->a = -1;
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), -ECONNRESET);
	assert_int_equal(ivt_ctrl_send(p->b, IVT_CTRL_CLOSE, 1, NULL, 0, NULL, 0), -ECONNRESET);
}

static void test_parse_direct(void **state)
{
	(void)state;
	struct ivt_ctrl_msg m = {.nfds = 0};
	assert_int_equal(ivt_ctrl_parse(NULL, 0, &m), -EPROTO);
	char buf[64];
	size_t n = build(buf, IVT_CTRL_STATUS, 0, NULL, 0);
	assert_int_equal(ivt_ctrl_parse(buf, n, &m), 0);
	m.nfds = -1;
	assert_int_equal(ivt_ctrl_parse(buf, n, &m), -EPROTO);
	m.nfds = IVT_OOB_FDS_MAX + 1;
	assert_int_equal(ivt_ctrl_parse(buf, n, &m), -EPROTO);
}

/* Re-attaching (ATTACH_INFO, ATTACH, ATTACH_OK): every field checked. */
static void test_attach_messages(void **state)
{
	struct pair *p = *state;
	char buf[8192];
	size_t n;
	struct ivt_ctrl_msg m;
	struct ivt_ctrl_attach a;
	memset(&a, 0, sizeof(a));
	memset(a.cookie, 0xc5, sizeof(a.cookie));
	strcpy(a.name, "demo");
	strcpy(a.backend, "shm");
	strcpy(a.peer_identity, "uid:1000");
	a.ring_size = 65536;
	a.flags = IVT_CTRL_ATTACH_SERVER | IVT_CTRL_ATTACH_MESSAGE;
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_ATTACH, 4, &a, sizeof(a), NULL, 0), 0);
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_memory_equal(&m.u.attach, &a, sizeof(a));

	struct ivt_ctrl_attach b = a;
	memset(b.cookie, 0, sizeof(b.cookie)); /* no cookie */
	n = build(buf, IVT_CTRL_ATTACH, sizeof(b), &b, sizeof(b));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	b = a;
	memset(b.name, 'n', sizeof(b.name));
	n = build(buf, IVT_CTRL_ATTACH, sizeof(b), &b, sizeof(b));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	b = a;
	memset(b.backend, 'b', sizeof(b.backend));
	n = build(buf, IVT_CTRL_ATTACH, sizeof(b), &b, sizeof(b));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	b = a;
	memset(b.peer_identity, 'i', sizeof(b.peer_identity));
	n = build(buf, IVT_CTRL_ATTACH, sizeof(b), &b, sizeof(b));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	b = a;
	b.flags = 4;
	n = build(buf, IVT_CTRL_ATTACH, sizeof(b), &b, sizeof(b));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	b = a;
	b.reserved = 1;
	n = build(buf, IVT_CTRL_ATTACH, sizeof(b), &b, sizeof(b));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	n = build(buf, IVT_CTRL_ATTACH, sizeof(a) - 8, &a, sizeof(a) - 8);
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	n = build(buf, IVT_CTRL_ATTACH, sizeof(a), &a, sizeof(a));
	expect_eproto(p->b, buf, n, &fd, 1, p->a); /* fds only ride on SETUP */
	close(fd);

	struct ivt_ctrl_attach_info ai;
	memset(&ai, 0, sizeof(ai));
	n = build(buf, IVT_CTRL_ATTACH_INFO, sizeof(ai), &ai, sizeof(ai));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	ai.cookie[15] = 1;
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_ATTACH_INFO, 5, &ai, sizeof(ai), NULL, 0), 0);
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.u.attach_info.cookie[15], 1);

	struct ivt_ctrl_attach_ok ok = {.chan_id = 9, .paired = 2};
	n = build(buf, IVT_CTRL_ATTACH_OK, sizeof(ok), &ok, sizeof(ok));
	expect_eproto(p->b, buf, n, NULL, 0, p->a);
	ok.paired = 1;
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_ATTACH_OK, 6, &ok, sizeof(ok), NULL, 0), 0);
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.u.attach_ok.chan_id, 9);
}

/* INCOMING_RING carries the setup's fds and, to a listener that asked
 * (IVT_CTRL_OPEN_CTRL_FD), one more: the accepting end's control
 * connection. Any other count is refused and every fd closed. */
static void test_incoming_ring_fds(void **state)
{
	struct pair *p = *state;
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	int before = ts_count_open_fds();
	struct ivt_ctrl_incoming_ring r;
	memset(&r, 0, sizeof(r));
	r.in.ticket = 3;
	r.setup.blob_len = 4;
	r.setup.nfds = 2;
	int fds[4] = {pipefd[0], pipefd[1], pipefd[0], pipefd[1]};
	for (int n = 2; n <= 3; n++) { /* the setup's, then one more */
		struct ivt_ctrl_msg m;
		assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_INCOMING_RING, 1, &r, sizeof(r), fds, n),
				 0);
		assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
		assert_int_equal(m.hdr.type, IVT_CTRL_INCOMING_RING);
		assert_int_equal(m.nfds, n);
		ivt_ctrl_msg_close_fds(&m);
		assert_int_equal(ts_count_open_fds(), before);
	}
	char buf[8192];
	size_t len = build(buf, IVT_CTRL_INCOMING_RING, sizeof(r), &r, sizeof(r));
	expect_eproto(p->b, buf, len, fds, 4, p->a); /* two more */
	expect_eproto(p->b, buf, len, fds, 1, p->a); /* fewer */
	assert_int_equal(ts_count_open_fds(), before);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* OPEN_SETUP: an OPEN and a SETUP in one datagram, with the SETUP's fds. */
static void test_open_setup_roundtrip(void **state)
{
	struct pair *p = *state;
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	int before = ts_count_open_fds();
	struct ivt_ctrl_open o = {0};
	strcpy(o.name, "demo");
	o.flags = IVT_CTRL_OPEN_RING;
	struct ivt_ctrl_setup s = {.blob_len = 3, .nfds = 2};
	assert_int_equal(ivt_ctrl_send_open_setup(p->a, 5, &o, &s, pipefd, 2, 1), 0);
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_OPEN_SETUP);
	assert_int_equal(m.hdr.seq, 5);
	assert_string_equal(m.u.open_setup.open.name, "demo");
	assert_int_equal(m.u.open_setup.setup.blob_len, 3);
	assert_int_equal(m.nfds, 2);
	ivt_ctrl_msg_close_fds(&m);
	assert_int_equal(ts_count_open_fds(), before);
	/* fds that disagree with setup.nfds: refused, all closed */
	struct ivt_ctrl_open_setup os = {.open = o, .setup = s};
	char buf[8192];
	size_t len = build(buf, IVT_CTRL_OPEN_SETUP, sizeof(os), &os, sizeof(os));
	expect_eproto(p->b, buf, len, pipefd, 1, p->a);
	/* an unterminated name */
	memset(os.open.name, 'x', sizeof(os.open.name));
	len = build(buf, IVT_CTRL_OPEN_SETUP, sizeof(os), &os, sizeof(os));
	expect_eproto(p->b, buf, len, pipefd, 2, p->a);
	assert_int_equal(ts_count_open_fds(), before);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* LINE (direct lines): one fd (two to a listener), a nonzero id, terminated
 * strings; LINES_DROP no payload; LINE_STATS its size. Anything else is
 * refused with every fd closed. */
static void test_line_messages(void **state)
{
	struct pair *p = *state;
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	int before = ts_count_open_fds();
	struct ivt_ctrl_line l;
	memset(&l, 0, sizeof(l));
	l.line_id = 7;
	l.ring_size = 65536;
	strcpy(l.name, "demo");
	strcpy(l.backend, "shm");
	strcpy(l.identity, "uid:1000");
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_LINE, 1, &l, sizeof(l), pipefd, 1), 0);
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_LINE);
	assert_int_equal(m.nfds, 1);
	assert_string_equal(m.u.line.identity, "uid:1000");
	ivt_ctrl_msg_close_fds(&m);
	assert_int_equal(ts_count_open_fds(), before);
	char buf[8192];
	size_t len = build(buf, IVT_CTRL_LINE, sizeof(l), &l, sizeof(l));
	expect_eproto(p->b, buf, len, pipefd, 0, p->a); /* no fd */
	int three[3] = {pipefd[0], pipefd[1], pipefd[0]};
	expect_eproto(p->b, buf, len, three, 3, p->a); /* a listener's two at most */
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_LINE, 1, &l, sizeof(l), pipefd, 2), 0);
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.nfds, 2); /* the listener's: its end and the keeper */
	ivt_ctrl_msg_close_fds(&m);
	struct ivt_ctrl_line bad = l;
	bad.line_id = 0;
	len = build(buf, IVT_CTRL_LINE, sizeof(bad), &bad, sizeof(bad));
	expect_eproto(p->b, buf, len, pipefd, 1, p->a);
	bad = l;
	memset(bad.identity, 'x', sizeof(bad.identity));
	len = build(buf, IVT_CTRL_LINE, sizeof(bad), &bad, sizeof(bad));
	expect_eproto(p->b, buf, len, pipefd, 1, p->a);
	len = build(buf, IVT_CTRL_LINE, sizeof(l) - 1, &l, sizeof(l) - 1); /* short */
	expect_eproto(p->b, buf, len, pipefd, 1, p->a);
	len = build(buf, IVT_CTRL_LINES_DROP, 0, NULL, 0);
	expect_eproto(p->b, buf, len, pipefd, 1, p->a); /* no fds on it */
	struct ivt_ctrl_line_stats st = {.accepted = 3};
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_LINE_STATS, 1, &st, sizeof(st), NULL, 0), 0);
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.u.line_stats.accepted, 3);
	/* an older listener's, without held: held reads 0 */
	st.held = 9;
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_LINE_STATS, 1, &st, IVT_CTRL_LINE_STATS_V1,
				       NULL, 0), 0);
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.u.line_stats.accepted, 3);
	assert_int_equal(m.u.line_stats.held, 0);
	len = build(buf, IVT_CTRL_LINE_STATS, IVT_CTRL_LINE_STATS_V1 + 4, &st,
		    IVT_CTRL_LINE_STATS_V1 + 4); /* neither size */
	expect_eproto(p->b, buf, len, NULL, 0, p->a);
	/* a listener's LINE carries its bound */
	struct ivt_ctrl_line bound = l;
	bound.max_conns = 3;
	assert_int_equal(ivt_ctrl_send(p->a, IVT_CTRL_LINE, 1, &bound, sizeof(bound), pipefd, 2), 0);
	assert_int_equal(ivt_ctrl_recv(p->b, &m, 1000), 0);
	assert_int_equal(m.u.line.max_conns, 3);
	ivt_ctrl_msg_close_fds(&m);
	assert_int_equal(ts_count_open_fds(), before);
	close(pipefd[0]);
	close(pipefd[1]);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_pair, teardown_pair)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		T(test_roundtrip_open),
		T(test_line_messages),
		T(test_roundtrip_setup_fds),
		T(test_roundtrip_status),
		T(test_send_refuses_bad),
		T(test_hostile_headers),
		T(test_oversized_datagram),
		T(test_unterminated_strings),
		T(test_bad_setup_and_peer),
		T(test_attach_messages),
		T(test_fds_on_wrong_type_closed),
		T(test_incoming_ring_fds),
		T(test_open_setup_roundtrip),
		T(test_timeout_and_reset),
		cmocka_unit_test(test_parse_direct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
