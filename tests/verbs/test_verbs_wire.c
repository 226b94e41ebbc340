/* SPDX-License-Identifier: MIT */
/* The verbs plugin's wire formats: a hostile peer's blob, header or region
 * descriptor must be refused, never trusted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ivt/ivt.h"
#include "verbs_wire.h"

static const uint8_t gid_v4[16] = {[10] = 0xff, [11] = 0xff, 192, 0, 2, 1};

static struct vw_blob good_blob(void)
{
	struct vw_blob b = {
		.qpn = 0x11, .psn = 0x123456, .lid = 0, .link = VW_LINK_ETH, .gid_index = 1,
		.mtu = 3, .rd_atom = 16, .data_slots = 16, .ctrl_slots = 4, .slot_size = 65536,
		.ka_addr = 0x7f0000001000ull, .ka_rkey = 0xabcd,
	};
	memcpy(b.gid, gid_v4, 16);
	return b;
}

static int decode(const uint8_t *buf, size_t n, char *why)
{
	struct vw_blob out;
	return vw_blob_decode(buf, n, &out, why, 160);
}

static void blob_round_trip(void **state)
{
	struct vw_blob b = good_blob(), out;
	uint8_t buf[VW_BLOB_LEN];
	vw_blob_encode(&b, buf);
	char why[160] = "";
	assert_int_equal(vw_blob_decode(buf, sizeof(buf), &out, why, sizeof(why)), 0);
	assert_int_equal(out.qpn, b.qpn);
	assert_int_equal(out.psn, b.psn);
	assert_memory_equal(out.gid, b.gid, 16);
	assert_int_equal(out.slot_size, b.slot_size);
	assert_int_equal(out.data_slots, 16);
	assert_true(out.ka_addr == b.ka_addr);
	assert_int_equal(out.ka_rkey, b.ka_rkey);
}

static void blob_bad_framing(void **state)
{
	struct vw_blob b = good_blob();
	uint8_t buf[VW_BLOB_LEN + 8] = {0};
	char why[160];
	vw_blob_encode(&b, buf);
	assert_int_equal(decode(buf, 0, why), -EPROTO);
	assert_int_equal(decode(NULL, 72, why), -EPROTO);
	assert_int_equal(decode(buf, VW_BLOB_LEN - 1, why), -EPROTO);
	assert_non_null(strstr(why, "bytes"));
	assert_int_equal(decode(buf, VW_BLOB_LEN + 8, why), -EPROTO); /* trailing junk */

	uint8_t m[VW_BLOB_LEN];
	memcpy(m, buf, sizeof(m));
	m[0] ^= 1;
	assert_int_equal(decode(m, sizeof(m), why), -EPROTO);
	assert_non_null(strstr(why, "magic"));

	memcpy(m, buf, sizeof(m));
	m[4] = 2; /* version */
	assert_int_equal(decode(m, sizeof(m), why), -EPROTO);
	assert_non_null(strstr(why, "version"));

	memcpy(m, buf, sizeof(m));
	m[6] = 80; /* claimed length */
	assert_int_equal(decode(m, sizeof(m), why), -EPROTO);

	memcpy(m, buf, sizeof(m));
	m[VW_BLOB_LEN - 1] = 1; /* reserved */
	assert_int_equal(decode(m, sizeof(m), why), -EPROTO);
	assert_non_null(strstr(why, "reserved"));
}

/* Hostile value number i applied to a good blob; NULL past the last. */
static const char *spoil(int i, struct vw_blob *b)
{
	switch (i) {
	case 0: b->qpn = 0; return "qpn 0";
	case 1: b->qpn = 1; return "qpn 1";
	case 2: b->qpn = 0x1000000; return "qpn > 24 bit";
	case 3: b->psn = 0x1000000; return "psn > 24 bit";
	case 4: memset(b->gid, 0, 16); return "zero gid";
	case 5: b->gid[0] = 0xff; return "multicast gid";
	case 6: memset(b->gid, 0, 16); b->gid[15] = 1; return "loopback v6 gid";
	case 7: b->gid[12] = 127; return "v4 127/8 gid";
	case 8: b->gid[12] = 0; return "v4 0/8 gid";
	case 9: b->gid[12] = 224; return "v4 multicast gid";
	case 10: b->link = 7; return "unknown link";
	case 11: b->link = VW_LINK_IB; b->lid = 0; return "ib lid 0";
	case 12: b->link = VW_LINK_IB; b->lid = 0xc001; return "ib multicast lid";
	case 13: b->mtu = 0; return "mtu 0";
	case 14: b->mtu = 6; return "mtu 6";
	case 15: b->rd_atom = 0; return "rd_atom 0";
	case 16: b->data_slots = 0; return "no data slots";
	case 17: b->data_slots = VW_MAX_DATA_SLOTS + 1; return "too many data slots";
	case 18: b->ctrl_slots = 1; return "one ctrl slot";
	case 19: b->ctrl_slots = VW_MAX_CTRL_SLOTS + 1; return "too many ctrl slots";
	case 20: b->slot_size = 128; return "tiny slot";
	case 21: b->slot_size = VW_MAX_SLOT_SIZE * 2; return "huge slot";
	case 22: b->slot_size = 65536 + 8; return "odd slot";
	case 23: b->ka_addr = 0; return "null keepalive";
	case 24: b->ka_addr = UINT64_MAX - 3; return "wrapping keepalive";
	case 25: b->link = VW_LINK_IB; b->lid = 5; b->gid[0] = 0xff; return "ib multicast gid";
	}
	return NULL;
}

/* Each field set to a hostile value must be refused on its own. */
static void blob_bad_fields(void **state)
{
	int ncases = 0;
	for (int i = 0;; i++) {
		struct vw_blob b = good_blob();
		const char *what = spoil(i, &b);
		if (!what)
			break;
		ncases++;
		uint8_t buf[VW_BLOB_LEN];
		vw_blob_encode(&b, buf);
		char why[160] = "";
		if (decode(buf, sizeof(buf), why) != -EPROTO)
			fail_msg("hostile blob accepted: %s", what);
		assert_true(why[0] != 0);
	}
	assert_int_equal(ncases, 26);
	/* And an IB peer with a LID and no GID is fine. */
	struct vw_blob b = good_blob();
	b.link = VW_LINK_IB;
	b.lid = 7;
	memset(b.gid, 0, 16);
	uint8_t buf[VW_BLOB_LEN];
	vw_blob_encode(&b, buf);
	char why[160];
	assert_int_equal(decode(buf, sizeof(buf), why), 0);
}

static void hdr_validation(void **state)
{
	uint8_t m[64] = {0};
	struct vw_hdr h = {.type = VW_MSG_DATA, .ctrl_returned = 2, .credits_returned = 5}, out;
	vw_hdr_encode(&h, m);
	assert_int_equal(vw_hdr_decode(m, VW_HDR_LEN + 10, 4096, &out), 0);
	assert_int_equal(out.credits_returned, 5);
	assert_int_equal(out.ctrl_returned, 2);
	/* DATA without payload, longer than the slot, or shorter than a header */
	assert_int_equal(vw_hdr_decode(m, VW_HDR_LEN, 4096, &out), -EPROTO);
	assert_int_equal(vw_hdr_decode(m, 4097, 4096, &out), -EPROTO);
	assert_int_equal(vw_hdr_decode(m, 3, 4096, &out), -EPROTO);
	/* control messages carry nothing */
	h.type = VW_MSG_CREDIT;
	vw_hdr_encode(&h, m);
	assert_int_equal(vw_hdr_decode(m, VW_HDR_LEN, 4096, &out), 0);
	assert_int_equal(vw_hdr_decode(m, VW_HDR_LEN + 1, 4096, &out), -EPROTO);
	h.type = VW_MSG_REGION_ADD;
	vw_hdr_encode(&h, m);
	assert_int_equal(vw_hdr_decode(m, VW_HDR_LEN + VW_REGION_LEN, 4096, &out), 0);
	assert_int_equal(vw_hdr_decode(m, VW_HDR_LEN + VW_REGION_LEN - 1, 4096, &out), -EPROTO);
	h.type = VW_MSG_REGION_DEL;
	vw_hdr_encode(&h, m);
	assert_int_equal(vw_hdr_decode(m, VW_HDR_LEN + 4, 4096, &out), 0);
	/* unknown types and reserved bits */
	for (int t = 0; t < 256; t++) {
		if (t >= VW_MSG_DATA && t <= VW_MSG_REGION_DEL)
			continue;
		m[0] = (uint8_t)t;
		assert_int_equal(vw_hdr_decode(m, VW_HDR_LEN, 4096, &out), -EPROTO);
	}
	h.type = VW_MSG_CLOSE;
	vw_hdr_encode(&h, m);
	m[2] = 1;
	assert_int_equal(vw_hdr_decode(m, VW_HDR_LEN, 4096, &out), -EPROTO);
	assert_int_equal(vw_msg_class(VW_MSG_READY), VW_CLASS_CTRL);
	assert_int_equal(vw_msg_class(VW_MSG_REGION_ADD), VW_CLASS_DATA);
	assert_int_equal(vw_msg_class(VW_MSG_CLOSE), VW_CLASS_CLOSE);
}

static void region_validation(void **state)
{
	struct vw_region r = {.id = 9, .rkey = 0x55, .addr = 0x1000, .len = 4096,
			      .access = IVT_ACCESS_REMOTE_WRITE}, out;
	uint8_t m[VW_REGION_LEN + 1];
	vw_region_encode(&r, m);
	assert_int_equal(vw_region_decode(m, VW_REGION_LEN, &out), 0);
	assert_true(out.addr == 0x1000 && out.len == 4096 && out.id == 9 && out.rkey == 0x55);
	assert_int_equal(vw_region_decode(m, VW_REGION_LEN + 1, &out), -EPROTO);

	struct vw_region bad[] = {
		{.id = 0, .rkey = 1, .addr = 0x1000, .len = 1, .access = 1},
		{.id = 1, .rkey = 1, .addr = 0x1000, .len = 0, .access = 1},
		{.id = 1, .rkey = 1, .addr = UINT64_MAX - 10, .len = 100, .access = 1},
		{.id = 1, .rkey = 1, .addr = 0x1000, .len = 1, .access = 0},
		{.id = 1, .rkey = 1, .addr = 0x1000, .len = 1, .access = 8},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vw_region_encode(&bad[i], m);
		assert_int_equal(vw_region_decode(m, VW_REGION_LEN, &out), -EPROTO);
	}
	vw_region_encode(&r, m);
	m[30] = 1; /* reserved */
	assert_int_equal(vw_region_decode(m, VW_REGION_LEN, &out), -EPROTO);

	uint64_t key = vw_key_make(0xdeadbeef, 0x1234);
	assert_int_equal(vw_key_rkey(key), 0xdeadbeef);
	assert_int_equal(vw_key_id(key), 0x1234);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blob_round_trip),   cmocka_unit_test(blob_bad_framing),
		cmocka_unit_test(blob_bad_fields),   cmocka_unit_test(hdr_validation),
		cmocka_unit_test(region_validation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
