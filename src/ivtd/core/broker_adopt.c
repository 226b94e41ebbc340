/* SPDX-License-Identifier: MIT */
/*
 * Ends a previous ivtd answered, taken over after a restart (XenStore
 * keeps guests' ends and ivtd's answers; established vchans never needed
 * ivtd). The broker rebuilds each channel under its old id, answers
 * nothing, and from then on treats it as its own: a close or a domain's
 * death reaches the other end as ever. An end whose other end went while
 * ivtd was away hears CLOSED or DIED now.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "common/log.h"

#define WHO "ivtd"

static struct channel *find_id(struct ivt_broker *b, uint64_t id)
{
	for (struct channel *c = b->channels; c; c = c->next)
		if (c->id == id && c->kind != CHAN_LISTENER)
			return c;
	return NULL;
}

static void adopt_listener(struct ivt_broker *b, struct ivt_reg_end *end,
			   const struct ivt_end_request *req, const struct ivt_reg_adopted *a)
{
	if (broker_find_named(b, req->name)) {
		IVT_WARN(WHO, "adopting listener '%s' of %s: the name is taken; leaving it",
			 req->name, IVT_ID_S(&end->who));
		return;
	}
	struct channel *ch = broker_channel_new(b, end, CHAN_LISTENER, req->name, a->backend);
	if (!ch)
		return;
	ch->id = a->chan_id;
	ch->state = CS_LISTENING;
	ch->ring_size = a->ring_size;
	ch->message = req->message;
	ch->server = end;
	ch->server_id = end->who;
	/* the bounds as the policy says now */
	struct ivt_policy_query q = {
		.channel = req->name, .identity = &end->who, .is_listener = 1,
		.backend = req->backend, .ring_size = req->ring_size, .colocated = 1,
	};
	struct ivt_policy_decision d;
	memset(&d, 0, sizeof(d));
	if (broker_ask_policy(b, &q, &d) < 0)
		IVT_WARN(WHO, "adopted listener '%s' of %s: %s", req->name, IVT_ID_S(&end->who), d.reason);
	broker_listener_limits(ch, &d);
	ch->u.lis.next_ticket = a->next_ticket ? a->next_ticket : 1;
}

/* The listener an accepted end (ticket) came from, if adopted too. */
static struct channel *parent_of(struct ivt_broker *b, const struct ivt_reg_end *end,
				 const char *name)
{
	struct channel *lis = broker_find_named(b, name);
	return lis && lis->kind == CHAN_LISTENER && lis->server->domid == end->domid ? lis : NULL;
}

void broker_adopt(void *arg, struct ivt_reg_end *end, const struct ivt_end_request *req,
		  const struct ivt_reg_adopted *a)
{
	struct ivt_broker *b = arg;
	if (a->chan_id >= b->next_id)
		b->next_id = a->chan_id + 1; /* new channels never reuse an old id */
	if (req->listen && req->multi) {
		adopt_listener(b, end, req, a);
		IVT_INFO(WHO, "adopted listener '%s' of %s (chan %" PRIu64 ")", req->name,
			 IVT_ID_S(&end->who), a->chan_id);
		return;
	}
	struct channel *ch = find_id(b, a->chan_id);
	int alone = a->alone;
	if (ch && (req->listen || ch->client || !ch->server || ch->server->domid != a->peer_domid ||
		   strcmp(ch->name, req->name) || !ivt_identity_equal(&ch->client_id, &end->who))) {
		IVT_WARN(WHO, "adopting %s's end of '%s': chan %" PRIu64 " does not fit; on its own",
			 IVT_ID_S(&end->who), req->name, a->chan_id);
		ch = NULL;
		alone = IVT_PEER_CLOSED;
	}
	if (ch) { /* the client of a server adopted before */
		ch->client = end;
		ch->client_id = end->who;
		end->broker_data = ch;
	} else {
		ch = broker_channel_new(b, end, req->ticket ? CHAN_CONN : CHAN_ONESHOT, req->name,
					a->backend);
		if (!ch)
			return;
		if (!find_id(b, a->chan_id) || alone == 0)
			ch->id = a->chan_id; /* else it keeps the fresh one */
		ch->ring_size = a->ring_size;
		ch->setup_seen = 1;
		snprintf(ch->xs_path, sizeof(ch->xs_path), "%s", a->xs_path);
		if (req->listen) {
			ch->server = end;
			ch->server_id = end->who;
			ch->client_id = ivt_identity_dom(a->peer_domid);
			struct channel *lis = req->ticket ? parent_of(b, end, req->name) : NULL;
			if (lis && !alone) {
				ch->u.conn.parent = lis;
				ch->u.conn.counted = 1;
				lis->u.lis.live++;
			}
		} else {
			ch->client = end;
			ch->client_id = end->who;
			ch->server_id = ivt_identity_dom(a->peer_domid);
		}
	}
	IVT_INFO(WHO, "adopted %s's %s end of '%s' (chan %" PRIu64 ", peer dom:%u%s)",
		 IVT_ID_S(&end->who), req->listen ? "server" : "client", req->name, ch->id, a->peer_domid,
		 alone ? ", which is gone" : "");
	if (!alone)
		return;
	ch->state = CS_HALF;
	if (ch->kind == CHAN_CONN)
		ch->u.conn.parent = NULL;
	if (a->told != IVT_PEER_CLOSED && a->told != IVT_PEER_DIED)
		end->reg->ops->notify_peer(end, alone, a->peer_domid);
}
