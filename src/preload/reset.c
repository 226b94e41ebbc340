/* SPDX-License-Identifier: MIT */
/*
 * A reset (the peer died, or the ring broke) shown as TCP shows one: the
 * app fd polls POLLERR with POLLHUP, and the error is reported once, by
 * whichever of recv, send or getsockopt(SO_ERROR) meets it first; after
 * that reads see end of stream and writes EPIPE.
 *
 * POLLERR comes from the kernel: an AF_UNIX stream socket released with
 * unread bytes in its queue sets ECONNRESET on its peer (unix_release_sock).
 * So our end takes one byte from the app end and is closed; reading the
 * app end's SO_ERROR clears it again, as reading TCP's does.
 */
#include <errno.h>
#include <unistd.h>

#include "preload.h"

/* -ECONNREFUSED: a connection offered over a direct line that the
 * listener never took (it closed with it queued): TCP resets those. */
int is_reset(int rc) { return rc == -ECONNRESET || rc == -EPROTO || rc == -ECONNREFUSED; }

void reset_show(struct psock *p)
{
	if (p->reset_seen)
		return;
	p->reset_seen = 1;
	p->so_error = ECONNRESET;
	p->tx_pending = 0; /* a tail libivt held can never go now */
	if (p->tok < 0)
		return;
	/* unread by our end (the filler, if up, is unread too) */
	real.send(p->appdup, "r", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	/* a process that forked holds tok too: then only our copy goes,
	 * and no POLLERR (docs/preload.md) */
	real.close(p->tok);
	p->tok = -1;
	p->filled = 0; /* nothing blocks POLLOUT any more */
	p->token = 1;  /* the app end stays readable: end of stream */
}

void rd_error(struct psock *p, int rc)
{
	p->rd_err = rc;
	if (is_reset(rc))
		reset_show(p);
}

int reset_take(struct psock *p)
{
	int e = p->so_error;
	if (!e)
		return 0;
	p->so_error = 0;
	int v;
	socklen_t l = sizeof(v);
	real.getsockopt(p->appdup, SOL_SOCKET, SO_ERROR, &v, &l); /* POLLERR off */
	return e;
}
