/* SPDX-License-Identifier: MIT */
#include "common/textbuf.h"
#include "broker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/ctrl_msg.h"
#include "common/log.h"
#include "common/plugin_loader.h"
#include "common/xs_paths.h"

#define WHO "ivtd"

struct channel {
	struct channel *next; /* every channel still referenced by an end */
	uint64_t id;
	char name[IVT_NAME_MAX + 1];
	char backend[IVT_BACKEND_NAME_MAX + 1];
	unsigned caps; /* the backend's enum ivt_plugin_caps */
	uint64_t ring_size;
	char xs_path[IVT_XS_PATH_MAX + 1];
	struct ivt_reg_end *server, *client; /* NULL once gone */
	char server_id[48], client_id[48];   /* kept for status after they go */
	int served;                          /* a client attached once: no second one */
	int has_setup;
	uint8_t blob[IVT_OOB_BLOB_MAX];
	size_t blob_len;
	int fds[IVT_OOB_FDS_MAX];
	int nfds;
	time_t since;
	int remote; /* the listener is on another host; client is a local end */
	int service; /* ivtd itself is the listener (ivt_broker_set_service) */
	uint64_t spill_above; /* policy "spill": sent to both ends in OPEN_OK */
	/* IVT_CAP_PEER_BOUND: the listener is answered only once its client
	 * (and so the peer domain) is known. */
	int server_answer_pending;
};

struct ivt_broker {
	struct ivt_policy *policy;
	struct channel *channels;
	uint64_t next_id;
	/* The backends found in the plugin directory (sorted by name). */
	struct ivt_backend_info backends[IVT_PLUGINS_MAX];
	size_t n_backends;
	struct ivt_broker_stats stats;
	char host_name[IVT_NAME_MAX + 1];
	struct ivt_broker_remote remote; /* .open NULL: no bridge */
	struct ivt_broker_service service; /* .open NULL: none */
};

/* ---- table --------------------------------------------------------- */

static struct channel *find_channel(struct ivt_broker *b, const char *name)
{
	/* Only channels with a listener own their name. */
	for (struct channel *c = b->channels; c; c = c->next)
		if (c->server && !strcmp(c->name, name))
			return c;
	return NULL;
}

static void unlink_channel(struct ivt_broker *b, struct channel *ch)
{
	for (struct channel **pp = &b->channels; *pp; pp = &(*pp)->next)
		if (*pp == ch) {
			*pp = ch->next;
			ch->next = NULL;
			return;
		}
}

static void drop_setup(struct channel *ch)
{
	for (int i = 0; i < ch->nfds; i++)
		close(ch->fds[i]);
	ch->nfds = 0;
	ch->has_setup = 0;
}

static void free_channel(struct ivt_broker *b, struct channel *ch)
{
	unlink_channel(b, ch);
	drop_setup(ch);
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
	while (b->channels) {
		/* Ends still pointing here belong to registries already gone. */
		free_channel(b, b->channels);
	}
	ivt_policy_free(b->policy);
	free(b);
}

void ivt_broker_set_policy(struct ivt_broker *b, struct ivt_policy *p)
{
	ivt_policy_free(b->policy);
	b->policy = p;
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

void ivt_broker_get_stats(const struct ivt_broker *b, struct ivt_broker_stats *st)
{
	*st = b->stats;
	st->channels = 0;
	for (const struct channel *c = b->channels; c; c = c->next)
		st->channels += c->server != NULL;
}

/* ---- answering ends ------------------------------------------------ */

static void refuse(struct ivt_broker *b, struct ivt_reg_end *end, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

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
	case ENOMEM: return "ENOMEM";
	default: return "error";
	}
}

/* err is a negative errno. Logs and answers. */
static void refuse(struct ivt_broker *b, struct ivt_reg_end *end, int err, const char *fmt, ...)
{
	char msg[IVT_ERRMSG_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->stats.refused++;
	IVT_INFO(WHO, "refused %s (%s): %s", end->identity, errno_name(-err), msg);
	end->reg->ops->reply_error(end, -err, msg);
}

static void open_ok(struct ivt_reg_end *end, const struct channel *ch, int is_server,
		    uint32_t peer_domid)
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
	end->reg->ops->reply_ok(end, &ok);
}

/* Asks the policy, with this host's backends filled into q. */
static int ask_policy(const struct ivt_broker *b, struct ivt_policy_query *q,
		      struct ivt_policy_decision *d)
{
	q->backends = b->backends;
	q->n_backends = b->n_backends;
	return ivt_policy_decide(b->policy, q, d);
}

/* ask_policy(), refusing end with the policy's reason on a "no". */
static int decide_or_refuse(struct ivt_broker *b, struct ivt_reg_end *end,
			    struct ivt_policy_query *q, struct ivt_policy_decision *d)
{
	int rc = ask_policy(b, q, d);
	if (rc < 0)
		refuse(b, end, rc, "%s", d->reason);
	return rc;
}

/* A new channel in the table, owned by end (its listener or client:
 * the caller says which). NULL, end refused, when out of memory. */
static struct channel *channel_new(struct ivt_broker *b, struct ivt_reg_end *end,
				   const char *name, const char *backend)
{
	struct channel *ch = calloc(1, sizeof(*ch));
	if (!ch) {
		refuse(b, end, -ENOMEM, "ivtd is out of memory");
		return NULL;
	}
	ch->id = b->next_id++;
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	snprintf(ch->backend, sizeof(ch->backend), "%s", backend);
	const struct ivt_backend_info *be = ivt_broker_backend(b, backend);
	ch->caps = be ? be->caps : 0;
	ch->since = time(NULL);
	ch->next = b->channels;
	b->channels = ch;
	end->broker_data = ch;
	return ch;
}

/* end becomes the channel's one and only client. */
static void channel_set_client(struct channel *ch, struct ivt_reg_end *end)
{
	ch->client = end;
	ch->served = 1;
	snprintf(ch->client_id, sizeof(ch->client_id), "%s", end->identity);
}

/* IVT_CAP_XS_PATH channels meet at a XenStore path below the listener's
 * domain. */
static void channel_set_xs_path(struct channel *ch, uint32_t listener_domid)
{
	if ((ch->caps & IVT_CAP_XS_PATH) &&
	    ivt_xs_vchan_path(ch->xs_path, sizeof(ch->xs_path), listener_domid, ch->name,
			      ch->id) != 0)
		ch->xs_path[0] = '\0';
}

/* An opener (remote or service) failed: forget the channel, refuse end. */
static void channel_open_failed(struct ivt_broker *b, struct ivt_reg_end *end,
				struct channel *ch, int rc, const char *reason)
{
	end->broker_data = NULL;
	free_channel(b, ch);
	refuse(b, end, rc, "%s", reason[0] ? reason : strerror(-rc));
}

static void handle_listen(struct ivt_broker *b, struct ivt_reg_end *end,
			  const struct ivt_end_request *req)
{
	struct channel *ch = find_channel(b, req->name);
	if (ch) {
		refuse(b, end, -EADDRINUSE, "channel '%s' already has a listener (%s)", req->name,
		       ch->server_id);
		return;
	}
	struct ivt_policy_query q = {
		.channel = req->name, .identity = end->identity, .is_listener = 1,
		.backend = req->backend, .ring_size = req->ring_size,
		/* Every end ivtd sees today is on this host; remote ends
		 * (slurpoe between hosts) will clear this. */
		.colocated = 1,
	};
	struct ivt_policy_decision d;
	if (decide_or_refuse(b, end, &q, &d) < 0)
		return;
	ch = channel_new(b, end, req->name, d.backend);
	if (!ch)
		return;
	ch->ring_size = d.ring_size;
	if (d.has_spill)
		ch->spill_above = d.spill_above_bytes < IVT_CTRL_SPILL_ABOVE_MAX
					  ? d.spill_above_bytes : IVT_CTRL_SPILL_ABOVE_MAX;
	ch->server = end;
	snprintf(ch->server_id, sizeof(ch->server_id), "%s", end->identity);
	channel_set_xs_path(ch, end->domid);
	b->stats.granted++;
	if (d.ring_adjusted)
		IVT_INFO(WHO, "%s", d.reason);
	IVT_INFO(WHO, "listen '%s' by %s: granted backend %s, ring %" PRIu64 " (rule %s)",
		 ch->name, end->identity, ch->backend, ch->ring_size, d.rule);
	if (ch->caps & IVT_CAP_PEER_BOUND) {
		ch->server_answer_pending = 1;
		IVT_INFO(WHO, "channel '%s': %s listener answered when a client connects",
			 ch->name, ch->backend);
		return;
	}
	open_ok(end, ch, 1, 0);
}

static void relay(struct ivt_broker *b, struct channel *ch)
{
	int rc = ch->client->reg->ops->relay_setup(ch->client, ch->blob, ch->blob_len, ch->fds,
						    ch->nfds);
	if (rc == 0)
		b->stats.setups_relayed++;
	else if (rc != -ENOTSUP)
		IVT_WARN(WHO, "channel '%s': relaying setup to %s failed: %s", ch->name,
			 ch->client_id, strerror(-rc));
}

static void handle_connect(struct ivt_broker *b, struct ivt_reg_end *end,
			   const struct ivt_end_request *req)
{
	struct channel *ch = find_channel(b, req->name);
	if (!ch) {
		/* Still check the policy first: a refusal is more useful than
		 * "no listener" to someone who may never connect. */
		struct ivt_policy_query q = {
			.channel = req->name, .identity = end->identity, .is_listener = 0,
			.backend = req->backend, .colocated = 1,
		};
		struct ivt_policy_decision d;
		int rc = ask_policy(b, &q, &d);
		if (rc == -EACCES || rc == -ENOENT)
			refuse(b, end, rc, "%s", d.reason);
		else
			refuse(b, end, -ENOENT, "no listener for channel '%s'", req->name);
		return;
	}
	struct ivt_policy_query q = {
		.channel = req->name, .identity = end->identity, .is_listener = 0,
		.backend = req->backend, .ring_size = req->ring_size, .colocated = 1,
		.peer_identity = ch->server_id, .granted_backend = ch->backend,
		.granted_ring_size = ch->ring_size,
	};
	struct ivt_policy_decision d;
	if (decide_or_refuse(b, end, &q, &d) < 0)
		return;
	if (ch->client || ch->served) {
		refuse(b, end, -EBUSY, "channel '%s' already %s a client (%s); its listener must "
				       "listen again",
		       req->name, ch->client ? "has" : "served", ch->client_id);
		return;
	}
	channel_set_client(ch, end);
	end->broker_data = ch;
	b->stats.granted++;
	IVT_INFO(WHO, "connect '%s' by %s to %s: backend %s, ring %" PRIu64 " (rule %s)", ch->name,
		 end->identity, ch->server_id, ch->backend, ch->ring_size, d.rule);
	if (ch->server_answer_pending) {
		ch->server_answer_pending = 0;
		open_ok(ch->server, ch, 1, end->domid);
	}
	open_ok(end, ch, 0, ch->server->domid);
	if (ch->has_setup)
		relay(b, ch);
	ch->server->reg->ops->notify_peer(ch->server, IVT_PEER_CONNECTED, end->domid);
}

/* ---- channels whose listener is on another host ------------------- */

void ivt_broker_set_host_name(struct ivt_broker *b, const char *name)
{
	snprintf(b->host_name, sizeof(b->host_name), "%s", name ? name : "");
}

const char *ivt_broker_host_name(const struct ivt_broker *b) { return b->host_name; }

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
		refuse(b, end, -EACCES, "channel '%s' lives on host %s (rule %d); listen there",
		       req->name, rule->host, rule->index);
		return;
	}
	/* Ends that came from another host are never sent on: no relaying
	 * through a chain of daemons, whatever their policies say. */
	if (!strncmp(end->identity, "host:", 5)) {
		refuse(b, end, -EACCES, "channel '%s' lives on host %s, not here", req->name,
		       rule->host);
		return;
	}
	/* The local leg is always shm toward the daemon: check the
	 * connector as if it joined a shm listener. */
	struct ivt_policy_query q = {
		.channel = req->name, .identity = end->identity, .is_listener = 0,
		.backend = req->backend, .ring_size = req->ring_size, .colocated = 0,
		.granted_backend = "shm",
	};
	struct ivt_policy_decision d;
	if (decide_or_refuse(b, end, &q, &d) < 0)
		return;
	const struct ivt_policy_host *host = ivt_policy_find_host(b->policy, rule->host);
	if (!host) {
		refuse(b, end, -ENOENT, "channel '%s' lives on host %s, which is not in \"hosts\" "
					"of %s", req->name, rule->host, b->policy->source);
		return;
	}
	if (!b->remote.open) {
		refuse(b, end, -ENOTSUP, "channel '%s' lives on host %s but this ivtd has no "
					 "remote support", req->name, rule->host);
		return;
	}
	struct channel *ch = channel_new(b, end, req->name, "shm");
	if (!ch)
		return;
	ch->remote = 1;
	channel_set_client(ch, end);
	snprintf(ch->server_id, sizeof(ch->server_id), "(%.44s)", rule->host);
	char reason[IVT_ERRMSG_MAX + 1] = "";
	int rc = b->remote.open(b->remote.arg, end, req, host, rule->max_ring_size, reason,
				sizeof(reason));
	if (rc < 0) {
		channel_open_failed(b, end, ch, rc, reason);
		return;
	}
	b->stats.granted++;
	IVT_INFO(WHO, "connect '%s' by %s: listener on host %s, opening there (rule %s)",
		 req->name, end->identity, rule->host, d.rule);
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
		refuse(b, end, -EACCES, "channel '%s' is served by ivtd itself; nobody may listen on "
					"it", req->name);
		return;
	}
	const struct ivt_policy_channel *rule = ivt_policy_find_channel(b->policy, req->name);
	const char *backend = rule && strcmp(rule->backend, "auto") ? rule->backend : "shm";
	uint64_t ring = rule ? rule->ring_size : 0, rr = req->ring_size;
	if (rule && rr >= IVT_POLICY_RING_MIN && rr <= rule->max_ring_size && !(rr & (rr - 1)))
		ring = rr;
	struct ivt_policy_query q = {
		.channel = req->name, .identity = end->identity, .is_listener = 0,
		.backend = req->backend, .colocated = 1, .granted_backend = backend,
		.granted_ring_size = ring,
	};
	struct ivt_policy_decision d;
	if (decide_or_refuse(b, end, &q, &d) < 0)
		return;
	const struct ivt_backend_info *be = ivt_broker_backend(b, backend);
	if (!be || !be->available) {
		refuse(b, end, -ENOTSUP, "channel '%s': backend %s not available on this host",
		       req->name, backend);
		return;
	}
	struct channel *ch = channel_new(b, end, req->name, backend);
	if (!ch)
		return;
	ch->service = 1;
	ch->ring_size = ring;
	channel_set_client(ch, end);
	snprintf(ch->server_id, sizeof(ch->server_id), "(ivtd)");
	channel_set_xs_path(ch, 0);
	open_ok(end, ch, 0, 0);
	char reason[IVT_ERRMSG_MAX + 1] = "";
	int rc = b->service.open(b->service.arg, end, ch->backend, ch->ring_size,
				 ch->xs_path[0] ? ch->xs_path : NULL, &d, reason, sizeof(reason));
	if (rc < 0) {
		channel_open_failed(b, end, ch, rc, reason);
		return;
	}
	b->stats.granted++;
	IVT_INFO(WHO, "connect '%s' by %s: served by ivtd, backend %s, ring %" PRIu64 " (rule %s)",
		 ch->name, end->identity, ch->backend, ch->ring_size, d.rule);
}

/* ---- callbacks ----------------------------------------------------- */

static void cb_request(void *arg, struct ivt_reg_end *end, const struct ivt_end_request *req)
{
	struct ivt_broker *b = arg;
	b->stats.requests++;
	if (end->broker_data) {
		const struct channel *ch = end->broker_data;
		refuse(b, end, -EISCONN, "this end already belongs to channel '%s'", ch->name);
		return;
	}
	/* Registries validate, but names go into XenStore paths and logs:
	 * check once more where it matters. */
	if (!ivt_name_valid(req->name)) {
		refuse(b, end, -EINVAL, "invalid channel name (1..%d of A-Z a-z 0-9 . _ -)",
		       IVT_NAME_MAX);
		return;
	}
	if (memchr(req->backend, '\0', sizeof(req->backend)) == NULL) {
		refuse(b, end, -EINVAL, "invalid backend name");
		return;
	}
	const struct ivt_policy_channel *rule = remote_rule(b, req->name);
	if (b->service.open && !strcmp(req->name, b->service.name))
		handle_service(b, end, req);
	else if (rule)
		handle_remote(b, end, req, rule);
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

static void cb_setup(void *arg, struct ivt_reg_end *end, const void *blob, size_t len, int *fds,
		     int nfds)
{
	struct ivt_broker *b = arg;
	struct channel *ch = end->broker_data;
	if (nfds < 0 || nfds > IVT_OOB_FDS_MAX)
		nfds = 0; /* cannot be trusted to say which to close; registries never do this */
	if (!ch || ch->server != end) {
		close_fds(fds, nfds);
		refuse(b, end, -EPROTO, "only an open listening end may send SETUP");
		return;
	}
	if (ch->has_setup) {
		close_fds(fds, nfds);
		refuse(b, end, -EALREADY, "channel '%s' already has its setup", ch->name);
		return;
	}
	if (len > IVT_OOB_BLOB_MAX) {
		close_fds(fds, nfds);
		refuse(b, end, -EMSGSIZE, "setup blob larger than %d bytes", IVT_OOB_BLOB_MAX);
		return;
	}
	memcpy(ch->blob, blob, len);
	ch->blob_len = len;
	memcpy(ch->fds, fds, sizeof(int) * (size_t)nfds);
	ch->nfds = nfds;
	ch->has_setup = 1;
	IVT_DEBUG(WHO, "channel '%s': setup from %s (%zu bytes, %d fds)", ch->name, end->identity,
		  len, nfds);
	if (ch->client)
		relay(b, ch);
}

static void cb_gone(void *arg, struct ivt_reg_end *end, int graceful)
{
	struct ivt_broker *b = arg;
	struct channel *ch = end->broker_data;
	end->broker_data = NULL;
	if (!ch)
		return;
	int event = graceful ? IVT_PEER_CLOSED : IVT_PEER_DIED;
	if (!graceful)
		b->stats.peers_died++;
	if (ch->service) {
		ch->client = NULL;
		if (b->service.gone)
			b->service.gone(b->service.arg, end, graceful);
		free_channel(b, ch);
		return;
	}
	if (ch->remote) {
		IVT_INFO(WHO, "channel '%s': client %s of host %s %s", ch->name, end->identity,
			 ch->server_id, graceful ? "closed" : "died");
		ch->client = NULL;
		if (b->remote.gone)
			b->remote.gone(b->remote.arg, end, graceful);
		free_channel(b, ch);
		return;
	}
	if (ch->server == end) {
		/* The name is free for a new listener right away. */
		ch->server = NULL;
		/* Nobody can attach any more: release the shared resources. */
		drop_setup(ch);
		IVT_INFO(WHO, "channel '%s': listener %s %s", ch->name, end->identity,
			 graceful ? "closed" : "died");
		if (ch->client)
			ch->client->reg->ops->notify_peer(ch->client, event, end->domid);
	} else if (ch->client == end) {
		ch->client = NULL;
		IVT_INFO(WHO, "channel '%s': client %s %s", ch->name, end->identity,
			 graceful ? "closed" : "died");
		if (ch->server)
			ch->server->reg->ops->notify_peer(ch->server, event, end->domid);
	}
	if (!ch->server && !ch->client)
		free_channel(b, ch);
}

struct ivt_broker_cb ivt_broker_callbacks(struct ivt_broker *b)
{
	return (struct ivt_broker_cb){
		.arg = b, .request = cb_request, .setup = cb_setup, .gone = cb_gone,
	};
}

/* ---- status -------------------------------------------------------- */


static const char *state_of(const struct channel *ch)
{
	if (ch->client)
		return "connected";
	if (ch->served)
		return "client-gone";
	return "listening";
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
		ivt_textbuf_printf(&o, " %s=%s", b->backends[i].name, b->backends[i].available ? "yes" : "no");
	ivt_textbuf_printf(&o, "\nrequests %" PRIu64 ", granted %" PRIu64 ", refused %" PRIu64
		", setups relayed %" PRIu64 ", ends died %" PRIu64 "\n",
	    s->requests, s->granted, s->refused, s->setups_relayed, s->peers_died);
	ivt_textbuf_printf(&o, "%-24s %-8s %10s %-12s %-12s %-11s %s\n", "CHANNEL", "BACKEND", "RING", "LISTENER",
	    "CLIENT", "STATE", "AGE");
	size_t total = 0, shown = 0;
	time_t now = time(NULL);
	for (const struct channel *c = b->channels; c; c = c->next) {
		if (!c->server)
			continue; /* a client lingering after its listener left */
		total++;
		/* keep room for the "more" line */
		if (o.full || ivt_textbuf_room(&o) < 200)
			continue;
		ivt_textbuf_printf(&o, "%-24s %-8s %10" PRIu64 " %-12s %-12s %-11s %lds\n", c->name, c->backend,
		    c->ring_size, c->server_id, c->client_id[0] ? c->client_id : "-", state_of(c),
		    (long)(now - c->since));
		shown++;
	}
	if (shown < total) {
		o.full = 0;
		ivt_textbuf_printf(&o, "... and %zu more channels\n", total - shown);
	}
	return o.len;
}
