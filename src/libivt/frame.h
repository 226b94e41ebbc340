/* SPDX-License-Identifier: MIT */
/*
 * libivt's frames on the plugin byte pipe (the format is in docs/framing.md).
 *
 * Every frame is a 16-byte header, a fixed per-type extension and a
 * payload. The header's len counts extension + payload, so a receiver
 * always knows where the next frame starts. All fields are little-endian.
 * This file only encodes and validates; tx.c and rx.c move the bytes.
 */
#ifndef IVT_LIBIVT_FRAME_H
#define IVT_LIBIVT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define IVT_FRAME_HDR_SIZE 16u
/* Largest payload one frame carries. Receivers reject anything bigger; the
 * sender also keeps frames to half a ring so both ends work concurrently. */
#define IVT_FRAME_PAYLOAD_MAX (16u << 20)
/* Largest message in message mode (ivt.h IVT_MSG_MAX). */
#define IVT_FRAME_MSG_MAX (1ull << 30)

enum ivt_frame_type {
	IVT_FRAME_DATA = 1,           /* stream bytes; tag 0 */
	IVT_FRAME_RDMA_WRITE = 2,     /* ext: key, offset, length of the op; payload: a chunk */
	IVT_FRAME_RDMA_READ_REQ = 3,  /* ext: key, offset, length; no payload */
	IVT_FRAME_RDMA_READ_RESP = 4, /* ext: offset within the op; payload: bytes read */
	IVT_FRAME_RDMA_ACK = 5,       /* no ext, no payload: the op with this tag succeeded */
	IVT_FRAME_RDMA_NACK = 6,      /* ext: status (negative errno): the op failed */
	IVT_FRAME_MSG = 7,            /* message mode: ext: length of the whole message;
				       * payload: its first bytes, DATA frames carry the rest */
	IVT_FRAME_PAD = 8,            /* no ext; payload skipped (reserve/commit at the wrap) */
	IVT_FRAME_MSG_ABORT = 9,      /* no ext, no payload: drop the open message (a blocking
				       * send timed out inside it) */
	/* no ext, no payload: the sender's stream (or messages) ends here,
	 * its one-sided traffic goes on (ivt_shutdown SHUT_WR). Only to a
	 * peer ivtd said takes it (IVT_CTRL_PEER_HALFCLOSE). */
	IVT_FRAME_FIN = 10,
	IVT_FRAME_TYPE_END
};

struct ivt_frame_hdr {
	uint8_t type;
	uint8_t flags; /* none defined yet: 0 */
	uint16_t rsvd; /* 0 */
	uint32_t len;  /* bytes after the header: extension + payload */
	uint64_t tag;  /* RDMA: the origin's operation id; DATA: 0 */
};

/* Extensions, decoded. On the wire they are packed little-endian u64s
 * (NACK: i32 status + u32 zero). */
struct ivt_frame_ext {
	uint64_t key;    /* WRITE, READ_REQ */
	uint64_t offset; /* WRITE, READ_REQ: region offset of the op; READ_RESP: offset in the op */
	uint64_t length; /* WRITE, READ_REQ: bytes of the whole op; MSG: of the message */
	int32_t status;  /* NACK */
};

#define IVT_FRAME_EXT_MAX 24u
#define IVT_FRAME_HEAD_MAX (IVT_FRAME_HDR_SIZE + IVT_FRAME_EXT_MAX)

/* Extension size for a type (0 for DATA and ACK); 0 for unknown types. */
size_t ivt_frame_ext_size(uint8_t type);

/* Encode header + extension into out (>= IVT_FRAME_HEAD_MAX bytes); returns
 * the bytes written. payload_len is what follows the extension. */
size_t ivt_frame_encode(uint8_t *out, uint8_t type, uint64_t tag, const struct ivt_frame_ext *ext,
			uint32_t payload_len);

/* Decode and validate a header from the peer: known type, zero reserved
 * bits and flags, len within the type's bounds. 0 or -EPROTO. */
int ivt_frame_decode_hdr(const uint8_t in[IVT_FRAME_HDR_SIZE], struct ivt_frame_hdr *h);

/* Decode the extension of a validated header (in: ivt_frame_ext_size bytes).
 * 0 or -EPROTO (e.g. NACK status not a negative errno, nonzero padding). */
int ivt_frame_decode_ext(uint8_t type, const uint8_t *in, struct ivt_frame_ext *ext);

/* Payload bytes of a validated frame. */
static inline uint32_t ivt_frame_payload_len(const struct ivt_frame_hdr *h)
{
	return h->len - (uint32_t)ivt_frame_ext_size(h->type);
}

#endif
