/* SPDX-License-Identifier: MIT */
/*
 * A channel end's control path to ivtd, whichever transport carries it:
 *
 *  - local (ctrl_local.c over ctrl_conn.c): ivtd's AF_UNIX control socket,
 *    for processes on ivtd's host;
 *  - xenstore (xs_conn.c): nodes under the guest's own XenStore subtree
 *    (docs/xenstore.md), for Xen guests, which have no control socket.
 *
 * Both open one end, report the peer's fate (enum ivt_peer_event) and give
 * a file descriptor that becomes readable when there is news, so channel.c
 * and wait.c need not know which one they use.
 */
#ifndef IVT_LIBIVT_CTRL_H
#define IVT_LIBIVT_CTRL_H

#include <unistd.h>

#include "common/ctrl_proto.h"

struct ring_pool;
struct ivt_plugin_ops;
struct ivt_ep;

/* A connector-made ring offered to a listener with its INCOMING
 * (INCOMING_RING): the connector's setup. The fds are the receiver's to
 * close (ivt_ring_offer_close). has: 0 for a plain INCOMING. */
struct ivt_ring_offer {
	int has;
	char identity[IVT_IDENTITY_MAX + 1]; /* the connector's, as the policy saw it */
	uint32_t blob_len;
	uint8_t blob[IVT_OOB_BLOB_MAX];
	int fds[IVT_OOB_FDS_MAX];
	int nfds;
	/* -1, or the accepting end's control connection that came with the
	 * offer (IVT_CTRL_OPEN_CTRL_FD): its OPEN goes there, no dialling */
	int ctrl_fd;
	/* The offer came over a direct line (listener.c): no ticket, no
	 * ivtd; identity is the one ivtd gave with the line. */
	int line;
	/* incoming() returned IVT_INCOMING_LINE: ivtd gave a line (line_fd,
	 * the caller's to close, and what ivtd said of it), or said to drop
	 * every line (lines_drop) */
	int line_fd, line_keep;
	int lines_drop;
	struct ivt_ctrl_line line_info;
	/* An offer over a line: the line's ring pool (ring_pool.h; a
	 * reference the receiver drops, or NULL) and the slot the connector
	 * named (0: not kept). REUSE: reuse_ep, the ring kept under that
	 * slot, renewed (its backend reuse_ops), instead of fds. */
	struct ring_pool *pool;
	uint32_t slot;
	const struct ivt_plugin_ops *reuse_ops;
	struct ivt_ep *reuse_ep;
};

/* incoming(): not a connector but news about direct lines (above). */
#define IVT_INCOMING_LINE 1

/* What open_ring needs of the channel: make the ring and send its setup
 * (through the oob, usable once build is called), say whether the peer
 * attached (1 yes, 0 not yet, negative errno: never; woken: fd polled
 * readable, so consume its wake-ups), and the fd that
 * becomes readable when that may have changed. */
struct ivt_ring_wait {
	void *arg;
	/* NULL: an accepting end, attached already: open_ring sends the
	 * OPEN and returns without waiting, its peer's identity this */
	const char *peer_identity;
	/* An accepting end: -1 (dial ivtd), or the control connection ivtd
	 * sent with the offer; open_ring owns it from the call on. */
	int ctrl_fd;
	/* A connector: its OPEN and SETUP may go as one OPEN_SETUP (the
	 * grant said IVT_CTRL_OK_OPEN_SETUP). */
	int one_msg;
	int (*build)(void *arg);
	int (*attached)(void *arg, int woken); /* woken: fd was readable */
	int (*fd)(void *arg);
};

struct ivt_ctrl_ops {
	const char *name; /* "local", "xenstore": for logs and reasons */
	int accepts_many; /* has listeners that accept many connections (incoming) */
	/* Names tcp.<P>.<addr> are this host's TCP addresses (common/tcp_map.h):
	 * the local socket. XenStore scopes tcp.<P> by domain instead. */
	int tcp_names;
	/* Open one end and wait up to timeout_ms (-1: forever) for ivtd's
	 * answer. May be called again after a failure (a connector retrying
	 * while nobody listens). On failure the reason is recorded (errors.h)
	 * and the result is a negative errno: ivtd's refusal (-EACCES,
	 * -ENOENT, ...), -ECONNREFUSED, -ETIMEDOUT, -EPROTO. */
	int (*open)(void *impl, const struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok,
		    int timeout_ms);
	/* Optional (NULL: use open). open, calling early(arg) once the OPEN
	 * is on its way and before waiting for the answer. */
	int (*open_early)(void *impl, const struct ivt_ctrl_open *req,
			  struct ivt_ctrl_open_ok *ok, int timeout_ms, void (*early)(void *arg),
			  void *arg);
	/* Take in ivtd's news without waiting. 1 if the control path went
	 * away during this call (stop polling its fd), else 0. */
	int (*drain)(void *impl);
	/* 0 or the last enum ivt_peer_event (DIED is never softened). */
	int (*peer_event)(void *impl);
	/* The control path is gone: its fd must not be polled any more. */
	int (*gone)(void *impl);
	/* Readable when drain has something to do; -1 before open. */
	int (*fd)(void *impl);
	/* The plugins' setup channel (struct ivt_oob); valid after open. */
	const struct ivt_oob *(*oob)(void *impl);
	/* The other end's identity as ivtd's policy saw it ("uid:1000",
	 * "dom:5"); "" while unknown. Stable once set. */
	const char *(*peer_identity)(void *impl);
	/* Optional (NULL: none). What the other end's libivt takes
	 * (IVT_CTRL_PEER_*, granted by ivtd when both ends announced it);
	 * 0 while unknown. May wait for ivtd's word as peer_identity. */
	uint32_t (*peer_flags)(void *impl);
	/* A listener (OPEN with IVT_CTRL_OPEN_MULTI): wait up to timeout_ms
	 * (0: not at all) for ivtd's next waiting connector. 0 with *ticket
	 * set, -EAGAIN none yet, -ENOTSUP (transport has no such listeners),
	 * else a negative errno with the reason recorded (ivtd gone: -ECONNRESET).
	 * IVT_INCOMING_LINE: news about direct lines in *offer instead. */
	int (*incoming)(void *impl, uint32_t *ticket, struct ivt_ring_offer *offer,
			int timeout_ms);
	/* Optional (NULL: connectors never bring rings over this transport).
	 * A connector's OPEN with IVT_CTRL_OPEN_RING: sends the OPEN, calls
	 * w->build (the SETUP follows the OPEN), then waits up to timeout_ms
	 * until the ring says the accepting end attached (0: *ok not filled,
	 * ivtd's answer is read later) or ivtd answered (1: *ok filled), or
	 * fails like open (-ESTALE: ivtd says open the ordinary way).
	 * w->build NULL: an accepting end, OPEN sent and 0 at once. */
	int (*open_ring)(void *impl, const struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok,
			 int timeout_ms, const struct ivt_ring_wait *w);
	/* Optional (NULL: never). The control path is gone: try once,
	 * without blocking, to re-attach to a restarted ivtd. 1: fd is live
	 * again, 0: not yet (*next_ms: try again then), -1: never. */
	int (*reattach)(void *impl, int *next_ms);
	/* Optional (NULL: the transport cannot carry it). Before open: the
	 * TCP address of the end: the one a connector dialled
	 * (ivt_open_opts.peer_addr), or the one a listener is bound to
	 * (bind_addr). 0 or -EINVAL (not an address). */
	int (*tcp_addr)(void *impl, const char *addr);
	/* Optional (NULL: never). An accepting end: the direct line ivtd
	 * sent with its answer, for its listener (docs/conn-setup.md): the
	 * fd with *info and *keep (the copy of the connector's end; both the
	 * caller's), or -1. */
	int (*take_line)(void *impl, struct ivt_ctrl_line *info, int *keep);
	/* End this end (graceful: tell ivtd) and free impl. */
	void (*close)(void *impl, int graceful);
	/* Optional (NULL: never). The channel closes gracefully: take its
	 * backend endpoint to keep for a later connection (ring_pool.h)
	 * instead of the channel closing it: 1 taken (kept or closed here),
	 * 0 not. */
	int (*keep_ep)(void *impl, const struct ivt_plugin_ops *ops, struct ivt_ep *ep);
};

struct ivt_ctrl {
	const struct ivt_ctrl_ops *ops; /* NULL until a transport is chosen */
	void *impl;
};

/* Choose the transport for an ivt_open() (socket_opt: opts->socket_path):
 *   socket_opt or $IVT_SOCKET set          -> local, that socket
 *   $IVT_REGISTRY=xenstore | local         -> that one
 *   IVT_DEFAULT_SOCKET absent and XenStore
 *   reachable with our own domid readable  -> xenstore (we are a Xen guest)
 *   otherwise                              -> local, IVT_DEFAULT_SOCKET
 * 0 or a negative errno with the reason recorded. */
int ivt_ctrl_select(struct ivt_ctrl *c, const char *socket_opt);
/* The same choice, but only XenStore will do: where it would pick the
 * local socket, -EHOSTUNREACH (reason recorded) without connecting. */
int ivt_ctrl_select_guest(struct ivt_ctrl *c, const char *socket_opt);

/* Constructors (ctrl_local.c, xs_conn.c): 0 or negative errno + reason. */
int ivt_ctrl_local_new(struct ivt_ctrl *c, const char *socket_path);
/* An end without ivtd (ctrl_line.c): a connection made over a direct
 * line. Its peer's identity is the one ivtd gave with the line; the
 * backend tells each end the other's fate (IVT_CAP_PEER_FATE). */
int ivt_ctrl_line_new(struct ivt_ctrl *c, const char *peer_identity, struct ring_pool *pool,
		      uint32_t slot);
int ivt_ctrl_xs_new(struct ivt_ctrl *c);

/* A line offer's pool reference and kept ring, if still held: the slot
 * is released (ring_pool.c). */
void ring_pool_offer_drop(struct ivt_ring_offer *o);

static inline void ivt_ring_offer_close(struct ivt_ring_offer *o)
{
	if (o->line)
		ring_pool_offer_drop(o);
	for (int i = 0; i < o->nfds; i++)
		if (o->fds[i] >= 0)
			close(o->fds[i]);
	if (o->ctrl_fd >= 0)
		close(o->ctrl_fd);
	o->ctrl_fd = -1;
	o->nfds = 0;
	o->has = 0;
}

/* Close and forget (NULL-safe: nothing chosen yet). */
void ivt_ctrl_close(struct ivt_ctrl *c, int graceful);

static inline int ivt_ctrl_peer_event(struct ivt_ctrl *c)
{
	return c->ops ? c->ops->peer_event(c->impl) : 0;
}

#endif
