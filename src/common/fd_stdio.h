/* SPDX-License-Identifier: MIT */
/* Keeping library-internal fds off 0, 1 and 2. A program that closed its
 * stderr (a daemon) would otherwise hand that number to the next fd libivt
 * makes or receives, and every later write to stderr (its own, or libivt's
 * log) would go into a control socket, an eventfd, or the start of a ring's
 * memfd. */
#ifndef IVT_FD_STDIO_H
#define IVT_FD_STDIO_H

#include <fcntl.h>
#include <unistd.h>

/* fd itself when it is above 2 (or negative); else a close-on-exec copy
 * at 3 or above, the original closed. Keeps fd when no copy can be made:
 * a low number is a hazard, not an error. */
static inline int ivt_fd_off_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (moved < 0)
		return fd;
	close(fd);
	return moved;
}

#endif
