/* SPDX-License-Identifier: MIT */
/* The client may be told about a channel before the server process has
 * published its ring: wait for the nodes with a XenStore watch rather
 * than failing or polling. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "common/xs_wait.h"
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

struct server_nodes {
	struct xs_handle *xs;
	const char *path;
};

static int server_ready(void *arg)
{
	const struct server_nodes *sn = arg;
	return node_exists(sn->xs, sn->path, "ring-ref") && node_exists(sn->xs, sn->path, "event-channel");
}

int vchan_wait_server(const char *xs_path, int timeout_ms)
{
	struct xs_handle *xs = xs_open(0);
	int rc;

	if (!xs) {
		int err = errno ? errno : ENODEV;
		vchan_log(IVT_LOG_ERR, "cannot reach XenStore: %s", strerror(err));
		return err == ENOENT ? -ENODEV : -err;
	}
	/* Watch the node the server writes last (both go in one transaction). */
	char watched[128];
	snprintf(watched, sizeof(watched), "%s/event-channel", xs_path);
	struct server_nodes sn = {xs, xs_path};
	if (!xs_watch(xs, watched, "ivt-vchan")) {
		rc = -(errno ? errno : EIO);
	} else {
		rc = ivt_xs_wait(xs, timeout_ms, server_ready, NULL, &sn);
		xs_unwatch(xs, watched, "ivt-vchan");
	}
	xs_close(xs);
	return rc > 0 ? 0 : rc;
}
