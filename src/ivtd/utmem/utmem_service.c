/* SPDX-License-Identifier: MIT */
/* The utmem store served on channel "ivt.utmem" (see utmem_service.h). */
#include "common/textbuf.h"
#include "ivtd/utmem/utmem_service.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ivtd/core/daemon_end.h"
#include "ivtd/utmem/utmem_conn_tier.h"
#include "ivtd/utmem/utmem_lower.h"
#include "libivt/frame.h"
#include "utmem/proto.h"
#include "utmem/store.h"
#include "utmem/tier.h"

#define WHO "ivtd"
#define READ_MAX 65536u          /* bytes per plugin recv */
#define WIRE_HIGH (256u << 10)   /* stop reading requests above this many unsent bytes */
#define IDENTITIES_MAX 65536u

struct svc_conn {
	struct svc_conn *next;
	struct ivt_utmem_service *S;
	struct ivt_reg_end *end;
	struct ivt_identity who;
	uint32_t domid;
	struct ivt_daemon_end *de;
	struct utmem_tier *store_tier;
	struct conn_tier tt; /* pools, and overflow to the lower tier */
	struct utmem_session *sess;
	/* incoming libivt frames */
	uint8_t fhdr[IVT_FRAME_HDR_SIZE];
	size_t fhdr_have;
	uint32_t frame_left; /* DATA payload bytes still to come */
	/* utmem request boundaries, so we can stop between requests */
	uint8_t rhdr[UTMEM_HDR_SIZE];
	size_t rhdr_have;
	uint64_t req_left; /* payload bytes of the current request */
	struct evbuffer *raw;  /* session replies not yet framed */
	struct evbuffer *wire; /* framed, waiting for room in the ring */
	size_t chunk;          /* payload bytes per frame */
	int eof, dead;
	uint64_t requests_bytes, replies_bytes;
	uint64_t in_flight; /* request payload bytes charged (policy limits.bytes_in_flight) */
};


struct ivt_utmem_service {
	struct event_base *base;
	struct ivt_broker *broker;
	char plugin_dir[512];
	struct utmem_store *store;
	struct svc_conn *conns;
	size_t n_conns;
	struct ivt_utmem_lower *lower; /* "lower_tier": another host's store; NULL none */
	struct ivt_identity *ids; /* index k <-> domid IVT_UTMEM_LOCAL_DOMID_BASE + k */
	size_t n_ids, cap_ids;
	uint64_t sessions_total, sessions_failed;
};

/* ---- identities -> store domains --------------------------------------- */

int ivt_utmem_service_domain(struct ivt_utmem_service *s, const struct ivt_identity *who,
			     uint32_t *domid)
{
	if (!who || who->kind == IVT_IDENTITY_NONE)
		return -EINVAL;
	if (who->kind == IVT_IDENTITY_DOM) {
		if (who->id >= IVT_UTMEM_LOCAL_DOMID_BASE)
			return -EINVAL;
		*domid = who->id;
		return 0;
	}
	for (size_t i = 0; i < s->n_ids; i++)
		if (ivt_identity_equal(&s->ids[i], who)) {
			*domid = IVT_UTMEM_LOCAL_DOMID_BASE + (uint32_t)i;
			return 0;
		}
	if (s->n_ids == IDENTITIES_MAX)
		return -ENOSPC;
	if (s->n_ids == s->cap_ids) {
		size_t cap = s->cap_ids ? s->cap_ids * 2 : 16;
		struct ivt_identity *n = realloc(s->ids, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->ids = n;
		s->cap_ids = cap;
	}
	s->ids[s->n_ids] = *who;
	*domid = IVT_UTMEM_LOCAL_DOMID_BASE + (uint32_t)s->n_ids++;
	return 0;
}

/* ---- one connection ------------------------------------------------------ */

static void conn_update_interest(struct svc_conn *c)
{
	if (!c->de)
		return;
	unsigned ev = 0;
	if (!c->dead && !c->eof && evbuffer_get_length(c->wire) < WIRE_HIGH &&
	    !utmem_session_deferred(c->sess))
		ev |= IVT_EV_RECV;
	if (!c->dead && evbuffer_get_length(c->wire) > 0)
		ev |= IVT_EV_SEND;
	ivt_daemon_end_want(c->de, ev);
}

/* The client broke the protocol or the pipe failed: stop serving it. The
 * broker's gone() frees it when its control connection ends. */
static void conn_kill(struct svc_conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	c->S->sessions_failed++;
	IVT_INFO(WHO, "%s: %s (%s); closing its end", IVT_UTMEM_CHANNEL, IVT_ID_S(&c->who), why);
	ivt_daemon_end_close(c->de); /* graceful: what was sent is still read */
	c->de = NULL;
}

static ssize_t raw_write(void *ctx, const void *buf, size_t len)
{
	struct svc_conn *c = ctx;
	if (evbuffer_add(c->raw, buf, len) != 0)
		return -ENOMEM;
	return (ssize_t)len;
}

/* Wrap the session's replies into DATA frames. */
static int frame_replies(struct svc_conn *c)
{
	size_t left;
	while ((left = evbuffer_get_length(c->raw)) > 0) {
		size_t k = left < c->chunk ? left : c->chunk;
		uint8_t head[IVT_FRAME_HEAD_MAX];
		size_t hl = ivt_frame_encode(head, IVT_FRAME_DATA, 0, NULL, (uint32_t)k);
		if (evbuffer_add(c->wire, head, hl) != 0 ||
		    evbuffer_remove_buffer(c->raw, c->wire, k) != (int)k)
			return -ENOMEM;
	}
	return 0;
}

static void conn_flush(struct svc_conn *c)
{
	while (!c->dead && evbuffer_get_length(c->wire) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(c->wire, -1, NULL, &v, 1) < 1)
			break;
		ssize_t n = ivt_daemon_end_send(c->de, v.iov_base, v.iov_len);
		if (n == -EAGAIN)
			return;
		if (n < 0) {
			conn_kill(c, n == -EPIPE ? "it closed the channel" : strerror((int)-n));
			return;
		}
		c->replies_bytes += (uint64_t)n;
		evbuffer_drain(c->wire, (size_t)n);
	}
}

/* Hand n request bytes to the session, noting request boundaries. */
static int conn_feed(struct svc_conn *c, const uint8_t *p, size_t n)
{
	const struct utmem_io out = {.ctx = c, .write = raw_write};
	while (n > 0) {
		size_t k;
		if (c->rhdr_have < UTMEM_HDR_SIZE) {
			k = UTMEM_HDR_SIZE - c->rhdr_have;
			k = k < n ? k : n;
			memcpy(c->rhdr + c->rhdr_have, p, k);
			c->rhdr_have += k;
			if (c->rhdr_have == UTMEM_HDR_SIZE) {
				struct utmem_hdr h;
				utmem_hdr_decode(c->rhdr, &h);
				c->req_left = h.len; /* judged by the session, below */
			}
		} else {
			k = c->req_left < n ? (size_t)c->req_left : n;
			c->req_left -= k;
		}
		int rc = utmem_session_input(c->sess, p, k, &out);
		if (rc < 0)
			return rc;
		if (c->rhdr_have == UTMEM_HDR_SIZE && c->req_left == 0)
			c->rhdr_have = 0; /* request complete: a boundary */
		p += k;
		n -= k;
	}
	return 0;
}

/* How many bytes the next recv may take: never past the current frame
 * or the current request, so we can stop between requests. */
static size_t next_read_len(const struct svc_conn *c)
{
	if (c->frame_left == 0)
		return IVT_FRAME_HDR_SIZE - c->fhdr_have;
	uint64_t n = c->frame_left;
	uint64_t req = c->rhdr_have < UTMEM_HDR_SIZE ? UTMEM_HDR_SIZE - c->rhdr_have : c->req_left;
	if (req && req < n)
		n = req;
	return n < READ_MAX ? (size_t)n : READ_MAX;
}

static void on_readable(void *arg, struct ivt_daemon_end *de)
{
	(void)de;
	struct svc_conn *c = arg;
	static uint8_t buf[READ_MAX]; /* the loop is single-threaded */
	while (!c->dead && !c->eof && evbuffer_get_length(c->wire) < WIRE_HIGH &&
	       !utmem_session_deferred(c->sess)) {
		size_t want = next_read_len(c);
		uint8_t *dst = c->frame_left ? buf : c->fhdr + c->fhdr_have;
		ssize_t n = ivt_daemon_end_recv(c->de, dst, want);
		if (n == -EAGAIN)
			break;
		if (n == 0) {
			c->eof = 1; /* it closed; the broker's gone() follows */
			break;
		}
		if (n < 0) {
			conn_kill(c, strerror((int)-n));
			return;
		}
		if (c->frame_left == 0) {
			c->fhdr_have += (size_t)n;
			if (c->fhdr_have < IVT_FRAME_HDR_SIZE)
				continue;
			c->fhdr_have = 0;
			struct ivt_frame_hdr h;
			if (ivt_frame_decode_hdr(c->fhdr, &h) < 0 || h.type != IVT_FRAME_DATA) {
				conn_kill(c, "not a stream DATA frame (one-sided operations are not "
					     "served here)");
				return;
			}
			c->frame_left = h.len;
			continue;
		}
		c->frame_left -= (uint32_t)n;
		c->requests_bytes += (uint64_t)n;
		int rc = conn_feed(c, buf, (size_t)n);
		if (rc == 0)
			rc = frame_replies(c);
		if (rc < 0) {
			/* the session wrote an error reply first: try to deliver it */
			frame_replies(c);
			conn_flush(c);
			conn_kill(c, rc == -EPROTO ? "malformed utmem request" : strerror(-rc));
			return;
		}
		conn_flush(c);
	}
	conn_flush(c);
	conn_update_interest(c);
}

/* The lower tier answered the request the session deferred. */
static void on_answered(void *arg, int status, const void *value, size_t len)
{
	struct svc_conn *c = arg;
	if (c->dead)
		return;
	const struct utmem_io out = {.ctx = c, .write = raw_write};
	int rc = utmem_session_complete(c->sess, status, value, len, &out);
	if (rc == 0)
		rc = frame_replies(c);
	if (rc < 0) {
		conn_kill(c, strerror(-rc));
		return;
	}
	conn_flush(c);
	if (!c->dead)
		conn_update_interest(c); /* read its next request */
}

static void on_writable(void *arg, struct ivt_daemon_end *de)
{
	(void)de;
	struct svc_conn *c = arg;
	conn_flush(c);
	if (!c->dead)
		conn_update_interest(c); /* room again: maybe read requests again */
}

static void on_failed(void *arg, struct ivt_daemon_end *de, int err)
{
	(void)de;
	conn_kill(arg, strerror(-err));
}

static void conn_free(struct svc_conn *c, int domain_died)
{
	struct ivt_utmem_service *S = c->S;
	for (struct svc_conn **pp = &S->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			S->n_conns--;
			break;
		}
	ivt_daemon_end_close(c->de);
	utmem_session_free(c->sess);
	conn_tier_release(&c->tt);
	/* Its pools go with it: private ones are destroyed, shared ones detached. */
	for (size_t i = 0; i < c->tt.n_pools; i++)
		utmem_pool_destroy(S->store, c->domid, c->tt.pools[i].local);
	utmem_tier_destroy(c->store_tier);
	if (domain_died)
		utmem_domain_destroy(S->store, c->domid);
	if (c->raw)
		evbuffer_free(c->raw);
	if (c->wire)
		evbuffer_free(c->wire);
	free(c);
}

static struct svc_conn *conn_of_end(struct ivt_utmem_service *S, const struct ivt_reg_end *end)
{
	for (struct svc_conn *c = S->conns; c; c = c->next)
		if (c->end == end)
			return c;
	return NULL;
}

/* ---- what half-sent requests may pin ------------------------------------ */

/* The session charges a request's payload before buffering it. One
 * identity's requests being received hold at most the policy's
 * limits.bytes_in_flight, however many connections it opens; beyond that
 * the request is answered -ENOBUFS once its payload has passed. */
static int charge(void *ctx, size_t bytes)
{
	struct svc_conn *c = ctx;
	const struct ivt_policy *pol = ivt_broker_policy(c->S->broker);
	uint64_t limit = pol ? pol->limits.bytes_in_flight : 0, held = 0;
	for (const struct svc_conn *o = c->S->conns; o; o = o->next)
		if (ivt_identity_equal(&o->who, &c->who))
			held += o->in_flight;
	if (limit && held + bytes > limit) {
		static struct ivt_ratelimit rl = IVT_RATELIMIT_INIT(10000, 5);
		ivt_log_limited(&rl, IVT_LOG_INFO, WHO,
				"%s: %s has %" PRIu64 " request bytes in flight; refusing %zu more "
				"(policy \"limits\": \"bytes_in_flight\" %" PRIu64 ")",
				IVT_UTMEM_CHANNEL, IVT_ID_S(&c->who), held, bytes, limit);
		return -ENOBUFS;
	}
	c->in_flight += bytes;
	return 0;
}

static void uncharge(void *ctx, size_t bytes)
{
	struct svc_conn *c = ctx;
	c->in_flight -= bytes < c->in_flight ? bytes : c->in_flight;
}

/* ---- broker hooks ------------------------------------------------------ */

__attribute__((format(printf, 3, 4))) static void say(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

static int svc_open(void *arg, struct ivt_reg_end *end, const char *backend, uint64_t ring_size,
		    const char *xs_path, const struct ivt_policy_decision *d, char *why,
		    size_t why_len)
{
	struct ivt_utmem_service *S = arg;
	uint32_t domid;
	int rc = ivt_utmem_service_domain(S, &end->who, &domid);
	if (rc < 0) {
		say(why, why_len, "%s: no store domain for %s: %s", IVT_UTMEM_CHANNEL, IVT_ID_S(&end->who),
		    strerror(-rc));
		return rc;
	}
	struct svc_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->S = S;
	c->end = end;
	c->domid = domid;
	c->who = end->who;
	c->chunk = ring_size / 2 < IVT_FRAME_PAYLOAD_MAX ? (size_t)ring_size / 2
							   : IVT_FRAME_PAYLOAD_MAX;
	c->raw = evbuffer_new();
	c->wire = evbuffer_new();
	c->store_tier = utmem_store_tier(S->store, domid);
	conn_tier_init(&c->tt, c->store_tier, S->lower, on_answered, c);
	struct utmem_server_opts so = {.domid = domid, .store = S->store, .allow_admin = 0,
				       .charge = charge, .uncharge = uncharge, .charge_ctx = c};
	c->sess = c->store_tier ? utmem_session_new(&c->tt.base, &so) : NULL;
	if (!c->raw || !c->wire || !c->sess || c->chunk == 0) {
		rc = -ENOMEM;
		say(why, why_len, "ivtd is out of memory");
		goto fail;
	}
	utmem_set_quota(S->store, domid, d->quota_bytes ? d->quota_bytes : UTMEM_QUOTA_UNLIMITED);
	struct ivt_daemon_end_params p = {
		.backend = backend,
		.plugin_dir = S->plugin_dir[0] ? S->plugin_dir : NULL,
		.channel = IVT_UTMEM_CHANNEL,
		.ring_size = ring_size,
		.local_domid = 0,
		.peer_domid = end->domid,
		.xs_path = xs_path,
	};
	struct ivt_daemon_end_cb cb = {
		.arg = c, .readable = on_readable, .writable = on_writable, .failed = on_failed,
	};
	rc = ivt_daemon_end_listen(S->base, &p, end, &cb, &c->de, why, why_len);
	if (rc < 0)
		goto fail;
	c->next = S->conns;
	S->conns = c;
	S->n_conns++;
	S->sessions_total++;
	conn_update_interest(c);
	IVT_INFO(WHO, "%s: serving %s as store domain %" PRIu32 " (quota %s)", IVT_UTMEM_CHANNEL,
		 IVT_ID_S(&c->who), domid, d->quota_bytes ? "from the rule" : "unlimited");
	return 0;
fail:
	/* not linked yet: conn_free's unlink finds nothing */
	c->de = NULL;
	conn_free(c, 0);
	return rc;
}

static void svc_gone(void *arg, struct ivt_reg_end *end, int graceful)
{
	struct ivt_utmem_service *S = arg;
	struct svc_conn *c = conn_of_end(S, end);
	if (!c)
		return;
	/* Only a Xen domain's end going away ungracefully means the domain
	 * died (registry_xs.c); a local process dying frees its pools only. */
	int domain_died = !graceful && c->who.kind == IVT_IDENTITY_DOM && c->domid != 0;
	if (domain_died)
		IVT_INFO(WHO, "%s: %s died: dropping everything it stored", IVT_UTMEM_CHANNEL,
			 IVT_ID_S(&c->who));
	conn_free(c, domain_died);
}

/* ---- setup and status -------------------------------------------------- */

struct ivt_utmem_service *ivt_utmem_service_new(struct event_base *base, struct ivt_broker *b,
						const char *plugin_dir)
{
	struct ivt_utmem_service *S = calloc(1, sizeof(*S));
	if (!S)
		return NULL;
	S->base = base;
	S->broker = b;
	snprintf(S->plugin_dir, sizeof(S->plugin_dir), "%s", plugin_dir ? plugin_dir : "");
	const struct ivt_policy *pol = ivt_broker_policy(b);
	struct utmem_config cfg;
	utmem_config_default(&cfg);
	if (pol) {
		cfg.max_value = (size_t)pol->utmem_max_value_bytes;
		if (pol->utmem_capacity_bytes)
			cfg.capacity = pol->utmem_capacity_bytes;
	}
	S->store = utmem_store_new(&cfg);
	if (!S->store) {
		IVT_ERR(WHO, "%s: cannot create the store (max value %zu)", IVT_UTMEM_CHANNEL,
			cfg.max_value);
		free(S);
		return NULL;
	}
	struct ivt_broker_service svc = {.arg = S, .open = svc_open, .gone = svc_gone};
	snprintf(svc.name, sizeof(svc.name), "%s", IVT_UTMEM_CHANNEL);
	ivt_broker_set_service(b, &svc);
	/* say what ivtctl status says: a store no rule lets anyone reach is off */
	if (ivt_utmem_service_reachable(b))
		IVT_INFO(WHO, "%s: store ready (capacity %s, values up to %zu bytes)",
			 IVT_UTMEM_CHANNEL,
			 pol->utmem_capacity_bytes ? "from the policy" : "unlimited", cfg.max_value);
	else
		IVT_INFO(WHO, "%s: off, no policy rule lets anyone connect (a reload may add one)",
			 IVT_UTMEM_CHANNEL);
	return S;
}

int ivt_utmem_service_reachable(const struct ivt_broker *b)
{
	const struct ivt_policy_channel *r =
		ivt_policy_find_channel(ivt_broker_policy(b), IVT_UTMEM_CHANNEL);
	return r && r->n_connectors;
}

void ivt_utmem_service_set_peers(struct ivt_utmem_service *S, struct ivt_peers *peers)
{
	if (!S || !peers || S->lower)
		return;
	/* Connections opened from now on tier below; it stays idle while the
	 * policy names no "lower_tier". */
	S->lower = ivt_utmem_lower_new(S->base, S->broker, peers,
				       S->plugin_dir[0] ? S->plugin_dir : NULL);
	if (!S->lower)
		IVT_ERR(WHO, "%s: no lower tier: out of memory", IVT_UTMEM_CHANNEL);
}

void ivt_utmem_service_free(struct ivt_utmem_service *S)
{
	if (!S)
		return;
	ivt_broker_set_service(S->broker, NULL);
	while (S->conns)
		conn_free(S->conns, 0);
	ivt_utmem_lower_free(S->lower);
	utmem_store_free(S->store);
	free(S->ids);
	free(S);
}


static void put_quota(struct ivt_textbuf *o, uint64_t q)
{
	if (q == UTMEM_QUOTA_UNLIMITED)
		ivt_textbuf_printf(o, "unlimited");
	else
		ivt_textbuf_printf(o, "%" PRIu64, q);
}

size_t ivt_utmem_service_status(struct ivt_utmem_service *S, char *buf, size_t len)
{
	struct ivt_textbuf o;
	ivt_textbuf_init(&o, buf, len);
	struct utmem_store_stats st;
	utmem_store_stats(S->store, &st);
	ivt_textbuf_printf(&o, "utmem (%s): capacity ", IVT_UTMEM_CHANNEL);
	put_quota(&o, st.capacity);
	ivt_textbuf_printf(&o, ", used %" PRIu64 " (%" PRIu64 " pages, %" PRIu64 " pools, %" PRIu64
		" domains), evicted %" PRIu64 ", connections %zu (%" PRIu64 " served, %" PRIu64
		" failed)\n",
	    st.used, st.pages, st.pools, st.domains, st.evicted, S->n_conns, S->sessions_total,
	    S->sessions_failed);
	char lower[256];
	int tiered = S->lower && ivt_utmem_lower_status(S->lower, lower, sizeof(lower)) > 0;
	if (tiered)
		ivt_textbuf_printf(&o, "%s", lower);
	for (const struct svc_conn *c = S->conns; c && !o.full; c = c->next) {
		struct utmem_domain_stats ds;
		utmem_domain_stats(S->store, c->domid, &ds);
		ivt_textbuf_printf(&o, "  %-16s domain %-6" PRIu32 " quota ", IVT_ID_S(&c->who), c->domid);
		put_quota(&o, ds.quota);
		size_t unsent = evbuffer_get_length(c->wire);
		ivt_textbuf_printf(&o, " used %" PRIu64 " pages %" PRIu64 " pools %zu puts %" PRIu64
			" refused %" PRIu64 " unsent %zu in-flight %" PRIu64,
		    ds.used, ds.pages, c->tt.n_pools, ds.puts, ds.puts_refused, unsent, c->in_flight);
		const struct conn_tier_stats *ts = &c->tt.stats;
		if (tiered)
			ivt_textbuf_printf(&o, " below: puts %" PRIu64 " refused %" PRIu64 " gets %"
				PRIu64 " hits %" PRIu64, ts->puts_below, ts->puts_below_refused,
			    ts->gets_below, ts->hits_below);
		ivt_textbuf_printf(&o, "%s\n",
		    c->dead ? " (closing)" : unsent >= WIRE_HIGH ? " (not reading: client slow)" : "");
	}
	return o.len;
}
