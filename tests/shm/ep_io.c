/* SPDX-License-Identifier: MIT */
#include "ep_io.h"

#include <errno.h>
#include <poll.h>

int ep_wait(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, unsigned ev, int timeout_ms)
{
	if (ev && ops->arm(ep, ev))
		return 0;
	struct pollfd p = {.fd = ops->poll_fd(ep), .events = POLLIN};
	int rc = poll(&p, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	ops->ack(ep);
	return 0;
}

int ep_accept_wait(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, int timeout_ms)
{
	for (;;) {
		int rc = ops->accept(ep);
		if (rc != -EAGAIN)
			return rc;
		/* The connecting side kicks once when it goes live. */
		if ((rc = ep_wait(ops, ep, 0, timeout_ms)) < 0)
			return rc;
	}
}

ssize_t ep_send_all(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, const void *buf,
		    size_t len, int timeout_ms)
{
	const char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = ops->send(ep, p + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n != -EAGAIN)
			return n < 0 ? n : -EIO;
		int rc = ep_wait(ops, ep, IVT_EV_SEND, timeout_ms);
		if (rc < 0)
			return rc;
	}
	return (ssize_t)done;
}

ssize_t ep_recv_some(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, void *buf, size_t len,
		     int timeout_ms)
{
	for (;;) {
		ssize_t n = ops->recv(ep, buf, len);
		if (n != -EAGAIN)
			return n;
		int rc = ep_wait(ops, ep, IVT_EV_RECV, timeout_ms);
		if (rc < 0)
			return rc;
	}
}

ssize_t ep_recv_all(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, void *buf, size_t len,
		    int timeout_ms)
{
	char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = ep_recv_some(ops, ep, p + done, len - done, timeout_ms);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}
