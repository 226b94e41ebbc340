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

#define WHO "libivt"
#define TOKEN_RESPONSE "ivt:response"
#define TOKEN_EVENT "ivt:event"
/* Watch events handled per drain: the queue is ours, but stay bounded. */
#define MAX_EVENTS_PER_DRAIN 64

struct xs_conn {
	struct xs_handle *xs;
	uint32_t domid; /* ours, read from XenStore */
	int listen;
	int watching;   /* response and event watches set */
	int requested;  /* our request node exists: remove it on close */
	uint32_t seq;   /* of the current request */
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

/* Take the queued watch firings; returns which tokens fired (bit 0:
 * response, bit 1: event). */
static unsigned take_watch_events(struct xs_conn *xc)
{
	unsigned fired = 0;
	char **w;
	for (int i = 0; i < MAX_EVENTS_PER_DRAIN && (w = xs_check_watch(xc->xs)); i++) {
		if (!strcmp(w[XS_WATCH_TOKEN], TOKEN_RESPONSE))
			fired |= 1;
		else if (!strcmp(w[XS_WATCH_TOKEN], TOKEN_EVENT))
			fired |= 2;
		free(w);
	}
	return fired;
}

/* ---- opening ------------------------------------------------------------- */

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

static void open_drain(void *arg) { take_watch_events(((struct open_wait *)arg)->xc); }

static int watch_nodes(struct xs_conn *xc)
{
	if (xc->watching)
		return 0;
	if (!xs_watch(xc->xs, xc->resp_path, TOKEN_RESPONSE) ||
	    !xs_watch(xc->xs, xc->event_path, TOKEN_EVENT)) {
		int e = errno ? errno : EIO;
		ivt_reason_set(-e, "cannot watch %s in XenStore: %s", xc->resp_path, strerror(e));
		xs_unwatch(xc->xs, xc->resp_path, TOKEN_RESPONSE);
		return -e;
	}
	xc->watching = 1;
	return 0;
}

static int write_request(struct xs_conn *xc, const struct ivt_ctrl_open *req)
{
	char value[IVT_XS_REQUEST_MAX + 1];
	const char *backend = req->backend[0] ? req->backend : NULL;
	if (backend && !ivt_plugin_name_valid(backend, strlen(backend))) {
		ivt_reason_set(-EINVAL, "backend name '%s' is not 1..%d of [a-z0-9_]", backend,
			       IVT_BACKEND_NAME_MAX);
		return -EINVAL;
	}
	xc->seq = fresh_seq(xc->seq);
	int rc = ivt_xs_format_request(value, sizeof(value), xc->listen, backend, req->ring_size, -1,
				       xc->seq);
	if (rc) {
		ivt_reason_set(-EINVAL, "ring size %llu is larger than XenStore requests allow",
			       (unsigned long long)req->ring_size);
		return -EINVAL;
	}
	if (!xs_write(xc->xs, XBT_NULL, xc->req_path, value, strlen(value))) {
		int e = errno ? errno : EIO;
		ivt_reason_set(-e, "cannot write %s: %s", xc->req_path, strerror(e));
		return -e;
	}
	xc->requested = 1;
	IVT_DEBUG(WHO, "%s = \"%s\"", xc->req_path, value);
	return 0;
}

static int xs_conn_open(void *impl, const struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok,
			int timeout_ms)
{
	struct xs_conn *xc = impl;
	if (!ivt_name_valid(req->name)) {
		ivt_reason_set(-EINVAL, "invalid channel name");
		return -EINVAL;
	}
	if (ivt_xs_end_path(xc->req_path, sizeof(xc->req_path), xc->domid, req->name,
			    IVT_XS_LEAF_REQUEST) ||
	    ivt_xs_end_path(xc->resp_path, sizeof(xc->resp_path), xc->domid, req->name,
			    IVT_XS_LEAF_RESPONSE) ||
	    ivt_xs_end_path(xc->event_path, sizeof(xc->event_path), xc->domid, req->name,
			    IVT_XS_LEAF_EVENT)) {
		ivt_reason_set(-ENAMETOOLONG, "XenStore path for '%s' too long", req->name);
		return -ENAMETOOLONG;
	}
	xc->listen = !!(req->flags & IVT_LISTEN);
	atomic_store(&xc->peer_event, 0);
	xc->last_event[0] = '\0';
	/* Watch before writing, so the answer cannot slip past us. */
	int rc = watch_nodes(xc);
	if (rc == 0)
		rc = write_request(xc, req);
	if (rc)
		return rc;

	struct open_wait w = {.xc = xc, .ok = ok};
	rc = ivt_xs_wait(xc->xs, timeout_ms, open_check, open_drain, &w);
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
	if (take_watch_events(xc) & 2)
		read_event(xc);
	pthread_mutex_unlock(&xc->lock);
	return 0;
}

static int xs_conn_peer_event(void *impl) { return atomic_load(&((struct xs_conn *)impl)->peer_event); }

/* XenStore stays: ivtd restarting does not take the node path away. */
static int xs_conn_gone(void *impl) { return 0; }

static int xs_conn_fd(void *impl) { return xs_fileno(((struct xs_conn *)impl)->xs); }

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

/* XenStore ends carry no identity yet (docs/xenstore.md). */
static const char *xs_conn_peer_identity(void *impl) { return ""; }

static int xs_conn_incoming(void *impl, uint32_t *ticket, int timeout_ms)
{
	ivt_reason_set(-ENOTSUP, "listeners that accept many connections (ivt_listen) are not "
				 "available over XenStore yet; use ivt_open(IVT_LISTEN)");
	return -ENOTSUP;
}

static void xs_conn_close(void *impl, int graceful)
{
	struct xs_conn *xc = impl;
	/* Removing the request is how a guest closes: ivtd tells the peer. */
	if (xc->requested && !xs_rm(xc->xs, XBT_NULL, xc->req_path) && errno != ENOENT)
		IVT_WARN(WHO, "cannot remove %s: %s", xc->req_path, strerror(errno));
	if (xc->watching) {
		xs_unwatch(xc->xs, xc->resp_path, TOKEN_RESPONSE);
		xs_unwatch(xc->xs, xc->event_path, TOKEN_EVENT);
	}
	xs_close(xc->xs);
	pthread_mutex_destroy(&xc->lock);
	free(xc);
}

static const struct ivt_ctrl_ops xs_ops = {
	.name = "xenstore",
	.open = xs_conn_open,
	.drain = xs_conn_drain,
	.peer_event = xs_conn_peer_event,
	.gone = xs_conn_gone,
	.fd = xs_conn_fd,
	.oob = xs_conn_oob,
	.peer_identity = xs_conn_peer_identity,
	.incoming = xs_conn_incoming,
	.close = xs_conn_close,
};

int ivt_ctrl_xs_new(struct ivt_ctrl *c)
{
	unsigned len = 0;
	struct xs_conn *xc = calloc(1, sizeof(*xc));
	if (!xc)
		return -ENOMEM;
	xc->xs = xs_open(0);
	if (!xc->xs) {
		int e = errno;
		free(xc);
		ivt_reason_set(-ECONNREFUSED, "cannot reach XenStore: %s", strerror(e));
		return -ECONNREFUSED;
	}
	/* Relative path: xenstored resolves it in our own /local/domain/<d>. */
	char *v = xs_read(xc->xs, XBT_NULL, "domid", &len);
	if (!v || ivt_xs_parse_domid(v, len, &xc->domid)) {
		free(v);
		xs_close(xc->xs);
		free(xc);
		ivt_reason_set(-ECONNREFUSED, "XenStore does not say our domain id (not a Xen domain?)");
		return -ECONNREFUSED;
	}
	free(v);
	/* created now, so watches fired later make it readable */
	if (xs_fileno(xc->xs) < 0) {
		xs_close(xc->xs);
		free(xc);
		ivt_reason_set(-ENOMEM, "cannot create the XenStore watch pipe");
		return -ENOMEM;
	}
	pthread_mutex_init(&xc->lock, NULL);
	xc->oob = (struct ivt_oob){.ctx = xc, .send = oob_none_send, .recv = oob_none_recv};
	c->ops = &xs_ops;
	c->impl = xc;
	return 0;
}
