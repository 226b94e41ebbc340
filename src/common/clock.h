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

#endif
