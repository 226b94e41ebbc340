/* SPDX-License-Identifier: MIT */
/* Giving an ivt channel the application's fd: the socketpair of preload.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "preload.h"

/* A new psock with its socketpair; *app_end is the end the application
 * will see (close-on-exec, blocking unless nonblock). */
static struct psock *stream_new(ivt_channel *ch, int nonblock, int *app_end)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	struct psock *p = psock_new(PS_STREAM);
	if (p) {
		p->stage = malloc(STAGE_SIZE);
		p->sh = pshare_new();
	}
	if (!p || !p->stage || !p->sh) {
		if (p)
			pshare_free(p->sh);
		free(p ? p->stage : NULL);
		free(p);
		real.close(sv[0]);
		real.close(sv[1]);
		errno = ENOMEM;
		return NULL;
	}
	/* the smallest send buffer: a few KiB of filler turn POLLOUT off */
	int one = 1;
	real.setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
	p->tok = hide_fd(sv[1]);
	real.close(sv[1]);
	p->appdup = hide_fd(sv[0]);
	p->ch = ch;
	p->nonblock = nonblock;
	if (nonblock)
		real.fcntl(sv[0], F_SETFL, O_NONBLOCK);
	preload_inside++;
	ivt_set_nonblock(ch, 1); /* we block, on the app fd, ourselves */
	/* we ask ivt_ready and ivt_arm before any sleep, one call at a time
	 * (p->lock): a read that empties the ring then costs no system call
	 * (readiness.c: rx_token arms) */
	ivt_set_manual_arm(ch, 1);
	preload_inside--;
	*app_end = sv[0];
	return p;
}

static void stream_start(int fd, struct psock *p)
{
	fdtab_set(fd, p);
	pthread_mutex_lock(&p->lock);
	rx_settle(p); /* the first token, or the first arming */
	pthread_mutex_unlock(&p->lock);
}

struct psock *stream_install(int fd, ivt_channel *ch, int nonblock, int cloexec)
{
	int app;
	struct psock *p = stream_new(ch, nonblock, &app);
	if (!p)
		return NULL;
	/* atomically replaces the kernel socket under the app's number */
	if (real.dup3(app, fd, cloexec ? O_CLOEXEC : 0) < 0) {
		int e = errno;
		real.close(app);
		p->ch = NULL; /* the caller still owns ch */
		atomic_fetch_add(&p->refs, 1);
		psock_put(p);
		errno = e;
		return NULL;
	}
	real.close(app);
	stream_start(fd, p);
	return p;
}

int stream_new_fd(ivt_channel *ch, int flags, struct psock **out)
{
	int app;
	struct psock *p = stream_new(ch, !!(flags & SOCK_NONBLOCK), &app);
	if (!p)
		return -1;
	if (!(flags & SOCK_CLOEXEC))
		real.fcntl(app, F_SETFD, 0);
	if (!fdtab_fits(app)) {
		real.close(app);
		p->ch = NULL;
		atomic_fetch_add(&p->refs, 1);
		psock_put(p);
		errno = EMFILE;
		return -1;
	}
	*out = p;
	stream_start(app, p);
	return app;
}
