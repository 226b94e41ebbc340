/* SPDX-License-Identifier: MIT */
/*
 * Which carrier ivtd dials a peer daemon with (docs/remote.md,
 * "Carriers"): SLURPoE frames in UDP datagrams (GSO/GRO, one skb per up
 * to 64 KiB) when it knows the peer's IPv4 address, raw Ethernet frames
 * otherwise: src/slurpoe/carrier.h's decision over the hosts entry and
 * what the interface has, unit-tested without sockets. Accepting needs no choice:
 * every interface listens on both carriers it could open.
 */
#ifndef IVTD_CARRIER_H
#define IVTD_CARRIER_H

#include <stddef.h>

#include "slurpoe/carrier.h" /* the decision, shared with the plugin */
#include "ivtd/policy/policy.h"

enum ivt_carrier { IVT_CARRIER_IS_RAW = SLP_CARRIER_IS_RAW, IVT_CARRIER_IS_UDP = SLP_CARRIER_IS_UDP };

/* "raw" / "udp" */
const char *ivt_carrier_name(enum ivt_carrier c);

/* The carrier for dialling host. no_udp: NULL when host's interface has
 * a UDP carrier, else why not; pin_err: NULL when host's "ip" is usable
 * there (or it has none), else why not (slp_udp_pin). Returns the
 * carrier with the reason in why, or -ENOTSUP with the reason when the
 * entry forces "udp" and it cannot be had (no silent fallback: the
 * administrator asked for it). */
int ivt_carrier_pick(const struct ivt_policy_host *host, const char *no_udp, const char *pin_err,
		     char *why, size_t why_len);

#endif
