/* SPDX-License-Identifier: MIT */
#include "soak_proc.h"
#include "ivtd_run.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void soak_series_init(struct soak_series *ser, pid_t pid)
{
	memset(ser, 0, sizeof(*ser));
	ser->pid = pid;
}

/* VmRSS in KiB and the process state letter, or -1. */
static long read_status(pid_t pid, char *state) { return ivtd_run_rss_kib(pid, state); }

static long count_fds(pid_t pid) { return ivtd_run_fds(pid); }

int soak_alive(const struct soak_series *ser)
{
	char state;
	return read_status(ser->pid, &state) >= 0 && state != 'Z' && state != 'X';
}

void soak_print_header(void)
{
	printf("%8s  %-5s %9s %7s %10s %6s\n", "time_s", "phase", "channels", "kills", "rss_kib",
	       "fds");
}

void soak_sample(struct soak_series *ser, double t, const char *phase, uint64_t channels,
		 uint64_t kills)
{
	char state;
	struct soak_sample s = {.t = t, .busy = !strcmp(phase, "busy")};
	s.rss_kib = read_status(ser->pid, &state);
	s.fds = count_fds(ser->pid);
	if (ser->n < SOAK_MAX_SAMPLES)
		ser->s[ser->n++] = s;
	printf("%8.1f  %-5s %9llu %7llu %10ld %6ld\n", t, phase, (unsigned long long)channels,
	       (unsigned long long)kills, s.rss_kib, s.fds);
	fflush(stdout);
}

int soak_settle(struct soak_series *ser, double secs)
{
	if (ser->n == 0)
		return 0;
	for (double waited = 0; waited < secs; waited += 0.05) {
		if (count_fds(ser->pid) == ser->s[0].fds)
			return 1;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

static long peak_rss(const struct soak_series *ser, int from, int to)
{
	long m = 0;
	for (int i = from; i < to; i++)
		if (ser->s[i].rss_kib > m)
			m = ser->s[i].rss_kib;
	return m;
}

int soak_report(const struct soak_series *ser, int settled, int judge_rss)
{
	if (ser->n < 2)
		return 0;
	const struct soak_sample *first = &ser->s[0], *last = &ser->s[ser->n - 1];
	long max_fds = 0;
	for (int i = 0; i < ser->n; i++)
		if (ser->s[i].fds > max_fds)
			max_fds = ser->s[i].fds;
	/* Growth: the busy samples' peak in the second half against the first
	 * half's (allocator warm-up happens early and is not a leak). */
	int busy_from = 1, busy_to = ser->n - 1, half = busy_from + (busy_to - busy_from) / 2;
	long rss_h1 = peak_rss(ser, busy_from, half), rss_h2 = peak_rss(ser, half, busy_to);
	int enough = judge_rss && busy_to - busy_from >= 4;
	long allowed = rss_h1 + rss_h1 / 10 + 1024;
	int rss_flat = !enough || rss_h2 <= allowed;
	int fds_flat = settled && last->fds == first->fds;

	printf("\n%-22s %10s %10s %10s\n", "ivtd", "first", "last", "max");
	printf("%-22s %10ld %10ld %10ld\n", "rss_kib", first->rss_kib, last->rss_kib,
	       peak_rss(ser, 0, ser->n));
	printf("%-22s %10ld %10ld %10ld\n", "fds", first->fds, last->fds, max_fds);
	printf("baseline: ivtd idle before the first channel (first row); last = idle again\n");
	if (enough)
		printf("rss peak while busy: first half %ld KiB, second half %ld KiB (ratio %.3f, "
		       "limit %ld)\n",
		       rss_h1, rss_h2, rss_h1 ? (double)rss_h2 / (double)rss_h1 : 0.0, allowed);
	else
		printf("rss growth: not judged (--quick, or fewer than 4 busy samples)\n");
	printf("verdict: %s (fds %s, rss %s)\n", rss_flat && fds_flat ? "flat" : "NOT FLAT",
	       fds_flat ? "back to baseline" : "LEAKED", rss_flat ? "flat" : "GROWING");
	return rss_flat && fds_flat;
}
