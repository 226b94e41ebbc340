/* SPDX-License-Identifier: MIT */
#include "e2e_util.h"

#include "common/ctrl_msg.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

int e2e_ctrl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(s);
		s = -1;
	}
	return s;
}

int e2e_status(const char *path, char *buf, size_t cap)
{
	int s = e2e_ctrl_connect(path);
	if (s < 0)
		return -1;
	struct ivt_ctrl_msg m;
	int rc = ivt_ctrl_send(s, IVT_CTRL_STATUS, 1, NULL, 0, NULL, 0);
	if (rc == 0)
		rc = ivt_ctrl_recv(s, &m, 10000);
	close(s);
	if (rc < 0 || m.hdr.type != IVT_CTRL_STATUS_OK)
		return -1;
	snprintf(buf, cap, "%s", m.u.status);
	return 0;
}

const char *e2e_status_line(const char *status, const char *name, char *line, size_t cap)
{
	size_t n = strlen(name);
	line[0] = '\0';
	for (const char *l = status; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, name, n) || l[n] != ' ')
			continue;
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		snprintf(line, cap, "%.*s", (int)len, l);
		break;
	}
	return line;
}

static int can_connect(const char *path)
{
	int s = e2e_ctrl_connect(path);
	if (s >= 0)
		close(s);
	return s >= 0;
}

/* Run ivtd on d's socket and policy; wait until it serves. */
static int spawn(struct e2e_daemon *d)
{
	const char *bin = getenv("IVT_BIN_DIR");
	if (!bin) {
		fprintf(stderr, "e2e: IVT_BIN_DIR is not set (run under ctest)\n");
		return -1;
	}
	char ivtd[512];
	snprintf(ivtd, sizeof(ivtd), "%s/ivtd", bin);
	d->pid = fork();
	if (d->pid < 0)
		return -1;
	if (d->pid == 0) {
		execl(ivtd, "ivtd", "-c", d->policy, "-s", d->sock, "-r", "local", "-q", (char *)NULL);
		fprintf(stderr, "e2e: cannot run %s: %s\n", ivtd, strerror(errno));
		_exit(127);
	}
	setenv("IVT_SOCKET", d->sock, 1);
	/* wait for it to serve, or to die (not a timing assertion: it either
	 * comes up or the test fails on its exit) */
	for (;;) {
		if (can_connect(d->sock))
			return 0;
		int st;
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			fprintf(stderr, "e2e: ivtd exited during startup (status %d)\n", st);
			d->pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
}

int e2e_daemon_start(struct e2e_daemon *d, const char *policy_json)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/ivt-e2e.XXXXXX");
	if (!mkdtemp(d->dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(d->sock, sizeof(d->sock), "%s/ivtd.sock", d->dir);
	snprintf(d->policy, sizeof(d->policy), "%s/policy.json", d->dir);
	FILE *f = fopen(d->policy, "w");
	if (!f || fputs(policy_json, f) < 0 || fclose(f) != 0) {
		perror("writing the policy");
		return -1;
	}
	return spawn(d);
}

int e2e_daemon_kill(struct e2e_daemon *d)
{
	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0; /* the socket file stays, as after a crash: ivtd clears it */
	return 0;
}

int e2e_daemon_respawn(struct e2e_daemon *d) { return spawn(d); }

void e2e_daemon_stop(struct e2e_daemon *d, int hard)
{
	if (d->pid > 0) {
		kill(d->pid, hard ? SIGKILL : SIGTERM);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
	if (d->dir[0]) {
		unlink(d->policy);
		unlink(d->sock);
		rmdir(d->dir);
	}
}

struct e2e_daemon e2e_group_daemon;

int e2e_group_start(const char *policy_json)
{
	return e2e_daemon_start(&e2e_group_daemon, policy_json);
}

int e2e_group_setup_open(void **state)
{
	(void)state;
	return e2e_group_start(E2E_POLICY_OPEN);
}

int e2e_group_teardown(void **state)
{
	(void)state;
	e2e_daemon_stop(&e2e_group_daemon, 0);
	return 0;
}

pid_t e2e_fork(int (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int e2e_wait(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

int e2e_open(const char *name, unsigned flags, int timeout_ms, size_t ring, ivt_channel **ch)
{
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = timeout_ms, .ring_size = ring};
	int rc = ivt_open(name, flags, &o, ch);
	if (rc < 0)
		fprintf(stderr, "e2e: ivt_open(%s, %s): %s\n", name,
			flags & IVT_LISTEN ? "listen" : "connect", ivt_strerror(rc));
	return rc;
}

int e2e_listen(const char *name, int nonblock, ivt_listener **l)
{
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 5000,
				  .flags = nonblock ? IVT_NONBLOCK : 0};
	int rc = ivt_listen(name, &o, l);
	if (rc < 0)
		fprintf(stderr, "e2e: ivt_listen(%s): %s\n", name, ivt_strerror(rc));
	return rc;
}

int e2e_accept(ivt_listener *l, int timeout_ms, ivt_channel **ch)
{
	struct pollfd p = {.fd = ivt_listener_fd(l), .events = POLLIN};
	for (int waited = 0;; waited += 50) {
		int rc = ivt_accept(l, ch);
		if (rc != -EAGAIN || waited >= timeout_ms)
			return rc;
		poll(&p, 1, 50);
	}
}

static uint64_t word(uint64_t seed, uint64_t i)
{
	uint64_t z = i + seed * 0x632be59bd9b4e019ull + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint8_t byte_at(uint64_t seed, uint64_t pos)
{
	return (uint8_t)(word(seed, pos / 8) >> (8 * (pos % 8)));
}

void e2e_fill(uint8_t *buf, uint64_t seed, uint64_t off, size_t len)
{
	size_t i = 0;
	while (i < len && (off + i) % 8)
		buf[i] = byte_at(seed, off + i), i++;
	for (; i + 8 <= len; i += 8) {
		uint64_t w = word(seed, (off + i) / 8);
		memcpy(buf + i, &w, 8);
	}
	for (; i < len; i++)
		buf[i] = byte_at(seed, off + i);
}

long long e2e_mismatch(const uint8_t *buf, uint64_t seed, uint64_t off, size_t len)
{
	uint8_t want[4096];
	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof(want) ? len - done : sizeof(want);
		e2e_fill(want, seed, off + done, n);
		if (memcmp(want, buf + done, n) != 0)
			for (size_t i = 0; i < n; i++)
				if (want[i] != buf[done + i])
					return (long long)(done + i);
		done += n;
	}
	return -1;
}

int e2e_send_pattern(ivt_channel *ch, uint64_t seed, uint64_t len, size_t piece)
{
	uint8_t *buf = malloc(piece);
	int rc = 0;
	for (uint64_t off = 0; off < len && rc == 0;) {
		size_t n = len - off < piece ? (size_t)(len - off) : piece;
		e2e_fill(buf, seed, off, n);
		ssize_t r = ivt_send(ch, buf, n);
		if (r != (ssize_t)n) {
			rc = r < 0 ? (int)r : -EIO;
			fprintf(stderr, "e2e: send at %llu: %s\n", (unsigned long long)off,
				ivt_strerror(rc));
		}
		off += n;
	}
	free(buf);
	return rc;
}

int e2e_recv_pattern(ivt_channel *ch, uint64_t seed, uint64_t len)
{
	const size_t cap = 1 << 20;
	uint8_t *buf = malloc(cap);
	int rc = 0;
	for (uint64_t off = 0; off < len && rc == 0;) {
		size_t want = len - off < cap ? (size_t)(len - off) : cap;
		ssize_t r = ivt_recv(ch, buf, want);
		if (r <= 0) {
			rc = r < 0 ? (int)r : -ECONNRESET;
			fprintf(stderr, "e2e: recv at %llu: %s\n", (unsigned long long)off,
				r == 0 ? "early end of stream" : ivt_strerror(rc));
			break;
		}
		long long bad = e2e_mismatch(buf, seed, off, (size_t)r);
		if (bad >= 0) {
			fprintf(stderr, "e2e: wrong byte at stream offset %llu\n",
				(unsigned long long)off + (unsigned long long)bad);
			rc = -EILSEQ;
		}
		off += (uint64_t)r;
	}
	free(buf);
	return rc;
}

int e2e_count_fds(pid_t pid)
{
	char path[64];
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/fd");
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

int e2e_stream_in_read(struct e2e_stream_in *c)
{
	uint8_t buf[16384];
	for (;;) {
		if (!c->have_seed) {
			ssize_t n = ivt_recv(c->ch, c->seed_buf + c->got, 8 - c->got);
			if (n == -EAGAIN)
				return 0;
			if (n <= 0)
				return -1;
			c->got += (uint64_t)n;
			if (c->got == 8) {
				memcpy(&c->seed, c->seed_buf, 8);
				c->have_seed = 1;
				c->got = 0;
			}
			continue;
		}
		if (c->got == c->total)
			return 1;
		size_t want = c->total - c->got < sizeof(buf) ? c->total - c->got : sizeof(buf);
		ssize_t n = ivt_recv(c->ch, buf, want);
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		if (e2e_mismatch(buf, c->seed, c->got, (size_t)n) >= 0)
			return -1;
		c->got += (uint64_t)n;
	}
}
