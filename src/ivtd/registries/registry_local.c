/* SPDX-License-Identifier: MIT */
/*
 * The local registry: ivtd's AF_UNIX SOCK_SEQPACKET control socket.
 * One connection = one channel end. Every message is parsed by
 * ivt_ctrl_recv; anything malformed gets an ERROR and the connection is
 * dropped. All sockets are non-blocking: a client that stops reading is
 * dropped rather than allowed to stall the daemon.
 *
 * Connections are never freed from inside a callback chain: a failed send
 * only marks the connection dead (and queues it), and a zero-delay event
 * reaps the queued ones (telling the broker they are gone) once the
 * current dispatch returns. Reaping touches only the dead: the table is a
 * doubly linked list and the dead wait in a queue of their own, so
 * dropping k of n connections costs O(k), not O(k * n).
 *
 * Limits (policy "limits", conf/README.md): one uid holds at most
 * `connections` connections and `channels` of them with an OPEN; the
 * table keeps its last `root_reserve` places (at most half of it) for
 * uid 0, so users filling it cannot lock out root's ivtctl or channels.
 * The table counts descriptors (RLIMIT_NOFILE less a spare): one per
 * connection, and IVT_OOB_FDS_MAX more for each one-shot listener while
 * it lives, whose setup may wait in ivtd for its client. Other ends' setups
 * never wait (an accepting end's connector is there already), so a
 * channel of ivt_listen costs two places, not the six a flat three per
 * connection reserved. uid 0 is subject only to the table's size. A refused
 * connection gets an ERROR saying why, then is closed. Each connection
 * has at most one request pending (answered before its next is read), so
 * pending requests are bounded by the connection limit. An ATTACH (an end
 * re-attaching after a restart, core/broker_attach.c) counts as an OPEN,
 * so ends waiting for their peer to re-attach are bounded the same way.
 */
#include "registry_local.h"
#include "ctrl_cork.h"
#include "uid_counts.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ctrl_msg.h"
#include "common/log.h"
#include "common/tcp_map.h"

#define WHO "ivtd"
#define MSGS_PER_WAKEUP 16 /* fairness between busy clients */
/* Descriptors kept out of the table (plugins, XenStore, logs, peers, a
 * message's fds between receipt and hand-over). */
#define FDS_SPARE 256
#define CONNS_MAX IVT_POLICY_TABLE_MAX

/* Anyone can trigger these lines at will. */
static struct ivt_ratelimit refused_rl = IVT_RATELIMIT_INIT(10000, 5);
static struct ivt_ratelimit bad_msg_rl = IVT_RATELIMIT_INIT(10000, 5);

struct local_reg;

struct local_conn {
	struct ivt_reg_end end; /* first: ops get &end and cast back */
	struct local_reg *lr;
	struct local_conn *next, *prev; /* the table */
	struct local_conn *next_dead;   /* the reap queue, while dead */
	int fd;
	struct event *ev;
	uint32_t seq;  /* of the client's last request, echoed in our messages */
	int dead;      /* to be reaped */
	int graceful;  /* it sent CLOSE */
	int reported;  /* broker already told it is gone */
	int opened;    /* sent an OPEN: counts against limits.channels */
	int wants_info; /* its OPEN had IVT_CTRL_OPEN_INFO: it takes PEER_INFO */
	int wants_attach; /* its OPEN had IVT_CTRL_OPEN_ATTACH: it takes ATTACH_INFO */
	int wants_detach; /* its OPEN had IVT_CTRL_OPEN_DETACH: it takes OK_DETACHED */
	int wants_ctrl_fd; /* a listener whose OPEN had IVT_CTRL_OPEN_CTRL_FD */
	int wants_one_msg; /* a connector whose OPEN had IVT_CTRL_OPEN_ONE_MSG */
	size_t held;    /* table places kept for its setup's fds (one-shot listener) */
};

struct local_reg {
	struct ivt_registry reg; /* first */
	struct event_base *base;
	int lfd;
	struct event *listen_ev, *reap_ev;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	struct local_conn *conns;
	struct local_conn *dead; /* marked dead, not yet reaped (LIFO) */
	size_t nconns, max_conns; /* max_conns: the table's places (descriptors) */
	size_t held;              /* places kept for setups: sum of conns' held */
	uint64_t reap_visits; /* connections reap looked at (tests) */
	struct uid_counts per_uid; /* live connections and OPENs per uid (limits) */
	struct ivt_policy_limits limits;
	struct ivt_ctrl_cork cork; /* small answers held during a dispatch */
	int destroying;
	ivt_status_fn status_fn;
	void *status_arg;
};

static struct local_conn *conn_of(struct ivt_reg_end *end)
{
	return (struct local_conn *)end; /* end is the first member */
}

/* ---- teardown of connections --------------------------------------- */

static void mark_dead(struct local_conn *c)
{
	if (c->dead)
		return;
	ivt_ctrl_cork_flush(&c->lr->cork); /* what it was told (an ERROR) goes first */
	if (c->dead)
		return; /* that flush failed for c and marked it */
	c->dead = 1;
	event_del(c->ev);
	struct uid_count *u = uid_counts_find(&c->lr->per_uid, c->end.uid);
	if (u) { /* always there: counted at accept */
		u->conns--;
		u->opened -= c->opened != 0;
	}
	c->next_dead = c->lr->dead;
	c->lr->dead = c;
	if (!c->lr->destroying)
		event_active(c->lr->reap_ev, EV_TIMEOUT, 0);
}

/* O(1): the table is doubly linked. The caller took c off the reap queue
 * (or is destroying everything). */
static void free_conn(struct local_conn *c)
{
	struct local_reg *lr = c->lr;
	if (c->prev)
		c->prev->next = c->next;
	else
		lr->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	lr->nconns--;
	lr->held -= c->held;
	ivt_ctrl_cork_forget(&lr->cork, c);
	event_free(c->ev);
	close(c->fd);
	free(c);
}

/* Tell the broker about dead connections and free them. gone() may make
 * further sends fail and mark more connections dead: they join the queue
 * and are reaped in this same pass. */
static void reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct local_reg *lr = arg;
	while (lr->dead) {
		struct local_conn *c = lr->dead;
		lr->dead = c->next_dead;
		lr->reap_visits++;
		if (!c->reported) {
			c->reported = 1;
			lr->reg.cb.gone(lr->reg.cb.arg, &c->end, c->graceful);
		}
		free_conn(c);
	}
}


/* ---- sending (the registry ops) ------------------------------------ */

/* Before a connection whose send failed is declared dead: its CLOSE may
 * be queued unread. A client that sends CLOSE and exits at once (the
 * preload's close then _exit) makes our next send to it fail before the
 * event loop reads that CLOSE, e.g. the answers to a connector sent when
 * its listener's OPEN ACCEPT is taken, after the connector already wrote
 * everything and left. Its end closed; it did not die: the peer is told
 * CLOSED, not DIED (docs/preload.md). What else is queued is dropped
 * unread: nobody is left to answer. A datagram socket's queue is bounded
 * by its buffer; the loop by MSGS_PER_WAKEUP as any read. */
static void take_queued_close(struct local_conn *c)
{
	for (int i = 0; i < MSGS_PER_WAKEUP && !c->graceful; i++) {
		struct ivt_ctrl_msg m;
		if (ivt_ctrl_recv(c->fd, &m, 0) != 0)
			return; /* drained, or the end of it */
		ivt_ctrl_msg_close_fds(&m);
		if (m.hdr.type == IVT_CTRL_CLOSE)
			c->graceful = 1;
	}
}

static void send_failed(struct local_conn *c, int rc)
{
	if (!c->dead)
		take_queued_close(c);
	if (rc == -EAGAIN)
		ivt_log_limited(&bad_msg_rl, IVT_LOG_WARN, WHO,
				"%s (pid %d) does not read its control socket; dropping it",
				IVT_ID_S(&c->end.who), c->end.pid);
	else if (rc != -ECONNRESET)
		ivt_log_limited(&bad_msg_rl, IVT_LOG_WARN, WHO, "sending to %s (pid %d): %s; dropping it",
				IVT_ID_S(&c->end.who), c->end.pid, strerror(-rc));
	mark_dead(c);
}

/* The cork's batch for a connection failed. */
static void cork_failed(void *conn, int rc, void *arg)
{
	(void)arg;
	send_failed(conn, rc);
}

/* Send now, or held until the current dispatch returns (small messages
 * without fds: ctrl_cork.h); the caller learns of a failure then only
 * through the connection's gone(), as it does anyway. */
static int send_or_drop(struct local_conn *c, uint16_t type, const void *p, uint32_t len,
			const int *fds, int nfds)
{
	if (c->dead || c->lr->destroying)
		return -ECONNRESET;
	if (!nfds && ivt_ctrl_cork_hold(&c->lr->cork, c, c->fd, type, c->seq, p, len))
		return 0;
	ivt_ctrl_cork_flush(&c->lr->cork); /* what was held goes first */
	int rc = ivt_ctrl_send(c->fd, type, c->seq, p, len, fds, nfds);
	if (rc < 0)
		send_failed(c, rc);
	return rc;
}

static int op_reply_ok(struct ivt_reg_end *end, const struct ivt_ctrl_open_ok *ok)
{
	struct ivt_ctrl_open_ok o = *ok;
	if ((o.flags & IVT_CTRL_OK_RINGS) && conn_of(end)->wants_one_msg)
		o.flags |= IVT_CTRL_OK_OPEN_SETUP; /* this registry reads OPEN_SETUP */
	return send_or_drop(conn_of(end), IVT_CTRL_OPEN_OK, &o, sizeof(o), NULL, 0);
}

static int op_reply_error(struct ivt_reg_end *end, int err, const char *msg)
{
	struct ivt_ctrl_error e;
	memset(&e, 0, sizeof(e));
	e.err = err > 0 && err < 4096 ? err : EIO;
	snprintf(e.msg, sizeof(e.msg), "%s", msg ? msg : "");
	return send_or_drop(conn_of(end), IVT_CTRL_ERROR, &e, sizeof(e), NULL, 0);
}

/* A newer client's OPEN: the same text as ever (older clients match
 * nothing but errno), plus the flags this ivtd knows, so the client can
 * drop what it may do without and name what it may not. */
static void reply_unknown_flags(struct local_conn *c)
{
	struct ivt_ctrl_error e;
	memset(&e, 0, sizeof(e));
	e.err = EINVAL;
	e.known_flags = IVT_CTRL_OPEN_FLAGS;
	snprintf(e.msg, sizeof(e.msg), "invalid OPEN flags");
	send_or_drop(c, IVT_CTRL_ERROR, &e, sizeof(e), NULL, 0);
}

static int op_relay_setup(struct ivt_reg_end *end, const void *blob, size_t len, const int *fds,
			  int nfds)
{
	if (len > IVT_OOB_BLOB_MAX || nfds < 0 || nfds > IVT_OOB_FDS_MAX)
		return -EINVAL;
	struct ivt_ctrl_setup s;
	memset(&s, 0, sizeof(s));
	s.blob_len = (uint32_t)len;
	s.nfds = (uint32_t)nfds;
	memcpy(s.blob, blob, len);
	return send_or_drop(conn_of(end), IVT_CTRL_SETUP, &s, sizeof(s), fds, nfds);
}

static int op_notify_peer(struct ivt_reg_end *end, int event, uint32_t peer_domid)
{
	struct ivt_ctrl_peer p = {.event = (uint32_t)event, .peer_domid = peer_domid};
	return send_or_drop(conn_of(end), IVT_CTRL_PEER, &p, sizeof(p), NULL, 0);
}

static int op_incoming(struct ivt_reg_end *end, uint32_t ticket, const struct ivt_identity *who,
		       uint32_t peer_domid)
{
	struct ivt_ctrl_incoming in = {.ticket = ticket, .peer_domid = peer_domid};
	ivt_identity_format(who, in.identity, sizeof(in.identity)); /* "" if unknown */
	return send_or_drop(conn_of(end), IVT_CTRL_INCOMING, &in, sizeof(in), NULL, 0);
}

static int premade_conn(struct local_conn *lis);

static int op_incoming_ring(struct ivt_reg_end *end, uint32_t ticket,
			    const struct ivt_identity *who, uint32_t peer_domid, const void *blob,
			    size_t len, const int *fds, int nfds)
{
	struct ivt_ctrl_incoming_ring r;
	memset(&r, 0, sizeof(r));
	r.in.ticket = ticket;
	r.in.peer_domid = peer_domid;
	ivt_identity_format(who, r.in.identity, sizeof(r.in.identity));
	if (len > sizeof(r.setup.blob))
		return -EMSGSIZE;
	memcpy(r.setup.blob, blob, len);
	r.setup.blob_len = (uint32_t)len;
	r.setup.nfds = (uint32_t)nfds;
	struct local_conn *c = conn_of(end);
	int all[IVT_OOB_FDS_MAX], n = nfds;
	memcpy(all, fds, sizeof(int) * (size_t)nfds);
	int cfd = c->wants_ctrl_fd && nfds < IVT_OOB_FDS_MAX && !c->dead ? premade_conn(c) : -1;
	if (cfd >= 0)
		all[n++] = cfd;
	int rc = send_or_drop(c, IVT_CTRL_INCOMING_RING, &r, sizeof(r), all, n);
	if (cfd >= 0)
		close(cfd); /* the listener's now, or gone: then ours hangs up */
	return rc;
}

static int op_queued(struct ivt_reg_end *end)
{
	return send_or_drop(conn_of(end), IVT_CTRL_QUEUED, NULL, 0, NULL, 0);
}

static int op_peer_info(struct ivt_reg_end *end, const struct ivt_identity *who,
			uint32_t peer_domid, uint32_t flags)
{
	if (!conn_of(end)->wants_info)
		return 0; /* a version-1 client would take it for garbage */
	/* a flag only for a client that announced it takes it */
	if (!end->halfclose)
		flags &= ~IVT_CTRL_PEER_HALFCLOSE;
	struct ivt_ctrl_peer_info pi = {.peer_domid = peer_domid, .flags = flags};
	ivt_identity_format(who, pi.identity, sizeof(pi.identity)); /* "" if unknown */
	return send_or_drop(conn_of(end), IVT_CTRL_PEER_INFO, &pi, sizeof(pi), NULL, 0);
}

static int op_attach_info(struct ivt_reg_end *end, const uint8_t cookie[IVT_CTRL_COOKIE_LEN])
{
	if (!conn_of(end)->wants_attach)
		return 0; /* an older client would take it for garbage */
	struct ivt_ctrl_attach_info ai;
	memcpy(ai.cookie, cookie, sizeof(ai.cookie));
	return send_or_drop(conn_of(end), IVT_CTRL_ATTACH_INFO, &ai, sizeof(ai), NULL, 0);
}

static int op_attach_ok(struct ivt_reg_end *end, uint64_t chan_id, int paired)
{
	struct ivt_ctrl_attach_ok ok = {.chan_id = chan_id, .paired = paired ? 1 : 0};
	return send_or_drop(conn_of(end), IVT_CTRL_ATTACH_OK, &ok, sizeof(ok), NULL, 0);
}

/* Past limits.detach_above places in use (default: half the table),
 * accepted ends that can do without are let go once set up: a channel
 * then costs one place instead of two, and the table holds about twice
 * as many channels as it has room for at two each. */
static int op_wants_release(struct ivt_reg_end *end)
{
	struct local_conn *c = conn_of(end);
	const struct local_reg *lr = c->lr;
	uint64_t above = lr->limits.detach_above;
	if (above == IVT_POLICY_LIMIT_DETACH_HALF)
		above = lr->max_conns / 2;
	return c->wants_detach && !c->dead && lr->nconns + lr->held > above;
}

static void op_release(struct ivt_reg_end *end)
{
	struct local_conn *c = conn_of(end);
	c->reported = 1; /* the broker forgot it already */
	mark_dead(c);    /* closed when reaped, after this dispatch */
}

static void op_destroy(struct ivt_registry *reg);

/* A line's kernel queue is the listener's backlog for that connector:
 * this little send buffer on the connector's end lets only a few offers
 * (a SETUP with two fds is about 2 KiB of it) wait at once; beyond, its
 * send says EAGAIN and the connector comes through ivtd. */
#define LINE_SNDBUF 8192

static int op_line(struct ivt_reg_end *lis, struct ivt_reg_end *conn,
		   const struct ivt_ctrl_line *lis_view, const struct ivt_ctrl_line *conn_view)
{
	struct local_conn *lc = conn_of(lis), *cc = conn_of(conn);
	if (lc->dead || cc->dead || lc->lr->destroying)
		return -ECONNRESET;
	int sv[2];
	/* both ends non-blocking: neither process may make the other wait */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0)
		return -errno;
	int sz = LINE_SNDBUF;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	/* the listener gets a copy of the connector's end too, which it only
	 * keeps: its end then never reads end of file when a connector
	 * process exits, so its fd wakes for offers alone, as TCP's listening
	 * socket does for connections */
	int rc = send_or_drop(lc, IVT_CTRL_LINE, lis_view, sizeof(*lis_view), sv, 2);
	if (rc == 0)
		rc = send_or_drop(cc, IVT_CTRL_LINE, conn_view, sizeof(*conn_view), &sv[1], 1);
	close(sv[0]); /* ivtd keeps no end: each is its process's now */
	close(sv[1]);
	return rc;
}

static int op_lines_drop(struct ivt_reg_end *lis)
{
	return send_or_drop(conn_of(lis), IVT_CTRL_LINES_DROP, NULL, 0, NULL, 0);
}

static const struct ivt_registry_ops local_ops = {
	.name = "local",
	.reply_ok = op_reply_ok,
	.reply_error = op_reply_error,
	.relay_setup = op_relay_setup,
	.notify_peer = op_notify_peer,
	.incoming = op_incoming,
	.incoming_ring = op_incoming_ring,
	.queued = op_queued,
	.peer_info = op_peer_info,
	.attach_info = op_attach_info,
	.attach_ok = op_attach_ok,
	.wants_release = op_wants_release,
	.release = op_release,
	.line = op_line,
	.lines_drop = op_lines_drop,
	.destroy = op_destroy,
};

/* ---- receiving ----------------------------------------------------- */

static void protocol_error(struct local_conn *c, const char *what)
{
	ivt_log_limited(&bad_msg_rl, IVT_LOG_WARN, WHO, "%s (pid %d): %s; dropping the connection",
			IVT_ID_S(&c->end.who), c->end.pid, what);
	op_reply_error(&c->end, EPROTO, what);
	mark_dead(c);
}

static size_t root_reserve(const struct local_reg *lr);

static void handle_status(struct local_conn *c)
{
	char text[IVT_CTRL_STATUS_MAX + 1];
	size_t n;
	if (c->lr->status_fn)
		n = c->lr->status_fn(c->lr->status_arg, text, sizeof(text));
	else
		n = (size_t)snprintf(text, sizeof(text), "ivtd: no status available\n");
	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	text[n] = '\0';
	n = strlen(text); /* the text must have no early NUL */
	snprintf(text + n, sizeof(text) - n, "control connections: %zu of %zu (the last %zu for "
		 "root); %zu places held for one-shot listeners' setups\n", c->lr->nconns,
		 c->lr->max_conns, root_reserve(c->lr), c->lr->held);
	n = strlen(text);
	send_or_drop(c, IVT_CTRL_STATUS_OK, text, (uint32_t)n + 1, NULL, 0);
}

/* ---- limits --------------------------------------------------------- */

static void count_uid(const struct local_reg *lr, uid_t uid, size_t *conns, size_t *opened)
{
	const struct uid_count *u = uid_counts_find(&lr->per_uid, uid);
	*conns = u ? u->conns : 0;
	*opened = u ? u->opened : 0;
}

/* c sent its first OPEN or ATTACH: it now holds a channel place. */
static void mark_opened(struct local_conn *c)
{
	if (c->opened)
		return;
	c->opened = 1;
	struct uid_count *u = uid_counts_find(&c->lr->per_uid, c->end.uid);
	if (u && !c->dead)
		u->opened++;
}

/* An OPEN beyond the uid's channel limit is answered -EMFILE. */
static int over_channel_limit(struct local_conn *c)
{
	size_t conns, opened;
	if (c->end.uid == 0)
		return 0;
	count_uid(c->lr, c->end.uid, &conns, &opened);
	if (opened < c->lr->limits.channels)
		return 0;
	char why[IVT_ERRMSG_MAX + 1];
	snprintf(why, sizeof(why), "%s already has %zu channel ends open in ivtd, its limit "
		 "(policy \"limits\": \"channels\")", IVT_ID_S(&c->end.who), opened);
	ivt_log_limited(&refused_rl, IVT_LOG_WARN, WHO, "refused an OPEN: %s", why);
	op_reply_error(&c->end, EMFILE, why);
	return 1;
}

/* never more than half the table: users keep a share however it is sized */
static size_t root_reserve(const struct local_reg *lr)
{
	return (size_t)ivt_policy_root_reserve(&lr->limits, lr->max_conns);
}

/* Are there `need` more places in the table for uid? If not, why says so. */
static int table_room(const struct local_reg *lr, uid_t uid, size_t need, char *why,
		      size_t why_len)
{
	size_t used = lr->nconns + lr->held, reserve = root_reserve(lr);
	if (used + need > lr->max_conns) {
		snprintf(why, why_len, "ivtd serves %zu control connections and holds %zu "
			 "descriptors for waiting setups, as many as it can (open file limit)",
			 lr->nconns, lr->held);
		return 0;
	}
	if (uid != 0 && used + need > lr->max_conns - reserve) {
		snprintf(why, why_len, "ivtd serves %zu control connections; the last %zu of its "
			 "%zu are kept for root (policy \"limits\": \"root_reserve\")", lr->nconns,
			 reserve, lr->max_conns);
		return 0;
	}
	return 1;
}

/* 0 to serve a new connection from uid, else the errno to refuse it with
 * (why says it for the client and the log). */
static int admit(const struct local_reg *lr, uid_t uid, char *why, size_t why_len)
{
	const struct ivt_policy_limits *l = &lr->limits;
	if (!table_room(lr, uid, 1, why, why_len))
		return EUSERS;
	if (uid == 0)
		return 0;
	size_t conns, opened;
	count_uid(lr, uid, &conns, &opened);
	if (conns >= l->connections) {
		struct ivt_identity who = ivt_identity_uid(uid);
		snprintf(why, why_len, "%s already holds %zu control connections to ivtd, its "
			 "limit (policy \"limits\": \"connections\")", IVT_ID_S(&who), conns);
		return EMFILE;
	}
	return 0;
}

/* Tell the client why, then hang up (it reads the ERROR even after). */
static void refuse_conn(int fd, int err, const char *why)
{
	struct ivt_ctrl_error e;
	memset(&e, 0, sizeof(e));
	e.err = err;
	snprintf(e.msg, sizeof(e.msg), "%s", why);
	ivt_ctrl_send(fd, IVT_CTRL_ERROR, 0, &e, sizeof(e), NULL, 0);
	close(fd);
}

static size_t table_size(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY)
		return CONNS_MAX;
	if (r.rlim_cur <= FDS_SPARE * 2)
		return r.rlim_cur / 2 + 1;
	size_t n = (size_t)(r.rlim_cur - FDS_SPARE);
	return n < CONNS_MAX ? n : CONNS_MAX;
}

void ivt_registry_local_set_limits(struct ivt_registry *reg, const struct ivt_policy *p)
{
	if (!reg || reg->ops != &local_ops || !p)
		return;
	struct local_reg *lr = (struct local_reg *)reg;
	lr->limits = p->limits;
	char note[IVT_POLICY_ERR_MAX];
	if (ivt_policy_root_reserve_text(p, lr->max_conns, "ivtd's connection table", note,
					 sizeof(note)))
		IVT_WARN(WHO, "%s (the table has the open file limit less %d places, at most %d)",
			 note, FDS_SPARE, CONNS_MAX);
}

/* A listener that accepts many gets an INCOMING per queued connector,
 * up to the policy's backlog (at most IVT_POLICY_BACKLOG_MAX, each about a
 * kilobyte in flight): room for all of them, or a slow accept loop would
 * look like a client that stopped reading and be dropped. */
static void grow_sndbuf(struct local_conn *c)
{
	int sz = 8 << 20;
	if (setsockopt(c->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0 &&
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) != 0)
		IVT_DEBUG(WHO, "listener of %s: cannot grow its socket buffer: %s",
			  IVT_ID_S(&c->end.who), strerror(errno));
}

/* An end of a channel a previous ivtd brokered asks to be adopted. */
static void handle_attach(struct local_conn *c, const struct ivt_ctrl_attach *a)
{
	struct local_reg *lr = c->lr;
	if (!lr->reg.cb.attach) {
		op_reply_error(&c->end, ENOTSUP, "this ivtd does not adopt channels");
		return;
	}
	if (c->opened) {
		op_reply_error(&c->end, EISCONN, "ATTACH must be the first request of a connection");
		return;
	}
	if (over_channel_limit(c))
		return;
	mark_opened(c);
	c->wants_info = c->wants_attach = 1; /* only a libivt that takes them sends ATTACH */
	struct ivt_attach_request req;
	memset(&req, 0, sizeof(req));
	memcpy(req.cookie, a->cookie, sizeof(req.cookie));
	memcpy(req.name, a->name, sizeof(req.name));
	memcpy(req.backend, a->backend, sizeof(req.backend));
	if (ivt_identity_parse(a->peer_identity, &req.peer) != 0)
		req.peer.kind = IVT_IDENTITY_NONE; /* the broker refuses it */
	req.ring_size = a->ring_size;
	req.is_server = (a->flags & IVT_CTRL_ATTACH_SERVER) != 0;
	req.message = (a->flags & IVT_CTRL_ATTACH_MESSAGE) != 0;
	lr->reg.cb.attach(lr->reg.cb.arg, &c->end, &req);
}

/* A connector names the TCP address it dialled (IVT_CTRL_OPEN_TCP_DIAL):
 * it gets the listener TCP would pick (common/tcp_map.h). 0, or refused. */
static int dial(struct local_conn *c, struct ivt_end_request *req)
{
	struct ivt_ip to;
	unsigned port = req->listen ? 0 : ivt_tcp_name_addr(req->name, &to);
	if (!port) {
		op_reply_error(&c->end, EINVAL, "invalid OPEN: TCP_DIAL is for connectors of "
						"tcp.<port>.<address>");
		return -1;
	}
	const struct ivt_broker_cb *cb = &c->lr->reg.cb;
	if (cb->listening)
		ivt_tcp_pick(req->name, sizeof(req->name), port, &to, cb->listening, cb->arg);
	else
		ivt_tcp_name(req->name, sizeof(req->name), port);
	return 0;
}

static void handle_msg(struct local_conn *c, struct ivt_ctrl_msg *m)
{
	struct local_reg *lr = c->lr;
	switch (m->hdr.type) {
	case IVT_CTRL_OPEN: {
		c->seq = m->hdr.seq;
		struct ivt_end_request req;
		memset(&req, 0, sizeof(req));
		memcpy(req.name, m->u.open.name, sizeof(req.name));
		memcpy(req.backend, m->u.open.backend, sizeof(req.backend));
		uint32_t fl = m->u.open.flags;
		req.listen = (fl & IVT_LISTEN) != 0;
		req.message = (fl & IVT_MESSAGE) != 0;
		req.multi = req.listen && (fl & IVT_CTRL_OPEN_MULTI);
		if (req.listen && (fl & IVT_CTRL_OPEN_ACCEPT))
			req.ticket = m->u.open.arg;
		else if (!req.listen)
			req.wait_ms = m->u.open.arg;
		req.ring_size = m->u.open.ring_size;
		c->wants_info = (fl & IVT_CTRL_OPEN_INFO) != 0;
		c->wants_attach = (fl & IVT_CTRL_OPEN_ATTACH) != 0;
		c->wants_detach = (fl & IVT_CTRL_OPEN_DETACH) != 0;
		c->end.halfclose = (fl & IVT_CTRL_OPEN_HALFCLOSE) != 0;
		c->end.retry = !req.listen && (fl & IVT_CTRL_OPEN_RETRY) != 0;
		c->wants_ctrl_fd = req.multi && (fl & IVT_CTRL_OPEN_CTRL_FD) != 0;
		c->wants_one_msg = !req.listen && (fl & IVT_CTRL_OPEN_ONE_MSG) != 0;
		req.rings = (fl & IVT_CTRL_OPEN_RINGS) != 0;
		req.ring = (fl & IVT_CTRL_OPEN_RING) != 0;
		req.queued = req.rings && (fl & IVT_CTRL_OPEN_QUEUED) != 0;
		req.lines = req.rings && (fl & IVT_CTRL_OPEN_LINES) != 0;
		req.line_bound = req.lines && req.multi && (fl & IVT_CTRL_OPEN_LINE_BOUND) != 0;
		req.ok_bound = req.multi && (fl & IVT_CTRL_OPEN_OK_BOUND) != 0;
		if (req.multi)
			grow_sndbuf(c);
		fl &= ~IVT_CTRL_OPEN_HINTS; /* unknown hints are ignored by design */
		if (fl & ~(uint32_t)IVT_CTRL_OPEN_FLAGS) {
			reply_unknown_flags(c);
			return;
		}
		if (req.ring && req.listen) {
			op_reply_error(&c->end, EINVAL, "invalid OPEN: RING is for connectors");
			return;
		}
		if ((fl & IVT_CTRL_OPEN_ACCEPT) && (!req.listen || !req.ticket || req.multi)) {
			op_reply_error(&c->end, EINVAL,
				       "invalid OPEN: ACCEPT needs LISTEN and a ticket, and no MULTI");
			return;
		}
		if (!ivt_name_valid(req.name)) {
			op_reply_error(&c->end, EINVAL,
				       "invalid channel name (1..63 of A-Z a-z 0-9 . _ -, not "
				       "starting with '.')");
			return;
		}
		if ((fl & IVT_CTRL_OPEN_TCP_DIAL) && dial(c, &req) < 0)
			return;
		if (!c->opened && over_channel_limit(c))
			return;
		if (req.listen && !req.multi && !req.ticket && !c->held) {
			/* its setup waits here for a client: room for its fds */
			char why[IVT_ERRMSG_MAX + 1];
			if (!table_room(lr, c->end.uid, IVT_OOB_FDS_MAX, why, sizeof(why))) {
				ivt_log_limited(&refused_rl, IVT_LOG_WARN, WHO,
						"refused a listener of %s: %s", IVT_ID_S(&c->end.who), why);
				op_reply_error(&c->end, EUSERS, why);
				return;
			}
			c->held = IVT_OOB_FDS_MAX;
			lr->held += c->held;
		}
		mark_opened(c);
		lr->reg.cb.request(lr->reg.cb.arg, &c->end, &req);
		return;
	}
	case IVT_CTRL_OPEN_SETUP: {
		/* a ring connector's OPEN and SETUP in one datagram: read as
		 * the two, so a refused OPEN refuses its SETUP as ever */
		struct ivt_ctrl_msg part = {.hdr = m->hdr};
		part.hdr.type = IVT_CTRL_OPEN;
		part.u.open = m->u.open_setup.open;
		if (!(part.u.open.flags & IVT_CTRL_OPEN_RING)) {
			protocol_error(c, "OPEN_SETUP of a connector without its ring");
			return;
		}
		handle_msg(c, &part);
		if (c->dead)
			return; /* the caller closes the fds */
		part.hdr.type = IVT_CTRL_SETUP;
		part.u.setup = m->u.open_setup.setup;
		memcpy(part.fds, m->fds, sizeof(part.fds));
		part.nfds = m->nfds;
		m->nfds = 0;
		handle_msg(c, &part);
		ivt_ctrl_msg_close_fds(&part); /* whatever it did not take */
		return;
	}
	case IVT_CTRL_ATTACH:
		c->seq = m->hdr.seq;
		handle_attach(c, &m->u.attach);
		return;
	case IVT_CTRL_SETUP:
		c->seq = m->hdr.seq;
		/* the fds are the broker's from here on */
		lr->reg.cb.setup(lr->reg.cb.arg, &c->end, m->u.setup.blob, m->u.setup.blob_len,
				 m->fds, m->nfds);
		m->nfds = 0;
		return;
	case IVT_CTRL_CLOSE:
		c->graceful = 1;
		mark_dead(c);
		return;
	case IVT_CTRL_STATUS:
		c->seq = m->hdr.seq;
		handle_status(c);
		return;
	case IVT_CTRL_LINE_STATS:
		/* a listener's word (the broker ignores other ends') */
		if (lr->reg.cb.line_stats)
			lr->reg.cb.line_stats(lr->reg.cb.arg, &c->end, m->u.line_stats.accepted,
					      m->u.line_stats.refused, m->u.line_stats.held);
		return;
	default:
		protocol_error(c, "message type not accepted from clients");
		return;
	}
}

static void read_msgs(struct local_conn *c, int fd)
{
	for (int i = 0; i < MSGS_PER_WAKEUP && !c->dead; i++) {
		struct ivt_ctrl_msg m;
		int rc = ivt_ctrl_recv(fd, &m, 0);
		if (rc == -ETIMEDOUT)
			return; /* drained */
		if (rc == -EPROTO) {
			protocol_error(c, "malformed control message");
			return;
		}
		if (rc < 0) {
			if (rc != -ECONNRESET)
				IVT_DEBUG(WHO, "%s: control socket: %s", IVT_ID_S(&c->end.who),
					  strerror(-rc));
			mark_dead(c);
			return;
		}
		handle_msg(c, &m);
		ivt_ctrl_msg_close_fds(&m); /* whatever handle_msg did not take */
	}
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct local_conn *c = arg;
	struct local_reg *lr = c->lr; /* c lives until reaped, after this */
	ivt_ctrl_cork_begin(&lr->cork);
	read_msgs(c, fd);
	ivt_ctrl_cork_end(&lr->cork);
}

/* Serve fd as a connection of uid (pid: for the logs). NULL: out of
 * memory (logged); fd is the caller's to close then. */
static struct local_conn *conn_add(struct local_reg *lr, int fd, uid_t uid, pid_t pid)
{
	struct local_conn *c = calloc(1, sizeof(*c));
	if (c)
		c->ev = event_new(lr->base, fd, EV_READ | EV_PERSIST, on_readable, c);
	struct uid_count *u = c && c->ev ? uid_counts_get(&lr->per_uid, uid) : NULL;
	if (!u) {
		IVT_ERR(WHO, "out of memory taking a control connection");
		if (c && c->ev)
			event_free(c->ev);
		free(c);
		return NULL;
	}
	u->conns++;
	c->lr = lr;
	c->fd = fd;
	c->end.reg = &lr->reg;
	c->end.domid = 0;
	c->end.uid = uid;
	c->end.pid = pid;
	c->end.who = ivt_identity_uid(uid);
	c->next = lr->conns;
	if (c->next)
		c->next->prev = c;
	lr->conns = c;
	lr->nconns++;
	event_add(c->ev, NULL);
	return c;
}

/* The accepting end's control connection for an offer to listener lis
 * (IVT_CTRL_OPEN_CTRL_FD): a socket pair whose one end ivtd serves as a
 * connection of lis's identity, as if that end had connected from lis's
 * process (only lis's process receives the other end). Within the same
 * limits as a connection. The other end, or -1: none (then the accepting
 * end connects, and hears the refusal, if any, from there). */
static int premade_conn(struct local_conn *lis)
{
	struct local_reg *lr = lis->lr;
	char why[IVT_ERRMSG_MAX + 1];
	int sv[2];
	if (admit(lr, lis->end.uid, why, sizeof(why)) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	/* ours never blocks; the client's end is blocking, as one it dials */
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0 ||
	    !conn_add(lr, sv[0], lis->end.uid, lis->end.pid)) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	return sv[1];
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	struct local_reg *lr = arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				ivt_log_limited(&refused_rl, IVT_LOG_WARN, WHO, "accept on %s: %s",
						lr->path, strerror(errno));
			return;
		}
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
			ivt_log_limited(&refused_rl, IVT_LOG_WARN, WHO,
					"refusing a control connection: SO_PEERCRED: %s",
					strerror(errno));
			close(fd);
			continue;
		}
		char why[IVT_ERRMSG_MAX + 1];
		int err = admit(lr, cred.uid, why, sizeof(why));
		if (err) {
			ivt_log_limited(&refused_rl, IVT_LOG_WARN, WHO,
					"refusing a control connection from uid:%u (pid %d): %s",
					(unsigned)cred.uid, (int)cred.pid, why);
			refuse_conn(fd, err, why);
			continue;
		}
		if (!conn_add(lr, fd, cred.uid, cred.pid)) {
			close(fd);
			continue;
		}
		IVT_DEBUG(WHO, "control connection from uid:%u (pid %d)", (unsigned)cred.uid,
			  (int)cred.pid);
		/* One per wake-up: the listening socket is level-triggered, so
		 * more waiting ones bring us back, and the usual single one
		 * costs no accept4 that finds none. */
		return;
	}
}

/* ---- the socket ---------------------------------------------------- */

/* mkdir -p for the socket's directory (0755: the socket itself is 0666). */
static int make_parent_dirs(const char *path, char *why, size_t why_len)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
				snprintf(why, why_len, "cannot create directory %s: %s", dir,
					 strerror(errno));
				return -errno;
			}
			*p = saved;
			if (!saved)
				break;
		}
	}
	return 0;
}

/* A socket file left behind by a dead ivtd is removed; a live one is not. */
static int clear_stale_socket(const struct sockaddr_un *sa, char *why, size_t why_len)
{
	struct stat st;
	if (lstat(sa->sun_path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, why_len, "%s exists and is not a socket; not touching it",
			 sa->sun_path);
		return -EEXIST;
	}
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0) {
		snprintf(why, why_len, "socket: %s", strerror(errno));
		return -errno;
	}
	int rc = connect(s, (const struct sockaddr *)sa, sizeof(*sa));
	int err = errno;
	close(s);
	if (rc == 0) {
		snprintf(why, why_len, "another ivtd is already listening on %s", sa->sun_path);
		return -EADDRINUSE;
	}
	if (err != ECONNREFUSED) {
		snprintf(why, why_len, "cannot check existing socket %s: %s", sa->sun_path,
			 strerror(err));
		return -err;
	}
	IVT_INFO(WHO, "removing stale socket %s", sa->sun_path);
	if (unlink(sa->sun_path) != 0 && errno != ENOENT) {
		snprintf(why, why_len, "cannot remove stale socket %s: %s", sa->sun_path,
			 strerror(errno));
		return -errno;
	}
	return 0;
}

static int open_listener(struct local_reg *lr, const char *path, char *why, size_t why_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, why_len, "socket path '%s' is empty or longer than %zu bytes",
			 path ? path : "", sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int rc = make_parent_dirs(path, why, why_len);
	if (rc)
		return rc;
	if ((rc = clear_stale_socket(&sa, why, why_len)))
		return rc;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, why_len, "socket: %s", strerror(errno));
		return -errno;
	}
	struct stat st;
	/* 0666: anyone may talk to ivtd; the policy decides what they get. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0666) != 0 ||
	    listen(fd, 128) != 0 || stat(path, &st) != 0) {
		rc = -errno;
		snprintf(why, why_len, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	lr->lfd = fd;
	lr->dev = st.st_dev;
	lr->ino = st.st_ino;
	snprintf(lr->path, sizeof(lr->path), "%s", path);
	return 0;
}

struct ivt_registry *ivt_registry_local_new(struct event_base *base, const char *socket_path,
					    const struct ivt_broker_cb *cb, char *why,
					    size_t why_len)
{
	char dummy[8];
	if (!why || !why_len) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	struct local_reg *lr = calloc(1, sizeof(*lr));
	if (!lr) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	lr->reg.ops = &local_ops;
	lr->cork.failed = cork_failed;
	lr->reg.cb = *cb;
	lr->base = base;
	lr->lfd = -1;
	lr->max_conns = table_size();
	lr->limits = (struct ivt_policy_limits){
		.connections = IVT_POLICY_LIMIT_CONNECTIONS_DEFAULT,
		.channels = IVT_POLICY_LIMIT_CHANNELS_DEFAULT,
		.root_reserve = IVT_POLICY_LIMIT_ROOT_RESERVE_DEFAULT,
		.detach_above = IVT_POLICY_LIMIT_DETACH_HALF,
	};
	if (open_listener(lr, socket_path, why, why_len) != 0) {
		free(lr);
		return NULL;
	}
	lr->listen_ev = event_new(base, lr->lfd, EV_READ | EV_PERSIST, on_accept, lr);
	lr->reap_ev = event_new(base, -1, 0, reap, lr);
	if (!lr->listen_ev || !lr->reap_ev || event_add(lr->listen_ev, NULL) != 0) {
		snprintf(why, why_len, "libevent: cannot register the listening socket");
		op_destroy(&lr->reg);
		return NULL;
	}
	IVT_INFO(WHO, "listening on %s (at most %zu control connections)", lr->path,
		 lr->max_conns);
	return &lr->reg;
}

void ivt_registry_local_set_status(struct ivt_registry *reg, ivt_status_fn fn, void *arg)
{
	if (!reg || reg->ops != &local_ops)
		return;
	struct local_reg *lr = (struct local_reg *)reg;
	lr->status_fn = fn;
	lr->status_arg = arg;
}

uint64_t ivt_registry_local_reap_visits(const struct ivt_registry *reg)
{
	if (!reg || reg->ops != &local_ops)
		return 0;
	return ((const struct local_reg *)reg)->reap_visits;
}

static void op_destroy(struct ivt_registry *reg)
{
	struct local_reg *lr = (struct local_reg *)reg;
	if (!lr)
		return;
	/* Ends go away without messages: the sockets closing says it all. */
	lr->destroying = 1;
	lr->cork.n = 0;
	lr->dead = NULL; /* all of them go below */
	while (lr->conns) {
		struct local_conn *c = lr->conns;
		if (!c->reported) {
			c->reported = 1;
			lr->reg.cb.gone(lr->reg.cb.arg, &c->end, c->graceful);
		}
		free_conn(c);
	}
	uid_counts_free(&lr->per_uid);
	if (lr->listen_ev)
		event_free(lr->listen_ev);
	if (lr->reap_ev)
		event_free(lr->reap_ev);
	if (lr->lfd >= 0) {
		close(lr->lfd);
		/* Only remove the socket if it is still ours (not a successor's). */
		struct stat st;
		if (lstat(lr->path, &st) == 0 && st.st_dev == lr->dev && st.st_ino == lr->ino)
			unlink(lr->path);
	}
	free(lr);
}
