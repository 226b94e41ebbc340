/* SPDX-License-Identifier: MIT */
/*
 * The verbs plugin's wire formats (plugins/verbs/verbs_wire.c): the setup
 * blob a peer sends through the out-of-band channel, message headers and
 * region descriptors. Input: one byte picks the decoder (and a slot size),
 * the rest is the peer's bytes. Accepted values must respect the limits.
 */
#include "fuzz_input.h"
#include "verbs_wire.h"

static void blob(const uint8_t *p, size_t n)
{
	struct vw_blob b, again;
	char why[256];
	if (vw_blob_decode(p, n, &b, why, sizeof(why)) != 0)
		return;
	FZ_CHECK(b.slot_size >= VW_MIN_SLOT_SIZE && b.slot_size <= VW_MAX_SLOT_SIZE);
	FZ_CHECK(b.data_slots <= VW_MAX_DATA_SLOTS && b.ctrl_slots <= VW_MAX_CTRL_SLOTS);
	uint8_t out[VW_BLOB_LEN];
	vw_blob_encode(&b, out);
	FZ_CHECK(vw_blob_decode(out, sizeof(out), &again, why, sizeof(why)) == 0);
	FZ_CHECK(again.qpn == b.qpn && again.psn == b.psn && again.slot_size == b.slot_size &&
		 again.ka_addr == b.ka_addr && !memcmp(again.gid, b.gid, sizeof(b.gid)));
}

static void msg(const uint8_t *p, size_t n, size_t slot_size)
{
	struct vw_hdr h;
	if (vw_hdr_decode(p, n, slot_size, &h) != 0)
		return;
	FZ_CHECK(n >= VW_HDR_LEN && n <= slot_size);
	if (h.type == VW_MSG_REGION_ADD) {
		struct vw_region r;
		(void)vw_region_decode(p + VW_HDR_LEN, n - VW_HDR_LEN, &r);
	}
	(void)vw_msg_class(h.type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static const size_t slots[] = {VW_MIN_SLOT_SIZE, 4096, 65536, VW_MAX_SLOT_SIZE};
	uint8_t how = data[0];
	switch (how & 3) {
	case 0:
		blob(data + 1, size - 1);
		break;
	case 1: {
		struct vw_region r;
		(void)vw_region_decode(data + 1, size - 1, &r);
		break;
	}
	default:
		msg(data + 1, size - 1, slots[(how >> 2) & 3]);
	}
	return 0;
}
