/* SPDX-License-Identifier: MIT */
/* A private ivtd for the benchmark: its own socket, directory and policy. */
#ifndef UTMEM_BENCH_IVTD_RUN_H
#define UTMEM_BENCH_IVTD_RUN_H

#include <stddef.h>
#include <sys/types.h>

struct ivtd_run {
	pid_t pid;
	char dir[64];
	char sock[108];
	char policy[128];
};

/* Start ivtd (from $IVT_BIN_DIR, else IVTD_RUN_BIN_DIR) with policy_json
 * and point libivt at it ($IVT_SOCKET, and $IVT_PLUGIN_DIR if unset).
 * 0, or -1 with why. */
int ivtd_run_start(struct ivtd_run *r, const char *policy_json, char *why, size_t why_len);
void ivtd_run_stop(struct ivtd_run *r);

/* From /proc, for benchmarks that watch ivtd: VmRSS in KiB (and, if state
 * is not NULL, the state letter; '?' if unknown), open fds; -1 if the
 * process is gone. */
long ivtd_run_rss_kib(pid_t pid, char *state);
long ivtd_run_fds(pid_t pid);

#endif
