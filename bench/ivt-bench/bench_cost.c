/* SPDX-License-Identifier: MIT */
#include "bench_cost.h"

#include <stdio.h>

struct bench_cost bench_cost_now(ivt_channel *ch)
{
	struct bench_cost b = {0};
	cost_sample(&b.c, 0);
	struct ivt_stats st;
	if (ch && ivt_get_stats(ch, &st) == 0) {
		b.waits = st.waits;
		b.notifies = st.notifies_sent;
	}
	return b;
}

void bench_cost_add(struct bench_cost_sum *sum, const struct bench_cost *before,
		    const struct bench_cost *after, uint64_t bytes)
{
	struct cost d;
	cost_per(&d, &before->c, &after->c, 1);
	sum->cpu_us += d.cpu_us;
	sum->sleeps += d.sleeps;
	sum->preempted += d.preempted;
	sum->waits += after->waits - before->waits;
	sum->notifies += after->notifies - before->notifies;
	sum->bytes += bytes;
}

void bench_cost_print(const char *role, size_t ring, size_t wsize, const char *mode,
		      const struct bench_cost_sum *s)
{
	double mb = s->bytes / 1e6;
	if (mb <= 0)
		return;
	fprintf(stderr,
		"ivt-bench: cost %s ring %zu write %zu %-7s per MB: cpu %.1f ms, sleeps %.0f, "
		"preempted %.0f, ivt waits %.0f, ivt notifies %.0f\n",
		role, ring, wsize, mode, s->cpu_us / 1e3 / mb, s->sleeps / mb, s->preempted / mb,
		s->waits / mb, s->notifies / mb);
}
