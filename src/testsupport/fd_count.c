/* SPDX-License-Identifier: MIT */
#include "testsupport/fd_count.h"

#include <fcntl.h>

int ts_count_open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}
