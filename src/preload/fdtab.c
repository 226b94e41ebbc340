/* SPDX-License-Identifier: MIT */
/* Which application fds are ivt sockets, and the sockets' lifetime. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "preload.h"

/* Sockets on higher fd numbers are left to the kernel (connect/listen
 * check this before turning a socket into an ivt one). */
#define FDT_MAX 65536
/* Our hidden fds live up here, out of the way of select()'s FD_SETSIZE
 * and of programs that expect low numbers. */
#define HIDDEN_FD_MIN 4096

static struct psock *fdt[FDT_MAX];
static pthread_mutex_t fdtab_lock = PTHREAD_MUTEX_INITIALIZER;

struct psock *psock_get(int fd)
{
	if (fd < 0 || fd >= FDT_MAX)
		return NULL;
	/* lock-free fast miss: most fds are not ours */
	if (!__atomic_load_n(&fdt[fd], __ATOMIC_ACQUIRE))
		return NULL;
	pthread_mutex_lock(&fdtab_lock);
	struct psock *p = fdt[fd];
	if (p)
		atomic_fetch_add(&p->refs, 1);
	pthread_mutex_unlock(&fdtab_lock);
	return p;
}

/* End p's channel for good (ours, a stream): the end of stream goes into
 * the ring now, unless libivt still holds a frame tail, which a thread
 * of its own delivers first (linger.c). */
static void stream_end(struct psock *p)
{
	preload_inside++;
	if (p->tx_pending && ivt_flush(p->ch) != -EAGAIN)
		p->tx_pending = 0; /* the tail fits now (or the peer is gone) */
	if (p->tx_pending)
		linger_close(p->ch);
	else
		ivt_close(p->ch);
	preload_inside--;
	p->ch = NULL;
}

/* This process lets go of its copy of p's channel (forks.c). */
static void stream_forget(struct psock *p)
{
	preload_inside++;
	ivt_forget(p->ch);
	preload_inside--;
	p->ch = NULL;
}

static void psock_free(struct psock *p)
{
	if (p->rx_lazy)
		atomic_fetch_sub(&lazy_count, 1);
	if (p->kind == PS_STREAM && p->ch && p->doomed == 1)
		stream_end(p);
	else if (p->kind == PS_STREAM && p->ch)
		stream_forget(p); /* handed off, or another process's */
	pshare_free(p->sh);
	preload_inside++;
	if (p->kind == PS_LISTEN && p->l && p->owner == preload_pid)
		ivt_listener_close(p->l);
	int fds[] = {p->tok, p->appdup, p->kfd, p->kls};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			real.close(fds[i]);
	preload_inside--;
	free(p->stage);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void psock_put(struct psock *p)
{
	if (p && atomic_fetch_sub(&p->refs, 1) == 1)
		psock_free(p);
}

/* Tests only: IVT_PRELOAD_TEST_MON_PUT_US, a pause between the two
 * halves of the monitor's reference drop, where a close racing with it
 * used to find the stream not alone (test preload_lifecycle). */
static int mon_put_pause_us(void)
{
	static int us = -1;
	int v = __atomic_load_n(&us, __ATOMIC_RELAXED);
	if (v < 0) {
		const char *e = getenv("IVT_PRELOAD_TEST_MON_PUT_US");
		v = e && *e ? atoi(e) : 0;
		__atomic_store_n(&us, v < 0 ? 0 : v, __ATOMIC_RELAXED);
	}
	return v;
}

void psock_put_mon(struct psock *p)
{
	pthread_mutex_lock(&p->lock);
	atomic_fetch_sub(&p->mon_refs, 1);
	if (mon_put_pause_us() > 0)
		usleep((useconds_t)mon_put_pause_us());
	int last = atomic_fetch_sub(&p->refs, 1) == 1;
	pthread_mutex_unlock(&p->lock);
	if (last)
		psock_free(p);
}

void fdtab_set(int fd, struct psock *p)
{
	atomic_fetch_add(&p->refs, 1);
	atomic_fetch_add(&p->nfds, 1);
	pthread_mutex_lock(&fdtab_lock);
	__atomic_store_n(&fdt[fd], p, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fdtab_lock);
}

struct psock *fdtab_take(int fd)
{
	if (fd < 0 || fd >= FDT_MAX || !__atomic_load_n(&fdt[fd], __ATOMIC_ACQUIRE))
		return NULL;
	pthread_mutex_lock(&fdtab_lock);
	struct psock *p = fdt[fd];
	__atomic_store_n(&fdt[fd], NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&fdtab_lock);
	return p;
}

struct psock **fdtab_streams(size_t *n)
{
	static unsigned round;
	size_t cap = 16;
	struct psock **v = malloc(cap * sizeof(*v));
	*n = 0;
	pthread_mutex_lock(&fdtab_lock);
	round++;
	for (int fd = 0; v && fd < FDT_MAX; fd++) {
		struct psock *p = fdt[fd];
		if (!p || p->kind != PS_STREAM || p->fork_mark == round)
			continue;
		if (*n == cap) {
			struct psock **nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv)
				break; /* the rest are not counted: their owners end them */
			v = nv;
			cap *= 2;
		}
		p->fork_mark = round;
		atomic_fetch_add(&p->refs, 1);
		v[(*n)++] = p;
	}
	pthread_mutex_unlock(&fdtab_lock);
	return v;
}

void fdtab_hold(int on)
{
	if (on)
		pthread_mutex_lock(&fdtab_lock);
	else
		pthread_mutex_unlock(&fdtab_lock);
}

struct psock *psock_new(enum psock_kind kind)
{
	struct psock *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->kind = kind;
	atomic_init(&p->refs, 0);
	pthread_mutex_init(&p->lock, NULL);
	p->owner = preload_pid;
	p->appdup = p->tok = p->kfd = p->kls = p->app_ep = p->doomed = -1;
	return p;
}

int hide_fd(int fd)
{
	int h = real.fcntl(fd, F_DUPFD_CLOEXEC, HIDDEN_FD_MIN);
	if (h < 0) /* low fd limit: anywhere but 0-2 (common/fd_stdio.h) */
		h = real.fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return h;
}

int hide_new_fd(int fd)
{
	int h = fd >= 0 ? hide_fd(fd) : -1;
	if (h < 0)
		return fd; /* kept where it is: usable, only not hidden */
	real.close(fd);
	return h;
}

int fdtab_fits(int fd) { return fd >= 0 && fd < FDT_MAX; }

pid_t preload_pid;

void psock_fd_gone(struct psock *p)
{
	if (atomic_fetch_sub(&p->nfds, 1) == 1 && p->kind == PS_STREAM) {
		pthread_mutex_lock(&p->lock);
		direct_off(p);
		/* Nobody but us and the monitor (whose reference never
		 * touches the channel once unarmed, and comes and goes only
		 * under p->lock: readiness.c, handle) uses it? Then the end
		 * of stream is delivered before close returns: a process
		 * that closes and _exits at once left its peer a reset.
		 * Else a call of another thread is in flight: the last
		 * reference ends it (psock_free). */
		int alone = atomic_load(&p->refs) == 1 + atomic_load(&p->mon_refs);
		monitor_forget(p);
		p->doomed = stream_let_go(p);
		if (alone && p->ch && p->doomed)
			stream_end(p);
		pthread_mutex_unlock(&p->lock);
	}
	psock_put(p);
}

int psock_usable(struct psock *p)
{
	if (p->kind == PS_STREAM)
		return stream_claim(p);
	if (p->owner == preload_pid)
		return 1;
	PLOG("a forked copy of an ivt socket is not usable in this process (ENOTCONN)");
	errno = ENOTCONN;
	return 0;
}

static void after_fork_child(void)
{
	preload_pid = getpid();
	monitor_after_fork_child();
	linger_after_fork_child();
}

void psock_exit_close(struct psock *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->kind == PS_STREAM && p->ch) {
		monitor_forget(p);
		if (p->doomed < 0)
			p->doomed = stream_let_go(p);
		if (p->doomed == 1)
			stream_end(p); /* else: handed off, or another's */
	}
	pthread_mutex_unlock(&p->lock);
}

/* Closing at exit lets the peer read to a clean end of stream instead of
 * the reset it would see when ivtd notices this process is gone. */
__attribute__((destructor)) static void close_all(void)
{
	for (int fd = 0; fd < FDT_MAX; fd++) {
		if (!__atomic_load_n(&fdt[fd], __ATOMIC_ACQUIRE))
			continue;
		struct psock *p = fdtab_take(fd);
		if (p && atomic_load(&p->nfds) == 1)
			psock_exit_close(p);
		if (p)
			atomic_fetch_sub(&p->nfds, 1);
		/* the memory goes with the process */
	}
	monitor_exit_close(); /* and those closed just before */
	linger_exit_wait();   /* tails still being delivered: one deadline for all */
}

__attribute__((constructor)) static void fdtab_init(void)
{
	preload_pid = getpid();
	pthread_atfork(NULL, NULL, after_fork_child);
}
