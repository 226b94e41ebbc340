/* SPDX-License-Identifier: MIT */
/* struct ivt_channel and the helpers the API files share. */
#ifndef IVT_LIBIVT_CHANNEL_H
#define IVT_LIBIVT_CHANNEL_H

#include <pthread.h>
#include <stdatomic.h>

#include "common/ctrl_proto.h"
#include "ctrl.h"
#include "export.h"
#include "ivt/ivt.h"
#include "rdma_native.h"
#include "spill_tx.h"
#include "xport.h"

struct ivt_channel {
	char name[IVT_NAME_MAX + 1];
	int is_server;
	atomic_int nonblock;
	atomic_int accepted; /* server: the peer attached to the pipe */
	struct ivt_ctrl ctrl;      /* to ivtd: local socket or XenStore */
	const struct ivt_plugin_ops *ops;
	struct ivt_ep *ep;
	struct ivt_xport xp;
	/* The plugin does one-sided ops itself (rdma_native.h); NULL: they
	 * are emulated over xp. */
	struct ivt_native *native;
	uint64_t ring_size;
	/* Made on the first ivt_fd() (chan_fd_make), under ctrl_mu; -1 until
	 * then: most ends never ask, and these are 5 syscalls to make and 2 to
	 * close per connection. Readable without the lock once fd_used is set. */
	int epfd;                  /* ivt_fd(): plugin fd + control fd + wake_fd */
	int wake_fd;               /* eventfd: makes ivt_fd readable "by hand" */
	atomic_int ctrl_in_epoll;
	/* Re-attaching to a restarted ivtd (wait.c): ctrl_mu orders taking
	 * the control fd out of and back into epfd; retry_at is when the next
	 * attempt is due (ivt_now_ms, -1 none); retry_fd, a timerfd in epfd
	 * made on first need, makes ivt_fd readable then. */
	pthread_mutex_t ctrl_mu;
	_Atomic long long retry_at;
	int retry_fd;
	/* ivt_fd's level (wait.c): fd_used once the caller asked for ivt_fd;
	 * level_set while wake_fd holds a wake-up of ours; send_wanted after
	 * a send found no room, until ivt_fd woke the caller for it;
	 * manual_arm: progress does not raise it, and an empty ring's
	 * -EAGAIN does not arm (ivt_set_manual_arm). */
	atomic_int fd_used, level_set, send_wanted, manual_arm;
	/* One sending and one receiving thread may sleep at once on the one
	 * plugin fd; whichever consumes a wake-up passes it on to the other
	 * through that one's own eventfd, made by its first wait (-1 before;
	 * waiting is set only once fd is). Indexed by enum chan_role. */
	struct {
		atomic_int waiting;
		atomic_int fd;
	} role[2];
	atomic_uint_fast64_t waits;
	/* IVT_EV_* that non-blocking calls returned -EAGAIN for (wait.c) */
	/* ivt_set_timeouts: ms, -1 without limit (the default) */
	atomic_int send_timeout_ms, recv_timeout_ms;
	struct ivt_waiter waiter;  /* blocking waits for the frame layer */
	struct chan_spill *spill;  /* policy "spill" (spill_tx.c); NULL: none */
	/* ivt_shutdown (shutdown.c): wr_shut, sends fail with -EPIPE (our
	 * FIN is queued); rd_shut, receives return 0 */
	atomic_int wr_shut, rd_shut;
	/* An accepted end: its listener's count (accept_bound.c), NULL when
	 * not counted; bound_line: made over a direct line. */
	struct accept_bound *bound;
	int bound_line;
};

enum chan_role { CHAN_SENDER = 0, CHAN_RECEIVER = 1 };

/* Sleep until one of events (IVT_EV_*) may be possible, the daemon said
 * something, or timeout_ms passed (-1: no limit). Returns 0; the caller
 * re-checks its condition. role: which side of the API is waiting. */
int chan_wait(struct ivt_channel *ch, enum chan_role role, unsigned events, int timeout_ms);

/* About to return -EAGAIN to a non-blocking caller: read the daemon's
 * news, consume the plugin's wake-up and arm for events so ivt_fd()
 * wakes the caller's poll. Returns the events already ready (retry). */
unsigned chan_prepare_sleep(struct ivt_channel *ch, unsigned events);

/* A non-blocking op got -EAGAIN: arm for events. 1: they are ready, try
 * again now; 0: report -EAGAIN (ivt_fd will wake the caller). Never says 0
 * while events are ready without making ivt_fd readable itself, since
 * then no kick would come. */
int chan_retry_nonblock(struct ivt_channel *ch, unsigned events, int *tries);

/* ivt_fd is level-triggered (ivt.h). A call that made progress (or ended
 * the stream) keeps it readable until a call returns -EAGAIN: more may be
 * there. chan_prepare_sleep then clears it and re-checks everything the
 * caller may wait for. */
void chan_fd_progress(struct ivt_channel *ch);
/* After the receive path ran: completions it queued keep ivt_fd readable. */
void chan_fd_rx_done(struct ivt_channel *ch);
/* The caller asked for ivt_fd: from now on keep its level. */
void chan_fd_used(struct ivt_channel *ch);
/* ivt_fd's descriptors, made on first use: 0 or a negative errno. */
int chan_fd_make(struct ivt_channel *ch);

/* Read the daemon's news; returns the peer event (enum ivt_peer_event or 0). */
int chan_poll_ctrl(struct ivt_channel *ch);

/* Server end with timeout 0: has the peer attached yet? 0, -EAGAIN (non-
 * blocking) or waits. */
int chan_ensure_accepted(struct ivt_channel *ch);

/* -ECONNRESET if the daemon said the peer died, -EPIPE if it closed, else 0. */
int chan_peer_send_error(struct ivt_channel *ch);

/* A plugin's send error as the API reports it: -EPIPE becomes
 * -ECONNRESET when the daemon said the peer died (io.c). */
int chan_send_error(struct ivt_channel *ch, int rc);

/* Before a send or flush: the peer's end as an error, then (a server
 * with timeout 0) wait for it to attach. 0 or a negative errno (io.c). */
int chan_send_ready(struct ivt_channel *ch);

/* The waiter for one blocking send-side call, bounded by the channel's
 * send timeout; t must outlive its use (io.c). */
struct timed_wait {
	struct ivt_channel *ch;
	long long deadline; /* -1: none; TIMED_WAIT_UNSET: not waited yet */
};
#define TIMED_WAIT_UNSET (-2LL)
struct ivt_waiter chan_send_waiter(struct ivt_channel *ch, struct timed_wait *t);

/* The events the receive side should wait for: RECV, plus SEND while our
 * own answers wait for room. */
unsigned chan_recv_events(struct ivt_channel *ch);

/* channel.c, for listener.c: */
/* Read the caller's options (any older struct_size); 0 or -EINVAL. */
int chan_read_opts(const struct ivt_open_opts *in, unsigned flags, struct ivt_open_opts *o);
/* The OPEN request for name with flags (IVT_LISTEN | enum ivt_ctrl_open_flags). */
int chan_make_request(const char *name, const struct ivt_open_opts *o, uint32_t flags,
		      struct ivt_ctrl_open *req);
/* The server end of connection `ticket` of listener `name` (opts and
 * ivtd's OPEN_OK of the listener, whose backend and ring every accepted
 * connection gets); returns at once, the connector attaches on first use. */
/* offer: the connector's ring, if it brought one (its fds are consumed). */
int chan_open_accepted(const char *name, const struct ivt_open_opts *opts,
		       const struct ivt_ctrl_open_ok *lis_ok, uint32_t ticket,
		       struct ivt_ring_offer *offer, ivt_channel **out);

#endif
