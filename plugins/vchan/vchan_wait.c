/* SPDX-License-Identifier: MIT */
/* The client may be told about a channel before the server process has
 * published its ring: wait for the nodes with a XenStore watch rather
 * than failing or polling. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xenstore.h>

#include "common/clock.h"
#include "vchan.h"

static int node_exists(struct xs_handle *xs, const char *base, const char *leaf)
{
	char path[128];
	unsigned len;
	snprintf(path, sizeof(path), "%s/%s", base, leaf);
	char *v = xs_read(xs, XBT_NULL, path, &len);
	free(v);
	return v != NULL;
}

int vchan_wait_server(const char *xs_path, int timeout_ms)
{
	struct xs_handle *xs = xs_open(0);
	int64_t deadline = ivt_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int rc = -ETIMEDOUT;

	if (!xs) {
		int err = errno ? errno : ENODEV;
		vchan_log(IVT_LOG_ERR, "cannot reach XenStore: %s", strerror(err));
		return err == ENOENT ? -ENODEV : -err;
	}
	/* Watch the node the server writes last (both go in one transaction). */
	char watched[128];
	snprintf(watched, sizeof(watched), "%s/event-channel", xs_path);
	if (!xs_watch(xs, watched, "ivt-vchan")) {
		rc = -(errno ? errno : EIO);
		goto out;
	}
	for (;;) {
		if (node_exists(xs, xs_path, "ring-ref") && node_exists(xs, xs_path, "event-channel")) {
			rc = 0;
			break;
		}
		int wait = -1;
		if (timeout_ms >= 0) {
			int64_t left = deadline - ivt_now_ms();
			if (left <= 0)
				break;
			wait = left > 60000 ? 60000 : (int)left;
		}
		struct pollfd pfd = {.fd = xs_fileno(xs), .events = POLLIN};
		if (poll(&pfd, 1, wait) < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		char **ev;
		while ((ev = xs_check_watch(xs)) != NULL)
			free(ev);
	}
	xs_unwatch(xs, watched, "ivt-vchan");
out:
	xs_close(xs);
	return rc;
}
