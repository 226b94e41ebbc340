/* SPDX-License-Identifier: MIT */
#include "verbs_wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ivt/ivt.h"

/* ---- little-endian helpers ---------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}
static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* ---- connection blob ----------------------------------------------------- */
/* Offsets; bytes 42..43 and 60..71 are reserved and must be zero. */
enum {
	B_MAGIC = 0, B_VERSION = 4, B_LENGTH = 6, B_QPN = 8, B_PSN = 12, B_LID = 16,
	B_LINK = 18, B_GIDX = 19, B_GID = 20, B_MTU = 36, B_RDATOM = 37, B_DSLOTS = 38,
	B_CSLOTS = 40, B_RSV1 = 42, B_SLOTSZ = 44, B_KAADDR = 48, B_KARKEY = 56, B_RSV2 = 60,
};

void vw_blob_encode(const struct vw_blob *b, uint8_t out[VW_BLOB_LEN])
{
	memset(out, 0, VW_BLOB_LEN);
	put32(out + B_MAGIC, VW_BLOB_MAGIC);
	put16(out + B_VERSION, VW_BLOB_VERSION);
	put16(out + B_LENGTH, VW_BLOB_LEN);
	put32(out + B_QPN, b->qpn);
	put32(out + B_PSN, b->psn);
	put16(out + B_LID, b->lid);
	out[B_LINK] = b->link;
	out[B_GIDX] = b->gid_index;
	memcpy(out + B_GID, b->gid, 16);
	out[B_MTU] = b->mtu;
	out[B_RDATOM] = b->rd_atom;
	put16(out + B_DSLOTS, b->data_slots);
	put16(out + B_CSLOTS, b->ctrl_slots);
	put32(out + B_SLOTSZ, b->slot_size);
	put64(out + B_KAADDR, b->ka_addr);
	put32(out + B_KARKEY, b->ka_rkey);
}

int vw_gid_valid(const uint8_t gid[16])
{
	static const uint8_t loop6[16] = {[15] = 1};
	if (all_zero(gid, 16) || gid[0] == 0xff || !memcmp(gid, loop6, 16))
		return 0;
	/* IPv4-mapped (RoCE v2 over IPv4): reject 0.0.0.0/8, 127/8, multicast
	 * and broadcast, which no peer port can own. */
	static const uint8_t v4map[12] = {[10] = 0xff, [11] = 0xff};
	if (!memcmp(gid, v4map, 12)) {
		uint8_t a = gid[12];
		if (a == 0 || a == 127 || a >= 224)
			return 0;
	}
	return 1;
}

#define REJECT(...)                                    \
	do {                                           \
		snprintf(why, why_len, __VA_ARGS__);   \
		return -EPROTO;                        \
	} while (0)

int vw_blob_decode(const void *buf, size_t n, struct vw_blob *b, char *why, size_t why_len)
{
	char dummy[8];
	if (!why) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	const uint8_t *p = buf;
	if (!buf || n < B_LENGTH + 2)
		REJECT("verbs blob too short (%zu bytes)", n);
	if (get32(p + B_MAGIC) != VW_BLOB_MAGIC)
		REJECT("not a verbs blob (bad magic)");
	if (get16(p + B_VERSION) != VW_BLOB_VERSION)
		REJECT("verbs blob version %u, this plugin speaks %u", get16(p + B_VERSION),
		       VW_BLOB_VERSION);
	if (n != VW_BLOB_LEN || get16(p + B_LENGTH) != VW_BLOB_LEN)
		REJECT("verbs blob is %zu bytes (says %u), expected %u", n, get16(p + B_LENGTH),
		       VW_BLOB_LEN);
	if (get16(p + B_RSV1) || !all_zero(p + B_RSV2, VW_BLOB_LEN - B_RSV2))
		REJECT("verbs blob has non-zero reserved bytes");

	memset(b, 0, sizeof(*b));
	b->qpn = get32(p + B_QPN);
	b->psn = get32(p + B_PSN);
	b->lid = get16(p + B_LID);
	b->link = p[B_LINK];
	b->gid_index = p[B_GIDX];
	memcpy(b->gid, p + B_GID, 16);
	b->mtu = p[B_MTU];
	b->rd_atom = p[B_RDATOM];
	b->data_slots = get16(p + B_DSLOTS);
	b->ctrl_slots = get16(p + B_CSLOTS);
	b->slot_size = get32(p + B_SLOTSZ);
	b->ka_addr = get64(p + B_KAADDR);
	b->ka_rkey = get32(p + B_KARKEY);

	/* QPN 0 and 1 are the special management QPs, never an RC peer. */
	if (b->qpn < 2 || b->qpn > 0xffffff)
		REJECT("peer QP number %u out of range", b->qpn);
	if (b->psn > 0xffffff)
		REJECT("peer PSN %u is not 24-bit", b->psn);
	if (b->link == VW_LINK_ETH) {
		if (!vw_gid_valid(b->gid))
			REJECT("peer GID is not a unicast address");
	} else if (b->link == VW_LINK_IB) {
		/* Unicast LIDs are 1..0xbfff; a GID, if given, must be sane. */
		if (b->lid == 0 || b->lid >= 0xc000)
			REJECT("peer LID 0x%x is not a unicast LID", b->lid);
		if (!all_zero(b->gid, 16) && !vw_gid_valid(b->gid))
			REJECT("peer GID is not a unicast address");
	} else {
		REJECT("peer link layer %u unknown", b->link);
	}
	if (b->mtu < 1 || b->mtu > 5)
		REJECT("peer MTU code %u invalid", b->mtu);
	if (b->rd_atom == 0)
		REJECT("peer accepts no RDMA reads");
	if (b->data_slots < 1 || b->data_slots > VW_MAX_DATA_SLOTS)
		REJECT("peer data slots %u out of range", b->data_slots);
	if (b->ctrl_slots < 2 || b->ctrl_slots > VW_MAX_CTRL_SLOTS)
		REJECT("peer ctrl slots %u out of range", b->ctrl_slots);
	if (b->slot_size < VW_MIN_SLOT_SIZE || b->slot_size > VW_MAX_SLOT_SIZE ||
	    (b->slot_size & (b->slot_size - 1)))
		REJECT("peer slot size %u invalid", b->slot_size);
	if (b->ka_addr == 0 || b->ka_addr > UINT64_MAX - 8)
		REJECT("peer keepalive address invalid");
	return 0;
}

/* ---- message header ------------------------------------------------------ */

void vw_hdr_encode(const struct vw_hdr *h, uint8_t out[VW_HDR_LEN])
{
	out[0] = h->type;
	out[1] = h->ctrl_returned;
	put16(out + 2, 0);
	put32(out + 4, h->credits_returned);
}

enum vw_class vw_msg_class(uint8_t type)
{
	switch (type) {
	case VW_MSG_CREDIT:
	case VW_MSG_READY:
		return VW_CLASS_CTRL;
	case VW_MSG_CLOSE:
		return VW_CLASS_CLOSE;
	default:
		return VW_CLASS_DATA;
	}
}

int vw_hdr_decode(const void *buf, size_t n, size_t slot_size, struct vw_hdr *h)
{
	const uint8_t *p = buf;
	if (n < VW_HDR_LEN || n > slot_size || get16(p + 2) != 0)
		return -EPROTO;
	h->type = p[0];
	h->ctrl_returned = p[1];
	h->credits_returned = get32(p + 4);
	size_t payload = n - VW_HDR_LEN;
	switch (h->type) {
	case VW_MSG_DATA:
		return payload > 0 ? 0 : -EPROTO;
	case VW_MSG_CREDIT:
	case VW_MSG_CLOSE:
	case VW_MSG_READY:
		return payload == 0 ? 0 : -EPROTO;
	case VW_MSG_REGION_ADD:
		return payload == VW_REGION_LEN ? 0 : -EPROTO;
	case VW_MSG_REGION_DEL:
		return payload == 4 ? 0 : -EPROTO;
	default:
		return -EPROTO;
	}
}

/* ---- region descriptor --------------------------------------------------- */

void vw_region_encode(const struct vw_region *r, uint8_t out[VW_REGION_LEN])
{
	put32(out, r->id);
	put32(out + 4, r->rkey);
	put64(out + 8, r->addr);
	put64(out + 16, r->len);
	put32(out + 24, r->access);
	put32(out + 28, 0);
}

int vw_region_decode(const void *buf, size_t n, struct vw_region *r)
{
	const uint8_t *p = buf;
	if (n != VW_REGION_LEN || get32(p + 28) != 0)
		return -EPROTO;
	r->id = get32(p);
	r->rkey = get32(p + 4);
	r->addr = get64(p + 8);
	r->len = get64(p + 16);
	r->access = get32(p + 24);
	const uint32_t known = IVT_ACCESS_REMOTE_WRITE | IVT_ACCESS_REMOTE_READ;
	if (r->id == 0 || r->len == 0 || r->addr > UINT64_MAX - r->len || !r->access ||
	    (r->access & ~known))
		return -EPROTO;
	return 0;
}
