/* SPDX-License-Identifier: MIT */
/*
 * A registry is where channel ends come from and where ivtd answers them.
 *
 *  - registry_local.c: the control socket (AF_UNIX SOCK_SEQPACKET, see
 *    src/common/ctrl_proto.h) for processes on this host; the embedded
 *    default when no XenStore is reachable.
 *  - registry_xs.c: XenStore via libxenstore. A guest advertises a channel
 *    end under its own subtree, /local/domain/<domid>/data/ivt/<name>/, and
 *    ivtd answers in the same node; @releaseDomain tears down a dead
 *    domain's ends.
 *
 * The broker (broker.c) sees only this interface: it gets requests,
 * setup blobs and departures through struct ivt_broker_cb, and answers
 * through the ops of the registry the end came from. Everything a registry
 * hands to the broker has been validated (names, sizes, numbers) but is
 * still the guest's word: policy is the broker's job.
 */
#ifndef IVTD_REGISTRY_H
#define IVTD_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctrl_proto.h"
#include "common/identity.h"

struct event_base;
struct ivt_registry;

/* One channel end as a registry knows it: a control connection, or a
 * (domid, name) node in XenStore. Owned by the registry; valid until the
 * broker's gone() callback for it returns. */
struct ivt_reg_end {
	struct ivt_registry *reg;
	uint32_t domid;     /* Xen domain id; 0 for local processes */
	uint32_t uid;       /* local processes: SO_PEERCRED uid; guests: 0 */
	int32_t pid;        /* local processes: SO_PEERCRED pid; guests: -1 */
	struct ivt_identity who; /* for policy and logs: dom:3, uid:1000 */
	void *broker_data;  /* the broker's per-end state */
	/* The broker's last answer left this end without a channel (a
	 * refusal, or a queued connector's grant alone): a SETUP already on
	 * its way (a connector-made ring sends OPEN and SETUP together) is
	 * dropped without a second refusal. */
	int refused;
	/* Its libivt takes half-close (OPEN hint IVT_CTRL_OPEN_HALFCLOSE):
	 * the other end may be told it may send FIN (peer_info flags). */
	int halfclose;
	/* Its OPEN repeats one nobody listened for (IVT_CTRL_OPEN_RETRY):
	 * the status counts it as a retry, not a request and a refusal. */
	int retry;
};

/* A request to open one end of a channel. */
struct ivt_end_request {
	char name[IVT_NAME_MAX + 1];
	char backend[IVT_BACKEND_NAME_MAX + 1]; /* "" or "auto" = let policy pick */
	int listen;                             /* 1 = server end */
	int multi;       /* listen: accepts many connections (ivt_listen) */
	uint32_t ticket; /* listen: nonzero = accept that connection of listener `name` */
	/* connect: ms to wait for a listener's backlog (IVT_CTRL_WAIT_FOREVER);
	 * 0 = refuse at once when it is full, else queue up to 10 s */
	uint32_t wait_ms;
	uint64_t ring_size;                     /* 0 = policy default */
	int message;                            /* listener: IVT_MESSAGE (message mode) */
	/* IVT_CTRL_OPEN_RINGS: a multi listener takes incoming_ring offers; a
	 * connector takes IVT_CTRL_OK_RINGS. Only registries with incoming_ring
	 * set it. */
	int rings;
	/* connect: brings its own ring, its setup right behind the request
	 * (IVT_CTRL_OPEN_RING); backend, ring_size and message are the
	 * listener's grant as it was told. */
	int ring;
	/* connect (IVT_CTRL_OPEN_QUEUED, with rings): goes on once queued
	 * (docs/conn-setup.md); only registries with `queued` set it. */
	int queued;
	/* IVT_CTRL_OPEN_LINES: a multi listener or a connector that takes
	 * direct lines (docs/conn-setup.md); only registries with `line` set it. */
	int lines;
	/* IVT_CTRL_OPEN_LINE_BOUND (with lines, a multi listener): it holds
	 * max_connections itself while it has lines and reports its count. */
	int line_bound;
	/* IVT_CTRL_OPEN_OK_BOUND (a multi listener): its OPEN_OK says its
	 * max_connections (IVT_CTRL_OK_MAX_CONNS). */
	int ok_bound;
};

/* An end a previous ivtd had answered (XenStore keeps ends across an
 * ivtd restart): what it was granted, and how its other end fares. */
struct ivt_reg_adopted {
	uint64_t chan_id; /* the previous ivtd's id, shared by both ends */
	uint32_t peer_domid;
	uint64_t ring_size;
	char backend[IVT_BACKEND_NAME_MAX + 1];
	char xs_path[IVT_XS_PATH_MAX + 1];
	/* 0: its other end is adopted too; else that end is gone while ivtd
	 * was away and this one must hear IVT_PEER_CLOSED or IVT_PEER_DIED */
	int alone;
	int told;             /* the last enum ivt_peer_event it was told, 0 none */
	uint32_t next_ticket; /* multi listeners: above every ticket still in sight */
};

/* An end of a channel that a previous ivtd brokered asks to be adopted
 * (ATTACH, after a restart). Validated for form; the rest is its word,
 * except the identity, which the registry took from the connection. */
struct ivt_attach_request {
	uint8_t cookie[IVT_CTRL_COOKIE_LEN];
	char name[IVT_NAME_MAX + 1];
	char backend[IVT_BACKEND_NAME_MAX + 1];
	struct ivt_identity peer; /* who it says its peer is (NONE: unparsable) */
	uint64_t ring_size;
	int is_server;
	int message;
};

/* What a registry reports to the broker. */
struct ivt_broker_cb {
	void *arg;
	void (*request)(void *arg, struct ivt_reg_end *end, const struct ivt_end_request *req);
	/* A server end published its setup (shm: memfd + a wake-up socket). fds are
	 * handed over: the broker owns them from here. */
	void (*setup)(void *arg, struct ivt_reg_end *end, const void *blob, size_t len, int *fds,
		      int nfds);
	/* The end went away: graceful (CLOSE, node removed) or not (socket
	 * dropped, domain died). The registry frees `end` after this returns. */
	void (*gone)(void *arg, struct ivt_reg_end *end, int graceful);
	/* Optional: an end a previous ivtd answered; take it over as it was,
	 * answer nothing (a registry calls it at start, servers first: multi
	 * listeners, then the other server ends, then clients). */
	void (*adopt)(void *arg, struct ivt_reg_end *end, const struct ivt_end_request *req,
		      const struct ivt_reg_adopted *a);
	/* Optional for registries (NULL in older brokers' tables): an end
	 * re-attaches (struct ivt_attach_request). The broker answers with
	 * ops->attach_ok or reply_error. */
	void (*attach)(void *arg, struct ivt_reg_end *end, const struct ivt_attach_request *req);
	/* Optional: a listener that holds lines reports, lazily, how many
	 * connections it accepted over them (and dropped offers), and how
	 * many of those it holds open (0 from an older listener). Its word. */
	void (*line_stats)(void *arg, struct ivt_reg_end *end, uint64_t accepted, uint64_t refused,
			   uint64_t held);
	/* Optional: does a listener own `name` now? (A registry picking the
	 * TCP listener for a dialled address: common/tcp_map.h.) */
	int (*listening)(void *arg, const char *name);
};

struct ivt_registry_ops {
	const char *name; /* "local", "xenstore" */
	int (*reply_ok)(struct ivt_reg_end *end, const struct ivt_ctrl_open_ok *ok);
	int (*reply_error)(struct ivt_reg_end *end, int err, const char *msg);
	/* Hand a server's setup to a client end. -ENOTSUP where the backend
	 * needs none (vchan over XenStore publishes its own grants). */
	int (*relay_setup)(struct ivt_reg_end *end, const void *blob, size_t len, const int *fds,
			   int nfds);
	int (*notify_peer)(struct ivt_reg_end *end, int event /* enum ivt_peer_event */,
			   uint32_t peer_domid);
	/* Optional (NULL: the registry has no listeners that accept many
	 * connections). Tell a MULTI listener end a connector waits. */
	int (*incoming)(struct ivt_reg_end *listener, uint32_t ticket,
			const struct ivt_identity *who, uint32_t peer_domid);
	/* Optional (NULL: connectors of this registry's listeners never
	 * bring rings). incoming, with the connector's setup, whose fds are
	 * duplicated: the caller still owns them. */
	int (*incoming_ring)(struct ivt_reg_end *listener, uint32_t ticket,
			     const struct ivt_identity *who, uint32_t peer_domid, const void *blob,
			     size_t len, const int *fds, int nfds);
	/* Optional (with incoming_ring): tell a connector whose request had
	 * `queued` that its ring was offered; it goes on from there. */
	int (*queued)(struct ivt_reg_end *connector);
	/* Optional: the offer of ticket to listener ends (accepted, or the
	 * connector gave up or went away before that). */
	void (*withdrawn)(struct ivt_reg_end *listener, uint32_t ticket);
	/* Optional: tell end who the other end is (before reply_ok or
	 * notify_peer CONNECTED) and what it takes (flags: IVT_CTRL_PEER_*,
	 * granted only where both ends announced them). Ends that cannot
	 * take it are skipped. */
	int (*peer_info)(struct ivt_reg_end *end, const struct ivt_identity *who,
			 uint32_t peer_domid, uint32_t flags);
	/* Optional: give end its channel's re-attach cookie (before reply_ok
	 * or notify_peer CONNECTED). Ends that cannot re-attach are skipped;
	 * registries that cannot carry ATTACH leave it NULL. */
	int (*attach_info)(struct ivt_reg_end *end, const uint8_t cookie[IVT_CTRL_COOKIE_LEN]);
	/* Answer an ATTACH (set exactly where attach_info is). */
	int (*attach_ok)(struct ivt_reg_end *end, uint64_t chan_id, int paired);
	/* Optional (NULL: never). Would the registry rather not keep end's
	 * connection (short of descriptors), and can its client do without
	 * (it takes IVT_CTRL_OK_DETACHED)? 1 yes, 0 no. */
	int (*wants_release)(struct ivt_reg_end *end);
	/* Set where wants_release is. Let go of end: the registry closes its
	 * connection and never reports it gone; end is invalid after this. */
	void (*release)(struct ivt_reg_end *end);
	/* Optional (NULL: no direct lines). Make a line between a listener's
	 * process (`listener`: its own end or an accepting end of it) and a
	 * connector (both ends of this registry, both hinted lines): one end
	 * to each with its view (identity: the other end's), ivtd keeps
	 * neither. 0 or a negative errno. */
	int (*line)(struct ivt_reg_end *listener, struct ivt_reg_end *connector,
		    const struct ivt_ctrl_line *lis_view, const struct ivt_ctrl_line *conn_view);
	/* Set where line is: tell listener to drop every line it holds. */
	int (*lines_drop)(struct ivt_reg_end *listener);
	void (*destroy)(struct ivt_registry *reg);
};

struct ivt_registry {
	const struct ivt_registry_ops *ops;
	struct ivt_broker_cb cb;
};

/* registry_local.c: listen on socket_path (mode 0666 dir-checked; the
 * policy decides who may do what). */
struct ivt_registry *ivt_registry_local_new(struct event_base *base, const char *socket_path,
					    const struct ivt_broker_cb *cb, char *why,
					    size_t why_len);

/* registry_xs.c: NULL with a reason if XenStore cannot be reached. */
struct ivt_registry *ivt_registry_xs_new(struct event_base *base, const struct ivt_broker_cb *cb,
					 char *why, size_t why_len);

#endif /* IVTD_REGISTRY_H */
