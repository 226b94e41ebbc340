/* SPDX-License-Identifier: MIT */
#include "common/fd_stdio.h"
#include "common/clock.h"
#include "ctrl_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ctrl_compat.h"
#include "errors.h"

const char *ivt_ctrl_socket_path(const char *opt)
{
	if (opt && *opt)
		return opt;
	const char *env = getenv("IVT_SOCKET");
	return env && *env ? env : IVT_DEFAULT_SOCKET;
}

static void take_peer_info(struct ivt_ctrl_conn *cc, const struct ivt_ctrl_peer_info *pi)
{
	if (!atomic_load(&cc->flags_set)) {
		cc->peer_flags = pi->flags;
		atomic_store(&cc->flags_set, 1);
	}
	if (atomic_load(&cc->identity_set))
		return; /* the one ivtd sent first stays: readers may hold it */
	snprintf(cc->peer_identity, sizeof(cc->peer_identity), "%s", pi->identity);
	atomic_store(&cc->identity_set, 1);
}

static void await_peer_info(struct ivt_ctrl_conn *cc, atomic_int *set);

/* conn_ring.c keeps lines (absent where only this file is linked: then
 * lines are refused by closing them) */
void conn_line_keep(const char *path, const char *name, const struct ivt_ctrl_line *l, int fd)
	__attribute__((weak));

/* A LINE from ivtd (m's one fd): a connector that asked keeps it. */
static void take_line(struct ivt_ctrl_conn *cc, struct ivt_ctrl_msg *m)
{
	pthread_mutex_lock(&cc->early_lock);
	int want = cc->wants_line;
	cc->wants_line = 0; /* one per connection */
	if (cc->accepting && cc->held_line < 0 && m->nfds == 2) { /* the listener's */
		cc->held_line = m->fds[0];
		cc->held_keep = m->fds[1];
		cc->held_info = m->u.line;
		m->nfds = 0;
	}
	pthread_mutex_unlock(&cc->early_lock);
	if (want && conn_line_keep && m->nfds == 1) {
		conn_line_keep(cc->path, cc->name, &m->u.line, m->fds[0]);
		m->nfds = 0;
	}
	ivt_ctrl_msg_close_fds(m);
}

/* The connector's name, and whether it takes a line (before its OPEN). */
static void note_request(struct ivt_ctrl_conn *cc, const struct ivt_ctrl_open *req)
{
	snprintf(cc->name, sizeof(cc->name), "%s", req->name);
	cc->wants_line = !(req->flags & IVT_LISTEN) && (req->flags & IVT_CTRL_OPEN_LINES);
	cc->accepting = (req->flags & IVT_LISTEN) && (req->flags & IVT_CTRL_OPEN_ACCEPT);
}

int ivt_ctrl_conn_take_line(struct ivt_ctrl_conn *cc, struct ivt_ctrl_line *info, int *keep)
{
	pthread_mutex_lock(&cc->early_lock);
	int fd = cc->held_line;
	if (fd >= 0) {
		*info = cc->held_info;
		*keep = cc->held_keep;
	}
	cc->held_line = cc->held_keep = -1;
	pthread_mutex_unlock(&cc->early_lock);
	return fd;
}

const char *ivt_ctrl_conn_peer_identity(struct ivt_ctrl_conn *cc)
{
	if (atomic_load(&cc->ok_pending) && !atomic_load(&cc->identity_set))
		await_peer_info(cc, &cc->identity_set);
	/* A one-shot listener's open can end on the ring (its peer attached)
	 * before any wait read the PEER_INFO ivtd queued ahead of the peer's
	 * OPEN_OK: it is in the socket, read it. */
	if (!atomic_load(&cc->identity_set) && cc->sock >= 0)
		ivt_ctrl_conn_drain(cc);
	return atomic_load(&cc->identity_set) ? cc->peer_identity : "";
}

/* Act on an unsolicited message (after OPEN_OK). */
static void handle(struct ivt_ctrl_conn *cc, struct ivt_ctrl_msg *m)
{
	if (ivt_ctrl_conn_reattach_msg(cc, m))
		return;
	switch (m->hdr.type) {
	case IVT_CTRL_PEER_INFO:
		take_peer_info(cc, &m->u.peer_info);
		break;
	case IVT_CTRL_LINE:
		take_line(cc, m);
		break;
	case IVT_CTRL_PEER:
		atomic_store(&cc->peer_domid, m->u.peer.peer_domid);
		/* DIED is final: a later CLOSED must not soften it */
		if (atomic_load(&cc->peer_event) != IVT_PEER_DIED)
			atomic_store(&cc->peer_event, (int)m->u.peer.event);
		break;
	case IVT_CTRL_OPEN_OK:
		/* the answer to a connector that brought its ring (open_ring),
		 * after the ring said it was accepted */
		atomic_store(&cc->ok_pending, 0);
		if (m->u.open_ok.flags & IVT_CTRL_OK_DETACHED) {
			/* an accepting end that did not wait: as open_attempt */
			atomic_store(&cc->re_state, IVT_RE_NEVER);
			atomic_store(&cc->daemon_gone, 1);
		}
		break;
	case IVT_CTRL_SETUP:
		/* The peer's half of a setup (its fds, if any, are dropped:
		 * nothing after a listener's own setup carries ones we want). */
		pthread_mutex_lock(&cc->early_lock);
		if (!cc->has_early && m->u.setup.blob_len <= sizeof(cc->early_blob)) {
			memcpy(cc->early_blob, m->u.setup.blob, m->u.setup.blob_len);
			cc->early_len = m->u.setup.blob_len;
			cc->has_early = 1;
		}
		pthread_mutex_unlock(&cc->early_lock);
		break;
	case IVT_CTRL_ERROR:
		if (atomic_load(&cc->ok_pending)) {
			/* An end that went on before ivtd's answer (a ring the
			 * connector made) and is refused after all: the ring is
			 * up, and its backend tells the peer's fate without
			 * ivtd (IVT_CAP_PEER_FATE). Go on without ivtd. */
			IVT_INFO("libivt", "ivtd did not take this end (%s); the channel goes on "
					   "without it", m->u.error.msg);
			atomic_store(&cc->ok_pending, 0);
			atomic_store(&cc->re_state, IVT_RE_NEVER);
			atomic_store(&cc->daemon_gone, 1);
			break;
		}
		/* the daemon tore the channel down; treat as the peer gone */
		IVT_WARN("libivt", "ivtd ended the channel: %s", m->u.error.msg);
		atomic_store(&cc->peer_event, IVT_PEER_DIED);
		break;
	default:
		IVT_DEBUG("libivt", "ignoring control message type %u", m->hdr.type);
		break;
	}
	ivt_ctrl_msg_close_fds(m); /* nothing after setup carries fds we want */
}

static void daemon_lost(struct ivt_ctrl_conn *cc, int rc)
{
	if (!atomic_exchange(&cc->daemon_gone, 1))
		IVT_WARN("libivt", "lost the connection to ivtd (%s); the data path continues",
			 strerror(-rc));
}

int ivt_ctrl_conn_drain(struct ivt_ctrl_conn *cc)
{
	if (atomic_load(&cc->daemon_gone))
		return 0;
	for (;;) {
		struct ivt_ctrl_msg m;
		int rc = ivt_ctrl_recv(cc->sock, &m, 0);
		if (rc == 0) {
			handle(cc, &m);
			if (atomic_load(&cc->daemon_gone))
				return 1; /* ivtd refused a re-attach: stop polling it */
			continue;
		}
		if (rc == -ETIMEDOUT || rc == -EAGAIN || rc == -EINTR)
			return 0;
		daemon_lost(cc, rc);
		return 1;
	}
}

/* ---- struct ivt_oob over the control socket ---------------------------- */

static int oob_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds)
{
	struct ivt_ctrl_conn *cc = ctx;
	struct ivt_ctrl_setup s;
	if (ivt_ctrl_setup_fill(&s, blob, len, nfds) < 0)
		return -EINVAL;
	if (cc->pending_open) { /* a connector's ring: its OPEN and SETUP in one call */
		const struct ivt_ctrl_open *open = cc->pending_open;
		cc->pending_open = NULL;
		int rc = ivt_ctrl_send_open_setup(cc->sock, cc->seq + 1, open, &s, fds, nfds,
						  cc->pending_one);
		cc->seq += 2;
		cc->pending_rc = rc;
		return rc;
	}
	return ivt_ctrl_send(cc->sock, IVT_CTRL_SETUP, ++cc->seq, &s, sizeof(s), fds, nfds);
}

/* Wait for the server's setup, relayed by the daemon. fds: on entry *nfds
 * is the room in fds (shm passes IVT_OOB_FDS_MAX). */
static int oob_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	struct ivt_ctrl_conn *cc = ctx;
	int room = *nfds;
	*nfds = 0;
	pthread_mutex_lock(&cc->early_lock);
	if (cc->has_early) {
		int n = cc->early_len <= cap ? (int)cc->early_len : -EMSGSIZE;
		if (n > 0)
			memcpy(blob, cc->early_blob, (size_t)n);
		cc->has_early = 0;
		pthread_mutex_unlock(&cc->early_lock);
		if (n < 0)
			ivt_reason_set(-EPROTO, "setup message larger than the backend expects");
		return n < 0 ? -EPROTO : n;
	}
	pthread_mutex_unlock(&cc->early_lock);
	long long deadline = ivt_deadline_ms(timeout_ms);
	for (;;) {
		struct ivt_ctrl_msg m;
		int rc = ivt_ctrl_recv(cc->sock, &m, ivt_left_ms(deadline));
		if (rc == -ETIMEDOUT) {
			ivt_reason_set(-ETIMEDOUT, "no setup from the listening end within %d ms",
				       timeout_ms);
			return rc;
		}
		if (rc < 0) {
			ivt_reason_set(rc, "control connection to ivtd failed during setup");
			return rc == -EPROTO ? rc : -ECONNRESET;
		}
		if (m.hdr.type == IVT_CTRL_SETUP) {
			if (m.u.setup.blob_len > cap || m.nfds > room) {
				ivt_ctrl_msg_close_fds(&m);
				ivt_reason_set(-EPROTO, "setup message larger than the backend expects");
				return -EPROTO;
			}
			memcpy(blob, m.u.setup.blob, m.u.setup.blob_len);
			for (int i = 0; i < m.nfds; i++)
				fds[i] = m.fds[i];
			*nfds = m.nfds;
			return (int)m.u.setup.blob_len;
		}
		if (m.hdr.type == IVT_CTRL_ERROR) {
			ivt_reason_set(-m.u.error.err, "%s", m.u.error.msg);
			ivt_ctrl_msg_close_fds(&m);
			return -m.u.error.err;
		}
		handle(cc, &m);
		int ev = atomic_load(&cc->peer_event);
		if (ev == IVT_PEER_CLOSED || ev == IVT_PEER_DIED) {
			ivt_reason_set(-ECONNRESET, "the listening end went away during setup");
			return -ECONNRESET;
		}
	}
}

/* ---- opening ------------------------------------------------------------ */

int ivt_ctrl_dial(const char *path, int nonblock_connect)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int type = SOCK_SEQPACKET | SOCK_CLOEXEC | (nonblock_connect ? SOCK_NONBLOCK : 0);
	int s = ivt_fd_off_stdio(socket(AF_UNIX, type, 0));
	if (s < 0)
		return -errno;
	while (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (e == EINTR && !nonblock_connect)
			continue;
		close(s);
		return e == EINPROGRESS ? -EAGAIN : -e;
	}
	/* our own description: the daemon holds the other end's */
	if (nonblock_connect && fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK) < 0) {
		int e = errno;
		close(s);
		return -e;
	}
	return s;
}

static int connect_daemon(struct ivt_ctrl_conn *cc, const char *path)
{
	snprintf(cc->path, sizeof(cc->path), "%s", path);
	int s = ivt_ctrl_dial(path, 0);
	if (s >= 0) {
		cc->sock = s;
		return 0;
	}
	int e = -s;
	if (e == ENAMETOOLONG) {
		ivt_reason_set(-ENAMETOOLONG, "socket path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
		ivt_reason_set(-ECONNREFUSED, "ivtd is not running: socket %s: %s", path,
			       strerror(e));
		return -ECONNREFUSED;
	}
	ivt_reason_set(-e, "cannot reach ivtd at %s: %s", path, strerror(e));
	return e == EACCES || e == EPERM ? -EACCES : -e;
}

int ivt_ctrl_conn_open(struct ivt_ctrl_conn *cc, const char *path, const struct ivt_ctrl_open *req,
		       struct ivt_ctrl_open_ok *ok, int timeout_ms)
{
	return ivt_ctrl_conn_open_early(cc, path, req, ok, timeout_ms, NULL, NULL);
}

static void conn_init(struct ivt_ctrl_conn *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->sock = -1;
	cc->held_line = cc->held_keep = -1;
	pthread_mutex_init(&cc->re_lock, NULL); /* no resources: never destroyed */
	pthread_mutex_init(&cc->early_lock, NULL); /* likewise */
	cc->oob = (struct ivt_oob){.ctx = cc, .send = oob_send, .recv = oob_recv};
}

/* One OPEN on a new connection. *known: set when ivtd refused the OPEN
 * for its flags (ivt_ctrl_compat_known). */
/* ivtd took our OPEN but said nothing in time: it may itself be waiting,
 * most often for another host's ivtd it bridges the channel to (a dial
 * that takes seconds when that host is down), so do not blame it alone. */
#define NO_ANSWER_WHY                                                                       \
	" (it may still be waiting for the listener's side: for a channel to another "     \
	"host, that host's ivtd; `ivtctl status` shows the peers)"

static int open_attempt(struct ivt_ctrl_conn *cc, const char *path,
			const struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok,
			int timeout_ms, void (*early)(void *arg), void *arg, uint32_t *known)
{
	conn_init(cc);
	note_request(cc, req);
	int rc = connect_daemon(cc, path);
	if (rc < 0)
		return rc;
	rc = ivt_ctrl_send(cc->sock, IVT_CTRL_OPEN, ++cc->seq, req, sizeof(*req), NULL, 0);
	/* If ivtd refused the connection itself (limits), its ERROR says why
	 * and is still there to read although our send failed. */
	int sent = rc == 0;
	if (sent && early)
		early(arg); /* while ivtd reads the OPEN: its SETUP follows it */
	for (;;) {
		struct ivt_ctrl_msg m;
		rc = ivt_ctrl_recv(cc->sock, &m, sent ? timeout_ms : 0);
		if (!sent && (rc < 0 || m.hdr.type != IVT_CTRL_ERROR)) {
			if (rc == 0)
				ivt_ctrl_msg_close_fds(&m);
			ivt_reason_set(-ECONNREFUSED, "ivtd hung up on socket %s", path);
			rc = -ECONNREFUSED;
			goto fail;
		}
		if (rc == -ETIMEDOUT) {
			ivt_reason_set(rc, "ivtd at %s did not answer within %d ms" NO_ANSWER_WHY, path,
				       timeout_ms);
			goto fail;
		}
		if (rc == -EPROTO) {
			ivt_reason_set(rc, "malformed answer from ivtd at %s", path);
			goto fail;
		}
		if (rc < 0) {
			ivt_reason_set(-ECONNREFUSED, "ivtd closed the connection on socket %s", path);
			rc = -ECONNREFUSED;
			goto fail;
		}
		if (m.hdr.type == IVT_CTRL_OPEN_OK) {
			*ok = m.u.open_ok;
			if ((req->flags & IVT_CTRL_OPEN_DETACH) && (ok->flags & IVT_CTRL_OK_DETACHED)) {
				/* ivtd hangs up once our SETUP is in (behind the
				 * OPEN, or sent next): nothing more to hear, nothing
				 * to re-attach; the backend says the peer's fate */
				atomic_store(&cc->re_state, IVT_RE_NEVER);
				atomic_store(&cc->daemon_gone, 1);
				return 0;
			}
			ivt_ctrl_conn_keep_attach(cc, req, ok);
			return 0;
		}
		if (m.hdr.type == IVT_CTRL_ATTACH_INFO) {
			ivt_ctrl_conn_reattach_msg(cc, &m);
			continue;
		}
		if (m.hdr.type == IVT_CTRL_PEER_INFO) {
			take_peer_info(cc, &m.u.peer_info);
			continue;
		}
		if (m.hdr.type == IVT_CTRL_LINE) {
			take_line(cc, &m);
			continue;
		}
		if (m.hdr.type == IVT_CTRL_ERROR) {
			rc = -m.u.error.err;
			*known = ivt_ctrl_compat_known(&m.u.error, req->flags);
			ivt_reason_set(rc, "%s", m.u.error.msg[0] ? m.u.error.msg : "refused by ivtd");
			goto fail;
		}
		/* nothing else is valid before the answer */
		ivt_ctrl_msg_close_fds(&m);
		ivt_reason_set(-EPROTO, "ivtd sent message type %u before answering OPEN",
			       m.hdr.type);
		rc = -EPROTO;
		goto fail;
	}
fail:
	close(cc->sock);
	cc->sock = -1;
	return rc;
}

int ivt_ctrl_conn_open_early(struct ivt_ctrl_conn *cc, const char *path,
			     const struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok,
			     int timeout_ms, void (*early)(void *arg), void *arg)
{
	struct ivt_ctrl_open sent = *req;
	for (;;) { /* at most once per optional flag, then once more */
		uint32_t known = 0;
		int rc = open_attempt(cc, path, &sent, ok, timeout_ms, early, arg, &known);
		if (rc != -EINVAL || !known)
			return rc;
		/* an older ivtd: again without what it does not know, if we can */
		if ((rc = ivt_ctrl_compat_open(&sent, known, path)) < 0)
			return rc;
	}
}

int ivt_ctrl_conn_incoming(struct ivt_ctrl_conn *cc, uint32_t *ticket,
			   struct ivt_ring_offer *offer, int timeout_ms)
{
	offer->has = 0;
	offer->nfds = 0;
	offer->ctrl_fd = -1;
	offer->line = 0;
	offer->pool = NULL;
	offer->line_fd = offer->line_keep = -1;
	offer->lines_drop = 0;
	for (;;) {
		struct ivt_ctrl_msg m;
		int rc = ivt_ctrl_recv(cc->sock, &m, timeout_ms);
		if (rc == -ETIMEDOUT)
			return -EAGAIN;
		if (rc == -EPROTO) {
			ivt_reason_set(rc, "malformed message from ivtd at %s", cc->path);
			return rc;
		}
		if (rc < 0) {
			atomic_store(&cc->daemon_gone, 1);
			ivt_reason_set(-ECONNRESET, "ivtd at %s closed the listener's connection",
				       cc->path);
			return -ECONNRESET;
		}
		if (m.hdr.type == IVT_CTRL_INCOMING_RING) {
			const struct ivt_ctrl_incoming_ring *r = &m.u.incoming_ring;
			*ticket = r->in.ticket;
			offer->has = 1;
			memcpy(offer->identity, r->in.identity, sizeof(offer->identity));
			offer->blob_len = r->setup.blob_len;
			memcpy(offer->blob, r->setup.blob, r->setup.blob_len);
			/* the caller's from here on; one beyond the setup's is
			 * the accepting end's control connection (the parser
			 * allows it; only a listener that asked gets it) */
			offer->nfds = (int)r->setup.nfds;
			memcpy(offer->fds, m.fds, sizeof(int) * (size_t)offer->nfds);
			if (m.nfds > offer->nfds)
				offer->ctrl_fd = m.fds[offer->nfds];
			return 0;
		}
		if (m.hdr.type == IVT_CTRL_LINE && m.nfds == 2) { /* the caller's */
			offer->line_fd = m.fds[0];
			offer->line_keep = m.fds[1];
			offer->line_info = m.u.line;
			return IVT_INCOMING_LINE;
		}
		ivt_ctrl_msg_close_fds(&m);
		if (m.hdr.type == IVT_CTRL_LINES_DROP) {
			offer->lines_drop = 1;
			return IVT_INCOMING_LINE;
		}
		if (m.hdr.type == IVT_CTRL_INCOMING) {
			*ticket = m.u.incoming.ticket;
			return 0;
		}
		if (m.hdr.type == IVT_CTRL_ERROR) {
			ivt_reason_set(-m.u.error.err, "%s", m.u.error.msg);
			return -m.u.error.err;
		}
		/* anything else says nothing to a listener */
	}
}

/* ---- a connector that brings its ring --------------------------------- */

/* How long a connector whose ring went away waits for ivtd to say why. */
#define RING_GONE_ANSWER_MS 500

/* One message while the ring is not attached yet: 1 ivtd answered (*ok),
 * 2 queued at the listener (IVT_CTRL_OPEN_QUEUED), 0 go on waiting, else
 * the refusal. */
static int ring_msg(struct ivt_ctrl_conn *cc, const struct ivt_ctrl_open *req,
		    struct ivt_ctrl_open_ok *ok)
{
	struct ivt_ctrl_msg m;
	int rc = ivt_ctrl_recv(cc->sock, &m, 0);
	if (rc == -ETIMEDOUT)
		return 0;
	if (rc == -EPROTO) {
		ivt_reason_set(rc, "malformed answer from ivtd at %s", cc->path);
		return rc;
	}
	if (rc < 0) {
		ivt_reason_set(-ECONNREFUSED, "ivtd closed the connection on socket %s", cc->path);
		return -ECONNREFUSED;
	}
	if (m.hdr.type == IVT_CTRL_LINE) {
		take_line(cc, &m);
		return 0;
	}
	ivt_ctrl_msg_close_fds(&m);
	switch (m.hdr.type) {
	case IVT_CTRL_OPEN_OK:
		*ok = m.u.open_ok;
		ivt_ctrl_conn_keep_attach(cc, req, ok);
		return 1;
	case IVT_CTRL_ATTACH_INFO:
		ivt_ctrl_conn_reattach_msg(cc, &m);
		return 0;
	case IVT_CTRL_PEER_INFO:
		take_peer_info(cc, &m.u.peer_info);
		return 0;
	case IVT_CTRL_QUEUED:
		if (req->flags & IVT_CTRL_OPEN_QUEUED)
			return 2; /* offered: go on, as TCP's connect does */
		ivt_reason_set(-EPROTO, "ivtd said QUEUED to a connector that did not ask");
		return -EPROTO;
	case IVT_CTRL_ERROR:
		rc = -m.u.error.err;
		ivt_reason_set(rc, "%s", m.u.error.msg[0] ? m.u.error.msg : "refused by ivtd");
		/* an ivtd without connector-made rings: the ordinary way */
		return rc == -EINVAL && m.u.error.known_flags &&
			       !(m.u.error.known_flags & IVT_CTRL_OPEN_RING) ? -ESTALE : rc;
	default:
		ivt_reason_set(-EPROTO, "ivtd sent message type %u before answering OPEN",
			       m.hdr.type);
		return -EPROTO;
	}
}

/* What ivtd's OPEN_OK will say, as far as req tells: the answer an end
 * that does not wait for it goes on with. */
static void implied_ok(struct ivt_ctrl_conn *cc, const struct ivt_ctrl_open *req,
		       struct ivt_ctrl_open_ok *ok)
{
	memset(ok, 0, sizeof(*ok));
	snprintf(ok->backend, sizeof(ok->backend), "%s", req->backend);
	ok->ring_size = req->ring_size;
	ok->is_server = !!(req->flags & IVT_LISTEN);
	ok->flags = (req->flags & IVT_MESSAGE) ? IVT_CTRL_OK_MESSAGE : 0;
	ivt_ctrl_conn_keep_attach(cc, req, ok);
	atomic_store(&cc->ok_pending, 1);
}

int ivt_ctrl_conn_open_ring(struct ivt_ctrl_conn *cc, const char *path,
			    const struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok,
			    int timeout_ms, const struct ivt_ring_wait *w)
{
	conn_init(cc);
	note_request(cc, req);
	int rc;
	if (!w->build && w->ctrl_fd >= 0) { /* ivtd's connection came with the offer */
		snprintf(cc->path, sizeof(cc->path), "%s", path);
		cc->sock = w->ctrl_fd;
		rc = 0;
	} else {
		rc = connect_daemon(cc, path);
	}
	if (rc < 0)
		return rc;
	if (!w->build) { /* an accepting end: its ring is attached already */
		rc = ivt_ctrl_send(cc->sock, IVT_CTRL_OPEN, ++cc->seq, req, sizeof(*req), NULL, 0);
		if (rc < 0) {
			ivt_reason_set(-ECONNREFUSED, "ivtd hung up on socket %s", path);
			close(cc->sock);
			cc->sock = -1;
			return -ECONNREFUSED;
		}
		if (w->peer_identity) {
			snprintf(cc->peer_identity, sizeof(cc->peer_identity), "%s", w->peer_identity);
			atomic_store(&cc->identity_set, 1);
		}
		implied_ok(cc, req, ok);
		return 0;
	}
	/* the backend's setup message carries the OPEN along (oob_send) */
	cc->pending_open = req;
	cc->pending_one = w->one_msg;
	cc->pending_rc = 0;
	rc = w->build(w->arg);
	if (cc->pending_open) {
		cc->pending_open = NULL;
		if (rc == 0) {
			ivt_reason_set(-EPROTO, "backend sent no setup for its ring");
			rc = -EPROTO;
		}
	} else if (cc->pending_rc < 0) {
		rc = -ESTALE; /* refused at the door (limits): the ordinary way reads why */
	}
	long long deadline = ivt_deadline_ms(timeout_ms);
	int woken = 0;
	while (rc == 0) {
		int a = w->attached(w->arg, woken);
		if (a > 0) { /* accepted; ivtd's answer is read later */
			implied_ok(cc, req, ok);
			return 0;
		}
		if (a < 0) {
			/* The ring went with its offer (the listener closed, and
			 * ivtd's ERROR says so right behind), or the accepting
			 * end refused it (then ivtd says nothing). */
			struct pollfd p = {.fd = cc->sock, .events = POLLIN};
			if (poll(&p, 1, RING_GONE_ANSWER_MS) > 0 && (rc = ring_msg(cc, req, ok)) < 0)
				break;
			ivt_reason_set(-ECONNRESET, "the listening end of '%s' did not take this "
						    "connection's ring", req->name);
			rc = -ECONNRESET;
			break;
		}
		struct pollfd p[2] = {{.fd = cc->sock, .events = POLLIN},
				      {.fd = w->fd(w->arg), .events = POLLIN}};
		int n = poll(p, 2, ivt_left_ms(deadline));
		woken = n > 0 && p[1].revents;
		if (n == 0) {
			ivt_reason_set(-ETIMEDOUT, "ivtd at %s did not answer within %d ms" NO_ANSWER_WHY,
				       path, timeout_ms);
			rc = -ETIMEDOUT;
		} else if (n > 0 && p[0].revents) {
			rc = ring_msg(cc, req, ok);
			if (rc == 1)
				return 1;
			if (rc == 2) { /* queued; the accept shows in the ring */
				implied_ok(cc, req, ok);
				return 0;
			}
		} else if (n < 0 && errno != EINTR) {
			rc = -errno;
		}
	}
	close(cc->sock);
	cc->sock = -1;
	return rc;
}

uint32_t ivt_ctrl_conn_peer_flags(struct ivt_ctrl_conn *cc)
{
	/* as the identity: in the socket already, or (an end that went on
	 * before ivtd's OPEN_OK) on its way */
	if (!atomic_load(&cc->flags_set) && cc->sock >= 0)
		ivt_ctrl_conn_drain(cc);
	if (atomic_load(&cc->ok_pending) && !atomic_load(&cc->flags_set))
		await_peer_info(cc, &cc->flags_set);
	return atomic_load(&cc->flags_set) ? cc->peer_flags : 0;
}

/* A connector that brought its ring (or the end that accepted one) may
 * ask for what PEER_INFO says before it came: it is on its way (ivtd
 * sends it as it takes the accepting end's OPEN). Wait for it a little. */
static void await_peer_info(struct ivt_ctrl_conn *cc, atomic_int *set)
{
	long long deadline = ivt_deadline_ms(2000);
	while (!atomic_load(set) && !atomic_load(&cc->daemon_gone) &&
	       ivt_left_ms(deadline) > 0) {
		struct pollfd p = {.fd = cc->sock, .events = POLLIN};
		if (poll(&p, 1, ivt_left_ms(deadline)) > 0 && ivt_ctrl_conn_drain(cc))
			break;
	}
}

void ivt_ctrl_conn_close(struct ivt_ctrl_conn *cc, int graceful)
{
	struct ivt_ctrl_line unused;
	int keep, line = ivt_ctrl_conn_take_line(cc, &unused, &keep);
	if (line >= 0) { /* its listener did not take it */
		close(line);
		close(keep);
	}
	if (cc->sock < 0)
		return;
	if (graceful && !atomic_load(&cc->daemon_gone)) {
		/* a line ivtd sent with its answer may be unread yet: keep it */
		pthread_mutex_lock(&cc->early_lock);
		int want = cc->wants_line;
		pthread_mutex_unlock(&cc->early_lock);
		if (want)
			ivt_ctrl_conn_drain(cc);
		ivt_ctrl_send(cc->sock, IVT_CTRL_CLOSE, ++cc->seq, NULL, 0, NULL, 0);
	}
	close(cc->sock);
	cc->sock = -1;
}
