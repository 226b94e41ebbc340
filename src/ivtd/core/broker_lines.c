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
 */
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "common/log.h"

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

void broker_line_grant(struct channel *lis, struct channel *ch, struct ivt_reg_end *to)
{
	struct ivt_reg_end *le = to, *ce = ch->client;
	if (!lis->u.lis.lines || !ch->u.conn.lines || ch->u.conn.line_given || !le || !ce ||
	    le->reg != ce->reg || !le->reg->ops->line)
		return;
	ch->u.conn.line_given = 1;
	if (!++lis->u.lis.next_line)
		lis->u.lis.next_line = 1; /* 0 is no line */
	struct ivt_ctrl_line to_lis, to_conn;
	fill(&to_lis, lis, lis->u.lis.next_line, &ch->client_id, ce->domid);
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

void broker_line_stats(void *arg, struct ivt_reg_end *end, uint64_t accepted, uint64_t refused)
{
	(void)arg;
	struct channel *lis = end->broker_data;
	if (!lis || lis->kind != CHAN_LISTENER || lis->server != end)
		return;
	lis->u.lis.line_accepts = accepted;
	lis->u.lis.line_refused = refused;
}
