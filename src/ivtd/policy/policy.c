/* SPDX-License-Identifier: MIT */
/* Policy decisions: who may open which channel end, with which backend
 * and ring size. Loading lives in policy_load.c. */
#include "policy.h"

#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tcp_map.h"
#include "common/textbuf.h"

/* The local forms: "*" (only where allow_any), "uid:*", "dom:*", and
 * concrete identities: "uid:N", "dom:N", "ivtd" (only where allow_daemon),
 * read by the identity parser so patterns and identities spell alike. */
static int parse_local(const char *s, int allow_any, int allow_daemon, struct ivt_principal *out)
{
	if (!strcmp(s, "*")) {
		out->kind = IVT_PRINCIPAL_ANY;
		return allow_any ? 0 : -EINVAL;
	}
	if (!strcmp(s, "uid:*") || !strcmp(s, "dom:*")) {
		out->kind = s[0] == 'u' ? IVT_PRINCIPAL_UID : IVT_PRINCIPAL_DOM;
		out->any_id = 1;
		return 0;
	}
	struct ivt_identity id;
	if (ivt_identity_parse(s, &id) != 0 ||
	    !(ivt_identity_is_local(&id) || (allow_daemon && id.kind == IVT_IDENTITY_DAEMON)))
		return -EINVAL;
	out->kind = (enum ivt_principal_kind)id.kind;
	out->id = id.id;
	return 0;
}

/* "host:*", "host:NAME", "host:NAME/<local, ivtd or *>", NAME may be "*". */
static int parse_host_principal(const char *s, struct ivt_principal *out)
{
	out->kind = IVT_PRINCIPAL_HOST;
	out->local_kind = IVT_PRINCIPAL_ANY;
	const char *name = s + 5, *slash = strchr(name, '/');
	size_t n = slash ? (size_t)(slash - name) : strlen(name);
	if (n == 1 && name[0] == '*')
		out->host[0] = '\0';
	else if (ivt_host_name_valid(name, n, IVT_NAME_MAX))
		memcpy(out->host, name, n), out->host[n] = '\0';
	else
		return -EINVAL;
	if (!slash)
		return 0;
	struct ivt_principal local;
	memset(&local, 0, sizeof(local));
	if (parse_local(slash + 1, 1, 1, &local) != 0)
		return -EINVAL;
	out->local_kind = local.kind;
	out->any_id = local.any_id;
	out->id = local.id;
	return 0;
}

int ivt_principal_parse(const char *s, struct ivt_principal *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	int rc;
	if (!strncmp(s, "host:", 5))
		rc = parse_host_principal(s, out);
	else
		rc = parse_local(s, 1, 0, out);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

int ivt_principal_match(const struct ivt_principal *pat, const struct ivt_identity *who)
{
	if (pat->kind == IVT_PRINCIPAL_ANY)
		return 1;
	if (!who || (int)who->kind != (int)pat->kind)
		return 0;
	enum ivt_identity_kind kind = who->kind;
	if (pat->kind == IVT_PRINCIPAL_HOST) {
		if (pat->host[0] && strcmp(pat->host, who->host) != 0)
			return 0;
		if (pat->local_kind == IVT_PRINCIPAL_ANY)
			return 1;
		if ((int)pat->local_kind != (int)who->inner)
			return 0;
		kind = who->inner;
	}
	if (kind == IVT_IDENTITY_DAEMON)
		return 1;
	return pat->any_id || who->id == pat->id;
}

static int is_domain(const struct ivt_identity *who)
{
	return who && who->kind == IVT_IDENTITY_DOM;
}

const struct ivt_policy_channel *ivt_policy_find_channel(const struct ivt_policy *p,
							 const char *name)
{
	if (!p || !name)
		return NULL;
	/* A TCP port on one address, tcp.<P>.<addr>, is still port P: a rule
	 * for tcp.<P> covers it, so "tcp.80" rules say who may claim port 80
	 * on any address (docs/preload.md). */
	char port_name[16] = "";
	unsigned port = ivt_tcp_name_port(name) ? 0 : ivt_tcp_name_any_port(name);
	if (port)
		ivt_tcp_name(port_name, sizeof(port_name), port);
	/* First match in file order wins, like a firewall. */
	for (size_t i = 0; i < p->n_channels; i++)
		if (fnmatch(p->channels[i].pattern, name, FNM_PERIOD) == 0 ||
		    (port && fnmatch(p->channels[i].pattern, port_name, FNM_PERIOD) == 0))
			return &p->channels[i];
	return NULL;
}

/* Where a glob's literal head ends: its first special character. */
static size_t literal_head(const char *pat)
{
	return strcspn(pat, "*?[\\");
}

/* Every name b matches, a matches too (certain cases only, see .h). */
static int glob_covers(const char *a, const char *b)
{
	size_t ha = literal_head(a), hb = literal_head(b);
	if (!b[hb]) /* b is a plain name */
		return fnmatch(a, b, FNM_PERIOD) == 0;
	/* a is "head*": a name of b starts with b's head, so with a's head
	 * when b's head starts with it (b's own head does not begin with a
	 * period that "*" could not match: names are not dot files here) */
	return a[ha] == '*' && !a[ha + 1] && ha <= hb && !strncmp(a, b, ha) &&
	       (ha > 0 || b[0] != '.');
}

void ivt_policy_shadow_text(const struct ivt_policy_channel *shadowed,
			    const struct ivt_policy_channel *by, char *buf, size_t len)
{
	snprintf(buf, len,
		 "channels[%d] \"%s\" can never apply: channels[%d] \"%s\" (line %d) comes "
		 "first and matches every name it does",
		 shadowed->index, shadowed->pattern, by->index, by->pattern, by->line);
}

uint64_t ivt_policy_root_reserve(const struct ivt_policy_limits *l, size_t table)
{
	return l->root_reserve < table / 2 ? l->root_reserve : table / 2;
}

int ivt_policy_root_reserve_text(const struct ivt_policy *p, size_t table,
				 const char *table_what, char *buf, size_t len)
{
	uint64_t used = ivt_policy_root_reserve(&p->limits, table);
	buf[0] = '\0';
	if (p->root_reserve_line <= 0 || used == p->limits.root_reserve)
		return 0;
	snprintf(buf, len, "%s:%d: limits.root_reserve: %llu is more than half of %s (%zu "
		 "places), so ivtd uses %llu", p->source, p->root_reserve_line,
		 (unsigned long long)p->limits.root_reserve, table_what, table,
		 (unsigned long long)used);
	return 1;
}

void ivt_policy_each_shadowed(const struct ivt_policy *p,
			      void (*fn)(void *arg, const struct ivt_policy_channel *shadowed,
					 const struct ivt_policy_channel *by),
			      void *arg)
{
	for (size_t j = 1; p && j < p->n_channels; j++)
		for (size_t i = 0; i < j; i++)
			if (glob_covers(p->channels[i].pattern, p->channels[j].pattern)) {
				fn(arg, &p->channels[j], &p->channels[i]);
				break;
			}
}

void ivt_policy_each_backend(const struct ivt_policy *p,
			     void (*fn)(void *arg, const char *name, const char *where, int line),
			     void *arg)
{
	if (p->default_backend[0] && strcmp(p->default_backend, "auto"))
		fn(arg, p->default_backend, "\"defaults\" \"backend\"", 0);
	for (size_t i = 0; i < p->n_prefer; i++)
		fn(arg, p->prefer[i], "\"defaults\" \"prefer\"", 0);
	for (size_t i = 0; i < p->n_channels; i++) {
		const struct ivt_policy_channel *c = &p->channels[i];
		if (!c->backend[0] || !strcmp(c->backend, "auto"))
			continue;
		char where[IVT_NAME_MAX + 24];
		snprintf(where, sizeof(where), "channel rule '%s'", c->pattern);
		fn(arg, c->backend, where, c->line);
	}
}

const struct ivt_policy_host *ivt_policy_find_host(const struct ivt_policy *p, const char *name)
{
	for (size_t i = 0; p && name && i < p->n_hosts; i++)
		if (!strcmp(p->hosts[i].name, name))
			return &p->hosts[i];
	return NULL;
}

static int any_match(const struct ivt_principal *list, size_t n, const struct ivt_identity *who)
{
	for (size_t i = 0; i < n; i++)
		if (ivt_principal_match(&list[i], who))
			return 1;
	return 0;
}

static int is_auto(const char *b)
{
	return !b || !*b || !strcmp(b, "auto");
}

/* snprintf through a function: messages may be cut, and that is fine. */
__attribute__((format(printf, 3, 4))) static void say(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

static uint64_t round_up_pow2(uint64_t v)
{
	uint64_t r = 1;
	while (r < v)
		r <<= 1;
	return r;
}

/* Pick the granted ring size and explain any change in d->reason. */
static void decide_ring(const struct ivt_policy_channel *c, uint64_t requested,
			struct ivt_policy_decision *d)
{
	if (requested == 0) {
		d->ring_size = c->ring_size;
		return;
	}
	uint64_t r = requested;
	const char *why = NULL;
	if (r > c->max_ring_size) {
		r = c->max_ring_size;
		why = "lowered to the rule's max_ring_size";
	} else if (r < IVT_POLICY_RING_MIN) {
		r = IVT_POLICY_RING_MIN;
		why = "raised to the minimum";
	} else if (r & (r - 1)) {
		r = round_up_pow2(r);
		why = "rounded up to a power of two";
	}
	d->ring_size = r;
	if (why) {
		d->ring_adjusted = 1;
		say(d->reason, sizeof(d->reason),
			 "requested ring %" PRIu64 " bytes %s: %" PRIu64 " (rule %s)", requested, why,
			 r, d->rule);
	}
}

static int preference(const struct ivt_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_prefer; i++)
		if (!strcmp(p->prefer[i], name))
			return (int)i;
	return -1;
}

/* Both ends Xen domains (a connector not yet known counts as one). */
static int between_domains(const struct ivt_policy_query *q)
{
	return is_domain(q->identity) && (!q->peer_identity || is_domain(q->peer_identity));
}

/* Can a backend with these capabilities carry a channel between these
 * ends? Only a Xen transport crosses between two domains on one host,
 * and it is of no use anywhere else. */
static int fits(unsigned caps, const struct ivt_policy_query *q, int preferred)
{
	if (!(caps & (q->colocated ? IVT_CAP_COLOCATED : IVT_CAP_REMOTE)))
		return 0;
	if (!!(caps & IVT_CAP_NEEDS_XEN) != (q->colocated && between_domains(q)))
		return 0;
	return preferred || !(caps & IVT_CAP_OPT_IN);
}

static const char *ends_described(const struct ivt_policy_query *q)
{
	if (!q->colocated)
		return "ends on different hosts";
	return between_domains(q) ? "two Xen domains on this host" : "two processes on this host";
}

/* The backend "auto" means for this pair of ends: of the backends whose
 * capabilities fit, those the policy's "prefer" names in its order, then
 * the rest in table order; the first available wins. NULL (reason in d)
 * when none is. */
static const struct ivt_backend_info *auto_backend(const struct ivt_policy *p,
						   const struct ivt_policy_query *q,
						   struct ivt_policy_decision *d)
{
	const struct ivt_backend_info *best = NULL;
	int best_rank = INT_MAX;
	size_t n = 0;
	int len = snprintf(d->reason, sizeof(d->reason), "no backend available for %s",
			   ends_described(q));
	for (size_t i = 0; i < q->n_backends; i++) {
		const struct ivt_backend_info *b = &q->backends[i];
		int pref = preference(p, b->name);
		if (!fits(b->caps, q, pref >= 0))
			continue;
		int rank = pref >= 0 ? pref : IVT_POLICY_PREFER_MAX + (int)i;
		if (b->available && rank < best_rank) {
			best = b;
			best_rank = rank;
		} else if (!b->available && len >= 0 && (size_t)len < sizeof(d->reason)) {
			len += snprintf(d->reason + len, sizeof(d->reason) - (size_t)len, "%s%s: %s",
					n++ ? "; " : " (", b->name, b->why[0] ? b->why : "unavailable");
		}
	}
	if (best) {
		d->reason[0] = '\0';
		return best;
	}
	if (len >= 0 && (size_t)len < sizeof(d->reason))
		snprintf(d->reason + len, sizeof(d->reason) - (size_t)len, "%s",
			 n ? ")" : ": no plugin declares the capabilities it needs");
	return NULL;
}

static const struct ivt_backend_info *find_backend(const struct ivt_policy_query *q,
						   const char *name)
{
	for (size_t i = 0; i < q->n_backends; i++)
		if (!strcmp(q->backends[i].name, name))
			return &q->backends[i];
	return NULL;
}

/* "shm, vchan" for messages. */
/* "shm, vchan" then "; not usable here: verbs" for those whose probe said
 * no: a user who misspelt a name should not pick one that cannot work. */
static void list_backends(const struct ivt_policy_query *q, char *buf, size_t cap)
{
	struct ivt_textbuf o;
	ivt_textbuf_init(&o, buf, cap);
	for (int usable = 1, n = 0; usable >= 0; usable--, n = 0) {
		for (size_t i = 0; i < q->n_backends; i++) {
			if (!q->backends[i].available != !usable)
				continue;
			if (!n++ && !usable)
				ivt_textbuf_printf(&o, "; not usable here: ");
			ivt_textbuf_printf(&o, "%s%s", n > 1 ? ", " : "", q->backends[i].name);
		}
		if (usable && !n)
			ivt_textbuf_printf(&o, "none");
	}
}

#define REFUSE(d, rc, ...)                                                                      \
	do {                                                                                    \
		say((d)->reason, sizeof((d)->reason), __VA_ARGS__);                              \
		return (rc);                                                                    \
	} while (0)

int ivt_policy_decide(const struct ivt_policy *p, const struct ivt_policy_query *q,
		      struct ivt_policy_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (!p)
		REFUSE(d, -ENOENT, "no policy loaded");
	/* text only for the reasons below; decisions compare fields */
	struct ivt_identity_text who = ivt_identity_text(q->identity);
	if (!q->identity || q->identity->kind == IVT_IDENTITY_NONE)
		snprintf(who.s, sizeof(who.s), "(unknown)");
	const struct ivt_policy_channel *c = ivt_policy_find_channel(p, q->channel);
	if (!c)
		REFUSE(d, -ENOENT, "no rule in %s matches channel '%s'", p->source,
		       q->channel ? q->channel : "");
	if (c->line > 0)
		say(d->rule, sizeof(d->rule), "channels[%d] '%s' (%s:%d)", c->index, c->pattern,
			 p->source, c->line);
	else
		say(d->rule, sizeof(d->rule), "channels[%d] '%s' (%s)", c->index, c->pattern,
			 p->source);

	if (q->is_listener ? !any_match(c->listeners, c->n_listeners, q->identity)
			   : !any_match(c->connectors, c->n_connectors, q->identity))
		REFUSE(d, -EACCES, "%s may not %s channel '%s': not in %s of rule %s", who.s,
		       q->is_listener ? "listen on" : "connect to", q->channel,
		       q->is_listener ? "listeners" : "connectors", d->rule);
	if (!q->is_listener && q->peer_identity)
		for (size_t i = 0; i < c->n_peers_denied; i++)
			if (ivt_principal_match(&c->peers_denied[i].listener, q->peer_identity) &&
			    ivt_principal_match(&c->peers_denied[i].connector, q->identity))
				REFUSE(d, -EACCES,
				       "%s may not connect to %s on channel '%s': peers_denied[%zu] "
				       "of rule %s",
				       who.s, ivt_identity_text(q->peer_identity).s, q->channel, i,
				       d->rule);

	d->quota_bytes = c->quota_bytes;
	d->has_spill = c->has_spill;
	memcpy(d->spill_to, c->spill_to, sizeof(d->spill_to));
	d->spill_above_bytes = c->spill_above_bytes;
	d->backlog = c->backlog;
	d->backlog_per_identity = c->backlog_per_identity;
	d->message = c->message;
	d->no_lines = c->no_lines;
	d->max_connections = c->max_connections;

	/* A connector joins what the listener was granted. */
	if (!q->is_listener && q->granted_backend) {
		if (!is_auto(q->backend) && strcmp(q->backend, q->granted_backend) != 0)
			REFUSE(d, -ENOTSUP,
			       "channel '%s' runs over backend %s (chosen for its listener); "
			       "requested %s",
			       q->channel, q->granted_backend, q->backend);
		snprintf(d->backend, sizeof(d->backend), "%s", q->granted_backend);
		d->ring_size = q->granted_ring_size;
		return 0;
	}

	const char *name = !is_auto(q->backend) ? q->backend : c->backend;
	const struct ivt_backend_info *be = NULL;
	if (!is_auto(name) && !(be = find_backend(q, name))) {
		char known[160];
		list_backends(q, known, sizeof(known));
		REFUSE(d, -ENOTSUP, "unknown backend '%s' (this host has: %s)", name, known);
	}
	if (!is_auto(q->backend) && !is_auto(c->backend) && strcmp(c->backend, q->backend) != 0)
		REFUSE(d, -EACCES, "rule %s allows only backend %s on channel '%s', not %s",
		       d->rule, c->backend, q->channel, q->backend);
	if (!be && !(be = auto_backend(p, q, d)))
		return -ENOTSUP;
	if (!be->available)
		REFUSE(d, -ENOTSUP, "backend %s not available on this host: %s", be->name,
		       be->why[0] ? be->why : "plugin not loaded");
	snprintf(d->backend, sizeof(d->backend), "%s", be->name);
	decide_ring(c, q->ring_size, d);
	return 0;
}
