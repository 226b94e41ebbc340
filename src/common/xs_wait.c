/* SPDX-License-Identifier: MIT */
#include "common/xs_wait.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include <xenstore.h>

#include "common/clock.h"

int ivt_xs_wait_fd(int fd, int timeout_ms, int (*check)(void *arg), void (*drain)(void *arg),
		   void *arg)
{
	long long deadline = timeout_ms < 0 ? -1 : (long long)ivt_now_ms() + timeout_ms;
	for (;;) {
		int rc = check(arg);
		if (rc)
			return rc;
		long long left = deadline < 0 ? -1 : deadline - (long long)ivt_now_ms();
		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, left > 0x7fffffff ? 0x7fffffff : (int)left) < 0 && errno != EINTR)
			return -errno;
		drain(arg);
	}
}

struct discard {
	struct xs_handle *xs;
	int (*check)(void *arg);
	void (*drain)(void *arg);
	void *arg;
};

static int discard_check(void *a)
{
	struct discard *d = a;
	return d->check(d->arg);
}

static void discard_drain(void *a)
{
	struct discard *d = a;
	char **w;
	if (d->drain) {
		d->drain(d->arg);
		return;
	}
	while ((w = xs_check_watch(d->xs)) != NULL)
		free(w);
}

int ivt_xs_wait(struct xs_handle *xs, int timeout_ms, int (*check)(void *arg),
		void (*drain)(void *arg), void *arg)
{
	struct discard d = {.xs = xs, .check = check, .drain = drain, .arg = arg};
	return ivt_xs_wait_fd(xs_fileno(xs), timeout_ms, discard_check, discard_drain, &d);
}
