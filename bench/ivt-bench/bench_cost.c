/* SPDX-License-Identifier: MIT */
#include "bench_cost.h"

#include <stdio.h>
#include <sys/resource.h>

struct bench_cost bench_cost_now(ivt_channel *ch)
{
	struct bench_cost c = {0};
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		c.user_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6;
		c.sys_s = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
		c.sleeps = ru.ru_nvcsw;
	}
	struct ivt_stats st;
	if (ch && ivt_get_stats(ch, &st) == 0) {
		c.waits = st.waits;
		c.notifies = st.notifies_sent;
	}
	return c;
}

void bench_cost_add(struct bench_cost *acc, const struct bench_cost *before,
		    const struct bench_cost *after, uint64_t bytes)
{
	acc->user_s += after->user_s - before->user_s;
	acc->sys_s += after->sys_s - before->sys_s;
	acc->sleeps += after->sleeps - before->sleeps;
	acc->waits += after->waits - before->waits;
	acc->notifies += after->notifies - before->notifies;
	acc->bytes += bytes;
}

void bench_cost_print(const char *role, size_t ring, size_t wsize, const char *mode,
		      const struct bench_cost *c)
{
	double mb = c->bytes / 1e6;
	if (mb <= 0)
		return;
	fprintf(stderr,
		"ivt-bench: cost %s ring %zu write %zu %-7s per MB: user %.1f ms, sys %.1f ms, "
		"sleeps %.0f, ivt waits %.0f, ivt notifies %.0f\n",
		role, ring, wsize, mode, c->user_s * 1e3 / mb, c->sys_s * 1e3 / mb, c->sleeps / mb,
		c->waits / mb, c->notifies / mb);
}
