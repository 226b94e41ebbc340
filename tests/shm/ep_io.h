/* SPDX-License-Identifier: MIT */
/* Test/bench helper: blocking loops over a plugin's non-blocking byte
 * pipe, the way a host waits (arm, poll the fd, ack). */
#ifndef IVT_TEST_EP_IO_H
#define IVT_TEST_EP_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "ivt/plugin.h"

/* Wait until arm() reports ev ready or poll_fd fires (timeout_ms per
 * sleep). 0, -ETIMEDOUT, or a negative errno from poll. */
int ep_wait(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, unsigned ev, int timeout_ms);
/* Server: wait until accept() succeeds. */
int ep_accept_wait(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, int timeout_ms);
/* All of buf, or the first error. */
ssize_t ep_send_all(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, const void *buf,
		    size_t len, int timeout_ms);
/* Exactly len bytes; fewer only at end-of-stream; or the first error. */
ssize_t ep_recv_all(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, void *buf, size_t len,
		    int timeout_ms);
/* One recv that waits for data: bytes, 0 at end-of-stream, or an error. */
ssize_t ep_recv_some(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, void *buf, size_t len,
		     int timeout_ms);

#endif
