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
#include "ring_pool.h"

int conn_line_enabled(void)
{
	const char *e = getenv("IVT_LINES");
	return conn_ring_enabled() && (!e || strcmp(e, "0"));
}

struct line_oob {
	const char *path, *name;
	uint32_t line_id, slot;
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
	o->rc = conn_line_send(o->path, o->name, o->line_id, IVT_CTRL_SETUP, o->slot, &s, fds,
			       nfds);
	return o->rc;
}

/* Nothing went on the line (sent: the error, 0 when it was not tried):
 * the slot is free again, a kept ring kept as it was; through ivtd. */
static int line_unused(struct ivt_channel *ch, struct ring_pool *pool, uint32_t slot,
		       struct ivt_ep *ep, int sent)
{
	ch->ep = NULL;
	if (pool) {
		ring_pool_unused(pool, slot, ep);
		ring_pool_unref(pool);
	}
	if (sent)
		IVT_DEBUG("libivt", "channel '%s': line %s (%s); through ivtd", ch->name,
			  sent == -EAGAIN ? "full" : "gone", strerror(-sent));
	return CONN_RING_UNUSED;
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
	struct ring_pool *pool;
	uint32_t slot;
	int rc = conn_line_take(path, req->name, cl.line_id, ops, &pool, &slot, &ch->ep);
	if (rc < 0)
		return CONN_RING_UNUSED; /* the line is gone: through ivtd */
	if (rc == 1) { /* a ring kept on the line: REUSE, no descriptors */
		rc = conn_line_send(path, req->name, cl.line_id, IVT_CTRL_LINE_REUSE, slot, NULL,
				    NULL, 0);
		if (rc < 0)
			return line_unused(ch, pool, slot, ch->ep, rc);
	} else {
		struct line_oob lo = {.path = path, .name = req->name, .line_id = cl.line_id,
				      .slot = slot};
		struct ivt_oob oob = {.ctx = &lo, .send = line_send};
		struct ivt_ep_params params = {.channel = ch->name, .is_server = 0,
					       .ring_size = (size_t)cl.ring_size, .oob = &oob,
					       .timeout_ms = 0};
		rc = ops->listen(&params, &ch->ep);
		if (rc < 0) {
			ch->ep = NULL;
			/* not sent: no ring here, ivtd's way says why */
			return line_unused(ch, pool, slot, NULL, lo.sent ? lo.rc : 0);
		}
	}
	rc = ivt_ctrl_line_new(&ch->ctrl, cl.peer, pool, slot);
	if (rc < 0) {
		/* the listener sees a connector gone at once */
		if (pool) {
			ring_pool_put(pool, slot, ops, ch->ep);
			ring_pool_unref(pool);
		} else {
			ops->close(ch->ep);
		}
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
