/* SPDX-License-Identifier: MIT */
/*
 * Wire format of ivtd's local control socket (AF_UNIX, SOCK_SEQPACKET).
 *
 * One datagram = one message: a fixed header followed by exactly hdr.len
 * payload bytes whose layout depends on hdr.type. File descriptors ride
 * along as SCM_RIGHTS on SETUP messages only. Every field is little-endian
 * host order (both ends are on one host). A receiver rejects a message
 * whose datagram size != sizeof(hdr) + hdr.len, whose len does not match
 * its type's payload size, or whose strings are not NUL-terminated inside
 * their field: see ctrl_msg.c, the only place that parses these.
 *
 * Session (client = libivt, daemon = ivtd):
 *   client -> OPEN                      daemon checks policy, picks backend
 *   daemon -> OPEN_OK | ERROR
 *   server end:  client -> SETUP (blob + fds)   daemon keeps it for the peer
 *   client end:  daemon -> SETUP (relayed)
 *   daemon -> PEER (CONNECTED) to the server end when a client attached
 *   daemon -> PEER (CLOSED | DIED) when the other end closed its socket
 *             (DIED: without sending CLOSE first, e.g. it crashed)
 *   client -> CLOSE                     graceful end
 * A control connection carries exactly one channel end; closing the
 * socket ends that end.
 *
 * Listeners that accept many connections (ivt_listen; additions to
 * version 1 that an older peer never sees, since only a client that sets
 * the new OPEN flags gets the new messages):
 *   listener:  client -> OPEN (LISTEN | MULTI)   daemon -> OPEN_OK
 *              daemon -> INCOMING (ticket, connector's identity), one per
 *              connector the policy admitted, up to the backlog
 *   accepting: client -> OPEN (LISTEN | ACCEPT, arg = ticket) on a new
 *              control connection: from here on it is the server end of
 *              that one connection, as above (SETUP, PEER, CLOSE); it may
 *              send its SETUP right behind the OPEN, before the answer
 *              (ivtd reads them in order; behind a refused OPEN it is
 *              refused too)
 *              (OPEN_OK may say DETACHED: ivtd, short of descriptors,
 *              hangs up on that end once its SETUP arrived)
 *   connector: client -> OPEN, daemon -> OPEN_OK only once accepted (or
 *              ERROR: refused, timed out, listener closed)
 *   PEER_INFO  (daemon -> an end whose OPEN had IVT_CTRL_OPEN_INFO): the
 *              other end's identity, sent before OPEN_OK or PEER CONNECTED.
 *
 * Connector-made rings (docs/conn-setup.md; only between a listener and
 * connectors whose OPEN had the hint IVT_CTRL_OPEN_RINGS):
 *   a connector's OPEN_OK may say IVT_CTRL_OK_RINGS: later connectors to
 *   this listener may build the ring themselves. Such a connector sends
 *   OPEN with IVT_CTRL_OPEN_RING (backend, ring_size and IVT_MESSAGE = the
 *   grant it was told) and its SETUP right behind it. ivtd checks the
 *   policy, then the grant (refused with ESTALE: "open the ordinary way",
 *   also when the backlog has no room at once), and offers the connector
 *   with INCOMING_RING: the INCOMING and the connector's SETUP, fds
 *   included, which ivtd keeps no copy of. The accepting end attaches to
 *   the ring (checked like any peer-written setup), then opens ACCEPT as
 *   above without a SETUP of its own (on the control connection that came
 *   with the offer, if the listener asked for one: IVT_CTRL_OPEN_CTRL_FD). The connector counts as accepted
 *   once the ring says its peer attached; ivtd's OPEN_OK (with PEER_INFO
 *   and ATTACH_INFO) may come later and is read then. Refusals before
 *   that (listener closed, timed out) come as ERROR, as before.
 *   A connector whose OPEN also had the hint IVT_CTRL_OPEN_QUEUED hears
 *   PEER_INFO and QUEUED (no payload) when its ring is offered, and goes
 *   on from there (TCP's connect: queued, not yet accepted); it stays
 *   queued until accepted or the listener goes (ERROR). Without a grant
 *   it opens the ordinary way with the hint and is answered OPEN_OK
 *   with IVT_CTRL_OK_RINGS | IVT_CTRL_OK_GRANT (nothing queued).
 *   A grant that also says IVT_CTRL_OK_OPEN_SETUP (only to a connector
 *   whose OPEN had the hint IVT_CTRL_OPEN_ONE_MSG) lets the connector send
 *   the OPEN and the SETUP as one datagram, OPEN_SETUP.
 *
 * Versions: hdr.version stays 1; features come as OPEN flags. A daemon
 * refuses flags it does not know with ERROR EINVAL "invalid OPEN flags"
 * (and, from today, known_flags = what it knows); libivt then drops the
 * optional ones (IVT_CTRL_OPEN_OPTIONAL, newest first) and opens again,
 * or fails with -EOPNOTSUPP naming a required one (libivt/ctrl_compat.c).
 * Bits in IVT_CTRL_OPEN_HINTS are ignored when unknown.
 *
 * Re-attaching after an ivtd restart (additions; only a client whose OPEN
 * had IVT_CTRL_OPEN_ATTACH ever hears ATTACH_INFO):
 *   ATTACH_INFO (daemon -> each end of a connected local channel, before
 *              OPEN_OK or PEER CONNECTED): the channel's random cookie.
 *   ATTACH     (client -> a new ivtd, as the first message of a new
 *              control connection, once the old one dropped): "I am the
 *              server/client end of the channel with this cookie; my peer
 *              is <identity>". The daemon answers ATTACH_OK (held as a
 *              live end from then on: CLOSE, PEER and ERROR as after
 *              OPEN) or ERROR (not adopted; the data path goes on). It
 *              pairs the two ends by cookie, and only when each one's
 *              SO_PEERCRED identity is the one the other names.
 */
#ifndef IVT_CTRL_PROTO_H
#define IVT_CTRL_PROTO_H

#include <stdint.h>

#include "ivt/ivt.h"
#include "ivt/plugin.h"

#define IVT_CTRL_MAGIC 0x31545649u /* "IVT1" little-endian */
#define IVT_CTRL_VERSION 1
#define IVT_BACKEND_NAME_MAX 15
#define IVT_XS_PATH_MAX 127
#define IVT_ERRMSG_MAX 239

enum ivt_ctrl_type {
	IVT_CTRL_OPEN = 1,
	IVT_CTRL_OPEN_OK = 2,
	IVT_CTRL_ERROR = 3,
	IVT_CTRL_SETUP = 4,
	IVT_CTRL_PEER = 5,
	IVT_CTRL_CLOSE = 6,
	IVT_CTRL_STATUS = 7,    /* client asks for the daemon's status text */
	IVT_CTRL_STATUS_OK = 8, /* reply: NUL-terminated text, <= IVT_CTRL_STATUS_MAX */
	IVT_CTRL_INCOMING = 9,  /* daemon -> MULTI listener: a connector waits (ivt_ctrl_incoming) */
	IVT_CTRL_PEER_INFO = 10, /* daemon -> end: the other end's identity (ivt_ctrl_peer_info) */
	IVT_CTRL_ATTACH_INFO = 11, /* daemon -> end: the channel's cookie (ivt_ctrl_attach_info) */
	IVT_CTRL_ATTACH = 12,    /* client -> restarted daemon: adopt my end (ivt_ctrl_attach) */
	IVT_CTRL_ATTACH_OK = 13, /* daemon -> client: adopted (ivt_ctrl_attach_ok) */
	IVT_CTRL_INCOMING_RING = 14, /* daemon -> listener: a connector with its ring (+ fds) */
	IVT_CTRL_QUEUED = 15,        /* daemon -> IVT_CTRL_OPEN_QUEUED ring connector: offered */
	/* client -> daemon: a ring connector's OPEN and SETUP (+ fds) in one
	 * datagram (ivt_ctrl_open_setup), read as the two; only after an
	 * OPEN_OK with IVT_CTRL_OK_OPEN_SETUP */
	IVT_CTRL_OPEN_SETUP = 16,
	/* daemon -> listener and daemon -> connector (one fd: an end of a
	 * SEQPACKET socket pair): a direct line (ivt_ctrl_line) */
	IVT_CTRL_LINE = 17,
	/* daemon -> listener: drop every line (policy reloaded); no payload */
	IVT_CTRL_LINES_DROP = 18,
	/* listener -> daemon: connections accepted over lines so far
	 * (ivt_ctrl_line_stats), sent lazily, only to an ivtd that granted one */
	IVT_CTRL_LINE_STATS = 19,
	/* On a line only, never to ivtd (docs/conn-setup.md, ring reuse); no
	 * payload, the slot (1..IVT_LINE_SLOTS) in hdr.seq. connector ->
	 * listener: a new connection on the ring it kept under that slot (no
	 * fds). listener -> connector: the listener holds nothing busy under
	 * that slot any more (its end closed, the connector's too). A SETUP
	 * on a line names its slot the same way (0: not kept). */
	IVT_CTRL_LINE_REUSE = 20,
	IVT_CTRL_LINE_RELEASED = 21,
	IVT_CTRL_TYPE_MAX
};

struct ivt_ctrl_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type; /* enum ivt_ctrl_type */
	uint32_t len;  /* payload bytes after the header */
	uint32_t seq;  /* echoed in replies */
};

/* ivt_ctrl_open.flags beyond IVT_LISTEN */
enum ivt_ctrl_open_flags {
	IVT_CTRL_OPEN_MULTI = 1u << 8,  /* with IVT_LISTEN: a listener (ivt_listen) */
	IVT_CTRL_OPEN_ACCEPT = 1u << 9, /* with IVT_LISTEN: accept connection `arg` */
	IVT_CTRL_OPEN_INFO = 1u << 10,  /* this client understands PEER_INFO */
	IVT_CTRL_OPEN_ATTACH = 1u << 11, /* ... and ATTACH_INFO: it re-attaches after a restart */
	IVT_CTRL_OPEN_DETACH = 1u << 12, /* ... and IVT_CTRL_OK_DETACHED (accepting ends) */
	IVT_CTRL_OPEN_RING = 1u << 13,   /* connector: my ring (SETUP) follows this OPEN */
	/* Connector: name is tcp.<P>.<addr>, the TCP address it dialled
	 * (common/tcp_map.h); ivtd opens the listener TCP would pick. */
	IVT_CTRL_OPEN_TCP_DIAL = 1u << 14,
	/* Hint: a MULTI listener takes INCOMING_RING; a connector takes
	 * IVT_CTRL_OK_RINGS. */
	IVT_CTRL_OPEN_RINGS = 1u << 16,
	/* Hint (timeout 0, with IVT_CTRL_OPEN_RINGS): a connector that goes
	 * on once queued at a listener, as TCP's connect does. Its ring
	 * OPEN is answered QUEUED when offered (and waits in the queue
	 * without limit); its ordinary OPEN to a listener that takes rings
	 * and has room is answered with the grant alone (IVT_CTRL_OK_GRANT). */
	IVT_CTRL_OPEN_QUEUED = 1u << 17,
	/* Hint: this client's libivt takes half-close (a FIN frame on the
	 * pipe, docs/framing.md): ivtd tells the other end so in its
	 * PEER_INFO (IVT_CTRL_PEER_HALFCLOSE), and tells this end whether the
	 * other one does. */
	IVT_CTRL_OPEN_HALFCLOSE = 1u << 18,
	/* Hint (a MULTI listener with IVT_CTRL_OPEN_RINGS): each
	 * INCOMING_RING brings, after the setup's fds, one more: the
	 * accepting end's control connection, which ivtd already serves as
	 * a connection of the listener's identity. The accepting end sends
	 * its OPEN (LISTEN | ACCEPT) on it instead of connecting. */
	IVT_CTRL_OPEN_CTRL_FD = 1u << 19,
	/* Hint (a connector with IVT_CTRL_OPEN_RINGS): it takes
	 * IVT_CTRL_OK_OPEN_SETUP. */
	IVT_CTRL_OPEN_ONE_MSG = 1u << 20,
	/* Hint (a MULTI listener with IVT_CTRL_OPEN_RINGS, or a connector
	 * with it): it takes direct lines (IVT_CTRL_LINE, docs/conn-setup.md). */
	IVT_CTRL_OPEN_LINES = 1u << 21,
	/* Hint: this OPEN repeats one that found nobody listening (libivt
	 * retries while its timeout runs): counted as a retry in the
	 * status, not as one more request and refusal. */
	IVT_CTRL_OPEN_RETRY = 1u << 22,
	/* Hint (a MULTI listener with IVT_CTRL_OPEN_LINES): it holds its
	 * connections over lines to LINE's max_conns and reports how many it
	 * holds in LINE_STATS' held (docs/conn-setup.md). */
	IVT_CTRL_OPEN_LINE_BOUND = 1u << 23,
	/* Hint (a MULTI listener): it holds max_connections itself from its
	 * OPEN_OK on (IVT_CTRL_OK_MAX_CONNS), with or without lines. */
	IVT_CTRL_OPEN_OK_BOUND = 1u << 24,
};
#define IVT_CTRL_OPEN_FLAGS                                                                  \
	(IVT_LISTEN | IVT_MESSAGE | IVT_CTRL_OPEN_MULTI | IVT_CTRL_OPEN_ACCEPT |               \
	 IVT_CTRL_OPEN_INFO | IVT_CTRL_OPEN_ATTACH | IVT_CTRL_OPEN_DETACH | IVT_CTRL_OPEN_RING |  \
	 IVT_CTRL_OPEN_TCP_DIAL)
/* Flags that only say what the client understands: it works without
 * them. A daemon that refuses them (older than they are: "invalid OPEN
 * flags") is asked again without them; the rest are required, and an
 * ivtd that does not know one of those cannot serve the call. Without
 * TCP_DIAL the name loses its address: tcp.<P>, matched by port alone
 * (libivt/ctrl_compat.c). */
#define IVT_CTRL_OPEN_OPTIONAL                                                               \
	(IVT_CTRL_OPEN_INFO | IVT_CTRL_OPEN_ATTACH | IVT_CTRL_OPEN_DETACH | IVT_CTRL_OPEN_TCP_DIAL)
/* Hints: bits a daemon ignores when it does not know them, so optional
 * flags added from here on need no second OPEN. */
#define IVT_CTRL_OPEN_HINTS 0xffff0000u
/* Connector's arg: wait for a listener's backlog this long; forever. */
#define IVT_CTRL_WAIT_FOREVER 0xffffffffu

struct ivt_ctrl_open {
	char name[IVT_NAME_MAX + 1];
	char backend[IVT_BACKEND_NAME_MAX + 1]; /* "" or "auto" = policy */
	uint32_t flags;                          /* IVT_LISTEN, IVT_MESSAGE | enum ivt_ctrl_open_flags */
	/* ACCEPT: the ticket of an INCOMING. Connector: ms it waits for a
	 * listener (ivt_listen) to accept it, IVT_CTRL_WAIT_FOREVER; 0 (what
	 * version-1 clients send) = refused at once if the backlog is full,
	 * else queued for up to 10 s. Otherwise 0. */
	uint32_t arg;
	uint64_t ring_size;                      /* 0 = policy default */
};

struct ivt_ctrl_open_ok {
	uint64_t chan_id;
	char backend[IVT_BACKEND_NAME_MAX + 1];
	uint64_t ring_size; /* granted, bytes per direction */
	uint32_t is_server;
	uint32_t local_domid;
	uint32_t peer_domid; /* known for clients; 0 for servers until PEER */
	uint32_t flags;      /* IVT_CTRL_OK_*; 0 from daemons before message mode */
	char xs_path[IVT_XS_PATH_MAX + 1]; /* IVT_CAP_XS_PATH backends only, else "" */
	/* Appended: the policy's "spill" for this channel. Nonzero: when the
	 * ring is full, the sender parks what does not fit in utmem (channel
	 * "ivt.utmem") beyond this many bytes kept in its memory. 0 = no
	 * spill. At most IVT_CTRL_SPILL_ABOVE_MAX. */
	uint64_t spill_above_bytes;
};
#define IVT_CTRL_SPILL_ABOVE_MAX (1ull << 30)
/* open_ok.flags: the channel is in message mode (the listener opened it
 * with IVT_MESSAGE); both ends frame messages (docs/framing.md). */
#define IVT_CTRL_OK_MESSAGE 1u
/* open_ok.flags, to an accepting end only: ivtd keeps no control
 * connection for this end once its SETUP arrived (it closes it then; the
 * end expects no PEER, no cookie, and need not send CLOSE). Only for a
 * backend with IVT_CAP_PEER_FATE, which tells each end its peer's fate. */
#define IVT_CTRL_OK_DETACHED 2u
/* open_ok.flags, to a connector whose OPEN had IVT_CTRL_OPEN_RINGS only:
 * its next connections to this listener may bring their own ring
 * (IVT_CTRL_OPEN_RING) with this grant. */
#define IVT_CTRL_OK_RINGS 4u
/* open_ok.flags, with IVT_CTRL_OK_RINGS, to an IVT_CTRL_OPEN_QUEUED
 * connector only: no connection, only the listener's grant; open again
 * with a ring (IVT_CTRL_OPEN_RING). ivtd forgets this OPEN. */
#define IVT_CTRL_OK_GRANT 8u
/* open_ok.flags, with IVT_CTRL_OK_RINGS, to a connector whose OPEN had
 * IVT_CTRL_OPEN_ONE_MSG only: it may send its ring's OPEN and SETUP as
 * one OPEN_SETUP (one wake-up of ivtd instead of two). */
#define IVT_CTRL_OK_OPEN_SETUP 16u
/* ok flags over XenStore only ("halfclose=1", docs/xenstore.md): the
 * other end takes half-close, as PEER_INFO's IVT_CTRL_PEER_HALFCLOSE says
 * on the control socket (never sent there). */
#define IVT_CTRL_OK_HALFCLOSE 32u
/* open_ok.flags, to a listener whose OPEN had IVT_CTRL_OPEN_OK_BOUND only:
 * peer_domid (a listener has no peer; 0 otherwise) is its policy's
 * max_connections. Older ivtds ignore the hint and send neither. */
#define IVT_CTRL_OK_MAX_CONNS 64u
#define IVT_CTRL_OK_FLAGS                                                                     \
	(IVT_CTRL_OK_MESSAGE | IVT_CTRL_OK_DETACHED | IVT_CTRL_OK_RINGS | IVT_CTRL_OK_GRANT |  \
	 IVT_CTRL_OK_OPEN_SETUP | IVT_CTRL_OK_MAX_CONNS)

struct ivt_ctrl_error {
	int32_t err; /* positive errno */
	/* An ERROR to an OPEN with flags the daemon does not know: the
	 * IVT_CTRL_OPEN_FLAGS it knows (so the client can say which feature
	 * is missing). 0 otherwise, and from daemons before this field. */
	uint32_t known_flags;
	char msg[IVT_ERRMSG_MAX + 1]; /* human-readable reason */
};

struct ivt_ctrl_setup {
	uint32_t blob_len;
	uint32_t nfds; /* must equal the number of SCM_RIGHTS fds received */
	uint8_t blob[IVT_OOB_BLOB_MAX];
};

enum ivt_peer_event {
	IVT_PEER_CONNECTED = 1,
	IVT_PEER_CLOSED = 2,
	IVT_PEER_DIED = 3,
};

struct ivt_ctrl_peer {
	uint32_t event; /* enum ivt_peer_event */
	uint32_t peer_domid;
};

/* Identities as the policy sees them: "uid:1000", "dom:5", "host:B/uid:0". */
#define IVT_IDENTITY_MAX 63

struct ivt_ctrl_incoming {
	uint32_t ticket;     /* nonzero; for OPEN (LISTEN | ACCEPT) */
	uint32_t peer_domid; /* the connector's domain */
	char identity[IVT_IDENTITY_MAX + 1];
};

/* OPEN_SETUP: a ring connector's OPEN (with IVT_CTRL_OPEN_RING) and its
 * SETUP (fds: setup.nfds). */
struct ivt_ctrl_open_setup {
	struct ivt_ctrl_open open;
	struct ivt_ctrl_setup setup;
};

/* INCOMING_RING: the offer and the connector's setup (fds: setup.nfds,
 * then, to a listener that asked (IVT_CTRL_OPEN_CTRL_FD), maybe one more:
 * the accepting end's control connection). */
struct ivt_ctrl_incoming_ring {
	struct ivt_ctrl_incoming in;
	struct ivt_ctrl_setup setup;
};

/* LINE: one end of a socket pair between a listener's process and a
 * connector's process, granted by ivtd once its policy admitted the
 * connector's identity for the listener. To the connector (one fd: the
 * connector's end; identity = the listener's): later connections to name
 * send their ring's SETUP on it and go on at once. To the listener (two
 * fds: the listener's end, and a copy of the connector's that it only
 * keeps, so that its end never reads end of file when the connector
 * exits; identity = the connector's as the policy saw it): SETUPs read
 * from it are offers of that identity. The grant (backend, ring_size,
 * message) is the listener's. */
struct ivt_ctrl_line {
	uint32_t line_id; /* nonzero, per listener */
	uint32_t message; /* 0 or 1: the listener's message mode */
	uint64_t ring_size;
	uint32_t peer_domid;
	/* To a listener that hinted IVT_CTRL_OPEN_LINE_BOUND: its policy's
	 * max_connections, which it holds for everything it accepts while it
	 * has lines; else 0 (no bound; "reserved" before, always 0). */
	uint32_t max_conns;
	char name[IVT_NAME_MAX + 1];
	char backend[IVT_BACKEND_NAME_MAX + 1];
	char identity[IVT_IDENTITY_MAX + 1];
};

/* Rings kept per line and side: slot ids on a line are 1..this. */
#define IVT_LINE_SLOTS 4

struct ivt_ctrl_line_stats {
	uint64_t accepted; /* connections accepted over lines since the listen */
	uint64_t refused;  /* offers on lines dropped (bad ring or message) */
	/* Appended, sent only to an ivtd that gave LINE's max_conns: while
	 * the listener is at that bound (takes no offers), the connections
	 * made over lines it holds open; 0 below it. Sent at once when it
	 * reaches or leaves the bound. An older listener sends the message
	 * without it (IVT_CTRL_LINE_STATS_V1). */
	uint64_t held;
};
#define IVT_CTRL_LINE_STATS_V1 16u

struct ivt_ctrl_peer_info {
	uint32_t peer_domid;
	/* IVT_CTRL_PEER_*: what the other end's libivt takes; only sent to
	 * an end whose OPEN had IVT_CTRL_OPEN_HALFCLOSE, else 0 (it was
	 * "reserved", which older clients ignore). */
	uint32_t flags;
	char identity[IVT_IDENTITY_MAX + 1];
};

/* peer_info.flags: both ends announced IVT_CTRL_OPEN_HALFCLOSE, so this
 * end may send FIN (ivt_shutdown SHUT_WR). */
#define IVT_CTRL_PEER_HALFCLOSE 1u

/* A channel's re-attach cookie: random, never all zero, known only to
 * ivtd and the channel's two ends. */
#define IVT_CTRL_COOKIE_LEN 16

struct ivt_ctrl_attach_info {
	uint8_t cookie[IVT_CTRL_COOKIE_LEN];
};

/* ivt_ctrl_attach.flags */
#define IVT_CTRL_ATTACH_SERVER 1u  /* the listening (server) end */
#define IVT_CTRL_ATTACH_MESSAGE 2u /* the channel is in message mode */
#define IVT_CTRL_ATTACH_FLAGS (IVT_CTRL_ATTACH_SERVER | IVT_CTRL_ATTACH_MESSAGE)

struct ivt_ctrl_attach {
	uint8_t cookie[IVT_CTRL_COOKIE_LEN];    /* from ATTACH_INFO; not all zero */
	char name[IVT_NAME_MAX + 1];
	char backend[IVT_BACKEND_NAME_MAX + 1];
	char peer_identity[IVT_IDENTITY_MAX + 1]; /* from PEER_INFO */
	uint64_t ring_size;                     /* as granted */
	uint32_t flags;                         /* IVT_CTRL_ATTACH_* */
	uint32_t reserved;                      /* 0 */
};

struct ivt_ctrl_attach_ok {
	uint64_t chan_id; /* in the new daemon's table */
	uint32_t paired;  /* 1: the other end is attached too; 0: not yet */
	uint32_t reserved;
};

#define IVT_CTRL_STATUS_MAX 3800
#define IVT_CTRL_MSG_MAX (sizeof(struct ivt_ctrl_hdr) + sizeof(struct ivt_ctrl_incoming_ring) + 64)

#endif /* IVT_CTRL_PROTO_H */
