/* SPDX-License-Identifier: MIT */
#include "redis_client.h"

#include <errno.h>
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

static int write_all(int fd, const void *b, size_t n)
{
	const char *p = b;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_raw(int fd, void *b, size_t n)
{
	char *p = b;
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int fill_rbuf(struct redis *r)
{
	for (;;) {
		ssize_t n = read(r->fd, r->rbuf, sizeof(r->rbuf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		r->rpos = 0;
		r->rlen = (size_t)n;
		return 0;
	}
}

/* n bytes: first what is buffered, the rest straight from the socket. */
static int read_all(struct redis *r, void *b, size_t n)
{
	size_t have = r->rlen - r->rpos;
	size_t take = have < n ? have : n;
	memcpy(b, r->rbuf + r->rpos, take);
	r->rpos += take;
	if (take == n)
		return 0;
	return read_raw(r->fd, (char *)b + take, n - take);
}

/* Read one CRLF-terminated line (without CRLF) into line[cap]. */
static int read_line(struct redis *r, char *line, size_t cap)
{
	size_t n = 0;
	for (;;) {
		if (r->rpos == r->rlen) {
			int rc = fill_rbuf(r);
			if (rc)
				return rc;
		}
		char c = r->rbuf[r->rpos++];
		if (c == '\n' && n > 0 && line[n - 1] == '\r') {
			line[n - 1] = 0;
			return 0;
		}
		if (n + 1 >= cap)
			return -EPROTO;
		line[n++] = c;
	}
}

static int reserve(struct redis *r, size_t need)
{
	if (r->cap >= need)
		return 0;
	char *b = realloc(r->buf, need);
	if (!b)
		return -ENOMEM;
	r->buf = b;
	r->cap = need;
	return 0;
}

/* Send a command of argc bulk strings in one write (like the utmem client). */
static int send_cmd(struct redis *r, int argc, const char *const *argv, const size_t *lens)
{
	size_t need = 32;
	for (int i = 0; i < argc; i++)
		need += lens[i] + 32;
	int rc = reserve(r, need);
	if (rc)
		return rc;
	size_t off = (size_t)sprintf(r->buf, "*%d\r\n", argc);
	for (int i = 0; i < argc; i++) {
		off += (size_t)sprintf(r->buf + off, "$%zu\r\n", lens[i]);
		memcpy(r->buf + off, argv[i], lens[i]);
		off += lens[i];
		memcpy(r->buf + off, "\r\n", 2);
		off += 2;
	}
	return write_all(r->fd, r->buf, off);
}

int redis_set(struct redis *r, const char *key, const void *val, size_t len)
{
	const char *argv[3] = {"SET", key, val};
	size_t lens[3] = {3, strlen(key), len};
	int rc = send_cmd(r, 3, argv, lens);
	if (rc)
		return rc;
	char line[256];
	rc = read_line(r, line, sizeof(line));
	if (rc)
		return rc;
	return strcmp(line, "+OK") ? -EIO : 0;
}

ssize_t redis_get(struct redis *r, const char *key, void *out, size_t cap)
{
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	int rc = send_cmd(r, 2, argv, lens);
	if (rc)
		return rc;
	char line[64];
	rc = read_line(r, line, sizeof(line));
	if (rc)
		return rc;
	if (line[0] != '$')
		return -EIO;
	long n = strtol(line + 1, NULL, 10);
	if (n < 0)
		return -ENOENT;
	if ((size_t)n > cap)
		return -EMSGSIZE;
	rc = read_all(r, out, (size_t)n);
	if (!rc)
		rc = read_all(r, line, 2); /* CRLF */
	return rc ? rc : (ssize_t)n;
}

int redis_del(struct redis *r, const char *key)
{
	const char *argv[2] = {"DEL", key};
	size_t lens[2] = {3, strlen(key)};
	int rc = send_cmd(r, 2, argv, lens);
	if (rc)
		return rc;
	char line[64];
	return read_line(r, line, sizeof(line));
}

int redis_start(struct redis *r, char *why, size_t why_len)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	snprintf(r->path, sizeof(r->path), "/tmp/utmem-bench-redis-%d.sock", (int)getpid());
	unlink(r->path);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", r->path,
		       "--save", "", "--appendonly", "no", "--dir", "/tmp", (char *)NULL);
		_exit(127);
	}
	r->pid = pid;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, r->path, strlen(r->path) + 1);
	for (int tries = 0; tries < 100; tries++) { /* up to ~5 s for startup */
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			r->pid = 0;
			snprintf(why, why_len, "redis-server did not start (exit %d)",
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			return -ENOENT;
		}
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			r->fd = fd;
			return 0;
		}
		if (fd >= 0)
			close(fd);
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	snprintf(why, why_len, "could not connect to redis-server at %s", r->path);
	redis_stop(r);
	return -ETIMEDOUT;
}

void redis_stop(struct redis *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
	unlink(r->path);
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}
