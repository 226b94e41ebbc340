/* SPDX-License-Identifier: MIT */
/* A plugin that only says "available": lets ivtd grant channels in tests
 * without depending on the real transports being built. */
#include <errno.h>

#include "ivt/plugin.h"

static int probe(char *why, size_t len) { (void)why; (void)len; return 0; }
static int listen_(const struct ivt_ep_params *p, struct ivt_ep **o) { (void)p; (void)o; return -ENOTSUP; }
static int accept_(struct ivt_ep *ep) { (void)ep; return -ENOTSUP; }
static int connect_(const struct ivt_ep_params *p, struct ivt_ep **o) { (void)p; (void)o; return -ENOTSUP; }
static ssize_t send_(struct ivt_ep *ep, const void *b, size_t l) { (void)ep; (void)b; (void)l; return -ENOTSUP; }
static ssize_t recv_(struct ivt_ep *ep, void *b, size_t l) { (void)ep; (void)b; (void)l; return -ENOTSUP; }
static int arm(struct ivt_ep *ep, unsigned ev) { (void)ep; (void)ev; return 0; }
static int poll_fd(struct ivt_ep *ep) { (void)ep; return -1; }
static void ack(struct ivt_ep *ep) { (void)ep; }
static void close_(struct ivt_ep *ep) { (void)ep; }

static const struct ivt_plugin_ops ops = {
	.abi_version = IVT_PLUGIN_ABI_VERSION,
	.ops_size = sizeof(struct ivt_plugin_ops),
	.name = "shm",
	.description = "test stand-in",
	.caps = IVT_CAP_COLOCATED,
	.probe = probe, .listen = listen_, .accept = accept_, .connect = connect_,
	.send = send_, .recv = recv_, .arm = arm, .poll_fd = poll_fd, .ack = ack, .close = close_,
};

__attribute__((visibility("default"))) const struct ivt_plugin_ops *ivt_plugin_entry(uint32_t host_abi)
{
	(void)host_abi;
	return &ops;
}
