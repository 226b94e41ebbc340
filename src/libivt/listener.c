/* SPDX-License-Identifier: MIT */
/*
 * Listeners that accept many connections (ivt_listen, ivt_accept).
 *
 * The listener is one control connection to ivtd opened with
 * IVT_CTRL_OPEN_MULTI; ivtd sends it an INCOMING (a ticket) per admitted
 * connector, so its fd is readable exactly while a ticket is unread: the
 * socket's own queue is the accept queue. ivt_accept takes a ticket and
 * opens the server end of that one connection over a control connection
 * of its own (channel.c), which is why accepted channels outlive the
 * listener and have their own ring, backend and stats.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "errors.h"

struct ivt_listener {
	char name[IVT_NAME_MAX + 1];
	struct ivt_open_opts opts; /* for every accepted end; socket_path is ours */
	char *socket_path;
	struct ivt_ctrl ctrl;
	struct ivt_ctrl_open_ok ok; /* ivtd's grant: backend and ring of every connection */
	atomic_int nonblock;
};

static void listener_free(struct ivt_listener *l)
{
	ivt_ctrl_close(&l->ctrl, 1);
	free(l->socket_path);
	free(l);
}

IVT_EXPORT int ivt_listen(const char *name, const struct ivt_open_opts *opts, ivt_listener **out)
{
	ivt_reason_clear();
	if (!out)
		return -EINVAL;
	*out = NULL;
	struct ivt_open_opts o;
	int rc = chan_read_opts(opts, IVT_LISTEN, &o);
	if (rc < 0)
		return rc;
	if (o.flags & ~(unsigned)(IVT_NONBLOCK | IVT_MESSAGE)) {
		ivt_reason_set(-EINVAL, "ivt_listen takes only IVT_NONBLOCK and IVT_MESSAGE in opts->flags");
		return -EINVAL;
	}
	struct ivt_ctrl_open req;
	if ((rc = chan_make_request(name, &o, IVT_LISTEN | IVT_CTRL_OPEN_MULTI |
						     (o.flags & IVT_MESSAGE), &req)) < 0)
		return rc;
	struct ivt_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	snprintf(l->name, sizeof(l->name), "%s", name);
	atomic_store(&l->nonblock, !!(o.flags & IVT_NONBLOCK));
	if (o.socket_path && !(l->socket_path = strdup(o.socket_path))) {
		free(l);
		return -ENOMEM;
	}
	l->opts = o;
	l->opts.socket_path = l->socket_path;
	l->opts.backend = NULL; /* the listener's grant decides for its connections */
	if ((rc = ivt_ctrl_select(&l->ctrl, l->socket_path)) < 0) {
		listener_free(l);
		return rc;
	}
	if (!l->ctrl.ops->accepts_many) {
		ivt_reason_set(-ENOTSUP, "ivt_listen is not available over %s yet; use "
					 "ivt_open(IVT_LISTEN)", l->ctrl.ops->name);
		listener_free(l);
		return -ENOTSUP;
	}
	/* ivtd answers a listener at once: timeout_ms bounds only that */
	rc = l->ctrl.ops->open(l->ctrl.impl, &req, &l->ok, o.timeout_ms > 0 ? o.timeout_ms : 10000);
	if (rc < 0) {
		listener_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

IVT_EXPORT int ivt_accept(ivt_listener *l, ivt_channel **out)
{
	ivt_reason_clear();
	if (!l || !out)
		return -EINVAL;
	*out = NULL;
	for (;;) {
		uint32_t ticket;
		int rc = l->ctrl.ops->incoming(l->ctrl.impl, &ticket,
					       atomic_load(&l->nonblock) ? 0 : -1);
		if (rc < 0) {
			if (rc == -EAGAIN)
				ivt_reason_set(rc, "no connector waiting on '%s'", l->name);
			return rc;
		}
		rc = chan_open_accepted(l->name, &l->opts, &l->ok, ticket, out);
		if (rc != -ECONNABORTED)
			return rc;
		/* that connector gave up while queued: the next one */
	}
}

IVT_EXPORT int ivt_listener_fd(ivt_listener *l)
{
	return l ? l->ctrl.ops->fd(l->ctrl.impl) : -EINVAL;
}

IVT_EXPORT int ivt_listener_set_nonblock(ivt_listener *l, int nonblock)
{
	if (!l)
		return -EINVAL;
	atomic_store(&l->nonblock, !!nonblock);
	return 0;
}

IVT_EXPORT int ivt_listener_close(ivt_listener *l)
{
	if (!l)
		return -EINVAL;
	listener_free(l);
	return 0;
}
