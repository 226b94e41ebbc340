/* SPDX-License-Identifier: MIT */
/*
 * A TPACKET_V2 PACKET_RX_RING for the busy-poll mode (rawsock.h,
 * SLP_RS_RX_SPIN): the kernel hands over each frame as soon as it is
 * written (a status word per frame, no block timer as in TPACKET_V3), so
 * a spinning reader receives without a system call. The ring is shared
 * with the kernel; the frames in it come from the wire and are as
 * untrusted as ever, and every length and offset of a slot header is
 * bounded by the slot before use.
 */
#ifndef SLURPOE_RXRING_H
#define SLURPOE_RXRING_H

#include <stddef.h>
#include <stdint.h>

struct slp_rxring;

/* On an AF_PACKET socket not yet bound, for frames up to mtu + Ethernet
 * header. 0, or a negative errno and the reason in why. */
int slp_rxring_open(int fd, int mtu, struct slp_rxring **out, char *why, size_t why_len);
/* For tests: a ring over nslots slots of slot bytes at map, which the
 * caller owns and fills as the kernel would (no socket). */
struct slp_rxring *slp_rxring_over(void *map, uint32_t slot, uint32_t nslots);
void slp_rxring_close(struct slp_rxring *r);
/* Hand up to max waiting frames to cb, each slot going back to the kernel
 * after its callback; returns how many. No system call. *drops counts the
 * kernel's reports of a full ring. */
int slp_rxring_rx(struct slp_rxring *r, void (*cb)(void *arg, const void *frame, size_t len),
		  void *arg, int max, uint64_t *drops);
/* Is a frame waiting (one load)? */
int slp_rxring_ready(const struct slp_rxring *r);

#endif
