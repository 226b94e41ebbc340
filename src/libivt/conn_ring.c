/* SPDX-License-Identifier: MIT */
/*
 * Connector-made rings (docs/conn-setup.md): a connector to a listener
 * (ivt_listen) builds the ring itself and sends it right behind its OPEN;
 * ivtd checks the policy and hands it to the listener with the offer, and
 * the accepting end attaches to it. The connector counts as accepted when
 * the ring says so: one pass through ivtd instead of the accepting end's
 * setup making a second one.
 *
 * The connector needs the listener's grant (backend, ring size, message
 * mode) before it asks: ivtd tells it in the OPEN_OK of an ordinary
 * connection (IVT_CTRL_OK_RINGS), and it is kept here per socket and
 * channel name. ivtd refuses a stale one (ESTALE), and then the connector
 * opens the ordinary way and learns the grant again.
 *
 * The accepting end treats the connector's setup exactly as any
 * peer-written one: the backend's connect checks it (shm: sizes, seals,
 * socket type, ring header; docs/ring.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "common/log.h"
#include "common/plugin_loader.h"
#include "conn_ring.h"
#include "ctrl_conn.h"
#include "errors.h"
#include "ring_pool.h"

#define GRANTS_MAX 16

struct grant {
	char path[sizeof(((struct ivt_ctrl_conn *)0)->path)];
	char name[IVT_NAME_MAX + 1];
	char backend[IVT_BACKEND_NAME_MAX + 1];
	uint64_t ring_size;
	int message;
	int one_msg; /* ivtd takes OPEN_SETUP (IVT_CTRL_OK_OPEN_SETUP) */
	int used;
	/* A direct line to the listener (docs/conn-setup.md): our end, the
	 * id ivtd gave it, and the listener's identity as ivtd named it. */
	int has_line;
	struct ring_pool *line; /* owns the line's descriptor (ring_pool.c) */
	uint32_t line_id;
	char line_peer[IVT_IDENTITY_MAX + 1];
};

static pthread_mutex_t grants_mu = PTHREAD_MUTEX_INITIALIZER;
static struct grant grants[GRANTS_MAX];
static unsigned grants_next; /* round robin: the oldest entry goes */

int conn_ring_enabled(void)
{
	const char *e = getenv("IVT_CONN_RING");
	return !e || strcmp(e, "0");
}

static struct grant *find_locked(const char *path, const char *name)
{
	for (int i = 0; i < GRANTS_MAX; i++)
		if (grants[i].used && !strcmp(grants[i].name, name) && !strcmp(grants[i].path, path))
			return &grants[i];
	return NULL;
}

static void line_close_locked(struct grant *g)
{
	if (g->has_line) {
		ring_pool_kill(g->line); /* its kept rings die with it */
		ring_pool_unref(g->line);
	}
	g->has_line = 0;
	g->line = NULL;
}

/* The entry for path and name: found, or the oldest one taken over (its
 * line closed). */
static struct grant *take_locked(const char *path, const char *name)
{
	struct grant *g = find_locked(path, name);
	if (g)
		return g;
	g = &grants[grants_next++ % GRANTS_MAX];
	line_close_locked(g);
	memset(g, 0, sizeof(*g));
	snprintf(g->path, sizeof(g->path), "%s", path);
	snprintf(g->name, sizeof(g->name), "%s", name);
	return g;
}

void conn_ring_learn(const char *socket_opt, const char *name, const struct ivt_ctrl_open_ok *ok)
{
	const char *path = ivt_ctrl_socket_path(socket_opt);
	if (strlen(path) >= sizeof(grants[0].path))
		return;
	pthread_mutex_lock(&grants_mu);
	struct grant *g = take_locked(path, name);
	snprintf(g->backend, sizeof(g->backend), "%s", ok->backend);
	g->ring_size = ok->ring_size;
	g->message = !!(ok->flags & IVT_CTRL_OK_MESSAGE);
	g->one_msg = !!(ok->flags & IVT_CTRL_OK_OPEN_SETUP);
	g->used = 1;
	pthread_mutex_unlock(&grants_mu);
}

static void forget(const char *path, const char *name)
{
	pthread_mutex_lock(&grants_mu);
	struct grant *g = find_locked(path, name);
	if (g) {
		line_close_locked(g);
		g->used = 0;
	}
	pthread_mutex_unlock(&grants_mu);
}

static int lookup(const char *path, const char *name, struct grant *out)
{
	pthread_mutex_lock(&grants_mu);
	struct grant *g = find_locked(path, name);
	if (g)
		*out = *g;
	pthread_mutex_unlock(&grants_mu);
	return g != NULL;
}

/* ---- the connector ------------------------------------------------------ */

struct ring_ctx {
	struct ivt_channel *ch;
	const struct ivt_plugin_ops *ops;
	struct ivt_ep_params params;
};

static int ring_build(void *arg)
{
	struct ring_ctx *r = arg;
	r->params.oob = r->ch->ctrl.ops->oob(r->ch->ctrl.impl);
	int rc = r->ops->listen(&r->params, &r->ch->ep);
	if (rc < 0)
		r->ch->ep = NULL;
	else
		r->ch->ops = r->ops;
	return rc;
}

static int ring_attached(void *arg, int woken)
{
	struct ring_ctx *r = arg;
	int rc = r->ops->accept(r->ch->ep);
	if (rc == -EAGAIN && woken) {
		r->ops->ack(r->ch->ep); /* notes a peer that hung up */
		rc = r->ops->accept(r->ch->ep);
	}
	return rc == 0 ? 1 : rc == -EAGAIN ? 0 : rc;
}

static int ring_fd(void *arg)
{
	struct ring_ctx *r = arg;
	return r->ops->poll_fd(r->ch->ep);
}

int conn_ring_connect(struct ivt_channel *ch, const char *socket_opt,
		      const struct ivt_ctrl_open *req, unsigned flags,
		      struct ivt_ctrl_open_ok *ok, int wait_ms)
{
	struct grant g;
	const char *path = ivt_ctrl_socket_path(socket_opt);
	if (!conn_ring_enabled() || !lookup(path, req->name, &g) ||
	    ((flags & IVT_MESSAGE) && !g.message))
		return CONN_RING_UNUSED;
	const struct ivt_plugin_ops *ops = ivt_plugin_load(NULL, g.backend, NULL, 0);
	if (!ops || (ops->caps & (IVT_CAP_PEER_BOUND | IVT_CAP_XS_PATH)))
		return CONN_RING_UNUSED;
	int rc = ivt_ctrl_select(&ch->ctrl, socket_opt);
	if (rc < 0)
		return rc;
	if (!ch->ctrl.ops->open_ring) {
		ivt_ctrl_close(&ch->ctrl, 0);
		return CONN_RING_UNUSED;
	}
	struct ivt_ctrl_open r = *req;
	r.flags = (r.flags & ~(uint32_t)IVT_MESSAGE) | IVT_CTRL_OPEN_RING |
		  (g.message ? IVT_MESSAGE : 0);
	snprintf(r.backend, sizeof(r.backend), "%s", g.backend);
	r.ring_size = g.ring_size;
	struct ring_ctx ctx = {
		.ch = ch,
		.ops = ops,
		.params = {.channel = ch->name, .is_server = 0, .ring_size = (size_t)g.ring_size,
			   .timeout_ms = wait_ms},
	};
	struct ivt_ring_wait w = {.ctrl_fd = -1, .one_msg = g.one_msg, .arg = &ctx,
				  .build = ring_build, .attached = ring_attached,
				  .fd = ring_fd};
	rc = ch->ctrl.ops->open_ring(ch->ctrl.impl, &r, ok, wait_ms, &w);
	if (rc >= 0 && (strcmp(ok->backend, g.backend) || ok->ring_size != g.ring_size)) {
		ivt_reason_set(-EPROTO, "ivtd granted connection of '%s' another backend or ring "
					"than its connector built", ch->name);
		rc = -EPROTO;
	}
	if (rc >= 0)
		return 0;
	if (ch->ep) {
		ops->close(ch->ep);
		ch->ep = NULL;
		ch->ops = NULL;
	}
	if (rc == -ESTALE || rc == -ENOENT || rc == -EINVAL) {
		/* the grant is stale, the listener went, or an older ivtd came
		 * back that does not know the flag: the ordinary way says what
		 * is what */
		IVT_DEBUG("libivt", "channel '%s': connector-made ring not taken (%s); opening "
				    "the ordinary way", ch->name, strerror(-rc));
		forget(path, req->name);
		ivt_ctrl_close(&ch->ctrl, 0);
		ivt_reason_clear();
		return CONN_RING_UNUSED;
	}
	return rc;
}

/* ---- the accepting end -------------------------------------------------- */

/* The oob of an accepting end: the connector's setup from the offer. */
static int offer_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	(void)timeout_ms;
	struct ivt_ring_offer *o = ctx;
	if (o->blob_len > cap || o->nfds > *nfds)
		return -EPROTO;
	memcpy(blob, o->blob, o->blob_len);
	memcpy(fds, o->fds, sizeof(int) * (size_t)o->nfds);
	*nfds = o->nfds;
	o->nfds = 0; /* the backend's from here on */
	return (int)o->blob_len;
}

int conn_ring_attach(struct ivt_channel *ch, const struct ivt_ctrl_open_ok *lis_ok,
		     struct ivt_ring_offer *offer)
{
	const struct ivt_plugin_ops *ops = ivt_plugin_load(NULL, lis_ok->backend, NULL, 0);
	struct ivt_oob oob = {.ctx = offer, .recv = offer_recv};
	struct ivt_ep_params params = {
		.channel = ch->name, .is_server = 1, .local_domid = lis_ok->local_domid,
		.ring_size = (size_t)lis_ok->ring_size, .oob = &oob, .timeout_ms = 0,
	};
	int rc = ops ? ops->connect(&params, &ch->ep) : -ENOTSUP;
	ivt_ring_offer_close(offer);
	if (rc < 0) {
		ch->ep = NULL;
		IVT_WARN("libivt", "listener '%s': a connector's ring was refused (%s); next one",
			 ch->name, strerror(-rc));
		return -ECONNABORTED;
	}
	ch->ops = ops;
	return 0;
}

/* ---- direct lines (conn_line.c): kept with the grants ------------------ */

void conn_line_keep(const char *path, const char *name, const struct ivt_ctrl_line *l, int fd)
{
	/* ivtd made it non-blocking; ours to be sure: a send never waits */
	if (strlen(path) >= sizeof(grants[0].path) || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		close(fd);
		return;
	}
	struct ring_pool *pool = ring_pool_new(fd, RING_POOL_CONNECTOR);
	if (!pool)
		return;
	pthread_mutex_lock(&grants_mu);
	struct grant *g = take_locked(path, name);
	line_close_locked(g);
	snprintf(g->backend, sizeof(g->backend), "%s", l->backend);
	g->ring_size = l->ring_size;
	g->message = !!l->message;
	g->used = 1;
	g->has_line = 1;
	g->line = pool;
	g->line_id = l->line_id;
	snprintf(g->line_peer, sizeof(g->line_peer), "%s", l->identity);
	pthread_mutex_unlock(&grants_mu);
}

int conn_line_lookup(const char *path, const char *name, struct conn_line *out)
{
	pthread_mutex_lock(&grants_mu);
	struct grant *g = find_locked(path, name);
	int has = g && g->has_line;
	if (has) {
		snprintf(out->backend, sizeof(out->backend), "%s", g->backend);
		out->ring_size = g->ring_size;
		out->message = g->message;
		out->line_id = g->line_id;
		snprintf(out->peer, sizeof(out->peer), "%s", g->line_peer);
	}
	pthread_mutex_unlock(&grants_mu);
	return has;
}

/* The grant holding line line_id to name, or NULL (forgotten or replaced
 * meanwhile). */
static struct grant *line_locked(const char *path, const char *name, uint32_t line_id)
{
	struct grant *g = find_locked(path, name);
	return g && g->has_line && g->line_id == line_id ? g : NULL;
}

int conn_line_take(const char *path, const char *name, uint32_t line_id,
		   const struct ivt_plugin_ops *ops, struct ring_pool **pool, uint32_t *slot,
		   struct ivt_ep **ep)
{
	*pool = NULL;
	*slot = 0;
	*ep = NULL;
	pthread_mutex_lock(&grants_mu);
	struct grant *g = line_locked(path, name, line_id);
	int rc = g ? ring_pool_take(g->line, ops, slot, ep) : -EPIPE;
	if (rc == -EPIPE && g)
		line_close_locked(g); /* the listener dropped it, or broke the protocol */
	if (rc >= 0 && *slot) {
		ring_pool_ref(g->line);
		*pool = g->line;
	}
	pthread_mutex_unlock(&grants_mu);
	return rc;
}

int conn_line_send(const char *path, const char *name, uint32_t line_id, uint16_t type,
		   uint32_t slot, const struct ivt_ctrl_setup *s, const int *fds, int nfds)
{
	pthread_mutex_lock(&grants_mu);
	struct grant *g = line_locked(path, name, line_id);
	int rc = -EPIPE;
	if (g) {
		rc = ivt_ctrl_send(ring_pool_fd(g->line), type, slot, s, s ? sizeof(*s) : 0, fds,
				   nfds);
		if (rc < 0 && rc != -EAGAIN && rc != -EINTR)
			line_close_locked(g); /* the listener went, or dropped it */
	}
	pthread_mutex_unlock(&grants_mu);
	return rc;
}
