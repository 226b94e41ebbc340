/* SPDX-License-Identifier: MIT */
/*
 * libivt as a Xen guest: ivt_open over XenStore (docs/xenstore.md) with the
 * real libxenstore against fake_xenstored, and a scripted ivtd: a thread
 * that waits for our request node and writes the answers a test lists.
 * The "vchan" plugin is a stand-in (fake_vchan_plugin.c) that checks the
 * parameters libivt passes and carries bytes over an AF_UNIX socket; the
 * test plays the other end there, speaking libivt's frames.
 *
 * We are dom5 (the fake's "domid" node); the other end is dom3.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/xs_request.h"
#include "ivt/ivt.h"
#include "libivt/frame.h"
#include "xs/fake_xenstored.h"

#define SELF "5"
#define PEER "3"
#define DIR_SELF "/local/domain/" SELF "/data/ivt/"
#define DIR_PEER "/local/domain/" PEER "/data/ivt/"

static char vchan_dir[64];

/* ---- the scripted ivtd --------------------------------------------------- */

#define MAX_ROUNDS 2
#define MAX_VALUES 3

struct script {
	const char *name;
	int rounds; /* requests to answer, each with a new seq */
	const char *values[MAX_ROUNDS][MAX_VALUES]; /* "{seq}", "{stale}" expanded */
	/* what the guest wrote */
	char request[MAX_ROUNDS][256];
	struct ivt_xs_request parsed[MAX_ROUNDS];
	int seen;
	pthread_t thread;
};

static void path_of(char *buf, size_t len, const char *name, const char *leaf)
{
	snprintf(buf, len, DIR_SELF "%s/%s", name, leaf);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* "{seq}" -> seq, "{stale}" -> a seq that is not ours. */
static void expand(char *out, size_t len, const char *tmpl, uint32_t seq)
{
	size_t o = 0;
	for (const char *t = tmpl; *t && o + 12 < len;) {
		if (!strncmp(t, "{seq}", 5)) {
			o += (size_t)snprintf(out + o, len - o, "%u", seq);
			t += 5;
		} else if (!strncmp(t, "{stale}", 7)) {
			o += (size_t)snprintf(out + o, len - o, "%u", seq ^ 0x5a5a5a5au);
			t += 7;
		} else {
			out[o++] = *t++;
		}
	}
	out[o] = '\0';
}

/* Wait (bounded) for a request whose seq differs from the previous one. */
static int wait_request(struct script *s, int round)
{
	char path[128];
	path_of(path, sizeof(path), s->name, "request");
	for (int i = 0; i < 10000; i++) {
		char *v = fx_read(path);
		char why[128];
		struct ivt_xs_request r;
		if (v && ivt_xs_parse_request(v, strlen(v), &r, why, sizeof(why)) == 0 && r.has_seq &&
		    (round == 0 || r.seq != s->parsed[round - 1].seq)) {
			snprintf(s->request[round], sizeof(s->request[round]), "%s", v);
			s->parsed[round] = r;
			free(v);
			return 0;
		}
		free(v);
		sleep_ms(2);
	}
	return -1;
}

static void *daemon_main(void *arg)
{
	struct script *s = arg;
	char path[128], value[1024];
	path_of(path, sizeof(path), s->name, "response");
	for (int round = 0; round < s->rounds; round++) {
		if (wait_request(s, round))
			return NULL;
		s->seen = round + 1;
		for (int i = 0; i < MAX_VALUES && s->values[round][i]; i++) {
			expand(value, sizeof(value), s->values[round][i], s->parsed[round].seq);
			fx_write(path, value);
		}
	}
	return NULL;
}

/* ivt_open while the script answers. */
static int scripted_open(struct script *s, unsigned flags, int timeout_ms, const char *backend,
			 size_t ring, ivt_channel **ch)
{
	struct ivt_open_opts o = {.struct_size = sizeof(o), .backend = backend, .ring_size = ring,
				  .timeout_ms = timeout_ms};
	char path[128];
	/* ivtd removes its answers when an end goes; the script must too */
	path_of(path, sizeof(path), s->name, "response");
	fx_rm(path);
	path_of(path, sizeof(path), s->name, "event");
	fx_rm(path);
	assert_int_equal(pthread_create(&s->thread, NULL, daemon_main, s), 0);
	int rc = ivt_open(s->name, flags, &o, ch);
	pthread_join(s->thread, NULL);
	return rc;
}

static void write_event(struct script *s, int round, const char *tmpl)
{
	char path[128], value[256];
	path_of(path, sizeof(path), s->name, "event");
	expand(value, sizeof(value), tmpl, s->parsed[round].seq);
	fx_write(path, value);
}

static void assert_request_removed(const char *name)
{
	char path[128];
	path_of(path, sizeof(path), name, "request");
	char *v = fx_read(path);
	if (v)
		fail_msg("%s still there: '%s'", path, v);
}

static void assert_reason(int rc, const char *want)
{
	const char *text = ivt_strerror(rc);
	if (!strstr(text, want))
		fail_msg("ivt_strerror(%d) = '%s', wanted '%s' in it", rc, text, want);
}

/* ---- the other end of the stand-in vchan ----------------------------------- */

static void vchan_addr(struct sockaddr_un *a, const char *xs_path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s/%s", vchan_dir, xs_path);
	for (char *c = a->sun_path + strlen(vchan_dir) + 1; *c; c++)
		if (*c == '/')
			*c = '_';
}

/* The server side of a ring our connector attaches to. */
static int peer_listen(const char *xs_path)
{
	struct sockaddr_un a;
	vchan_addr(&a, xs_path);
	unlink(a.sun_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	return fd;
}

static int peer_connect(const char *xs_path)
{
	struct sockaddr_un a;
	vchan_addr(&a, xs_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void peer_send_data(int fd, const char *text)
{
	uint8_t head[IVT_FRAME_HEAD_MAX];
	size_t n = ivt_frame_encode(head, IVT_FRAME_DATA, 0, NULL, (uint32_t)strlen(text));
	assert_int_equal(write(fd, head, n), (ssize_t)n);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* ---- tests ---------------------------------------------------------------- */

#define OK_C(name) "ok backend=vchan ring=65536 path=" DIR_PEER name "/vchan peer=" PEER " chan=9"

/* Connector: request format, stale answers ignored, the parameters reach
 * the plugin, data, then peer=died -> -ECONNRESET after the data. */
static void test_connect_data_then_died(void **state)
{
	struct script s = {.name = "c1", .rounds = 1,
			   .values = {{OK_C("c1") " seq={stale}", "error 13 seq={stale} stale refusal",
				       OK_C("c1") " seq={seq}"}}};
	int lfd = peer_listen(DIR_PEER "c1/vchan");
	ivt_channel *ch = NULL;
	int rc = scripted_open(&s, 0, 20000, NULL, 65536, &ch);
	if (rc)
		fail_msg("ivt_open: %s", ivt_strerror(rc));
	char want[128];
	snprintf(want, sizeof(want), "connect backend=auto ring=65536 halfclose=1 seq=%u", s.parsed[0].seq);
	assert_string_equal(s.request[0], want);
	assert_string_equal(ivt_backend_name(ch), "vchan");
	struct ivt_stats st;
	assert_int_equal(ivt_get_stats(ch, &st), 0);
	assert_int_equal(st.ring_size, 65536);
	assert_true(ivt_fd(ch) >= 0);

	int fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	peer_send_data(fd, "hello");
	write_event(&s, 0, "peer=died domid=" PEER " seq={seq}");
	char buf[64];
	assert_int_equal(ivt_recv_all(ch, buf, 5), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(ivt_recv(ch, buf, sizeof(buf)), -ECONNRESET);
	assert_int_equal(ivt_send(ch, "x", 1), -ECONNRESET);
	ivt_close(ch);
	assert_request_removed("c1");
	close(fd);
	close(lfd);
}

/* Listener with timeout 0: events for an older request are ignored; the
 * client's data, then its close -> end of stream. */
static void test_listen_data_then_closed(void **state)
{
	struct script s = {.name = "l1", .rounds = 1,
			   .values = {{"ok backend=vchan ring=65536 path=" DIR_SELF
				       "l1/vchan peer=" PEER " chan=4 seq={seq}"}}};
	ivt_channel *ch = NULL;
	int rc = scripted_open(&s, IVT_LISTEN, 0, "vchan", 1 << 20, &ch);
	if (rc)
		fail_msg("ivt_open: %s", ivt_strerror(rc));
	char want[128];
	snprintf(want, sizeof(want), "listen backend=vchan ring=1048576 halfclose=1 seq=%u", s.parsed[0].seq);
	assert_string_equal(s.request[0], want);

	write_event(&s, 0, "peer=connected domid=" PEER " seq={seq}");
	int fd = peer_connect(DIR_SELF "l1/vchan");
	peer_send_data(fd, "ping");
	char buf[16];
	assert_int_equal(ivt_recv_all(ch, buf, 4), 4);
	assert_memory_equal(buf, "ping", 4);
	write_event(&s, 0, "peer=died domid=" PEER " seq={stale}"); /* not ours */
	close(fd);
	write_event(&s, 0, "peer=closed domid=" PEER " seq={seq}");
	assert_int_equal(ivt_recv(ch, buf, sizeof(buf)), 0);
	assert_int_equal(ivt_close(ch), 0);
	assert_request_removed("l1");
}

/* ivtd's refusals: the errno, and its reason in ivt_strerror. */
static void test_error_responses(void **state)
{
	static const struct {
		unsigned flags;
		const char *value;
		int err;
		const char *reason;
	} cases[] = {
		{0, "error 13 seq={seq} policy rule 2 refuses dom:5", -EACCES, "policy rule 2 refuses dom:5"},
		{IVT_LISTEN, "error 98 seq={seq} channel 'e1' already has a listener", -EADDRINUSE,
		 "already has a listener"},
		{0, "error 111 seq={seq} the listener is dom7, the request asked for dom3", -ECONNREFUSED,
		 "the listener is dom7"},
		{0, "error 24 seq={seq}", -EMFILE, "refused by ivtd"},
		{IVT_LISTEN, "error 22 seq={seq} ring must be 0 or a power of two >= 1024", -EINVAL,
		 "power of two"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct script s = {.name = "e1", .rounds = 1, .values = {{cases[i].value}}};
		ivt_channel *ch = NULL;
		int rc = scripted_open(&s, cases[i].flags, 20000, NULL, 0, &ch);
		if (rc != cases[i].err)
			fail_msg("case %zu: got %d (%s), wanted %d", i, rc, ivt_strerror(rc),
				 cases[i].err);
		assert_null(ch);
		assert_reason(rc, cases[i].reason);
		assert_request_removed("e1");
	}
}

/* What an honest ivtd never writes is refused with -EPROTO. */
static void test_hostile_responses(void **state)
{
	static char overlong[700];
	snprintf(overlong, sizeof(overlong), OK_C("h1") " seq={seq} x=%0600d", 0);
	const char *cases[] = {
		"garbage",
		overlong,
		/* ring paths outside the server's (dom3's) subtree, or unusable */
		"ok backend=vchan ring=65536 path=/local/domain/7/data/ivt/h1/vchan peer=3 chan=1 seq={seq}",
		"ok backend=vchan ring=65536 path=/local/domain/5/data/ivt/h1/vchan peer=3 chan=1 seq={seq}",
		"ok backend=vchan ring=65536 path=/local/domain/3/data/ivt/../../2/x peer=3 chan=1 seq={seq}",
		"ok backend=vchan ring=65536 path=/local/domain/3/data/ivt/h1/vchan/aaaaaaaaaaaaaaaaaaaa "
		"peer=3 chan=1 seq={seq}",
		"ok backend=vchan ring=65536 path=/local/domain/3/data peer=3 chan=1 seq={seq}",
		/* numbers */
		OK_C("h1") " seq={seq} seq={seq}",
		"ok backend=vchan ring=65535 path=/local/domain/3/data/ivt/h1/vchan peer=3 seq={seq}",
		"ok backend=vchan ring=512 path=/local/domain/3/data/ivt/h1/vchan peer=3 seq={seq}",
		"ok backend=vchan ring=0x10000 path=/local/domain/3/data/ivt/h1/vchan peer=3 seq={seq}",
		"ok backend=vchan ring=65536 path=/local/domain/3/data/ivt/h1/vchan peer=32752 seq={seq}",
		"ok backend=vchan ring=65536 path=/local/domain/3/data/ivt/h1/vchan seq={seq}",
		"ok backend=VCHAN ring=65536 path=/local/domain/3/data/ivt/h1/vchan peer=3 seq={seq}",
		"ok backend=vchan ring=65536 ring=65536 path=/local/domain/3/data/ivt/h1/vchan peer=3 seq={seq}",
		/* message mode: exactly one "1" */
		OK_C("h1") " message=0 seq={seq}",
		OK_C("h1") " message=yes seq={seq}",
		OK_C("h1") " message=1 message=1 seq={seq}",
		/* layout */
		"ok backend=vchan  ring=65536 path=/local/domain/3/data/ivt/h1/vchan peer=3 seq={seq}",
		"ok backend=vchan\nring=65536 path=/local/domain/3/data/ivt/h1/vchan peer=3 seq={seq}",
		"error 0 seq={seq} zero",
		"error 99999 seq={seq} big",
		"",
	};
	int lfd = peer_listen(DIR_PEER "h1/vchan");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct script s = {.name = "h1", .rounds = 1, .values = {{cases[i]}}};
		ivt_channel *ch = NULL;
		int rc = scripted_open(&s, 0, 20000, NULL, 0, &ch);
		if (rc != -EPROTO)
			fail_msg("case %zu '%.60s': got %d (%s), wanted -EPROTO", i, cases[i], rc,
				 ivt_strerror(rc));
		assert_null(ch);
		assert_reason(rc, "/local/domain/5/data/ivt/h1/response");
		assert_request_removed("h1");
	}
	/* Well-formed, but the backend declares IVT_CAP_XS_PATH and got none. */
	struct script s = {.name = "h1", .rounds = 1,
			   .values = {{"ok backend=vchan ring=65536 peer=3 chan=1 seq={seq}"}}};
	ivt_channel *ch = NULL;
	int rc = scripted_open(&s, 0, 20000, NULL, 0, &ch);
	assert_int_equal(rc, -EPROTO);
	assert_null(ch);
	assert_reason(rc, "backend vchan without the XenStore path it needs");
	close(lfd);
}

static void peer_send_msg(int fd, const char *text)
{
	uint8_t head[IVT_FRAME_HEAD_MAX];
	struct ivt_frame_ext ext = {.length = strlen(text)};
	size_t n = ivt_frame_encode(head, IVT_FRAME_MSG, 0, &ext, (uint32_t)strlen(text));
	assert_int_equal(write(fd, head, n), (ssize_t)n);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Message mode over XenStore: IVT_MESSAGE is in the request ("message=1"),
 * ivtd's "message=1" makes the end a message end even when it did not
 * ask, and a connector that asked gets -EPROTOTYPE from a stream answer. */
static void test_message_mode(void **state)
{
	(void)state;
	/* a connector that did not ask: the listener's mode, as answered */
	struct script s = {.name = "m1", .rounds = 1,
			   .values = {{OK_C("m1") " message=1 seq={seq}"}}};
	int lfd = peer_listen(DIR_PEER "m1/vchan");
	ivt_channel *ch = NULL;
	int rc = scripted_open(&s, 0, 20000, NULL, 0, &ch);
	if (rc)
		fail_msg("ivt_open: %s", ivt_strerror(rc));
	assert_false(s.parsed[0].message);
	int fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	peer_send_msg(fd, "one whole message");
	char buf[64];
	assert_int_equal(ivt_recv(ch, buf, sizeof(buf)), 17);
	assert_memory_equal(buf, "one whole message", 17);
	ivt_close(ch);
	close(fd);

	/* a connector that asked, on a stream channel: refused */
	struct script t = {.name = "m1", .rounds = 1, .values = {{OK_C("m1") " seq={seq}"}}};
	rc = scripted_open(&t, IVT_MESSAGE, 20000, NULL, 0, &ch);
	assert_int_equal(rc, -EPROTOTYPE);
	assert_null(ch);
	assert_true(t.parsed[0].message);
	char want[128];
	snprintf(want, sizeof(want), "connect backend=auto ring=0 message=1 halfclose=1 seq=%u",
		 t.parsed[0].seq);
	assert_string_equal(t.request[0], want);
	close(lfd);

	/* a listener that asks: its request says so */
	struct script l = {.name = "m2", .rounds = 1,
			   .values = {{"ok backend=vchan ring=65536 path=" DIR_SELF
				       "m2/vchan peer=" PEER " chan=4 message=1 seq={seq}"}}};
	rc = scripted_open(&l, IVT_LISTEN | IVT_MESSAGE, 0, "vchan", 65536, &ch);
	if (rc)
		fail_msg("ivt_open: %s", ivt_strerror(rc));
	snprintf(want, sizeof(want), "listen backend=vchan ring=65536 message=1 halfclose=1 seq=%u",
		 l.parsed[0].seq);
	assert_string_equal(l.request[0], want);
	write_event(&l, 0, "peer=connected domid=" PEER " seq={seq}");
	fd = peer_connect(DIR_SELF "m2/vchan");
	peer_send_msg(fd, "hi");
	assert_int_equal(ivt_recv(ch, buf, sizeof(buf)), 2);
	ivt_close(ch);
	close(fd);
}

/* Only answers to earlier requests: not ours, so the open times out. */
static void test_stale_only_times_out(void **state)
{
	struct script s = {.name = "s1", .rounds = 1,
			   .values = {{OK_C("s1") " seq={stale}", OK_C("s1")}}};
	ivt_channel *ch = NULL;
	int rc = scripted_open(&s, 0, 300, NULL, 0, &ch);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_reason(rc, "/local/domain/5/data/ivt/s1/response");
	assert_request_removed("s1");
}

/* A connector told "nobody listens" asks again, with a new seq. */
static void test_connect_retries_with_new_seq(void **state)
{
	struct script s = {.name = "r1", .rounds = 2,
			   .values = {{"error 2 seq={seq} no listener for channel 'r1'"},
				      {OK_C("r1") " seq={seq}"}}};
	int lfd = peer_listen(DIR_PEER "r1/vchan");
	ivt_channel *ch = NULL;
	int rc = scripted_open(&s, 0, 20000, NULL, 0, &ch);
	if (rc)
		fail_msg("ivt_open: %s", ivt_strerror(rc));
	assert_int_equal(s.seen, 2);
	assert_int_not_equal(s.parsed[0].seq, s.parsed[1].seq);
	assert_int_equal(ivt_close(ch), 0);
	assert_request_removed("r1");
	close(lfd);
}

static int readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms);
}

/* Half-close over XenStore: every request says halfclose=1; ivtd's ok
 * says whether both ends take it ("halfclose=1": ivt_shutdown sends the
 * FIN frame on the ring, the other direction goes on; without it
 * -EOPNOTSUPP); an ivtd older than the key refuses it and is asked again
 * without it. */
static void test_halfclose(void **state)
{
	(void)state;
	struct script s = {.name = "hc1", .rounds = 1,
			   .values = {{OK_C("hc1") " halfclose=1 seq={seq}"}}};
	int lfd = peer_listen(DIR_PEER "hc1/vchan");
	ivt_channel *ch = NULL;
	int rc = scripted_open(&s, 0, 20000, NULL, 0, &ch);
	if (rc)
		fail_msg("ivt_open: %s", ivt_strerror(rc));
	assert_true(s.parsed[0].halfclose);
	int fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	assert_int_equal(ivt_send(ch, "q", 1), 1);
	assert_int_equal(ivt_shutdown(ch, IVT_SHUT_WR), 0);
	uint8_t got[IVT_FRAME_HDR_SIZE + 1 + IVT_FRAME_HDR_SIZE];
	size_t have = 0;
	while (have < sizeof(got) && readable(fd, 5000) == 1) {
		ssize_t n = read(fd, got + have, sizeof(got) - have);
		assert_true(n > 0);
		have += (size_t)n;
	}
	assert_int_equal(have, sizeof(got));
	struct ivt_frame_hdr h;
	assert_int_equal(ivt_frame_decode_hdr(got + IVT_FRAME_HDR_SIZE + 1, &h), 0);
	assert_int_equal(h.type, IVT_FRAME_FIN);
	peer_send_data(fd, "answer"); /* our receiving side goes on */
	char buf[16];
	assert_int_equal(ivt_recv(ch, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "answer", 6);
	assert_int_equal(ivt_send(ch, "x", 1), -EPIPE);
	ivt_close(ch);
	close(fd);
	close(lfd);

	/* no grant in the ok: nothing sent */
	struct script n = {.name = "hc2", .rounds = 1, .values = {{OK_C("hc2") " seq={seq}"}}};
	lfd = peer_listen(DIR_PEER "hc2/vchan");
	rc = scripted_open(&n, 0, 20000, NULL, 0, &ch);
	if (rc)
		fail_msg("ivt_open: %s", ivt_strerror(rc));
	assert_int_equal(ivt_shutdown(ch, IVT_SHUT_WR), -EOPNOTSUPP);
	assert_reason(-EOPNOTSUPP, "half-close");
	ivt_close(ch);
	close(lfd);

	/* an older ivtd: the key refused, asked again without it */
	struct script o = {.name = "hc3", .rounds = 2,
			   .values = {{"error 22 seq={seq} reason=unknown key 'halfclose'"},
				      {OK_C("hc3") " seq={seq}"}}};
	lfd = peer_listen(DIR_PEER "hc3/vchan");
	rc = scripted_open(&o, 0, 20000, NULL, 0, &ch);
	if (rc)
		fail_msg("ivt_open: %s", ivt_strerror(rc));
	assert_int_equal(o.seen, 2);
	assert_true(o.parsed[0].halfclose);
	assert_false(o.parsed[1].halfclose);
	assert_int_equal(ivt_shutdown(ch, IVT_SHUT_WR), -EOPNOTSUPP);
	ivt_close(ch);
	close(lfd);
}

/* ivtd's answer to the end at DIR_SELF <s->name> in a thread, while fn
 * runs in ours. */
static void script_start(struct script *s)
{
	assert_int_equal(pthread_create(&s->thread, NULL, daemon_main, s), 0);
}

/* ivt_listen/ivt_accept: the listener's request says multi=1; tickets
 * under in/ make its fd readable and are each taken once (ivtd removes
 * them only later), accepted ends live in slot <ticket> with their own
 * ring path and peer identity, and outlive the listener. */
static void test_listen_accept(void **state)
{
	struct script s = {.name = "m1", .rounds = 1,
			   .values = {{"ok backend=vchan ring=65536 peer=0 chan=3 seq={seq}"}}};
	struct ivt_open_opts o = {.struct_size = sizeof(o), .flags = IVT_NONBLOCK};
	ivt_listener *l = NULL;
	script_start(&s);
	int rc = ivt_listen("m1", &o, &l);
	pthread_join(s.thread, NULL);
	if (rc)
		fail_msg("ivt_listen: %s", ivt_strerror(rc));
	char want[128];
	snprintf(want, sizeof(want), "listen backend=auto ring=0 multi=1 halfclose=1 seq=%u", s.parsed[0].seq);
	assert_string_equal(s.request[0], want);

	ivt_channel *c[3] = {NULL, NULL, NULL};
	assert_int_equal(ivt_accept(l, &c[0]), -EAGAIN);
	assert_int_equal(readable(ivt_listener_fd(l), 0), 0);
	fx_write(DIR_SELF "m1/in/4", "peer=" PEER);
	fx_write(DIR_SELF "m1/in/6", "peer=" PEER);
	assert_int_equal(readable(ivt_listener_fd(l), 5000), 1);

	const char *slot[2] = {"m1/4", "m1/6"}, *ring[2] = {DIR_SELF "@v10", DIR_SELF "@v11"};
	for (int i = 0; i < 2; i++) {
		char ok[200];
		snprintf(ok, sizeof(ok),
			 "ok backend=vchan ring=65536 path=%s peer=" PEER " chan=%d seq={seq}", ring[i],
			 10 + i);
		struct script a = {.name = slot[i], .rounds = 1, .values = {{ok}}};
		script_start(&a);
		rc = ivt_accept(l, &c[i]);
		pthread_join(a.thread, NULL);
		if (rc)
			fail_msg("ivt_accept %d: %s", i, ivt_strerror(rc));
		snprintf(want, sizeof(want), "listen backend=auto ring=0 ticket=%s halfclose=1 seq=%u",
			 slot[i] + 3, a.parsed[0].seq);
		assert_string_equal(a.request[0], want);
		assert_string_equal(ivt_peer_identity(c[i]), "dom:" PEER);
	}
	/* one watch for the whole process, whatever its number of ends */
	assert_int_equal(fx_watch_count(), 1);
	/* both tickets taken although their nodes are still there */
	assert_int_equal(ivt_accept(l, &c[2]), -EAGAIN);
	assert_int_equal(readable(ivt_listener_fd(l), 0), 0);

	int fd[2];
	char buf[16];
	for (int i = 0; i < 2; i++) {
		fd[i] = peer_connect(ring[i]);
		peer_send_data(fd[i], i ? "two" : "one");
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ivt_recv_all(c[i], buf, 3), 3);
		assert_memory_equal(buf, i ? "two" : "one", 3);
	}
	/* ivtd took both offers back; a restarted ivtd numbers afresh: a
	 * ticket below the ones taken before is still a new connector */
	fx_rm(DIR_SELF "m1/in/4");
	fx_rm(DIR_SELF "m1/in/6");
	fx_write(DIR_SELF "m1/in/1", "peer=" PEER);
	assert_int_equal(readable(ivt_listener_fd(l), 5000), 1);
	struct script a1 = {.name = "m1/1", .rounds = 1,
			    .values = {{"ok backend=vchan ring=65536 path=" DIR_SELF
					"@v12 peer=" PEER " chan=12 seq={seq}"}}};
	script_start(&a1);
	rc = ivt_accept(l, &c[2]);
	pthread_join(a1.thread, NULL);
	if (rc)
		fail_msg("ivt_accept after renumbering: %s", ivt_strerror(rc));
	assert_non_null(strstr(a1.request[0], " ticket=1 "));
	assert_int_equal(ivt_close(c[2]), 0);

	assert_int_equal(ivt_listener_close(l), 0);
	assert_request_removed("m1");
	peer_send_data(fd[0], "more");
	assert_int_equal(ivt_recv_all(c[0], buf, 4), 4);
	assert_memory_equal(buf, "more", 4);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ivt_close(c[i]), 0);
		char path[64];
		snprintf(path, sizeof(path), DIR_SELF "%s", slot[i]);
		char *v = fx_read(path);
		if (v)
			fail_msg("%s left behind", path);
		close(fd[i]);
	}
	fx_rm(DIR_SELF "m1");
}

/* Wait for a connector's slot under DIR_SELF <name>, then answer there. */
static void *slot_daemon_main(void *arg)
{
	struct script *s = arg;
	static char slotted[96];
	char dir[96];
	snprintf(dir, sizeof(dir), DIR_SELF "%s", s->name);
	for (int i = 0; i < 10000; i++) {
		char *c = fx_child(dir, "request");
		if (c) {
			snprintf(slotted, sizeof(slotted), "%s/%s", s->name, c);
			free(c);
			s->name = slotted;
			return daemon_main(s);
		}
		sleep_ms(2);
	}
	return NULL;
}

/* A second connector of one name in the same guest (another process has
 * <name>/request) takes a slot of its own and leaves the other alone. */
static void test_connector_slot(void **state)
{
	const char *other = "connect backend=auto ring=0 seq=1";
	fx_write(DIR_SELF "c2/request", other);
	struct script s = {.name = "c2", .rounds = 1, .values = {{OK_C("c2") " seq={seq}"}}};
	int lfd = peer_listen(DIR_PEER "c2/vchan");
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 20000};
	ivt_channel *ch = NULL;
	assert_int_equal(pthread_create(&s.thread, NULL, slot_daemon_main, &s), 0);
	int rc = ivt_open("c2", 0, &o, &ch);
	pthread_join(s.thread, NULL);
	if (rc)
		fail_msg("ivt_open: %s", ivt_strerror(rc));
	assert_true(strncmp(s.name, "c2/", 3) == 0);
	assert_string_equal(ivt_peer_identity(ch), "dom:" PEER);
	char *v = fx_read(DIR_SELF "c2/request");
	assert_non_null(v);
	assert_string_equal(v, other);
	free(v);
	assert_int_equal(ivt_close(ch), 0);
	char path[96];
	snprintf(path, sizeof(path), DIR_SELF "%s", s.name);
	assert_null(fx_read(path));
	assert_non_null(v = fx_read(DIR_SELF "c2/request"));
	free(v);
	fx_rm(DIR_SELF "c2");
	close(lfd);
}

/* Which transport ivt_open picks. */
static void test_transport_selection(void **state)
{
	ivt_channel *ch = NULL;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 200};

	setenv("IVT_REGISTRY", "carrier-pigeon", 1);
	assert_int_equal(ivt_open("x1", 0, &o, &ch), -EINVAL);
	assert_reason(-EINVAL, "IVT_REGISTRY");

	/* an explicit socket wins over IVT_REGISTRY */
	setenv("IVT_REGISTRY", "xenstore", 1);
	setenv("IVT_SOCKET", "/nonexistent/ivtd.sock", 1);
	assert_int_equal(ivt_open("x1", 0, &o, &ch), -ECONNREFUSED);
	assert_reason(-ECONNREFUSED, "/nonexistent/ivtd.sock");
	unsetenv("IVT_SOCKET");

	/* not a Xen domain: no XenStore, or it does not know our domid */
	char *xsd = strdup(getenv("XENSTORED_PATH"));
	setenv("XENSTORED_PATH", "/nonexistent/xenstored", 1);
	assert_int_equal(ivt_open("x1", 0, &o, &ch), -ECONNREFUSED);
	assert_reason(-ECONNREFUSED, "cannot reach XenStore");
	setenv("XENSTORED_PATH", xsd, 1);
	free(xsd);
	fx_rm("domid");
	assert_int_equal(ivt_open("x1", 0, &o, &ch), -ECONNREFUSED);
	assert_reason(-ECONNREFUSED, "domain id");
	fx_write("domid", "not-a-number");
	assert_int_equal(ivt_open("x1", 0, &o, &ch), -ECONNREFUSED);
	fx_write("domid", SELF);

	/* a bad backend name never reaches XenStore */
	o.backend = "No/Slash";
	assert_int_equal(ivt_open("x1", 0, &o, &ch), -EINVAL);
	o.backend = NULL;

	/* automatic: no ivtd socket here, but XenStore knows us */
	unsetenv("IVT_REGISTRY");
	if (access(IVT_DEFAULT_SOCKET, F_OK) == 0) {
		print_message("%s exists: skipping the automatic choice\n", IVT_DEFAULT_SOCKET);
	} else {
		struct script s = {.name = "a1", .rounds = 1, .values = {{OK_C("a1") " seq={seq}"}}};
		int lfd = peer_listen(DIR_PEER "a1/vchan");
		int rc = scripted_open(&s, 0, 20000, NULL, 0, &ch);
		if (rc)
			fail_msg("ivt_open: %s", ivt_strerror(rc));
		assert_int_equal(ivt_close(ch), 0);
		close(lfd);
	}
	setenv("IVT_REGISTRY", "xenstore", 1);
}

/* ivt_open_opts.peer_addr (the preload's connect to another guest's
 * address): carried as addr= over XenStore; never asked of a local ivtd. */
static void test_peer_addr(void **state)
{
	ivt_channel *ch = NULL;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 20000,
				  .peer_addr = "10.0.0.3"};

	setenv("IVT_SOCKET", "/nonexistent/ivtd.sock", 1); /* would be ECONNREFUSED */
	assert_int_equal(ivt_open("tcp.80", 0, &o, &ch), -EHOSTUNREACH);
	assert_reason(-EHOSTUNREACH, "only in Xen guests");
	unsetenv("IVT_SOCKET");
	setenv("IVT_REGISTRY", "local", 1);
	assert_int_equal(ivt_open("tcp.80", 0, &o, &ch), -EHOSTUNREACH);
	setenv("IVT_REGISTRY", "xenstore", 1);
	assert_int_equal(ivt_open("tcp.80", IVT_LISTEN, &o, &ch), -EINVAL);
	o.peer_addr = "10.0.0";
	assert_int_equal(ivt_open("tcp.80", 0, &o, &ch), -EINVAL);
	assert_reason(-EINVAL, "not an IP address");

	struct script s = {.name = "tcp@80", .rounds = 1,
			   .values = {{OK_C("tcp@80") " seq={seq}"}}};
	int lfd = peer_listen(DIR_PEER "tcp@80/vchan");
	o.peer_addr = "::ffff:10.0.0.3";
	assert_int_equal(pthread_create(&s.thread, NULL, daemon_main, &s), 0);
	int rc = ivt_open("tcp.80", 0, &o, &ch);
	pthread_join(s.thread, NULL);
	if (rc)
		fail_msg("ivt_open: %s", ivt_strerror(rc));
	char want[128];
	snprintf(want, sizeof(want), "connect backend=auto ring=0 addr=10.0.0.3 halfclose=1 seq=%u",
		 s.parsed[0].seq);
	assert_string_equal(s.request[0], want);
	assert_string_equal(ivt_peer_identity(ch), "dom:" PEER);
	assert_int_equal(ivt_close(ch), 0);
	close(lfd);
}

static int setup(void **state)
{
	if (fx_start())
		return -1;
	fx_write("domid", SELF); /* what a guest's relative "domid" read finds */
	snprintf(vchan_dir, sizeof(vchan_dir), "/tmp/ivt-xs-test-XXXXXX");
	if (!mkdtemp(vchan_dir))
		return -1;
	setenv("FAKE_VCHAN_DIR", vchan_dir, 1);
	setenv("FAKE_VCHAN_SELF", SELF, 1);
	setenv("FAKE_VCHAN_PEER", PEER, 1);
	setenv("IVT_PLUGIN_DIR", FAKE_PLUGIN_DIR, 1);
	setenv("IVT_REGISTRY", "xenstore", 1);
	unsetenv("IVT_SOCKET");
	return 0;
}

static int teardown(void **state)
{
	fx_stop();
	/* the stand-in's rendezvous sockets, then the directory */
	DIR *d = opendir(vchan_dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(vchan_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_data_then_died),
		cmocka_unit_test(test_listen_data_then_closed),
		cmocka_unit_test(test_error_responses),
		cmocka_unit_test(test_hostile_responses),
		cmocka_unit_test(test_stale_only_times_out),
		cmocka_unit_test(test_connect_retries_with_new_seq),
		cmocka_unit_test(test_transport_selection),
		cmocka_unit_test(test_listen_accept),
		cmocka_unit_test(test_connector_slot),
		cmocka_unit_test(test_message_mode),
		cmocka_unit_test(test_peer_addr),
		cmocka_unit_test(test_halfclose),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
