/* SPDX-License-Identifier: MIT */
/*
 * Re-attaching a channel end's control connection to a restarted ivtd
 * (docs/ivtd.8.md, "Restarts"; ivtd's side is core/broker_attach.c).
 *
 * The data path of a co-located channel does not need ivtd, but ivtd is
 * what lists the channel, tells an end when the other one closes or dies
 * and counts it. When the control socket drops, the end keeps the old
 * socket's descriptor number and, from inside the calls it makes anyway
 * (wait.c: blocking waits wake for it, ivt_fd becomes readable when an
 * attempt is due), tries with backoff: a non-blocking connect and one
 * ATTACH datagram, never a wait. On success the new socket replaces the
 * old one at the same number (dup3), so a thread polling or reading that
 * number concurrently never sees a descriptor of somebody else's.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "ctrl_conn.h"

#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 2000

void ivt_ctrl_conn_keep_attach(struct ivt_ctrl_conn *cc, const struct ivt_ctrl_open *req,
			       const struct ivt_ctrl_open_ok *ok)
{
	struct ivt_ctrl_attach *a = &cc->attach;
	memset(a, 0, sizeof(*a));
	memcpy(a->name, req->name, sizeof(a->name));
	memcpy(a->backend, ok->backend, sizeof(a->backend));
	a->ring_size = ok->ring_size;
	a->flags = (ok->is_server ? IVT_CTRL_ATTACH_SERVER : 0) |
		   ((ok->flags & IVT_CTRL_OK_MESSAGE) ? IVT_CTRL_ATTACH_MESSAGE : 0);
}

int ivt_ctrl_conn_reattach_msg(struct ivt_ctrl_conn *cc, const struct ivt_ctrl_msg *m)
{
	switch (m->hdr.type) {
	case IVT_CTRL_ATTACH_INFO:
		if (!atomic_load(&cc->has_cookie)) {
			memcpy(cc->cookie, m->u.attach_info.cookie, sizeof(cc->cookie));
			atomic_store(&cc->has_cookie, 1);
		}
		return 1;
	case IVT_CTRL_ATTACH_OK:
		if (atomic_load(&cc->re_state) == IVT_RE_SENT) {
			IVT_INFO("libivt", "channel '%s': re-attached to the restarted ivtd%s",
				 cc->attach.name, m->u.attach_ok.paired ? "" : " (its peer not yet)");
			atomic_store(&cc->re_backoff_ms, 0);
			atomic_store(&cc->re_state, IVT_RE_IDLE);
		}
		return 1;
	case IVT_CTRL_ERROR: {
		if (atomic_load(&cc->re_state) != IVT_RE_SENT)
			return 0; /* ivtd ended an adopted or ordinary channel: handle() */
		int e = m->u.error.err;
		/* ivtd's limits may free up; anything else will not change */
		int again = e == EUSERS || e == EMFILE || e == EAGAIN || e == ENOMEM;
		IVT_WARN("libivt", "channel '%s': ivtd did not take it back (%s)%s", cc->attach.name,
			 m->u.error.msg, again ? "; trying again later"
					       : "; the channel goes on without ivtd");
		atomic_store(&cc->re_state, again ? IVT_RE_IDLE : IVT_RE_NEVER);
		atomic_store(&cc->daemon_gone, 1);
		/* free ivtd's slot now; the descriptor number stays ours */
		shutdown(cc->sock, SHUT_RDWR);
		return 1;
	}
	default:
		return 0;
	}
}

/* A new connection that said ATTACH, or a negative errno. */
static int dial_attach(struct ivt_ctrl_conn *cc)
{
	int s = ivt_ctrl_dial(cc->path, 1);
	if (s < 0)
		return s;
	struct ivt_ctrl_attach a = cc->attach;
	memcpy(a.cookie, cc->cookie, sizeof(a.cookie));
	memcpy(a.peer_identity, cc->peer_identity, sizeof(a.peer_identity));
	int rc = ivt_ctrl_send(s, IVT_CTRL_ATTACH, ++cc->seq, &a, sizeof(a), NULL, 0);
	if (rc < 0) {
		close(s);
		return rc;
	}
	return s;
}

int ivt_ctrl_conn_reattach(struct ivt_ctrl_conn *cc, int *next_ms)
{
	*next_ms = -1;
	if (!atomic_load(&cc->daemon_gone))
		return 1;
	if (atomic_load(&cc->re_state) == IVT_RE_NEVER || !atomic_load(&cc->has_cookie) ||
	    !atomic_load(&cc->identity_set) || cc->sock < 0)
		return -1;
	if (pthread_mutex_trylock(&cc->re_lock) != 0) {
		*next_ms = RETRY_FIRST_MS; /* another thread is at it */
		return 0;
	}
	int rc = 0;
	long long now = ivt_now_ms();
	if (!atomic_load(&cc->daemon_gone)) {
		rc = 1;
	} else if (now < cc->re_next_ms) {
		*next_ms = (int)(cc->re_next_ms - now);
	} else {
		int s = dial_attach(cc);
		if (s >= 0 && dup3(s, cc->sock, O_CLOEXEC) >= 0) {
			atomic_store(&cc->re_state, IVT_RE_SENT);
			atomic_store(&cc->daemon_gone, 0);
			rc = 1;
		}
		if (s >= 0)
			close(s);
		/* the next loss (or a refusal "for now") waits this long */
		int b = atomic_load(&cc->re_backoff_ms);
		b = b ? b : RETRY_FIRST_MS;
		cc->re_next_ms = now + b;
		atomic_store(&cc->re_backoff_ms, b * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : b * 2);
		if (!rc)
			*next_ms = b;
	}
	pthread_mutex_unlock(&cc->re_lock);
	return rc;
}
