/* SPDX-License-Identifier: MIT */
/*
 * Daemon-to-daemon messages (docs/remote.md). They open each bridged
 * channel's own SLURPoE connection, which then carries the channel's
 * bytes opaquely:
 *
 *   connector's ivtd -> HELLO, OPEN          (right after CONNECTED)
 *   listener's ivtd  -> HELLO, OPEN_OK | ERROR
 *   then both directions: the libivt byte stream, untouched.
 *
 * Bridging over an RDMA plugin (docs/remote.md, "Bridging over RDMA"):
 * the connector's ivtd sends OFFER(backend) between HELLO and OPEN; after
 * OPEN_OK the acceptor answers SETUP(its blob) or RESULT(errno: stay on
 * SLURPoE), the dialer SETUP(its blob) or RESULT(errno), and once the
 * queue pair carried the plugin's first message the dialer sends
 * RESULT(0). The channel's bytes then flow over the plugin; this
 * connection stays open only to say how the channel ended.
 *
 * Wire: 12-byte header (u32 magic "IVTD", u16 version, u16 type, u32 len)
 * then exactly len payload bytes, every integer little-endian, every
 * string a fixed NUL-padded field. The sender is another host: the parser
 * checks magic, version, the exact length of each type, NUL termination,
 * and the syntax of every field; anything else is -EPROTO.
 */
#ifndef IVTD_REMOTE_PROTO_H
#define IVTD_REMOTE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctrl_proto.h"
#include "common/identity.h"

/* Every ivtd listens for peer daemons on this SLURPoE endpoint. */
#define IVT_REMOTE_EP 1u

#define IVT_RMSG_MAGIC 0x44545649u /* "IVTD" little-endian */
/* 2: OPEN and OPEN_OK carry the channel's mode (flags) */
#define IVT_RMSG_VERSION 2
#define IVT_RMSG_HDR_LEN 12
#define IVT_RMSG_HOST_MAX 63
#define IVT_RMSG_ID_MAX 47

enum ivt_rmsg_type {
	IVT_RMSG_HELLO = 1,
	IVT_RMSG_OPEN = 2,
	IVT_RMSG_OPEN_OK = 3,
	IVT_RMSG_ERROR = 4,
	IVT_RMSG_OFFER = 5,  /* dialer: "I can bridge over this plugin" */
	IVT_RMSG_SETUP = 6,  /* either: the plugin's setup blob */
	IVT_RMSG_RESULT = 7, /* 0: bytes go over the plugin; errno: over SLURPoE */
	/* Direct queue pair (docs/remote.md, "VMM-bypass"): the dialer's
	 * client can take an end of this plugin itself (payload as OFFER);
	 * the acceptor answers OPEN_DIRECT (payload as OPEN_OK) instead of
	 * OPEN_OK when its listener is on that plugin, then each side sends
	 * its end's SETUP once, and ivtd carries no byte of the channel. */
	IVT_RMSG_DIRECT = 8,
	IVT_RMSG_OPEN_DIRECT = 9,
};

/* OPEN: the connector's side wants message mode (its IVT_MESSAGE or its
 * host's rule); OPEN_OK: the channel is in message mode. */
#define IVT_RMSG_MESSAGE 1u
/* OPEN_OK only: both ends' libivt take half-close (the FIN frame,
 * docs/framing.md). Sent only to a dialer whose HELLO had
 * IVT_RMSG_HELLO_HALFCLOSE, so an older one never sees it. */
#define IVT_RMSG_HALFCLOSE 2u
/* HELLO sw_version's top bit is a capability, not part of the version
 * (older daemons only log the number): the dialer's client takes
 * half-close and this daemon takes IVT_RMSG_HALFCLOSE in OPEN_OK. */
#define IVT_RMSG_HELLO_HALFCLOSE 0x80000000u

/* Largest plugin setup blob carried across hosts (verbs: 72 bytes). */
#define IVT_RMSG_BLOB_MAX 160

struct ivt_rmsg {
	uint16_t type;
	union {
		struct {
			char host[IVT_RMSG_HOST_MAX + 1]; /* informational only: never trusted */
			uint32_t sw_version;              /* e.g. 0x000100 for 0.1.0 */
		} hello;
		struct {
			char channel[IVT_NAME_MAX + 1];
			/* uid:N | dom:N | ivtd; text on the wire (IVT_RMSG_ID_MAX) */
			struct ivt_identity identity;
			char backend[IVT_BACKEND_NAME_MAX + 1]; /* "" | "auto" | "shm" */
			uint64_t ring_size;                     /* requested; 0 = policy */
			uint32_t flags;                         /* IVT_RMSG_MESSAGE */
		} open;
		struct {
			uint64_t ring_size; /* granted to the listener */
			uint32_t flags;     /* IVT_RMSG_MESSAGE | IVT_RMSG_HALFCLOSE */
		} open_ok; /* also OPEN_DIRECT */
		struct {
			int32_t err; /* positive errno, 1..4095 */
			char msg[IVT_ERRMSG_MAX + 1];
		} error; /* also RESULT, where err may be 0 */
		struct {
			char backend[IVT_BACKEND_NAME_MAX + 1];
		} offer; /* also DIRECT */
		struct {
			uint32_t len; /* 1..IVT_RMSG_BLOB_MAX */
			uint8_t blob[IVT_RMSG_BLOB_MAX];
		} setup;
	} u;
};

/* Largest encoded message (header + biggest payload). */
#define IVT_RMSG_MAX 320

/* Payload length of a type, 0 for unknown types. */
size_t ivt_rmsg_payload_len(uint16_t type);

/* Encode m into out (cap >= IVT_RMSG_MAX). Returns the length or -EINVAL
 * for an unknown type. Strings are cut to their fields. */
int ivt_rmsg_encode(const struct ivt_rmsg *m, uint8_t *out, size_t cap);

/* Validate a header (exactly IVT_RMSG_HDR_LEN bytes): the payload length
 * to read next, or -EPROTO with why. */
int ivt_rmsg_parse_hdr(const uint8_t *hdr, uint16_t *type, char *why, size_t why_len);

/* Parse one complete message (header + payload, n bytes). 0 or -EPROTO
 * with why. */
int ivt_rmsg_parse(const uint8_t *buf, size_t n, struct ivt_rmsg *m, char *why, size_t why_len);

#endif
