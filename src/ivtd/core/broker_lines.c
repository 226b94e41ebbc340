/* SPDX-License-Identifier: MIT */
/*
 * Direct lines (docs/conn-setup.md): once the policy admitted a
 * connector's identity for a listener that takes connector-made rings,
 * and both hinted IVT_CTRL_OPEN_LINES, ivtd gives the two processes a
 * socket pair of their own. The connector's later connections to that
 * listener send their ring's SETUP on it and never reach ivtd; the
 * listener's libivt takes them as offers of the identity ivtd named.
 * ivtd keeps no end of a line, so it holds no descriptor or memory for
 * these connections (as for detached ends) and does not count them per
 * identity; what it knows is how many lines it granted per listener, and
 * what the listener reports, lazily, of the connections accepted over
 * them. A policy reload makes every listener drop its lines: connectors
 * then come through ivtd, which decides again.
 *
 * A line comes with a process's second connection to a listener, not its
 * first (line_seen.c): most processes that connect once never connect
 * again. And a listener that says it can (IVT_CTRL_OPEN_LINE_BOUND) is
 * told its max_connections with each line: it holds that bound itself
 * over everything it accepts, and reports what it holds over lines, which
 * ivtd counts with its own (has_room) to refuse more, never to allow more.
 */
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "common/log.h"
#include "line_seen.h"

#define WHO "ivtd"

static void fill(struct ivt_ctrl_line *l, const struct channel *lis, uint32_t id,
		 const struct ivt_identity *who, uint32_t domid)
{
	memset(l, 0, sizeof(*l));
	l->line_id = id;
	l->message = lis->message ? 1 : 0;
	l->ring_size = lis->ring_size;
	l->peer_domid = domid;
	snprintf(l->name, sizeof(l->name), "%s", lis->name);
	snprintf(l->backend, sizeof(l->backend), "%s", lis->backend);
	ivt_identity_format(who, l->identity, sizeof(l->identity));
}

/* ch is its process's first connection to lis that could have had a
 * line: remembered, and no line (asked once per connection: a ring
 * connection reaches broker_line_grant when offered and when accepted).
 * A process ivtd cannot tell (no pid) or a table out of memory: a line
 * at once, as before. */
static int first_of_process(struct ivt_broker *b, const struct channel *lis,
			    struct channel *ch)
{
	if (!ch->u.conn.line_asked) {
		ch->u.conn.line_asked = 1;
		if (!b->line_seen)
			b->line_seen = line_seen_new();
		ch->u.conn.line_first = b->line_seen && ch->client->pid > 0 &&
					!line_seen_take(b->line_seen, ch->client->pid, lis->id);
	}
	return ch->u.conn.line_first;
}

void broker_line_grant(struct ivt_broker *b, struct channel *lis, struct channel *ch,
		       struct ivt_reg_end *to)
{
	struct ivt_reg_end *le = to, *ce = ch->client;
	if (!lis->u.lis.lines || !ch->u.conn.lines || ch->u.conn.line_given || !le || !ce ||
	    le->reg != ce->reg || !le->reg->ops->line || first_of_process(b, lis, ch))
		return;
	ch->u.conn.line_given = 1;
	if (!++lis->u.lis.next_line)
		lis->u.lis.next_line = 1; /* 0 is no line */
	struct ivt_ctrl_line to_lis, to_conn;
	fill(&to_lis, lis, lis->u.lis.next_line, &ch->client_id, ce->domid);
	if (lis->u.lis.line_bound)
		to_lis.max_conns = lis->u.lis.max_conns;
	fill(&to_conn, lis, lis->u.lis.next_line, &lis->server_id, le->domid);
	int rc = le->reg->ops->line(le, ce, &to_lis, &to_conn);
	if (rc < 0) {
		IVT_DEBUG(WHO, "channel '%s': no line for %s: %s", lis->name,
			  IVT_ID_S(&ch->client_id), strerror(-rc));
		return;
	}
	lis->u.lis.lines_granted++;
	lis->u.lis.lines_out = 1;
	IVT_DEBUG(WHO, "channel '%s': line %u from %s to listener %s", lis->name,
		  (unsigned)to_lis.line_id, IVT_ID_S(&ch->client_id), IVT_ID_S(&lis->server_id));
}

void broker_lines_revoke(struct ivt_broker *b)
{
	for (struct channel *c = b->channels; c; c = c->next) {
		if (c->kind != CHAN_LISTENER || !c->u.lis.lines_out || !c->server ||
		    !c->server->reg->ops->lines_drop)
			continue;
		c->server->reg->ops->lines_drop(c->server);
		c->u.lis.lines_out = 0;
		IVT_INFO(WHO, "channel '%s': policy reloaded; listener %s drops its direct lines",
			 c->name, IVT_ID_S(&c->server_id));
	}
}

void broker_line_stats(void *arg, struct ivt_reg_end *end, uint64_t accepted, uint64_t refused,
		       uint64_t held)
{
	struct channel *lis = end->broker_data;
	if (!lis || lis->kind != CHAN_LISTENER || lis->server != end)
		return;
	lis->u.lis.line_accepts = accepted;
	lis->u.lis.line_refused = refused;
	if (!lis->u.lis.line_bound)
		return;
	/* untrusted: it can only take room from its own listener */
	uint32_t was = lis->u.lis.line_held;
	lis->u.lis.line_held = held < lis->u.lis.max_conns ? (uint32_t)held : lis->u.lis.max_conns;
	if (lis->u.lis.line_held < was)
		broker_promote(arg, lis); /* room for connectors waiting in ivtd */
}
