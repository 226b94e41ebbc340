/* SPDX-License-Identifier: MIT */
/* Monotonic time for timeouts and deadlines (never wall-clock time, which
 * can jump). */
#ifndef IVT_CLOCK_H
#define IVT_CLOCK_H

#include <time.h>

static inline long long ivt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline timeout_ms from now; -1 (none) when timeout_ms < 0. */
static inline long long ivt_deadline_ms(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : ivt_now_ms() + timeout_ms;
}

/* ms left until deadline, 0 once past: a poll() timeout; -1 for none. */
static inline int ivt_left_ms(long long deadline)
{
	if (deadline < 0)
		return -1;
	long long l = deadline - ivt_now_ms();
	return l < 0 ? 0 : l > 0x7fffffff ? 0x7fffffff : (int)l;
}

#endif
