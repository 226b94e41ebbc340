/* SPDX-License-Identifier: MIT */
/*
 * A pair of byte rings in one shared memory object, following the
 * libxenvchan protocol (io.c): one ring per direction, free-running 32-bit
 * producer/consumer indices, live flags, and notify bits so a side only
 * kicks the other when it asked to be woken. The layout is in docs/ring.md.
 *
 * The other side is untrusted (XSA-155): every index it writes is loaded
 * exactly once into a local and validated before use, ring sizes come from
 * our own copy agreed at setup, and our own indices are kept locally and
 * only ever written to shared memory, never read back. A violation returns
 * -EPROTO, marks the ring broken for good and counts a protocol error.
 *
 * The wake-up mechanism is a callback (a socket pair for the shm plugin), so this
 * file knows nothing about file descriptors. Not thread-safe: one reader
 * and one writer thread per side at most, or external locking.
 */
#ifndef IVT_RING_H
#define IVT_RING_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spin.h"

#define IVT_RING_MAGIC 0x52545649u /* "IVTR" little endian */
#define IVT_RING_VERSION 1u
#define IVT_RING_MIN_SIZE 4096u
#define IVT_RING_MAX_SIZE (1u << 30)
#define IVT_RING_HDR_SIZE 4096u /* control header: one page */

/* Largest piece published at once by a read or write (see ring.c). */
#define IVT_RING_PIECE_MAX (32u * 1024)

/* Readiness bits returned by ivt_ring_arm / ivt_ring_ready. */
enum ivt_ring_events {
	IVT_RING_READABLE = 1u << 0, /* data, end-of-stream or an error to report */
	IVT_RING_WRITABLE = 1u << 1, /* space, a closed peer or an error to report */
};

/* Kick the other side. Returns 0 or a negative errno. */
typedef int (*ivt_ring_kick_fn)(void *ctx);

/* Notify bits in cli_notify/srv_notify, as libxenvchan's VCHAN_NOTIFY_*. */
#define IVT_RING_NOTIFY_WRITE 1u /* "kick me when you produced data" */
#define IVT_RING_NOTIFY_READ 2u  /* "kick me when you consumed data" (space freed) */

/* cli_live/srv_live values. A closed side stays closed, never "not yet". */
#define IVT_RING_LIVE_NOT_YET 0u
#define IVT_RING_LIVE_OPEN 1u
#define IVT_RING_LIVE_CLOSED 2u

/* 128 bytes: two cache lines, because adjacent-line prefetchers pull pairs
 * and would otherwise make neighbouring indices share in practice. */
#define IVT_RING_LINE 128

/* The shared control header. Every field the other side writes is read
 * with one atomic load into a local. Each line has a single writer in
 * steady state so the two cores never fight over a line. */
struct ivt_ring_hdr {
	/* written once by the creator, then only compared against our copy */
	alignas(IVT_RING_LINE) uint32_t magic;
	uint32_t version;
	uint32_t hdr_size;  /* offset of the client->server ring */
	uint32_t c2s_order; /* log2 of the client->server ring size */
	uint32_t s2c_order; /* log2 of the server->client ring size; at hdr_size + c2s size */

	alignas(IVT_RING_LINE) uint8_t cli_live;
	uint8_t srv_live;

	/* Bits the client must kick for: set by the server, cleared by the client. */
	alignas(IVT_RING_LINE) uint8_t cli_notify;
	/* Bits the server must kick for: set by the client, cleared by the server. */
	alignas(IVT_RING_LINE) uint8_t srv_notify;

	alignas(IVT_RING_LINE) uint32_t c2s_prod; /* client writes */
	alignas(IVT_RING_LINE) uint32_t c2s_cons; /* server writes */
	alignas(IVT_RING_LINE) uint32_t s2c_prod; /* server writes */
	alignas(IVT_RING_LINE) uint32_t s2c_cons; /* client writes */
};

_Static_assert(sizeof(struct ivt_ring_hdr) <= IVT_RING_HDR_SIZE, "header must fit its page");

/* One side's private view of the shared rings. Fields are private. */
struct ivt_ring {
	struct ivt_ring_hdr *hdr;
	int is_server;
	int broken;       /* the peer violated the protocol: every call fails */
	int closed;       /* we closed our side */
	uint32_t order;   /* log2 of the agreed ring size, both directions */

	/* ring we read: peer produces, we consume */
	const uint8_t *rd_data;
	uint32_t rd_size;       /* our agreed copy */
	uint32_t rd_cons;       /* authoritative: only we write it */
	uint32_t rd_prod_seen;  /* last validated peer prod */

	/* ring we write: we produce, peer consumes */
	uint8_t *wr_data;
	uint32_t wr_size;
	uint32_t wr_prod;
	uint32_t wr_cons_seen;  /* last validated peer cons */

	ivt_ring_kick_fn kick;
	void *kick_ctx;
	struct ivt_spin spin;   /* arm's spin before sleeping (spin.h) */

	uint64_t bytes_written, bytes_read;
	uint64_t notifies_sent;
	uint64_t protocol_errors;
};

/* Bytes of shared memory needed for two rings of ring_size each, or 0 if
 * ring_size is not a power of two within [MIN, MAX]. */
size_t ivt_ring_shm_size(size_t ring_size);

/* Creator (server): write a fresh header into mem (mem_len bytes, zeroed
 * or not) and attach as server. */
int ivt_ring_create(struct ivt_ring *r, void *mem, size_t mem_len, size_t ring_size,
		    ivt_ring_kick_fn kick, void *kick_ctx);

/* Other side (client): validate the header the creator wrote against
 * what was agreed out of band (ring_size, mem_len) and attach. Does not
 * set the live flag; call ivt_ring_set_live. -EPROTO on any mismatch. */
int ivt_ring_attach(struct ivt_ring *r, void *mem, size_t mem_len, size_t ring_size,
		    ivt_ring_kick_fn kick, void *kick_ctx);

/* Publish our live flag (1) and kick the peer so a waiting accept sees it. */
int ivt_ring_set_live(struct ivt_ring *r);
/* Has the peer ever published its live flag (it may have closed since)?
 * A hint read once from shared memory, never used as an index. */
int ivt_ring_peer_attached(struct ivt_ring *r);
/* Has the peer said it closed (live flag past "open")? A hint as above. */
int ivt_ring_peer_closed(struct ivt_ring *r);
/* Clear our live flag and kick the peer unconditionally. Idempotent. */
void ivt_ring_close(struct ivt_ring *r);

/* Copy up to len bytes in: bytes written (>0), -EAGAIN when full, -EPIPE
 * when the peer closed, -EPROTO when the shared state is corrupt. */
ssize_t ivt_ring_write(struct ivt_ring *r, const void *buf, size_t len);
/* Copy up to len bytes out: bytes read (>0), -EAGAIN when empty, 0 when
 * the peer closed and everything was read, -EPROTO. */
ssize_t ivt_ring_read(struct ivt_ring *r, void *buf, size_t len);

/* Zero-copy write: *ptr = the ring at our producer index. Returns the
 * contiguous bytes there (up to the wrap), *space the free bytes (as far
 * as known: the peer's index is re-read only when fewer than want are
 * known free); -EAGAIN when full, -EPIPE, -EPROTO as ivt_ring_write.
 * Publishes nothing. */
ssize_t ivt_ring_reserve(struct ivt_ring *r, size_t want, void **ptr, size_t *space);
/* Publish len bytes written at the last reserve's pointer (len <= its
 * return value) with the barriers and notify of ivt_ring_write. */
int ivt_ring_commit(struct ivt_ring *r, size_t len);

/* Read in place: *ptr = the ring at our consumer index. Returns the
 * contiguous unread bytes there (up to the wrap, at most a piece, so a
 * reader that consumes per peek hands room back as ivt_ring_read does),
 * -EAGAIN when empty, 0 when the peer closed and everything was read,
 * -EPROTO as ivt_ring_read. The peer's index is re-read only once what
 * was seen before is consumed. The bytes are the peer's to change at any
 * time: copy each one out once and judge only the copy (XSA-155). */
ssize_t ivt_ring_peek(struct ivt_ring *r, const void **ptr);
/* Release the first len bytes at the last peek's pointer (len <= what
 * peeks showed; -EINVAL otherwise) with the barriers and notify of
 * ivt_ring_read. */
int ivt_ring_consume(struct ivt_ring *r, size_t len);

/* Which of IVT_RING_READABLE|WRITABLE would not return -EAGAIN now. */
unsigned ivt_ring_ready(struct ivt_ring *r);
/* Ask the peer to kick us for the given events (request_notify), then
 * re-check. Returns the subset already ready (do not sleep then) or 0. */
unsigned ivt_ring_arm(struct ivt_ring *r, unsigned events);

#endif
