/* SPDX-License-Identifier: MIT */
/*
 * Readiness of the application's fd (see preload.h): the token byte that
 * makes it readable, the filler that makes it unwritable, and the monitor
 * thread that watches every waiting channel's ivt_fd() and fixes both when
 * the peer acts. Nothing here runs on a timer: every wait ends with the
 * peer's kick on ivt_fd.
 *
 * libivt has one wake-up for both directions, and ivt_fd reports room
 * once per -EAGAIN: a receive call of ours that finds the ring empty may
 * consume a "room" kick meant for a writer waiting here. So after every
 * libivt call (p->lock held) room_check asks the ring itself (ivt_ready,
 * no system call) whether a waiting writer has room. That is exact: room
 * only grows while we do not write, and while there is none libivt keeps
 * the peer asked to kick (the -EAGAIN that started the wait asked, and
 * only a kick, which means room, ends that request).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "preload.h"

static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static int mon_ep = -1;   /* epoll over armed channels' ivt_fd + mon_kick */
static int mon_kick = -1; /* eventfd: a psock waits in the graveyard */
static int mon_running;
static char kick_tag;     /* epoll data of mon_kick */

/* References the monitor may still be using: dropped only after the
 * epoll_wait that could have returned them is fully handled. */
struct grave {
	struct psock *p;
	struct grave *next;
};
static struct grave *graveyard;
/* The monitor drops a batch of graveyard references (their last ivt_close
 * may be running): the exit-time close waits for it (monitor_exit_close). */
static int mon_putting;
static pthread_cond_t mon_put_done = PTHREAD_COND_INITIALIZER;

static void token_set(struct psock *p)
{
	if (p->token)
		return;
	char t = 't';
	if (real.send(p->tok, &t, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
		p->token = 1;
}

static void token_clear(struct psock *p)
{
	if (!p->token)
		return;
	char t;
	if (real.recv(p->appdup, &t, 1, MSG_DONTWAIT) == 1)
		p->token = 0;
}

void token_show(struct psock *p) { token_set(p); }

void fork_resync(struct psock *p)
{
	char buf[64];
	while (real.recv(p->appdup, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	p->token = 0;
	p->rx_armed = 0;
	rx_settle(p);
}

void hup_show(struct psock *p)
{
	/* the socketpair's own shutdown states give the app end TCP's
	 * flags: our SHUT_WR its POLLIN|POLLRDHUP, both its POLLHUP too.
	 * As TCP's receive side, it ends with the peer's end of stream or
	 * the application's own SHUT_RD. */
	int rd_done = p->rd_eof || p->rd_shut;
	if (p->rd_err || (rd_done && (p->wr_shut || p->wr_dead)))
		real.shutdown(p->tok, SHUT_RDWR);
	else if (rd_done)
		real.shutdown(p->tok, SHUT_WR);
}

static void filler_drain(struct psock *p)
{
	char buf[4096];
	while (real.recv(p->tok, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	p->filled = 0;
}

static void *monitor_main(void *arg);
static void room_check(struct psock *p);

static int monitor_start_locked(void)
{
	if (mon_running)
		return 0;
	mon_ep = hide_new_fd(epoll_create1(EPOLL_CLOEXEC));
	mon_kick = hide_new_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	if (mon_ep < 0 || mon_kick < 0)
		return -1;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &kick_tag};
	epoll_ctl(mon_ep, EPOLL_CTL_ADD, mon_kick, &ev);
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	/* the monitor must not take the application's signals */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&t, &a, monitor_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (rc != 0)
		return -1;
	mon_running = 1;
	return 0;
}

/* Ask the monitor to watch p's ivt_fd once (p->lock held). */
static void arm(struct psock *p)
{
	if (p->direct)
		return; /* the application's epoll watches ivt_fd (epoll_calls.c) */
	pthread_mutex_lock(&mon_lock);
	int ok = monitor_start_locked() == 0;
	pthread_mutex_unlock(&mon_lock);
	if (!ok) {
		/* no monitor: stay readable/writable so nobody sleeps forever;
		 * non-blocking callers then see EAGAIN (documented) */
		token_set(p);
		if (p->filled)
			filler_drain(p);
		return;
	}
	if (p->armed)
		return; /* its one event is still to come: a MOD now could make
			 * a second one, which handle would meet after a close
			 * freed p (a use after free under ASan) */
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = p};
	int fd = ivt_fd(p->ch);
	if (!p->in_mon) {
		p->in_mon = 1;
		atomic_fetch_add(&p->refs, 1); /* the monitor's, until monitor_forget */
		atomic_fetch_add(&p->mon_refs, 1);
	}
	p->armed = 1;
	/* MOD re-checks readiness, so an event that came before is not lost */
	if (epoll_ctl(mon_ep, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
		epoll_ctl(mon_ep, EPOLL_CTL_ADD, fd, &ev);
}

ssize_t ring_recv(struct psock *p, void *buf, size_t len)
{
	preload_inside++;
	ssize_t n = ivt_recv(p->ch, buf, len);
	preload_inside--;
	/* taking anything ends the arming (the kick came, or will not be
	 * asked for); manual arming: an -EAGAIN leaves it as it was */
	if (n != -EAGAIN)
		p->rx_armed = 0;
	return n;
}

static void lazy_drop(struct psock *p)
{
	if (p->rx_lazy) {
		__atomic_store_n(&p->rx_lazy, 0, __ATOMIC_RELAXED);
		atomic_fetch_sub(&lazy_count, 1);
	}
}

/* The token half of rx_settle. lazy: the ring says it is empty, so
 * leave the arming (its system calls) to whoever sleeps next: the
 * application's epoll_wait, which may find data first (epoll_calls.c). */
static void rx_token(struct psock *p, int lazy)
{
	lazy_drop(p);
	if (!p->ch || !stream_mine(p))
		return; /* another process drives it (forks.c) */
	if (stream_fresh(p)) {
		/* unused since a fork: reading ahead could take bytes from a
		 * child about to take it over; let a poller look instead */
		token_set(p);
		return;
	}
	if (p->rd_eof || p->rd_err || p->st_len || p->rd_shut) {
		hup_show(p);
		token_set(p);
		return;
	}
	if (lazy && p->direct) {
		preload_inside++;
		int r = ivt_ready(p->ch);
		preload_inside--;
		if (r >= 0 && !(r & IVT_READY_RECV)) {
			token_clear(p);
			/* pairs with epoll_wait counting itself before it looks
			 * for lazy streams: one of the two sees the other */
			atomic_fetch_add(&lazy_count, 1);
			__atomic_store_n(&p->rx_lazy, 1, __ATOMIC_SEQ_CST);
			if (!atomic_load(&epoll_sleepers))
				return;
			/* another thread sleeps: arm now, unless the -EAGAIN
			 * that emptied it did (its kick reaches that epoll) */
			lazy_drop(p);
			if (p->rx_armed)
				return;
		}
	}
	for (int tries = 0;; tries++) {
		ssize_t n = ring_recv(p, p->stage, STAGE_SIZE);
		if (n > 0) {
			p->st_off = 0;
			p->st_len = (size_t)n;
			break;
		}
		if (n == 0) {
			p->rd_eof = 1;
			break;
		}
		if (n != -EAGAIN) {
			rd_error(p, (int)n);
			break;
		}
		/* empty: ask the peer to kick ivt_fd (manual arming, see
		 * stream.c), unless we did and nothing came since. After
		 * three "ready" answers without bytes the ring holds part of
		 * a frame: then libivt's -EAGAIN armed it itself. */
		if (!p->rx_armed && tries < 3) {
			preload_inside++;
			int r = ivt_arm(p->ch, IVT_READY_RECV);
			preload_inside--;
			if (r != 0)
				continue; /* came meanwhile, or the end: take it */
			p->rx_armed = 1;
		}
		/* a peer write now kicks ivt_fd, which the monitor (or the
		 * application's epoll) sees after we unlock */
		token_clear(p);
		arm(p);
		return;
	}
	hup_show(p);
	token_set(p);
}

void rx_settle(struct psock *p)
{
	rx_token(p, 1);
	room_check(p); /* our ivt_recv may have taken a writer's kick */
}

/* Wait for room (p->lock held): for the kick, through the monitor or
 * the application's epoll. */
static void want_room(struct psock *p)
{
	/* ivt_send's wait set-up consumed any pending kick, maybe one for
	 * data the monitor waits for: look at the ring ourselves */
	if (!p->token)
		rx_token(p, 0);
	room_check(p);
}

void tx_blocked(struct psock *p)
{
	if (!p->filled) {
		static const char junk[4096];
		while (real.send(p->appdup, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
			;
		p->filled = 1;
	}
	want_room(p);
}

void tx_tail_pending(struct psock *p)
{
	p->tx_pending = 1;
	want_room(p);
}

void tx_sent(struct psock *p)
{
	/* Nothing of ours waits in libivt now. A filler from before may be
	 * stale: this send went through, and its own wait set-up (ivt_flush
	 * found the ring full, then room) may have consumed the room kick the
	 * monitor waited for. Without a look at the ring the application's
	 * fd would stay unwritable for good (iperf3 writes until EAGAIN, then
	 * selects: its stream stalled at 0 bits/s). */
	p->tx_pending = 0;
	room_check(p); /* nothing to do unless a filler is up */
}

/* Push on a frame tail libivt keeps (p->lock held). */
static void tx_push(struct psock *p)
{
	preload_inside++;
	int rc = ivt_flush(p->ch);
	preload_inside--;
	if (rc != -EAGAIN)
		p->tx_pending = 0; /* done, or an error the next send reports */
}

/* A writer waits for room (filler, or a frame tail of ours): let it go on
 * if the ring has room now, else sleep for it (p->lock held; see the top
 * of this file). */
static void room_check(struct psock *p)
{
	for (int round = 0; p->filled || p->tx_pending; round++) {
		if (round == 4) {
			/* room, yet the tail does not move (ivt_flush then makes
			 * ivt_fd readable itself): let the application retry */
			if (p->filled)
				filler_drain(p);
			arm(p);
			return;
		}
		preload_inside++;
		int r = ivt_ready(p->ch);
		preload_inside--;
		if (r >= 0 && (r & IVT_READY_SEND)) {
			if (p->tx_pending)
				tx_push(p); /* may use the room up again */
			if (p->filled && !p->tx_pending)
				filler_drain(p); /* the application's write retries */
			continue;
		}
		/* No room. ivt_fd may still be readable from bytes we staged
		 * (a call that made progress leaves it so): clear it and ask
		 * for the room kick, or the monitor would spin on it. */
		preload_inside++;
		r = ivt_arm(p->ch, IVT_READY_SEND);
		preload_inside--;
		if (r > 0)
			continue; /* room came meanwhile */
		arm(p);
		return;
	}
}

void rx_arm_lazy(struct psock *p)
{
	if (!p->rx_lazy)
		return;
	if (p->rx_armed && p->direct) {
		/* the -EAGAIN that emptied it armed it, and the kick reaches
		 * the application's epoll: another ivt_recv would only pay
		 * that arming's system calls again */
		lazy_drop(p);
		return;
	}
	rx_token(p, 0);
}

int wait_app_fd(struct psock *p, short events, int timeout_ms)
{
	pthread_mutex_lock(&p->lock);
	rx_arm_lazy(p); /* we sleep here, not in the application's epoll */
	pthread_mutex_unlock(&p->lock);
	/* the kick itself wakes us too, so this works whoever else watches */
	struct pollfd pf[2] = {{.fd = p->appdup, .events = events},
			       {.fd = ivt_fd(p->ch), .events = POLLIN}};
	int n = poll(pf, 2, timeout_ms);
	if (n > 0 && pf[1].revents && !pf[0].revents) {
		pthread_mutex_lock(&p->lock);
		kick_handle(p);
		pthread_mutex_unlock(&p->lock);
	}
	if (n < 0 && errno == EINTR && signal_ends_call())
		return -1; /* errno EINTR */
	return 0;
}

void monitor_arm(struct psock *p) { arm(p); }

void monitor_forget(struct psock *p)
{
	if (!p->in_mon)
		return;
	epoll_ctl(mon_ep, EPOLL_CTL_DEL, ivt_fd(p->ch), NULL);
	int in_flight = p->armed; /* its event may be in the monitor's hands */
	p->in_mon = p->armed = 0;
	if (in_flight) {
		monitor_defer_put(p);
		return;
	}
	/* unarmed: no event of it can come (arm), the reference goes now
	 * (the caller holds one too: never the last) */
	atomic_fetch_sub(&p->mon_refs, 1);
	atomic_fetch_sub(&p->refs, 1);
}

void monitor_defer_put(struct psock *p)
{
	struct grave *g = malloc(sizeof(*g));
	pthread_mutex_lock(&mon_lock);
	if (!mon_running || !g) {
		pthread_mutex_unlock(&mon_lock);
		free(g);
		atomic_fetch_sub(&p->mon_refs, 1);
		psock_put(p); /* nothing can hold it */
		return;
	}
	g->p = p;
	g->next = graveyard;
	graveyard = g;
	uint64_t one = 1;
	if (real.write(mon_kick, &one, sizeof(one)) < 0) {
		/* saturated: it wakes anyway */
	}
	pthread_mutex_unlock(&mon_lock);
}

void kick_handle(struct psock *p)
{
	/* a forked copy (an epoll shared with the parent can hand us its
	 * kicks) never touches the parent's channel */
	if (!p->ch || !stream_mine(p))
		return;
	/* a wake-up may be libivt's own (an arm that returned early for the
	 * other direction leaves the receive side unarmed): arm anew */
	p->rx_armed = 0;
	if (!p->token)
		rx_token(p, 0); /* may arm again */
	room_check(p);
}

/* One event of p's ivt_fd. The monitor's reference stays: it is held as
 * long as ivt_fd is in the epoll and dropped under p->lock (monitor_forget,
 * or the graveyard when an event may be in flight), so a close counts it
 * exactly. Dropping it here, outside that lock, made a close racing with
 * it find the stream not alone and leave its end to the last reference,
 * this thread, which the process's _exit then killed before the close
 * mark: the peer read a reset (preload_lifecycle: close_exit.py, and
 * IVT_PRELOAD_TEST_MON_PUT_US). An unarmed p here was forgotten with its
 * event in flight: the graveyard holds it until this batch is done. */
static void handle(struct psock *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->armed) { /* else an event from before a disarm or a forget */
		p->armed = 0;
		kick_handle(p);
	}
	pthread_mutex_unlock(&p->lock);
}

static void *monitor_main(void *arg)
{
	struct epoll_event evs[64];
	(void)arg;
	preload_inside = 1;
	for (;;) {
		pthread_mutex_lock(&mon_lock);
		struct grave *old = graveyard;
		graveyard = NULL;
		mon_putting = old != NULL;
		pthread_mutex_unlock(&mon_lock);
		/* with references to drop, only look: their ends may hold a
		 * frame tail that ivt_close still has to deliver */
		int n = real.epoll_wait(mon_ep, evs, 64, old ? 0 : -1);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &kick_tag) {
				uint64_t v;
				if (real.read(mon_kick, &v, sizeof(v)) < 0) {
					/* already drained */
				}
				continue;
			}
			handle(evs[i].data.ptr);
		}
		/* taken out of the epoll before this epoll_wait began */
		if (!old)
			continue; /* the common wake-up: no batch to end */
		while (old) {
			struct grave *g = old;
			old = g->next;
			psock_put_mon(g->p);
			free(g);
		}
		pthread_mutex_lock(&mon_lock);
		mon_putting = 0;
		pthread_cond_broadcast(&mon_put_done);
		pthread_mutex_unlock(&mon_lock);
	}
	return NULL;
}

/* At exit: a socket the application closed just before may still wait in
 * the graveyard, or be closing in the monitor. Without this its channel
 * would die with the process, and the peer would read a reset instead of
 * a clean end of stream (a client that writes, closes and returns from
 * main). The memory goes with the process: only channels are closed. */
void monitor_exit_close(void)
{
	pthread_mutex_lock(&mon_lock);
	struct grave *left = graveyard;
	graveyard = NULL;
	/* its batch's closes are graceful and bounded (ivt_close) */
	while (mon_running && mon_putting)
		pthread_cond_wait(&mon_put_done, &mon_lock);
	pthread_mutex_unlock(&mon_lock);
	for (struct grave *g = left; g; g = g->next) {
		/* only the graveyard's reference left: nobody else uses it (a
		 * late event for it finds it unarmed and leaves it alone) */
		if (atomic_load(&g->p->refs) == 1)
			psock_exit_close(g->p);
	}
}

void monitor_after_fork_child(void)
{
	/* the thread did not survive; the epoll is the parent's */
	if (mon_ep >= 0)
		real.close(mon_ep);
	if (mon_kick >= 0)
		real.close(mon_kick);
	mon_ep = mon_kick = -1;
	mon_running = 0;
	graveyard = NULL; /* the parent's to free */
	mon_putting = 0;
	pthread_mutex_init(&mon_lock, NULL);
	pthread_cond_init(&mon_put_done, NULL);
}
