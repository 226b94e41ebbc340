/* SPDX-License-Identifier: MIT */
/* Hostile and valid XenStore values: requests, watch paths, answers. */
#include <errno.h>
#include <sys/socket.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/xs_paths.h"
#include "common/xs_request.h"
#include "common/xs_response.h"

static char why[256];

static int parse(const char *v, struct ivt_xs_request *r)
{
	why[0] = '\0';
	return ivt_xs_parse_request(v, strlen(v), r, why, sizeof(why));
}

/* A refused value must come with a reason containing `expect`. */
static void refused(const char *v, const char *expect)
{
	struct ivt_xs_request r;
	int rc = parse(v, &r);
	if (rc != -EINVAL || !strstr(why, expect))
		fail_msg("'%s': rc %d, reason '%s' (wanted '%s')", v, rc, why, expect);
}

static void test_valid_requests(void **state)
{
	struct ivt_xs_request r;
	assert_int_equal(parse("listen backend=auto ring=65536", &r), 0);
	assert_int_equal(r.listen, 1);
	assert_string_equal(r.backend, "auto");
	assert_int_equal(r.ring_size, 65536);
	assert_false(r.has_peer);
	assert_false(r.has_seq);

	assert_int_equal(parse("connect peer=3 backend=vchan ring=1048576 seq=4294967295", &r), 0);
	assert_int_equal(r.listen, 0);
	assert_string_equal(r.backend, "vchan");
	assert_int_equal(r.ring_size, 1048576);
	assert_true(r.has_peer);
	assert_int_equal(r.peer_domid, 3);
	assert_true(r.has_seq);
	assert_int_equal(r.seq, 4294967295u);

	/* Bare verb: defaults. peer=0 (dom0) and the last ordinary domid. */
	assert_int_equal(parse("connect", &r), 0);
	assert_string_equal(r.backend, "auto");
	assert_int_equal(r.ring_size, 0);
	assert_int_equal(parse("connect peer=0 ring=0", &r), 0);
	assert_int_equal(parse("connect peer=32751", &r), 0);
	assert_int_equal(r.peer_domid, 0x7FEF);
	assert_int_equal(parse("listen ring=1073741824", &r), 0);
}

static void test_hostile_requests(void **state)
{
	char big[400];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "listen backend=", 15);
	refused(big, "too long");
	refused("", "empty");
	refused("listen\n", "not printable");
	refused("listen ring=65536\n", "not printable");
	refused("listen\tring=1024", "not printable");
	refused("listen  ring=1024", "stray space");
	refused(" listen", "stray space");
	refused("listen ", "stray space");
	refused("listen \xc3\xa9=1", "not printable");
	refused("accept", "must start with");
	refused("LISTEN", "must start with");
	refused("listen ring=", "key=value");
	refused("listen =5", "key=value");
	refused("listen ring", "key=value");
	refused("listen ring=-1", "not a decimal");
	refused("listen ring=+1024", "not a decimal");
	refused("listen ring=0x1000", "not a decimal");
	refused("listen ring=01024", "not a decimal");
	refused("listen ring=1e6", "not a decimal");
	refused("listen ring=18446744073709551616", "too large");
	refused("listen ring=99999999999999999999999", "too large");
	refused("listen ring=2147483648", "too large");
	refused("listen ring=65535", "power of two");
	refused("listen ring=512", "power of two");
	refused("listen ring=1024 ring=2048", "duplicate key 'ring'");
	refused("connect peer=1 peer=2", "duplicate key 'peer'");
	refused("listen backend=auto backend=vchan", "duplicate key 'backend'");
	refused("listen color=blue", "unknown key 'color'");
	refused("listen path=/local/domain/0", "unknown key 'path'");
	refused("listen peer=3", "only valid with connect");
	refused("connect peer=-1", "domain id");
	refused("connect peer=32752", "domain id");   /* DOMID_FIRST_RESERVED */
	refused("connect peer=32767", "domain id");   /* DOMID_SELF */
	refused("connect peer=65535", "domain id");
	refused("connect peer=4294967299", "domain id");
	refused("connect peer=03", "domain id");
	refused("listen backend=../shm", "backend");
	refused("listen backend=Vchan", "backend");
	refused("listen backend=a_very_long_backend_name", "backend");
	refused("listen seq=4294967296", "seq");
	refused("listen seq=x", "seq");
}

static void test_embedded_nul(void **state)
{
	struct ivt_xs_request r;
	const char v[] = "listen\0 ring=1024";
	assert_int_equal(ivt_xs_parse_request(v, sizeof(v) - 1, &r, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not printable"));
	/* A NUL right at the end that xs_read would report in the length. */
	assert_int_equal(ivt_xs_parse_request("listen", 7, &r, why, sizeof(why)), -EINVAL);
	/* NULL value (node vanished between event and read). */
	assert_int_equal(ivt_xs_parse_request(NULL, 0, &r, why, sizeof(why)), -EINVAL);
}

static void test_numbers(void **state)
{
	uint64_t v;
	uint32_t d;
	assert_int_equal(ivt_xs_parse_u64("18446744073709551615", 20, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(ivt_xs_parse_u64("18446744073709551616", 20, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(ivt_xs_parse_u64("99999999999999999999", 20, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(ivt_xs_parse_u64("0", 1, 0, &v), 0);
	assert_int_equal(ivt_xs_parse_u64("", 0, 10, &v), -EINVAL);
	assert_int_equal(ivt_xs_parse_u64("11", 2, 10, &v), -ERANGE);
	assert_int_equal(ivt_xs_parse_domid("32751", 5, &d), 0);
	assert_int_equal(ivt_xs_parse_domid("32752", 5, &d), -ERANGE);
	assert_int_equal(ivt_xs_parse_domid("12", 1, &d), 0); /* length-bounded */
	assert_int_equal(d, 1);
}

static enum ivt_xs_path_kind classify(const char *p, struct ivt_xs_path_info *info)
{
	return ivt_xs_classify_path(p, info);
}

static void test_watch_paths(void **state)
{
	struct ivt_xs_path_info i;
	/* a name's '.' is '@' in XenStore (which refuses '.') */
	assert_int_equal(classify("/local/domain/7/data/ivt/chan-1@a_b/request", &i),
			 IVT_XS_PATH_REQUEST);
	assert_int_equal(i.domid, 7);
	assert_string_equal(i.name, "chan-1.a_b");
	assert_int_equal(classify("/local/domain/7/data/ivt/db@r/3/request", &i),
			 IVT_XS_PATH_REQUEST);
	assert_string_equal(i.name, "db.r");
	assert_int_equal(i.slot, 3);
	assert_int_equal(classify("/local/domain/0/data/ivt/x/request", &i), IVT_XS_PATH_REQUEST);

	assert_int_equal(classify("/local/domain/7/data/ivt/chan", &i), IVT_XS_PATH_ANCESTOR);
	assert_string_equal(i.name, "chan");
	assert_int_equal(classify("/local/domain/7/data/ivt", &i), IVT_XS_PATH_ANCESTOR);
	assert_string_equal(i.name, "");
	assert_int_equal(classify("/local/domain/7/data", &i), IVT_XS_PATH_ANCESTOR);
	assert_int_equal(classify("/local/domain/7", &i), IVT_XS_PATH_ANCESTOR);
	assert_int_equal(i.domid, 7);

	const char *ignored[] = {
		"/local/domain/7/data/ivt/chan/response",
		"/local/domain/7/data/ivt/chan/event",
		"/local/domain/7/data/ivt/chan/vchan/ring-ref",
		"/local/domain/7/data/ivt/chan/request/x",
		"/local/domain/7/data/ivt/chan/request/",
		"/local/domain/7/data/ivt/chan/requests",
		"/local/domain/7/data/ivt/../ivt/chan/request",
		"/local/domain/7/data/ivt/./request",
		"/local/domain/7/data/ivt/../request",
		"/local/domain/7/data/ivt/.hidden/request",
		"/local/domain/7/data/ivt/chan-1.a_b/request",
		"/local/domain/7/data/ivt/@v7/request",
		"/local/domain/7/data/ivt/@v7",
		"/local/domain/7/data/ivt//request",
		"/local/domain/7/data/ivt/a b/request",
		"/local/domain/7/data/ivtx/chan/request",
		"/local/domain/7/datax",
		"/local/domain/7/",
		"/local/domain/07/data/ivt/chan/request",
		"/local/domain/-1/data/ivt/chan/request",
		"/local/domain/32752/data/ivt/chan/request",
		"/local/domain/99999999999999999999/data/ivt/chan/request",
		"/local/domain//data/ivt/chan/request",
		"/local/domain/",
		"/local/domainx/1",
		"local/domain/7/data/ivt/chan/request",
		"@releaseDomain",
		"",
	};
	for (size_t k = 0; k < sizeof(ignored) / sizeof(ignored[0]); k++)
		if (classify(ignored[k], &i) != IVT_XS_PATH_IGNORE)
			fail_msg("path '%s' was not ignored", ignored[k]);
	assert_int_equal(classify(NULL, &i), IVT_XS_PATH_IGNORE);

	/* Names: 63 chars fine, 64 too long. */
	char p[400], name[80];
	memset(name, 'n', 63);
	name[63] = '\0';
	snprintf(p, sizeof(p), "/local/domain/1/data/ivt/%s/request", name);
	assert_int_equal(classify(p, &i), IVT_XS_PATH_REQUEST);
	snprintf(p, sizeof(p), "/local/domain/1/data/ivt/%sn/request", name);
	assert_int_equal(classify(p, &i), IVT_XS_PATH_IGNORE);
	/* Overlong paths are dropped before any parsing. */
	memset(p, 'a', sizeof(p) - 1);
	p[sizeof(p) - 1] = '\0';
	memcpy(p, "/local/domain/1", 15);
	assert_int_equal(classify(p, &i), IVT_XS_PATH_IGNORE);
}

static void test_paths(void **state)
{
	char b[128];
	assert_int_equal(ivt_xs_end_path(b, sizeof(b), 5, "chan", IVT_XS_LEAF_RESPONSE), 0);
	assert_string_equal(b, "/local/domain/5/data/ivt/chan/response");
	assert_int_equal(ivt_xs_end_path(b, sizeof(b), 5, "../x", NULL), -EINVAL);
	assert_int_equal(ivt_xs_end_path(b, sizeof(b), 5, "a/b", NULL), -EINVAL);
	assert_int_equal(ivt_xs_end_path(b, sizeof(b), 0x7FF0, "a", NULL), -EINVAL);
	assert_int_equal(ivt_xs_end_path(b, 10, 5, "chan", NULL), -ENAMETOOLONG);
	/* names with '.': XenStore takes no '.', so it is '@' there */
	assert_int_equal(ivt_xs_end_path(b, sizeof(b), 5, "db.replica", IVT_XS_LEAF_REQUEST), 0);
	assert_string_equal(b, "/local/domain/5/data/ivt/db@replica/request");
	assert_int_equal(ivt_xs_slot_path(b, sizeof(b), 5, "a.b.c", 9, NULL), 0);
	assert_string_equal(b, "/local/domain/5/data/ivt/a@b@c/9");
	assert_int_equal(ivt_xs_incoming_path(b, sizeof(b), 5, "a.b", 2), 0);
	assert_string_equal(b, "/local/domain/5/data/ivt/a@b/in/2");
	assert_int_equal(ivt_xs_end_path(b, sizeof(b), 5, "a@b", NULL), -EINVAL);
	char n[IVT_NAME_MAX + 1];
	assert_int_equal(ivt_xs_name_node(n, sizeof(n), "x.y-z_1."), 0);
	assert_string_equal(n, "x@y-z_1@");
	assert_int_equal(ivt_xs_name_node(n, 4, "x.y-z"), -ENAMETOOLONG);
	assert_int_equal(ivt_xs_name_node(n, sizeof(n), ".x"), -EINVAL);
	assert_int_equal(ivt_xs_node_name(n, sizeof(n), "x@y-z_1@", 8), 0);
	assert_string_equal(n, "x.y-z_1.");
	assert_int_equal(ivt_xs_node_name(n, sizeof(n), "ab/cd", 2), 0);
	assert_string_equal(n, "ab");
	const char *not_names[] = {"@v7", "x.y", "", "a b", "a/b"};
	for (size_t k = 0; k < sizeof(not_names) / sizeof(not_names[0]); k++)
		if (ivt_xs_node_name(n, sizeof(n), not_names[k], strlen(not_names[k])) != -EINVAL)
			fail_msg("'%s' was taken for a name's node", not_names[k]);
	char big[80];
	memset(big, 'n', 64);
	assert_int_equal(ivt_xs_node_name(n, sizeof(n), big, 63), 0);
	assert_int_equal(ivt_xs_node_name(n, sizeof(n), big, 64), -EINVAL);
	assert_int_equal(ivt_xs_vchan_path(b, sizeof(b), 3, "db.r", 9), 0);
	assert_string_equal(b, "/local/domain/3/data/ivt/db@r/vchan");
	assert_int_equal(ivt_xs_ivt_dir(b, sizeof(b), 12), 0);
	assert_string_equal(b, "/local/domain/12/data/ivt");

	/* Short names keep the conventional vchan path... */
	assert_int_equal(ivt_xs_vchan_path(b, sizeof(b), 3, "demo", 9), 0);
	assert_string_equal(b, "/local/domain/3/data/ivt/demo/vchan");
	assert_true(strlen(b) <= IVT_XS_VCHAN_PATH_MAX);
	/* ...long ones fall back to the channel id, within libxenvchan's limit. */
	assert_int_equal(ivt_xs_vchan_path(b, sizeof(b), 32000, "a-rather-long-channel-name", 77), 0);
	assert_string_equal(b, "/local/domain/32000/data/ivt/@v77");
	assert_int_equal(ivt_xs_vchan_path(b, sizeof(b), 32000, "a-rather-long-channel-name",
					   UINT64_MAX), -ENAMETOOLONG);
	assert_int_equal(ivt_xs_vchan_path(b, sizeof(b), 32000, "a-rather-long-channel-name",
					   999999999999999999ull), 0);
	assert_true(strlen(b) <= IVT_XS_VCHAN_PATH_MAX);

	assert_true(ivt_xs_vchan_path_ok("/local/domain/3/data/ivt/demo/vchan", 3));
	assert_true(ivt_xs_vchan_path_ok("/local/domain/3/data/ivt/.v7", 3));
	assert_true(ivt_xs_vchan_path_ok("/local/domain/3/data/ivt/@v7", 3));
	assert_false(ivt_xs_vchan_path_ok("/local/domain/3/data/ivt/demo/vchan", 4));
	assert_false(ivt_xs_vchan_path_ok("/local/domain/3/data/ivt", 3));
	assert_false(ivt_xs_vchan_path_ok("/local/domain/3/data/ivt/", 3));
	assert_false(ivt_xs_vchan_path_ok("/local/domain/3/data/ivt/..", 3));
	assert_false(ivt_xs_vchan_path_ok("/local/domain/3/data/ivt/a/../../x", 3));
	assert_false(ivt_xs_vchan_path_ok("/local/domain/3/data/ivt/a//b", 3));
	assert_false(ivt_xs_vchan_path_ok("/local/domain/3/data/ivt/a/", 3));
	assert_false(ivt_xs_vchan_path_ok("/local/domain/3/data/ivtx", 3));
	assert_false(ivt_xs_vchan_path_ok("/local/domain/3/data/ivt/a b", 3));
	assert_false(ivt_xs_vchan_path_ok(
		"/local/domain/3/data/ivt/a-name-that-is-too-long-for-vchan", 3));
}

static void test_request_roundtrip(void **state)
{
	char b[IVT_XS_REQUEST_MAX + 1];
	struct ivt_xs_request r;
	assert_int_equal(ivt_xs_format_request(b, sizeof(b), 0, "vchan", 65536, 4, 17), 0);
	assert_string_equal(b, "connect backend=vchan ring=65536 peer=4 seq=17");
	assert_int_equal(parse(b, &r), 0);
	assert_int_equal(r.peer_domid, 4);
	assert_int_equal(r.seq, 17);
	assert_int_equal(ivt_xs_format_request(b, sizeof(b), 1, NULL, 0, -1, 1), 0);
	assert_string_equal(b, "listen backend=auto ring=0 seq=1");
	assert_int_equal(ivt_xs_format_request(b, sizeof(b), 1, NULL, 0, 4, 1), -EINVAL);
	assert_int_equal(ivt_xs_format_request(b, sizeof(b), 0, "bad name", 0, -1, 1), -EINVAL);
}

static void test_responses(void **state)
{
	char b[IVT_XS_RESPONSE_MAX + 1];
	struct ivt_xs_response r;
	struct ivt_ctrl_open_ok ok = {.chan_id = 42, .ring_size = 65536, .peer_domid = 5};
	strcpy(ok.backend, "vchan");
	strcpy(ok.xs_path, "/local/domain/3/data/ivt/demo/vchan");
	assert_int_equal(ivt_xs_format_ok(b, sizeof(b), &ok, 1, 9), 0);
	assert_string_equal(b, "ok backend=vchan ring=65536 path=/local/domain/3/data/ivt/demo/vchan "
			       "peer=5 chan=42 seq=9");
	assert_int_equal(ivt_xs_parse_response(b, strlen(b), &r, why, sizeof(why)), 0);
	assert_true(r.ok);
	assert_string_equal(r.backend, "vchan");
	assert_string_equal(r.path, ok.xs_path);
	assert_int_equal(r.peer_domid, 5);
	assert_int_equal(r.chan_id, 42);
	assert_int_equal(r.seq, 9);

	strcpy(ok.xs_path, "/has space");
	assert_int_equal(ivt_xs_format_ok(b, sizeof(b), &ok, 0, 0), -EINVAL);

	assert_int_equal(ivt_xs_format_error(b, sizeof(b), -13, "policy  'p'\nrefuses\x01 dom:3 ", 1, 2),
			 0);
	assert_string_equal(b, "error 13 seq=2 reason=policy 'p' refuses? dom:3");
	assert_int_equal(ivt_xs_parse_response(b, strlen(b), &r, why, sizeof(why)), 0);
	assert_false(r.ok);
	assert_int_equal(r.err, 13);
	assert_int_equal(r.seq, 2);
	assert_string_equal(r.reason, "policy 'p' refuses? dom:3");
	assert_int_equal(ivt_xs_format_error(b, sizeof(b), 0, NULL, 0, 0), 0);
	assert_string_equal(b, "error 5");
	/* A reason starting with "seq=" and no seq: not read as a seq (issue 9). */
	assert_int_equal(ivt_xs_format_error(b, sizeof(b), 2, "seq=7 is not a seq", 0, 0), 0);
	assert_int_equal(ivt_xs_parse_response(b, strlen(b), &r, why, sizeof(why)), 0);
	assert_int_equal(r.err, 2);
	assert_false(r.has_seq);
	assert_string_equal(r.reason, "seq=7 is not a seq");
	assert_int_equal(ivt_xs_format_error(b, sizeof(b), 2, "seq=7 x", 1, 8), 0);
	assert_int_equal(ivt_xs_parse_response(b, strlen(b), &r, why, sizeof(why)), 0);
	assert_int_equal(r.seq, 8);
	assert_string_equal(r.reason, "seq=7 x");
	/* An older ivtd's bare reason still reads. */
	assert_int_equal(ivt_xs_parse_response("error 2 seq=3 no listener", 25, &r, why,
					       sizeof(why)), 0);
	assert_string_equal(r.reason, "no listener");

	const char *bad[] = {"ok", "ok backend=vchan ring=1024", "okay", "error", "error 0 x",
			     "error 99999 x", "ok backend=vchan ring=1024 peer=1 peer=2",
			     "ok backend=vchan ring=-1 peer=1", "error 5 seq=x reason"};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (ivt_xs_parse_response(bad[k], strlen(bad[k]), &r, why, sizeof(why)) == 0)
			fail_msg("response '%s' was accepted", bad[k]);
	/* Unknown keys from a newer ivtd are ignored. */
	const char *newer = "ok backend=vchan ring=1024 peer=1 flavour=mint";
	assert_int_equal(ivt_xs_parse_response(newer, strlen(newer), &r, why, sizeof(why)), 0);
}

/* "addr=": the IP address a TCP connector dialled (connect only), and the
 * tcp.<P> names (common/tcp_map.h). */
static void test_addr_values(void **state)
{
	(void)state;
	struct ivt_xs_request r;
	char b[256], t[64];
	assert_int_equal(parse("connect addr=10.0.0.7 seq=1", &r), 0);
	assert_true(r.has_addr && r.addr.family == AF_INET);
	assert_int_equal(ivt_ip_format(&r.addr, t, sizeof(t)), 0);
	assert_string_equal(t, "10.0.0.7");
	assert_int_equal(parse("connect addr=::ffff:10.0.0.7", &r), 0);
	assert_int_equal(ivt_ip_format(&r.addr, t, sizeof(t)), 0);
	assert_string_equal(t, "10.0.0.7"); /* v4-mapped is the v4 address */
	assert_int_equal(parse("connect addr=fd00::7", &r), 0);
	assert_true(r.addr.family == AF_INET6);
	assert_int_equal(parse("listen multi=1 addr=127.0.0.1", &r), 0); /* bound to */
	assert_true(r.listen && r.has_addr && r.addr.bytes[0] == 127);
	refused("connect addr=10.0.0", "addr must be");
	refused("connect addr=10.0.0.7/24", "addr must be");
	refused("connect addr=", "expected key=value");
	refused("connect addr=10.0.0.7 addr=10.0.0.8", "duplicate key");
	refused("connect addr=1111:2222:3333:4444:5555:6666:7777:8888:9999", "addr must be");
	struct ivt_xs_request w = {.seq = 3, .has_addr = 1, .has_peer = 1, .peer_domid = 4};
	assert_int_equal(ivt_ip_parse("fd00::7", 7, 0, &w.addr), 0);
	assert_int_equal(ivt_xs_format_req(b, sizeof(b), &w), 0);
	assert_string_equal(b, "connect backend=auto ring=0 peer=4 addr=fd00::7 seq=3");
	assert_int_equal(parse(b, &r), 0);
	assert_true(r.has_addr && ivt_ip_equal(&r.addr, &w.addr));
	w.listen = 1;
	w.has_peer = 0;
	assert_int_equal(ivt_xs_format_req(b, sizeof(b), &w), 0);
	assert_string_equal(b, "listen backend=auto ring=0 addr=fd00::7 seq=3");
	/* toolstack values may carry a prefix */
	assert_int_equal(ivt_ip_parse("10.0.0.7/24", 11, 1, &w.addr), 0);
	assert_int_equal(ivt_ip_parse("10.0.0.7/24", 11, 0, &w.addr), -EINVAL);

	uint32_t d = 0;
	assert_int_equal(ivt_tcp_name_port("tcp.80"), 80);
	assert_int_equal(ivt_tcp_name_port("tcp.65535"), 65535);
	const char *not_ports[] = {"tcp.0", "tcp.65536", "tcp.080", "tcp.80x", "tcp.", "tcp.80.dom3",
				   "udp.80", "tcp.-1"};
	for (size_t i = 0; i < sizeof(not_ports) / sizeof(not_ports[0]); i++)
		assert_int_equal(ivt_tcp_name_port(not_ports[i]), 0);
	assert_int_equal(ivt_tcp_name_scoped(t, sizeof(t), 80, 7), 0);
	assert_string_equal(t, "tcp.80.dom7");
	assert_int_equal(ivt_tcp_name_owner(t, &d), 1);
	assert_int_equal(d, 7);
	const char *not_owned[] = {"tcp.80", "tcp.80.dom", "tcp.80.dom07", "tcp.80.dom7x",
				   "tcp.80.dom32752", "tcp.0.dom7", "tcp.80.dom7.dom3"};
	for (size_t i = 0; i < sizeof(not_owned) / sizeof(not_owned[0]); i++)
		assert_int_equal(ivt_tcp_name_owner(not_owned[i], &d), 0);
}

/* Message mode: "message=1" in requests (either verb) and answers. */
static void test_message_values(void **state)
{
	(void)state;
	struct ivt_xs_request r;
	char b[256];
	assert_int_equal(parse("listen message=1 seq=1", &r), 0);
	assert_true(r.listen && r.message);
	assert_int_equal(parse("connect backend=vchan message=1", &r), 0);
	assert_true(!r.listen && r.message);
	assert_int_equal(parse("connect backend=vchan", &r), 0);
	assert_false(r.message);
	refused("listen message=0", "message must be 1");
	refused("listen message=yes", "message must be 1");
	refused("listen message=1 message=1", "duplicate key");
	struct ivt_xs_request w = {.listen = 1, .message = 1, .multi = 1, .seq = 3};
	assert_int_equal(ivt_xs_format_req(b, sizeof(b), &w), 0);
	assert_string_equal(b, "listen backend=auto ring=0 multi=1 message=1 seq=3");
	assert_int_equal(parse(b, &r), 0);
	assert_true(r.message && r.multi);

	struct ivt_ctrl_open_ok ok = {.ring_size = 4096, .peer_domid = 2, .chan_id = 5,
				      .flags = IVT_CTRL_OK_MESSAGE};
	strcpy(ok.backend, "vchan");
	struct ivt_xs_response resp;
	assert_int_equal(ivt_xs_format_ok(b, sizeof(b), &ok, 1, 4), 0);
	assert_string_equal(b, "ok backend=vchan ring=4096 peer=2 chan=5 message=1 seq=4");
	assert_int_equal(ivt_xs_parse_response(b, strlen(b), &resp, why, sizeof(why)), 0);
	assert_true(resp.message);
	ok.flags = 0;
	assert_int_equal(ivt_xs_format_ok(b, sizeof(b), &ok, 1, 4), 0);
	assert_int_equal(ivt_xs_parse_response(b, strlen(b), &resp, why, sizeof(why)), 0);
	assert_false(resp.message);
	const char *bad[] = {"ok backend=vchan ring=4096 peer=2 message=0",
			     "ok backend=vchan ring=4096 peer=2 message=1 message=1",
			     "ok backend=vchan ring=4096 peer=2 message=11"};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (ivt_xs_parse_response(bad[k], strlen(bad[k]), &resp, why, sizeof(why)) == 0)
			fail_msg("response '%s' was accepted", bad[k]);
}

/* Half-close: "halfclose=1" in requests (the end takes it) and answers
 * (both ends do). */
static void test_halfclose_values(void **state)
{
	(void)state;
	struct ivt_xs_request r;
	char b[256];
	assert_int_equal(parse("connect halfclose=1 seq=1", &r), 0);
	assert_true(r.halfclose);
	assert_int_equal(parse("connect seq=1", &r), 0);
	assert_false(r.halfclose);
	refused("listen halfclose=0", "halfclose must be 1");
	refused("listen halfclose=1 halfclose=1", "duplicate key");
	struct ivt_xs_request w = {.listen = 1, .message = 1, .halfclose = 1, .seq = 3};
	assert_int_equal(ivt_xs_format_req(b, sizeof(b), &w), 0);
	assert_string_equal(b, "listen backend=auto ring=0 message=1 halfclose=1 seq=3");

	struct ivt_ctrl_open_ok ok = {.ring_size = 4096, .peer_domid = 2, .chan_id = 5,
				      .flags = IVT_CTRL_OK_HALFCLOSE};
	strcpy(ok.backend, "vchan");
	struct ivt_xs_response resp;
	assert_int_equal(ivt_xs_format_ok(b, sizeof(b), &ok, 1, 4), 0);
	assert_string_equal(b, "ok backend=vchan ring=4096 peer=2 chan=5 halfclose=1 seq=4");
	assert_int_equal(ivt_xs_parse_response(b, strlen(b), &resp, why, sizeof(why)), 0);
	assert_true(resp.halfclose);
	const char *bad[] = {"ok backend=vchan ring=4096 peer=2 halfclose=0",
			     "ok backend=vchan ring=4096 peer=2 halfclose=1 halfclose=1"};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (ivt_xs_parse_response(bad[k], strlen(bad[k]), &resp, why, sizeof(why)) == 0)
			fail_msg("response '%s' was accepted", bad[k]);
}

/* ivt_listen/ivt_accept over XenStore: multi=1 and ticket=, slots, the
 * offers' and accepted rings' paths. */
static void test_listen_accept_values(void **state)
{
	struct ivt_xs_request r;
	char b[256];
	assert_int_equal(parse("listen backend=auto ring=0 multi=1 seq=19", &r), 0);
	assert_true(r.listen && r.multi && !r.ticket);
	assert_int_equal(parse("listen ticket=4294967295 seq=20", &r), 0);
	assert_int_equal(r.ticket, 4294967295u);
	refused("connect multi=1", "only valid with listen");
	refused("listen multi=0", "only valid with listen");
	refused("listen multi=1 multi=1", "duplicate key");
	refused("connect ticket=3", "ticket must be");
	refused("listen ticket=0", "ticket must be");
	refused("listen ticket=04", "ticket must be");
	refused("listen ticket=4294967296", "ticket must be");
	refused("listen multi=1 ticket=3", "exclude each other");

	struct ivt_xs_request w = {.listen = 1, .multi = 1, .seq = 7};
	assert_int_equal(ivt_xs_format_req(b, sizeof(b), &w), 0);
	assert_string_equal(b, "listen backend=auto ring=0 multi=1 seq=7");
	w = (struct ivt_xs_request){.listen = 1, .ticket = 9, .ring_size = 4096, .seq = 8};
	strcpy(w.backend, "vchan");
	assert_int_equal(ivt_xs_format_req(b, sizeof(b), &w), 0);
	assert_string_equal(b, "listen backend=vchan ring=4096 ticket=9 seq=8");
	assert_int_equal(parse(b, &r), 0);
	assert_int_equal(r.ticket, 9);
	w = (struct ivt_xs_request){.listen = 0, .ticket = 9};
	assert_int_equal(ivt_xs_format_req(b, sizeof(b), &w), -EINVAL);
	w = (struct ivt_xs_request){.listen = 1, .ticket = 9, .multi = 1};
	assert_int_equal(ivt_xs_format_req(b, sizeof(b), &w), -EINVAL);

	struct ivt_xs_path_info i;
	assert_int_equal(classify("/local/domain/7/data/ivt/svc/12/request", &i),
			 IVT_XS_PATH_REQUEST);
	assert_string_equal(i.name, "svc");
	assert_int_equal(i.slot, 12);
	assert_int_equal(classify("/local/domain/7/data/ivt/svc/12", &i), IVT_XS_PATH_ANCESTOR);
	assert_int_equal(i.slot, 12);
	assert_int_equal(classify("/local/domain/7/data/ivt/svc/request", &i), IVT_XS_PATH_REQUEST);
	assert_int_equal(i.slot, 0);
	const char *ignored[] = {
		"/local/domain/7/data/ivt/svc/012/request", "/local/domain/7/data/ivt/svc/0/request",
		"/local/domain/7/data/ivt/svc/in/3", "/local/domain/7/data/ivt/svc/in",
		"/local/domain/7/data/ivt/svc/12/response", "/local/domain/7/data/ivt/svc/12/request/x",
		"/local/domain/7/data/ivt/svc/4294967296/request", "/local/domain/7/data/ivt/svc/12/",
		"/local/domain/7/data/ivt/svc/-1/request", "/local/domain/7/data/ivt/svc//request",
	};
	for (size_t k = 0; k < sizeof(ignored) / sizeof(ignored[0]); k++)
		if (classify(ignored[k], &i) != IVT_XS_PATH_IGNORE || i.slot)
			fail_msg("'%s' not ignored", ignored[k]);

	assert_int_equal(ivt_xs_slot_path(b, sizeof(b), 3, "svc", 0, "request"), 0);
	assert_string_equal(b, "/local/domain/3/data/ivt/svc/request");
	assert_int_equal(ivt_xs_slot_path(b, sizeof(b), 3, "svc", 9, "event"), 0);
	assert_string_equal(b, "/local/domain/3/data/ivt/svc/9/event");
	assert_int_equal(ivt_xs_slot_path(b, sizeof(b), 3, "../x", 9, NULL), -EINVAL);
	assert_int_equal(ivt_xs_incoming_path(b, sizeof(b), 3, "svc", 5), 0);
	assert_string_equal(b, "/local/domain/3/data/ivt/svc/in/5");
	assert_int_equal(ivt_xs_incoming_path(b, sizeof(b), 3, "svc", 0), 0);
	assert_string_equal(b, "/local/domain/3/data/ivt/svc/in");
	/* accepted connections share a name: their rings go by channel id */
	assert_int_equal(ivt_xs_vchan_path(b, sizeof(b), 3, NULL, 77), 0);
	assert_string_equal(b, "/local/domain/3/data/ivt/@v77");
	assert_true(ivt_xs_vchan_path_ok(b, 3));
	assert_int_equal(ivt_xs_vchan_path(b, sizeof(b), 32752, NULL, 77), -EINVAL);
}

static void test_events(void **state)
{
	char b[64];
	struct ivt_xs_event e;
	assert_int_equal(ivt_xs_format_event(b, sizeof(b), IVT_PEER_DIED, 4, 1, 3), 0);
	assert_string_equal(b, "peer=died domid=4 seq=3");
	assert_int_equal(ivt_xs_parse_event(b, strlen(b), &e, why, sizeof(why)), 0);
	assert_int_equal(e.event, IVT_PEER_DIED);
	assert_int_equal(e.domid, 4);
	assert_int_equal(ivt_xs_format_event(b, sizeof(b), 0, 4, 0, 0), -EINVAL);
	assert_int_equal(ivt_xs_format_event(b, sizeof(b), 9, 4, 0, 0), -EINVAL);
	const char *bad[] = {"peer=gone domid=1", "peer=died", "domid=1", "peer=died domid=1 domid=2",
			     "peer=died peer=closed domid=1", "peer=died domid=40000"};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		if (ivt_xs_parse_event(bad[k], strlen(bad[k]), &e, why, sizeof(why)) == 0)
			fail_msg("event '%s' was accepted", bad[k]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_requests), cmocka_unit_test(test_hostile_requests),
		cmocka_unit_test(test_embedded_nul),   cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_watch_paths),    cmocka_unit_test(test_paths),
		cmocka_unit_test(test_request_roundtrip), cmocka_unit_test(test_responses),
		cmocka_unit_test(test_events), cmocka_unit_test(test_listen_accept_values),
		cmocka_unit_test(test_message_values),
		cmocka_unit_test(test_halfclose_values),
		cmocka_unit_test(test_addr_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
