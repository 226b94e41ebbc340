/* SPDX-License-Identifier: MIT */
#include "carrier.h"

#include <errno.h>
#include <stdio.h>

const char *slp_carrier_name(enum slp_carrier c) { return c == SLP_CARRIER_IS_UDP ? "udp" : "raw"; }

int slp_carrier_pick(const struct slp_carrier_ask *a, char *why, size_t why_len)
{
	switch (a->mode) {
	case SLP_CARRIER_RAW:
		snprintf(why, why_len, "%s: \"raw\"", a->mode_src);
		return SLP_CARRIER_IS_RAW;
	case SLP_CARRIER_UDP:
		if (a->no_udp) {
			snprintf(why, why_len, "%s: \"udp\" but %s has no UDP carrier: %s", a->mode_src,
				 a->ifname, a->no_udp);
			return -ENOTSUP;
		}
		if (a->addr && a->pin_err) {
			snprintf(why, why_len, "%s: \"udp\" but %s cannot be used: %s", a->mode_src,
				 a->addr_src, a->pin_err);
			return -ENOTSUP;
		}
		snprintf(why, why_len, "%s: \"udp\"%s%s%s", a->mode_src,
			 a->addr ? " (at " : " (its address learnt from its datagrams)",
			 a->addr ? a->addr : "", a->addr ? ")" : "");
		return SLP_CARRIER_IS_UDP;
	case SLP_CARRIER_AUTO:
	default:
		break;
	}
	if (!a->addr)
		snprintf(why, why_len, "default; %s", a->no_addr);
	else if (a->no_udp)
		snprintf(why, why_len, "default; %s has no UDP carrier: %s", a->ifname, a->no_udp);
	else if (a->pin_err)
		snprintf(why, why_len, "default; %s cannot be used: %s", a->addr_src, a->pin_err);
	else {
		snprintf(why, why_len, "default; %s %s is known", a->addr_src, a->addr);
		return SLP_CARRIER_IS_UDP;
	}
	return SLP_CARRIER_IS_RAW;
}
