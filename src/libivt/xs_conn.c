/* SPDX-License-Identifier: MIT */
/* The XenStore transport of struct ivt_ctrl (see xs_conn.h). */
#include "common/clock.h"
#include "xs_conn.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "common/ctrl_msg.h"
#include "common/log.h"
#include "common/plugin_loader.h"
#include "common/xs_wait.h"
#include "common/xs_paths.h"
#include "common/xs_request.h"
#include "ctrl.h"
#include "errors.h"
#include "xs_hub.h"

#define WHO "libivt"
/* Tries at a free slot for one more connector of the same name. */
#define SLOT_TRIES 16
/* Offers one listener remembers as taken; more than its backlog in
 * flight at once is not expected, beyond this the oldest are forgotten. */
#define IVT_XS_TAKEN_MAX 256

struct xs_conn {
	struct xs_hub *hub;
	struct xs_handle *xs; /* the hub's */
	uint32_t domid;       /* ours, read from XenStore */
	int listen;
	int multi;            /* a listener that accepts many (ivt_listen) */
	uint32_t ticket;      /* an accepted end: the connection it takes */
	int has_addr;         /* the TCP address (addr=): dialled, or bound to */
	struct ivt_ip addr;
	int subscribed;       /* sub is in the hub */
	struct xs_hub_sub sub;
	int requested;  /* our request node exists: remove it on close */
	uint32_t slot;  /* 0: <name>/request, else <name>/<slot>/request */
	uint32_t seq;   /* of the current request */
	/* listeners: tickets handed out whose in/<ticket> was still there at
	 * the last look (ivtd removes it once accepted; a restarted ivtd may
	 * number afresh, so "newer than the last" would not do) */
	uint32_t taken[IVT_XS_TAKEN_MAX];
	unsigned n_taken;
	char name[IVT_NAME_MAX + 1];
	char peer_id[48];
	char node[IVT_XS_WATCH_PATH_MAX];
	char req_path[IVT_XS_WATCH_PATH_MAX];
	char resp_path[IVT_XS_WATCH_PATH_MAX];
	char event_path[IVT_XS_WATCH_PATH_MAX];
	/* drain() may run in the sending and the receiving thread at once */
	pthread_mutex_t lock;
	char last_event[IVT_XS_RESPONSE_MAX + 1]; /* to skip re-reads of one value */
	int warned;
	atomic_int peer_event;
	atomic_uint peer_domid;
	struct ivt_oob oob;
	/* Half-close: the request carries "halfclose=1" unless ivtd refused
	 * that key (older than it: asked again without); ok said both ends
	 * take it. open_req: the request being answered, during open only. */
	int no_halfclose_key;
	const struct ivt_ctrl_open *open_req;
	atomic_int halfclose;
};

/* A seq ivtd has not seen from us: the previous response may still be in
 * the node, and only the seq tells it apart from the answer to this one. */
static uint32_t fresh_seq(uint32_t prev)
{
	uint32_t s;
	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
		s = (uint32_t)ivt_now_ms() ^ ((uint32_t)getpid() << 16);
	return s == prev ? s + 1 : s;
}

/* ---- answers: pure checks ------------------------------------------------ */

static int proto_err(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int proto_err(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

int ivt_xs_answer_to_open_ok(const struct ivt_xs_response *r, int listen, uint32_t self,
			     struct ivt_ctrl_open_ok *ok, char *why, size_t why_len)
{
	uint64_t rs = r->ring_size;
	uint32_t server = listen ? self : r->peer_domid;
	memset(ok, 0, sizeof(*ok));
	if (!r->ok)
		return proto_err(why, why_len, "not an ok response");
	if (rs < IVT_XS_RING_MIN || rs > IVT_XS_RING_MAX || (rs & (rs - 1)))
		return proto_err(why, why_len, "ring %llu is not a power of two in %u..%llu",
				 (unsigned long long)rs, IVT_XS_RING_MIN,
				 (unsigned long long)IVT_XS_RING_MAX);
	/* The ring lives in the server's subtree; anywhere else it could be
	 * another channel's, or a node libxenvchan would truncate. */
	if (r->path[0] && !ivt_xs_vchan_path_ok(r->path, server))
		return proto_err(why, why_len,
				 "path '%s' is not a vchan path below /local/domain/%u/data/ivt",
				 r->path, server);
	snprintf(ok->backend, sizeof(ok->backend), "%s", r->backend);
	snprintf(ok->xs_path, sizeof(ok->xs_path), "%s", r->path);
	ok->ring_size = rs;
	ok->chan_id = r->chan_id;
	ok->is_server = (uint32_t)listen;
	ok->local_domid = self;
	ok->peer_domid = r->peer_domid;
	ok->flags = (r->message ? IVT_CTRL_OK_MESSAGE : 0) | (r->halfclose ? IVT_CTRL_OK_HALFCLOSE : 0);
	return 0;
}

/* ---- peer events ----------------------------------------------------------- */

static void set_peer_event(struct xs_conn *xc, int ev, uint32_t domid)
{
	atomic_store(&xc->peer_domid, domid);
	/* DIED is final: a later CLOSED must not soften it */
	if (atomic_load(&xc->peer_event) != IVT_PEER_DIED)
		atomic_store(&xc->peer_event, ev);
}

/* Read the event node and apply it if it is new and about this request. */
static void read_event(struct xs_conn *xc)
{
	unsigned len = 0;
	char why[160];
	struct ivt_xs_event ev;
	char *v = xs_read(xc->xs, XBT_NULL, xc->event_path, &len);
	if (!v)
		return; /* none yet, or removed with a new answer */
	if (len < sizeof(xc->last_event) && !memchr(v, '\0', len) && !strcmp(v, xc->last_event)) {
		free(v);
		return;
	}
	int rc = ivt_xs_parse_event(v, len, &ev, why, sizeof(why));
	if (len < sizeof(xc->last_event))
		snprintf(xc->last_event, sizeof(xc->last_event), "%.*s", (int)len, v);
	free(v);
	if (rc) {
		if (!xc->warned++)
			IVT_WARN(WHO, "ignoring malformed event in %s: %s", xc->event_path, why);
		return;
	}
	if (!ev.has_seq || ev.seq != xc->seq)
		return; /* about an earlier request of ours */
	IVT_DEBUG(WHO, "%s: peer %s (dom%u)", xc->event_path,
		  ev.event == IVT_PEER_CONNECTED ? "connected"
		  : ev.event == IVT_PEER_CLOSED  ? "closed"
						 : "died",
		  ev.domid);
	set_peer_event(xc, ev.event, ev.domid);
}

/* ---- opening ------------------------------------------------------------- */

static int write_request(struct xs_conn *xc, const struct ivt_ctrl_open *req);

/* 1: the answer to our request is there (ok filled), 0: not yet (or a
 * stale one), <0: refused (ivtd's errno) or malformed (-EPROTO). */
static int check_response(struct xs_conn *xc, struct ivt_ctrl_open_ok *ok)
{
	unsigned len = 0;
	char why[200];
	struct ivt_xs_response r;
	char *v = xs_read(xc->xs, XBT_NULL, xc->resp_path, &len);
	if (!v)
		return 0;
	int rc = ivt_xs_parse_response(v, len, &r, why, sizeof(why));
	free(v);
	if (rc) {
		ivt_reason_set(-EPROTO, "malformed response from ivtd in %s: %s", xc->resp_path, why);
		return -EPROTO;
	}
	if (!r.has_seq || r.seq != xc->seq)
		return 0; /* the answer to an earlier request: wait for ours */
	if (!r.ok && r.err == EINVAL && strstr(r.reason, "unknown key 'halfclose'") &&
	    !xc->no_halfclose_key && xc->open_req) {
		/* an ivtd older than half-close: ask again without it */
		IVT_DEBUG(WHO, "%s: ivtd does not know halfclose=; asking without it", xc->req_path);
		xc->no_halfclose_key = 1;
		int wr = write_request(xc, xc->open_req);
		return wr < 0 ? wr : 0;
	}
	if (!r.ok) {
		ivt_reason_set(-r.err, "%s", r.reason[0] ? r.reason : "refused by ivtd");
		return -r.err;
	}
	if (ivt_xs_answer_to_open_ok(&r, xc->listen, xc->domid, ok, why, sizeof(why))) {
		ivt_reason_set(-EPROTO, "invalid answer from ivtd in %s: %s", xc->resp_path, why);
		return -EPROTO;
	}
	return 1;
}

/* ivt_xs_wait's view of an open: the answer is the condition. */
struct open_wait {
	struct xs_conn *xc;
	struct ivt_ctrl_open_ok *ok;
	int checked; /* check_response's last result */
};

static int open_check(void *arg)
{
	struct open_wait *w = arg;
	return w->checked = check_response(w->xc, w->ok);
}

static void open_drain(void *arg)
{
	struct xs_conn *xc = ((struct open_wait *)arg)->xc;
	xs_hub_take(xc->hub, &xc->sub);
}

/* The paths of our end in slot; 0 or -ENAMETOOLONG with the reason. */
static int set_paths(struct xs_conn *xc, uint32_t slot)
{
	xc->slot = slot;
	if (ivt_xs_slot_path(xc->node, sizeof(xc->node), xc->domid, xc->name, slot, NULL) ||
	    ivt_xs_slot_path(xc->req_path, sizeof(xc->req_path), xc->domid, xc->name, slot,
			     IVT_XS_LEAF_REQUEST) ||
	    ivt_xs_slot_path(xc->resp_path, sizeof(xc->resp_path), xc->domid, xc->name, slot,
			     IVT_XS_LEAF_RESPONSE) ||
	    ivt_xs_slot_path(xc->event_path, sizeof(xc->event_path), xc->domid, xc->name, slot,
			     IVT_XS_LEAF_EVENT)) {
		ivt_reason_set(-ENAMETOOLONG, "XenStore path for '%s' too long", xc->name);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int xs_err(const char *what, const char *path)
{
	int e = errno ? errno : EIO;
	ivt_reason_set(-e, "cannot %s %s: %s", what, path, strerror(e));
	return -e;
}

/* A connector takes <name>/request when it is free (checked and written
 * in one transaction: two processes of the guest cannot both get it),
 * else a random free slot <name>/<n>/request. 1: written, 0: use a slot. */
static int claim_name_node(struct xs_conn *xc, const char *value)
{
	for (int tries = 0; tries < SLOT_TRIES; tries++) {
		unsigned n;
		xs_transaction_t t = xs_transaction_start(xc->xs);
		if (t == XBT_NULL)
			return xs_err("start a transaction for", xc->req_path);
		char *v = xs_read(xc->xs, t, xc->req_path, &n);
		if (v) {
			free(v);
			xs_transaction_end(xc->xs, t, true);
			return 0;
		}
		if (!xs_write(xc->xs, t, xc->req_path, value, strlen(value))) {
			int rc = xs_err("write", xc->req_path);
			xs_transaction_end(xc->xs, t, true);
			return rc;
		}
		if (xs_transaction_end(xc->xs, t, false))
			return 1;
		if (errno != EAGAIN)
			return xs_err("commit", xc->req_path);
	}
	return 0;
}

static int pick_slot(struct xs_conn *xc)
{
	for (int tries = 0; tries < SLOT_TRIES; tries++) {
		uint32_t slot = fresh_seq(0) & 0x7fffffffu;
		unsigned n;
		if (!slot)
			continue;
		int rc = set_paths(xc, slot);
		if (rc)
			return rc;
		char **d = xs_directory(xc->xs, XBT_NULL, xc->node, &n);
		free(d);
		if (!d && errno == ENOENT)
			return 0;
	}
	ivt_reason_set(-EEXIST, "no free XenStore slot for another end of '%s'", xc->name);
	return -EEXIST;
}

static int write_request(struct xs_conn *xc, const struct ivt_ctrl_open *req)
{
	char value[IVT_XS_REQUEST_MAX + 1];
	struct ivt_xs_request r = {
		.listen = xc->listen, .ring_size = req->ring_size, .multi = xc->multi,
		.ticket = xc->ticket, .message = !!(req->flags & IVT_MESSAGE),
		.has_addr = xc->has_addr, .addr = xc->addr,
		.halfclose = (req->flags & IVT_CTRL_OPEN_HALFCLOSE) && !xc->no_halfclose_key,
	};
	const char *backend = req->backend[0] ? req->backend : "auto";
	if (!ivt_plugin_name_valid(backend, strlen(backend))) {
		ivt_reason_set(-EINVAL, "backend name '%s' is not 1..%d of [a-z0-9_]", backend,
			       IVT_BACKEND_NAME_MAX);
		return -EINVAL;
	}
	snprintf(r.backend, sizeof(r.backend), "%s", backend);
	r.seq = xc->seq = fresh_seq(xc->seq);
	int rc = ivt_xs_format_req(value, sizeof(value), &r);
	if (rc) {
		ivt_reason_set(-EINVAL, "ring size %llu is larger than XenStore requests allow",
			       (unsigned long long)req->ring_size);
		return -EINVAL;
	}
	if (!xc->listen && !xc->requested) {
		/* where this connector lives; retries rewrite the same node */
		if ((rc = set_paths(xc, 0)) < 0 || (rc = claim_name_node(xc, value)) < 0)
			return rc;
		if (rc == 0 && (rc = pick_slot(xc)) < 0)
			return rc;
		if (rc == 1)
			goto written;
	}
	if (!xs_write(xc->xs, XBT_NULL, xc->req_path, value, strlen(value)))
		return xs_err("write", xc->req_path);
written:
	xc->requested = 1;
	IVT_DEBUG(WHO, "%s = \"%s\"", xc->req_path, value);
	return 0;
}

/* Watch our node (the hub's one watch does the watching). */
static int subscribe(struct xs_conn *xc)
{
	if (xc->subscribed)
		return 0;
	int rc = xs_hub_sub_add(xc->hub, &xc->sub, xc->node);
	if (rc < 0) {
		ivt_reason_set(rc, "cannot wait on XenStore: %s", strerror(-rc));
		return rc;
	}
	xc->subscribed = 1;
	return 0;
}

static int xs_conn_open(void *impl, const struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok,
			int timeout_ms)
{
	struct xs_conn *xc = impl;
	int rc;
	if (!ivt_name_valid(req->name)) {
		ivt_reason_set(-EINVAL, "invalid channel name");
		return -EINVAL;
	}
	if (xc->requested && strcmp(xc->name, req->name)) {
		ivt_reason_set(-EINVAL, "one XenStore end opens one name");
		return -EINVAL;
	}
	snprintf(xc->name, sizeof(xc->name), "%s", req->name);
	xc->listen = !!(req->flags & IVT_LISTEN);
	xc->multi = xc->listen && (req->flags & IVT_CTRL_OPEN_MULTI);
	xc->ticket = xc->listen && (req->flags & IVT_CTRL_OPEN_ACCEPT) ? req->arg : 0;
	if (xc->listen && (req->flags & IVT_CTRL_OPEN_ACCEPT) && !xc->ticket) {
		ivt_reason_set(-EINVAL, "accepting needs a ticket");
		return -EINVAL;
	}
	/* listeners own <name>; an accepted end takes slot <ticket>, which
	 * only its listener is handed; a connector's node is chosen on write */
	if (!xc->requested && (rc = set_paths(xc, xc->ticket)) < 0)
		return rc;
	atomic_store(&xc->peer_event, 0);
	xc->last_event[0] = '\0';
	/* Listen before writing, so the answer cannot slip past us (a
	 * connector subscribes once its node is known: the hub queues the
	 * firing meanwhile, and the first check reads the node anyway). */
	if (xc->listen && (rc = subscribe(xc)) < 0)
		return rc;
	if ((rc = write_request(xc, req)) < 0 || (rc = subscribe(xc)) < 0)
		return rc;

	struct open_wait w = {.xc = xc, .ok = ok};
	xc->open_req = req;
	rc = ivt_xs_wait_fd(xc->sub.epfd, timeout_ms, open_check, open_drain, &w);
	xc->open_req = NULL;
	if (rc == -ETIMEDOUT && w.checked == 0) {
		ivt_reason_set(rc,
			       "no answer in %s within %d ms (is ivtd running in dom0? a listener "
			       "of a peer-bound backend such as vchan is answered once a client "
			       "connects)",
			       xc->resp_path, timeout_ms);
		return rc;
	}
	if (rc < 0 && w.checked == 0) {
		ivt_reason_set(rc, "poll on XenStore: %s", strerror(-rc));
		return rc;
	}
	if (rc < 0)
		return rc;
	IVT_DEBUG(WHO, "%s: ok backend=%s ring=%llu path=%s peer=%u chan=%llu", xc->resp_path,
		  ok->backend, (unsigned long long)ok->ring_size, ok->xs_path, ok->peer_domid,
		  (unsigned long long)ok->chan_id);
	if (!xc->multi && ok->peer_domid < IVT_XS_DOMID_LIMIT)
		snprintf(xc->peer_id, sizeof(xc->peer_id), "dom:%u", ok->peer_domid);
	atomic_store(&xc->halfclose, (ok->flags & IVT_CTRL_OK_HALFCLOSE) != 0);
	/* A server's client may have come and gone already. */
	pthread_mutex_lock(&xc->lock);
	read_event(xc);
	pthread_mutex_unlock(&xc->lock);
	return 0;
}

/* ---- after opening --------------------------------------------------------- */

static int xs_conn_drain(void *impl)
{
	struct xs_conn *xc = impl;
	pthread_mutex_lock(&xc->lock);
	/* Only a firing is worth a XenStore round trip: this runs each time a
	 * non-blocking call is about to say -EAGAIN. */
	if (xc->subscribed && (xs_hub_take(xc->hub, &xc->sub) & XS_HUB_EVENT))
		read_event(xc);
	pthread_mutex_unlock(&xc->lock);
	return 0;
}

static int xs_conn_peer_event(void *impl) { return atomic_load(&((struct xs_conn *)impl)->peer_event); }

/* XenStore stays: ivtd restarting does not take the node path away. */
static int xs_conn_gone(void *impl) { return 0; }

static int xs_conn_fd(void *impl)
{
	struct xs_conn *xc = impl;
	return xc->subscribed ? xc->sub.epfd : -1;
}

static int oob_none_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds)
{
	ivt_reason_set(-ENOTSUP, "this backend needs a setup channel; over XenStore only vchan works");
	return -ENOTSUP;
}

static int oob_none_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	*nfds = 0;
	return oob_none_send(ctx, NULL, 0, NULL, 0);
}

static const struct ivt_oob *xs_conn_oob(void *impl) { return &((struct xs_conn *)impl)->oob; }

/* "dom:<peer>" from ivtd's answer: the identity its policy checked. */
static const char *xs_conn_peer_identity(void *impl) { return ((struct xs_conn *)impl)->peer_id; }

/* Half-close comes with ivtd's ok ("halfclose=1"), which every XenStore
 * end waits for before its channel is used. */
static uint32_t xs_conn_peer_flags(void *impl)
{
	return atomic_load(&((struct xs_conn *)impl)->halfclose) ? IVT_CTRL_PEER_HALFCLOSE : 0;
}

/* ivt_xs_wait's view of a listener: the lowest ticket under <name>/in
 * not handed out yet. */
struct incoming_wait {
	struct xs_conn *xc;
	uint32_t ticket;
};

static int was_taken(const struct xs_conn *xc, uint32_t t)
{
	for (unsigned i = 0; i < xc->n_taken; i++)
		if (xc->taken[i] == t)
			return 1;
	return 0;
}

/* Under xc->lock. */
static int incoming_check_locked(struct incoming_wait *w)
{
	struct xs_conn *xc = w->xc;
	char dir[IVT_XS_WATCH_PATH_MAX];
	unsigned n = 0, kept = 0;
	uint32_t best = 0;
	if (ivt_xs_incoming_path(dir, sizeof(dir), xc->domid, xc->name, 0))
		return -EINVAL;
	char **t = xs_directory(xc->xs, XBT_NULL, dir, &n);
	uint32_t *seen = calloc(n ? n : 1, sizeof(*seen));
	for (unsigned i = 0; t && seen && i < n; i++) {
		uint64_t v;
		if (ivt_xs_parse_u64(t[i], strlen(t[i]), UINT32_MAX, &v) || !v)
			continue;
		seen[i] = (uint32_t)v;
		if (!was_taken(xc, (uint32_t)v) && (!best || v < best))
			best = (uint32_t)v;
	}
	/* forget what is gone: ivtd took it back or it was accepted */
	for (unsigned k = 0; seen && k < xc->n_taken; k++) {
		int there = 0;
		for (unsigned i = 0; i < n && !there; i++)
			there = seen[i] == xc->taken[k];
		if (there)
			xc->taken[kept++] = xc->taken[k];
	}
	if (seen)
		xc->n_taken = kept;
	free(seen);
	free(t);
	if (!best)
		return 0;
	if (xc->n_taken == IVT_XS_TAKEN_MAX)
		memmove(xc->taken, xc->taken + 1, sizeof(xc->taken[0]) * --xc->n_taken);
	xc->taken[xc->n_taken++] = best;
	w->ticket = best;
	return 1;
}

static int incoming_check(void *arg)
{
	struct incoming_wait *w = arg;
	pthread_mutex_lock(&w->xc->lock);
	int rc = incoming_check_locked(w);
	pthread_mutex_unlock(&w->xc->lock);
	return rc;
}

static void incoming_drain(void *arg)
{
	struct xs_conn *xc = ((struct incoming_wait *)arg)->xc;
	xs_hub_take(xc->hub, &xc->sub);
}

static int xs_conn_incoming(void *impl, uint32_t *ticket, struct ivt_ring_offer *offer,
			    int timeout_ms)
{
	offer->has = 0; /* vchan connectors never bring rings */
	offer->nfds = 0;
	offer->ctrl_fd = -1;
	offer->line = 0;
	struct xs_conn *xc = impl;
	if (!xc->multi || !xc->subscribed)
		return -ENOTSUP;
	struct incoming_wait w = {.xc = xc};
	xs_hub_take(xc->hub, &xc->sub); /* what we are about to read is news no more */
	int rc = incoming_check(&w);
	if (rc == 0 && timeout_ms != 0)
		rc = ivt_xs_wait_fd(xc->sub.epfd, timeout_ms, incoming_check, incoming_drain, &w);
	if (rc == 0 || rc == -ETIMEDOUT)
		return -EAGAIN;
	if (rc < 0) {
		ivt_reason_set(rc, "waiting for connectors in XenStore: %s", strerror(-rc));
		return rc;
	}
	*ticket = w.ticket;
	/* there may be more: stay readable until a call finds none */
	xs_hub_poke(&xc->sub);
	return 0;
}

static void xs_conn_close(void *impl, int graceful)
{
	struct xs_conn *xc = impl;
	/* Removing the request is how a guest closes: ivtd tells the peer.
	 * A slot goes as a whole (nobody else uses it). */
	const char *gone = xc->slot ? xc->node : xc->req_path;
	if (xc->requested && !xs_rm(xc->xs, XBT_NULL, gone) && errno != ENOENT)
		IVT_WARN(WHO, "cannot remove %s: %s", gone, strerror(errno));
	if (xc->subscribed)
		xs_hub_sub_del(xc->hub, &xc->sub);
	xs_hub_put(xc->hub);
	pthread_mutex_destroy(&xc->lock);
	free(xc);
}

static int xs_conn_tcp_addr(void *impl, const char *addr)
{
	struct xs_conn *xc = impl;
	if (ivt_ip_parse(addr, strlen(addr), 0, &xc->addr))
		return -EINVAL;
	xc->has_addr = 1;
	return 0;
}

static const struct ivt_ctrl_ops xs_ops = {
	.name = "xenstore",
	.accepts_many = 1,
	.open = xs_conn_open,
	.drain = xs_conn_drain,
	.peer_event = xs_conn_peer_event,
	.gone = xs_conn_gone,
	.fd = xs_conn_fd,
	.oob = xs_conn_oob,
	.peer_identity = xs_conn_peer_identity,
	.peer_flags = xs_conn_peer_flags,
	.tcp_addr = xs_conn_tcp_addr,
	.incoming = xs_conn_incoming,
	.close = xs_conn_close,
};

int ivt_ctrl_xs_new(struct ivt_ctrl *c)
{
	struct xs_conn *xc = calloc(1, sizeof(*xc));
	if (!xc)
		return -ENOMEM;
	int rc = xs_hub_get(&xc->hub);
	if (rc < 0) {
		free(xc);
		return rc;
	}
	xc->xs = xs_hub_handle(xc->hub);
	xc->domid = xs_hub_domid(xc->hub);
	xc->sub.efd = xc->sub.epfd = -1;
	pthread_mutex_init(&xc->lock, NULL);
	xc->oob = (struct ivt_oob){.ctx = xc, .send = oob_none_send, .recv = oob_none_recv};
	c->ops = &xs_ops;
	c->impl = xc;
	return 0;
}
