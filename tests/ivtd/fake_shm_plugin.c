/* SPDX-License-Identifier: MIT */
/* A plugin that only says "available": lets ivtd grant channels in tests
 * without depending on the real transports being built. */
#include "testsupport/null_plugin.h"

static struct ivt_plugin_ops ops;

__attribute__((visibility("default"))) const struct ivt_plugin_ops *ivt_plugin_entry(uint32_t host_abi)
{
	(void)host_abi;
	ops = ts_null_plugin_ops("shm");
	ops.caps = IVT_CAP_COLOCATED;
	return &ops;
}
