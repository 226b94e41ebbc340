/* SPDX-License-Identifier: MIT */
/* ivtd's resident memory and open descriptors over time, from /proc. */
#ifndef SOAK_PROC_H
#define SOAK_PROC_H

#include <stdint.h>
#include <sys/types.h>

#define SOAK_MAX_SAMPLES 4096

struct soak_sample {
	double t;
	long rss_kib, fds;
	int busy; /* clients were running */
};

struct soak_series {
	pid_t pid;
	int n;
	struct soak_sample s[SOAK_MAX_SAMPLES];
};

void soak_series_init(struct soak_series *ser, pid_t pid);
/* Is the process still there (and not a zombie)? */
int soak_alive(const struct soak_series *ser);
void soak_print_header(void);
/* Take one sample and print its row. */
void soak_sample(struct soak_series *ser, double t, const char *phase, uint64_t channels,
		 uint64_t kills);
/* After the last client: wait up to secs for the fd count to come back to
 * the first (idle) sample's. 1 if it did. */
int soak_settle(struct soak_series *ser, double secs);
/* Print first/last/max and the verdict; 1 = flat. settled: soak_settle's;
 * judge_rss 0: memory is printed but not judged (too short a run). */
int soak_report(const struct soak_series *ser, int settled, int judge_rss);

#endif
