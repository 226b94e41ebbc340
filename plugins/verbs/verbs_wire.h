/* SPDX-License-Identifier: MIT */
/*
 * Wire formats of the verbs plugin (pure code, no libibverbs):
 *  - the connection blob each end sends through params->oob;
 *  - the 8-byte header in front of every SEND on the queue pair;
 *  - the region descriptor carried by REGION_ADD messages.
 * Everything is encoded little-endian field by field (no struct memcpy), so
 * both ends agree regardless of compiler padding, and everything decoded
 * from the peer is validated before use.
 */
#ifndef IVT_VERBS_WIRE_H
#define IVT_VERBS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define VW_BLOB_MAGIC 0x56545649u /* "IVTV" */
#define VW_BLOB_VERSION 1
#define VW_BLOB_LEN 72

/* Limits a peer's claims are checked against. */
#define VW_MIN_SLOT_SIZE 256u
#define VW_MAX_SLOT_SIZE (1u << 20)
#define VW_MAX_DATA_SLOTS 4096u
#define VW_MAX_CTRL_SLOTS 64u

enum vw_link { VW_LINK_IB = 1, VW_LINK_ETH = 2 };

struct vw_blob {
	uint32_t qpn;        /* 24-bit queue pair number */
	uint32_t psn;        /* 24-bit initial packet sequence number */
	uint16_t lid;        /* IB only */
	uint8_t link;        /* enum vw_link */
	uint8_t gid_index;   /* sender's own index, informational */
	uint8_t gid[16];     /* RoCE: the port GID to address */
	uint8_t mtu;         /* enum ibv_mtu value, 1..5 */
	uint8_t rd_atom;     /* RDMA reads the sender accepts in flight (responder) */
	uint16_t data_slots; /* receive buffers for DATA/REGION messages = credits */
	uint16_t ctrl_slots; /* extra receive buffers for CREDIT/READY messages */
	uint32_t slot_size;  /* bytes per receive buffer, header included */
	uint64_t ka_addr;    /* 8-byte remote-writable keepalive target */
	uint32_t ka_rkey;
};

/* Encode into out (VW_BLOB_LEN bytes). */
void vw_blob_encode(const struct vw_blob *b, uint8_t out[VW_BLOB_LEN]);
/* Decode and validate a peer's blob of n bytes. 0 or -EPROTO with a reason. */
int vw_blob_decode(const void *buf, size_t n, struct vw_blob *b, char *why, size_t why_len);
/* GID sanity for a routable RoCE/IB unicast address: not zero, not
 * multicast, not loopback. 1 ok, 0 not. */
int vw_gid_valid(const uint8_t gid[16]);

/* ---- messages on the queue pair ---------------------------------------- */

enum vw_msg_type {
	VW_MSG_DATA = 1,       /* user bytes; uses a data credit */
	VW_MSG_CREDIT = 2,     /* only returns credits; uses a ctrl credit */
	VW_MSG_CLOSE = 3,      /* graceful end of stream; uses the close slot */
	VW_MSG_READY = 4,      /* server's QP is in RTS; uses a ctrl credit */
	VW_MSG_REGION_ADD = 5, /* a vw_region descriptor; uses a data credit */
	VW_MSG_REGION_DEL = 6, /* a region id (u32); uses a data credit */
};

#define VW_HDR_LEN 8

struct vw_hdr {
	uint8_t type;
	uint8_t ctrl_returned;     /* ctrl receive buffers re-posted since last told */
	uint32_t credits_returned; /* data receive buffers re-posted since last told */
};

void vw_hdr_encode(const struct vw_hdr *h, uint8_t out[VW_HDR_LEN]);
/* Validate a received message of n bytes (header included) that arrived in
 * a slot of slot_size bytes: known type, payload size right for the type. */
int vw_hdr_decode(const void *buf, size_t n, size_t slot_size, struct vw_hdr *h);

/* Class of receive buffer a message type occupies. */
enum vw_class { VW_CLASS_DATA, VW_CLASS_CTRL, VW_CLASS_CLOSE };
enum vw_class vw_msg_class(uint8_t type);

/* ---- region descriptors ------------------------------------------------- */

#define VW_REGION_LEN 32

struct vw_region {
	uint32_t id;     /* the owner's region id (low half of the user's key) */
	uint32_t rkey;
	uint64_t addr;   /* owner's virtual address */
	uint64_t len;
	uint32_t access; /* enum ivt_access bits */
};

void vw_region_encode(const struct vw_region *r, uint8_t out[VW_REGION_LEN]);
int vw_region_decode(const void *buf, size_t n, struct vw_region *r);

/* User-visible key = rkey << 32 | region id; both halves are checked. */
static inline uint64_t vw_key_make(uint32_t rkey, uint32_t id)
{
	return (uint64_t)rkey << 32 | id;
}
static inline uint32_t vw_key_id(uint64_t key) { return (uint32_t)key; }
static inline uint32_t vw_key_rkey(uint64_t key) { return (uint32_t)(key >> 32); }

#endif
