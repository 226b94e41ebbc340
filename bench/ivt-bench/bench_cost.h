/* SPDX-License-Identifier: MIT */
/* ivt-bench --via-ivt --costs: what each run of a point cost this end,
 * per MB moved: CPU time and sleeps (conn-bench's cost.c: getrusage) and,
 * for ivt's modes, libivt's own waits and the peer wake-ups it sent. A
 * cheap profile that works the same for raw libxenvchan and for ivt,
 * inside a guest without perf or strace. */
#ifndef IVT_BENCH_COST_H
#define IVT_BENCH_COST_H

#include <stddef.h>
#include <stdint.h>

#include "cost.h"
#include "ivt/ivt.h"

struct bench_cost {
	struct cost c;
	uint64_t waits, notifies;
};

/* A snapshot of this process (and of ch's counters). */
struct bench_cost bench_cost_now(ivt_channel *ch);

/* Per point and mode: the sum of its runs. */
struct bench_cost_sum {
	double cpu_us, sleeps, preempted;
	uint64_t waits, notifies, bytes;
};
/* sum += (after - before), bytes += bytes */
void bench_cost_add(struct bench_cost_sum *sum, const struct bench_cost *before,
		    const struct bench_cost *after, uint64_t bytes);
/* One line on stderr: "ivt-bench: cost <role> ring R write W <mode> ..." */
void bench_cost_print(const char *role, size_t ring, size_t wsize, const char *mode,
		      const struct bench_cost_sum *s);

#endif
