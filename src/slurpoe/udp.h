/* SPDX-License-Identifier: MIT */
/*
 * SLURPoE over UDP (rawsock.c, SLP_RS_UDP), as RoCEv2 carries RoCE: each
 * SLURPoE frame, its Ethernet header included (the CRC and the
 * authentication tag cover it), is the payload of one UDP datagram to
 * port 34997 (0x88B5) on the interface's IPv4 address. What it buys is the
 * kernel's UDP segmentation offload: a run of equal-sized frames to one
 * peer leaves in one sendmsg as one super-datagram (UDP_SEGMENT), crosses
 * veth (or reaches a NIC with USO) as one skb, and arrives through UDP_GRO
 * as one read; a real wire still carries datagrams of at most the MTU.
 *
 * Addresses: the peer's IPv4 address is learnt from the datagrams it sends
 * (frame source MAC -> datagram source address, as a switch learns
 * ports); a frame for a MAC not learnt yet goes to the interface's
 * broadcast address, and every engine on the segment drops what is not
 * addressed to its MAC, as on Ethernet. A host that spoofs a MAC can
 * redirect that MAC's traffic here as on a switch: docs/remote.md.
 */
#ifndef SLURPOE_UDP_H
#define SLURPOE_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SLP_UDP_PORT 34997
#define SLP_UDP_HDRS 28 /* IPv4 + UDP headers in front of each frame */

struct slp_udp;

/* Bound to ifname's first IPv4 address. 0, or -errno with the reason. */
int slp_udp_open(const char *ifname, struct slp_udp **out, char *why, size_t why_len);
void slp_udp_close(struct slp_udp *u);
int slp_udp_fd(const struct slp_udp *u);
/* Send n frames (each starting with its Ethernet header), in order; runs
 * of equal length to one peer go as one super-datagram. Returns the
 * number of sendmsg calls; *dropped counts frames the kernel refused. */
int slp_udp_send(struct slp_udp *u, const struct iovec *frames, int n, uint64_t *dropped);
/* Hand each received frame to cb (valid during the call); stops reading
 * once max frames were handed over, but never splits a datagram, so it
 * may return a few dozen more. *calls counts recvmmsg calls. Never
 * blocks. */
int slp_udp_rx(struct slp_udp *u, void (*cb)(void *arg, const void *frame, size_t len),
	       void *arg, int max, uint64_t *calls);

#endif
