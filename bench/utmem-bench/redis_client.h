/* SPDX-License-Identifier: MIT */
/* A private redis-server for the benchmark, and just enough RESP to SET
 * and GET binary values over its Unix socket (no hiredis dependency). */
#ifndef UTMEM_BENCH_REDIS_CLIENT_H
#define UTMEM_BENCH_REDIS_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

struct redis {
	pid_t pid;       /* the redis-server we started */
	int fd;          /* connection to it */
	char path[108];  /* its Unix socket */
	char *buf;       /* request scratch */
	size_t cap;
	char rbuf[65536]; /* buffered replies: one read per reply, like hiredis */
	size_t rpos, rlen;
};

/* Start `redis-server` (no persistence) on a Unix socket under /tmp and
 * connect. 0, or a negative errno with a reason in why (e.g. not installed). */
int redis_start(struct redis *r, char *why, size_t why_len);
/* Kill the server we started and clean up. */
void redis_stop(struct redis *r);

int redis_set(struct redis *r, const char *key, const void *val, size_t len);
/* Returns value length (copied up to cap), -ENOENT for nil, or negative errno. */
ssize_t redis_get(struct redis *r, const char *key, void *out, size_t cap);
int redis_del(struct redis *r, const char *key);

#endif
