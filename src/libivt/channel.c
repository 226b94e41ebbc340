/* SPDX-License-Identifier: MIT */
/* Opening and closing channels, and their introspection. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "accept_bound.h"
#include "common/clock.h"
#include "channel.h"
#include "common/ctrl_msg.h"
#include "common/log.h"
#include "common/plugin_loader.h"
#include "common/tcp_map.h"
#include "conn_ring.h"
#include "ctrl_conn.h"
#include "errors.h"
#include "ring_pool.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define RETRY_FIRST_MS 10
#define RETRY_MAX_MS 500
#define CLOSE_FLUSH_TIMEOUT_MS 10000
#define RING_SIZE_MIN 4096u
#define RING_SIZE_MAX (1ull << 30)

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Blocking waits of the frame layer (sends, rdma posts, close). */
static int frame_wait(void *ctx, unsigned events)
{
	struct ivt_channel *ch = ctx;
	int e = chan_peer_send_error(ch);
	if (e)
		return e;
	chan_wait(ch, CHAN_SENDER, events, -1);
	return chan_peer_send_error(ch);
}

/* Accept the caller's options struct even if it is older (smaller) than ours. */
int chan_read_opts(const struct ivt_open_opts *in, unsigned flags, struct ivt_open_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (!in) {
		/* no options: a listener waits for its peer, a connector 10 s */
		o->timeout_ms = (flags & IVT_LISTEN) ? -1 : DEFAULT_CONNECT_TIMEOUT_MS;
		return 0;
	}
	if (in->struct_size < offsetof(struct ivt_open_opts, backend)) {
		ivt_reason_set(-EINVAL, "opts->struct_size is not set");
		return -EINVAL;
	}
	memcpy(o, in, in->struct_size < sizeof(*o) ? in->struct_size : sizeof(*o));
	if (o->timeout_ms < -1) {
		ivt_reason_set(-EINVAL, "timeout_ms must be -1, 0 or positive");
		return -EINVAL;
	}
	return 0;
}

/* The daemon's OPEN_OK crosses a trust boundary too. */
static int check_open_ok(const struct ivt_ctrl_open_ok *ok, int listen)
{
	uint64_t rs = ok->ring_size;
	if (!ok->backend[0] || rs < RING_SIZE_MIN || rs > RING_SIZE_MAX || (rs & (rs - 1)) ||
	    (int)ok->is_server != listen) {
		ivt_reason_set(-EPROTO, "ivtd granted an invalid channel (backend '%s', ring %llu)",
			       ok->backend, (unsigned long long)rs);
		return -EPROTO;
	}
	return 0;
}

/* How long to wait for something the daemon or the setup must deliver
 * promptly: timeout 0 only means "do not wait for a peer". */
static int prompt_ms(long long deadline, int timeout_ms)
{
	return timeout_ms == 0 ? DEFAULT_CONNECT_TIMEOUT_MS : ivt_left_ms(deadline);
}

/* A connector may wait in ivtd's queue for a listener (ivt_listen) to
 * accept it: it tells ivtd how long, and gives ivtd this much longer to
 * say "not accepted in time" before its own clock says "no answer". */
#define QUEUE_ANSWER_GRACE_MS 1000

/* A connector's OPEN says how long it waits in ivtd's queue (req->arg);
 * returns how long to wait for ivtd's answer. */
static int connector_wait(struct ivt_ctrl_open *req, long long deadline, int timeout_ms)
{
	int wait = prompt_ms(deadline, timeout_ms);
	int left = ivt_left_ms(deadline);
	req->arg = left < 0 ? IVT_CTRL_WAIT_FOREVER : timeout_ms == 0 ? 0
		   : (uint32_t)(left > 0 ? left : 1);
	return wait >= 0 ? wait + QUEUE_ANSWER_GRACE_MS : wait;
}

/* A connector's tcp.<P> becomes tcp.<P>.<addr>, the address dialled,
 * as the kernel connects to it (any: loopback); ivtd picks the listener
 * (IVT_CTRL_OPEN_TCP_DIAL). */
static int dial_name(struct ivt_ctrl_open *req, const char *host_addr)
{
	if (req->flags & IVT_CTRL_OPEN_TCP_DIAL)
		return 0; /* named already (open_granted opens once more) */
	unsigned port = ivt_tcp_name_port(req->name);
	struct ivt_ip to;
	if (!port || ivt_ip_parse(host_addr, strlen(host_addr), 0, &to)) {
		ivt_reason_set(-EINVAL, "host_addr '%.64s' is not an IP address, or '%s' not "
					"tcp.<port>", host_addr, req->name);
		return -EINVAL;
	}
	static const uint8_t zero[16];
	if (!memcmp(to.bytes, zero, sizeof(zero))) { /* 0.0.0.0 -> 127.0.0.1, :: -> ::1 */
		if (to.family == AF_INET) {
			to.bytes[0] = 127;
			to.bytes[3] = 1;
		} else {
			to.bytes[15] = 1;
		}
	}
	int rc = ivt_tcp_name_at(req->name, sizeof(req->name), port, &to);
	if (rc < 0) {
		ivt_reason_set(rc, "host_addr '%.64s' makes too long a name", host_addr);
		return rc;
	}
	/* a grant learned under this name may be another listener's when
	 * ivtd picks anew: ivtd checks a ring's grant against the one it
	 * picks (ESTALE), so connector-made rings stay usable */
	req->flags |= IVT_CTRL_OPEN_TCP_DIAL;
	return 0;
}

/* OPEN, retrying a connector while nobody listens yet. */
static int open_ctrl(struct ivt_channel *ch, const struct ivt_open_opts *o,
		     struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok, long long deadline,
		     int timeout_ms, int listen)
{
	int backoff = RETRY_FIRST_MS;
	int rc;
	if (o->peer_addr) {
		if (listen) {
			ivt_reason_set(-EINVAL, "peer_addr is for connectors");
			return -EINVAL;
		}
		if ((rc = ivt_ctrl_select_guest(&ch->ctrl, o->socket_path)) < 0)
			return rc;
		if (!ch->ctrl.ops->tcp_addr) {
			ivt_reason_set(-EHOSTUNREACH, "the %s control path cannot carry an address",
				       ch->ctrl.ops->name);
			return -EHOSTUNREACH;
		}
		if ((rc = ch->ctrl.ops->tcp_addr(ch->ctrl.impl, o->peer_addr)) < 0) {
			ivt_reason_set(rc, "peer_addr '%.64s' is not an IP address", o->peer_addr);
			return rc;
		}
	} else if ((rc = ivt_ctrl_select(&ch->ctrl, o->socket_path)) < 0) {
		return rc;
	} else if (o->host_addr && ch->ctrl.ops->tcp_names && (rc = dial_name(req, o->host_addr)) < 0) {
		return rc;
	}
	for (int tries = 0;; tries++) {
		int wait = listen ? prompt_ms(deadline, timeout_ms)
				  : connector_wait(req, deadline, timeout_ms);
		/* a repeat of an OPEN that found nobody: ivtd counts it as a retry */
		if (tries)
			req->flags |= IVT_CTRL_OPEN_RETRY;
		rc = ch->ctrl.ops->open(ch->ctrl.impl, req, ok, wait);
		req->flags &= ~(uint32_t)IVT_CTRL_OPEN_RETRY;
		if (rc != -ENOENT || listen)
			return rc;
		int left = ivt_left_ms(deadline);
		if (left == 0)
			return rc; /* the daemon's reason is kept for ivt_strerror */
		sleep_ms(left < 0 || left > backoff ? backoff : left);
		backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
	}
}

/* Server end: wait until the peer attached to the pipe. */
static int wait_for_peer(struct ivt_channel *ch, long long deadline, int timeout_ms)
{
	for (;;) {
		int rc = ch->ops->accept(ch->ep);
		if (rc == 0) {
			atomic_store(&ch->accepted, 1);
			return 0;
		}
		if (rc != -EAGAIN) {
			ivt_reason_set(rc, "backend %s: accepting the peer failed", ch->ops->name);
			return rc;
		}
		if (chan_poll_ctrl(ch) == IVT_PEER_DIED || ivt_ctrl_peer_event(&ch->ctrl) ==
								      IVT_PEER_CLOSED) {
			/* It may have attached, sent and closed since our accept
			 * looked: its attach comes before ivtd's notice, so look
			 * once more before calling it gone. */
			if (ch->ops->accept(ch->ep) == 0) {
				atomic_store(&ch->accepted, 1);
				return 0;
			}
			/* e.g. its setup failed: do not wait for it forever */
			ivt_reason_set(-ECONNRESET, "the connector to '%s' went away before attaching",
				       ch->name);
			return -ECONNRESET;
		}
		int left = ivt_left_ms(deadline);
		if (left == 0) {
			ivt_reason_set(-ETIMEDOUT, "no peer connected to '%s' within %d ms", ch->name,
				       timeout_ms);
			return -ETIMEDOUT;
		}
		chan_wait(ch, CHAN_RECEIVER, IVT_EV_RECV, left < 0 || left > 100 ? 100 : left);
	}
}

/* An accepting end whose backend needs nothing of ivtd's answer (neither
 * the peer's domain nor a XenStore path) builds its server end as soon as
 * its OPEN is sent: its SETUP reaches ivtd right behind the OPEN and is
 * relayed together with the connector's OPEN_OK, instead of one more
 * round trip through ivtd after the answer. */
struct early_end {
	struct ivt_channel *ch;
	const struct ivt_plugin_ops *ops;
	struct ivt_ep_params params;
};

static void early_listen(void *arg)
{
	struct early_end *e = arg;
	if (e->ch->ep) { /* an OPEN asked again (older ivtd): the first setup went nowhere */
		e->ops->close(e->ch->ep);
		e->ch->ep = NULL;
	}
	e->params.oob = e->ch->ctrl.ops->oob(e->ch->ctrl.impl);
	if (e->ops->listen(&e->params, &e->ch->ep) < 0)
		e->ch->ep = NULL; /* tried again the usual way once ivtd answered */
}

/* The listener's grant says which backend and ring every accepted
 * connection gets: an early end when that backend allows. */
static int early_open(struct ivt_channel *ch, const char *socket_opt,
		      const struct ivt_ctrl_open *req, const struct ivt_ctrl_open_ok *lis_ok,
		      struct ivt_ctrl_open_ok *ok, int wait_ms)
{
	int rc = ivt_ctrl_select(&ch->ctrl, socket_opt);
	if (rc < 0)
		return rc;
	const struct ivt_plugin_ops *ops = ivt_plugin_load(NULL, lis_ok->backend, NULL, 0);
	if (!ch->ctrl.ops->open_early || !ops ||
	    (ops->caps & (IVT_CAP_PEER_BOUND | IVT_CAP_XS_PATH)))
		return ch->ctrl.ops->open(ch->ctrl.impl, req, ok, wait_ms);
	struct early_end e = {
		.ch = ch,
		.ops = ops,
		.params = {.channel = ch->name, .is_server = 1, .local_domid = lis_ok->local_domid,
			   .ring_size = (size_t)lis_ok->ring_size, .timeout_ms = wait_ms},
	};
	rc = ch->ctrl.ops->open_early(ch->ctrl.impl, req, ok, wait_ms, early_listen, &e);
	if (ch->ep && (rc < 0 || strcmp(ok->backend, lis_ok->backend) ||
		       ok->ring_size != lis_ok->ring_size)) {
		ops->close(ch->ep);
		ch->ep = NULL;
		if (rc == 0) {
			ivt_reason_set(-EPROTO, "ivtd granted connection of '%s' another backend or "
						"ring than its listener", ch->name);
			rc = -EPROTO;
		}
	}
	if (ch->ep)
		ch->ops = ops;
	return rc;
}

/* graceful 0: a forked copy let go (ivt_forget): nothing the peer or ivtd
 * can see; a plugin without forget keeps its endpoint until exit. */
static void chan_free_as(struct ivt_channel *ch, int graceful)
{
	if (graceful)
		chan_spill_free(ch);
	if (ch->ep && graceful && ch->ctrl.ops && ch->ctrl.ops->keep_ep &&
	    ch->ctrl.ops->keep_ep(ch->ctrl.impl, ch->ops, ch->ep))
		ch->ep = NULL; /* kept for the next connection over its line */
	if (ch->ep && graceful)
		ch->ops->close(ch->ep);
	else if (ch->ep && IVT_PLUGIN_OPS_HAS(ch->ops, forget) && ch->ops->forget)
		ch->ops->forget(ch->ep);
	ivt_ctrl_close(&ch->ctrl, graceful);
	if (ch->epfd >= 0)
		close(ch->epfd);
	if (ch->wake_fd >= 0)
		close(ch->wake_fd);
	if (ch->retry_fd >= 0)
		close(ch->retry_fd);
	pthread_mutex_destroy(&ch->ctrl_mu);
	for (int i = 0; i < 2; i++)
		if (ch->role[i].fd >= 0)
			close(ch->role[i].fd);
	ivt_xport_fini(&ch->xp);
	ivt_native_free(ch->native);
	/* its listener may take one more: this process no longer holds it */
	accept_bound_put(ch->bound, ch->bound_line);
	free(ch);
}

static void chan_free(struct ivt_channel *ch) { chan_free_as(ch, 1); }

/* Open the end req asks for, the rest of ivt_open. wait_peer: a
 * listener waits for its connector here (else on first use). */
/* The accepting end of a connector that brought its ring: attach to it
 * (the connector counts as accepted from there), then tell ivtd, without
 * waiting for its answer: it says what the listener's grant said, and a
 * refusal (the connector gave up meanwhile) comes as the peer's end. */
static int open_offered(struct ivt_channel *ch, const char *socket_opt,
			const struct ivt_ctrl_open *req, const struct ivt_ctrl_open_ok *lis_ok,
			struct ivt_ring_offer *offer, struct ivt_ctrl_open_ok *ok)
{
	struct ivt_ctrl_open r = *req;
	snprintf(r.backend, sizeof(r.backend), "%s", lis_ok->backend);
	r.ring_size = lis_ok->ring_size;
	if (lis_ok->flags & IVT_CTRL_OK_MESSAGE)
		r.flags |= IVT_MESSAGE;
	if (offer->line) { /* over a direct line: no ivtd, as ivtd granted */
		struct ring_pool *pool = offer->pool; /* our reference */
		offer->pool = NULL;
		int rc = 0;
		if (offer->reuse_ep) { /* a ring kept on the line, renewed */
			ch->ep = offer->reuse_ep;
			ch->ops = offer->reuse_ops;
			offer->reuse_ep = NULL;
		} else {
			rc = conn_ring_attach(ch, lis_ok, offer);
		}
		if (rc == 0)
			rc = ivt_ctrl_line_new(&ch->ctrl, offer->identity, pool, offer->slot);
		if (rc < 0 && pool) { /* the slot is free again; the connector sees its peer go */
			ring_pool_put(pool, offer->slot, ch->ops, ch->ep);
			ring_pool_unref(pool);
			ch->ep = NULL;
		} else if (rc < 0 && ch->ep) {
			ch->ops->close(ch->ep); /* the connector sees its peer go */
			ch->ep = NULL;
		}
		memset(ok, 0, sizeof(*ok));
		snprintf(ok->backend, sizeof(ok->backend), "%s", lis_ok->backend);
		ok->ring_size = lis_ok->ring_size;
		ok->is_server = 1;
		ok->local_domid = lis_ok->local_domid;
		ok->flags = lis_ok->flags & IVT_CTRL_OK_MESSAGE;
		return rc;
	}
	struct ivt_ring_wait w = {.peer_identity = offer->identity, .ctrl_fd = offer->ctrl_fd};
	offer->ctrl_fd = -1; /* ours: the attach below closes the offer */
	int rc = conn_ring_attach(ch, lis_ok, offer);
	if (rc == 0)
		rc = ivt_ctrl_select(&ch->ctrl, socket_opt);
	if (rc == 0 && !ch->ctrl.ops->open_ring)
		rc = -ENOTSUP; /* only transports with open_ring make offers */
	if (rc == 0)
		return ch->ctrl.ops->open_ring(ch->ctrl.impl, &r, ok, 0, &w);
	if (w.ctrl_fd >= 0)
		close(w.ctrl_fd); /* ivtd sees that end go before its OPEN */
	return rc;
}

/* A connector that did not know its listener's grant (timeout 0): ivtd
 * answered the grant alone (IVT_CTRL_OK_GRANT), so open again bringing
 * the ring, which goes on once queued; if that is not taken, the
 * ordinary way without the hint (waits for the accept). */
static int open_granted(struct ivt_channel *ch, const struct ivt_ctrl_open *dreq,
			unsigned flags, const struct ivt_open_opts *o, struct ivt_ctrl_open *req,
			struct ivt_ctrl_open_ok *ok, long long deadline)
{
	if (!(req->flags & IVT_CTRL_OPEN_QUEUED) || !(ok->flags & IVT_CTRL_OK_RINGS)) {
		ivt_reason_set(-EPROTO, "ivtd answered a grant alone to a connector that did not ask");
		return -EPROTO;
	}
	conn_ring_learn(o->socket_path, dreq->name, ok);
	ivt_ctrl_close(&ch->ctrl, 0);
	struct ivt_ctrl_open r = *dreq;
	int rc = conn_ring_connect(ch, o->socket_path, &r, flags, ok,
				   connector_wait(&r, deadline, o->timeout_ms));
	if (rc != CONN_RING_UNUSED)
		return rc;
	req->flags &= ~(uint32_t)IVT_CTRL_OPEN_QUEUED;
	rc = open_ctrl(ch, o, req, ok, deadline, o->timeout_ms, 0);
	if (rc == 0 && (ok->flags & IVT_CTRL_OK_GRANT)) {
		ivt_reason_set(-EPROTO, "ivtd answered a grant alone to a connector that did not ask");
		rc = -EPROTO;
	}
	return rc;
}

static int chan_start(const char *name, unsigned flags, const struct ivt_open_opts *o,
		      struct ivt_ctrl_open *req, int wait_peer,
		      const struct ivt_ctrl_open_ok *lis_ok, struct ivt_ring_offer *offer,
		      ivt_channel **out)
{
	int listen = !!(flags & IVT_LISTEN);
	struct ivt_channel *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->epfd = ch->wake_fd = ch->role[0].fd = ch->role[1].fd = ch->retry_fd = -1;
	pthread_mutex_init(&ch->ctrl_mu, NULL);
	atomic_store(&ch->retry_at, -1);
	ch->is_server = listen;
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	atomic_store(&ch->nonblock, !!(flags & IVT_NONBLOCK));
	atomic_store(&ch->send_timeout_ms, -1);
	atomic_store(&ch->recv_timeout_ms, -1);
	ch->waiter = (struct ivt_waiter){.wait = frame_wait, .ctx = ch};
	/* the frame layer must be valid for chan_free even if we fail early */
	ivt_xport_init(&ch->xp, NULL, NULL, RING_SIZE_MIN);

	long long deadline = ivt_deadline_ms(o->timeout_ms);
	struct ivt_ctrl_open_ok ok;
	struct ivt_ctrl_open dreq = *req;
	int rc;
	if (offer && offer->has) {
		rc = open_offered(ch, o->socket_path, req, lis_ok, offer, &ok);
	} else if (lis_ok) {
		rc = early_open(ch, o->socket_path, req, lis_ok, &ok,
				prompt_ms(deadline, o->timeout_ms));
	} else {
		rc = CONN_RING_UNUSED;
		/* grants and rings go by the name asked for: with host_addr
		 * the dialled one, tcp.<P>.<addr> (ivtd picks its listener) */
		int ringable = !listen && !o->peer_addr &&
			       (!o->host_addr || dial_name(&dreq, o->host_addr) == 0);
		ivt_reason_clear(); /* a host_addr that cannot be dialled: as before */
		struct conn_line line;
		if (ringable && conn_line_lookup(ivt_ctrl_socket_path(o->socket_path), dreq.name,
						 &line)) {
			/* over the line ivtd granted: no ivtd, returns at once */
			rc = conn_line_connect(ch, o->socket_path, &dreq, flags, &ok);
			/* else through ivtd, without asking for another line
			 * while this one is kept (it was only full) */
			if (rc == CONN_RING_UNUSED &&
			    conn_line_lookup(ivt_ctrl_socket_path(o->socket_path), dreq.name, &line)) {
				req->flags &= ~(uint32_t)IVT_CTRL_OPEN_LINES;
				dreq.flags &= ~(uint32_t)IVT_CTRL_OPEN_LINES;
			}
		}
		if (ringable && rc == CONN_RING_UNUSED) {
			struct ivt_ctrl_open r = dreq;
			rc = conn_ring_connect(ch, o->socket_path, &r, flags, &ok,
					       connector_wait(&r, deadline, o->timeout_ms));
		}
		if (rc == CONN_RING_UNUSED)
			rc = open_ctrl(ch, o, req, &ok, deadline, o->timeout_ms, listen);
		if (rc == 0 && (ok.flags & IVT_CTRL_OK_GRANT))
			rc = ringable ? open_granted(ch, &dreq, flags, o, req, &ok, deadline)
				      : (ivt_reason_set(-EPROTO, "ivtd answered a grant alone"), -EPROTO);
	}
	if (rc < 0)
		goto fail;
	rc = check_open_ok(&ok, listen);
	if (rc < 0)
		goto fail;
	if (!listen && (ok.flags & IVT_CTRL_OK_RINGS))
		conn_ring_learn(o->socket_path, dreq.name, &ok); /* the next one brings its ring */
	ch->ring_size = ok.ring_size;
	/* the listener's choice, as ivtd reports it (socket or XenStore) */
	int message = (ok.flags & IVT_CTRL_OK_MESSAGE) || (flags & IVT_MESSAGE);
	if (!listen && (flags & IVT_MESSAGE) && !(ok.flags & IVT_CTRL_OK_MESSAGE)) {
		ivt_reason_set(-EPROTOTYPE, "channel '%s' is a byte stream, not in message mode",
			       name);
		rc = -EPROTOTYPE;
		goto fail;
	}
	if ((rc = chan_spill_init(ch, ok.spill_above_bytes, o->socket_path)) < 0)
		goto fail;

	char why[256] = "";
	if (!ch->ep)
		ch->ops = ivt_plugin_load(NULL, ok.backend, why, sizeof(why));
	if (!ch->ops) {
		ivt_reason_set(-ENOTSUP, "%s", why);
		rc = -ENOTSUP;
		goto fail;
	}
	if ((ch->ops->caps & IVT_CAP_XS_PATH) && !ok.xs_path[0]) {
		rc = -EPROTO;
		ivt_reason_set(rc, "ivtd answered backend %s without the XenStore path it needs",
			       ok.backend);
		goto fail;
	}
	struct ivt_ep_params params = {
		.channel = ch->name,
		.is_server = listen,
		.local_domid = ok.local_domid,
		.peer_domid = ok.peer_domid,
		.ring_size = (size_t)ok.ring_size,
		.xs_path = ok.xs_path[0] ? ok.xs_path : NULL,
		.oob = ch->ctrl.ops->oob(ch->ctrl.impl), /* XenStore: one that refuses; vchan needs none */
		.timeout_ms = prompt_ms(deadline, o->timeout_ms),
	};
	ivt_reason_clear();
	if (ch->ep) /* built early */
		rc = 0;
	else
		rc = listen ? ch->ops->listen(&params, &ch->ep)
			    : ch->ops->connect(&params, &ch->ep);
	if (rc < 0) {
		ch->ep = NULL;
		if (!ivt_reason_is_set(rc)) /* keep a more precise one from the setup */
			ivt_reason_set(rc, "backend %s: %s failed: %s", ch->ops->name,
				       listen ? "listen" : "connect", strerror(-rc));
		goto fail;
	}
	ivt_xport_fini(&ch->xp);
	ivt_xport_init(&ch->xp, ch->ops, ch->ep, (size_t)ok.ring_size);
	ch->xp.msg_mode = message;
	if (ivt_native_usable(ch->ops) && !(ch->native = ivt_native_new(ch->ops, ch->ep))) {
		rc = -ENOMEM;
		goto fail;
	}
	if (!listen)
		atomic_store(&ch->accepted, 1);
	else if (wait_peer && (rc = wait_for_peer(ch, deadline, o->timeout_ms)) < 0)
		goto fail;
	IVT_DEBUG("libivt", "channel '%s' open (%s, backend %s, ring %llu, one-sided ops %s)",
		  name, listen ? "listener" : "connector", ch->ops->name,
		  (unsigned long long)ch->ring_size, ch->native ? "native" : "emulated");
	*out = ch;
	return 0;
fail:
	chan_free(ch);
	return rc;
}

/* Builds the OPEN request common to every end. */
int chan_make_request(const char *name, const struct ivt_open_opts *o, uint32_t flags,
		      struct ivt_ctrl_open *req)
{
	if (!ivt_name_valid(name)) {
		ivt_reason_set(-EINVAL, "invalid channel name (1-%d of A-Za-z0-9._-, not starting with '.')",
			       IVT_NAME_MAX);
		return -EINVAL;
	}
	if (o->backend && strlen(o->backend) > IVT_BACKEND_NAME_MAX) {
		ivt_reason_set(-EINVAL, "backend name '%s' is too long", o->backend);
		return -EINVAL;
	}
	memset(req, 0, sizeof(*req));
	snprintf(req->name, sizeof(req->name), "%s", name);
	snprintf(req->backend, sizeof(req->backend), "%s", o->backend ? o->backend : "");
	req->flags = flags | IVT_CTRL_OPEN_INFO | IVT_CTRL_OPEN_ATTACH | IVT_CTRL_OPEN_HALFCLOSE;
	/* connectors and multi listeners can do connector-made rings */
	if ((!(flags & IVT_LISTEN) || (flags & IVT_CTRL_OPEN_MULTI)) && conn_ring_enabled())
		req->flags |= IVT_CTRL_OPEN_RINGS;
	/* ...and a listener takes its accepting ends' control connections
	 * with the offers (no connect, no accept in ivtd per connection) */
	if ((flags & IVT_CTRL_OPEN_MULTI) && conn_ring_enabled())
		req->flags |= IVT_CTRL_OPEN_CTRL_FD;
	/* ...and a connector sends its ring's OPEN and SETUP as one */
	if (!(flags & IVT_LISTEN) && conn_ring_enabled())
		req->flags |= IVT_CTRL_OPEN_ONE_MSG;
	/* ...and takes direct lines (docs/conn-setup.md) */
	if ((!(flags & IVT_LISTEN) || (flags & IVT_CTRL_OPEN_MULTI)) && conn_line_enabled())
		req->flags |= IVT_CTRL_OPEN_LINES;
	/* ...and a listener holds max_connections from its OPEN_OK on */
	if (flags & IVT_CTRL_OPEN_MULTI)
		req->flags |= IVT_CTRL_OPEN_OK_BOUND;
	/* ...and a listener holds max_connections over them (listener.c) */
	if ((flags & IVT_CTRL_OPEN_MULTI) && conn_line_enabled())
		req->flags |= IVT_CTRL_OPEN_LINE_BOUND;
	/* timeout 0: go on once queued at the listener, as TCP's connect */
	if (!(flags & IVT_LISTEN) && o->timeout_ms == 0 && conn_ring_enabled())
		req->flags |= IVT_CTRL_OPEN_QUEUED;
	req->ring_size = o->ring_size;
	return 0;
}

IVT_EXPORT int ivt_open(const char *name, unsigned flags, const struct ivt_open_opts *opts,
			ivt_channel **out)
{
	ivt_reason_clear();
	if (!out)
		return ivt_einval(__func__);
	*out = NULL;
	if (flags & ~(unsigned)(IVT_LISTEN | IVT_NONBLOCK | IVT_MESSAGE))
		return ivt_einval(__func__);
	struct ivt_open_opts o;
	int rc = chan_read_opts(opts, flags, &o);
	if (rc < 0)
		return rc;
	struct ivt_ctrl_open req;
	if ((rc = chan_make_request(name, &o, flags & (IVT_LISTEN | IVT_MESSAGE), &req)) < 0)
		return rc;
	return chan_start(name, flags, &o, &req, o.timeout_ms != 0, NULL, NULL, out);
}

int chan_open_accepted(const char *name, const struct ivt_open_opts *lo,
		       const struct ivt_ctrl_open_ok *lis_ok, uint32_t ticket,
		       struct ivt_ring_offer *offer, ivt_channel **out)
{
	struct ivt_open_opts o = *lo;
	o.timeout_ms = 0; /* ivtd answers at once; the connector attaches on first use */
	struct ivt_ctrl_open req;
	int rc = chan_make_request(name, &o,
				   IVT_LISTEN | IVT_CTRL_OPEN_ACCEPT | IVT_CTRL_OPEN_DETACH, &req);
	if (rc < 0) {
		ivt_ring_offer_close(offer);
		return rc;
	}
	req.arg = ticket;
	/* the listener's mode: ivtd reports it too; the flag covers an older ivtd */
	rc = chan_start(name, IVT_LISTEN | (o.flags & IVT_MESSAGE), &o, &req, 0, lis_ok, offer,
			out);
	ivt_ring_offer_close(offer); /* if it failed before taking them */
	return rc;
}

IVT_EXPORT int ivt_close(ivt_channel *ch)
{
	if (!ch)
		return ivt_einval(__func__);
	int rc = 0;
	if (ch->xp.tx.resv) /* an open ivt_send_reserve: cancelled */
		ivt_xport_commit(&ch->xp, NULL, 0);
	/* What ivt_send accepted must reach the pipe before the close marker
	 * (non-blocking sends may have left a frame's tail with us). */
	if (ch->ep && atomic_load(&ch->accepted) && !chan_peer_send_error(ch)) {
		/* bytes parked in utmem (policy "spill") go first */
		int spill_rc = chan_spill_close_flush(ch, CLOSE_FLUSH_TIMEOUT_MS);
		long long deadline = ivt_now_ms() + CLOSE_FLUSH_TIMEOUT_MS;
		while ((rc = ivt_xport_flush(&ch->xp, NULL)) == -EAGAIN) {
			if (ivt_left_ms(deadline) == 0 || chan_peer_send_error(ch)) {
				IVT_WARN("libivt", "channel '%s': peer not reading; closing with data unsent",
					 ch->name);
				rc = -ETIMEDOUT;
				break;
			}
			chan_wait(ch, CHAN_SENDER, IVT_EV_SEND, ivt_left_ms(deadline));
		}
		if (rc == -EPIPE || rc == -ECONNRESET)
			rc = 0; /* the peer closed or died first: nothing left to deliver
				 * (the plugin may see a death before ivtd's notice) */
		if (rc == 0 && spill_rc < 0 && spill_rc != -EPIPE)
			rc = spill_rc;
	}
	chan_free(ch);
	return rc < 0 ? rc : 0;
}

IVT_EXPORT int ivt_forget(ivt_channel *ch)
{
	if (!ch)
		return ivt_einval(__func__);
	chan_free_as(ch, 0);
	return 0;
}

IVT_EXPORT int ivt_fd(ivt_channel *ch)
{
	if (!ch)
		return ivt_einval(__func__);
	int rc = chan_fd_make(ch);
	if (rc < 0)
		return rc;
	chan_fd_used(ch);
	return ch->epfd;
}

IVT_EXPORT int ivt_set_nonblock(ivt_channel *ch, int nonblock)
{
	if (!ch)
		return ivt_einval(__func__);
	atomic_store(&ch->nonblock, !!nonblock);
	return 0;
}

IVT_EXPORT int ivt_set_manual_arm(ivt_channel *ch, int manual)
{
	if (!ch)
		return ivt_einval(__func__);
	atomic_store(&ch->manual_arm, !!manual);
	return 0;
}

IVT_EXPORT int ivt_set_timeouts(ivt_channel *ch, int send_ms, int recv_ms)
{
	if (!ch || send_ms < -1 || recv_ms < -1)
		return ivt_einval(__func__);
	atomic_store(&ch->send_timeout_ms, send_ms);
	atomic_store(&ch->recv_timeout_ms, recv_ms);
	return 0;
}

IVT_EXPORT int ivt_get_stats(ivt_channel *ch, struct ivt_stats *st)
{
	if (!ch || !st)
		return ivt_einval(__func__);
	memset(st, 0, sizeof(*st));
	st->bytes_sent = atomic_load(&ch->xp.bytes_sent);
	st->bytes_received = atomic_load(&ch->xp.bytes_received);
	st->sends = atomic_load(&ch->xp.sends);
	st->recvs = atomic_load(&ch->xp.recvs);
	st->waits = atomic_load(&ch->waits);
	st->ring_size = ch->ring_size;
	st->protocol_errors = atomic_load(&ch->xp.protocol_errors);
	struct ivt_ep_stats ep;
	memset(&ep, 0, sizeof(ep));
	if (ch->ops->stats(ch->ep, &ep) == 0) {
		st->notifies_sent = ep.notifies_sent;
		st->protocol_errors += ep.protocol_errors; /* e.g. forged ring indices */
	}
	return 0;
}

IVT_EXPORT const char *ivt_peer_identity(const ivt_channel *ch)
{
	return ch ? ch->ctrl.ops->peer_identity(ch->ctrl.impl) : NULL;
}

IVT_EXPORT const char *ivt_backend_name(const ivt_channel *ch)
{
	return ch && ch->ops ? ch->ops->name : NULL;
}
