/* SPDX-License-Identifier: MIT */
/*
 * The broker's table, shared by its files (broker.c: one-shot channels,
 * remote and service channels, the registry callbacks; broker_accept.c:
 * listeners that accept many connections; broker_status.c: the text).
 *
 * Every channel has a kind, fixed at birth, and a state:
 *
 *   kind      ends (server / client)           states
 *   ONESHOT   ivt_open(IVT_LISTEN) / one        LISTENING -> CONNECTED -> HALF
 *             connector, ever (then EBUSY)      (vchan: DEFERRED first)
 *   LISTENER  ivt_listen / none: connectors     LISTENING, until it goes
 *             become CONN children
 *   CONN      ivt_accept's end / connector      WAITING -> QUEUED -> CONNECTED -> HALF
 *             (a connector that brings its      RING -> QUEUED -> ...
 *             ring: docs/conn-setup.md)
 *   REMOTE    (bridge.c) / local connector      CONNECTED
 *   SERVICE   (ivtd itself) / local connector   CONNECTED
 *   ADOPTED   ends of a channel a previous ivtd  ATTACHING -> CONNECTED -> HALF
 *             brokered, re-attached by cookie   (broker_attach.c)
 *
 * Only ONESHOT and LISTENER channels own their name, while their server
 * end is there.
 */
#ifndef IVTD_BROKER_INT_H
#define IVTD_BROKER_INT_H

#include <stdint.h>
#include <time.h>

#include "broker.h"
#include "common/plugin_loader.h"

enum chan_kind { CHAN_ONESHOT, CHAN_LISTENER, CHAN_CONN, CHAN_REMOTE, CHAN_SERVICE, CHAN_ADOPTED };

enum chan_state {
	CS_LISTENING, /* ONESHOT, LISTENER: waiting for connectors */
	CS_DEFERRED,  /* ONESHOT over vchan: the listener is answered once its
		       * client's domid is known (libxenvchan grants to one domain) */
	CS_WAITING,   /* CONN: beyond the listener's backlog or max_connections */
	CS_RING,      /* CONN: its connector brings the ring; its SETUP not in yet */
	CS_QUEUED,    /* CONN: offered to the listener (INCOMING), not accepted */
	CS_CONNECTED, /* both ends there */
	CS_HALF,      /* one end went; the other was told and may linger */
	CS_ATTACHING, /* ADOPTED: one end re-attached, the other not yet */
};

/* The listener's setup (shm: memfd + eventfds), held until relayed. */
struct chan_setup {
	uint8_t blob[IVT_OOB_BLOB_MAX];
	size_t blob_len;
	int fds[IVT_OOB_FDS_MAX];
	int nfds;
};

struct channel {
	struct channel *next, *prev; /* every channel still referenced by an end */
	enum chan_kind kind;
	enum chan_state state;
	uint64_t id;
	char name[IVT_NAME_MAX + 1];
	char backend[IVT_BACKEND_NAME_MAX + 1];
	unsigned caps; /* the backend's enum ivt_plugin_caps */
	uint64_t ring_size;
	uint64_t spill_above; /* policy "spill": sent to both ends in OPEN_OK */
	int message;          /* the listener asked for message mode: both ends hear it */
	char xs_path[IVT_XS_PATH_MAX + 1];
	struct ivt_reg_end *server, *client; /* NULL once gone */
	struct ivt_identity server_id, client_id; /* kept for status after they go */
	struct chan_setup *setup;            /* NULL: none yet, or relayed */
	int setup_seen;                      /* one SETUP per server end */
	/* An accepted end ivtd lets go once its SETUP came (OPEN_OK said
	 * DETACHED): detach_server until then, server_detached after; the
	 * backend then tells each end the other's fate (IVT_CAP_PEER_FATE). */
	int detach_server, server_detached;
	/* Re-attach cookie (ATTACH_INFO), once both ends are there and can
	 * re-attach; never shown or logged. */
	uint8_t cookie[IVT_CTRL_COOKIE_LEN];
	int has_cookie;
	time_t since;
	union {
		struct { /* LISTENER */
			uint32_t backlog, max_conns; /* the policy's, at listen time */
			uint32_t per_id; /* backlog places one connector identity may hold */
			uint64_t vtime;  /* the fair-queueing tag of the last promoted */
			uint32_t queued, live;       /* CONN children QUEUED / CONNECTED */
			uint32_t next_ticket;
			int rings; /* takes connector-made rings (IVT_CTRL_OPEN_RINGS) */
			/* direct lines (docs/conn-setup.md): it hinted them and
			 * its rule allows; granted so far (lines_out: since
			 * the last LINES_DROP); what it last reported */
			int lines, lines_out;
			/* it holds max_conns over lines itself and reports
			 * line_held: while at that bound, the connections over
			 * lines it holds open, else 0; as last reported (at
			 * most max_conns: only ever used to refuse more) */
			int line_bound;
			uint32_t line_held;
			uint32_t next_line;
			uint64_t lines_granted, line_accepts, line_refused;
			/* its CONN children not yet accepted (WAITING, RING,
			 * QUEUED), newest first (u.conn.sib): what a connect,
			 * accept or promotion looks through, not every channel
			 * of ivtd nor its accepted connections */
			struct channel *pending;
		} lis;
		struct { /* CONN */
			struct channel *parent; /* its LISTENER; NULL once that went */
			/* in parent's u.lis.pending while not accepted */
			struct channel *sib_next, *sib_prev;
			int in_pending;
			/* in parent's u.lis.live: from its accept (or adoption)
			 * until its accepting end goes or the channel is freed */
			int counted;
			uint32_t ticket;        /* 0 until QUEUED */
			long long deadline;     /* WAITING/QUEUED: ivt_now_ms() bound, -1 none */
			int full_why;           /* WAITING: enum conn_full, what kept it */
			uint64_t tag;           /* WAITING: promoted in tag order (round robin
						 * across identities), then arrival */
			int client_rings;       /* its connector takes IVT_CTRL_OK_RINGS */
			int ring;               /* its connector made the ring (RING state first) */
			int queued;             /* ...and went on once offered (OPEN_QUEUED) */
			int lines;              /* its connector hinted lines, its rule allows */
			int line_given;         /* ...and got one with this connection */
			/* line_seen was asked for this connection; line_first:
			 * its process's first to the listener (no line yet) */
			int line_asked, line_first;
		} conn;
		struct { /* ADOPTED, while ATTACHING */
			struct ivt_identity peer_claim; /* who the first end says its peer is */
		} adopt;
	} u;
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
	struct ivt_broker_remote remote;   /* .open NULL: no bridge */
	struct ivt_broker_service service; /* .open NULL: none */
	int stopping; /* ivtd exits: the ends go because ivtd lets them go */
	/* (connector pid, listener) pairs brokered once without a line;
	 * made at the first line's chance (line_seen.c) */
	struct line_seen *line_seen;
};

/* How an end went, for the log: "closed", "died", or, while ivtd exits,
 * "let go (ivtd stopping)" (its registries drop every end at once). */
const char *broker_gone_word(const struct ivt_broker *b, int graceful);
/* What end is to ch, for the log: "client", "accepted end" (the server
 * end of an ivt_listen listener's connection; the listener itself goes
 * through broker_listener_gone) or "listener" (a one-shot one's). */
const char *broker_end_role(const struct channel *ch, const struct ivt_reg_end *end);

/* broker.c */
/* The policy's answer, with this host's backends filled into q. */
int broker_ask_policy(const struct ivt_broker *b, struct ivt_policy_query *q,
		      struct ivt_policy_decision *d);
struct channel *broker_find_named(struct ivt_broker *b, const char *name);
struct channel *broker_channel_new(struct ivt_broker *b, struct ivt_reg_end *end,
				   enum chan_kind kind, const char *name, const char *backend);
void broker_free_channel(struct ivt_broker *b, struct channel *ch);
/* CONN ch joins its parent's pending list / leaves it (if in it). */
void broker_pending_add(struct channel *ch);
void broker_pending_del(struct channel *ch);
void broker_refuse(struct ivt_broker *b, struct ivt_reg_end *end, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same, logged only at debug level: the caller logs (rate-limited). */
void broker_refuse_quiet(struct ivt_broker *b, struct ivt_reg_end *end, int err,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int broker_decide_or_refuse(struct ivt_broker *b, struct ivt_reg_end *end,
			    struct ivt_policy_query *q, struct ivt_policy_decision *d);
void broker_open_ok(struct ivt_reg_end *end, const struct channel *ch, int is_server,
		    uint32_t peer_domid);
/* The same with more IVT_CTRL_OK_* flags. */
void broker_open_ok_flags(struct ivt_reg_end *end, const struct channel *ch, int is_server,
			  uint32_t peer_domid, uint32_t flags);
/* The other end's identity (and, from other, what its libivt takes:
 * half-close), for registries that pass it on. other may be NULL. */
void broker_peer_info(struct ivt_reg_end *end, const struct ivt_reg_end *other,
		      const struct ivt_identity *who, uint32_t peer_domid);
/* The LISTENER column of status: the identity, "(ivtd)" for channels
 * ivtd serves, "(HOST)" for those bridged to HOST. (broker_status.c) */
struct ivt_identity_text broker_listener_label(const struct channel *ch);
void broker_set_xs_path(struct channel *ch, uint32_t listener_domid);
/* A setup to hold (blob copied, fds taken), or NULL after refusing end
 * (too large, out of memory) and closing the fds. */
struct chan_setup *broker_setup_new(struct ivt_broker *b, struct ivt_reg_end *end,
				    const void *blob, size_t len, int *fds, int nfds);
/* Close and free a held setup (NULL-safe on ch->setup). */
void broker_drop_setup(struct channel *ch);
/* Relay the held setup to the client; dropped once it got there. */
void broker_relay(struct ivt_broker *b, struct channel *ch);
/* A CONNECTED channel's end went: tell the other one, then HALF (or
 * freed when both are gone). */
void broker_end_gone(struct ivt_broker *b, struct channel *ch, struct ivt_reg_end *end,
		     int graceful);

/* broker_attach.c */
/* Both ends of ch are there: hand them its re-attach cookie (ends whose
 * registry cannot re-attach get none). */
void broker_give_cookie(struct channel *ch);
/* The registry callback for ATTACH. */
void broker_attach(void *arg, struct ivt_reg_end *end, const struct ivt_attach_request *req);
/* An ADOPTED channel's end went (any state). */
void broker_adopted_gone(struct ivt_broker *b, struct channel *ch, struct ivt_reg_end *end,
			 int graceful);

/* broker_accept.c */
void broker_accept(struct ivt_broker *b, struct ivt_reg_end *end,
		   const struct ivt_end_request *req);
/* A listener's backlog, max_connections and share per identity, as the
 * policy's decision for it says (defaults where it says 0). */
void broker_listener_limits(struct channel *lis, const struct ivt_policy_decision *d);
/* A connector the policy admitted (d) to listener lis. */
void broker_connect_multi(struct ivt_broker *b, struct channel *lis, struct ivt_reg_end *end,
			  const struct ivt_end_request *req, const struct ivt_policy_decision *d);
/* The listener's end went: queued connectors refused, accepted ones live on. */
void broker_listener_gone(struct ivt_broker *b, struct channel *lis, int graceful);
/* A connector's OPEN said it brings its ring (req->ring): 1 after
 * refusing it with ESTALE ("open the ordinary way") when ch cannot take
 * it (not a listener that takes rings, another grant, no room), else 0. */
int broker_ring_refused(struct ivt_broker *b, struct channel *ch, struct ivt_reg_end *end,
			const struct ivt_end_request *req);
/* A connector-made ring's SETUP (ch in CS_RING): offered, or refused. */
void broker_ring_setup(struct ivt_broker *b, struct channel *ch, struct ivt_reg_end *end,
		       const void *blob, size_t len, int *fds, int nfds);
/* Room may have freed under lis: offer waiting connectors. */
void broker_promote(struct ivt_broker *b, struct channel *lis);
/* A CONN no longer counts against its listener's max_connections. */
void broker_conn_uncount(struct channel *ch);
/* A CONN's end went (any state). */
void broker_conn_gone(struct ivt_broker *b, struct channel *ch, struct ivt_reg_end *end,
		      int graceful);

/* broker_lines.c */
/* ch (CONN of lis, admitted by the policy) is offered (its connector
 * brought its ring) or accepted: give its connector and lis's process a
 * direct line if both take one, it has none from this connection yet,
 * and it is not its process's first connection to lis (line_seen.c).
 * The listener's end goes to `to`: lis's own end (with the offer that
 * follows), or the accepting end (before its OPEN_OK, which it reads at
 * once: lis's fd never wakes for a line alone). */
void broker_line_grant(struct ivt_broker *b, struct channel *lis, struct channel *ch,
		       struct ivt_reg_end *to);
/* The policy changed: every listener drops the lines it holds. */
void broker_lines_revoke(struct ivt_broker *b);
/* The registries' line_stats callback. */
void broker_line_stats(void *arg, struct ivt_reg_end *end, uint64_t accepted, uint64_t refused,
		       uint64_t held);

/* broker_adopt.c: the registries' adopt callback (ends a previous ivtd
 * answered, after a restart). */
void broker_adopt(void *arg, struct ivt_reg_end *end, const struct ivt_end_request *req,
		  const struct ivt_reg_adopted *a);

#endif
