/* SPDX-License-Identifier: MIT */
#include "broker_int.h"
#include "line_seen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ctrl_msg.h"
#include "common/log.h"
#include "common/tcp_map.h"
#include "common/plugin_loader.h"
#include "common/xs_paths.h"

#define WHO "ivtd"

/* ---- table --------------------------------------------------------- */

struct channel *broker_find_named(struct ivt_broker *b, const char *name)
{
	/* a one-shot channel keeps its name while its listener is there,
	 * even after it served its one client (then: EBUSY) */
	for (struct channel *c = b->channels; c; c = c->next)
		if ((c->kind == CHAN_ONESHOT || c->kind == CHAN_LISTENER) && c->server &&
		    !strcmp(c->name, name))
			return c;
	return NULL;
}

void broker_drop_setup(struct channel *ch)
{
	if (!ch->setup)
		return;
	for (int i = 0; i < ch->setup->nfds; i++)
		close(ch->setup->fds[i]);
	free(ch->setup);
	ch->setup = NULL;
}

void broker_pending_add(struct channel *ch)
{
	struct channel *lis = ch->u.conn.parent;
	ch->u.conn.in_pending = 1;
	ch->u.conn.sib_prev = NULL;
	ch->u.conn.sib_next = lis->u.lis.pending;
	if (lis->u.lis.pending)
		lis->u.lis.pending->u.conn.sib_prev = ch;
	lis->u.lis.pending = ch;
}

void broker_pending_del(struct channel *ch)
{
	if (!ch->u.conn.in_pending)
		return;
	if (ch->u.conn.sib_prev)
		ch->u.conn.sib_prev->u.conn.sib_next = ch->u.conn.sib_next;
	else
		ch->u.conn.parent->u.lis.pending = ch->u.conn.sib_next;
	if (ch->u.conn.sib_next)
		ch->u.conn.sib_next->u.conn.sib_prev = ch->u.conn.sib_prev;
	ch->u.conn.sib_next = ch->u.conn.sib_prev = NULL;
	ch->u.conn.in_pending = 0;
}

void broker_free_channel(struct ivt_broker *b, struct channel *ch)
{
	if (ch->kind == CHAN_CONN) {
		broker_pending_del(ch);
		broker_conn_uncount(ch);
	}
	if (ch->prev)
		ch->prev->next = ch->next;
	else if (b->channels == ch)
		b->channels = ch->next;
	if (ch->next)
		ch->next->prev = ch->prev;
	broker_drop_setup(ch);
	free(ch);
}

/* ---- public setup -------------------------------------------------- */

struct ivt_broker *ivt_broker_new(struct ivt_policy *policy)
{
	struct ivt_broker *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->policy = policy;
	b->next_id = 1;
	if (gethostname(b->host_name, sizeof(b->host_name)) != 0)
		b->host_name[0] = '\0';
	b->host_name[sizeof(b->host_name) - 1] = '\0';
	return b;
}

void ivt_broker_free(struct ivt_broker *b)
{
	if (!b)
		return;
	/* listeners may go before their children here: no list to keep */
	for (struct channel *c = b->channels; c; c = c->next)
		if (c->kind == CHAN_CONN)
			c->u.conn.in_pending = 0;
	while (b->channels) {
		/* Ends still pointing here belong to registries already gone. */
		broker_free_channel(b, b->channels);
	}
	ivt_policy_free(b->policy);
	line_seen_free(b->line_seen);
	free(b);
}

void ivt_broker_set_policy(struct ivt_broker *b, struct ivt_policy *p)
{
	ivt_policy_free(b->policy);
	b->policy = p;
	broker_lines_revoke(b); /* connectors come back through the new policy */
}

const struct ivt_policy *ivt_broker_policy(const struct ivt_broker *b) { return b->policy; }

int ivt_broker_set_backend(struct ivt_broker *b, const char *name, unsigned caps, int available,
			   const char *why)
{
	struct ivt_backend_info *be = NULL;
	for (size_t i = 0; i < b->n_backends; i++)
		if (!strcmp(b->backends[i].name, name))
			be = &b->backends[i];
	if (!be) {
		if (b->n_backends == IVT_PLUGINS_MAX || !ivt_plugin_name_valid(name, strlen(name)))
			return -EINVAL;
		be = &b->backends[b->n_backends++];
		snprintf(be->name, sizeof(be->name), "%s", name);
	}
	be->caps = caps;
	be->available = !!available;
	snprintf(be->why, sizeof(be->why), "%s", available ? "" : (why && *why ? why : "unavailable"));
	return 0;
}

const struct ivt_backend_info *ivt_broker_backend(const struct ivt_broker *b, const char *name)
{
	for (size_t i = 0; i < b->n_backends; i++)
		if (!strcmp(b->backends[i].name, name))
			return &b->backends[i];
	return NULL;
}

const struct ivt_backend_info *ivt_broker_backends(const struct ivt_broker *b, size_t *n)
{
	*n = b->n_backends;
	return b->backends;
}

int ivt_broker_probe_backends(struct ivt_broker *b, const char *plugin_dir)
{
	char names[IVT_PLUGINS_MAX][IVT_BACKEND_NAME_MAX + 1];
	int found = ivt_plugin_list(plugin_dir, names, IVT_PLUGINS_MAX);
	if (found < 0) {
		IVT_WARN(WHO, "cannot read plugin directory %s: %s",
			 plugin_dir ? plugin_dir : ivt_plugin_dir(), strerror(-found));
		return 0;
	}
	int n = 0;
	for (int i = 0; i < found; i++) {
		const char *name = names[i];
		char why[200] = "";
		const struct ivt_plugin_ops *ops = ivt_plugin_load(plugin_dir, name, why, sizeof(why));
		int rc = -ENOENT;
		if (ops) {
			why[0] = '\0';
			rc = ops->probe(why, sizeof(why));
			if (rc < 0 && !why[0])
				snprintf(why, sizeof(why), "probe failed: %s", strerror(-rc));
		}
		ivt_broker_set_backend(b, name, ops ? ops->caps : 0, rc == 0, why);
		if (rc == 0) {
			IVT_INFO(WHO, "backend %s: available (%s)", name, ops->description ? ops->description : "");
			n++;
		} else {
			IVT_INFO(WHO, "backend %s: not available: %s", name, why);
		}
	}
	return n;
}

struct backend_check {
	const struct ivt_broker *b;
	int unknown;
};

static void check_backend(void *arg, const char *name, const char *where, int line)
{
	struct backend_check *c = arg;
	const struct ivt_broker *b = c->b;
	if (ivt_broker_backend(b, name))
		return;
	char known[IVT_PLUGINS_MAX * (IVT_BACKEND_NAME_MAX + 2) + 1] = "";
	size_t off = 0;
	for (size_t i = 0; i < b->n_backends && off < sizeof(known); i++)
		off += (size_t)snprintf(known + off, sizeof(known) - off, "%s%s", i ? " " : "",
					b->backends[i].name);
	char at[16] = "";
	if (line > 0)
		snprintf(at, sizeof(at), ":%d", line);
	IVT_WARN(WHO, "policy %s%s: %s names backend '%s', which is no installed plugin "
		      "(installed: %s): opens that need it are refused with ENOTSUP",
		 b->policy->source, at, where, name, known[0] ? known : "none");
	c->unknown++;
}

int ivt_broker_warn_unknown_backends(const struct ivt_broker *b)
{
	struct backend_check c = {.b = b};
	if (b->policy)
		ivt_policy_each_backend(b->policy, check_backend, &c);
	return c.unknown;
}

void ivt_broker_get_stats(const struct ivt_broker *b, struct ivt_broker_stats *st)
{
	*st = b->stats;
	st->channels = 0;
	for (const struct channel *c = b->channels; c; c = c->next)
		st->channels += c->server != NULL && c->kind != CHAN_LISTENER;
}

/* ---- answering ends ------------------------------------------------ */

static const char *errno_name(int err)
{
	switch (err) {
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case EADDRINUSE: return "EADDRINUSE";
	case EBUSY: return "EBUSY";
	case ENOTSUP: return "ENOTSUP";
	case EINVAL: return "EINVAL";
	case EPROTO: return "EPROTO";
	case EISCONN: return "EISCONN";
	case EALREADY: return "EALREADY";
	case EMSGSIZE: return "EMSGSIZE";
	case EAGAIN: return "EAGAIN";
	case EUSERS: return "EUSERS";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNABORTED: return "ECONNABORTED";
	case ESTALE: return "ESTALE";
	case ENOMEM: return "ENOMEM";
	default: return "error";
	}
}

static void vrefuse(struct ivt_broker *b, struct ivt_reg_end *end, int err, int level,
		    const char *fmt, va_list ap)
{
	char msg[IVT_ERRMSG_MAX + 1];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!end->retry || err != -ENOENT)
		b->stats.refused++; /* a retry still finding nobody is counted once, as a retry */
	/* anyone can ask to be refused, as often as they like */
	static struct ivt_ratelimit refused_rl = IVT_RATELIMIT_INIT(10000, 5);
	if (level <= IVT_LOG_INFO)
		ivt_log_limited(&refused_rl, level, WHO, "refused %s (%s): %s",
				IVT_ID_S(&end->who), errno_name(-err), msg);
	else
		ivt_log(level, WHO, "refused %s (%s): %s", IVT_ID_S(&end->who),
			errno_name(-err), msg);
	end->reg->ops->reply_error(end, -err, msg);
	end->refused = 1;
}

/* err is a negative errno. Logs and answers. */
void broker_refuse(struct ivt_broker *b, struct ivt_reg_end *end, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	/* A connector retries while nobody listens: each -ENOENT is not news. */
	vrefuse(b, end, err, err == -ENOENT ? IVT_LOG_DEBUG : IVT_LOG_INFO, fmt, ap);
	va_end(ap);
}

void broker_refuse_quiet(struct ivt_broker *b, struct ivt_reg_end *end, int err,
			 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrefuse(b, end, err, IVT_LOG_DEBUG, fmt, ap);
	va_end(ap);
}

void broker_open_ok(struct ivt_reg_end *end, const struct channel *ch, int is_server,
		    uint32_t peer_domid)
{
	broker_open_ok_flags(end, ch, is_server, peer_domid, 0);
}

void broker_open_ok_flags(struct ivt_reg_end *end, const struct channel *ch, int is_server,
			  uint32_t peer_domid, uint32_t flags)
{
	struct ivt_ctrl_open_ok ok;
	memset(&ok, 0, sizeof(ok));
	ok.chan_id = ch->id;
	snprintf(ok.backend, sizeof(ok.backend), "%s", ch->backend);
	ok.ring_size = ch->ring_size;
	ok.is_server = (uint32_t)is_server;
	ok.local_domid = end->domid;
	ok.peer_domid = peer_domid;
	snprintf(ok.xs_path, sizeof(ok.xs_path), "%s", ch->xs_path);
	ok.spill_above_bytes = ch->spill_above;
	ok.flags = (ch->message ? IVT_CTRL_OK_MESSAGE : 0) | flags;
	end->reg->ops->reply_ok(end, &ok);
}

void broker_peer_info(struct ivt_reg_end *end, const struct ivt_reg_end *other,
		      const struct ivt_identity *who, uint32_t peer_domid)
{
	/* half-close needs both libivts to know the FIN frame; the
	 * registry drops the flag for an end that did not announce it */
	uint32_t flags = other && other->halfclose ? IVT_CTRL_PEER_HALFCLOSE : 0;
	if (end->reg->ops->peer_info)
		end->reg->ops->peer_info(end, who, peer_domid, flags);
}

/* Asks the policy, with this host's backends filled into q. */
int broker_ask_policy(const struct ivt_broker *b, struct ivt_policy_query *q,
		      struct ivt_policy_decision *d)
{
	q->backends = b->backends;
	q->n_backends = b->n_backends;
	return ivt_policy_decide(b->policy, q, d);
}

/* ask_policy(), refusing end with the policy's reason on a "no". */
int broker_decide_or_refuse(struct ivt_broker *b, struct ivt_reg_end *end,
			    struct ivt_policy_query *q, struct ivt_policy_decision *d)
{
	int rc = broker_ask_policy(b, q, d);
	if (rc < 0)
		broker_refuse(b, end, rc, "%s", d->reason);
	return rc;
}

/* A new channel in the table, owned by end (its listener or client:
 * the caller says which). NULL, end refused, when out of memory. */
struct channel *broker_channel_new(struct ivt_broker *b, struct ivt_reg_end *end,
				   enum chan_kind kind, const char *name, const char *backend)
{
	struct channel *ch = calloc(1, sizeof(*ch));
	if (!ch) {
		broker_refuse(b, end, -ENOMEM, "ivtd is out of memory");
		return NULL;
	}
	ch->kind = kind;
	ch->state = CS_CONNECTED;
	ch->id = b->next_id++;
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	snprintf(ch->backend, sizeof(ch->backend), "%s", backend);
	const struct ivt_backend_info *be = ivt_broker_backend(b, backend);
	ch->caps = be ? be->caps : 0;
	ch->since = time(NULL);
	ch->next = b->channels;
	if (ch->next)
		ch->next->prev = ch;
	b->channels = ch;
	end->broker_data = ch;
	return ch;
}

/* end becomes the channel's one and only client. */
static void channel_set_client(struct channel *ch, struct ivt_reg_end *end)
{
	ch->client = end;
	end->broker_data = ch;
	ch->client_id = end->who;
}

/* IVT_CAP_XS_PATH channels meet at a XenStore path below the listener's
 * domain. */
void broker_set_xs_path(struct channel *ch, uint32_t listener_domid)
{
	if ((ch->caps & IVT_CAP_XS_PATH) &&
	    ivt_xs_vchan_path(ch->xs_path, sizeof(ch->xs_path), listener_domid,
			      ch->kind == CHAN_CONN ? NULL : ch->name, ch->id) != 0)
		ch->xs_path[0] = '\0';
}

/* An opener (remote or service) failed: forget the channel, refuse end. */
static void channel_open_failed(struct ivt_broker *b, struct ivt_reg_end *end,
				struct channel *ch, int rc, const char *reason)
{
	end->broker_data = NULL;
	broker_free_channel(b, ch);
	broker_refuse(b, end, rc, "%s", reason[0] ? reason : strerror(-rc));
}

/* The rule's "message" against the end's IVT_MESSAGE (conf/README.md):
 * 1 message mode, 0 byte stream, or -EPROTOTYPE after refusing end. */
static int listener_mode(struct ivt_broker *b, struct ivt_reg_end *end,
			 const struct ivt_end_request *req, const struct ivt_policy_decision *d)
{
	if (d->message == IVT_MODE_STREAM && req->message) {
		broker_refuse(b, end, -EPROTOTYPE, "channel '%s' is a byte stream (\"message\": false "
			      "in rule %s); open it without IVT_MESSAGE", req->name, d->rule);
		return -EPROTOTYPE;
	}
	return d->message == IVT_MODE_MESSAGE || req->message;
}

/* A connector's IVT_MESSAGE on a byte-stream channel: refused here, with
 * the reason, before its listener hears of it. 0 or -EPROTOTYPE. */
static int connector_mode(struct ivt_broker *b, struct ivt_reg_end *end,
			  const struct ivt_end_request *req, const struct channel *ch,
			  const struct ivt_policy_decision *d)
{
	if (!req->message || ch->message)
		return 0;
	broker_refuse(b, end, -EPROTOTYPE, "channel '%s' is a byte stream (%s); connect without "
		      "IVT_MESSAGE", req->name, d->message == IVT_MODE_STREAM
		      ? "\"message\": false in its rule" : "its listener did not ask for IVT_MESSAGE");
	return -EPROTOTYPE;
}

/* ONESHOT (ivt_open) and LISTENER (ivt_listen) ends: the policy as a
 * listener, then the name is theirs. */
static void handle_listen(struct ivt_broker *b, struct ivt_reg_end *end,
			  const struct ivt_end_request *req)
{
	struct channel *ch = broker_find_named(b, req->name);
	if (ch) {
		broker_refuse(b, end, -EADDRINUSE, "channel '%s' already has a listener (%s)",
			      req->name, broker_listener_label(ch).s);
		return;
	}
	struct ivt_policy_query q = {
		.channel = req->name, .identity = &end->who, .is_listener = 1,
		.backend = req->backend, .ring_size = req->ring_size,
		/* Every end ivtd sees today is on this host; remote ends
		 * (slurpoe between hosts) will clear this. */
		.colocated = 1,
	};
	struct ivt_policy_decision d;
	if (broker_decide_or_refuse(b, end, &q, &d) < 0)
		return;
	int message = listener_mode(b, end, req, &d);
	if (message < 0)
		return;
	ch = broker_channel_new(b, end, req->multi ? CHAN_LISTENER : CHAN_ONESHOT, req->name,
				d.backend);
	if (!ch)
		return;
	ch->state = CS_LISTENING;
	ch->ring_size = d.ring_size;
	ch->message = message;
	if (d.has_spill)
		ch->spill_above = d.spill_above_bytes < IVT_CTRL_SPILL_ABOVE_MAX
					  ? d.spill_above_bytes : IVT_CTRL_SPILL_ABOVE_MAX;
	ch->server = end;
	ch->server_id = end->who;
	b->stats.granted++;
	if (d.ring_adjusted)
		IVT_INFO(WHO, "%s", d.reason);
	IVT_INFO(WHO, "%s '%s' by %s: granted backend %s, ring %" PRIu64 " (rule %s)",
		 req->multi ? "listener" : "listen", ch->name, IVT_ID_S(&end->who), ch->backend,
		 ch->ring_size, d.rule);
	if (req->multi) {
		broker_listener_limits(ch, &d);
		ch->u.lis.next_ticket = 1;
		ch->u.lis.rings = req->rings;
		ch->u.lis.lines = req->lines && !d.no_lines;
		ch->u.lis.line_bound = req->line_bound;
		if (req->ok_bound) /* it holds the bound from the start */
			broker_open_ok_flags(end, ch, 1, ch->u.lis.max_conns,
					     IVT_CTRL_OK_MAX_CONNS);
		else
			broker_open_ok(end, ch, 1, 0);
		return;
	}
	broker_set_xs_path(ch, end->domid);
	if (ch->caps & IVT_CAP_PEER_BOUND) {
		ch->state = CS_DEFERRED;
		IVT_INFO(WHO, "channel '%s': %s listener answered when a client connects",
			 ch->name, ch->backend);
		return;
	}
	broker_open_ok(end, ch, 1, 0);
}

void broker_relay(struct ivt_broker *b, struct channel *ch)
{
	struct chan_setup *s = ch->setup;
	int rc = ch->client->reg->ops->relay_setup(ch->client, s->blob, s->blob_len, s->fds,
						    s->nfds);
	if (rc == 0)
		b->stats.setups_relayed++;
	else if (rc != -ENOTSUP)
		IVT_WARN(WHO, "channel '%s': relaying setup to %s failed: %s", ch->name,
			 IVT_ID_S(&ch->client_id), strerror(-rc));
	/* One client per channel: nobody else will need it. */
	broker_drop_setup(ch);
}

static void handle_connect(struct ivt_broker *b, struct ivt_reg_end *end,
			   const struct ivt_end_request *req)
{
	struct channel *ch = broker_find_named(b, req->name);
	if (!ch) {
		/* Still check the policy first: a refusal is more useful than
		 * "no listener" to someone who may never connect. */
		struct ivt_policy_query q = {
			.channel = req->name, .identity = &end->who, .is_listener = 0,
			.backend = req->backend, .colocated = 1,
		};
		struct ivt_policy_decision d;
		int rc = broker_ask_policy(b, &q, &d);
		/* No rule is as final as a refusal: a connector that waited
		 * would only learn it at its deadline (a later reload that
		 * adds the rule is no listener either). */
		if (rc == -EACCES || rc == -ENOENT)
			broker_refuse(b, end, -EACCES, "%s", d.reason);
		else
			broker_refuse(b, end, -ENOENT, "no listener for channel '%s'", req->name);
		return;
	}
	/* The policy per connector: a refused one never reaches a queue. */
	struct ivt_policy_query q = {
		.channel = req->name, .identity = &end->who, .is_listener = 0,
		.backend = req->backend, .ring_size = req->ring_size, .colocated = 1,
		.peer_identity = &ch->server_id, .granted_backend = ch->backend,
		.granted_ring_size = ch->ring_size,
	};
	struct ivt_policy_decision d;
	int rc = broker_ask_policy(b, &q, &d);
	if (rc < 0) { /* no rule (reloaded away): final too, as above */
		broker_refuse(b, end, rc == -ENOENT ? -EACCES : rc, "%s", d.reason);
		return;
	}
	if (broker_ring_refused(b, ch, end, req) || connector_mode(b, end, req, ch, &d) < 0)
		return;
	if (ch->kind == CHAN_LISTENER) {
		broker_connect_multi(b, ch, end, req, &d);
		return;
	}
	if (ch->state != CS_LISTENING && ch->state != CS_DEFERRED) {
		broker_refuse(b, end, -EBUSY, "channel '%s' already %s a client (%s); its listener "
					      "must listen again, or use ivt_listen to serve many",
			      req->name, ch->client ? "has" : "served", IVT_ID_S(&ch->client_id));
		return;
	}
	int deferred = ch->state == CS_DEFERRED;
	ch->state = CS_CONNECTED; /* a one-shot name is no longer offered */
	channel_set_client(ch, end);
	b->stats.granted++;
	IVT_INFO(WHO, "connect '%s' by %s to %s: backend %s, ring %" PRIu64 " (rule %s)", ch->name,
		 IVT_ID_S(&end->who), IVT_ID_S(&ch->server_id), ch->backend, ch->ring_size, d.rule);
	broker_give_cookie(ch);
	broker_peer_info(ch->server, end, &end->who, end->domid);
	if (deferred)
		broker_open_ok(ch->server, ch, 1, end->domid);
	broker_peer_info(end, ch->server, &ch->server_id, ch->server->domid);
	broker_open_ok(end, ch, 0, ch->server->domid);
	if (ch->setup)
		broker_relay(b, ch);
	ch->server->reg->ops->notify_peer(ch->server, IVT_PEER_CONNECTED, end->domid);
}

/* ---- channels whose listener is on another host ------------------- */

void ivt_broker_set_host_name(struct ivt_broker *b, const char *name)
{
	snprintf(b->host_name, sizeof(b->host_name), "%s", name ? name : "");
}

const char *ivt_broker_host_name(const struct ivt_broker *b) { return b->host_name; }

void ivt_broker_stopping(struct ivt_broker *b) { b->stopping = 1; }

const char *broker_gone_word(const struct ivt_broker *b, int graceful)
{
	if (b->stopping)
		return "let go (ivtd stopping)";
	return graceful ? "closed" : "died";
}

const char *broker_end_role(const struct channel *ch, const struct ivt_reg_end *end)
{
	if (ch->server != end)
		return "client";
	return ch->kind == CHAN_CONN ? "accepted end" : "listener";
}

void ivt_broker_set_remote(struct ivt_broker *b, const struct ivt_broker_remote *r)
{
	if (r)
		b->remote = *r;
	else
		memset(&b->remote, 0, sizeof(b->remote));
}

/* The rule for name sends it to another host: its listener lives there. */
static const struct ivt_policy_channel *remote_rule(const struct ivt_broker *b, const char *name)
{
	const struct ivt_policy_channel *c = ivt_policy_find_channel(b->policy, name);
	if (!c || !c->host[0] || !strcmp(c->host, b->host_name))
		return NULL;
	return c;
}

static void handle_remote(struct ivt_broker *b, struct ivt_reg_end *end,
			  const struct ivt_end_request *req, const struct ivt_policy_channel *rule)
{
	if (req->listen) {
		broker_refuse(b, end, -EACCES, "channel '%s' lives on host %s (rule %d); listen there",
		       req->name, rule->host, rule->index);
		return;
	}
	/* Ends that came from another host are never sent on: no relaying
	 * through a chain of daemons, whatever their policies say. */
	if (end->who.kind == IVT_IDENTITY_HOST) {
		broker_refuse(b, end, -EACCES, "channel '%s' lives on host %s, not here", req->name,
		       rule->host);
		return;
	}
	/* The local leg is always shm toward the daemon: check the
	 * connector as if it joined a shm listener. */
	struct ivt_policy_query q = {
		.channel = req->name, .identity = &end->who, .is_listener = 0,
		.backend = req->backend, .ring_size = req->ring_size, .colocated = 0,
		.granted_backend = "shm",
	};
	struct ivt_policy_decision d;
	if (broker_decide_or_refuse(b, end, &q, &d) < 0)
		return;
	/* This host's rule or the connector asks for messages; the far
	 * listener's host refuses that on a byte stream, and its OPEN_OK
	 * says message mode when the listener chose it (docs/remote.md). */
	struct ivt_end_request r = *req;
	int message = listener_mode(b, end, req, &d);
	if (message < 0)
		return;
	r.message = message;
	/* A rule naming an RDMA plugin asks for the connector's own queue
	 * pair to the listener (docs/remote.md, "Direct queue pairs"). */
	if (!r.backend[0] || !strcmp(r.backend, "auto"))
		snprintf(r.backend, sizeof(r.backend), "%s", rule->backend);
	const struct ivt_policy_host *host = ivt_policy_find_host(b->policy, rule->host);
	if (!host) {
		broker_refuse(b, end, -ENOENT, "channel '%s' lives on host %s, which is not in \"hosts\" "
					"of %s", req->name, rule->host, b->policy->source);
		return;
	}
	if (!b->remote.open) {
		broker_refuse(b, end, -ENOTSUP, "channel '%s' lives on host %s but this ivtd has no "
					 "remote support", req->name, rule->host);
		return;
	}
	struct channel *ch = broker_channel_new(b, end, CHAN_REMOTE, req->name, "shm");
	if (!ch)
		return;
	ch->message = message;
	channel_set_client(ch, end);
	/* the far listener is not known here: any end on that host */
	memset(&ch->server_id, 0, sizeof(ch->server_id));
	ch->server_id.kind = IVT_IDENTITY_HOST;
	snprintf(ch->server_id.host, sizeof(ch->server_id.host), "%.*s", IVT_IDENTITY_HOST_MAX,
		 rule->host); /* policy_load.c keeps it that short */
	char reason[IVT_ERRMSG_MAX + 1] = "";
	int rc = b->remote.open(b->remote.arg, end, &r, host, rule->max_ring_size, reason,
				sizeof(reason));
	if (rc < 0) {
		channel_open_failed(b, end, ch, rc, reason);
		return;
	}
	b->stats.granted++;
	IVT_INFO(WHO, "connect '%s' by %s: listener on host %s, opening there (rule %s)",
		 req->name, IVT_ID_S(&end->who), rule->host, d.rule);
}

/* ---- channels ivtd serves itself ----------------------------------- */

void ivt_broker_set_service(struct ivt_broker *b, const struct ivt_broker_service *s)
{
	if (s)
		b->service = *s;
	else
		memset(&b->service, 0, sizeof(b->service));
}

/* A connector to the service's name: ivtd is the listener. The rule
 * shapes the channel (backend, or shm for "auto"; ring size) like a
 * listener's grant would. */
static void handle_service(struct ivt_broker *b, struct ivt_reg_end *end,
			   const struct ivt_end_request *req)
{
	if (req->listen) {
		broker_refuse(b, end, -EACCES, "channel '%s' is served by ivtd itself; nobody may listen on "
					"it", req->name);
		return;
	}
	const struct ivt_policy_channel *rule = ivt_policy_find_channel(b->policy, req->name);
	const char *backend = rule && strcmp(rule->backend, "auto") ? rule->backend : "shm";
	uint64_t ring = rule ? rule->ring_size : 0, rr = req->ring_size;
	if (rule && rr >= IVT_POLICY_RING_MIN && rr <= rule->max_ring_size && !(rr & (rr - 1)))
		ring = rr;
	struct ivt_policy_query q = {
		.channel = req->name, .identity = &end->who, .is_listener = 0,
		.backend = req->backend, .colocated = 1, .granted_backend = backend,
		.granted_ring_size = ring,
	};
	struct ivt_policy_decision d;
	if (broker_decide_or_refuse(b, end, &q, &d) < 0)
		return;
	if (req->message || d.message == IVT_MODE_MESSAGE) {
		broker_refuse(b, end, -EPROTOTYPE, "channel '%s' is served by ivtd as a byte stream%s",
			      req->name, req->message ? "; connect without IVT_MESSAGE"
						      : " (\"message\": true in its rule cannot apply)");
		return;
	}
	const struct ivt_backend_info *be = ivt_broker_backend(b, backend);
	if (!be || !be->available) {
		broker_refuse(b, end, -ENOTSUP, "channel '%s': backend %s not available on this host",
		       req->name, backend);
		return;
	}
	struct channel *ch = broker_channel_new(b, end, CHAN_SERVICE, req->name, backend);
	if (!ch)
		return;
	ch->ring_size = ring;
	channel_set_client(ch, end);
	ch->server_id = ivt_identity_daemon();
	broker_set_xs_path(ch, 0);
	broker_open_ok(end, ch, 0, 0);
	char reason[IVT_ERRMSG_MAX + 1] = "";
	int rc = b->service.open(b->service.arg, end, ch->backend, ch->ring_size,
				 ch->xs_path[0] ? ch->xs_path : NULL, &d, reason, sizeof(reason));
	if (rc < 0) {
		channel_open_failed(b, end, ch, rc, reason);
		return;
	}
	b->stats.granted++;
	IVT_INFO(WHO, "connect '%s' by %s: served by ivtd, backend %s, ring %" PRIu64 " (rule %s)",
		 ch->name, IVT_ID_S(&end->who), ch->backend, ch->ring_size, d.rule);
}

/* ---- callbacks ----------------------------------------------------- */

static void cb_request(void *arg, struct ivt_reg_end *end, const struct ivt_end_request *req)
{
	struct ivt_broker *b = arg;
	if (end->retry)
		b->stats.retries++;
	else
		b->stats.requests++;
	if (end->broker_data) {
		const struct channel *ch = end->broker_data;
		broker_refuse(b, end, -EISCONN, "this end already belongs to channel '%s'", ch->name);
		return;
	}
	/* Registries validate, but names go into XenStore paths and logs:
	 * check once more where it matters. */
	if (!ivt_name_valid(req->name)) {
		broker_refuse(b, end, -EINVAL, "invalid channel name (1..%d of A-Z a-z 0-9 . _ -)",
		       IVT_NAME_MAX);
		return;
	}
	if (memchr(req->backend, '\0', sizeof(req->backend)) == NULL) {
		broker_refuse(b, end, -EINVAL, "invalid backend name");
		return;
	}
	/* tcp.<P>.dom<d> is guest d's TCP port (common/tcp_map.h): whatever a
	 * registry or a policy glob lets through, nobody else listens there */
	uint32_t owner;
	if (req->listen && ivt_tcp_name_owner(req->name, &owner)) {
		struct ivt_identity dom = ivt_identity_dom(owner);
		if (!ivt_identity_equal(&end->who, &dom)) {
			broker_refuse(b, end, -EACCES, "channel '%s' is a TCP port of dom:%u, not of %s",
				      req->name, owner, IVT_ID_S(&end->who));
			return;
		}
	}
	/* tcp.<P>.<addr> is a TCP port on an address of this host: only its
	 * own processes listen there (guests' ports are tcp.<P>.dom<d>) */
	struct ivt_ip bound;
	if (req->listen && end->who.kind != IVT_IDENTITY_UID && ivt_tcp_name_addr(req->name, &bound)) {
		broker_refuse(b, end, -EACCES, "channel '%s' is a TCP port on an address of this "
					       "host; only its processes listen there", req->name);
		return;
	}
	const struct ivt_policy_channel *rule = remote_rule(b, req->name);
	if (req->ring && (rule || (b->service.open && !strcmp(req->name, b->service.name)))) {
		broker_refuse(b, end, -ESTALE, "channel '%s' takes no connector-made ring; open it "
					       "the ordinary way", req->name);
		return;
	}
	if (b->service.open && !strcmp(req->name, b->service.name))
		handle_service(b, end, req);
	else if (rule)
		handle_remote(b, end, req, rule);
	else if (req->listen && req->ticket)
		broker_accept(b, end, req);
	else if (req->listen)
		handle_listen(b, end, req);
	else
		handle_connect(b, end, req);
}

static void close_fds(int *fds, int nfds)
{
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

struct chan_setup *broker_setup_new(struct ivt_broker *b, struct ivt_reg_end *end,
				    const void *blob, size_t len, int *fds, int nfds)
{
	struct chan_setup *s = len <= IVT_OOB_BLOB_MAX ? malloc(sizeof(*s)) : NULL;
	if (!s) {
		close_fds(fds, nfds);
		if (len > IVT_OOB_BLOB_MAX)
			broker_refuse(b, end, -EMSGSIZE, "setup blob larger than %d bytes",
				      IVT_OOB_BLOB_MAX);
		else
			broker_refuse(b, end, -ENOMEM, "ivtd is out of memory");
		return NULL;
	}
	memcpy(s->blob, blob, len);
	s->blob_len = len;
	if (nfds > 0) /* fds may be NULL without any */
		memcpy(s->fds, fds, sizeof(int) * (size_t)nfds);
	s->nfds = nfds;
	return s;
}

static void cb_setup(void *arg, struct ivt_reg_end *end, const void *blob, size_t len, int *fds,
		     int nfds)
{
	struct ivt_broker *b = arg;
	struct channel *ch = end->broker_data;
	if (nfds < 0 || nfds > IVT_OOB_FDS_MAX)
		nfds = 0; /* cannot be trusted to say which to close; registries never do this */
	if (ch && ch->kind == CHAN_REMOTE && ch->client == end && b->remote.setup) {
		/* A connector's half of a direct queue pair: to the far host. */
		int rc = len <= IVT_OOB_BLOB_MAX ? b->remote.setup(b->remote.arg, end, blob, len, nfds)
						 : -EMSGSIZE;
		close_fds(fds, nfds);
		if (rc < 0)
			broker_refuse(b, end, rc, "channel '%s': this end's setup cannot go to the "
						  "listener's host: %s", ch->name, strerror(-rc));
		return;
	}
	if (ch && ch->kind == CHAN_CONN && ch->client == end && ch->state == CS_RING) {
		broker_ring_setup(b, ch, end, blob, len, fds, nfds);
		return;
	}
	if (!ch && end->refused) {
		/* sent with its refused OPEN: the client has its answer already */
		close_fds(fds, nfds);
		IVT_DEBUG(WHO, "%s: SETUP after a refusal dropped", IVT_ID_S(&end->who));
		return;
	}
	if (!ch || ch->server != end || ch->kind == CHAN_LISTENER || ch->kind == CHAN_ADOPTED) {
		close_fds(fds, nfds);
		broker_refuse(b, end, -EPROTO, "only an open listening or accepting end may send "
					       "SETUP");
		return;
	}
	if (ch->setup || ch->setup_seen || ch->state == CS_HALF) {
		close_fds(fds, nfds);
		broker_refuse(b, end, -EALREADY, "channel '%s' already has its setup", ch->name);
		return;
	}
	struct chan_setup *s = broker_setup_new(b, end, blob, len, fds, nfds);
	if (!s)
		return;
	ch->setup = s;
	ch->setup_seen = 1;
	IVT_DEBUG(WHO, "channel '%s': setup from %s (%zu bytes, %d fds)", ch->name, IVT_ID_S(&end->who),
		  len, nfds);
	if (ch->client)
		broker_relay(b, ch);
	if (ch->detach_server) {
		/* its SETUP was the last it had to say to us */
		ch->detach_server = 0;
		ch->server_detached = 1;
		ch->server = NULL;
		end->broker_data = NULL;
		end->reg->ops->release(end);
	}
}

int ivt_broker_setup_to_server(struct ivt_broker *b, struct ivt_reg_end *end, const void *blob,
			       size_t len)
{
	struct channel *ch = end->broker_data;
	if (!ch || ch->client != end || !ch->server)
		return -ENOTCONN;
	if (len > IVT_OOB_BLOB_MAX)
		return -EMSGSIZE;
	int rc = ch->server->reg->ops->relay_setup(ch->server, blob, len, NULL, 0);
	if (rc == 0)
		b->stats.setups_relayed++;
	return rc;
}

void broker_end_gone(struct ivt_broker *b, struct channel *ch, struct ivt_reg_end *end,
		     int graceful)
{
	int event = graceful ? IVT_PEER_CLOSED : IVT_PEER_DIED;
	struct ivt_reg_end *other = NULL;
	const char *role = broker_end_role(ch, end);
	char whose[IVT_IDENTITY_MAX + 32] = ""; /* which of the listener's connections */
	if (ch->kind == CHAN_CONN && ch->server == end)
		snprintf(whose, sizeof(whose), " of the connection from %s", IVT_ID_S(&ch->client_id));
	if (ch->server == end) {
		ch->server = NULL;
		other = ch->client;
		/* Nobody can attach any more: release the shared resources. */
		broker_drop_setup(ch);
	} else if (ch->client == end) {
		ch->client = NULL;
		other = ch->server;
	}
	IVT_INFO(WHO, "channel '%s': %s %s%s %s", ch->name, role, IVT_ID_S(&end->who), whose,
		 broker_gone_word(b, graceful));
	if (other)
		other->reg->ops->notify_peer(other, event, end->domid);
	ch->state = CS_HALF;
	if (!ch->server && !ch->client)
		broker_free_channel(b, ch);
}

static void cb_gone(void *arg, struct ivt_reg_end *end, int graceful)
{
	struct ivt_broker *b = arg;
	struct channel *ch = end->broker_data;
	end->broker_data = NULL;
	if (!ch)
		return;
	if (!graceful && !b->stopping)
		b->stats.peers_died++;
	switch (ch->kind) {
	case CHAN_SERVICE:
		ch->client = NULL;
		if (b->service.gone)
			b->service.gone(b->service.arg, end, graceful);
		broker_free_channel(b, ch);
		return;
	case CHAN_REMOTE:
		IVT_INFO(WHO, "channel '%s': client %s (bridged to host %s) %s", ch->name,
			 IVT_ID_S(&end->who), ch->server_id.host, broker_gone_word(b, graceful));
		ch->client = NULL;
		if (b->remote.gone)
			b->remote.gone(b->remote.arg, end, graceful);
		broker_free_channel(b, ch);
		return;
	case CHAN_LISTENER:
		broker_listener_gone(b, ch, graceful);
		return;
	case CHAN_CONN:
		broker_conn_gone(b, ch, end, graceful);
		return;
	case CHAN_ONESHOT:
		/* The name is free for a new listener right away. */
		broker_end_gone(b, ch, end, graceful);
		return;
	case CHAN_ADOPTED:
		broker_adopted_gone(b, ch, end, graceful);
		return;
	}
}

static int cb_listening(void *arg, const char *name)
{
	return broker_find_named(arg, name) != NULL;
}

struct ivt_broker_cb ivt_broker_callbacks(struct ivt_broker *b)
{
	return (struct ivt_broker_cb){
		.arg = b, .request = cb_request, .setup = cb_setup, .gone = cb_gone,
		.adopt = broker_adopt,
		.attach = broker_attach,
		.listening = cb_listening,
		.line_stats = broker_line_stats,
	};
}
