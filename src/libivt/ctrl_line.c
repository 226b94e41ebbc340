/* SPDX-License-Identifier: MIT */
/*
 * The control path of a connection made over a direct line
 * (docs/conn-setup.md): there is none. ivtd granted the line once and
 * never hears of the connections over it, so such an end has no control
 * connection, no PEER notices and no cookie (it is never re-attached),
 * like an end ivtd let go of (IVT_CTRL_OK_DETACHED): the backend tells
 * each end the other's fate (IVT_CAP_PEER_FATE). What it keeps is the
 * peer's identity, as ivtd named it when it made the line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctrl.h"
#include "ring_pool.h"

struct line_ctrl {
	char identity[IVT_IDENTITY_MAX + 1];
	struct ring_pool *pool; /* the line's, when the ring is kept there */
	uint32_t slot;
};

static int line_open(void *impl, const struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok,
		     int timeout_ms)
{
	(void)impl, (void)req, (void)ok, (void)timeout_ms;
	return -ENOTSUP; /* made open: ivt_ctrl_line_new */
}

static int line_drain(void *impl) { (void)impl; return 0; }
static int line_peer_event(void *impl) { (void)impl; return 0; }
static int line_gone(void *impl) { (void)impl; return 1; }
static int line_fd(void *impl) { (void)impl; return -1; }
static const struct ivt_oob *line_oob(void *impl) { (void)impl; return NULL; }

static const char *line_peer_identity(void *impl)
{
	return ((struct line_ctrl *)impl)->identity;
}

/* Both ends hinted lines, which only libivts that take half-close do. */
static uint32_t line_peer_flags(void *impl)
{
	(void)impl;
	return IVT_CTRL_PEER_HALFCLOSE;
}

static int line_incoming(void *impl, uint32_t *ticket, struct ivt_ring_offer *offer,
			 int timeout_ms)
{
	(void)impl, (void)ticket, (void)offer, (void)timeout_ms;
	return -ENOTSUP;
}

/* The ring goes back to the line's pool (ring_pool.c): kept for the
 * next connection over the line, or closed. */
static int line_keep_ep(void *impl, const struct ivt_plugin_ops *ops, struct ivt_ep *ep)
{
	struct line_ctrl *l = impl;
	if (!l->pool)
		return 0;
	ring_pool_put(l->pool, l->slot, ops, ep);
	return 1;
}

/* Not graceful (a forked copy let go, ivt_forget): the slot stays busy
 * in this process, since the other copy may go on using the ring. */
static void line_close(void *impl, int graceful)
{
	(void)graceful;
	struct line_ctrl *l = impl;
	if (l->pool)
		ring_pool_unref(l->pool);
	free(l);
}

static const struct ivt_ctrl_ops line_ops = {
	.name = "line",
	.open = line_open,
	.drain = line_drain,
	.peer_event = line_peer_event,
	.gone = line_gone,
	.fd = line_fd,
	.oob = line_oob,
	.peer_identity = line_peer_identity,
	.peer_flags = line_peer_flags,
	.incoming = line_incoming,
	.close = line_close,
	.keep_ep = line_keep_ep,
};

int ivt_ctrl_line_new(struct ivt_ctrl *c, const char *peer_identity, struct ring_pool *pool,
		      uint32_t slot)
{
	struct line_ctrl *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->pool = pool; /* the caller's reference, ours from here */
	l->slot = slot;
	snprintf(l->identity, sizeof(l->identity), "%s", peer_identity ? peer_identity : "");
	c->ops = &line_ops;
	c->impl = l;
	return 0;
}
