/* SPDX-License-Identifier: MIT */
/* The broker's part of `ivtctl status`: channels, and each listener with
 * the connections it accepted or queued under it. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "broker_int.h"
#include "common/textbuf.h"

static const char *state_name(const struct channel *ch)
{
	switch (ch->state) {
	case CS_LISTENING: return "listening";
	case CS_DEFERRED: return "listening";
	case CS_WAITING: return "waiting";
	case CS_RING: return "queued";
	case CS_QUEUED: return "queued";
	case CS_CONNECTED: return "connected";
	case CS_HALF: return ch->client ? "listener-gone" : "client-gone";
	case CS_ATTACHING: return "attaching"; /* re-attached after a restart, peer not yet */
	}
	return "?";
}

struct ivt_identity_text broker_listener_label(const struct channel *ch)
{
	struct ivt_identity_text t = ivt_identity_text(&ch->server_id);
	if (ch->kind == CHAN_SERVICE)
		snprintf(t.s, sizeof(t.s), "(ivtd)");
	else if (ch->kind == CHAN_REMOTE)
		snprintf(t.s, sizeof(t.s), "(%.*s)", IVT_IDENTITY_HOST_MAX, ch->server_id.host);
	return t;
}

/* Room kept for the "... and N more" line. */
#define TAIL_ROOM 200

static int row(struct ivt_textbuf *o, const struct channel *c, const char *indent, time_t now)
{
	if (o->full || ivt_textbuf_room(o) < TAIL_ROOM)
		return 0;
	char name[IVT_NAME_MAX + 8];
	snprintf(name, sizeof(name), "%s%s", indent, c->name);
	ivt_textbuf_printf(o, "%-24s %-8s %10" PRIu64 " %-12s %-12s %-13s %lds\n", name,
			   c->backend, c->ring_size, broker_listener_label(c).s,
			   IVT_ID_S(&c->client_id), state_name(c),
			   (long)(now - c->since));
	return 1;
}

/* Most identities one listener's share line names; the rest are summed. */
#define SHARE_IDS 8

/* Under a listener with connectors not yet accepted: each connector
 * identity's places of the backlog (queued, at most its share) and its
 * connectors waiting beyond them (issue 11: backlog_per_identity). */
static void share_line(struct ivt_textbuf *o, const struct channel *lis)
{
	struct {
		const struct ivt_identity *who;
		uint32_t queued, waiting;
	} ids[SHARE_IDS];
	size_t n = 0;
	int others = 0;
	uint32_t other_q = 0, other_w = 0;
	for (const struct channel *k = lis->u.lis.pending; k; k = k->u.conn.sib_next) {
		if (k->state != CS_QUEUED && k->state != CS_WAITING)
			continue;
		int q = k->state == CS_QUEUED;
		size_t i = 0;
		while (i < n && !ivt_identity_equal(ids[i].who, &k->client_id))
			i++;
		if (i == n && n == SHARE_IDS) { /* one pass: the rest summed */
			others = 1;
			other_q += q;
			other_w += !q;
			continue;
		}
		if (i == n)
			ids[n++] = (__typeof__(ids[0])){.who = &k->client_id};
		ids[i].queued += q;
		ids[i].waiting += !q;
	}
	if (!n)
		return;
	ivt_textbuf_printf(o, "  per identity (share %u):", lis->u.lis.per_id);
	for (size_t i = 0; i < n; i++)
		ivt_textbuf_printf(o, "%s %s %u queued %u waiting", i ? "," : "",
				   IVT_ID_S(ids[i].who), ids[i].queued, ids[i].waiting);
	if (others)
		ivt_textbuf_printf(o, ", others %u queued %u waiting", other_q, other_w);
	ivt_textbuf_printf(o, "\n");
}

size_t ivt_broker_status(const struct ivt_broker *b, char *buf, size_t len)
{
	struct ivt_textbuf o;
	ivt_textbuf_init(&o, buf, len);
	const struct ivt_broker_stats *s = &b->stats;
	ivt_textbuf_printf(&o, "policy: %s (%zu rules)\n", b->policy ? b->policy->source : "(none)",
			   b->policy ? b->policy->n_channels : 0);
	ivt_textbuf_printf(&o, "backends:");
	for (size_t i = 0; i < b->n_backends; i++)
		ivt_textbuf_printf(&o, " %s=%s", b->backends[i].name,
				   b->backends[i].available ? "yes" : "no");
	ivt_textbuf_printf(&o, "\nrequests %" PRIu64 ", granted %" PRIu64 ", refused %" PRIu64
			       ", setups relayed %" PRIu64 ", ends died %" PRIu64
			       ", retries %" PRIu64 "\n",
			   s->requests, s->granted, s->refused, s->setups_relayed, s->peers_died,
			   s->retries);
	ivt_textbuf_printf(&o, "%-24s %-8s %10s %-12s %-12s %-13s %s\n", "CHANNEL", "BACKEND",
			   "RING", "LISTENER", "CLIENT", "STATE", "AGE");
	size_t total = 0, shown = 0;
	time_t now = time(NULL);
	for (const struct channel *c = b->channels; c; c = c->next) {
		/* connections are listed under their listener; a client
		 * lingering after its one-shot listener left is not listed,
		 * but a client re-attaching ahead of its listener is */
		if (c->kind == CHAN_CONN ? c->u.conn.parent != NULL
					 : !c->server && !c->server_detached &&
						   c->state != CS_ATTACHING)
			continue;
		total++;
		if (c->kind != CHAN_LISTENER) {
			shown += row(&o, c, "", now);
			continue;
		}
		if (!o.full && ivt_textbuf_room(&o) >= TAIL_ROOM) {
			ivt_textbuf_printf(&o, "%-24s %-8s %10" PRIu64 " %-12s %-12s %-13s %lds\n",
					   c->name, c->backend, c->ring_size, IVT_ID_S(&c->server_id), "-",
					   "listener", (long)(now - c->since));
			ivt_textbuf_printf(&o, "  %u connected (max %u), %u queued (backlog %u)\n",
					   c->u.lis.live, c->u.lis.max_conns, c->u.lis.queued,
					   c->u.lis.backlog);
			if (c->u.lis.lines_granted)
				ivt_textbuf_printf(&o, "  lines: %" PRIu64 " granted, %" PRIu64
						       " connections accepted over them (%u held) and %"
						       PRIu64 " offers dropped (as the listener last "
						       "reported)\n",
						   c->u.lis.lines_granted, c->u.lis.line_accepts,
						   c->u.lis.line_held, c->u.lis.line_refused);
			share_line(&o, c);
			shown++;
		}
		for (const struct channel *k = b->channels; k; k = k->next)
			if (k->kind == CHAN_CONN && k->u.conn.parent == c) {
				total++;
				shown += row(&o, k, "  ", now);
			}
	}
	if (shown < total) {
		o.full = 0;
		ivt_textbuf_printf(&o, "... and %zu more channels\n", total - shown);
	}
	return o.len;
}
