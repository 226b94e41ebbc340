/* SPDX-License-Identifier: MIT */
/* close, dup*, fcntl and ioctl: keep the fd table in step with the kernel's. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "preload.h"

int close(int fd)
{
	struct psock *p = fdtab_take(fd);
	int r = real.close(fd);
	int e = errno;
	if (p)
		psock_fd_gone(p);
	errno = e;
	return r;
}

/* newfd now names what oldfd's psock (if any) is. */
static int bind_dup(int newfd, struct psock *p)
{
	if (newfd < 0 || !p)
		return newfd;
	if (!fdtab_fits(newfd)) {
		real.close(newfd);
		errno = EMFILE; /* documented: ivt sockets live below the table size */
		return -1;
	}
	fdtab_set(newfd, p);
	return newfd;
}

int dup(int fd)
{
	struct psock *p = psock_get(fd);
	int r = bind_dup(real.dup(fd), p);
	int e = errno;
	psock_put(p);
	errno = e;
	return r;
}

static int dup_onto(int oldfd, int newfd, int flags, int use3)
{
	if (oldfd == newfd)
		return use3 ? real.dup3(oldfd, newfd, flags) : real.dup2(oldfd, newfd);
	struct psock *p = psock_get(oldfd);
	struct psock *was = NULL;
	int r = use3 ? real.dup3(oldfd, newfd, flags) : real.dup2(oldfd, newfd);
	if (r >= 0) {
		was = fdtab_take(newfd); /* the kernel closed it */
		r = bind_dup(r, p);
	}
	int e = errno;
	if (was)
		psock_fd_gone(was);
	psock_put(p);
	errno = e;
	return r;
}

int dup2(int oldfd, int newfd) { return dup_onto(oldfd, newfd, 0, 0); }
int dup3(int oldfd, int newfd, int flags) { return dup_onto(oldfd, newfd, flags, 1); }

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long); /* int or pointer: both fit the same register */
	va_end(ap);
	struct psock *p = psock_get(fd);
	if (!p)
		return real.fcntl(fd, cmd, arg);
	int r = real.fcntl(fd, cmd, arg);
	int e = errno;
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		r = bind_dup(r, p), e = errno;
	else if (r >= 0 && cmd == F_SETFL)
		p->nonblock = !!(arg & O_NONBLOCK);
	psock_put(p);
	errno = e;
	return r;
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct psock *p = psock_get(fd);
	if (!p)
		return real.ioctl(fd, req, arg);
	int r = 0;
	if (req == FIONBIO) {
		r = real.ioctl(fd, req, arg);
		if (r == 0)
			p->nonblock = !!*(int *)arg;
	} else if (req == FIONREAD && p->kind == PS_STREAM) {
		/* rx_settle keeps the next bytes in the stage while any are there */
		pthread_mutex_lock(&p->lock);
		*(int *)arg = (int)p->st_len;
		pthread_mutex_unlock(&p->lock);
	} else if (req == TIOCOUTQ && p->kind == PS_STREAM) {
		*(int *)arg = 0; /* unknown; never more than the ring */
	} else {
		r = real.ioctl(p->kind == PS_STREAM && p->kfd >= 0 ? p->kfd : fd, req, arg);
	}
	int e = errno;
	psock_put(p);
	errno = e;
	return r;
}

/* Programs built against glibc >= 2.28 call fcntl64. */
int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return fcntl(fd, cmd, arg);
}
