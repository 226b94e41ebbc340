/* SPDX-License-Identifier: MIT */
/*
 * Rings kept over a direct line (docs/conn-setup.md, "Ring reuse"). A
 * line joins exactly two processes; once both ends of a connection made
 * over it closed, both keep the ring (mapping and wake-up socket) under
 * the slot the connector named in its offer, and the connector's next
 * connection over that line takes it again with a REUSE message: no
 * memfd, socket pair, mmap, munmap or descriptor passing.
 *
 * The slot states are checked on each side by itself; nothing the peer
 * says makes us touch a ring it could not touch anyway:
 *
 *   connector, per slot: free; or taken (offered, fresh or reused) and
 *     then busy while its channel is open, with the ring parked once it
 *     closed, and `released` once the listener said RELEASED. Taken and
 *     not busy and released: reusable (if a ring is parked) or free.
 *     RELEASED for a slot not taken, or said twice, breaks the line.
 *   listener, per slot: none; used (its channel is open); held (closed,
 *     waiting for the connector's end: its close mark, or its socket
 *     gone); released (RELEASED sent; ring parked, or none kept). A
 *     fresh offer is taken on a slot that is none or released (a ring
 *     parked there is the connector's no more: it is closed); REUSE only
 *     on a released slot with its ring parked. Anything else is a
 *     protocol violation: the caller drops the whole line.
 *
 * A pool dies with its line (ring_pool_kill): every parked ring is
 * closed, so a connection offered again on one and not attached yet
 * reads its peer's socket close before any attach: -ECONNREFUSED, as a
 * fresh ring queued in a line that closes.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ctrl_msg.h"
#include "common/log.h"
#include "ctrl.h"
#include "ring_pool.h"

enum { L_NONE, L_USED, L_HELD, L_RELEASED };

struct slot {
	int state;    /* listener: L_* */
	int taken;    /* connector: offered, until free again */
	int busy;     /* connector: its channel is open */
	int released; /* connector: the listener said RELEASED */
	const struct ivt_plugin_ops *ops;
	struct ivt_ep *ep; /* parked, or NULL */
};

struct ring_pool {
	pthread_mutex_t mu;
	int refs;
	int fd; /* the line; -1 once killed */
	enum ring_pool_side side;
	/* The process whose slots these are, and the forks seen when it was
	 * made. A forked copy shares the line's socket but not this state:
	 * a connector's copy offers its rings unkept and reads nothing of
	 * the parent's; once a listener's process forked, neither copy keeps
	 * or releases a ring any more (whichever reads a REUSE of a slot
	 * released before may serve it: both hold it), so the copies never
	 * disagree about a slot. */
	unsigned forks, copies;
	struct slot s[IVT_LINE_SLOTS + 1]; /* [1..IVT_LINE_SLOTS] */
};

static atomic_int parked; /* this process, all pools */
/* fork() calls this process saw, either side of them, and as the child
 * (no getpid per connection: glibc does not cache it) */
static atomic_uint forks, copies;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void on_fork_parent(void) { atomic_fetch_add(&forks, 1); }
static void on_fork_child(void)
{
	atomic_fetch_add(&forks, 1);
	atomic_fetch_add(&copies, 1);
}
static void watch_forks(void) { pthread_atfork(NULL, on_fork_parent, on_fork_child); }

/* This process is a forked copy of the pool's. */
static int a_copy(const struct ring_pool *p) { return p->copies != atomic_load(&copies); }

/* This pool's process forked (or is a forked copy) since it was made. */
static int forked(const struct ring_pool *p) { return p->forks != atomic_load(&forks); }

int ring_pool_enabled(void)
{
	const char *e = getenv("IVT_RING_REUSE");
	return !e || strcmp(e, "0");
}

int ring_pool_backend_ok(const struct ivt_plugin_ops *ops)
{
	return ops && IVT_PLUGIN_OPS_HAS(ops, renew) && ops->park && ops->peer_done && ops->renew;
}

struct ring_pool *ring_pool_new(int fd, enum ring_pool_side side)
{
	struct ring_pool *p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->refs = 1;
	p->fd = fd;
	p->side = side;
	pthread_once(&fork_once, watch_forks);
	p->forks = atomic_load(&forks);
	p->copies = atomic_load(&copies);
	return p;
}

int ring_pool_fd(const struct ring_pool *p) { return p->fd; }

void ring_pool_ref(struct ring_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->refs++;
	pthread_mutex_unlock(&p->mu);
}

/* Close a parked ring: its peer sees the socket go. */
static void drop_parked(struct slot *s)
{
	if (!s->ep)
		return;
	s->ops->close(s->ep);
	s->ep = NULL;
	atomic_fetch_sub(&parked, 1);
}

static void kill_locked(struct ring_pool *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	for (int i = 1; i <= IVT_LINE_SLOTS; i++) {
		drop_parked(&p->s[i]);
		p->s[i].state = L_NONE;
		p->s[i].taken = p->s[i].released = 0;
	}
}

void ring_pool_kill(struct ring_pool *p)
{
	pthread_mutex_lock(&p->mu);
	kill_locked(p);
	pthread_mutex_unlock(&p->mu);
}

void ring_pool_unref(struct ring_pool *p)
{
	pthread_mutex_lock(&p->mu);
	int last = --p->refs == 0;
	if (last)
		kill_locked(p);
	pthread_mutex_unlock(&p->mu);
	if (last) {
		pthread_mutex_destroy(&p->mu);
		free(p);
	}
}

/* Keep ep parked in s if the line lives and the limits allow, else close
 * it. */
static void park_or_close(struct ring_pool *p, struct slot *s, const struct ivt_plugin_ops *ops,
			  struct ivt_ep *ep)
{
	if (!ep)
		return;
	if (p->fd >= 0 && ring_pool_backend_ok(ops) && !forked(p)) {
		if (atomic_fetch_add(&parked, 1) < RING_POOL_PARKED_MAX && ops->park(ep) == 0) {
			s->ops = ops;
			s->ep = ep;
			return;
		}
		atomic_fetch_sub(&parked, 1);
	}
	ops->close(ep);
}

/* ---- the listener ------------------------------------------------------ */

/* A held slot whose connector is done (or whose ring we did not keep):
 * say RELEASED. A full line (the connector reads lazily): later. */
static void try_release(struct ring_pool *p, uint32_t i)
{
	struct slot *s = &p->s[i];
	if (s->state != L_HELD || p->fd < 0 || forked(p))
		return; /* forked: held for good, no copy releases it */
	if (s->ep) {
		int done = s->ops->peer_done(s->ep);
		if (done == 0)
			return;
		if (done < 0)
			drop_parked(s); /* its process let go: nothing to reuse */
	}
	/* Not sent (a full line, or its connector gone: then the listener
	 * reads the line's end and drops it): held, tried again later. The
	 * descriptor is closed only by the listener's thread (line_set). */
	if (ivt_ctrl_send(p->fd, IVT_CTRL_LINE_RELEASED, i, NULL, 0, NULL, 0) == 0)
		s->state = L_RELEASED;
}

void ring_pool_scan(struct ring_pool *p)
{
	pthread_mutex_lock(&p->mu);
	for (uint32_t i = 1; i <= IVT_LINE_SLOTS; i++)
		try_release(p, i);
	pthread_mutex_unlock(&p->mu);
}

int ring_pool_offered(struct ring_pool *p, uint32_t slot)
{
	if (slot == 0)
		return 0;
	if (slot > IVT_LINE_SLOTS)
		return -EPROTO;
	pthread_mutex_lock(&p->mu);
	struct slot *s = &p->s[slot];
	int rc = 0;
	if (s->state == L_NONE || s->state == L_RELEASED) {
		drop_parked(s); /* the connector made a new ring: the old is ours alone */
		s->state = L_USED;
	} else {
		rc = -EPROTO;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int ring_pool_reuse(struct ring_pool *p, uint32_t slot, const struct ivt_plugin_ops **ops,
		    struct ivt_ep **ep)
{
	if (slot < 1 || slot > IVT_LINE_SLOTS)
		return -EPROTO;
	pthread_mutex_lock(&p->mu);
	struct slot *s = &p->s[slot];
	int rc = -EPROTO;
	if (s->state == L_RELEASED && s->ep) {
		rc = s->ops->renew(s->ep);
		if (rc == 0) {
			*ops = s->ops;
			*ep = s->ep;
			s->ep = NULL;
			atomic_fetch_sub(&parked, 1);
			s->state = L_USED;
		} else {
			/* refused: the connector reads its peer's socket close */
			IVT_WARN("libivt", "a reused ring failed its checks (%s); refused",
				 strerror(-rc));
			drop_parked(s);
			s->state = L_HELD;
			try_release(p, slot);
			rc = -EAGAIN;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int ring_pool_crowded(void) { return atomic_load(&parked) >= RING_POOL_PARKED_MAX / 2; }

void ring_pool_sweep(struct ring_pool *p)
{
	struct pollfd pf[IVT_LINE_SLOTS];
	uint32_t at[IVT_LINE_SLOTS];
	int n = 0;
	pthread_mutex_lock(&p->mu);
	for (uint32_t i = 1; i <= IVT_LINE_SLOTS; i++)
		if (p->s[i].state == L_RELEASED && p->s[i].ep) {
			pf[n] = (struct pollfd){.fd = p->s[i].ops->poll_fd(p->s[i].ep)};
			at[n++] = i;
		}
	/* no events asked: only the end of the peer's socket is reported */
	if (n && poll(pf, (nfds_t)n, 0) > 0)
		for (int k = 0; k < n; k++)
			if (pf[k].revents & (POLLHUP | POLLERR | POLLNVAL))
				drop_parked(&p->s[at[k]]); /* its connector's process went */
	pthread_mutex_unlock(&p->mu);
}

/* ---- the connector ----------------------------------------------------- */

/* One of the listener's RELEASED messages, never waiting: 1 read, 0
 * none there, -EPIPE (the line is gone or broke the protocol). */
static int read_released(struct ring_pool *p)
{
	struct ivt_ctrl_msg m;
	int rc = ivt_ctrl_recv(p->fd, &m, 0);
	if (rc == -ETIMEDOUT)
		return 0;
	if (rc == 0 && m.hdr.type == IVT_CTRL_LINE_RELEASED) {
		struct slot *s = &p->s[m.hdr.seq]; /* 1..IVT_LINE_SLOTS: parsed */
		if (s->taken && !s->released) {
			s->released = 1;
			return 1;
		}
	}
	if (rc == 0)
		ivt_ctrl_msg_close_fds(&m);
	if (rc != -ECONNRESET)
		IVT_WARN("libivt", "a line's listener broke the protocol; line dropped");
	return -EPIPE;
}

/* A ring both sides let go of, renewed for ops: its slot, or 0. Slots
 * released without a ring to reuse (or whose listener end went) are
 * free again. */
static uint32_t reuse_one(struct ring_pool *p, const struct ivt_plugin_ops *ops,
			  struct ivt_ep **ep)
{
	for (uint32_t i = 1; i <= IVT_LINE_SLOTS; i++) {
		struct slot *s = &p->s[i];
		if (!s->taken || s->busy || !s->released)
			continue;
		if (s->ep && s->ops == ops && s->ops->renew(s->ep) == 0) {
			*ep = s->ep;
			s->ep = NULL;
			atomic_fetch_sub(&parked, 1);
			s->released = 0;
			s->busy = 1;
			return i;
		}
		drop_parked(s); /* its listener end went (or another backend): free */
		s->taken = s->released = 0;
	}
	return 0;
}

int ring_pool_take(struct ring_pool *p, const struct ivt_plugin_ops *ops, uint32_t *slot,
		   struct ivt_ep **ep)
{
	*slot = 0;
	*ep = NULL;
	if (!ring_pool_enabled() || !ring_pool_backend_ok(ops) || a_copy(p))
		return 0; /* a forked copy: the slots are the parent's */
	pthread_mutex_lock(&p->mu);
	/* Read RELEASED only until a ring is found: one system call in the
	 * steady state; the rest (at most one per slot) waits in the line. */
	int rc = p->fd < 0 ? -EPIPE : 0;
	while (rc == 0) {
		if ((*slot = reuse_one(p, ops, ep)) != 0)
			rc = 1;
		else if ((rc = read_released(p)) == 1)
			rc = 0; /* look again */
		else
			break;
	}
	for (uint32_t i = 1; rc == 0 && i <= IVT_LINE_SLOTS; i++)
		if (!p->s[i].taken) {
			p->s[i].taken = p->s[i].busy = 1;
			*slot = i;
			break;
		}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void ring_pool_unused(struct ring_pool *p, uint32_t slot, struct ivt_ep *ep)
{
	if (slot < 1 || slot > IVT_LINE_SLOTS)
		return;
	pthread_mutex_lock(&p->mu);
	struct slot *s = &p->s[slot];
	s->busy = 0;
	if (ep && p->fd < 0) {
		s->ops->close(ep); /* the line went meanwhile */
		s->taken = 0;
	} else if (ep) { /* renewed, never announced: as it was, reusable */
		s->ep = ep;
		atomic_fetch_add(&parked, 1);
		s->released = 1;
	} else {
		s->taken = 0;
	}
	pthread_mutex_unlock(&p->mu);
}

/* ---- both -------------------------------------------------------------- */

void ring_pool_put(struct ring_pool *p, uint32_t slot, const struct ivt_plugin_ops *ops,
		   struct ivt_ep *ep)
{
	if (slot < 1 || slot > IVT_LINE_SLOTS || a_copy(p)) {
		if (ep)
			ops->close(ep); /* the slot stays busy: it is not ours */
		return;
	}
	pthread_mutex_lock(&p->mu);
	struct slot *s = &p->s[slot];
	if (p->side == RING_POOL_CONNECTOR) {
		if (s->busy) {
			s->busy = 0;
			park_or_close(p, s, ops, ep);
		} else if (ep) {
			ops->close(ep); /* the line died meanwhile (kill cleared it) */
		}
	} else if (s->state == L_USED) {
		park_or_close(p, s, ops, ep);
		s->state = L_HELD;
		try_release(p, slot);
	} else if (ep) {
		ops->close(ep);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Only for an offer of line_set_take (offer->line), which sets pool. */
void ring_pool_offer_drop(struct ivt_ring_offer *o)
{
	if (!o->pool)
		return;
	ring_pool_put(o->pool, o->slot, o->reuse_ops, o->reuse_ep);
	ring_pool_unref(o->pool);
	o->pool = NULL;
	o->reuse_ep = NULL;
}
