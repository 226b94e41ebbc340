/* SPDX-License-Identifier: MIT */
/* A transport ivtd has never heard of, built only for tests: "tgrant"
 * declares what vchan does (crosses Xen domains, grants to one peer
 * domain, meets at a XenStore path). The broker must treat it exactly as
 * it treats vchan, from its capability flags alone. */
#include "testsupport/null_plugin.h"

static struct ivt_plugin_ops ops;

__attribute__((visibility("default"))) const struct ivt_plugin_ops *ivt_plugin_entry(uint32_t host_abi)
{
	(void)host_abi;
	ops = ts_null_plugin_ops("tgrant");
	ops.caps = IVT_CAP_COLOCATED | IVT_CAP_NEEDS_XEN | IVT_CAP_PEER_BOUND | IVT_CAP_XS_PATH;
	return &ops;
}
