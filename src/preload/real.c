/* SPDX-License-Identifier: MIT */
/* The libc functions we wrap, found once with dlsym(RTLD_NEXT), and the log. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload.h"

struct real_fns real;
__thread int preload_inside;
int preload_log_on;

#define RESOLVE(f) real.f = (__typeof__(real.f))dlsym(RTLD_NEXT, #f)

__attribute__((constructor)) static void real_init(void)
{
	RESOLVE(socket); RESOLVE(connect); RESOLVE(listen); RESOLVE(accept);
	RESOLVE(accept4); RESOLVE(close); RESOLVE(shutdown); RESOLVE(read);
	RESOLVE(write); RESOLVE(readv); RESOLVE(writev); RESOLVE(recv); RESOLVE(send);
	RESOLVE(recvfrom); RESOLVE(sendto); RESOLVE(recvmsg); RESOLVE(sendmsg);
	RESOLVE(sendfile); RESOLVE(getsockname); RESOLVE(getpeername);
	RESOLVE(getsockopt); RESOLVE(setsockopt); RESOLVE(dup); RESOLVE(dup2);
	RESOLVE(dup3); RESOLVE(fcntl); RESOLVE(ioctl); RESOLVE(fork);
	RESOLVE(epoll_ctl); RESOLVE(epoll_wait); RESOLVE(epoll_pwait);
	/* our receive calls probe rather than wait: spinning in them only
	 * steals the CPU from the event loop (and the peer) */
	setenv("IVT_SPIN_NS", "0", 0);
	const char *l = getenv("IVT_PRELOAD_LOG");
	preload_log_on = l && *l && strcmp(l, "0") != 0;
}

void preload_log(const char *fmt, ...)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "ivt-preload[%d]: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = strlen(line);
	line[len++] = '\n';
	/* one write per line, so lines of several processes do not mix */
	if (real.write(2, line, len) < 0) {
		/* nowhere to report it */
	}
}
