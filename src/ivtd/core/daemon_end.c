/* SPDX-License-Identifier: MIT */
/* ivtd as one end of a channel: a plugin endpoint on libevent. */
#include "daemon_end.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/plugin_loader.h"
#include "ivtd/core/closer.h"

#define WHO "ivtd"

struct ivt_daemon_end {
	const struct ivt_plugin_ops *ops;
	struct ivt_ep *ep;
	struct event *ev;   /* poll_fd readable, or activated by want() */
	struct ivt_daemon_end_cb cb;
	struct ivt_reg_end *to; /* server role during listen only */
	int is_server;
	int accepted;
	unsigned want;
	int in_dispatch;    /* inside a callback: close must wait */
	int close_pending;
	int failed;
	char channel[IVT_NAME_MAX + 1];
};

static void free_end(struct ivt_daemon_end *de)
{
	if (de->ev)
		event_free(de->ev);
	/* Network plugins may linger for their peer's acknowledgement:
	 * never on ivtd's loop (closer.h). */
	if (de->ep && (de->ops->caps & IVT_CAP_REMOTE))
		ivt_closer_close(de->ops, de->ep);
	else if (de->ep)
		de->ops->close(de->ep);
	free(de);
}

static void fail_end(struct ivt_daemon_end *de, int err)
{
	if (de->failed)
		return;
	de->failed = 1;
	de->want = 0;
	IVT_WARN(WHO, "channel '%s': %s endpoint failed: %s", de->channel, de->ops->name,
		 strerror(-err));
	if (de->cb.failed)
		de->cb.failed(de->cb.arg, de, err);
}

/* Ask the plugin for wake-ups; run the callbacks for what is ready now on
 * the next loop iteration (event_active defers, so never recursion). */
static void rearm(struct ivt_daemon_end *de)
{
	if (de->failed || de->close_pending || !de->want)
		return;
	int ready = de->ops->arm(de->ep, de->want);
	if (ready < 0)
		fail_end(de, ready);
	else if (ready & (int)de->want)
		event_active(de->ev, EV_READ, 0);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ivt_daemon_end *de = arg;
	de->ops->ack(de->ep);
	de->in_dispatch = 1;
	/* Report both directions; a callback changes the interest as it goes.
	 * Readiness is not re-checked here: the callee's call says -EAGAIN. */
	if (!de->close_pending && !de->failed && (de->want & IVT_EV_RECV))
		de->cb.readable(de->cb.arg, de);
	if (!de->close_pending && !de->failed && (de->want & IVT_EV_SEND))
		de->cb.writable(de->cb.arg, de);
	de->in_dispatch = 0;
	if (de->close_pending) {
		free_end(de);
		return;
	}
	/* Wanting nothing, stop watching: a gone peer's fd (shm: EOF on the
	 * wake-up pair) stays readable and would spin the loop. want() adds
	 * it back. */
	if (!de->want || de->failed)
		event_del(de->ev);
	rearm(de);
}

static struct ivt_daemon_end *new_end(struct event_base *base,
				      const struct ivt_daemon_end_params *p,
				      const struct ivt_daemon_end_cb *cb, char *why, size_t why_len)
{
	if (!base || !p || !p->backend || !cb || !cb->readable || !cb->writable) {
		snprintf(why, why_len, "daemon end: missing parameters");
		return NULL;
	}
	const struct ivt_plugin_ops *ops = ivt_plugin_load(p->plugin_dir, p->backend, why, why_len);
	if (!ops)
		return NULL;
	struct ivt_daemon_end *de = calloc(1, sizeof(*de));
	if (!de) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	de->ops = ops;
	de->cb = *cb;
	snprintf(de->channel, sizeof(de->channel), "%s", p->channel ? p->channel : "");
	return de;
}

/* After listen/connect: the event on the plugin's wake-up fd. */
static int attach_event(struct event_base *base, struct ivt_daemon_end *de, char *why,
			size_t why_len)
{
	int fd = de->ops->poll_fd(de->ep);
	de->ev = fd >= 0 ? event_new(base, fd, EV_READ | EV_PERSIST, on_event, de) : NULL;
	if (!de->ev || event_add(de->ev, NULL) != 0) {
		snprintf(why, why_len, "backend %s: cannot watch its wake-up fd %d", de->ops->name,
			 fd);
		return -EIO;
	}
	return 0;
}

static struct ivt_ep_params ep_params(const struct ivt_daemon_end_params *p, int is_server,
				      const struct ivt_oob *oob)
{
	return (struct ivt_ep_params){
		.channel = p->channel,
		.is_server = is_server,
		.local_domid = p->local_domid,
		.peer_domid = p->peer_domid,
		.ring_size = (size_t)p->ring_size,
		.xs_path = p->xs_path,
		.oob = oob,
		.timeout_ms = 0, /* ivtd never waits: the setup is there or it is not */
	};
}

/* ---- server role ---------------------------------------------------- */

static int relay_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds)
{
	struct ivt_daemon_end *de = ctx;
	return de->to->reg->ops->relay_setup(de->to, blob, len, fds, nfds);
}

static int no_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	(void)ctx, (void)blob, (void)cap, (void)fds, (void)timeout_ms;
	*nfds = 0;
	return -ENOTSUP;
}

int ivt_daemon_end_listen(struct event_base *base, const struct ivt_daemon_end_params *params,
			  struct ivt_reg_end *to, const struct ivt_daemon_end_cb *cb,
			  struct ivt_daemon_end **out, char *why, size_t why_len)
{
	if (!to || !to->reg || !out) {
		snprintf(why, why_len, "daemon end: no client end to relay the setup to");
		return -EINVAL;
	}
	struct ivt_daemon_end *de = new_end(base, params, cb, why, why_len);
	if (!de)
		return -ENOTSUP;
	de->is_server = 1;
	de->to = to;
	struct ivt_oob oob = {.ctx = de, .send = relay_send, .recv = no_recv};
	struct ivt_ep_params ep = ep_params(params, 1, &oob);
	int rc = de->ops->listen(&ep, &de->ep);
	de->to = NULL; /* only needed during listen */
	if (rc < 0) {
		de->ep = NULL;
		snprintf(why, why_len, "backend %s: listen failed: %s", de->ops->name,
			 strerror(-rc));
		free_end(de);
		return rc;
	}
	if ((rc = attach_event(base, de, why, why_len)) < 0) {
		free_end(de);
		return rc;
	}
	*out = de;
	return 0;
}

/* ---- client role ---------------------------------------------------- */

struct held_setup {
	const void *blob;
	size_t len;
	const int *fds;
	int nfds;
	int taken;
};

/* Hands the listener's setup to the plugin once, duplicating the fds:
 * the plugin owns what recv returns, the caller keeps its own. */
static int held_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	(void)timeout_ms;
	struct held_setup *h = ctx;
	int cap_fds = *nfds;
	*nfds = 0;
	if (h->taken)
		return -ECONNRESET; /* one setup per channel */
	if (h->len > cap || h->nfds > cap_fds)
		return -EMSGSIZE;
	for (int i = 0; i < h->nfds; i++) {
		fds[i] = fcntl(h->fds[i], F_DUPFD_CLOEXEC, 0); /* as struct ivt_oob promises */
		if (fds[i] < 0) {
			int e = -errno;
			for (int j = 0; j < i; j++)
				close(fds[j]);
			return e;
		}
	}
	*nfds = h->nfds;
	memcpy(blob, h->blob, h->len);
	h->taken = 1;
	return (int)h->len;
}

static int no_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds)
{
	(void)ctx, (void)blob, (void)len, (void)fds, (void)nfds;
	return -ENOTSUP;
}

int ivt_daemon_end_connect(struct event_base *base, const struct ivt_daemon_end_params *params,
			   const void *blob, size_t len, const int *fds, int nfds,
			   const struct ivt_daemon_end_cb *cb, struct ivt_daemon_end **out,
			   char *why, size_t why_len)
{
	if (!out || len > IVT_OOB_BLOB_MAX || nfds < 0 || nfds > IVT_OOB_FDS_MAX ||
	    (len && !blob) || (nfds && !fds)) {
		snprintf(why, why_len, "daemon end: invalid setup (%zu bytes, %d fds)", len, nfds);
		return -EINVAL;
	}
	struct ivt_daemon_end *de = new_end(base, params, cb, why, why_len);
	if (!de)
		return -ENOTSUP;
	struct held_setup h = {.blob = blob, .len = len, .fds = fds, .nfds = nfds};
	struct ivt_oob oob = {.ctx = &h, .send = no_send, .recv = held_recv};
	struct ivt_ep_params ep = ep_params(params, 0, &oob);
	int rc = de->ops->connect(&ep, &de->ep);
	if (rc < 0) {
		de->ep = NULL;
		snprintf(why, why_len, "backend %s: attaching to the listener failed: %s",
			 de->ops->name, strerror(-rc));
		free_end(de);
		return rc;
	}
	de->accepted = 1;
	if ((rc = attach_event(base, de, why, why_len)) < 0) {
		free_end(de);
		return rc;
	}
	*out = de;
	return 0;
}

/* ---- setup through the caller's oob ---------------------------------- */

int ivt_daemon_end_open_oob(struct event_base *base, const struct ivt_daemon_end_params *params,
			    int is_server, const struct ivt_oob *oob,
			    const struct ivt_daemon_end_cb *cb, struct ivt_daemon_end **out,
			    char *why, size_t why_len)
{
	if (!oob || !oob->send || !oob->recv || !out) {
		snprintf(why, why_len, "daemon end: no setup channel");
		return -EINVAL;
	}
	struct ivt_daemon_end *de = new_end(base, params, cb, why, why_len);
	if (!de)
		return -ENOTSUP;
	de->is_server = is_server;
	struct ivt_ep_params ep = ep_params(params, is_server, oob);
	int rc = is_server ? de->ops->listen(&ep, &de->ep) : de->ops->connect(&ep, &de->ep);
	if (rc < 0) {
		de->ep = NULL;
		snprintf(why, why_len, "backend %s: %s failed: %s", de->ops->name,
			 is_server ? "listen" : "connect", strerror(-rc));
		free_end(de);
		return rc;
	}
	de->accepted = !is_server;
	if ((rc = attach_event(base, de, why, why_len)) < 0) {
		free_end(de);
		return rc;
	}
	*out = de;
	return 0;
}

int ivt_daemon_end_up(struct ivt_daemon_end *de)
{
	if (de->failed)
		return -EIO;
	int r = de->ops->arm(de->ep, IVT_EV_SEND);
	if (r <= 0)
		return r;
	/* Ready to send also means broken: an empty send tells them apart. */
	char none = 0;
	ssize_t n = de->ops->send(de->ep, &none, 0);
	return n == 0 || n == -EAGAIN ? 1 : (int)n;
}

/* ---- I/O ------------------------------------------------------------- */

int ivt_daemon_end_accepted(struct ivt_daemon_end *de)
{
	if (de->accepted)
		return 1;
	int rc = de->ops->accept(de->ep);
	if (rc == 0)
		de->accepted = 1;
	return rc == 0 ? 1 : rc == -EAGAIN ? 0 : rc;
}

ssize_t ivt_daemon_end_send(struct ivt_daemon_end *de, const void *buf, size_t len)
{
	if (de->failed)
		return -EIO;
	ssize_t n = de->ops->send(de->ep, buf, len);
	if (n == -EPROTO)
		fail_end(de, -EPROTO);
	return n;
}

ssize_t ivt_daemon_end_recv(struct ivt_daemon_end *de, void *buf, size_t len)
{
	if (de->failed)
		return -EIO;
	ssize_t n = de->ops->recv(de->ep, buf, len);
	if (n == -EPROTO)
		fail_end(de, -EPROTO);
	return n;
}

ssize_t ivt_daemon_end_send_reserve(struct ivt_daemon_end *de, size_t want, void **ptr,
				    size_t *space)
{
	const struct ivt_plugin_ops *o = de->ops;
	if (!IVT_PLUGIN_OPS_HAS(o, send_commit) || !o->send_reserve || !o->send_commit)
		return -EOPNOTSUPP;
	if (de->failed)
		return -EIO;
	ssize_t n = o->send_reserve(de->ep, want, ptr, space);
	if (n == -EPROTO)
		fail_end(de, -EPROTO);
	return n;
}

int ivt_daemon_end_send_commit(struct ivt_daemon_end *de, size_t len)
{
	if (de->failed)
		return -EIO;
	int rc = de->ops->send_commit(de->ep, len);
	if (rc == -EPROTO)
		fail_end(de, -EPROTO);
	return rc;
}

void ivt_daemon_end_want(struct ivt_daemon_end *de, unsigned events)
{
	events &= IVT_EV_RECV | IVT_EV_SEND;
	if (events == de->want)
		return;
	de->want = events;
	if (events && de->ev && !de->failed && !event_pending(de->ev, EV_READ, NULL))
		event_add(de->ev, NULL);
	/* Outside a dispatch, check readiness now; inside, on_event rearms. */
	if (!de->in_dispatch)
		rearm(de);
}

void ivt_daemon_end_close(struct ivt_daemon_end *de)
{
	if (!de)
		return;
	if (de->in_dispatch) {
		de->close_pending = 1;
		de->want = 0;
		return;
	}
	free_end(de);
}

int ivt_daemon_end_stats(struct ivt_daemon_end *de, struct ivt_ep_stats *st)
{
	memset(st, 0, sizeof(*st));
	return de->ops->stats(de->ep, st);
}

const char *ivt_daemon_end_backend(const struct ivt_daemon_end *de) { return de->ops->name; }
