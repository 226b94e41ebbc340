/* SPDX-License-Identifier: MIT */
/*
 * A restarted ivtd takes over what the previous one left in XenStore
 * (docs/xenstore.md, "Restart"): every request whose response already
 * answers it (same seq, a node only dom0 can have written) is adopted,
 * not handled as new. ok answers go to the broker's adopt callback with
 * the grant read back from the response, so the channel lives on under
 * its old id and a later close or death is told to the other end; error
 * answers stay refused. Requests without an answer are new, as before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry_xs_int.h"
#include "xs_store.h"

/* Adopted ends per registry start, all domains together. */
#define MAX_ADOPTED 4096

struct found {
	struct xs_end *e;
	struct ivt_xs_response resp;
	struct ivt_reg_adopted a;
};

/* Was path written by dom0 (or ivtd): a guest cannot own a node as dom0. */
static int owned_by_dom0(struct xs_registry *r, const char *path)
{
	unsigned n = 0;
	struct xs_permissions *p = xs_get_permissions(r->xs, XBT_NULL, path, &n);
	int ok = p && n > 0 && p[0].id == 0;
	free(p);
	return ok;
}

/* Parsed value of an answer node with our seq, owned by dom0. 0 or -1. */
static int read_answer(struct xs_registry *r, const struct xs_end *e, const char *leaf,
		       struct ivt_xs_response *resp, struct ivt_xs_event *ev)
{
	char path[IVT_XS_WATCH_PATH_MAX], v[IVT_XS_RESPONSE_MAX + 2], why[160];
	size_t len = 0;
	if (ivt_xs_slot_path(path, sizeof(path), e->base.domid, e->name, e->slot, leaf) ||
	    ivt_xs_read_value(r->xs, XBT_NULL, path, v, sizeof(v), &len) ||
	    !owned_by_dom0(r, path))
		return -1;
	if (resp)
		return ivt_xs_parse_response(v, len, resp, why, sizeof(why)) == 0 &&
			       resp->has_seq && resp->seq == e->req.seq ? 0 : -1;
	return ivt_xs_parse_event(v, len, ev, why, sizeof(why)) == 0 && ev->has_seq &&
		       ev->seq == e->req.seq ? 0 : -1;
}

/* Tickets still in sight under a listener: its offers and accepted slots. */
static uint32_t next_ticket(struct xs_registry *r, const struct xs_end *l)
{
	char dir[IVT_XS_WATCH_PATH_MAX];
	uint32_t top = 0;
	for (int pass = 0; pass < 2; pass++) {
		unsigned n = 0;
		if (pass ? ivt_xs_incoming_path(dir, sizeof(dir), l->base.domid, l->name, 0)
			 : ivt_xs_end_path(dir, sizeof(dir), l->base.domid, l->name, NULL))
			continue;
		char **t = xs_list_dir(r, l->base.domid, dir, &n);
		for (unsigned i = 0; t && i < n; i++) {
			uint64_t v;
			if (ivt_xs_parse_u64(t[i], strlen(t[i]), UINT32_MAX - 1, &v) == 0 && v > top)
				top = (uint32_t)v;
		}
		free(t);
	}
	/* the old offers were the old ivtd's: their connectors ask anew */
	if (ivt_xs_incoming_path(dir, sizeof(dir), l->base.domid, l->name, 0) == 0)
		xs_rm(r->xs, XBT_NULL, dir);
	return top + 1;
}

/* The request at (domid, name, slot), if a previous ivtd answered it:
 * entered in the table (f->e) with what it was granted. 1 adopted. */
static int try_adopt(struct xs_registry *r, uint32_t domid, const char *name, uint32_t slot,
		     struct found *f)
{
	char path[IVT_XS_WATCH_PATH_MAX], raw[IVT_XS_REQUEST_MAX + 2], why[160];
	size_t len = 0;
	struct ivt_xs_request req;
	struct xs_end probe;
	memset(f, 0, sizeof(*f));
	if (xs_find_end(r, domid, name, slot) ||
	    ivt_xs_slot_path(path, sizeof(path), domid, name, slot, IVT_XS_LEAF_REQUEST) ||
	    ivt_xs_read_value(r->xs, XBT_NULL, path, raw, sizeof(raw), &len) ||
	    ivt_xs_parse_request(raw, len, &req, why, sizeof(why)) || !req.has_seq)
		return 0;
	memset(&probe, 0, sizeof(probe));
	probe.base.domid = domid;
	probe.slot = slot;
	probe.req = req;
	snprintf(probe.name, sizeof(probe.name), "%s", name);
	if (read_answer(r, &probe, IVT_XS_LEAF_RESPONSE, &f->resp, NULL))
		return 0; /* never answered: a new request */
	struct xs_end *e = xs_end_new(r, domid, name, slot, raw, len, &req);
	if (!e)
		return 0;
	f->e = e;
	if (!f->resp.ok)
		return 1; /* refused: stays so until the guest removes it */
	struct ivt_xs_event ev;
	if (read_answer(r, e, IVT_XS_LEAF_EVENT, NULL, &ev) == 0)
		f->a.told = ev.event;
	f->a.chan_id = f->resp.chan_id;
	f->a.peer_domid = f->resp.peer_domid;
	f->a.ring_size = f->resp.ring_size;
	e->open.message = f->resp.message; /* the mode ivtd answered, not the wish */
	snprintf(f->a.backend, sizeof(f->a.backend), "%s", f->resp.backend);
	snprintf(f->a.xs_path, sizeof(f->a.xs_path), "%s", f->resp.path);
	if (req.listen && !req.multi && ivt_xs_vchan_path_ok(f->resp.path, domid))
		snprintf(e->vchan_path, sizeof(e->vchan_path), "%s", f->resp.path);
	if (req.multi)
		f->a.next_ticket = next_ticket(r, e);
	return 1;
}

/* Both ends adopted, and each names the other. */
static int pair_of(const struct found *x, const struct found *y)
{
	return x != y && y->e && y->resp.ok && !y->e->req.multi &&
	       x->a.chan_id == y->a.chan_id && x->e->req.listen != y->e->req.listen &&
	       x->a.peer_domid == y->e->base.domid && y->a.peer_domid == x->e->base.domid &&
	       !strcmp(x->e->name, y->e->name);
}

static void collect(struct xs_registry *r, uint32_t domid, struct found *fs, unsigned *nf)
{
	char dir[IVT_XS_WATCH_PATH_MAX];
	unsigned n = 0;
	if (ivt_xs_ivt_dir(dir, sizeof(dir), domid))
		return;
	char **names = xs_list_dir(r, domid, dir, &n);
	char name[IVT_NAME_MAX + 1];
	for (unsigned i = 0; names && i < n && *nf < MAX_ADOPTED; i++) {
		if (ivt_xs_node_name(name, sizeof(name), names[i], strlen(names[i])))
			continue;
		*nf += try_adopt(r, domid, name, 0, &fs[*nf]);
		unsigned m = 0;
		if (ivt_xs_end_path(dir, sizeof(dir), domid, name, NULL))
			continue;
		char **slots = xs_list_dir(r, domid, dir, &m);
		for (unsigned k = 0; slots && k < m && *nf < MAX_ADOPTED; k++) {
			uint64_t s;
			if (ivt_xs_parse_u64(slots[k], strlen(slots[k]), UINT32_MAX, &s) == 0 && s)
				*nf += try_adopt(r, domid, name, (uint32_t)s, &fs[*nf]);
		}
		free(slots);
	}
	free(names);
}

void xs_adopt_all(struct xs_registry *r)
{
	struct found *fs = calloc(MAX_ADOPTED, sizeof(*fs));
	unsigned nf = 0, told = 0;
	if (!fs)
		return;
	for (struct xs_domain *d = r->doms; d; d = d->next)
		collect(r, d->domid, fs, &nf);
	for (unsigned i = 0; i < nf; i++) {
		struct found *f = &fs[i];
		if (!f->resp.ok || f->e->req.multi)
			continue;
		int paired = 0;
		for (unsigned k = 0; k < nf && !paired; k++)
			paired = pair_of(f, &fs[k]);
		if (!paired) /* its other end went while ivtd was away */
			f->a.alone = ivt_xs_domain_alive(r->xs, f->a.peer_domid) ? IVT_PEER_CLOSED
										 : IVT_PEER_DIED;
	}
	/* servers first, multi listeners before their accepted ends */
	for (int pass = 0; pass < 3 && r->base.cb.adopt; pass++)
		for (unsigned i = 0; i < nf; i++) {
			struct found *f = &fs[i];
			int want = f->e->req.multi ? 0 : f->e->req.listen ? 1 : 2;
			if (!f->resp.ok || want != pass)
				continue;
			r->base.cb.adopt(r->base.cb.arg, &f->e->base, &f->e->open, &f->a);
			told += f->a.alone != 0;
		}
	if (nf)
		IVT_INFO(WHO, "took over %u end(s) a previous ivtd answered (%u whose peer went "
			      "meanwhile)", nf, told);
	free(fs);
}
