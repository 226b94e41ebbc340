/* SPDX-License-Identifier: MIT */
/*
 * Test/bench support: blocking loops over a plugin's non-blocking
 * endpoint, outside ivtd and libivt, waiting the way a host does (arm,
 * poll poll_fd, ack).
 *
 * timeout_ms bounds each wait for the plugin (-1: no limit). EP_IO_SPIN never sleeps
 * and never times out: the caller's next call polls the plugin itself
 * (busy polling, for latency benchmarks; arm() would cost a system call
 * per spin on some plugins).
 */
#ifndef IVT_TESTSUPPORT_EP_IO_H
#define IVT_TESTSUPPORT_EP_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "ivt/plugin.h"

#define EP_IO_SPIN 0

/* Until arm() reports one of ev ready (ev 0: until the plugin's fd fires
 * once). 0 (retry the operation), -ETIMEDOUT, or an error from poll. */
int ep_wait(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, unsigned ev, int timeout_ms);

/* Server: until accept() succeeds, or its error / -ETIMEDOUT. */
int ep_accept_wait(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, int timeout_ms);

/* Open one end of channel `channel` over oob: the server listens and waits
 * for the peer (closing the ep again on failure), the client connects. */
int ep_open(const struct ivt_plugin_ops *ops, const struct ivt_oob *oob, const char *channel,
	    int is_server, size_t ring_size, int timeout_ms, struct ivt_ep **ep);

/* All of buf, or the first error. */
ssize_t ep_send_all(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, const void *buf,
		    size_t len, int timeout_ms);
/* One recv that waits for data: bytes, 0 at end-of-stream, or an error. */
ssize_t ep_recv_some(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, void *buf, size_t len,
		     int timeout_ms);
/* Exactly len bytes; fewer only at end-of-stream; or the first error. */
ssize_t ep_recv_all(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, void *buf, size_t len,
		    int timeout_ms);

/* Reap exactly n completions of native one-sided ops. 0, -ENOTSUP (the
 * plugin has none), or the first error. */
int ep_wait_completions(const struct ivt_plugin_ops *ops, struct ivt_ep *ep,
			struct ivt_ep_completion *out, int n, int timeout_ms);

/* Monotonic seconds, for deadlines and measurements. */
double ep_io_now(void);

#endif
