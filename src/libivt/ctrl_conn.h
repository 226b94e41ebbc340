/* SPDX-License-Identifier: MIT */
/*
 * libivt's control connection to ivtd: one AF_UNIX SOCK_SEQPACKET socket
 * per channel end (common/ctrl_proto.h). It opens the end, carries the
 * plugin's setup (struct ivt_oob) and later reports the peer's fate.
 */
#ifndef IVT_LIBIVT_CTRL_CONN_H
#define IVT_LIBIVT_CTRL_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/un.h>

#include "common/ctrl_msg.h"
#include "ctrl.h"

struct ivt_ctrl_conn {
	int sock;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint32_t seq;
	atomic_int peer_event;   /* 0 or the last enum ivt_peer_event */
	atomic_uint peer_domid;
	atomic_int daemon_gone;  /* socket hung up or spoke garbage: stop listening */
	/* PEER_INFO: written once, then published by identity_set */
	char peer_identity[IVT_IDENTITY_MAX + 1];
	atomic_int identity_set;
	/* PEER_INFO's flags (IVT_CTRL_PEER_*): written once, then published
	 * by flags_set (an accepting end may know the identity from its
	 * offer before PEER_INFO came) */
	uint32_t peer_flags;
	atomic_int flags_set;
	struct ivt_oob oob;
	/* A SETUP (blob only) that arrived while the control socket was
	 * drained for PEER events: a direct queue pair's connector blob
	 * reaches the listening end after PEER CONNECTED. oob_recv returns it
	 * first. Guarded by early_lock. */
	pthread_mutex_t early_lock;
	uint8_t early_blob[IVT_OOB_BLOB_MAX];
	uint32_t early_len;
	int has_early;
	/* opened by open_ring before ivtd's OPEN_OK: ivt_peer_identity may
	 * wait for the PEER_INFO still on its way */
	atomic_int ok_pending;
	/* open_ring: the OPEN the ring's SETUP carries along, and how that went */
	const struct ivt_ctrl_open *pending_open;
	int pending_one; /* as one OPEN_SETUP (IVT_CTRL_OK_OPEN_SETUP) */
	int pending_rc;
	/* Re-attaching to a restarted ivtd (ctrl_reattach.c). The cookie
	 * (ATTACH_INFO) is written once, then published by has_cookie;
	 * `attach` is filled at open (its cookie and peer_identity when sent). */
	uint8_t cookie[IVT_CTRL_COOKIE_LEN];
	atomic_int has_cookie;
	/* A connector whose OPEN hinted IVT_CTRL_OPEN_LINES: a LINE from ivtd
	 * is kept for later connections to `name` (conn_line_keep); until one
	 * came, closing reads what is left first. Guarded by early_lock. */
	char name[IVT_NAME_MAX + 1];
	int wants_line;
	/* An accepting end (OPEN LISTEN | ACCEPT): a LINE that came with
	 * its answer is its listener's (-1 none), taken by
	 * ivt_ctrl_conn_take_line. */
	int accepting;
	int held_line, held_keep;
	struct ivt_ctrl_line held_info;
	struct ivt_ctrl_attach attach;
	pthread_mutex_t re_lock;  /* one attempt at a time; guards re_next_ms */
	atomic_int re_state;      /* enum ivt_reattach_state */
	atomic_int re_backoff_ms; /* wait after the next failed attempt */
	long long re_next_ms;     /* no attempt before this ivt_now_ms() */
};

enum ivt_reattach_state {
	IVT_RE_IDLE = 0,  /* attached, or waiting for the next attempt */
	IVT_RE_SENT = 1,  /* ATTACH sent on a new connection, no answer yet */
	IVT_RE_NEVER = 2, /* refused for good, or nothing to re-attach */
};

/* The socket to use: opt, else $IVT_SOCKET, else IVT_DEFAULT_SOCKET. */
const char *ivt_ctrl_socket_path(const char *opt);

/* Connect and open one end. On failure the socket is closed, the reason
 * recorded (errors.h), and: -ECONNREFUSED (no daemon), -EACCES, -ENOENT,
 * ... as the daemon answered, -ETIMEDOUT, -EPROTO. */
int ivt_ctrl_conn_open(struct ivt_ctrl_conn *cc, const char *path, const struct ivt_ctrl_open *req,
		       struct ivt_ctrl_open_ok *ok, int timeout_ms);

/* The same, calling early(arg) once the OPEN is sent and before waiting
 * for the answer: an accepting end publishes its setup there (the oob is
 * usable from then on), so ivtd relays it together with its OPEN_OK. */
int ivt_ctrl_conn_open_early(struct ivt_ctrl_conn *cc, const char *path,
			     const struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok,
			     int timeout_ms, void (*early)(void *arg), void *arg);

/* Read whatever the daemon sent, without waiting. Returns 1 if the daemon
 * went away during this call, else 0. */
int ivt_ctrl_conn_drain(struct ivt_ctrl_conn *cc);

/* The other end's identity ("" until ivtd said it). */
const char *ivt_ctrl_conn_peer_identity(struct ivt_ctrl_conn *cc);

/* What the other end's libivt takes (IVT_CTRL_PEER_*, 0 while unknown
 * or from an older ivtd); may wait for PEER_INFO as peer_identity does. */
uint32_t ivt_ctrl_conn_peer_flags(struct ivt_ctrl_conn *cc);

/* A listener's next INCOMING (see struct ivt_ctrl_ops.incoming). */
int ivt_ctrl_conn_incoming(struct ivt_ctrl_conn *cc, uint32_t *ticket,
			   struct ivt_ring_offer *offer, int timeout_ms);

/* A connector that brings its ring (see struct ivt_ctrl_ops.open_ring). */
int ivt_ctrl_conn_open_ring(struct ivt_ctrl_conn *cc, const char *path,
			    const struct ivt_ctrl_open *req, struct ivt_ctrl_open_ok *ok,
			    int timeout_ms, const struct ivt_ring_wait *w);

/* A connected AF_UNIX SOCK_SEQPACKET socket to path (close-on-exec,
 * blocking), or a negative errno. nonblock_connect: never wait in
 * connect() (a full backlog is -EAGAIN). Records no reason. */
int ivt_ctrl_dial(const char *path, int nonblock_connect);

/* The control socket dropped (daemon_gone): try once, without blocking,
 * to re-attach to a restarted ivtd on a new connection that takes over
 * cc->sock's descriptor number (threads polling it stay correct).
 * Returns 1 when the socket is live again (poll it), 0 when not yet
 * (*next_ms: when to try again), -1 when never (this end has nothing to
 * re-attach, or ivtd refused it). Thread-safe; records no reason. */
int ivt_ctrl_conn_reattach(struct ivt_ctrl_conn *cc, int *next_ms);
/* At OPEN_OK: remember what an ATTACH will have to say. */
void ivt_ctrl_conn_keep_attach(struct ivt_ctrl_conn *cc, const struct ivt_ctrl_open *req,
			       const struct ivt_ctrl_open_ok *ok);
/* An unsolicited message about re-attaching (ATTACH_INFO, ATTACH_OK, or
 * an ERROR while an ATTACH is unanswered). 1 if taken, else 0. */
int ivt_ctrl_conn_reattach_msg(struct ivt_ctrl_conn *cc, const struct ivt_ctrl_msg *m);

/* An accepting end's line for its listener (ivt_ctrl_ops.take_line):
 * the fd (the caller's, with *keep) with *info, or -1. */
int ivt_ctrl_conn_take_line(struct ivt_ctrl_conn *cc, struct ivt_ctrl_line *info, int *keep);

/* Say CLOSE (graceful) unless the daemon is gone, and close the socket. */
void ivt_ctrl_conn_close(struct ivt_ctrl_conn *cc, int graceful);

#endif
