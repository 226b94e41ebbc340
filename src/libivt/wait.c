/* SPDX-License-Identifier: MIT */
/*
 * Sleeping. Plugins never block: a waiter arms the plugin for the events
 * it needs, and if none is ready yet, polls the plugin's fd together with
 * the control fd (so the peer's death wakes it too), then acks.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "channel.h"
#include "errors.h"

static void ctrl_went_away(struct ivt_channel *ch)
{
	/* A hung-up socket polls readable forever: take it out of ivt_fd. */
	if (atomic_exchange(&ch->ctrl_in_epoll, 0))
		epoll_ctl(ch->epfd, EPOLL_CTL_DEL, ch->ctrl.ops->fd(ch->ctrl.impl), NULL);
}

int chan_poll_ctrl(struct ivt_channel *ch)
{
	if (ch->ctrl.ops->drain(ch->ctrl.impl))
		ctrl_went_away(ch);
	return ivt_ctrl_peer_event(&ch->ctrl);
}

int chan_peer_send_error(struct ivt_channel *ch)
{
	switch (ivt_ctrl_peer_event(&ch->ctrl)) {
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
	/* both may be armed: whoever sleeps on them retries when arm()
	 * reports either ready */
	return IVT_EV_RECV | (ivt_xport_try_flush(&ch->xp) ? IVT_EV_SEND : 0u) |
	       chan_spill_events(ch);
}

int chan_wait(struct ivt_channel *ch, enum chan_role role, unsigned events, int timeout_ms)
{
	/* announce ourselves before arming, so a thread that consumes the
	 * kick we ask for below knows to pass it on */
	atomic_store(&ch->role[role].waiting, 1);
	int ready = ch->ops->arm(ch->ep, events);
	if (ready != 0) { /* ready, or an error the next call will report */
		atomic_store(&ch->role[role].waiting, 0);
		return 0;
	}
	struct pollfd p[3] = {
		{.fd = ch->ops->poll_fd(ch->ep), .events = POLLIN},
		{.fd = ch->role[role].fd, .events = POLLIN},
		{.fd = ch->ctrl.ops->fd(ch->ctrl.impl), .events = POLLIN},
	};
	nfds_t n = ch->ctrl.ops->gone(ch->ctrl.impl) ? 2 : 3;
	atomic_fetch_add(&ch->waits, 1);
	int r = poll(p, n, timeout_ms);
	atomic_store(&ch->role[role].waiting, 0);
	if (r > 0) {
		uint64_t v;
		if (p[0].revents) {
			ch->ops->ack(ch->ep);
			enum chan_role other = role == CHAN_SENDER ? CHAN_RECEIVER : CHAN_SENDER;
			if (atomic_load(&ch->role[other].waiting)) {
				uint64_t one = 1;
				if (write(ch->role[other].fd, &one, sizeof(one)) < 0) {
					/* saturated: it is readable anyway */
				}
			}
		}
		if (p[1].revents && read(ch->role[role].fd, &v, sizeof(v)) < 0) {
			/* someone else consumed it: fine */
		}
		if (n > 2 && p[2].revents)
			chan_poll_ctrl(ch);
	}
	return 0;
}

unsigned chan_prepare_sleep(struct ivt_channel *ch, unsigned events)
{
	uint64_t v;
	chan_poll_ctrl(ch);
	ch->ops->ack(ch->ep);
	if (read(ch->wake_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: no manual wake-up pending */
	}
	/* Arm only what this op needs: the ring returns early when any armed
	 * event is ready, without asking the peer to kick for the others. */
	int ready = ch->ops->arm(ch->ep, events);
	return ready > 0 ? (unsigned)ready & events : 0;
}

#define NONBLOCK_RETRIES 16

int chan_retry_nonblock(struct ivt_channel *ch, unsigned events, int *tries)
{
	if (!chan_prepare_sleep(ch, events))
		return 0;
	if (++*tries < NONBLOCK_RETRIES)
		return 1;
	/* Ready, yet no progress (e.g. answers must drain first): no kick
	 * will come, so wake the caller's poll ourselves. */
	uint64_t one = 1;
	if (write(ch->wake_fd, &one, sizeof(one)) < 0) {
		/* saturated counter: readable anyway */
	}
	return 0;
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
		if (chan_peer_send_error(ch)) {
			/* gone before attaching (its setup failed?): never wait for it */
			ivt_reason_set(-ECONNRESET, "the connector to '%s' went away before attaching",
				       ch->name);
			return -ECONNRESET;
		}
		if (atomic_load(&ch->nonblock)) {
			/* attaching kicks our fd; no ring event to arm yet */
			chan_poll_ctrl(ch);
			ch->ops->ack(ch->ep);
			if (ch->ops->accept(ch->ep) == 0)
				continue;
			return -EAGAIN;
		}
		/* Sleep without arming: arm() may spin on the ring for the
		 * data path's sake, which before attaching only takes the CPU
		 * from the peer that is setting up. Attaching kicks our fd on
		 * shm; other backends may not, hence the cap. */
		struct pollfd p[2] = {
			{.fd = ch->ops->poll_fd(ch->ep), .events = POLLIN},
			{.fd = ch->ctrl.ops->fd(ch->ctrl.impl), .events = POLLIN},
		};
		atomic_fetch_add(&ch->waits, 1);
		if (poll(p, ch->ctrl.ops->gone(ch->ctrl.impl) ? 1 : 2, 100) > 0) {
			if (p[0].revents)
				ch->ops->ack(ch->ep);
			chan_poll_ctrl(ch);
		}
	}
	return 0;
}
