/* SPDX-License-Identifier: MIT */
/* Encoding and validation of libivt frames (see frame.h, docs/framing.md). */
#include "frame.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

size_t ivt_frame_ext_size(uint8_t type)
{
	switch (type) {
	case IVT_FRAME_RDMA_WRITE:
	case IVT_FRAME_RDMA_READ_REQ:
		return 24;
	case IVT_FRAME_RDMA_READ_RESP:
	case IVT_FRAME_RDMA_NACK:
	case IVT_FRAME_MSG:
		return 8;
	default:
		return 0;
	}
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

size_t ivt_frame_encode(uint8_t *out, uint8_t type, uint64_t tag, const struct ivt_frame_ext *ext,
			uint32_t payload_len)
{
	size_t ext_len = ivt_frame_ext_size(type);
	uint32_t len = htole32((uint32_t)ext_len + payload_len);
	uint16_t rsvd = 0;
	out[0] = type;
	out[1] = 0; /* flags */
	memcpy(out + 2, &rsvd, 2);
	memcpy(out + 4, &len, 4);
	put64(out + 8, tag);
	uint8_t *e = out + IVT_FRAME_HDR_SIZE;
	switch (type) {
	case IVT_FRAME_RDMA_READ_REQ:
	case IVT_FRAME_RDMA_WRITE:
		put64(e, ext->key);
		put64(e + 8, ext->offset);
		put64(e + 16, ext->length);
		break;
	case IVT_FRAME_RDMA_READ_RESP:
		put64(e, ext->offset);
		break;
	case IVT_FRAME_MSG:
		put64(e, ext->length);
		break;
	case IVT_FRAME_RDMA_NACK: {
		uint32_t st = htole32((uint32_t)ext->status), zero = 0;
		memcpy(e, &st, 4);
		memcpy(e + 4, &zero, 4);
		break;
	}
	default:
		break;
	}
	return IVT_FRAME_HDR_SIZE + ext_len;
}

int ivt_frame_decode_hdr(const uint8_t in[IVT_FRAME_HDR_SIZE], struct ivt_frame_hdr *h)
{
	uint16_t rsvd;
	memcpy(&rsvd, in + 2, 2);
	h->type = in[0];
	h->flags = in[1];
	h->rsvd = rsvd;
	h->len = get32(in + 4);
	h->tag = get64(in + 8);
	if (h->rsvd != 0)
		return -EPROTO;

	/* Per type: [min, max] of len (ext + payload). All
	 * bounds are small constants, so no arithmetic here can overflow. */
	uint32_t ext = (uint32_t)ivt_frame_ext_size(h->type);
	uint32_t min_len, max_len;
	if (h->flags != 0)
		return -EPROTO;
	switch (h->type) {
	case IVT_FRAME_DATA:
		if (h->tag != 0)
			return -EPROTO;
		min_len = 1;
		max_len = IVT_FRAME_PAYLOAD_MAX;
		break;
	case IVT_FRAME_RDMA_WRITE:
	case IVT_FRAME_RDMA_READ_RESP:
		min_len = ext + 1;
		max_len = ext + IVT_FRAME_PAYLOAD_MAX;
		break;
	case IVT_FRAME_RDMA_READ_REQ:
	case IVT_FRAME_RDMA_ACK:
	case IVT_FRAME_RDMA_NACK:
		min_len = max_len = ext;
		break;
	case IVT_FRAME_MSG_ABORT:
	case IVT_FRAME_FIN:
		if (h->tag != 0)
			return -EPROTO;
		min_len = max_len = 0;
		break;
	case IVT_FRAME_MSG: /* an empty message is one MSG frame without payload */
	case IVT_FRAME_PAD:
		if (h->tag != 0)
			return -EPROTO;
		min_len = ext;
		max_len = ext + IVT_FRAME_PAYLOAD_MAX;
		break;
	default:
		return -EPROTO;
	}
	if (h->len < min_len || h->len > max_len)
		return -EPROTO;
	return 0;
}

int ivt_frame_decode_ext(uint8_t type, const uint8_t *in, struct ivt_frame_ext *ext)
{
	memset(ext, 0, sizeof(*ext));
	switch (type) {
	case IVT_FRAME_RDMA_READ_REQ:
	case IVT_FRAME_RDMA_WRITE:
		ext->key = get64(in);
		ext->offset = get64(in + 8);
		ext->length = get64(in + 16);
		return ext->length ? 0 : -EPROTO;
	case IVT_FRAME_RDMA_READ_RESP:
		ext->offset = get64(in);
		return 0;
	case IVT_FRAME_MSG:
		ext->length = get64(in);
		return ext->length <= IVT_FRAME_MSG_MAX ? 0 : -EPROTO;
	case IVT_FRAME_RDMA_NACK: {
		int32_t st = (int32_t)get32(in);
		if (get32(in + 4) != 0 || st >= 0 || st < -4095)
			return -EPROTO;
		ext->status = st;
		return 0;
	}
	default:
		return 0;
	}
}
