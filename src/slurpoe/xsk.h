/* SPDX-License-Identifier: MIT */
/*
 * AF_XDP path for the raw socket (rawsock.c, SLP_RS_XDP): a small XDP
 * program on the interface redirects Ethertype 0x88B5 to one AF_XDP
 * socket (queue 0, copy mode) and passes every other frame to the stack;
 * frames are received from the UMEM without an skb per frame in native
 * mode. Transmission copies into the UMEM (on veth the kernel still builds
 * an skb per frame there). Where the kernel, the device or the MTU do not
 * allow it, slp_xsk_open fails with the reason and the caller keeps
 * AF_PACKET.
 */
#ifndef SLURPOE_XSK_H
#define SLURPOE_XSK_H

#include <stddef.h>
#include <stdint.h>

struct slp_xsk;

/* 0, or -errno with the reason in why. */
int slp_xsk_open(const char *ifname, int ifindex, int mtu, struct slp_xsk **out, char *why,
		 size_t why_len);
void slp_xsk_close(struct slp_xsk *x);
int slp_xsk_fd(const struct slp_xsk *x);
/* "native" or "generic": how the XDP program is attached. */
const char *slp_xsk_mode(const struct slp_xsk *x);
/* Frames received (cb per frame, pointing into the UMEM, valid during
 * the call), at most max. */
int slp_xsk_rx(struct slp_xsk *x, void (*cb)(void *arg, const void *frame, size_t len),
	       void *arg, int max);
/* Queue one frame (copied); 0, or -ENOBUFS when the UMEM's TX frames are
 * all in flight (the frame is lost like on a wire). */
int slp_xsk_tx(struct slp_xsk *x, const void *frame, size_t len);
/* Tell the kernel to send what is queued. */
void slp_xsk_kick(struct slp_xsk *x);

#endif
