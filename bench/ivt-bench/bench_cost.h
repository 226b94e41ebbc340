/* SPDX-License-Identifier: MIT */
/* ivt-bench --via-ivt --costs: what each run of a point cost this end,
 * per MB moved: CPU time (user, system), sleeps (voluntary context
 * switches) and, for ivt's modes, libivt's own waits and the peer
 * wake-ups it sent. A cheap profile that works the same for raw
 * libxenvchan and for ivt, inside a guest without perf or strace. */
#ifndef IVT_BENCH_COST_H
#define IVT_BENCH_COST_H

#include <stdint.h>

#include "ivt/ivt.h"

struct bench_cost {
	double user_s, sys_s;
	long sleeps;
	uint64_t waits, notifies;
	uint64_t bytes;
};

/* A snapshot of this process (and of ch's counters). */
struct bench_cost bench_cost_now(ivt_channel *ch);
/* acc += (after - before), bytes += bytes */
void bench_cost_add(struct bench_cost *acc, const struct bench_cost *before,
		    const struct bench_cost *after, uint64_t bytes);
/* One line on stderr: "ivt-bench: cost <role> ring R write W <mode> ..." */
void bench_cost_print(const char *role, size_t ring, size_t wsize, const char *mode,
		      const struct bench_cost *c);

#endif
