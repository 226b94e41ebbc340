/* SPDX-License-Identifier: MIT */
#include "ivtd_run.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IVTD_RUN_BIN_DIR
#define IVTD_RUN_BIN_DIR "."
#endif
#ifndef IVTD_RUN_PLUGIN_DIR
#define IVTD_RUN_PLUGIN_DIR "."
#endif

static int can_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	/* Leave only once ivtd closed its end (our EOF): a probe ivtd still
	 * held when the caller counts its fds made ivt-soak's idle baseline
	 * one too high, and a loaded machine can delay ivtd's close past any
	 * quiet time we might wait for. */
	if (ok && shutdown(fd, SHUT_WR) == 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char b[256];
		while (poll(&p, 1, 5000) > 0 && recv(fd, b, sizeof(b), 0) > 0)
			;
	}
	close(fd);
	return ok;
}

int ivtd_run_start(struct ivtd_run *r, const char *policy_json, char *why, size_t why_len)
{
	memset(r, 0, sizeof(*r));
	r->pid = -1;
	const char *bin = getenv("IVT_BIN_DIR");
	char ivtd[512];
	snprintf(ivtd, sizeof(ivtd), "%s/ivtd", bin && *bin ? bin : IVTD_RUN_BIN_DIR);
	if (access(ivtd, X_OK) != 0) {
		snprintf(why, why_len, "%s: %s", ivtd, strerror(errno));
		return -1;
	}
	snprintf(r->dir, sizeof(r->dir), "/tmp/utmem-bench-ivtd.XXXXXX");
	if (!mkdtemp(r->dir)) {
		snprintf(why, why_len, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(r->sock, sizeof(r->sock), "%s/ivtd.sock", r->dir);
	snprintf(r->policy, sizeof(r->policy), "%s/policy.json", r->dir);
	FILE *f = fopen(r->policy, "w");
	if (!f || fputs(policy_json, f) < 0 || fclose(f) != 0) {
		snprintf(why, why_len, "writing %s failed", r->policy);
		ivtd_run_stop(r);
		return -1;
	}
	if (!getenv("IVT_PLUGIN_DIR"))
		setenv("IVT_PLUGIN_DIR", IVTD_RUN_PLUGIN_DIR, 1);
	fflush(NULL);
	r->pid = fork();
	if (r->pid == 0) {
		execl(ivtd, "ivtd", "-c", r->policy, "-s", r->sock, "-r", "local", "-q",
		      (char *)NULL);
		_exit(127);
	}
	setenv("IVT_SOCKET", r->sock, 1);
	for (int i = 0; i < 500; i++) { /* up to ~5 s for it to serve */
		if (can_connect(r->sock))
			return 0;
		int st;
		if (r->pid < 0 || waitpid(r->pid, &st, WNOHANG) == r->pid) {
			r->pid = -1;
			break;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	snprintf(why, why_len, "ivtd did not come up");
	ivtd_run_stop(r);
	return -1;
}

void ivtd_run_stop(struct ivtd_run *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		waitpid(r->pid, NULL, 0);
		r->pid = -1;
	}
	if (r->sock[0])
		unlink(r->sock);
	if (r->policy[0])
		unlink(r->policy);
	if (r->dir[0])
		rmdir(r->dir);
}

long ivtd_run_rss_kib(pid_t pid, char *state)
{
	char path[64], line[256], st = '?';
	long rss = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			sscanf(line + 6, "%ld", &rss);
		else if (!strncmp(line, "State:", 6))
			sscanf(line + 6, " %c", &st);
	}
	if (f)
		fclose(f);
	if (state)
		*state = st;
	return f ? rss : -1;
}

long ivtd_run_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}
