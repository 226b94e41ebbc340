/* SPDX-License-Identifier: MIT */
#include "ivtd/remote/carrier.h"

#include <arpa/inet.h>

const char *ivt_carrier_name(enum ivt_carrier c) { return slp_carrier_name((enum slp_carrier)c); }

int ivt_carrier_pick(const struct ivt_policy_host *h, const char *no_udp, const char *pin_err,
		     char *why, size_t why_len)
{
	char ip[INET_ADDRSTRLEN] = "";
	if (h->has_ip)
		inet_ntop(AF_INET, &h->ip, ip, sizeof(ip));
	struct slp_carrier_ask a = {
		.mode = h->carrier == IVT_CARRIER_RAW   ? SLP_CARRIER_RAW
			: h->carrier == IVT_CARRIER_UDP ? SLP_CARRIER_UDP
							: SLP_CARRIER_AUTO,
		.mode_src = "its hosts entry says \"carrier\"",
		.ifname = h->ifname,
		.addr = h->has_ip ? ip : NULL,
		.addr_src = "its \"ip\"",
		.no_addr = "no \"ip\" in its hosts entry",
		.no_udp = no_udp,
		.pin_err = pin_err,
	};
	return slp_carrier_pick(&a, why, why_len);
}
