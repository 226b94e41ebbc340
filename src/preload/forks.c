/* SPDX-License-Identifier: MIT */
/*
 * fork and ivt streams (docs/preload.md, "fork"). A stream's channel (the
 * libivt state in memory) can be driven by one process only. Every process
 * that inherited the stream shares a small page with it (struct pshare):
 * who owns the channel, whether the owner used it since the last fork,
 * and how many processes hold it. A server that forks after accept closes
 * its copy without touching it: it hands the stream off (no end of
 * stream, no teardown; its own copy of the channel is let go with
 * ivt_forget), and the first process to read or write takes it over.
 * Whoever owns it when the last holder lets go ends it as a close does.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "preload.h"

struct pshare *pshare_new(void)
{
	struct pshare *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return NULL;
	atomic_init(&s->own, (uint32_t)preload_pid | OWN_USED);
	atomic_init(&s->holders, 1);
	return s;
}

void pshare_free(struct pshare *s)
{
	if (s)
		munmap(s, sizeof(*s));
}

int stream_mine(struct psock *p)
{
	return p->sh && (atomic_load(&p->sh->own) & OWN_PID) == (uint32_t)preload_pid;
}

int stream_fresh(struct psock *p)
{
	return p->sh && atomic_load(&p->sh->own) == (uint32_t)preload_pid;
}

int stream_claim(struct psock *p)
{
	uint32_t me = (uint32_t)preload_pid;
	uint32_t w = atomic_load(&p->sh->own);
	for (;;) {
		if ((w & OWN_PID) == me) {
			if ((w & OWN_USED) ||
			    atomic_compare_exchange_weak(&p->sh->own, &w, me | OWN_USED))
				return 1;
			continue;
		}
		if (w & OWN_USED) { /* another process uses it since the fork */
			PLOG("a forked copy of an ivt socket is in use by process %u; "
			     "not usable here (ENOTCONN)", w & OWN_PID);
			errno = ENOTCONN;
			return 0;
		}
		if (atomic_compare_exchange_weak(&p->sh->own, &w, me | OWN_USED))
			break;
	}
	PLOG("fork: process %u takes over an ivt stream%s", me,
	     w ? " its parent did not use since the fork" : " handed off at close");
	pthread_mutex_lock(&p->lock);
	p->owner = preload_pid;
	fork_resync(p);
	pthread_mutex_unlock(&p->lock);
	return 1;
}

int stream_let_go(struct psock *p)
{
	uint32_t me = (uint32_t)preload_pid;
	int left = atomic_fetch_sub(&p->sh->holders, 1) - 1;
	uint32_t w = atomic_load(&p->sh->own);
	for (;;) {
		int mine = (w & OWN_PID) == me;
		if (mine && ((w & OWN_USED) || left <= 0))
			return 1; /* ours to end, as any close */
		if (mine) { /* unused since the fork, others hold it: hand off */
			if (!atomic_compare_exchange_weak(&p->sh->own, &w, 0))
				continue;
			PLOG("fork: close hands an ivt stream unused since the fork to the "
			     "%d other process(es) holding it", left);
			token_show(p); /* whoever polls it: look (the ring may hold bytes) */
			return 0;
		}
		if (left > 0 || (w & OWN_USED))
			return 0; /* another's (or another still holds it) */
		/* the last holder of a stream nobody took over: end it */
		if (atomic_compare_exchange_weak(&p->sh->own, &w, me | OWN_USED))
			return 1;
	}
}

/* fork: nothing of a stream's channel may be half-changed in the child's
 * copy, so every stream's lock is held across the fork (then the table's:
 * psock locks come first, preload.h), and each holder is counted. */
static pthread_mutex_t fork_mu = PTHREAD_MUTEX_INITIALIZER;

pid_t fork(void)
{
	pthread_mutex_lock(&fork_mu);
	size_t n = 0;
	struct psock **v = fdtab_streams(&n);
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&v[i]->lock);
		atomic_fetch_add(&v[i]->sh->holders, 1);
		/* "used since the fork" starts anew */
		uint32_t w = (uint32_t)preload_pid | OWN_USED;
		atomic_compare_exchange_strong(&v[i]->sh->own, &w, (uint32_t)preload_pid);
	}
	fdtab_hold(1);
	pid_t r = real.fork();
	int e = errno;
	fdtab_hold(0);
	for (size_t i = 0; i < n; i++) {
		struct psock *p = v[i];
		if (r < 0)
			atomic_fetch_sub(&p->sh->holders, 1);
		if (r == 0 && p->in_mon) { /* the parent's monitor watched it */
			p->in_mon = p->armed = 0;
			atomic_fetch_sub(&p->mon_refs, 1);
			atomic_fetch_sub(&p->refs, 1);
		}
		pthread_mutex_unlock(&p->lock);
		psock_put(p);
	}
	free(v);
	pthread_mutex_unlock(&fork_mu);
	errno = e;
	return r;
}
