/* SPDX-License-Identifier: MIT */
/* The local transport of struct ivt_ctrl: ivtd's control socket, as
 * implemented by ctrl_conn.c. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl.h"
#include "ctrl_conn.h"

struct local_ctrl {
	struct ivt_ctrl_conn cc;
	char *path; /* as given: ctrl_conn.c refuses one too long for sun_path */
};

static int local_open(void *impl, const struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok,
		      int timeout_ms)
{
	struct local_ctrl *l = impl;
	return ivt_ctrl_conn_open(&l->cc, l->path, req, ok, timeout_ms);
}

static int local_open_early(void *impl, const struct ivt_ctrl_open *req,
			    struct ivt_ctrl_open_ok *ok, int timeout_ms, void (*early)(void *arg),
			    void *arg)
{
	struct local_ctrl *l = impl;
	return ivt_ctrl_conn_open_early(&l->cc, l->path, req, ok, timeout_ms, early, arg);
}

static int local_drain(void *impl) { return ivt_ctrl_conn_drain(&((struct local_ctrl *)impl)->cc); }

static int local_peer_event(void *impl)
{
	return atomic_load(&((struct local_ctrl *)impl)->cc.peer_event);
}

static int local_gone(void *impl)
{
	return atomic_load(&((struct local_ctrl *)impl)->cc.daemon_gone);
}

static int local_fd(void *impl) { return ((struct local_ctrl *)impl)->cc.sock; }

static const struct ivt_oob *local_oob(void *impl) { return &((struct local_ctrl *)impl)->cc.oob; }

static const char *local_peer_identity(void *impl)
{
	return ivt_ctrl_conn_peer_identity(&((struct local_ctrl *)impl)->cc);
}

static uint32_t local_peer_flags(void *impl)
{
	return ivt_ctrl_conn_peer_flags(&((struct local_ctrl *)impl)->cc);
}

static int local_incoming(void *impl, uint32_t *ticket, struct ivt_ring_offer *offer,
			  int timeout_ms)
{
	return ivt_ctrl_conn_incoming(&((struct local_ctrl *)impl)->cc, ticket, offer, timeout_ms);
}

static int local_open_ring(void *impl, const struct ivt_ctrl_open *req,
			   struct ivt_ctrl_open_ok *ok, int timeout_ms, const struct ivt_ring_wait *w)
{
	struct local_ctrl *l = impl;
	return ivt_ctrl_conn_open_ring(&l->cc, l->path, req, ok, timeout_ms, w);
}

static int local_take_line(void *impl, struct ivt_ctrl_line *info, int *keep)
{
	return ivt_ctrl_conn_take_line(&((struct local_ctrl *)impl)->cc, info, keep);
}

static int local_reattach(void *impl, int *next_ms)
{
	return ivt_ctrl_conn_reattach(&((struct local_ctrl *)impl)->cc, next_ms);
}

static void local_close(void *impl, int graceful)
{
	struct local_ctrl *l = impl;
	ivt_ctrl_conn_close(&l->cc, graceful);
	free(l->path);
	free(l);
}

static const struct ivt_ctrl_ops local_ops = {
	.name = "local",
	.accepts_many = 1,
	.tcp_names = 1,
	.open = local_open,
	.open_early = local_open_early,
	.drain = local_drain,
	.peer_event = local_peer_event,
	.gone = local_gone,
	.fd = local_fd,
	.oob = local_oob,
	.peer_identity = local_peer_identity,
	.peer_flags = local_peer_flags,
	.incoming = local_incoming,
	.open_ring = local_open_ring,
	.reattach = local_reattach,
	.take_line = local_take_line,
	.close = local_close,
};

int ivt_ctrl_local_new(struct ivt_ctrl *c, const char *socket_path)
{
	struct local_ctrl *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cc.sock = -1;
	l->cc.held_line = l->cc.held_keep = -1;
	l->path = strdup(socket_path);
	if (!l->path) {
		free(l);
		return -ENOMEM;
	}
	c->ops = &local_ops;
	c->impl = l;
	return 0;
}
