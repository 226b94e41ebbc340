/* SPDX-License-Identifier: MIT */
/* Waiting on XenStore watches until a condition holds: the one loop (check,
 * sleep on the handle's fd until a watch fires or the deadline, drain the
 * firings, check again) that libivt's open and the vchan client share. */
#ifndef IVT_COMMON_XS_WAIT_H
#define IVT_COMMON_XS_WAIT_H

struct xs_handle;

/* Calls check(arg) until it returns non-zero and returns that value, or
 * -ETIMEDOUT after timeout_ms (-1: no limit), or a negative errno from
 * poll. Between checks, sleeps on xs's fd and then drains the watch
 * firings with drain(arg) (NULL: discard them). The watches must be set
 * before the first check, so that nothing fires unseen. */
int ivt_xs_wait(struct xs_handle *xs, int timeout_ms, int (*check)(void *arg),
		void (*drain)(void *arg), void *arg);
/* The same, sleeping on fd (e.g. an epoll fd that holds the watch fd);
 * drain must not be NULL. */
int ivt_xs_wait_fd(int fd, int timeout_ms, int (*check)(void *arg), void (*drain)(void *arg),
		   void *arg);

#endif
