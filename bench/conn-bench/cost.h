/* SPDX-License-Identifier: MIT */
/*
 * What a stretch of work costs the machine: CPU time and sleeps (voluntary
 * context switches, each one a later wake-up) of this process (all its
 * threads) and of another one (ivtd), from getrusage and /proc. On a
 * loaded machine these move far less between runs than latency does.
 */
#ifndef CONN_BENCH_COST_H
#define CONN_BENCH_COST_H

#include <sys/types.h>

struct cost {
	double cpu_us;  /* user + system */
	double sleeps;    /* voluntary context switches */
	double preempted; /* involuntary ones */
};

/* This process plus, if other > 0, every thread of other. */
void cost_sample(struct cost *c, pid_t other);
/* (b - a) / n into out. */
void cost_per(struct cost *out, const struct cost *a, const struct cost *b, int n);

#endif
