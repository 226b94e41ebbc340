/* SPDX-License-Identifier: MIT */
/*
 * epoll without the monitor's extra hop. When an ivt stream's fd sits in
 * exactly one application epoll, we add the channel's ivt_fd() to that
 * same epoll (edge-triggered, tagged data), so the peer's kick wakes the
 * application's own epoll_wait; the wrapper then fixes token and filler
 * (kick_handle) and hands back the readiness that produced, never the
 * tagged event itself. poll/select users, and fds in several epolls, are
 * served by the monitor thread (readiness.c).
 *
 * Such a stream whose ring went empty is not armed at once (rx_lazy):
 * arming costs system calls here and a kick from the peer. epoll_wait
 * first looks at the rings of its lazy streams for a moment (the peer
 * often answers within microseconds), and arms them only when it is
 * really about to sleep.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "preload.h"

/* Tagged data: DTAG | ivt_fd. User pointers and small numbers never have
 * these top bits; the table lookup confirms the rest. */
#define DTAG 0xfeed1e5500000000ull
#define DTAG_MASK 0xffffffff00000000ull
#define DTAB_MAX 65536

static struct psock *dtab[DTAB_MAX];
static struct psock *dlist; /* every direct stream, through dnext */
static pthread_mutex_t dtab_lock = PTHREAD_MUTEX_INITIALIZER;

static struct psock *dtab_get(uint64_t data)
{
	uint32_t fd = (uint32_t)data;
	if (fd >= DTAB_MAX)
		return NULL;
	pthread_mutex_lock(&dtab_lock);
	struct psock *p = dtab[fd];
	if (p)
		atomic_fetch_add(&p->refs, 1);
	pthread_mutex_unlock(&dtab_lock);
	return p;
}

/* p->lock held. */
static void direct_on(struct psock *p, int epfd)
{
	int fd = ivt_fd(p->ch);
	if (fd < 0 || fd >= DTAB_MAX)
		return;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = DTAG | (uint32_t)fd};
	if (real.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return; /* the monitor keeps serving it */
	atomic_fetch_add(&p->refs, 1);
	pthread_mutex_lock(&dtab_lock);
	dtab[fd] = p;
	p->dnext = dlist;
	dlist = p;
	pthread_mutex_unlock(&dtab_lock);
	p->direct = 1;
	p->app_ep = epfd;
	monitor_forget(p);
	/* a kick the monitor took before is not lost: look now */
	kick_handle(p);
}

void direct_off(struct psock *p)
{
	if (!p->direct)
		return;
	int fd = ivt_fd(p->ch);
	real.epoll_ctl(p->app_ep, EPOLL_CTL_DEL, fd, NULL);
	pthread_mutex_lock(&dtab_lock);
	dtab[fd] = NULL;
	for (struct psock **pp = &dlist; *pp; pp = &(*pp)->dnext)
		if (*pp == p) {
			*pp = p->dnext;
			break;
		}
	pthread_mutex_unlock(&dtab_lock);
	p->direct = 0;
	atomic_fetch_sub(&p->refs, 1); /* never the last: the caller holds one */
	kick_handle(p); /* re-arms through the monitor if it waits */
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct psock *p = preload_inside ? NULL : psock_get(fd);
	if (!p)
		return real.epoll_ctl(epfd, op, fd, ev);
	int r = real.epoll_ctl(epfd, op, fd, ev);
	int e = errno;
	if (r == 0 && p->kind == PS_STREAM && psock_usable(p)) {
		pthread_mutex_lock(&p->lock);
		/* A DEL keeps our ivt_fd in that epoll ("sticky"): programs
		 * that drop and re-add the fd per request (redis-benchmark)
		 * then cost nothing, and kicks still keep the token right. */
		if (op == EPOLL_CTL_ADD && !p->direct && p->app_ep < 0)
			direct_on(p, epfd);
		else if (op == EPOLL_CTL_ADD && p->app_ep != epfd && p->app_ep != -2) {
			direct_off(p); /* a second epoll: the monitor serves both */
			p->app_ep = -2;
		}
		pthread_mutex_unlock(&p->lock);
	}
	psock_put(p);
	errno = e;
	return r;
}

/* Drop tagged events (handling them); returns how many remain. */
static int filter(struct epoll_event *evs, int n, int *handled)
{
	int out = 0;
	for (int i = 0; i < n; i++) {
		if ((evs[i].data.u64 & DTAG_MASK) != DTAG) {
			evs[out++] = evs[i];
			continue;
		}
		struct psock *p = dtab_get(evs[i].data.u64);
		if (!p) {
			continue; /* gone since */
		}
		pthread_mutex_lock(&p->lock);
		kick_handle(p);
		pthread_mutex_unlock(&p->lock);
		psock_put(p);
		(*handled)++;
	}
	return out;
}

/* ---- before sleeping: spin on the lazy streams' rings, then arm them -- */

/* Spin budget (ns), adaptive as in ring.c: back to the maximum when a
 * spin found data, halved when it did not. $IVT_PRELOAD_SPIN_NS caps it
 * ("0": never spin). */
#define SPIN_MAX_NS 50000u
#define SPIN_MIN_NS 1000u
static unsigned spin_max = SPIN_MAX_NS, spin_ns = SPIN_MAX_NS;

__attribute__((constructor)) static void spin_init(void)
{
	const char *e = getenv("IVT_PRELOAD_SPIN_NS");
	if (e && *e) {
		unsigned long v = strtoul(e, NULL, 10);
		spin_max = v < SPIN_MAX_NS ? (unsigned)v : SPIN_MAX_NS;
	}
	spin_ns = spin_max;
}

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t); /* vDSO */
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

#define LAZY_MAX 256

/* Up to LAZY_MAX lazy streams of epfd, each with a reference. */
static int lazy_collect(int epfd, struct psock **out)
{
	int n = 0;
	pthread_mutex_lock(&dtab_lock);
	for (struct psock *p = dlist; p && n < LAZY_MAX; p = p->dnext)
		if (p->app_ep == epfd && __atomic_load_n(&p->rx_lazy, __ATOMIC_SEQ_CST)) {
			atomic_fetch_add(&p->refs, 1);
			out[n++] = p;
		}
	pthread_mutex_unlock(&dtab_lock);
	return n;
}

/* Look at the rings until one has data or the budget is spent. */
static int spin_rings(struct psock **ps, int n)
{
	if (!spin_ns)
		return 0;
	long long end = now_ns() + spin_ns;
	for (unsigned i = 0;; i++) {
		for (int k = 0; k < n; k++)
			if (ivt_ready(ps[k]->ch) & IVT_READY_RECV) {
				spin_ns = spin_max;
				return 1;
			}
		__builtin_ia32_pause();
		if ((i & 7) == 7 && now_ns() >= end)
			break;
	}
	spin_ns = spin_ns / 2 > SPIN_MIN_NS ? spin_ns / 2 : SPIN_MIN_NS;
	return 0;
}

atomic_int epoll_sleepers, lazy_count;

static void lazy_arm_all(int epfd);

/* Before epoll_wait may sleep (spin) or when it only looks (timeout 0, or
 * events were there already: lazy streams are not armed, so only their
 * rings tell): spin on or look at the lazy streams' rings; one that got
 * data is read ahead, and its token makes the wait return at once. */
static void lazy_before_sleep(int epfd, int spin)
{
	struct psock *ps[LAZY_MAX];
	preload_inside++;
	int n = lazy_collect(epfd, ps);
	int found = n > 0 && (!spin || (n < LAZY_MAX && spin_rings(ps, n)));
	for (int k = 0; k < n; k++) {
		if (found) {
			pthread_mutex_lock(&ps[k]->lock);
			if (ps[k]->rx_lazy && (ivt_ready(ps[k]->ch) & IVT_READY_RECV))
				kick_handle(ps[k]); /* reads ahead: token, or arms */
			pthread_mutex_unlock(&ps[k]->lock);
		}
		psock_put(ps[k]);
	}
	preload_inside--;
	/* A look sees LAZY_MAX streams at most, always the first of the list:
	 * arm the rest. A program that never sleeps because some fd is always
	 * ready (redis-benchmark's idle clients poll EPOLLOUT once every
	 * request is out) would otherwise never see the replies of the others
	 * (issue 12). Before a sleep the caller arms them all anyway. */
	if (!spin && n == LAZY_MAX)
		lazy_arm_all(epfd);
}

/* epoll_wait is about to sleep: arm every lazy stream of epfd, so that a
 * peer's write wakes it (epoll_sleepers already counts this thread). */
static void lazy_arm_all(int epfd)
{
	struct psock *ps[LAZY_MAX];
	int n;
	preload_inside++;
	while ((n = lazy_collect(epfd, ps)) > 0)
		for (int k = 0; k < n; k++) {
			pthread_mutex_lock(&ps[k]->lock);
			rx_arm_lazy(ps[k]);
			pthread_mutex_unlock(&ps[k]->lock);
			psock_put(ps[k]);
		}
	preload_inside--;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static int wait_common(int epfd, struct epoll_event *evs, int max, int timeout,
		       const sigset_t *mask)
{
	long long deadline = timeout > 0 ? now_ms() + timeout : 0;
	for (;;) {
		if (atomic_load(&lazy_count)) {
			if (timeout != 0) {
				/* what is there already comes first, without a
				 * spin: a program that waits for POLLOUT before it
				 * sends (redis-benchmark) would otherwise spin for
				 * an answer to a request it has not sent yet */
				int n = real.epoll_wait(epfd, evs, max, 0);
				int handled = 0;
				if (n > 0 && (n = filter(evs, n, &handled)) > 0) {
					/* lazy streams are not armed: a busy loop
					 * would starve them unless we look each time
					 * (what they got shows in the next call) */
					lazy_before_sleep(epfd, 0);
					return n;
				}
			}
			lazy_before_sleep(epfd, timeout != 0);
		}
		if (timeout != 0) {
			/* from here on, no stream of a reader in another thread
			 * stays lazy (rx_token checks the count); then arm the
			 * lazy ones ourselves */
			atomic_fetch_add(&epoll_sleepers, 1);
			if (atomic_load(&lazy_count))
				lazy_arm_all(epfd);
		}
		int n = mask ? real.epoll_pwait(epfd, evs, max, timeout, mask)
			     : real.epoll_wait(epfd, evs, max, timeout);
		if (timeout != 0)
			atomic_fetch_sub(&epoll_sleepers, 1);
		if (n <= 0)
			return n;
		int handled = 0;
		int out = filter(evs, n, &handled);
		if (out || !handled)
			return out;
		/* only kicks: collect the readiness they produced */
		n = real.epoll_wait(epfd, evs, max, 0);
		if (n > 0 && (out = filter(evs, n, &handled)) > 0)
			return out;
		if (timeout == 0)
			return 0;
		if (timeout > 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return 0;
			timeout = (int)left;
		}
	}
}

int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	return wait_common(epfd, evs, max, timeout, NULL);
}

int epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout, const sigset_t *mask)
{
	return wait_common(epfd, evs, max, timeout, mask);
}
