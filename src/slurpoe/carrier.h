/* SPDX-License-Identifier: MIT */
/*
 * Which carrier to reach a peer over: SLURPoE frames in UDP datagrams
 * (GSO/GRO, udp.h) when the peer's IPv4 address is known and usable, raw
 * Ethernet frames otherwise, unless the configuration forces one. Shared
 * by ivtd (the hosts entry: src/ivtd/remote/carrier.c) and the plugin
 * (the listener's setup blob); a pure decision, unit-tested without
 * sockets. Each caller names where its inputs come from, so the reason
 * reads in its own terms.
 */
#ifndef SLURPOE_CARRIER_H
#define SLURPOE_CARRIER_H

#include <stddef.h>

enum slp_carrier_mode { SLP_CARRIER_AUTO, SLP_CARRIER_RAW, SLP_CARRIER_UDP };
enum slp_carrier { SLP_CARRIER_IS_RAW, SLP_CARRIER_IS_UDP };

struct slp_carrier_ask {
	enum slp_carrier_mode mode;
	const char *mode_src; /* what set mode, e.g. "its hosts entry says \"carrier\"" */
	const char *ifname;
	const char *addr;     /* the peer's address as text, NULL unknown */
	const char *addr_src; /* e.g. "its \"ip\"" */
	const char *no_addr;  /* why unknown, e.g. "no \"ip\" in its hosts entry" */
	const char *no_udp;   /* NULL: ifname has a UDP engine; else why not */
	const char *pin_err;  /* NULL: addr usable there (or none); else why not */
};

/* "raw" / "udp" */
const char *slp_carrier_name(enum slp_carrier c);

/* The carrier with the reason in why, or -ENOTSUP with the reason when
 * the mode forces UDP and it cannot be had (no silent fallback: it was
 * asked for). */
int slp_carrier_pick(const struct slp_carrier_ask *a, char *why, size_t why_len);

#endif
