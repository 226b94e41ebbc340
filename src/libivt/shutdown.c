/* SPDX-License-Identifier: MIT */
/* ivt_shutdown: half-close, as shutdown(2) on a TCP socket (ivt.h). */
#include <errno.h>

#include "channel.h"
#include "errors.h"

/* Does the other end's libivt take a FIN? ivtd says so in PEER_INFO when
 * both ends announced it (ctrl_proto.h IVT_CTRL_OPEN_HALFCLOSE). */
static int peer_takes_fin(struct ivt_channel *ch)
{
	const struct ivt_ctrl_ops *o = ch->ctrl.ops;
	return o && o->peer_flags && (o->peer_flags(ch->ctrl.impl) & IVT_CTRL_PEER_HALFCLOSE);
}

static int shut_wr(struct ivt_channel *ch)
{
	/* non-blocking, an accepted end whose connector has not attached
	 * yet: the FIN waits in the queue (TCP's shutdown does not wait) */
	int rc = chan_ensure_accepted(ch);
	int attached = rc == 0;
	if (rc < 0 && rc != -EAGAIN)
		return rc;
	if (!peer_takes_fin(ch)) {
		ivt_reason_set(-EOPNOTSUPP, "channel '%s': no half-close: the other end's libivt "
					    "or ivtd (control path: %s) does not take it "
					    "(docs/libivt.3.md, ivt_shutdown)",
			       ch->name, ch->ctrl.ops ? ch->ctrl.ops->name : "none");
		return -EOPNOTSUPP;
	}
	if (ch->spill && !atomic_load(&ch->wr_shut)) {
		/* bytes parked in utmem go into the ring before the FIN */
		rc = ivt_flush(ch);
		if (rc == -EAGAIN || rc == -EIO)
			return rc;
	}
	atomic_store(&ch->wr_shut, 1); /* sends fail from now on */
	if (!attached) {
		rc = ivt_xport_queue_fin(&ch->xp);
	} else if (atomic_load(&ch->nonblock)) {
		rc = ivt_xport_shutdown_wr(&ch->xp, NULL);
		if (rc == -EAGAIN) /* queued: the next flush (a receive's too) sends it */
			chan_fd_progress(ch);
	} else {
		struct timed_wait t;
		struct ivt_waiter w = chan_send_waiter(ch, &t);
		rc = ivt_xport_shutdown_wr(&ch->xp, &w);
	}
	if (rc == -EAGAIN || rc == -EPIPE)
		rc = 0; /* on its way; or the peer closed first: nobody to tell */
	return rc;
}

IVT_EXPORT int ivt_shutdown(ivt_channel *ch, int how)
{
	if (!ch || (how != IVT_SHUT_RD && how != IVT_SHUT_WR && how != IVT_SHUT_RDWR))
		return ivt_einval(__func__);
	if (how != IVT_SHUT_RD) {
		int rc = shut_wr(ch);
		if (rc < 0)
			return rc;
	}
	if (how != IVT_SHUT_WR) {
		atomic_store(&ch->rd_shut, 1); /* receives end the stream */
		chan_fd_progress(ch);          /* and ivt_fd says so */
	}
	return 0;
}
