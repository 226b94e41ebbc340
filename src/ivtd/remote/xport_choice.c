/* SPDX-License-Identifier: MIT */
/* Bridging over an RDMA plugin or not: policy and capabilities. */
#include "xport_choice.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/textbuf.h"

static int qualifies(const struct ivt_backend_info *be)
{
	return (be->caps & IVT_XPORT_CAPS) == IVT_XPORT_CAPS;
}

int ivt_xport_pick(const struct ivt_policy_host *host, const struct ivt_backend_info *backends,
		   size_t n, char *name, size_t name_len, char *why, size_t why_len)
{
	if (!host || !host->rdma) {
		snprintf(why, why_len, "the \"hosts\" entry of %s does not say \"rdma\": \"auto\"",
			 host ? host->name : "?");
		return -ENOTSUP;
	}
	struct ivt_textbuf o;
	ivt_textbuf_init(&o, why, why_len);
	ivt_textbuf_printf(&o, "no RDMA plugin available");
	int seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (!qualifies(&backends[i]))
			continue;
		if (backends[i].available) {
			snprintf(name, name_len, "%s", backends[i].name);
			return 0;
		}
		ivt_textbuf_printf(&o, "%s%s: %s", seen++ ? "; " : " (", backends[i].name,
				   backends[i].why);
	}
	ivt_textbuf_printf(&o, "%s", seen ? ")" : " (no plugin declares IVT_CAP_NET_SETUP)");
	return -ENOTSUP;
}

int ivt_xport_allowed(const struct ivt_policy_host *host, const char *name,
		      const struct ivt_backend_info *be, char *why, size_t why_len)
{
	if (!host || !host->rdma) {
		snprintf(why, why_len, "the \"hosts\" entry of %s here does not say \"rdma\": "
				       "\"auto\"", host ? host->name : "?");
		return -ENOTSUP;
	}
	if (!be || !qualifies(be)) {
		snprintf(why, why_len, "no RDMA plugin '%s' here", name);
		return -ENOTSUP;
	}
	if (!be->available) {
		snprintf(why, why_len, "%s not available here: %s", name, be->why);
		return -ENOTSUP;
	}
	return 0;
}
