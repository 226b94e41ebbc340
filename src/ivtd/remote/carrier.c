/* SPDX-License-Identifier: MIT */
#include "ivtd/remote/carrier.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

const char *ivt_carrier_name(enum ivt_carrier c) { return c == IVT_CARRIER_IS_UDP ? "udp" : "raw"; }

int ivt_carrier_pick(const struct ivt_policy_host *h, const char *no_udp, const char *pin_err,
		     char *why, size_t why_len)
{
	char ip[INET_ADDRSTRLEN] = "";
	if (h->has_ip)
		inet_ntop(AF_INET, &h->ip, ip, sizeof(ip));
	switch (h->carrier) {
	case IVT_CARRIER_RAW:
		snprintf(why, why_len, "its hosts entry says \"carrier\": \"raw\"");
		return IVT_CARRIER_IS_RAW;
	case IVT_CARRIER_UDP:
		if (no_udp) {
			snprintf(why, why_len, "its hosts entry says \"carrier\": \"udp\" but %s has "
					       "no UDP carrier: %s", h->ifname, no_udp);
			return -ENOTSUP;
		}
		if (h->has_ip && pin_err) {
			snprintf(why, why_len, "its hosts entry says \"carrier\": \"udp\" but its "
					       "\"ip\" cannot be used: %s", pin_err);
			return -ENOTSUP;
		}
		snprintf(why, why_len, "its hosts entry says \"carrier\": \"udp\"%s%s%s",
			 h->has_ip ? " (at " : " (its address learnt from its datagrams)", ip,
			 h->has_ip ? ")" : "");
		return IVT_CARRIER_IS_UDP;
	case IVT_CARRIER_AUTO:
	default:
		break;
	}
	if (!h->has_ip)
		snprintf(why, why_len, "default; no \"ip\" in its hosts entry");
	else if (no_udp)
		snprintf(why, why_len, "default; %s has no UDP carrier: %s", h->ifname, no_udp);
	else if (pin_err)
		snprintf(why, why_len, "default; its \"ip\" cannot be used: %s", pin_err);
	else {
		snprintf(why, why_len, "default; its \"ip\" %s is known", ip);
		return IVT_CARRIER_IS_UDP;
	}
	return IVT_CARRIER_IS_RAW;
}
