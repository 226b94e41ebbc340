/* SPDX-License-Identifier: MIT */
/*
 * Channels that outlive their ivtd (docs/ivtd.8.md, "Restarts").
 *
 * Co-located channel ends talk through their own ring and wake-up
 * sockets, so a channel keeps flowing when ivtd dies; only its control
 * connections drop. Each end of a connected local channel gets a random
 * cookie (ATTACH_INFO). After a restart libivt reconnects and sends
 * ATTACH: cookie, role, name, and the identity it was told its peer has.
 * The first end of a channel to come back waits here (ATTACHING); the
 * second one is paired with it only when the cookies match and each
 * end's identity, which the registry took from the connection itself
 * (SO_PEERCRED), is the one the other end names. So another user can
 * neither take over an end nor pair with one, even knowing a cookie; an
 * ATTACH that matches no waiting end simply waits on its own. A waiting
 * end is one control connection with an OPEN-like claim, counted against
 * its uid's limits like any other (registry_local.c).
 *
 * Adopted channels own no name (a new listener may already have taken
 * it) and are not checked against the policy again, as channels open
 * across a reload are not. From there on they are ordinary: an end's
 * close or death is told to the other end and counted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "broker_int.h"
#include "common/ctrl_msg.h"
#include "common/log.h"
#include "common/tcp_map.h"

#define WHO "ivtd"
#define RING_MIN 4096u
#define RING_MAX (1ull << 30)

/* Anyone can send ATTACH with made-up contents. */
static struct ivt_ratelimit mismatch_rl = IVT_RATELIMIT_INIT(10000, 5);

static int fill_cookie(uint8_t *c)
{
	size_t got = 0;
	while (got < IVT_CTRL_COOKIE_LEN) {
		/* never wait in the event loop for the pool (early boot in a
		 * guest without an RNG): no cookie then, as the caller says */
		ssize_t n = getrandom(c + got, IVT_CTRL_COOKIE_LEN - got, GRND_NONBLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		got += (size_t)n;
	}
	c[0] |= 1; /* all zero means "none" on the wire */
	return 0;
}

void broker_give_cookie(struct channel *ch)
{
	if (!ch->server || !ch->client || !ch->server->reg->ops->attach_info ||
	    !ch->client->reg->ops->attach_info)
		return;
	if (!ch->has_cookie) {
		if (fill_cookie(ch->cookie) < 0) {
			IVT_WARN(WHO, "channel '%s': getrandom: %s; it cannot re-attach after a "
				 "restart", ch->name, strerror(errno));
			return;
		}
		ch->has_cookie = 1;
	}
	ch->server->reg->ops->attach_info(ch->server, ch->cookie);
	ch->client->reg->ops->attach_info(ch->client, ch->cookie);
}

static int request_valid(const struct ivt_attach_request *req)
{
	uint64_t rs = req->ring_size;
	return ivt_name_valid(req->name) && memchr(req->backend, '\0', sizeof(req->backend)) &&
	       req->backend[0] && req->peer.kind != IVT_IDENTITY_NONE && rs >= RING_MIN &&
	       rs <= RING_MAX && !(rs & (rs - 1));
}

static void answer(struct ivt_reg_end *end, const struct channel *ch, int paired)
{
	if (end->reg->ops->attach_ok)
		end->reg->ops->attach_ok(end, ch->id, paired);
}

/* A connector that dialled an address knows its channel as
 * tcp.<P>.<addr>, its listener maybe as tcp.<P> (common/tcp_map.h). */
static int same_name(const char *a, const char *b)
{
	unsigned p = ivt_tcp_name_any_port(a);
	return !strcmp(a, b) || (p && p == ivt_tcp_name_any_port(b));
}

/* The waiting end of ch takes end as its peer: the cookie matched. */
static int may_pair(const struct channel *ch, const struct ivt_reg_end *end,
		    const struct ivt_attach_request *req)
{
	const struct ivt_identity *waiting = req->is_server ? &ch->client_id : &ch->server_id;
	return ivt_identity_equal(waiting, &req->peer) &&
	       ivt_identity_equal(&ch->u.adopt.peer_claim, &end->who) &&
	       same_name(ch->name, req->name) && !strcmp(ch->backend, req->backend) &&
	       ch->ring_size == req->ring_size && ch->message == req->message;
}

static void set_end(struct channel *ch, struct ivt_reg_end *end, int is_server)
{
	if (is_server) {
		ch->server = end;
		ch->server_id = end->who;
	} else {
		ch->client = end;
		ch->client_id = end->who;
	}
	end->broker_data = ch;
}

void broker_attach(void *arg, struct ivt_reg_end *end, const struct ivt_attach_request *req)
{
	struct ivt_broker *b = arg;
	const char *role = req->is_server ? "listener" : "client";
	if (end->broker_data) {
		broker_refuse(b, end, -EISCONN, "this end already belongs to a channel");
		return;
	}
	if (!request_valid(req)) {
		broker_refuse(b, end, -EINVAL, "invalid ATTACH (channel name, backend, peer "
					       "identity or ring size)");
		return;
	}
	struct channel *ch = NULL;
	for (struct channel *c = b->channels; c && !ch; c = c->next) {
		if (c->kind != CHAN_ADOPTED || memcmp(c->cookie, req->cookie, sizeof(c->cookie)))
			continue;
		const struct ivt_identity *mine = req->is_server ? &c->server_id : &c->client_id;
		int taken = c->state != CS_ATTACHING || (req->is_server ? c->server : c->client);
		if (taken && ivt_identity_equal(mine, &end->who)) {
			broker_refuse(b, end, -EALREADY, "the %s end of channel '%s' is already "
							 "attached", role, c->name);
			return;
		}
		if (taken)
			continue;
		if (may_pair(c, end, req))
			ch = c;
		else
			ivt_log_limited(&mismatch_rl, IVT_LOG_WARN, WHO,
					"ATTACH by %s (pid %d) to channel '%s' does not match the "
					"end waiting there; kept apart", IVT_ID_S(&end->who),
					end->pid, req->name);
	}
	if (ch) {
		set_end(ch, end, req->is_server);
		ch->state = CS_CONNECTED;
		IVT_INFO(WHO, "channel '%s' re-attached after a restart: listener %s, client %s, "
			 "backend %s", ch->name, IVT_ID_S(&ch->server_id), IVT_ID_S(&ch->client_id),
			 ch->backend);
		answer(end, ch, 1);
		return;
	}
	ch = broker_channel_new(b, end, CHAN_ADOPTED, req->name, req->backend);
	if (!ch)
		return;
	ch->state = CS_ATTACHING;
	ch->ring_size = req->ring_size;
	ch->message = req->message;
	memcpy(ch->cookie, req->cookie, sizeof(ch->cookie));
	ch->has_cookie = 1;
	ch->u.adopt.peer_claim = req->peer;
	set_end(ch, end, req->is_server);
	IVT_INFO(WHO, "channel '%s': %s %s re-attached after a restart; waiting for its peer "
		 "%s", ch->name, role, IVT_ID_S(&end->who), IVT_ID_S(&req->peer));
	answer(end, ch, 0);
}

void broker_adopted_gone(struct ivt_broker *b, struct channel *ch, struct ivt_reg_end *end,
			 int graceful)
{
	if (ch->state != CS_ATTACHING) {
		broker_end_gone(b, ch, end, graceful);
		return;
	}
	/* its peer never came back (it may have ended while ivtd was down) */
	IVT_INFO(WHO, "channel '%s': %s %s %s before its peer re-attached", ch->name,
		 broker_end_role(ch, end), IVT_ID_S(&end->who),
		 broker_gone_word(b, graceful));
	broker_free_channel(b, ch);
}
