/* SPDX-License-Identifier: MIT */
#include "testsupport/null_plugin.h"

#include <errno.h>

static int null_probe(char *why, size_t len)
{
	(void)why;
	(void)len;
	return 0;
}

static int null_open(const struct ivt_ep_params *p, struct ivt_ep **out)
{
	(void)p;
	(void)out;
	return -ENOTSUP;
}

static int null_accept(struct ivt_ep *ep)
{
	(void)ep;
	return -ENOTSUP;
}

static ssize_t null_send(struct ivt_ep *ep, const void *buf, size_t len)
{
	(void)ep;
	(void)buf;
	(void)len;
	return -ENOTSUP;
}

static ssize_t null_recv(struct ivt_ep *ep, void *buf, size_t len)
{
	(void)ep;
	(void)buf;
	(void)len;
	return -ENOTSUP;
}

static int null_arm(struct ivt_ep *ep, unsigned events)
{
	(void)ep;
	(void)events;
	return 0;
}

static int null_poll_fd(struct ivt_ep *ep)
{
	(void)ep;
	return -1;
}

static void null_ep(struct ivt_ep *ep) { (void)ep; }

struct ivt_plugin_ops ts_null_plugin_ops(const char *name)
{
	return (struct ivt_plugin_ops){
		.abi_version = IVT_PLUGIN_ABI_VERSION,
		.ops_size = sizeof(struct ivt_plugin_ops),
		.name = name,
		.description = "test stand-in",
		.probe = null_probe,
		.listen = null_open,
		.accept = null_accept,
		.connect = null_open,
		.send = null_send,
		.recv = null_recv,
		.arm = null_arm,
		.poll_fd = null_poll_fd,
		.ack = null_ep,
		.close = null_ep,
	};
}
