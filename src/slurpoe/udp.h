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
 * A peer whose address the caller knows (ivtd: the hosts entry's "ip";
 * the plugin: the listener's setup) is pinned instead: its frames go to
 * that address only, and a datagram carrying its MAC from any other
 * address is dropped. Every datagram must come from inside the
 * interface's subnet and, unless the engine is ephemeral, from port 34997
 * (the port a peer engine binds: another process on the peer host cannot
 * send from it while the engine runs).
 */
#ifndef SLURPOE_UDP_H
#define SLURPOE_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SLP_UDP_PORT 34997
#define SLP_UDP_HDRS 28 /* IPv4 + UDP headers in front of each frame */

struct slp_udp;

/* Bound to ifname's first IPv4 address, port 34997; with ephemeral a
 * port of the kernel's choosing instead (one engine per process end: the
 * plugin), and then datagrams from any port of the subnet are taken (its
 * peers have ports of their own). 0, or -errno with the reason. */
int slp_udp_open(const char *ifname, int ephemeral, struct slp_udp **out, char *why,
		 size_t why_len);
/* Our address and port (network order). */
void slp_udp_local(const struct slp_udp *u, uint32_t *ip, uint16_t *port);
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

/* Pin mac to ip:port (network order; port 0 = 34997): frames for it go
 * there, frames from it are taken from there only. 0 (also when already so), or
 * -EADDRNOTAVAIL (ip outside the interface's subnet, or its network or
 * broadcast address), -ENOSPC (SLP_UDP_PINS pinned), reason in why. */
#define SLP_UDP_PINS 256
int slp_udp_pin(struct slp_udp *u, const uint8_t mac[6], uint32_t ip, uint16_t port, char *why,
		size_t why_len);
/* Forget every pin (a policy reload pins again). */
void slp_udp_unpin_all(struct slp_udp *u);
/* Datagrams dropped: outside the subnet, not from the SLURPoE port, or a
 * pinned MAC from another address. */
uint64_t slp_udp_refused(const struct slp_udp *u);

#endif
