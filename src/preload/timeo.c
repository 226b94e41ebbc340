/* SPDX-License-Identifier: MIT */
/*
 * SO_RCVTIMEO / SO_SNDTIMEO on ivt sockets. setsockopt puts them on the
 * stand-in kernel socket (sock_calls.c), which keeps them and reports
 * them back; a blocking call reads them there only when it is about to
 * wait, and like the kernel bounds its whole waiting by them. A signal
 * handler ends the wait as the kernel's SA_RESTART rule would.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/time.h>

#include "common/clock.h"
#include "preload.h"

/* fd's timeout opt in ms; -1 none (unset, zero, or no socket to ask). */
static int timeo_ms(int fd, int opt)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);
	if (fd < 0 || real.getsockopt(fd, SOL_SOCKET, opt, &tv, &len) < 0 ||
	    len != sizeof(tv) || (tv.tv_sec == 0 && tv.tv_usec == 0))
		return -1;
	long long ms = (long long)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int timeo_left(int fd, int opt, long long *deadline)
{
	if (*deadline == TIMEO_UNSET)
		*deadline = ivt_deadline_ms(timeo_ms(fd, opt));
	int left = ivt_left_ms(*deadline);
	if (left == 0)
		errno = EAGAIN; /* what TCP's recv/send/accept say then */
	return left;
}

int wait_app_fd_timeo(struct psock *p, short events, int opt, long long *deadline)
{
	int left = timeo_left(p->kfd, opt, deadline);
	if (left == 0)
		return -1;
	return wait_app_fd(p, events, left);
}

/* Which signal came is not known after poll's EINTR, so: the call ends when
 * any installed handler lacks SA_RESTART (Python installs all of its own
 * so, to see EINTR and run them, and Ctrl-C must reach it), else it waits
 * on. A program whose handlers all restart sees what it would over TCP;
 * one with a handler that does not must expect EINTR from its calls
 * anyway. Only runs after an interruption. */
int signal_ends_call(void)
{
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;
		if (s == SIGKILL || s == SIGSTOP || sigaction(s, NULL, &sa) < 0)
			continue;
		int handled = (sa.sa_flags & SA_SIGINFO) ? sa.sa_sigaction != NULL
							 : sa.sa_handler != SIG_DFL &&
								   sa.sa_handler != SIG_IGN;
		if (handled && !(sa.sa_flags & SA_RESTART))
			return 1;
	}
	return 0;
}
