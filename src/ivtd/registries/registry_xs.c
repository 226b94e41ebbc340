/* SPDX-License-Identifier: MIT */
/*
 * The XenStore registry: guests advertise channel ends under their own
 * /local/domain/<d>/data/ivt/<name>/request, ivtd answers next to it.
 * Protocol and the reasons behind it: docs/xenstore.md.
 *
 * Watches: one per domain on /local/domain/<d>/data/ivt (set for every
 * domain found at start and at each @introduceDomain), plus
 * @introduceDomain and @releaseDomain. A per-domain watch only wakes ivtd
 * for ivt traffic, not for every frontend or balloon write of every guest.
 * Its first firing (XenStore fires once on registration) scans requests
 * that were written before ivtd started.
 *
 * Trust: the domain id comes from the node's PATH, which XenStore only
 * lets that domain (or dom0) write; values are parsed by common/xs_request.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <xenstore.h>

#include "common/log.h"
#include "registry_xs_int.h"
#include "xs_store.h"

struct xs_end *xs_find_end(struct xs_registry *r, uint32_t domid, const char *name,
			       uint32_t slot)
{
	for (struct xs_end *e = r->ends; e; e = e->next)
		if (e->base.domid == domid && e->slot == slot && !strcmp(e->name, name))
			return e;
	return NULL;
}

int xs_count_ends(struct xs_registry *r, uint32_t domid)
{
	int n = 0;
	for (struct xs_end *e = r->ends; e; e = e->next)
		n += e->base.domid == domid;
	return n;
}


/* ---- answers ------------------------------------------------------------ */

/* Write leaf (a path below the end's node, or a full path when it starts
 * with '/') while the end's request exists. */
static int answer(struct xs_registry *r, uint32_t domid, const char *name, uint32_t slot,
		  const char *leaf, const char *value)
{
	char path[IVT_XS_WATCH_PATH_MAX], guard[IVT_XS_WATCH_PATH_MAX];
	if ((leaf[0] == '/' ? snprintf(path, sizeof(path), "%s", leaf) >= (int)sizeof(path)
			    : ivt_xs_slot_path(path, sizeof(path), domid, name, slot, leaf) != 0) ||
	    ivt_xs_slot_path(guard, sizeof(guard), domid, name, slot, IVT_XS_LEAF_REQUEST))
		return -EINVAL;
	int rc = ivt_xs_write_answer(r->xs, guard, path, value, domid);
	if (rc == -ENOENT)
		IVT_DEBUG(WHO, "dom%u/%s withdrew its request before the %s", domid, name, path);
	else if (rc)
		IVT_WARN(WHO, "cannot write %s: %s", path, strerror(-rc));
	return rc;
}

/* Refuse a request we never handed to the broker. */
static void refuse(struct xs_registry *r, uint32_t domid, const char *name, uint32_t slot,
		   int err, const char *why, const struct ivt_xs_request *req)
{
	static struct ivt_ratelimit rl = IVT_RATELIMIT_INIT(10000, 5); /* a guest's at will */
	char v[IVT_XS_RESPONSE_MAX + 1];
	ivt_log_limited(&rl, IVT_LOG_INFO, WHO, "dom%u/%s: refused: %s", domid, name, why);
	if (ivt_xs_format_error(v, sizeof(v), err, why, req && req->has_seq, req ? req->seq : 0) ==
	    0)
		answer(r, domid, name, slot, IVT_XS_LEAF_RESPONSE, v);
}

static int xs_reply_ok(struct ivt_reg_end *be, const struct ivt_ctrl_open_ok *ok)
{
	struct xs_end *e = end_of(be);
	struct xs_registry *r = reg_of(be->reg);
	char v[IVT_XS_RESPONSE_MAX + 1];
	int rc;

	/* The guest may insist on a peer; the broker's match must agree. */
	if (e->req.has_peer && ok->peer_domid != e->req.peer_domid) {
		char why[96];
		snprintf(why, sizeof(why), "the listener is dom%u, the request asked for dom%u",
			 ok->peer_domid, e->req.peer_domid);
		refuse(r, be->domid, e->name, e->slot, ECONNREFUSED, why, &e->req);
		return -ECONNREFUSED;
	}
	/* A vchan ring lives in the server's subtree: ours if we listen, the
	 * peer's if we connect. Anything else is a broker bug; don't publish. */
	if (ok->xs_path[0] &&
	    !ivt_xs_vchan_path_ok(ok->xs_path, e->req.listen ? be->domid : ok->peer_domid)) {
		IVT_ERR(WHO, "dom%u/%s: refusing to publish vchan path '%.*s'", be->domid, e->name,
			IVT_XS_PATH_MAX, ok->xs_path);
		refuse(r, be->domid, e->name, e->slot, EINVAL, "internal error: bad vchan path",
		       &e->req);
		return -EINVAL;
	}
	/* half-close: as PEER_INFO tells a local end, in the ok ("halfclose=1") */
	struct ivt_ctrl_open_ok granted = *ok;
	if (be->halfclose && e->peer_halfclose)
		granted.flags |= IVT_CTRL_OK_HALFCLOSE;
	rc = ivt_xs_format_ok(v, sizeof(v), &granted, e->req.has_seq, e->req.seq);
	if (rc)
		return rc;
	/* A fresh answer: drop the previous incarnation's event first. */
	char ev[IVT_XS_WATCH_PATH_MAX];
	if (ivt_xs_slot_path(ev, sizeof(ev), be->domid, e->name, e->slot, IVT_XS_LEAF_EVENT) == 0)
		xs_rm(r->xs, XBT_NULL, ev);
	rc = answer(r, be->domid, e->name, e->slot, IVT_XS_LEAF_RESPONSE, v);
	if (rc == 0 && e->req.listen && ok->xs_path[0])
		snprintf(e->vchan_path, sizeof(e->vchan_path), "%s", ok->xs_path);
	return rc;
}

static int xs_reply_error(struct ivt_reg_end *be, int err, const char *msg)
{
	struct xs_end *e = end_of(be);
	char v[IVT_XS_RESPONSE_MAX + 1];
	int rc = ivt_xs_format_error(v, sizeof(v), err, msg, e->req.has_seq, e->req.seq);
	return rc ? rc
		  : answer(reg_of(be->reg), be->domid, e->name, e->slot, IVT_XS_LEAF_RESPONSE, v);
}

static int xs_relay_setup(struct ivt_reg_end *be, const void *blob, size_t len, const int *fds,
			  int nfds)
{
	return -ENOTSUP; /* vchan publishes its grants in XenStore itself */
}

static int xs_notify_peer(struct ivt_reg_end *be, int event, uint32_t peer_domid)
{
	struct xs_end *e = end_of(be);
	char v[64];
	int rc = ivt_xs_format_event(v, sizeof(v), event, peer_domid, e->req.has_seq, e->req.seq);
	return rc ? rc : answer(reg_of(be->reg), be->domid, e->name, e->slot, IVT_XS_LEAF_EVENT, v);
}

/* A connector waits for this listener: in/<ticket> = "peer=<domid>", one
 * dom0-owned node per queued connector (at most the policy's backlog). */
static int xs_incoming(struct ivt_reg_end *be, uint32_t ticket, const struct ivt_identity *who,
		       uint32_t peer_domid)
{
	struct xs_end *e = end_of(be);
	char path[IVT_XS_WATCH_PATH_MAX], v[32];
	if (ivt_xs_incoming_path(path, sizeof(path), be->domid, e->name, ticket))
		return -EINVAL;
	snprintf(v, sizeof(v), "peer=%u", peer_domid);
	return answer(reg_of(be->reg), be->domid, e->name, e->slot, path, v);
}

static void xs_withdrawn(struct ivt_reg_end *be, uint32_t ticket)
{
	struct xs_end *e = end_of(be);
	char path[IVT_XS_WATCH_PATH_MAX];
	if (ivt_xs_incoming_path(path, sizeof(path), be->domid, e->name, ticket) == 0)
		xs_rm(reg_of(be->reg)->xs, XBT_NULL, path);
}

/* ---- ends --------------------------------------------------------------- */

/* Remove what ivtd wrote for an end (and a server's ring nodes, which a
 * crashed server leaves behind); the guest's own nodes are its business. */
static void remove_nodes(struct xs_registry *r, struct xs_end *e)
{
	const char *leaves[] = {IVT_XS_LEAF_RESPONSE, IVT_XS_LEAF_EVENT};
	char path[IVT_XS_WATCH_PATH_MAX];
	for (size_t i = 0; i < 2; i++)
		if (ivt_xs_slot_path(path, sizeof(path), e->base.domid, e->name, e->slot,
				     leaves[i]) == 0)
			xs_rm(r->xs, XBT_NULL, path);
	if (e->open.multi && ivt_xs_incoming_path(path, sizeof(path), e->base.domid, e->name, 0) == 0)
		xs_rm(r->xs, XBT_NULL, path);
	if (e->vchan_path[0] && ivt_xs_vchan_path_ok(e->vchan_path, e->base.domid))
		xs_rm(r->xs, XBT_NULL, e->vchan_path);
}

static void end_gone(struct xs_registry *r, struct xs_end *e, int graceful)
{
	IVT_INFO(WHO, "dom%u/%s/%u: %s", e->base.domid, e->name, e->slot,
		 graceful ? "closed" : "domain died");
	for (struct xs_end **p = &r->ends; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			break;
		}
	if (r->base.cb.gone)
		r->base.cb.gone(r->base.cb.arg, &e->base, graceful);
	remove_nodes(r, e);
	free(e);
}

struct xs_end *xs_end_new(struct xs_registry *r, uint32_t domid, const char *name, uint32_t slot,
			  const char *raw, size_t raw_len, const struct ivt_xs_request *req)
{
	if (xs_count_ends(r, domid) >= MAX_ENDS_PER_DOMAIN) {
		refuse(r, domid, name, slot, EMFILE, "too many channel ends for this domain", req);
		return NULL;
	}
	char open_name[IVT_NAME_MAX + 1], why[160];
	struct ivt_xs_request scoped = *req;
	int rc = xs_tcp_scope(r, domid, name, &scoped, open_name, sizeof(open_name), why,
			      sizeof(why));
	if (rc) {
		refuse(r, domid, name, slot, -rc, why, req);
		return NULL;
	}
	struct xs_end *e = calloc(1, sizeof(*e));
	if (!e) {
		refuse(r, domid, name, slot, ENOMEM, "out of memory", req);
		return NULL;
	}
	req = &scoped;
	e->slot = slot;
	e->base.reg = &r->base;
	e->base.domid = domid;
	e->base.uid = 0;
	e->base.pid = -1;
	e->base.who = ivt_identity_dom(domid);
	snprintf(e->name, sizeof(e->name), "%s", name);
	memcpy(e->request, raw, raw_len); /* parsed: raw_len <= IVT_XS_REQUEST_MAX */
	e->request[raw_len] = '\0';
	e->req = *req;
	snprintf(e->open.name, sizeof(e->open.name), "%s", open_name);
	snprintf(e->open.backend, sizeof(e->open.backend), "%.*s", IVT_BACKEND_NAME_MAX, req->backend);
	e->open.listen = req->listen;
	e->open.multi = req->multi;
	e->open.ticket = req->ticket;
	e->open.ring_size = req->ring_size;
	e->open.message = req->message;
	e->base.halfclose = req->halfclose;
	e->next = r->ends;
	r->ends = e;
	return e;
}

static void new_end(struct xs_registry *r, uint32_t domid, const char *name, uint32_t slot,
		    const char *raw, size_t raw_len, const struct ivt_xs_request *req)
{
	struct xs_end *e = xs_end_new(r, domid, name, slot, raw, raw_len, req);
	if (!e)
		return;
	IVT_INFO(WHO, "dom%u/%s/%u: %s backend=%s ring=%llu%s%s%s%s", domid, name, slot,
		 req->listen ? "listen" : "connect", req->backend,
		 (unsigned long long)req->ring_size,
		 req->multi ? " multi" : req->ticket ? " accept" : "", req->message ? " message" : "",
		 strcmp(e->open.name, name) ? " as " : "",
		 strcmp(e->open.name, name) ? e->open.name : "");
	if (r->base.cb.request)
		r->base.cb.request(r->base.cb.arg, &r->ends->base, &r->ends->open);
}

/* (Re)read one request node and reconcile it with what we know. */
static void check_request(struct xs_registry *r, uint32_t domid, const char *name, uint32_t slot)
{
	char path[IVT_XS_WATCH_PATH_MAX], raw[IVT_XS_REQUEST_MAX + 2], why[160];
	size_t len = 0;
	struct ivt_xs_request req;
	struct xs_end *e = xs_find_end(r, domid, name, slot);

	if (ivt_xs_slot_path(path, sizeof(path), domid, name, slot, IVT_XS_LEAF_REQUEST))
		return;
	int rc = ivt_xs_read_value(r->xs, XBT_NULL, path, raw, sizeof(raw), &len);
	if (rc == -ENOENT) {
		/* Removed by the guest: graceful, unless the domain is dying. */
		if (e)
			end_gone(r, e, ivt_xs_domain_alive(r->xs, domid));
		return;
	}
	if (rc && rc != -EFBIG) {
		IVT_WARN(WHO, "cannot read %s: %s", path, strerror(-rc));
		return;
	}
	if (rc == 0 && e && len == strlen(e->request) && !memcmp(raw, e->request, len))
		return; /* unchanged: a duplicate event */
	if (e)
		end_gone(r, e, 1); /* rewritten: the old end is over */
	if (rc == -EFBIG) {
		snprintf(why, sizeof(why), "request longer than %d bytes", IVT_XS_REQUEST_MAX);
		refuse(r, domid, name, slot, EINVAL, why, NULL);
		return;
	}
	if (ivt_xs_parse_request(raw, len, &req, why, sizeof(why))) {
		refuse(r, domid, name, slot, EINVAL, why, NULL);
		return;
	}
	new_end(r, domid, name, slot, raw, len, &req);
}

/* The entries of dir, at most MAX_NAMES_SCANNED of them (NULL: none). */
char **xs_list_dir(struct xs_registry *r, uint32_t domid, const char *dir, unsigned *n)
{
	char **names = xs_directory(r->xs, XBT_NULL, dir, n);
	if (names && *n > MAX_NAMES_SCANNED) {
		static struct ivt_ratelimit rl = IVT_RATELIMIT_INIT(10000, 5);
		ivt_log_limited(&rl, IVT_LOG_WARN, WHO, "dom%u has %u entries under %s; looking at %d",
				domid, *n, dir, MAX_NAMES_SCANNED);
		*n = MAX_NAMES_SCANNED;
	}
	return names;
}

/* <name> itself changed (created, or removed with its slots): re-check
 * its known ends and look for requests in new slots. */
static void scan_name(struct xs_registry *r, uint32_t domid, const char *name)
{
	char dir[IVT_XS_WATCH_PATH_MAX];
	unsigned n = 0;
	struct xs_end *e, *next;

	check_request(r, domid, name, 0);
	for (e = r->ends; e; e = next) {
		next = e->next; /* e may go away */
		if (e->base.domid == domid && e->slot && !strcmp(e->name, name))
			check_request(r, domid, name, e->slot);
	}
	if (ivt_xs_end_path(dir, sizeof(dir), domid, name, NULL))
		return;
	char **slots = xs_list_dir(r, domid, dir, &n);
	if (!slots)
		return;
	for (unsigned i = 0; i < n; i++) {
		uint64_t slot;
		if (ivt_xs_parse_u64(slots[i], strlen(slots[i]), UINT32_MAX, &slot) == 0 && slot &&
		    !xs_find_end(r, domid, name, (uint32_t)slot))
			check_request(r, domid, name, (uint32_t)slot);
	}
	free(slots);
}

/* Something above the names changed (e.g. the guest removed its whole
 * data/ivt, or ivtd just started): re-check known ends, and look for new
 * requests. */
static void scan_domain(struct xs_registry *r, uint32_t domid)
{
	char dir[64];
	unsigned n = 0;
	struct xs_end *e, *next;

	for (e = r->ends; e; e = next) {
		next = e->next; /* e may go away */
		if (e->base.domid == domid)
			check_request(r, domid, e->name, e->slot);
	}
	if (ivt_xs_ivt_dir(dir, sizeof(dir), domid))
		return;
	char **names = xs_list_dir(r, domid, dir, &n);
	if (!names)
		return;
	char name[IVT_NAME_MAX + 1];
	for (unsigned i = 0; i < n; i++)
		if (ivt_xs_node_name(name, sizeof(name), names[i], strlen(names[i])) == 0)
			scan_name(r, domid, name);
	free(names);
}

/* ---- domains ------------------------------------------------------------ */

static int count_domains(struct xs_registry *r)
{
	int n = 0;
	for (struct xs_domain *d = r->doms; d; d = d->next)
		n++;
	return n;
}

static struct xs_domain *find_domain(struct xs_registry *r, uint32_t domid)
{
	for (struct xs_domain *d = r->doms; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

static void watch_domain(struct xs_registry *r, uint32_t domid)
{
	char dir[64];
	if (find_domain(r, domid) || ivt_xs_ivt_dir(dir, sizeof(dir), domid))
		return;
	struct xs_domain *d = calloc(1, sizeof(*d));
	if (!d)
		return;
	if (!xs_watch(r->xs, dir, TOKEN_DOMAIN)) {
		IVT_WARN(WHO, "cannot watch %s: %s", dir, strerror(errno));
		free(d);
		return;
	}
	d->domid = domid;
	d->next = r->doms;
	r->doms = d;
	IVT_DEBUG(WHO, "watching %s", dir);
}

/* Start and @introduceDomain: watch every domain we do not watch yet. */
static void rescan_domains(struct xs_registry *r)
{
	unsigned n = 0;
	char **ids = xs_directory(r->xs, XBT_NULL, "/local/domain", &n);
	if (!ids)
		return;
	for (unsigned i = 0; i < n; i++) {
		uint32_t domid;
		if (ivt_xs_parse_domid(ids[i], strlen(ids[i]), &domid) == 0)
			watch_domain(r, domid);
	}
	free(ids);
}

/* @releaseDomain: XenStore does not say which one; find the vanished. */
static void reap_domains(struct xs_registry *r)
{
	for (struct xs_domain **p = &r->doms; *p;) {
		struct xs_domain *d = *p;
		if (ivt_xs_domain_alive(r->xs, d->domid)) {
			p = &d->next;
			continue;
		}
		struct xs_end *e, *next;
		for (e = r->ends; e; e = next) {
			next = e->next;
			if (e->base.domid == d->domid)
				end_gone(r, e, 0);
		}
		char dir[64];
		if (ivt_xs_ivt_dir(dir, sizeof(dir), d->domid) == 0)
			xs_unwatch(r->xs, dir, TOKEN_DOMAIN);
		IVT_INFO(WHO, "dom%u is gone", d->domid);
		*p = d->next;
		free(d);
	}
}

/* ---- watch events ------------------------------------------------------- */

static void on_watch(struct xs_registry *r, const char *path, const char *token)
{
	struct ivt_xs_path_info info;
	if (!strcmp(token, TOKEN_INTRO)) {
		rescan_domains(r);
		return;
	}
	if (!strcmp(token, TOKEN_RELEASE)) {
		reap_domains(r);
		return;
	}
	if (strcmp(token, TOKEN_DOMAIN))
		return;
	switch (ivt_xs_classify_path(path, &info)) {
	case IVT_XS_PATH_REQUEST:
		if (find_domain(r, info.domid))
			check_request(r, info.domid, info.name, info.slot);
		break;
	case IVT_XS_PATH_ANCESTOR:
		if (!find_domain(r, info.domid))
			break;
		if (info.slot)
			check_request(r, info.domid, info.name, info.slot);
		else if (info.name[0])
			scan_name(r, info.domid, info.name);
		else
			scan_domain(r, info.domid);
		break;
	default:
		break; /* our own answers, vchan nodes, anything malformed */
	}
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct xs_registry *r = arg;
	char **ev;
	for (int i = 0; i < MAX_EVENTS_PER_WAKEUP && (ev = xs_check_watch(r->xs)); i++) {
		on_watch(r, ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]);
		free(ev);
	}
}

/* ---- lifecycle ---------------------------------------------------------- */

static void xs_destroy(struct ivt_registry *base)
{
	struct xs_registry *r = reg_of(base);
	if (!r)
		return;
	if (r->ev)
		event_free(r->ev);
	/* The broker is going down with us: no gone() calls. Answers stay in
	 * XenStore; established vchans do not need ivtd. */
	while (r->ends) {
		struct xs_end *e = r->ends;
		r->ends = e->next;
		free(e);
	}
	while (r->doms) {
		struct xs_domain *d = r->doms;
		r->doms = d->next;
		free(d);
	}
	xs_close(r->xs);
	free(r);
}

/* The broker names the other end before it answers (reply_ok): the ok
 * carries whether it takes half-close. */
static int xs_peer_info(struct ivt_reg_end *be, const struct ivt_identity *who,
			uint32_t peer_domid, uint32_t flags)
{
	(void)who;
	(void)peer_domid;
	end_of(be)->peer_halfclose = (flags & IVT_CTRL_PEER_HALFCLOSE) != 0;
	return 0;
}

static const struct ivt_registry_ops xs_ops = {
	.name = "xenstore",
	.reply_ok = xs_reply_ok,
	.reply_error = xs_reply_error,
	.relay_setup = xs_relay_setup,
	.notify_peer = xs_notify_peer,
	.incoming = xs_incoming,
	.withdrawn = xs_withdrawn,
	.peer_info = xs_peer_info,
	.destroy = xs_destroy,
};

struct ivt_registry *ivt_registry_xs_new(struct event_base *base, const struct ivt_broker_cb *cb,
					 char *why, size_t why_len)
{
	struct xs_registry *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	r->base.ops = &xs_ops;
	r->base.cb = *cb;
	errno = 0;
	r->xs = xs_open(0);
	if (!r->xs) {
		snprintf(why, why_len, "cannot reach XenStore: %s",
			 errno ? strerror(errno) : "unknown error");
		free(r);
		return NULL;
	}
	int fd = xs_fileno(r->xs);
	if (fd < 0 || !(r->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, r)) ||
	    event_add(r->ev, NULL) != 0) {
		snprintf(why, why_len, "cannot poll XenStore's watch fd");
		xs_destroy(&r->base);
		return NULL;
	}
	if (!xs_watch(r->xs, "@introduceDomain", TOKEN_INTRO) ||
	    !xs_watch(r->xs, "@releaseDomain", TOKEN_RELEASE)) {
		snprintf(why, why_len, "cannot reach XenStore: watching domain changes: %s",
			 strerror(errno));
		xs_destroy(&r->base);
		return NULL;
	}
	/* Each new domain watch fires once, which scans its requests; what a
	 * previous ivtd answered is taken over first, so it is not new. */
	rescan_domains(r);
	xs_adopt_all(r);
	IVT_INFO(WHO, "XenStore registry up, watching %d domain(s)", count_domains(r));
	return &r->base;
}
