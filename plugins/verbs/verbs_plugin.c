/* SPDX-License-Identifier: MIT */
/* The verbs transport's entry point: the ivt plugin ops table, native
 * one-sided ops included. */
#include <stdarg.h>
#include <stdio.h>

#include "common/plugin_log.h"
#include "verbs_internal.h"

const struct ivt_plugin_host *verbs_host;

void verbs_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ivt_plugin_vlog(verbs_host, VERBS_WHO, level, fmt, ap);
	va_end(ap);
}

static int verbs_init(const struct ivt_plugin_host *host)
{
	verbs_host = host;
	return 0;
}

static void verbs_fini(void) { verbs_host = NULL; }

static const struct ivt_plugin_ops ops = {
	.abi_version = IVT_PLUGIN_ABI_VERSION,
	.ops_size = sizeof(struct ivt_plugin_ops),
	.name = "verbs",
	.description = "RDMA verbs (InfiniBand, RoCE, soft-RoCE): RC queue pair per channel",
	.caps = IVT_CAP_REMOTE | IVT_CAP_RDMA | IVT_CAP_OPT_IN | IVT_CAP_NET_SETUP,
	.init = verbs_init,
	.fini = verbs_fini,
	.probe = verbs_probe,
	.listen = verbs_listen,
	.accept = verbs_accept,
	.connect = verbs_connect,
	.send = verbs_send,
	.recv = verbs_recv,
	.arm = verbs_arm,
	.poll_fd = verbs_poll_fd,
	.ack = verbs_ack,
	.register_region = verbs_register_region,
	.deregister_region = verbs_deregister_region,
	.close = verbs_close,
	.stats = verbs_stats,
	.rdma_write = verbs_rdma_write,
	.rdma_read = verbs_rdma_read,
	.poll_completions = verbs_poll_completions,
	.max_rdma_len = VERBS_RDMA_STAGE, /* one staging buffer per op */
};

__attribute__((visibility("default"))) const struct ivt_plugin_ops *
ivt_plugin_entry(uint32_t host_abi)
{
	(void)host_abi; /* the host checks ops->abi_version */
	return &ops;
}
