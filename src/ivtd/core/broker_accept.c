/* SPDX-License-Identifier: MIT */
/*
 * Listeners that accept many connections (ivt_listen / ivt_accept).
 *
 * A connector the policy admits becomes a CONN channel of its own under
 * the LISTENER. It is offered to the listener (registry op incoming: a
 * ticket and its identity) while fewer than `backlog` are offered and
 * not yet accepted and the listener holds fewer than `max_connections`;
 * otherwise it WAITs, in arrival order, until there is room or its time
 * is up. The listener's process accepts a ticket with a new end (OPEN
 * LISTEN|ACCEPT): that end becomes the CONN's server end and both are
 * answered OPEN_OK; from there on the CONN is an ordinary channel that
 * outlives its listener. Connectors are answered only when accepted, so
 * one that gives up or dies before that costs the listener nothing but a
 * stale ticket.
 *
 * A connector may bring the ring itself (docs/conn-setup.md): its CONN
 * waits in RING for its SETUP, which goes to the listener with the offer
 * (INCOMING_RING); ivtd keeps no copy. Only while the backlog has room:
 * otherwise the connector is told to open the ordinary way (ESTALE), so
 * ivtd never holds a waiting connector's descriptors.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"
#include "common/clock.h"
#include "common/log.h"

#define WHO "ivtd"
/* A connector that did not say how long it waits (version-1 clients,
 * timeout 0) is queued this long. */
#define DEFAULT_QUEUE_MS 10000

/* live + queued: what ivtd holds for lis; line_held: what the listener
 * said it holds over lines (docs/conn-setup.md, max_connections). */
static int has_room(const struct channel *lis)
{
	return lis->u.lis.queued < lis->u.lis.backlog &&
	       (uint64_t)lis->u.lis.live + lis->u.lis.queued + lis->u.lis.line_held <
		       lis->u.lis.max_conns;
}

void broker_listener_limits(struct channel *lis, const struct ivt_policy_decision *d)
{
	uint32_t bl = d->backlog ? d->backlog : IVT_POLICY_BACKLOG_DEFAULT;
	uint32_t per = d->backlog_per_identity ? d->backlog_per_identity : (bl + 1) / 2;
	lis->u.lis.backlog = bl;
	lis->u.lis.max_conns = d->max_connections ? d->max_connections
						  : IVT_POLICY_MAX_CONNECTIONS_DEFAULT;
	lis->u.lis.per_id = per < bl ? per : bl;
}

/* How many of lis's backlog places (offered, not accepted) who holds. */
static uint32_t held_by(const struct channel *lis,
			const struct ivt_identity *who)
{
	uint32_t n = 0;
	for (const struct channel *c = lis->u.lis.pending; c; c = c->u.conn.sib_next)
		n += c->state == CS_QUEUED && ivt_identity_equal(&c->client_id, who);
	return n;
}

/* What keeps a connector from lis's backlog (conn_full), or FULL_NOT. */
enum conn_full { FULL_NOT, FULL_BACKLOG, FULL_CONNS, FULL_SHARE };

static enum conn_full full_why(struct ivt_broker *b, const struct channel *lis,
			       const struct ivt_identity *who)
{
	if (lis->u.lis.queued >= lis->u.lis.backlog)
		return FULL_BACKLOG;
	if (!has_room(lis))
		return FULL_CONNS;
	return held_by(lis, who) >= lis->u.lis.per_id ? FULL_SHARE : FULL_NOT;
}

/* Anyone may trigger these lines at will: one identity flooding a
 * listener, in particular. */
static struct ivt_ratelimit share_rl = IVT_RATELIMIT_INIT(10000, 5);

static void refuse_full(struct ivt_broker *b, struct channel *lis, struct ivt_reg_end *end,
			enum conn_full why, const char *when)
{
	if (why == FULL_SHARE) {
		/* logged here, rate-limited; the connector reads the reason */
		ivt_log_limited(&share_rl, IVT_LOG_WARN, WHO, "channel '%s': %s holds its share "
				"of the listener's accept backlog (%u of %u; policy key "
				"backlog_per_identity); refusing more of its connectors",
				lis->name, IVT_ID_S(&end->who), lis->u.lis.per_id,
				lis->u.lis.backlog);
		broker_refuse_quiet(b, end, -EAGAIN,
				    "channel '%s': %s already holds %u places of the listener's "
				    "accept backlog of %u, its share (policy key "
				    "backlog_per_identity)%s", lis->name, IVT_ID_S(&end->who),
				    lis->u.lis.per_id, lis->u.lis.backlog, when);
	} else if (why == FULL_BACKLOG) {
		broker_refuse(b, end, -EAGAIN,
			      "channel '%s': the listener's accept backlog is full (%u connectors "
			      "not yet accepted; policy key backlog)%s",
			      lis->name, lis->u.lis.backlog, when);
	} else {
		broker_refuse(b, end, -EUSERS,
			      "channel '%s': the listener holds its most connections (%u; policy "
			      "key max_connections)%s",
			      lis->name, lis->u.lis.max_conns, when);
	}
}

/* A connector of who starts WAITING under lis: its tag comes after
 * every tag who has waiting there and after the last promoted one, so
 * promotion takes identities in turn (fair queueing: a newcomer does
 * not wait behind another identity's flood). */
static uint64_t next_tag(const struct channel *lis,
			 const struct ivt_identity *who)
{
	uint64_t t = lis->u.lis.vtime;
	for (const struct channel *c = lis->u.lis.pending; c; c = c->u.conn.sib_next)
		if (c->state == CS_WAITING && c->u.conn.tag > t &&
		    ivt_identity_equal(&c->client_id, who))
			t = c->u.conn.tag;
	return t + 1;
}

/* The listener's registry may have published the offer (XenStore): take
 * it back once the ticket leaves the queue. */
static void withdraw(struct channel *lis, const struct channel *ch)
{
	if (lis && lis->server && ch->u.conn.ticket && lis->server->reg->ops->withdrawn)
		lis->server->reg->ops->withdrawn(lis->server, ch->u.conn.ticket);
}

static void drop_unaccepted(struct ivt_broker *b, struct channel *ch);

/* Offer a WAITING (or RING, its setup in) connection to its listener. */
static void offer(struct ivt_broker *b, struct channel *lis, struct channel *ch)
{
	ch->state = CS_QUEUED;
	lis->u.lis.queued++;
	if (!lis->u.lis.next_ticket)
		lis->u.lis.next_ticket = 1; /* 0 means "no ticket" */
	ch->u.conn.ticket = lis->u.lis.next_ticket++;
	const struct ivt_registry_ops *ops = lis->server->reg->ops;
	if (ch->u.conn.ring) {
		/* the line goes first: the connector reads it with QUEUED (or
		 * while it waits), the listener with the offer */
		broker_line_grant(b, lis, ch, lis->server);
		const struct chan_setup *s = ch->setup;
		ops->incoming_ring(lis->server, ch->u.conn.ticket, &ch->client_id,
				   ch->client->domid, s->blob, s->blob_len, s->fds, s->nfds);
		broker_drop_setup(ch); /* the listener has it now, or never will */
		if (ch->u.conn.queued && ch->client && ch->client->reg->ops->queued) {
			/* TCP's connect returns here: the connector goes on */
			broker_peer_info(ch->client, lis->server, &lis->server_id, lis->server->domid);
			ch->client->reg->ops->queued(ch->client);
		}
	} else if (ops->incoming) {
		ops->incoming(lis->server, ch->u.conn.ticket, &ch->client_id, ch->client->domid);
	}
}

/* Connectors of lis may make their rings: its end takes them, its
 * backend needs nothing from ivtd's answer and tells each end its peer's
 * fate itself (an end that went on before ivtd's answer can do without
 * ivtd if that answer is a refusal), and no spill (a connector that
 * brings its ring hears its grant only from the first OPEN_OK). */
static int takes_rings(const struct channel *lis)
{
	return lis->u.lis.rings && lis->server && lis->server->reg->ops->incoming_ring &&
	       (lis->caps & IVT_CAP_PEER_FATE) &&
	       !(lis->caps & (IVT_CAP_PEER_BOUND | IVT_CAP_XS_PATH)) && !lis->spill_above;
}

int broker_ring_refused(struct ivt_broker *b, struct channel *ch, struct ivt_reg_end *end,
			const struct ivt_end_request *req)
{
	if (!req->ring)
		return 0;
	const char *why = NULL;
	if (ch->kind != CHAN_LISTENER || !takes_rings(ch))
		why = "its listener takes no connector-made rings";
	else if (strcmp(req->backend, ch->backend) || req->ring_size != ch->ring_size ||
		 !req->message != !ch->message)
		why = "its listener's grant changed";
	else if (full_why(b, ch, &end->who) != FULL_NOT)
		why = "its listener has no room in its backlog for it now";
	if (!why)
		return 0;
	broker_refuse(b, end, -ESTALE, "channel '%s': %s; open it the ordinary way", req->name,
		      why);
	return 1;
}

/* Identities found at their share during one promote() (they are
 * skipped). At most backlog / per_id of them. */
struct skip_list {
	struct ivt_identity *ids;
	size_t n, cap;
};

static int skipped(const struct skip_list *s, const struct ivt_identity *who)
{
	for (size_t i = 0; i < s->n; i++)
		if (ivt_identity_equal(&s->ids[i], who))
			return 1;
	return 0;
}

/* 0, or -1 when out of memory (promote() stops; the next event retries). */
static int skip_add(struct skip_list *s, const struct ivt_identity *who)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		struct ivt_identity *ids = realloc(s->ids, cap * sizeof(*ids));
		if (!ids)
			return -1;
		s->ids = ids;
		s->cap = cap;
	}
	s->ids[s->n++] = *who;
	return 0;
}

/* Room freed under lis: offer waiting connectors in tag order (identities
 * in turn, each in arrival order: ids grow with arrival), skipping the
 * identities that hold their share of the backlog. */
void broker_promote(struct ivt_broker *b, struct channel *lis)
{
	struct skip_list skip = {0};
	while (lis->server && has_room(lis)) {
		struct channel *next = NULL;
		for (struct channel *c = lis->u.lis.pending; c; c = c->u.conn.sib_next)
			if (c->state == CS_WAITING &&
			    (!next || c->u.conn.tag < next->u.conn.tag ||
			     (c->u.conn.tag == next->u.conn.tag && c->id < next->id)) &&
			    !skipped(&skip, &c->client_id))
				next = c;
		if (!next)
			break;
		if (held_by(lis, &next->client_id) >= lis->u.lis.per_id) {
			if (skip_add(&skip, &next->client_id) < 0)
				break;
			continue;
		}
		lis->u.lis.vtime = next->u.conn.tag;
		offer(b, lis, next);
	}
	free(skip.ids);
}

void broker_connect_multi(struct ivt_broker *b, struct channel *lis, struct ivt_reg_end *end,
			  const struct ivt_end_request *req, const struct ivt_policy_decision *d)
{
	enum conn_full why = full_why(b, lis, &end->who);
	int room = why == FULL_NOT;
	if (!room && req->wait_ms == 0) {
		refuse_full(b, lis, end, why, "");
		return;
	}
	if (req->queued && !req->ring && room && takes_rings(lis)) {
		/* the grant alone: it comes back with its ring and goes on
		 * once that is offered (nothing of this OPEN is kept) */
		broker_open_ok_flags(end, lis, 0, lis->server->domid,
				     IVT_CTRL_OK_RINGS | IVT_CTRL_OK_GRANT);
		end->refused = 1; /* a stray SETUP behind it is dropped */
		return;
	}
	struct channel *ch = broker_channel_new(b, end, CHAN_CONN, lis->name, lis->backend);
	if (!ch)
		return;
	ch->u.conn.client_rings = req->rings;
	ch->u.conn.lines = req->lines && !d->no_lines;
	ch->u.conn.ring = req->ring;
	ch->ring_size = lis->ring_size;
	ch->spill_above = lis->spill_above;
	ch->message = lis->message;
	ch->u.conn.parent = lis;
	broker_pending_add(ch);
	ch->client = end;
	ch->client_id = end->who;
	ch->server_id = lis->server_id;
	broker_set_xs_path(ch, lis->server->domid);
	uint32_t w = req->wait_ms ? req->wait_ms : DEFAULT_QUEUE_MS;
	/* one that went on once queued stays queued, as in TCP's backlog,
	 * until accepted or the listener goes */
	ch->u.conn.queued = req->queued && req->ring;
	ch->u.conn.deadline = w == IVT_CTRL_WAIT_FOREVER || ch->u.conn.queued ? -1
										: ivt_now_ms() + w;
	b->stats.granted++;
	IVT_DEBUG(WHO, "connect '%s' by %s to listener %s: %s (rule %s)", ch->name,
		  IVT_ID_S(&end->who), IVT_ID_S(&lis->server_id), room ? "offered" : "waiting for room", d->rule);
	if (req->ring) {
		ch->state = CS_RING; /* offered once its SETUP is in */
		ch->setup_seen = 1;  /* the accepting end sends none */
	} else if (room) {
		offer(b, lis, ch);
	} else {
		ch->u.conn.full_why = why;
		ch->u.conn.tag = next_tag(lis, &end->who);
		ch->state = CS_WAITING;
	}
}

void broker_accept(struct ivt_broker *b, struct ivt_reg_end *end,
		   const struct ivt_end_request *req)
{
	struct channel *lis = broker_find_named(b, req->name);
	if (!lis || lis->kind != CHAN_LISTENER) {
		broker_refuse(b, end, -ENOENT, "channel '%s' has no listener that accepts", req->name);
		return;
	}
	/* Only the listener's own identity may take its connections. */
	if (!ivt_identity_equal(&end->who, &lis->server_id) || end->domid != lis->server->domid) {
		broker_refuse(b, end, -EACCES, "%s may not accept connections of %s's listener '%s'",
			      IVT_ID_S(&end->who), IVT_ID_S(&lis->server_id), lis->name);
		return;
	}
	struct channel *ch = NULL;
	for (struct channel *c = lis->u.lis.pending; c; c = c->u.conn.sib_next)
		if (c->state == CS_QUEUED && c->u.conn.ticket == req->ticket) {
			ch = c;
			break;
		}
	if (!ch) {
		broker_refuse(b, end, -ECONNABORTED, "channel '%s': connection %u is gone (the "
						     "connector gave up or went away)",
			      req->name, (unsigned)req->ticket);
		return;
	}
	lis->u.lis.queued--;
	lis->u.lis.live++;
	ch->u.conn.counted = 1;
	broker_pending_del(ch);
	ch->state = CS_CONNECTED;
	withdraw(lis, ch);
	ch->server = end;
	end->broker_data = ch;
	IVT_INFO(WHO, "accept '%s' by %s: connection from %s, backend %s, ring %" PRIu64,
		 ch->name, IVT_ID_S(&end->who), IVT_ID_S(&ch->client_id), ch->backend, ch->ring_size);
	/* Short of descriptors, ivtd lets go of the accepting end once it
	 * is set up, where the backend tells each end the other's fate. A
	 * channel with one end known to ivtd cannot be re-attached after a
	 * restart: no cookie for either. */
	ch->detach_server = (ch->caps & IVT_CAP_PEER_FATE) && end->reg->ops->wants_release &&
			    end->reg->ops->wants_release(end);
	if (!ch->detach_server)
		broker_give_cookie(ch);
	broker_peer_info(end, ch->client, &ch->client_id, ch->client->domid);
	if (ch->u.conn.client_rings && takes_rings(lis))
		broker_line_grant(b, lis, ch, end); /* before both OPEN_OKs */
	broker_open_ok_flags(end, ch, 1, ch->client->domid,
			     ch->detach_server ? IVT_CTRL_OK_DETACHED : 0);
	broker_peer_info(ch->client, end, &ch->server_id, end->domid);
	broker_open_ok_flags(ch->client, ch, 0, end->domid,
			     ch->u.conn.client_rings && takes_rings(lis) ? IVT_CTRL_OK_RINGS : 0);
	/* answers may have failed and dropped an end: its gone() comes later */
	if (!ch->detach_server) {
		end->reg->ops->notify_peer(end, IVT_PEER_CONNECTED, ch->client->domid);
	} else if (ch->u.conn.ring) {
		/* it has its ring already: no SETUP to wait for */
		ch->detach_server = 0;
		ch->server_detached = 1;
		ch->server = NULL;
		end->broker_data = NULL;
		end->reg->ops->release(end);
	}
	broker_promote(b, lis); /* its place in the backlog is free */
}

void broker_ring_setup(struct ivt_broker *b, struct channel *ch, struct ivt_reg_end *end,
		       const void *blob, size_t len, int *fds, int nfds)
{
	struct channel *lis = ch->u.conn.parent;
	if (!lis || !lis->server || full_why(b, lis, &end->who) != FULL_NOT) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		broker_refuse(b, end, -ESTALE, "channel '%s': its listener has no room in its "
			      "backlog now; open it the ordinary way", ch->name);
		drop_unaccepted(b, ch); /* answers never free synchronously */
		return;
	}
	if ((ch->setup = broker_setup_new(b, end, blob, len, fds, nfds)))
		offer(b, lis, ch);
	else
		drop_unaccepted(b, ch);
}

/* Detach and forget a connection that never got its server end. */
static void drop_unaccepted(struct ivt_broker *b, struct channel *ch)
{
	struct channel *lis = ch->u.conn.parent;
	if (lis && ch->state == CS_QUEUED) {
		lis->u.lis.queued--;
		withdraw(lis, ch);
	}
	if (ch->client)
		ch->client->broker_data = NULL;
	broker_free_channel(b, ch);
}

void broker_listener_gone(struct ivt_broker *b, struct channel *lis, int graceful)
{
	IVT_INFO(WHO, "channel '%s': listener %s %s (%u connected, %u queued)", lis->name,
		 IVT_ID_S(&lis->server_id), broker_gone_word(b, graceful), lis->u.lis.live,
		 lis->u.lis.queued);
	lis->server = NULL;
	struct channel *c, *next;
	while ((c = lis->u.lis.pending)) {
		broker_pending_del(c);
		c->u.conn.parent = NULL;
		if (c->client)
			broker_refuse(b, c->client, -ECONNREFUSED,
				      "channel '%s': the listener %s before accepting this "
				      "connection", lis->name, broker_gone_word(b, graceful));
		drop_unaccepted(b, c); /* answers never free synchronously */
	}
	/* the accepted ones live on (a scan once per listener, not per connect) */
	for (c = b->channels; c; c = next) {
		next = c->next;
		if (c->kind == CHAN_CONN && c->u.conn.parent == lis)
			c->u.conn.parent = NULL;
	}
	broker_free_channel(b, lis);
}

void broker_conn_uncount(struct channel *ch)
{
	struct channel *lis = ch->u.conn.parent;
	if (lis && ch->u.conn.counted) {
		lis->u.lis.live--;
		ch->u.conn.parent = NULL; /* listed among channels from here on */
	}
	ch->u.conn.counted = 0;
}

void broker_conn_gone(struct ivt_broker *b, struct channel *ch, struct ivt_reg_end *end,
		      int graceful)
{
	struct channel *lis = ch->u.conn.parent;
	if (ch->state == CS_WAITING || ch->state == CS_QUEUED || ch->state == CS_RING) {
		/* only the connector exists yet */
		ch->client = NULL;
		drop_unaccepted(b, ch);
		if (lis)
			broker_promote(b, lis);
		return;
	}
	/* The listener holds its accepted end after the connector went
	 * (TCP's CLOSE_WAIT): the connection counts against max_connections
	 * until that end goes. One ivtd let go of (detach_above) is not
	 * seen to go: it counts until the channel is freed, when its
	 * connector goes; the listener's libivt holds the bound for it. */
	if (end == ch->server)
		broker_conn_uncount(ch);
	broker_end_gone(b, ch, end, graceful);
	if (lis)
		broker_promote(b, lis);
}

/* Connectors whose time is up: refused with what kept them. */
void ivt_broker_tick(struct ivt_broker *b)
{
	long long now = ivt_now_ms();
	for (int again = 1; again;) {
		again = 0;
		for (struct channel *c = b->channels; c; c = c->next) {
			if (c->kind != CHAN_CONN ||
			    (c->state != CS_WAITING && c->state != CS_QUEUED && c->state != CS_RING) ||
			    c->u.conn.deadline < 0 || c->u.conn.deadline > now)
				continue;
			struct channel *lis = c->u.conn.parent;
			struct ivt_reg_end *client = c->client;
			if (c->state == CS_WAITING)
				refuse_full(b, lis, client, (enum conn_full)c->u.conn.full_why,
					    " during all of the connector's wait");
			else if (c->state == CS_RING)
				broker_refuse(b, client, -ETIMEDOUT, "channel '%s': this connector's "
					      "ring (SETUP) did not come in time", c->name);
			else
				broker_refuse(b, client, -ETIMEDOUT,
					      "channel '%s': the listener %s did not accept this "
					      "connection in time (it has %u more queued)",
					      c->name, IVT_ID_S(&lis->server_id), lis->u.lis.queued - 1);
			drop_unaccepted(b, c);
			broker_promote(b, lis);
			again = 1; /* the table changed under us */
			break;
		}
	}
}
