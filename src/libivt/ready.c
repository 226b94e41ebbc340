/* SPDX-License-Identifier: MIT */
/* ivt_ready and ivt_arm: readiness from memory, for event loops that must
 * not pay a system call to learn that nothing is there, and the arming
 * they do only before they really sleep (ivt.h). */
#include <errno.h>

#include "channel.h"
#include "errors.h"

static int plugin_ready(struct ivt_channel *ch, unsigned events)
{
	const struct ivt_plugin_ops *o = ch->ops;
	int r = IVT_PLUGIN_OPS_HAS(o, ready) && o->ready ? o->ready(ch->ep, events) : -EOPNOTSUPP;
	if (r == -EOPNOTSUPP)
		r = o->arm(ch->ep, events); /* the only other way to ask */
	return r < 0 ? (int)events : r; /* an error: the call reports it */
}

IVT_EXPORT int ivt_ready(ivt_channel *ch)
{
	if (!ch)
		return ivt_einval(__func__);
	if (!atomic_load(&ch->accepted)) { /* the calls attach; here we only look */
		int a = ch->ops->accept(ch->ep);
		if (a == -EAGAIN)
			return 0; /* attaching kicks ivt_fd */
		if (a < 0)
			return IVT_READY_RECV | IVT_READY_SEND; /* the calls report it */
	}
	int r = plugin_ready(ch, IVT_EV_RECV | IVT_EV_SEND), out = 0;
	/* sticky states the parser and the sender hold report at once */
	int broken = atomic_load(&ch->xp.broken);
	if ((r & IVT_EV_RECV) || broken || __atomic_load_n(&ch->xp.rx.eof, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&ch->xp.rx.fin, __ATOMIC_RELAXED) || atomic_load(&ch->rd_shut) ||
	    __atomic_load_n(&ch->xp.rx.err, __ATOMIC_RELAXED))
		out |= IVT_READY_RECV;
	/* after our SHUT_WR a send fails at once (-EPIPE), as TCP's POLLOUT */
	if ((r & IVT_EV_SEND) || broken || __atomic_load_n(&ch->xp.tx.err, __ATOMIC_RELAXED) ||
	    atomic_load(&ch->wr_shut))
		out |= IVT_READY_SEND;
	return out;
}

IVT_EXPORT int ivt_arm(ivt_channel *ch, unsigned events)
{
	if (!ch || (events & ~(unsigned)(IVT_READY_RECV | IVT_READY_SEND)))
		return ivt_einval(__func__);
	/* the caller sleeps on ivt_fd: it must exist (descriptors are made
	 * lazily) before fd_used says so */
	int fd = ivt_fd(ch);
	if (fd < 0)
		return fd;
	unsigned want_send = (events & IVT_READY_SEND) ? IVT_EV_SEND : 0u;
	/* a receiver also waits for room for its own queued answers */
	unsigned ev = want_send | ((events & IVT_READY_RECV) ? chan_recv_events(ch) : 0u);
	unsigned r = chan_prepare_sleep(ch, ev), out = 0;
	if (r & want_send)
		out |= IVT_READY_SEND;
	if ((events & IVT_READY_RECV) && (r & ~want_send))
		out |= IVT_READY_RECV;
	/* news from ivtd (read above): the calls report it now, and with
	 * manual arming no receive of the caller's has looked */
	int pe = ivt_ctrl_peer_event(&ch->ctrl);
	if (pe == IVT_PEER_DIED || pe == IVT_PEER_CLOSED)
		out |= events;
	/* ends no ring index shows: the peer's FIN taken already (maybe by
	 * ivt_poll_completions), our own shutdowns */
	if ((events & IVT_READY_RECV) &&
	    (__atomic_load_n(&ch->xp.rx.fin, __ATOMIC_RELAXED) || atomic_load(&ch->rd_shut)))
		out |= IVT_READY_RECV;
	if ((events & IVT_READY_SEND) && atomic_load(&ch->wr_shut))
		out |= IVT_READY_SEND;
	return (int)out;
}
