/* SPDX-License-Identifier: MIT */
/*
 * SLURPoE wire format (version 1). See docs/slurpoe.md for the rationale.
 *
 * Frame = Ethernet header (dst, src, Ethertype 0x88B5) + 32-byte SLURPoE
 * header + a per-type extension header + payload. All integers big-endian.
 *
 *  0  u8  version (1)          1  u8  type            2  u16 flags
 *  4  u32 src_ep               8  u32 dst_ep
 * 12  u32 seq   reliable frames: their sequence number; ACK/RESET: sender's tx_next
 * 16  u32 ack   next seq the sender expects from us (cumulative), if F_ACK
 * 20  u32 tx_next  first seq the sender has NOT assigned yet (completion fence)
 * 24  u16 window   receive credit in frames beyond ack
 * 26  u16 len      bytes after this header (extension + payload)
 * 28  u32 crc      CRC32C over Ethernet addresses+type, header (crc=0), len bytes;
 *                  0 with F_NOCRC (negotiated: the carrier or the tag protects)
 *
 * Everything here is parsing and building only: no protocol state.
 */
#ifndef SLURPOE_WIRE_H
#define SLURPOE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define SLP_ETHERTYPE 0x88B5 /* IEEE 802 "local experimental ethertype 1" */
#define SLP_VERSION 1
#define SLP_ETH_HLEN 14
#define SLP_HDR_LEN 32
#define SLP_MIN_ETH_FRAME 60 /* shorter frames are padded by NICs */
#define SLP_MAX_SACK 4

enum slp_type {
	SLP_CONNECT = 1,
	SLP_ACCEPT = 2,
	SLP_DATA = 3,
	SLP_RDMA_WRITE = 4,
	SLP_RDMA_READ_REQ = 5,
	SLP_RDMA_READ_RESP = 6,
	SLP_ACK = 7,
	SLP_NACK = 8,
	SLP_CLOSE = 9,
	SLP_RESET = 10,
};

enum slp_flags {
	SLP_F_ACK = 1u << 0,   /* ack/window/tx_next fields are valid */
	SLP_F_PROBE = 1u << 1, /* sender wants an ACK right away (window probe) */
	SLP_F_STATELESS = 1u << 2, /* RESET only: answers a frame its sender could not
				      verify (no connection: forgotten, e.g. restarted) */
	SLP_F_NOCRC = 1u << 3, /* crc field 0, not checked: the receiver granted it in the
				  handshake (SLP_CONN_NOCRC); never on CONNECT/ACCEPT/RESET */
};
#define SLP_F_ALL (SLP_F_ACK | SLP_F_PROBE | SLP_F_STATELESS | SLP_F_NOCRC)

/* Extension header sizes per type. */
#define SLP_EXT_CONNECT 8    /* u16 mtu, u16 window, u32 flags (SLP_CONN_*) */
#define SLP_EXT_WRITE 32     /* u64 key, u64 base, u32 msg_id, u32 total, u32 frag_off, u32 0 */
#define SLP_EXT_READ_REQ 24  /* u64 key, u64 offset, u32 msg_id, u32 len */
#define SLP_EXT_READ_RESP 8  /* u32 msg_id, u32 frag_off */
#define SLP_EXT_NACK 8       /* u32 msg_id, u16 op (slp_type refused), u16 errno */
#define SLP_EXT_ACK_BASE 4   /* u32 nsack, then nsack * (u32 start, u32 end) */

/* CONNECT/ACCEPT flags. ENCRYPT: the connection's payloads are encrypted
 * (asked for in CONNECT, the result in ACCEPT; authentication required). */
#define SLP_CONN_ENCRYPT 1u
/* NOCRC: "send me this connection's frames without the CRC" (F_NOCRC):
 * the sender's carrier checksums every frame end to end (UDP) or every
 * frame carries an authentication tag. In ACCEPT only if the CONNECT had
 * it (so an older connector never sees an unknown flag). */
#define SLP_CONN_NOCRC 2u
#define SLP_CONN_F_ALL (SLP_CONN_ENCRYPT | SLP_CONN_NOCRC)

/* Does this type occupy a sequence number (reliable, in-order delivery)? */
static inline int slp_type_reliable(unsigned t)
{
	return t != SLP_ACK && t != SLP_RESET;
}

/* Wraparound-safe sequence comparison (RFC 1982 style, 32-bit). */
static inline int slp_seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline int slp_seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

struct slp_sack {
	uint32_t start, end; /* [start, end) received beyond ack */
};

/* A received frame after validation. Pointers point into the frame. */
struct slp_pkt {
	const uint8_t *dst_mac, *src_mac;
	uint8_t type;
	uint16_t flags;
	uint32_t src_ep, dst_ep, seq, ack, tx_next;
	uint16_t window;
	const uint8_t *payload;
	uint16_t payload_len;
	union {
		struct { uint16_t mtu, window; uint32_t flags; } conn;
		struct { uint64_t key, base; uint32_t msg_id, total, frag_off; } write;
		struct { uint64_t key, offset; uint32_t msg_id, len; } read_req;
		struct { uint32_t msg_id, frag_off; } read_resp;
		struct { uint32_t msg_id; uint16_t op, err; } nack;
		struct { uint32_t nsack; struct slp_sack sack[SLP_MAX_SACK]; } ack_ext;
	} u;
};

/* Why a frame was refused (index into the stats counters). */
enum slp_parse_err {
	SLP_OK = 0,
	SLP_ERR_SHORT,     /* shorter than the headers */
	SLP_ERR_ETHERTYPE,
	SLP_ERR_VERSION,
	SLP_ERR_TYPE,
	SLP_ERR_LENGTH,    /* len field disagrees with the frame or the type */
	SLP_ERR_CRC,
	SLP_ERR_FIELD,     /* reserved bits set, impossible values */
	SLP_ERR__COUNT
};

/* Validate a frame (Ethernet header first, FCS already stripped) and fill
 * pkt. Never reads outside frame[0..len). A frame with F_NOCRC is not
 * CRC-checked: whether the receiver accepts that is its engine's call. */
enum slp_parse_err slp_parse(const void *frame, size_t len, struct slp_pkt *pkt);
/* The same for frames followed by a trailer of exactly `trailer` bytes
 * (the authentication tag, checked by the caller). */
enum slp_parse_err slp_parse_trailer(const void *frame, size_t len, size_t trailer,
				     struct slp_pkt *pkt);

/* Fields for building a frame. */
struct slp_out {
	const uint8_t *dst_mac, *src_mac;
	uint8_t type;
	uint16_t flags;
	uint32_t src_ep, dst_ep, seq, ack, tx_next;
	uint16_t window;
};

/* Write Ethernet + SLURPoE header into buf; ext_len+payload bytes must
 * follow at buf + SLP_ETH_HLEN + SLP_HDR_LEN. Returns the frame length.
 * With F_NOCRC in o->flags no CRC is computed (the field is 0). */
size_t slp_build(uint8_t *buf, const struct slp_out *o, size_t body_len);
/* The same, also returning the body's CRC for slp_refresh_crc. */
size_t slp_build_crc(uint8_t *buf, const struct slp_out *o, size_t body_len, uint32_t *body_crc);
/* CRC32C of a built frame's body (extension + payload). */
uint32_t slp_body_crc(const void *frame, size_t len);

/* Rewrite the per-transmission fields (flags, ack, tx_next, window) of a
 * built frame and recompute its CRC: retransmissions carry fresh acks. */
void slp_refresh(uint8_t *frame, size_t len, uint16_t flags, uint32_t ack, uint32_t tx_next,
		 uint16_t window);
/* The same with the body's CRC known (from slp_build_crc): the cost no
 * longer depends on the payload. */
void slp_refresh_crc(uint8_t *frame, uint16_t flags, uint32_t ack, uint32_t tx_next,
		     uint16_t window, uint32_t body_crc);

/* Big-endian helpers for the extension headers. */
static inline void slp_put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static inline void slp_put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}
static inline void slp_put64(uint8_t *p, uint64_t v)
{
	slp_put32(p, v >> 32);
	slp_put32(p + 4, (uint32_t)v);
}
static inline uint16_t slp_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t slp_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t slp_get64(const uint8_t *p)
{
	return (uint64_t)slp_get32(p) << 32 | slp_get32(p + 4);
}

const char *slp_type_name(unsigned type);
/* Extension length of a type (the ACK's without its SACK blocks), and
 * whether it carries payload bytes after it. */
int slp_ext_len(unsigned type);
int slp_type_has_payload(unsigned type);

#endif
