/* SPDX-License-Identifier: MIT */
/*
 * One XenStore connection and one watch per process, shared by all of its
 * channel ends over XenStore (xs_conn.c).
 *
 * xenstored counts watches per domain (128 by default) and a guest's
 * processes all share its one connection, so a watch per end (or two: its
 * response and its event) caps a guest at a few dozen ends, pending or
 * open. The hub watches /local/domain/<self>/data/ivt once and hands each
 * firing to the ends whose node it is about.
 *
 * Each end (struct xs_hub_sub) has an eventfd the hub writes when there is
 * news for it, and an epoll fd holding that eventfd and the hub's watch
 * fd: the end's fd. Whoever wakes on it calls xs_hub_take, which pumps the
 * hub's queue (for every end) and returns this end's news. Thread-safe.
 */
#ifndef IVT_LIBIVT_XS_HUB_H
#define IVT_LIBIVT_XS_HUB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/xs_request.h"

struct xs_handle;
struct xs_hub;

/* What changed below an end's node (bits). */
enum {
	XS_HUB_RESPONSE = 1, /* <node>/response */
	XS_HUB_EVENT = 2,    /* <node>/event */
	XS_HUB_INCOMING = 4, /* <node>/in, <node>/in/<ticket> (listeners) */
	XS_HUB_ALL = 7,      /* the node or an ancestor: anything may have */
};

struct xs_hub_sub {
	struct xs_hub_sub *next;
	char node[IVT_XS_WATCH_PATH_MAX]; /* /local/domain/<self>/data/ivt/<name>[/<slot>] */
	size_t node_len;
	int efd;  /* readable while news is not taken */
	int epfd; /* efd + the hub's watch fd: the end's fd */
	atomic_uint fired;
};

/* The process's hub (created on first use: xs_open, our domid, the
 * watch). 0, or -ECONNREFUSED / -ENOMEM with the reason recorded. */
int xs_hub_get(struct xs_hub **out);
/* Drop one reference; the last closes the connection. */
void xs_hub_put(struct xs_hub *h);

struct xs_handle *xs_hub_handle(struct xs_hub *h);
uint32_t xs_hub_domid(const struct xs_hub *h);

/* Start dispatching firings below node to s. 0 or a negative errno. */
int xs_hub_sub_add(struct xs_hub *h, struct xs_hub_sub *s, const char *node);
void xs_hub_sub_del(struct xs_hub *h, struct xs_hub_sub *s);

/* Pump the hub's queued firings, then take (and clear) s's news bits. */
unsigned xs_hub_take(struct xs_hub *h, struct xs_hub_sub *s);
/* Make s's fd readable again (a listener with more tickets to take). */
void xs_hub_poke(struct xs_hub_sub *s);

#endif
