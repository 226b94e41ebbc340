/* SPDX-License-Identifier: MIT */
/*
 * A connector's side of a direct line (docs/conn-setup.md). ivtd granted
 * this process a line to a listener after its policy admitted us; from
 * then on a connection to that name builds its ring as a connector-made
 * ring is built (the backend's listen: memfd, seals, socket pair, mmap),
 * sends the SETUP as one datagram on the line, and returns at once, as
 * TCP's connect does while the connection waits in the accept queue. The
 * line's kernel queue is that accept queue: when it is full (-EAGAIN),
 * or the line is gone (the listener closed or dropped its lines), the
 * connection goes through ivtd, which queues, waits or refuses as ever.
 *
 * A ring offered but never taken (the listener refused it, or closed
 * with it queued: the kernel closes the fds in flight) reaches EOF on
 * its wake-up socket before the peer attached; the backend reports that
 * as -ECONNREFUSED (IVT_CAP_PEER_FATE; plugins/shm).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "common/log.h"
#include "common/plugin_loader.h"
#include "conn_ring.h"
#include "ctrl_conn.h"
#include "errors.h"

int conn_line_enabled(void)
{
	const char *e = getenv("IVT_LINES");
	return conn_ring_enabled() && (!e || strcmp(e, "0"));
}

struct line_oob {
	const char *path, *name;
	uint32_t line_id;
	int rc; /* the line's answer; 0 before the send */
	int sent;
};

/* The backend's setup goes on the line instead of to ivtd. */
static int line_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds)
{
	struct line_oob *o = ctx;
	struct ivt_ctrl_setup s;
	if (ivt_ctrl_setup_fill(&s, blob, len, nfds) < 0)
		return -EINVAL;
	o->sent = 1;
	o->rc = conn_line_send(o->path, o->name, o->line_id, &s, fds, nfds);
	return o->rc;
}

int conn_line_connect(struct ivt_channel *ch, const char *socket_opt,
		      const struct ivt_ctrl_open *req, unsigned flags, struct ivt_ctrl_open_ok *ok)
{
	const char *path = ivt_ctrl_socket_path(socket_opt);
	struct conn_line cl;
	if (!conn_line_enabled() || !conn_line_lookup(path, req->name, &cl) ||
	    ((flags & IVT_MESSAGE) && !cl.message))
		return CONN_RING_UNUSED;
	const struct ivt_plugin_ops *ops = ivt_plugin_load(NULL, cl.backend, NULL, 0);
	if (!ops || !(ops->caps & IVT_CAP_PEER_FATE) ||
	    (ops->caps & (IVT_CAP_PEER_BOUND | IVT_CAP_XS_PATH)))
		return CONN_RING_UNUSED;
	struct line_oob lo = {.path = path, .name = req->name, .line_id = cl.line_id};
	struct ivt_oob oob = {.ctx = &lo, .send = line_send};
	struct ivt_ep_params params = {.channel = ch->name, .is_server = 0,
				       .ring_size = (size_t)cl.ring_size, .oob = &oob,
				       .timeout_ms = 0};
	int rc = ops->listen(&params, &ch->ep);
	if (rc < 0) {
		ch->ep = NULL;
		if (!lo.sent)
			return CONN_RING_UNUSED; /* no ring here: ivtd's way says why */
		IVT_DEBUG("libivt", "channel '%s': line %s (%s); through ivtd", ch->name,
			  lo.rc == -EAGAIN ? "full" : "gone", strerror(-lo.rc));
		return CONN_RING_UNUSED;
	}
	rc = ivt_ctrl_line_new(&ch->ctrl, cl.peer);
	if (rc < 0) {
		ops->close(ch->ep); /* the listener sees a connector gone at once */
		ch->ep = NULL;
		return rc;
	}
	ch->ops = ops;
	memset(ok, 0, sizeof(*ok));
	snprintf(ok->backend, sizeof(ok->backend), "%s", cl.backend);
	ok->ring_size = cl.ring_size;
	ok->flags = cl.message ? IVT_CTRL_OK_MESSAGE : 0;
	return 0;
}
