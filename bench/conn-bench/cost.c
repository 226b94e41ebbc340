/* SPDX-License-Identifier: MIT */
#include "cost.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* One thread of another process: schedstat's first field is its run time
 * in ns (finer than stat's clock ticks); status has its switches. */
static void add_task(struct cost *c, pid_t pid, const char *tid)
{
	char path[320], line[128];
	snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, tid);
	FILE *f = fopen(path, "r");
	unsigned long long ns;
	if (f && fscanf(f, "%llu", &ns) == 1)
		c->cpu_us += (double)ns / 1e3;
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, tid);
	f = fopen(path, "r");
	long v;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1)
			c->sleeps += (double)v;
		else if (sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			c->preempted += (double)v;
	}
	if (f)
		fclose(f);
}

void cost_sample(struct cost *c, pid_t other)
{
	struct rusage ru;
	memset(c, 0, sizeof(*c));
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		c->cpu_us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
			    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
		c->sleeps = (double)ru.ru_nvcsw;
		c->preempted = (double)ru.ru_nivcsw;
	}
	if (other <= 0)
		return;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)other);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			add_task(c, other, e->d_name);
	if (d)
		closedir(d);
}

void cost_per(struct cost *out, const struct cost *a, const struct cost *b, int n)
{
	out->cpu_us = (b->cpu_us - a->cpu_us) / n;
	out->sleeps = (b->sleeps - a->sleeps) / n;
	out->preempted = (b->preempted - a->preempted) / n;
}
