/* SPDX-License-Identifier: MIT */
/*
 * Sleeping. Plugins never block: a waiter arms the plugin for the events
 * it needs, and if none is ready yet, polls the plugin's fd together with
 * the control socket (so the peer's death wakes it too), then acks.
 */
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>

#include "channel.h"

/* Two threads (sender, receiver) may sleep on the one plugin fd; one can
 * consume a wake-up meant for the other. Then neither sleeps long: the
 * cap bounds such a miss instead of hanging. */
#define SHARED_WAIT_CAP_MS 20

static void ctrl_went_away(struct ivt_channel *ch)
{
	/* A hung-up socket polls readable forever: take it out of ivt_fd. */
	if (atomic_exchange(&ch->ctrl_in_epoll, 0))
		epoll_ctl(ch->epfd, EPOLL_CTL_DEL, ch->ctrl.sock, NULL);
}

int chan_poll_ctrl(struct ivt_channel *ch)
{
	if (ivt_ctrl_conn_drain(&ch->ctrl))
		ctrl_went_away(ch);
	return atomic_load(&ch->ctrl.peer_event);
}

int chan_peer_send_error(struct ivt_channel *ch)
{
	switch (atomic_load(&ch->ctrl.peer_event)) {
	case IVT_PEER_DIED:
		return -ECONNRESET;
	case IVT_PEER_CLOSED:
		return -EPIPE;
	default:
		return 0;
	}
}

unsigned chan_recv_events(struct ivt_channel *ch)
{
	return IVT_EV_RECV | (ivt_xport_try_flush(&ch->xp) ? IVT_EV_SEND : 0u);
}

int chan_wait(struct ivt_channel *ch, unsigned events, int timeout_ms)
{
	int others = atomic_fetch_add(&ch->waiters, 1);
	int ready = ch->ops->arm(ch->ep, events);
	if (ready != 0) { /* ready, or an error the next call will report */
		atomic_fetch_sub(&ch->waiters, 1);
		return 0;
	}
	struct pollfd p[2] = {
		{.fd = ch->ops->poll_fd(ch->ep), .events = POLLIN},
		{.fd = ch->ctrl.sock, .events = POLLIN},
	};
	nfds_t n = atomic_load(&ch->ctrl.daemon_gone) ? 1 : 2;
	if (others > 0 && (timeout_ms < 0 || timeout_ms > SHARED_WAIT_CAP_MS))
		timeout_ms = SHARED_WAIT_CAP_MS;
	atomic_fetch_add(&ch->waits, 1);
	int r = poll(p, n, timeout_ms);
	if (r > 0) {
		if (p[0].revents)
			ch->ops->ack(ch->ep);
		if (n > 1 && p[1].revents)
			chan_poll_ctrl(ch);
	}
	atomic_fetch_sub(&ch->waiters, 1);
	return 0;
}

unsigned chan_prepare_sleep(struct ivt_channel *ch, unsigned events)
{
	chan_poll_ctrl(ch);
	ch->ops->ack(ch->ep);
	int ready = ch->ops->arm(ch->ep, events);
	return ready > 0 ? (unsigned)ready & events : 0;
}

int chan_ensure_accepted(struct ivt_channel *ch)
{
	while (!atomic_load(&ch->accepted)) {
		int rc = ch->ops->accept(ch->ep);
		if (rc == 0) {
			atomic_store(&ch->accepted, 1);
			break;
		}
		if (rc != -EAGAIN)
			return rc;
		if (atomic_load(&ch->nonblock)) {
			chan_prepare_sleep(ch, IVT_EV_RECV);
			return -EAGAIN;
		}
		/* attaching may not wake our fd on every backend: poll with a cap */
		chan_wait(ch, IVT_EV_RECV, 100);
	}
	return 0;
}
