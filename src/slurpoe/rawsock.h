/* SPDX-License-Identifier: MIT */
/*
 * SLURPoE transport: one AF_PACKET raw socket bound to an interface and
 * the SLURPoE Ethertype, shared by every endpoint of an engine (the engine
 * demultiplexes). Non-blocking, with a pollable fd, driven by the caller's
 * event loop:
 *
 *   poll(fd, POLLIN, timeout = min(engine deadline, rawsock deadline))
 *   slp_rawsock_rx(rs, feed engine...)   -> slp_engine_input per frame
 *   slp_engine_tick(); slp_rawsock_flush(rs);
 *
 * RX uses a PACKET_MMAP TPACKET_V3 ring (zero-copy, batched by blocks) or
 * recvmmsg(); TX batches frames and sends them with sendmmsg() on flush.
 * TPACKET_V3 wakes the reader only when a block is retired (full, or after
 * the block timeout, >= 1 jiffy), so the ring trades latency for
 * throughput; recvmmsg is the default. SLP_RS_RX_SPIN (the busy-poll
 * mode) reads a TPACKET_V2 ring instead, which needs no system call to
 * look (rxring.h). See docs/slurpoe.md.
 */
#ifndef SLURPOE_RAWSOCK_H
#define SLURPOE_RAWSOCK_H

#include <stddef.h>
#include <stdint.h>

struct slp_rawsock;

enum slp_rawsock_flags {
	SLP_RS_RX_RING = 1u << 0, /* TPACKET_V3 RX ring instead of recvmmsg */
	SLP_RS_XDP = 1u << 1,     /* AF_XDP where the kernel and device allow it
				     (xsk.h), else AF_PACKET: slp_rawsock_path() */
	SLP_RS_UDP = 1u << 2,     /* frames inside UDP datagrams with GSO/GRO (udp.h);
				     both ends must use it; one engine per address */
	SLP_RS_UDP_EPHEMERAL = 1u << 3, /* with SLP_RS_UDP: a port of the kernel's
					   choosing, peers on any port (udp.h) */
	SLP_RS_RX_SPIN = 1u << 4, /* busy-poll mode: a TPACKET_V2 RX ring read
				     without system calls (rxring.h); recvmmsg,
				     with the reason in slp_rawsock_path(), when
				     the ring cannot be had. Ignored with
				     RX_RING, XDP, UDP */
};

/* Needs CAP_NET_RAW. Returns 0 or negative errno (-EPERM, -ENODEV...). */
int slp_rawsock_open(const char *ifname, unsigned flags, struct slp_rawsock **out);
/* The same with the reason for a failure in why (slp_rawsock_open
 * prints it to stderr instead). */
int slp_rawsock_open_why(const char *ifname, unsigned flags, struct slp_rawsock **out,
			 char *why, size_t why_len);
void slp_rawsock_close(struct slp_rawsock *rs);

int slp_rawsock_fd(const struct slp_rawsock *rs);
const uint8_t *slp_rawsock_mac(const struct slp_rawsock *rs);
int slp_rawsock_mtu(const struct slp_rawsock *rs);
/* What carries the frames: "AF_XDP (native)", "AF_XDP (generic)", or
 * "AF_PACKET" followed, when SLP_RS_XDP was asked for, by why not. */
const char *slp_rawsock_path(const struct slp_rawsock *rs);
/* Does the carrier checksum every frame end to end (UDP: the kernel
 * computes and verifies the UDP checksum)? slp_engine_cfg.carrier_checksums. */
int slp_rawsock_checksums(const struct slp_rawsock *rs);

/* SLP_RS_UDP: the peer at mac is at IPv4 address ip, port (network
 * order, 0 = 34997), udp.h's slp_udp_pin; -ENOTSUP on other carriers. */
int slp_rawsock_udp_pin(struct slp_rawsock *rs, const uint8_t mac[6], uint32_t ip, uint16_t port,
			char *why, size_t why_len);
/* SLP_RS_UDP: our address and port (network order); -ENOTSUP otherwise. */
int slp_rawsock_udp_local(const struct slp_rawsock *rs, uint32_t *ip, uint16_t *port);
void slp_rawsock_udp_unpin_all(struct slp_rawsock *rs);

/* Queue one frame (copied); sent by slp_rawsock_flush or when the batch is
 * full. Signature fits slp_engine_cfg.tx with ctx = rs. */
void slp_rawsock_tx(void *rs, const void *frame, size_t len);
/* slp_engine_cfg.tx_ref/tx_flush: queue a frame by reference (valid
 * until it is sent: by a flush, a full batch, or slp_rawsock_send_queued,
 * which sends what is queued without ending the batch). Copies when not
 * batching or impairing. */
void slp_rawsock_tx_ref(void *rs, const void *frame, size_t len);
void slp_rawsock_send_queued(void *rs);
/* Send queued frames (and impairment-delayed frames that are due). */
void slp_rawsock_flush(struct slp_rawsock *rs);
/* Between batch_begin and flush, frames are collected and leave in one
 * sendmmsg; outside, each frame leaves at once (so API calls made outside
 * the event loop need no flush). */
void slp_rawsock_batch_begin(struct slp_rawsock *rs);

/* Hand every waiting frame (up to max; over UDP a few dozen more, see
 * udp.h) to cb; returns how many, or a negative errno. Never blocks. */
int slp_rawsock_rx(struct slp_rawsock *rs, void (*cb)(void *arg, const void *frame, size_t len),
		   void *arg, int max);
/* Without a system call: 1 a frame waits, 0 none, -1 cannot tell (only
 * slp_rawsock_rx can, with one). */
int slp_rawsock_rx_ready(const struct slp_rawsock *rs);

/* Test aid where the kernel has no netem: impair our own TX in user space.
 * spec: "loss=5,dup=1,reorder=25,delay_us=1000" (percentages); frames not
 * picked for reordering wait delay_us, the others go at once (netem's
 * "reorder" semantics). Returns 0 or -EINVAL. */
int slp_rawsock_impair(struct slp_rawsock *rs, const char *spec, uint64_t seed);
/* When delayed frames are due (CLOCK_MONOTONIC us), UINT64_MAX if none. */
uint64_t slp_rawsock_next_deadline(const struct slp_rawsock *rs);

struct slp_rawsock_stats {
	uint64_t rx_frames, tx_frames, tx_dropped /* kernel refused (ENOBUFS...) */;
	uint64_t rx_calls, tx_calls;               /* recvmmsg/sendmmsg made (frames per syscall) */
	uint64_t rx_ring_drops;                    /* kernel ring overflow */
	uint64_t rx_refused;                       /* UDP: from a source not allowed (udp.h) */
	uint64_t impair_dropped, impair_duplicated, impair_reordered;
};
void slp_rawsock_stats(const struct slp_rawsock *rs, struct slp_rawsock_stats *st);

/* CLOCK_MONOTONIC in microseconds (the engine's clock in real use). */
uint64_t slp_clock_us(void);

#endif
