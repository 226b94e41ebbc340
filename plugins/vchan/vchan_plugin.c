/* SPDX-License-Identifier: MIT */
/* The vchan transport: libxenvchan between two Xen domains. */
#include <stdarg.h>
#include <stdio.h>

#include "common/plugin_log.h"
#include "vchan.h"

static const struct ivt_plugin_host *host;

void vchan_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ivt_plugin_vlog(host, "vchan", level, fmt, ap);
	va_end(ap);
}

static int vchan_init(const struct ivt_plugin_host *h)
{
	host = h;
	return 0;
}

static void vchan_fini(void) { host = NULL; }

static const struct ivt_plugin_ops vchan_ops = {
	.abi_version = IVT_PLUGIN_ABI_VERSION,
	.ops_size = sizeof(struct ivt_plugin_ops),
	.name = "vchan",
	.description = "libxenvchan shared rings between Xen domains (grants + event channel)",
	.caps = IVT_CAP_COLOCATED | IVT_CAP_NEEDS_XEN | IVT_CAP_PEER_BOUND | IVT_CAP_XS_PATH,
	.init = vchan_init,
	.fini = vchan_fini,
	.probe = vchan_probe,
	.listen = vchan_listen,
	.accept = vchan_accept,
	.connect = vchan_connect,
	.send = vchan_send,
	.recv = vchan_recv,
	.arm = vchan_arm,
	.poll_fd = vchan_poll_fd,
	.ack = vchan_ack,
	.close = vchan_close,
	.stats = vchan_stats,
	.send_reserve = vchan_send_reserve,
	.send_commit = vchan_send_commit,
	.recv_peek = vchan_recv_peek,
	.recv_consume = vchan_recv_consume,
};

__attribute__((visibility("default"))) const struct ivt_plugin_ops *
ivt_plugin_entry(uint32_t host_abi)
{
	return host_abi == IVT_PLUGIN_ABI_VERSION ? &vchan_ops : NULL;
}
