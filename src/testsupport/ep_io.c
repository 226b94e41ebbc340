/* SPDX-License-Identifier: MIT */
#include "testsupport/ep_io.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>

/* accept() may make progress without a kick on poll_fd (verbs reads the
 * client's setup from the oob): look again at least this often. */
#define ACCEPT_POLL_CAP_MS 10

double ep_io_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* timeout_ms < 0: no limit (deadline < 0) */
static double deadline_for(int timeout_ms)
{
	return timeout_ms < 0 ? -1.0 : ep_io_now() + timeout_ms / 1000.0;
}

static int left_ms(double deadline)
{
	if (deadline < 0)
		return -1;
	double left = deadline - ep_io_now();
	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

/* Sleep on the plugin's fd for at most ms; ack a wake-up. 1 woken, 0 not,
 * or a negative errno. */
static int sleep_on(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, int ms)
{
	struct pollfd p = {.fd = ops->poll_fd(ep), .events = POLLIN};
	int rc = poll(&p, 1, ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (rc > 0)
		ops->ack(ep);
	return rc > 0;
}

int ep_wait(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, unsigned ev, int timeout_ms)
{
	if (timeout_ms == EP_IO_SPIN)
		return 0;
	double deadline = deadline_for(timeout_ms);
	for (;;) {
		if (ev && ops->arm(ep, ev))
			return 0; /* ready, or an error the operation will report */
		int left = left_ms(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		int rc = sleep_on(ops, ep, left);
		if (rc < 0 || (rc > 0 && !ev))
			return rc < 0 ? rc : 0;
	}
}

int ep_accept_wait(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, int timeout_ms)
{
	double deadline = deadline_for(timeout_ms);
	for (;;) {
		int rc = ops->accept(ep);
		if (rc != -EAGAIN)
			return rc;
		int left = left_ms(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		int nap = left >= 0 && left < ACCEPT_POLL_CAP_MS ? left : ACCEPT_POLL_CAP_MS;
		if ((rc = sleep_on(ops, ep, nap)) < 0)
			return rc;
	}
}

int ep_open(const struct ivt_plugin_ops *ops, const struct ivt_oob *oob, const char *channel,
	    int is_server, size_t ring_size, int timeout_ms, struct ivt_ep **ep)
{
	struct ivt_ep_params prm = {.channel = channel, .is_server = is_server,
				    .ring_size = ring_size, .oob = oob, .timeout_ms = timeout_ms};
	if (!is_server)
		return ops->connect(&prm, ep);
	int rc = ops->listen(&prm, ep);
	if (rc == 0 && (rc = ep_accept_wait(ops, *ep, timeout_ms)) != 0) {
		ops->close(*ep);
		*ep = NULL;
	}
	return rc;
}

ssize_t ep_send_all(const struct ivt_plugin_ops *ops, struct ivt_ep *ep, const void *buf,
		    size_t len, int timeout_ms)
{
	const uint8_t *p = buf;
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
	uint8_t *p = buf;
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

int ep_wait_completions(const struct ivt_plugin_ops *ops, struct ivt_ep *ep,
			struct ivt_ep_completion *out, int n, int timeout_ms)
{
	int got = 0;
	while (got < n) {
		int r = ops->poll_completions(ep, out + got, n - got);
		if (r < 0)
			return r;
		got += r;
		if (got < n && r == 0) {
			int w = ep_wait(ops, ep, IVT_EV_COMPLETION, timeout_ms);
			if (w < 0)
				return w;
		}
	}
	return 0;
}
