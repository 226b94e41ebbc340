/* SPDX-License-Identifier: MIT */
/* Daemon-to-daemon messages: round trips, and everything a hostile peer
 * could send refused with -EPROTO and never read out of bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ivtd/policy/policy.h"
#include "ivtd/remote/remote_proto.h"

static char why[256];

static int encode(const struct ivt_rmsg *m, uint8_t *buf)
{
	int n = ivt_rmsg_encode(m, buf, IVT_RMSG_MAX);
	assert_true(n > IVT_RMSG_HDR_LEN);
	return n;
}

/* Parse as the bridge does: header first, then exactly its payload. */
static int parse_like_bridge(const uint8_t *buf, size_t n, struct ivt_rmsg *m)
{
	uint16_t type;
	if (n < IVT_RMSG_HDR_LEN)
		return -EAGAIN;
	int len = ivt_rmsg_parse_hdr(buf, &type, why, sizeof(why));
	if (len < 0)
		return len;
	assert_true(len > 0 && IVT_RMSG_HDR_LEN + len <= IVT_RMSG_MAX);
	if (n < IVT_RMSG_HDR_LEN + (size_t)len)
		return -EAGAIN;
	return ivt_rmsg_parse(buf, IVT_RMSG_HDR_LEN + (size_t)len, m, why, sizeof(why));
}

static struct ivt_rmsg open_msg(void)
{
	struct ivt_rmsg m = {.type = IVT_RMSG_OPEN};
	strcpy(m.u.open.channel, "bulk.data-1");
	m.u.open.identity = ivt_identity_uid(1000);
	strcpy(m.u.open.backend, "auto");
	m.u.open.ring_size = 1u << 20;
	return m;
}

static void test_round_trips(void **state)
{
	(void)state;
	uint8_t buf[IVT_RMSG_MAX];
	struct ivt_rmsg in, out;

	memset(&in, 0, sizeof(in));
	in.type = IVT_RMSG_HELLO;
	strcpy(in.u.hello.host, "hostA");
	in.u.hello.sw_version = 0x010203;
	int n = encode(&in, buf);
	assert_int_equal(ivt_rmsg_parse(buf, (size_t)n, &out, why, sizeof(why)), 0);
	assert_int_equal(out.type, IVT_RMSG_HELLO);
	assert_string_equal(out.u.hello.host, "hostA");
	assert_int_equal(out.u.hello.sw_version, 0x010203);

	in = open_msg();
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_string_equal(out.u.open.channel, "bulk.data-1");
	assert_string_equal(IVT_ID_S(&out.u.open.identity), "uid:1000");
	assert_string_equal(out.u.open.backend, "auto");
	assert_int_equal(out.u.open.ring_size, 1u << 20);

	/* A daemon's own connector (its utmem lower tier); nothing else that
	 * is not a concrete local identity. */
	in.u.open.identity = ivt_identity_daemon();
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_int_equal(out.u.open.identity.kind, IVT_IDENTITY_DAEMON);
	/* The identity field's text on the wire, written over a valid OPEN. */
	uint8_t *wire_id = buf + IVT_RMSG_HDR_LEN + IVT_NAME_MAX + 1;
	const char *bad_ids[] = {"ivtd2", "host:a/ivtd", "host:a/uid:1", "uid:*", "*", "",
				 "uid:01000", "uid:4294967296", "dom:-1", "uid:1 "};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		n = encode(&in, buf);
		memset(wire_id, 0, IVT_RMSG_ID_MAX + 1);
		memcpy(wire_id, bad_ids[i], strlen(bad_ids[i]));
		assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);
	}
	/* no NUL inside the field */
	n = encode(&in, buf);
	memset(wire_id, '1', IVT_RMSG_ID_MAX + 1);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);

	memset(&in, 0, sizeof(in));
	in.type = IVT_RMSG_OPEN_OK;
	in.u.open_ok.ring_size = 65536;
	in.u.open_ok.flags = IVT_RMSG_MESSAGE;
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_int_equal(out.u.open_ok.ring_size, 65536);
	assert_int_equal(out.u.open_ok.flags, IVT_RMSG_MESSAGE);
	/* the mode and half-close are its flags: any other bit is refused */
	buf[IVT_RMSG_HDR_LEN + 8] = IVT_RMSG_MESSAGE | IVT_RMSG_HALFCLOSE;
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_int_equal(out.u.open_ok.flags, IVT_RMSG_MESSAGE | IVT_RMSG_HALFCLOSE);
	buf[IVT_RMSG_HDR_LEN + 8] = 4;
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);
	in = open_msg();
	in.u.open.flags = IVT_RMSG_HALFCLOSE; /* OPEN's only flag is the mode */
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);
	in = open_msg();
	in.u.open.flags = IVT_RMSG_MESSAGE;
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_int_equal(out.u.open.flags, IVT_RMSG_MESSAGE);
	buf[n - 1] = 0x80;
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);

	memset(&in, 0, sizeof(in));
	in.type = IVT_RMSG_ERROR;
	in.u.error.err = EACCES;
	strcpy(in.u.error.msg, "no\x01way");
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_int_equal(out.u.error.err, EACCES);
	assert_string_equal(out.u.error.msg, "no?way"); /* control characters defused */

	/* Unknown types cannot be encoded. */
	memset(&in, 0, sizeof(in));
	in.type = 99;
	assert_int_equal(ivt_rmsg_encode(&in, buf, sizeof(buf)), -EINVAL);
}

static void test_bad_headers(void **state)
{
	(void)state;
	uint8_t buf[IVT_RMSG_MAX];
	struct ivt_rmsg m = open_msg(), out;
	int n = encode(&m, buf);
	uint8_t bad[IVT_RMSG_MAX];

	memcpy(bad, buf, (size_t)n);
	bad[0] ^= 1; /* magic */
	assert_int_equal(ivt_rmsg_parse(bad, (size_t)n, &out, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "magic"));
	memcpy(bad, buf, (size_t)n);
	bad[4] = IVT_RMSG_VERSION - 1; /* version: an older peer's */
	assert_int_equal(ivt_rmsg_parse(bad, (size_t)n, &out, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "version"));
	memcpy(bad, buf, (size_t)n);
	bad[6] = 0; /* type 0 */
	assert_int_equal(ivt_rmsg_parse(bad, (size_t)n, &out, why, sizeof(why)), -EPROTO);
	memcpy(bad, buf, (size_t)n);
	bad[6] = 200;
	assert_int_equal(ivt_rmsg_parse(bad, (size_t)n, &out, why, sizeof(why)), -EPROTO);
	/* length field: too short, too long, huge */
	const uint32_t lens[] = {0, 1, 135, 137, 4096, 0xffffffffu};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memcpy(bad, buf, (size_t)n);
		for (int b = 0; b < 4; b++)
			bad[8 + b] = (uint8_t)(lens[i] >> (8 * b));
		uint16_t type;
		assert_int_equal(ivt_rmsg_parse_hdr(bad, &type, why, sizeof(why)), -EPROTO);
		assert_int_equal(ivt_rmsg_parse(bad, (size_t)n, &out, why, sizeof(why)), -EPROTO);
	}
	/* truncated and padded messages */
	for (int cut = 0; cut < n; cut++)
		assert_int_equal(ivt_rmsg_parse(buf, (size_t)cut, &out, why, sizeof(why)), -EPROTO);
	memcpy(bad, buf, (size_t)n);
	bad[n] = 0;
	assert_int_equal(ivt_rmsg_parse(bad, (size_t)n + 1, &out, why, sizeof(why)), -EPROTO);
	assert_int_equal(ivt_rmsg_parse(NULL, 0, &out, why, sizeof(why)), -EPROTO);
}

/* Set a fixed field of an encoded OPEN to raw bytes (no NUL added). */
static void set_field(uint8_t *buf, size_t off, size_t field, const char *val, size_t vlen)
{
	memset(buf + IVT_RMSG_HDR_LEN + off, 0, field);
	memcpy(buf + IVT_RMSG_HDR_LEN + off, val, vlen);
}

static void test_bad_open_fields(void **state)
{
	(void)state;
	uint8_t buf[IVT_RMSG_MAX];
	struct ivt_rmsg m = open_msg(), out;
	int n = encode(&m, buf);
	const size_t CH = 0, ID = IVT_NAME_MAX + 1, BE = ID + IVT_RMSG_ID_MAX + 1;
	char full[IVT_NAME_MAX + 1];
	memset(full, 'a', sizeof(full));
	struct {
		size_t off, field;
		const char *val;
		size_t vlen;
	} cases[] = {
		{CH, IVT_NAME_MAX + 1, full, IVT_NAME_MAX + 1}, /* not terminated */
		{CH, IVT_NAME_MAX + 1, "", 0},
		{CH, IVT_NAME_MAX + 1, ".hidden", 7},
		{CH, IVT_NAME_MAX + 1, "a/b", 3},
		{CH, IVT_NAME_MAX + 1, "../etc", 6},
		{ID, IVT_RMSG_ID_MAX + 1, full, IVT_RMSG_ID_MAX + 1},
		{ID, IVT_RMSG_ID_MAX + 1, "uid:*", 5},  /* wildcard */
		{ID, IVT_RMSG_ID_MAX + 1, "*", 1},
		{ID, IVT_RMSG_ID_MAX + 1, "host:hostC/uid:0", 16}, /* no relaying */
		{ID, IVT_RMSG_ID_MAX + 1, "uid:-1", 6},
		{ID, IVT_RMSG_ID_MAX + 1, "uid:01000", 9}, /* non-canonical uid:1000 */
		{ID, IVT_RMSG_ID_MAX + 1, "root", 4},
		{ID, IVT_RMSG_ID_MAX + 1, "", 0},
		{BE, IVT_BACKEND_NAME_MAX + 1, "No/pe", 5},
		{BE, IVT_BACKEND_NAME_MAX + 1, full, IVT_BACKEND_NAME_MAX + 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t bad[IVT_RMSG_MAX];
		memcpy(bad, buf, (size_t)n);
		set_field(bad, cases[i].off, cases[i].field, cases[i].val, cases[i].vlen);
		if (ivt_rmsg_parse(bad, (size_t)n, &out, why, sizeof(why)) != -EPROTO)
			fail_msg("OPEN case %zu accepted", i);
	}
}

static void test_bad_other_fields(void **state)
{
	(void)state;
	uint8_t buf[IVT_RMSG_MAX];
	struct ivt_rmsg m, out;
	const uint64_t rings[] = {0, 1, 4095, 4097, 3u << 20, (1ull << 30) * 2, UINT64_MAX};
	for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.type = IVT_RMSG_OPEN_OK;
		m.u.open_ok.ring_size = rings[i];
		int n = encode(&m, buf);
		assert_int_equal(ivt_rmsg_parse(buf, (size_t)n, &out, why, sizeof(why)), -EPROTO);
	}
	const int32_t errs[] = {0, -1, 4096, INT32_MIN};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.type = IVT_RMSG_ERROR;
		m.u.error.err = errs[i];
		int n = encode(&m, buf);
		assert_int_equal(ivt_rmsg_parse(buf, (size_t)n, &out, why, sizeof(why)), -EPROTO);
	}
	memset(&m, 0, sizeof(m));
	m.type = IVT_RMSG_ERROR;
	m.u.error.err = EIO;
	int n = encode(&m, buf);
	memset(buf + IVT_RMSG_HDR_LEN + 4, 'x', IVT_ERRMSG_MAX + 1); /* unterminated */
	assert_int_equal(ivt_rmsg_parse(buf, (size_t)n, &out, why, sizeof(why)), -EPROTO);
	memset(&m, 0, sizeof(m));
	m.type = IVT_RMSG_HELLO;
	strcpy(m.u.hello.host, "bad host");
	n = encode(&m, buf);
	assert_int_equal(ivt_rmsg_parse(buf, (size_t)n, &out, why, sizeof(why)), -EPROTO);
	memset(buf + IVT_RMSG_HDR_LEN, 'h', IVT_RMSG_HOST_MAX + 1);
	assert_int_equal(ivt_rmsg_parse(buf, (size_t)n, &out, why, sizeof(why)), -EPROTO);
}

/* Random bytes and random mutations of valid messages: parse must never
 * crash (ASan/valgrind watch), and whatever it accepts is well-formed. */
static void test_fuzz(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint8_t valid[6][IVT_RMSG_MAX];
	int vlen[6];
	struct ivt_rmsg m = open_msg();
	vlen[0] = encode(&m, valid[0]);
	memset(&m, 0, sizeof(m));
	m.type = IVT_RMSG_HELLO;
	strcpy(m.u.hello.host, "h");
	vlen[1] = encode(&m, valid[1]);
	memset(&m, 0, sizeof(m));
	m.type = IVT_RMSG_OPEN_OK;
	m.u.open_ok.ring_size = 4096;
	vlen[2] = encode(&m, valid[2]);
	memset(&m, 0, sizeof(m));
	m.type = IVT_RMSG_ERROR;
	m.u.error.err = 1;
	vlen[3] = encode(&m, valid[3]);
	memset(&m, 0, sizeof(m));
	m.type = IVT_RMSG_SETUP;
	m.u.setup.len = 72;
	memset(m.u.setup.blob, 0x5a, 72);
	vlen[4] = encode(&m, valid[4]);
	memset(&m, 0, sizeof(m));
	m.type = IVT_RMSG_OFFER;
	strcpy(m.u.offer.backend, "verbs");
	vlen[5] = encode(&m, valid[5]);
	int accepted = 0;
	for (int i = 0; i < 200000; i++) {
		uint8_t buf[IVT_RMSG_MAX + 16];
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int k = (int)(x % 6);
		size_t n = (size_t)vlen[k];
		memcpy(buf, valid[k], n);
		int flips = 1 + (int)((x >> 8) % 4);
		for (int f = 0; f < flips; f++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[x % n] = (uint8_t)(x >> 32);
		}
		if ((x >> 40) % 8 == 0)
			n = (size_t)((x >> 44) % (sizeof(buf) + 1));
		struct ivt_rmsg out;
		int rc = ivt_rmsg_parse(buf, n, &out, why, sizeof(why));
		assert_true(rc == 0 || rc == -EPROTO);
		if (rc == 0) {
			accepted++;
			if (out.type == IVT_RMSG_OPEN) {
				assert_non_null(memchr(out.u.open.channel, 0, sizeof(out.u.open.channel)));
				assert_true(ivt_identity_is_local(&out.u.open.identity) ||
					    out.u.open.identity.kind == IVT_IDENTITY_DAEMON);
			}
			if (out.type == IVT_RMSG_SETUP)
				assert_true(out.u.setup.len >= 1 &&
					    out.u.setup.len <= IVT_RMSG_BLOB_MAX);
		}
	}
	assert_true(accepted > 0); /* mutations of padding bytes stay valid */
}

/* The RDMA negotiation's messages (docs/remote.md, "Bridging over RDMA"). */
static void test_xport_msgs(void **state)
{
	(void)state;
	uint8_t buf[IVT_RMSG_MAX];
	struct ivt_rmsg in, out;

	memset(&in, 0, sizeof(in));
	in.type = IVT_RMSG_OFFER;
	strcpy(in.u.offer.backend, "verbs");
	int n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_string_equal(out.u.offer.backend, "verbs");
	memcpy(buf + IVT_RMSG_HDR_LEN, "Verbs", 5); /* not a plugin name */
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);
	memset(buf + IVT_RMSG_HDR_LEN, 'a', IVT_BACKEND_NAME_MAX + 1); /* no NUL */
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);

	memset(&in, 0, sizeof(in));
	in.type = IVT_RMSG_SETUP;
	in.u.setup.len = 72;
	for (int i = 0; i < 72; i++)
		in.u.setup.blob[i] = (uint8_t)(i + 1);
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_int_equal(out.u.setup.len, 72);
	assert_memory_equal(out.u.setup.blob, in.u.setup.blob, 72);
	buf[IVT_RMSG_HDR_LEN + 4 + 100] = 1; /* padding must be zero */
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);
	uint32_t bad_len[] = {0, IVT_RMSG_BLOB_MAX + 1, 0xffffffffu};
	for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		n = encode(&in, buf);
		memcpy(buf + IVT_RMSG_HDR_LEN, &bad_len[i], 4);
		assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);
	}
	in.u.setup.len = IVT_RMSG_BLOB_MAX + 1;
	assert_int_equal(ivt_rmsg_encode(&in, buf, sizeof(buf)), -EINVAL);

	/* RESULT: errno 0 means "use it"; ERROR never carries 0. */
	memset(&in, 0, sizeof(in));
	in.type = IVT_RMSG_RESULT;
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_int_equal(out.u.error.err, 0);
	in.u.error.err = ETIMEDOUT;
	strcpy(in.u.error.msg, "no\nway");
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_int_equal(out.u.error.err, ETIMEDOUT);
	assert_string_equal(out.u.error.msg, "no?way");
	in.u.error.err = 4096;
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);
	in.type = IVT_RMSG_ERROR;
	in.u.error.err = 0;
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);
}

/* VMM-bypass (docs/remote.md, "Direct queue pairs"): DIRECT carries a
 * plugin name like OFFER, OPEN_DIRECT a ring size like OPEN_OK, each
 * under its own type and checked the same way. */
static void test_direct_msgs(void **state)
{
	(void)state;
	uint8_t buf[IVT_RMSG_MAX];
	struct ivt_rmsg in, out;

	memset(&in, 0, sizeof(in));
	in.type = IVT_RMSG_DIRECT;
	strcpy(in.u.offer.backend, "verbs");
	int n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_int_equal(out.type, IVT_RMSG_DIRECT);
	assert_string_equal(out.u.offer.backend, "verbs");
	memcpy(buf + IVT_RMSG_HDR_LEN, "../x", 5); /* not a plugin name */
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);
	memset(buf + IVT_RMSG_HDR_LEN, 'a', IVT_BACKEND_NAME_MAX + 1); /* no NUL */
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);
	memset(buf + IVT_RMSG_HDR_LEN, 0, IVT_BACKEND_NAME_MAX + 1); /* empty */
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);

	memset(&in, 0, sizeof(in));
	in.type = IVT_RMSG_OPEN_DIRECT;
	in.u.open_ok.ring_size = 1u << 20;
	n = encode(&in, buf);
	assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), 0);
	assert_int_equal(out.type, IVT_RMSG_OPEN_DIRECT);
	assert_int_equal(out.u.open_ok.ring_size, 1u << 20);
	uint64_t bad_ring[] = {0, 4095, 3u << 20, 1ull << 31, ~0ull};
	for (size_t i = 0; i < sizeof(bad_ring) / sizeof(bad_ring[0]); i++) {
		in.u.open_ok.ring_size = bad_ring[i];
		n = encode(&in, buf);
		assert_int_equal(parse_like_bridge(buf, (size_t)n, &out), -EPROTO);
	}
	/* Each type has one exact length: OPEN_DIRECT's header saying
	 * DIRECT's length is refused before the payload is read. */
	in.u.open_ok.ring_size = 4096;
	n = encode(&in, buf);
	uint8_t hdr[IVT_RMSG_HDR_LEN];
	memcpy(hdr, buf, sizeof(hdr));
	uint32_t len = IVT_BACKEND_NAME_MAX + 1;
	memcpy(hdr + 8, &len, 4);
	uint16_t type;
	assert_int_equal(ivt_rmsg_parse_hdr(hdr, &type, NULL, 0), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_bad_open_fields),
		cmocka_unit_test(test_bad_other_fields),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_xport_msgs),
		cmocka_unit_test(test_direct_msgs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
