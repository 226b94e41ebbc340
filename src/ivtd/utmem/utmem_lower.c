/* SPDX-License-Identifier: MIT */
/* The link to another host's ivtd store (see utmem_lower.h). */
#include "ivtd/utmem/utmem_lower.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/textbuf.h"
#include "ivtd/core/daemon_end.h"
#include "ivtd/utmem/utmem_service.h"
#include "libivt/frame.h"

#define WHO "ivtd"
#define TICK_MS 200u
#define READ_MAX 65536u

enum lower_state {
	LS_IDLE,    /* not connected; next attempt at next_dial_ms */
	LS_DIALING, /* ivt_peers_dial under way */
	LS_HELLO,   /* ring attached, HELLO sent */
	LS_UP,
};

struct ivt_utmem_lower_req {
	struct ivt_utmem_lower_req *next;
	struct utmem_hdr req;
	uint8_t *wire; /* encoded header + payload */
	size_t wire_len;
	ivt_utmem_lower_done done;
	void *arg;
};

struct ivt_utmem_lower {
	struct event_base *base;
	struct ivt_broker *broker;
	struct ivt_peers *peers;
	char plugin_dir[512];
	struct ivt_registry reg; /* answers to our own connector */
	struct ivt_reg_end end;
	enum lower_state state;
	char host[IVT_NAME_MAX + 1];
	int dialed;              /* ivt_peers_dial succeeded: a hangup is owed */
	int gone;                /* the registry ops said: take the link down */
	char gone_why[160];
	struct ivt_daemon_end *de;
	uint64_t ring_size;
	size_t chunk;            /* payload bytes per DATA frame */
	uint64_t deadline_ms;    /* dial / request deadline; 0 none */
	uint64_t next_dial_ms;
	struct event *kick, *tick;
	struct ivt_utmem_lower_req *head, *tail;
	int head_sent;
	uint32_t next_id, generation;
	size_t max_value;
	uint32_t peer_domid;
	struct evbuffer *out;
	/* replies: libivt frame headers, then utmem header + payload */
	uint8_t fhdr[IVT_FRAME_HDR_SIZE];
	size_t fhdr_have;
	uint32_t frame_left;
	uint8_t rhdr[UTMEM_HDR_SIZE];
	size_t rhdr_have;
	struct utmem_hdr rep;
	uint8_t *rbuf;
	size_t rbuf_cap, rbuf_have;
	/* for status */
	uint64_t connects, sent, answered, failed;
	char last_why[160];
};

/* snprintf through a function: cut reasons are fine, and this keeps
 * -Wformat-truncation from second-guessing each call. */
__attribute__((format(printf, 3, 4))) static void say(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct ivt_utmem_lower *of_end(struct ivt_reg_end *end)
{
	return (struct ivt_utmem_lower *)((char *)end - offsetof(struct ivt_utmem_lower, end));
}

static void schedule_kick(struct ivt_utmem_lower *L) { event_active(L->kick, EV_TIMEOUT, 0); }

/* ---- the queue ----------------------------------------------------------- */

static void req_free(struct ivt_utmem_lower_req *r)
{
	free(r->wire);
	free(r);
}

static struct ivt_utmem_lower_req *pop_head(struct ivt_utmem_lower *L)
{
	struct ivt_utmem_lower_req *r = L->head;
	if (r) {
		L->head = r->next;
		if (!L->head)
			L->tail = NULL;
	}
	L->head_sent = 0;
	L->deadline_ms = 0;
	return r;
}

int ivt_utmem_lower_submit(struct ivt_utmem_lower *L, const struct utmem_hdr *req,
			   const void *payload, ivt_utmem_lower_done done, void *arg,
			   struct ivt_utmem_lower_req **handle)
{
	/* HELLO goes out before the link is up; everything else waits for it. */
	int hello = req->op == UTMEM_OP_HELLO;
	if (!L || (hello ? L->state != LS_HELLO : L->state != LS_UP))
		return -ENOTCONN;
	if (!hello && req->op == UTMEM_OP_PUT && req->len > L->max_value)
		return -E2BIG;
	struct ivt_utmem_lower_req *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->req = *req;
	r->req.magic = UTMEM_PROTO_MAGIC;
	r->req.version = UTMEM_PROTO_VERSION;
	r->req.status = 0;
	r->req.req_id = L->next_id++;
	r->wire_len = UTMEM_HDR_SIZE + (size_t)req->len;
	r->wire = malloc(r->wire_len);
	if (!r->wire) {
		free(r);
		return -ENOMEM;
	}
	utmem_hdr_encode(&r->req, r->wire);
	if (req->len)
		memcpy(r->wire + UTMEM_HDR_SIZE, payload, req->len);
	r->done = done;
	r->arg = arg;
	if (L->tail)
		L->tail->next = r;
	else
		L->head = r;
	L->tail = r;
	if (handle)
		*handle = r;
	schedule_kick(L); /* sent from the loop, never from inside a caller */
	return 0;
}

void ivt_utmem_lower_cancel(struct ivt_utmem_lower_req *r)
{
	if (r)
		r->done = NULL;
}

/* ---- going down ---------------------------------------------------------- */

static void reset_parser(struct ivt_utmem_lower *L)
{
	L->fhdr_have = 0;
	L->frame_left = 0;
	L->rhdr_have = 0;
	L->rbuf_have = 0;
	memset(&L->rep, 0, sizeof(L->rep));
}

static void link_down(struct ivt_utmem_lower *L, int err, const char *why)
{
	if (L->state == LS_IDLE && !L->dialed && !L->de)
		return;
	if (L->state == LS_UP)
		IVT_WARN(WHO, "%s lower tier on host %s: down: %s", IVT_UTMEM_CHANNEL, L->host, why);
	else if (strcmp(why, L->last_why) != 0) /* retries every few seconds: say it once */
		IVT_INFO(WHO, "%s lower tier on host %s: not reached: %s", IVT_UTMEM_CHANNEL, L->host,
			 why);
	say(L->last_why, sizeof(L->last_why), "%s", why);
	ivt_daemon_end_close(L->de);
	L->de = NULL;
	if (L->dialed)
		ivt_peers_hangup(L->peers, &L->end, err == 0);
	L->dialed = 0;
	L->gone = 0;
	L->state = LS_IDLE;
	L->generation++;
	L->max_value = 0;
	L->next_dial_ms = now_ms() + IVT_UTMEM_LOWER_RETRY_MS;
	evbuffer_drain(L->out, evbuffer_get_length(L->out));
	reset_parser(L);
	/* Owners see the failure; what they submit now is refused (idle). */
	struct ivt_utmem_lower_req *r;
	while ((r = pop_head(L))) {
		L->failed++;
		if (r->done)
			r->done(r->arg, err ? err : -ECONNRESET, NULL, NULL);
		req_free(r);
	}
}

/* ---- our connector's registry: what the bridge tells it ----------------- */

static int op_reply_ok(struct ivt_reg_end *end, const struct ivt_ctrl_open_ok *ok)
{
	struct ivt_utmem_lower *L = of_end(end);
	L->ring_size = ok->ring_size;
	return 0;
}

static int op_reply_error(struct ivt_reg_end *end, int err, const char *msg)
{
	struct ivt_utmem_lower *L = of_end(end);
	L->gone = err > 0 ? -err : err ? err : -EIO;
	say(L->gone_why, sizeof(L->gone_why), "refused: %s", msg && *msg ? msg : "?");
	schedule_kick(L);
	return 0;
}

static void de_ready(void *arg, struct ivt_daemon_end *de);
static void de_failed(void *arg, struct ivt_daemon_end *de, int err);

/* The bridge's shm ring toward us: attach to it, as a client would. */
static int op_relay_setup(struct ivt_reg_end *end, const void *blob, size_t len, const int *fds,
			  int nfds)
{
	struct ivt_utmem_lower *L = of_end(end);
	if (L->state != LS_DIALING || L->de)
		return -EALREADY;
	uint64_t chunk = L->ring_size / 2;
	L->chunk = chunk < IVT_FRAME_PAYLOAD_MAX ? (size_t)chunk : IVT_FRAME_PAYLOAD_MAX;
	struct ivt_daemon_end_params p = {
		.backend = "shm",
		.plugin_dir = L->plugin_dir[0] ? L->plugin_dir : NULL,
		.channel = IVT_UTMEM_CHANNEL,
		.ring_size = L->ring_size,
	};
	struct ivt_daemon_end_cb cb = {
		.arg = L, .readable = de_ready, .writable = de_ready, .failed = de_failed,
	};
	char why[200] = "";
	int rc = L->chunk ? ivt_daemon_end_connect(L->base, &p, blob, len, fds, nfds, &cb, &L->de,
						    why, sizeof(why))
			  : -EINVAL;
	if (rc < 0) {
		L->de = NULL;
		L->gone = rc;
		say(L->gone_why, sizeof(L->gone_why), "cannot attach the bridge's ring: %s",
			 why[0] ? why : strerror(-rc));
	} else {
		L->state = LS_HELLO;
	}
	schedule_kick(L);
	return rc;
}

static int op_notify_peer(struct ivt_reg_end *end, int event, uint32_t peer_domid)
{
	(void)peer_domid;
	struct ivt_utmem_lower *L = of_end(end);
	if (event == IVT_PEER_CONNECTED)
		return 0;
	L->gone = event == IVT_PEER_DIED ? -ECONNRESET : -EPIPE;
	say(L->gone_why, sizeof(L->gone_why), "the peer %s",
		 event == IVT_PEER_DIED ? "died" : "closed the channel");
	schedule_kick(L);
	return 0;
}

static void op_destroy(struct ivt_registry *reg) { (void)reg; /* part of the link */ }

static const struct ivt_registry_ops lower_reg_ops = {
	.name = "utmem-lower",
	.reply_ok = op_reply_ok,
	.reply_error = op_reply_error,
	.relay_setup = op_relay_setup,
	.notify_peer = op_notify_peer,
	.destroy = op_destroy,
};

/* ---- bytes ----------------------------------------------------------------- */

static void update_interest(struct ivt_utmem_lower *L)
{
	if (L->de)
		ivt_daemon_end_want(L->de, IVT_EV_RECV |
						   (evbuffer_get_length(L->out) ? IVT_EV_SEND : 0));
}

/* Frame the head request if it is not out yet, then push what the ring takes. */
static int pump_out(struct ivt_utmem_lower *L)
{
	if (!L->de)
		return 0;
	struct ivt_utmem_lower_req *r = L->head;
	if (r && !L->head_sent && (L->state == LS_UP || r->req.op == UTMEM_OP_HELLO)) {
		for (size_t off = 0; off < r->wire_len;) {
			size_t k = r->wire_len - off < L->chunk ? r->wire_len - off : L->chunk;
			uint8_t head[IVT_FRAME_HEAD_MAX];
			size_t hl = ivt_frame_encode(head, IVT_FRAME_DATA, 0, NULL, (uint32_t)k);
			if (evbuffer_add(L->out, head, hl) || evbuffer_add(L->out, r->wire + off, k))
				return -ENOMEM;
			off += k;
		}
		L->head_sent = 1;
		L->sent++;
		L->deadline_ms = now_ms() + IVT_UTMEM_LOWER_TIMEOUT_MS;
	}
	while (evbuffer_get_length(L->out) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(L->out, -1, NULL, &v, 1) < 1)
			break;
		ssize_t n = ivt_daemon_end_send(L->de, v.iov_base, v.iov_len);
		if (n == -EAGAIN)
			break;
		if (n < 0)
			return (int)n;
		evbuffer_drain(L->out, (size_t)n);
	}
	return 0;
}

static void got_hello(struct ivt_utmem_lower *L, const struct utmem_hdr *rep, const uint8_t *p)
{
	if (rep->status < 0) {
		link_down(L, rep->status, "HELLO refused");
		return;
	}
	uint64_t mv = ivt_get_le64(p);
	L->max_value = mv < UTMEM_MAX_VALUE_LIMIT ? (size_t)mv : UTMEM_MAX_VALUE_LIMIT;
	L->peer_domid = ivt_get_le32(p + 8);
	L->state = LS_UP;
	L->deadline_ms = 0;
	L->connects++;
	L->last_why[0] = '\0';
	IVT_INFO(WHO, "%s lower tier on host %s: up (its store domain %" PRIu32 ", values up to "
		      "%zu bytes)", IVT_UTMEM_CHANNEL, L->host, L->peer_domid, L->max_value);
}

/* A whole reply is in L->rep / L->rbuf: it answers the head request. */
static void reply_done(struct ivt_utmem_lower *L)
{
	struct ivt_utmem_lower_req *r = pop_head(L);
	struct utmem_hdr rep = L->rep;
	L->rhdr_have = 0;
	L->rbuf_have = 0;
	L->answered++;
	if (r->req.op == UTMEM_OP_HELLO)
		got_hello(L, &rep, L->rbuf);
	else if (r->done)
		r->done(r->arg, 0, &rep, L->rbuf);
	req_free(r);
}

/* Reply bytes from DATA payloads; never more than the current reply. */
static int take_reply_bytes(struct ivt_utmem_lower *L, const uint8_t *p, size_t n, char *why,
			    size_t why_len)
{
	while (n > 0) {
		if (L->rhdr_have < UTMEM_HDR_SIZE) {
			size_t k = UTMEM_HDR_SIZE - L->rhdr_have;
			k = k < n ? k : n;
			memcpy(L->rhdr + L->rhdr_have, p, k);
			L->rhdr_have += k;
			p += k;
			n -= k;
			if (L->rhdr_have < UTMEM_HDR_SIZE)
				return 0;
			if (!L->head || !L->head_sent) {
				snprintf(why, why_len, "a reply nobody asked for");
				return -EPROTO;
			}
			utmem_hdr_decode(L->rhdr, &L->rep);
			if (utmem_check_reply(&L->rep, &L->head->req)) {
				snprintf(why, why_len, "malformed reply");
				return -EPROTO;
			}
			if (L->rep.len > L->rbuf_cap) {
				/* bounded by what we asked for (utmem_check_reply) */
				uint8_t *nb = realloc(L->rbuf, L->rep.len);
				if (!nb) {
					snprintf(why, why_len, "out of memory");
					return -ENOMEM;
				}
				L->rbuf = nb;
				L->rbuf_cap = L->rep.len;
			}
			L->rbuf_have = 0;
		} else {
			size_t k = L->rep.len - L->rbuf_have;
			k = k < n ? k : n;
			memcpy(L->rbuf + L->rbuf_have, p, k);
			L->rbuf_have += k;
			p += k;
			n -= k;
		}
		if (L->rhdr_have == UTMEM_HDR_SIZE && L->rbuf_have == L->rep.len) {
			reply_done(L);
			if (L->state == LS_IDLE)
				return 0; /* HELLO refused: link_down already ran */
		}
	}
	return 0;
}

static void pump_in(struct ivt_utmem_lower *L)
{
	static uint8_t buf[READ_MAX]; /* the loop is single-threaded */
	while (L->de) {
		uint8_t *dst = L->frame_left ? buf : L->fhdr + L->fhdr_have;
		size_t want = L->frame_left ? (L->frame_left < READ_MAX ? L->frame_left : READ_MAX)
					    : IVT_FRAME_HDR_SIZE - L->fhdr_have;
		ssize_t n = ivt_daemon_end_recv(L->de, dst, want);
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			link_down(L, n == 0 ? 0 : (int)n,
				  n == 0 ? "the peer ended the channel" : strerror((int)-n));
			return;
		}
		char why[80] = "";
		if (!L->frame_left) {
			L->fhdr_have += (size_t)n;
			if (L->fhdr_have < IVT_FRAME_HDR_SIZE)
				continue;
			L->fhdr_have = 0;
			struct ivt_frame_hdr h;
			if (ivt_frame_decode_hdr(L->fhdr, &h) < 0 || h.type != IVT_FRAME_DATA) {
				link_down(L, -EPROTO, "not a stream DATA frame");
				return;
			}
			L->frame_left = h.len;
			continue;
		}
		L->frame_left -= (uint32_t)n;
		int rc = take_reply_bytes(L, buf, (size_t)n, why, sizeof(why));
		if (rc < 0) {
			link_down(L, rc, why);
			return;
		}
	}
}

static void run(struct ivt_utmem_lower *L)
{
	if (L->gone) {
		char why[sizeof(L->gone_why)];
		memcpy(why, L->gone_why, sizeof(why));
		link_down(L, L->gone, why);
		return;
	}
	if (L->state == LS_HELLO && !L->head) {
		struct utmem_hdr h = {.op = UTMEM_OP_HELLO};
		if (ivt_utmem_lower_submit(L, &h, NULL, NULL, NULL, NULL) < 0) {
			link_down(L, -ENOMEM, "cannot send HELLO");
			return;
		}
	}
	pump_in(L);
	int rc = L->de ? pump_out(L) : 0;
	if (rc < 0) {
		link_down(L, rc, rc == -EPIPE ? "the peer closed the channel" : strerror(-rc));
		return;
	}
	update_interest(L);
}

static void de_ready(void *arg, struct ivt_daemon_end *de)
{
	(void)de;
	run(arg);
}

static void de_failed(void *arg, struct ivt_daemon_end *de, int err)
{
	(void)de;
	struct ivt_utmem_lower *L = arg;
	L->gone = err;
	say(L->gone_why, sizeof(L->gone_why), "the bridge's ring broke: %s", strerror(-err));
	schedule_kick(L);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run(arg);
}

/* ---- dialling and deadlines ------------------------------------------------ */

static void try_dial(struct ivt_utmem_lower *L, uint64_t now)
{
	const struct ivt_policy *pol = ivt_broker_policy(L->broker);
	if (!pol || !pol->utmem_lower_tier[0] || now < L->next_dial_ms) {
		if (!pol || !pol->utmem_lower_tier[0])
			L->host[0] = '\0';
		return;
	}
	snprintf(L->host, sizeof(L->host), "%s", pol->utmem_lower_tier);
	L->next_dial_ms = now + IVT_UTMEM_LOWER_RETRY_MS;
	char why[IVT_ERRMSG_MAX + 1] = "";
	int rc = ivt_peers_dial(L->peers, &L->end, L->host, IVT_UTMEM_CHANNEL, 0, why, sizeof(why));
	if (rc < 0) {
		if (strcmp(why, L->last_why) != 0)
			IVT_WARN(WHO, "%s lower tier on host %s: %s", IVT_UTMEM_CHANNEL, L->host, why);
		say(L->last_why, sizeof(L->last_why), "%s", why);
		return;
	}
	L->dialed = 1;
	L->state = LS_DIALING;
	L->deadline_ms = now + IVT_UTMEM_LOWER_DIAL_MS;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ivt_utmem_lower *L = arg;
	uint64_t now = now_ms();
	if (L->state == LS_IDLE) {
		try_dial(L, now);
		return;
	}
	if (L->deadline_ms && now > L->deadline_ms)
		link_down(L, -ETIMEDOUT, L->state == LS_UP ? "a request got no answer in time"
							   : "connection setup did not finish");
}

/* ---- lifecycle and status ------------------------------------------------ */

struct ivt_utmem_lower *ivt_utmem_lower_new(struct event_base *base, struct ivt_broker *b,
					    struct ivt_peers *peers, const char *plugin_dir)
{
	struct ivt_utmem_lower *L = calloc(1, sizeof(*L));
	if (!L)
		return NULL;
	L->base = base;
	L->broker = b;
	L->peers = peers;
	snprintf(L->plugin_dir, sizeof(L->plugin_dir), "%s", plugin_dir ? plugin_dir : "");
	L->reg.ops = &lower_reg_ops;
	L->end.reg = &L->reg;
	L->end.pid = -1;
	L->end.who = ivt_identity_daemon();
	L->next_id = 1;
	L->out = evbuffer_new();
	L->kick = event_new(base, -1, 0, on_kick, L);
	L->tick = event_new(base, -1, EV_PERSIST, on_tick, L);
	struct timeval tv = {.tv_sec = 0, .tv_usec = TICK_MS * 1000};
	if (!L->out || !L->kick || !L->tick || event_add(L->tick, &tv) != 0) {
		ivt_utmem_lower_free(L);
		return NULL;
	}
	event_active(L->tick, EV_TIMEOUT, 0); /* first attempt now */
	return L;
}

void ivt_utmem_lower_free(struct ivt_utmem_lower *L)
{
	if (!L)
		return;
	for (struct ivt_utmem_lower_req *r = L->head; r; r = r->next)
		r->done = NULL; /* owners are going away too */
	link_down(L, 0, "ivtd is stopping");
	struct ivt_utmem_lower_req *r;
	while ((r = pop_head(L)))
		req_free(r);
	if (L->kick)
		event_free(L->kick);
	if (L->tick)
		event_free(L->tick);
	if (L->out)
		evbuffer_free(L->out);
	free(L->rbuf);
	free(L);
}

int ivt_utmem_lower_up(const struct ivt_utmem_lower *L) { return L && L->state == LS_UP; }

uint32_t ivt_utmem_lower_generation(const struct ivt_utmem_lower *L)
{
	return L ? L->generation : 0;
}

size_t ivt_utmem_lower_max_value(const struct ivt_utmem_lower *L)
{
	return L && L->state == LS_UP ? L->max_value : 0;
}

size_t ivt_utmem_lower_status(const struct ivt_utmem_lower *L, char *buf, size_t len)
{
	static const char *const names[] = {
		[LS_IDLE] = "down", [LS_DIALING] = "connecting", [LS_HELLO] = "connecting",
		[LS_UP] = "up",
	};
	struct ivt_textbuf o;
	ivt_textbuf_init(&o, buf, len);
	if (!L || !L->host[0])
		return 0;
	size_t queued = 0;
	for (const struct ivt_utmem_lower_req *r = L->head; r; r = r->next)
		queued++;
	ivt_textbuf_printf(&o, "utmem lower tier: host %s %s", L->host, names[L->state]);
	if (L->state == LS_UP)
		ivt_textbuf_printf(&o, " (store domain %" PRIu32 " there)", L->peer_domid);
	else if (L->last_why[0])
		ivt_textbuf_printf(&o, " (%s)", L->last_why);
	ivt_textbuf_printf(&o, ", connections %" PRIu64 ", requests %" PRIu64 " answered %" PRIu64
			       " failed %" PRIu64 " queued %zu\n",
			   L->connects, L->sent, L->answered, L->failed, queued);
	return o.len;
}
