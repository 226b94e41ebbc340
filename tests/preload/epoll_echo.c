/* SPDX-License-Identifier: MIT */
/*
 * An ordinary TCP program (no ivt in it) for the preload tests: an epoll
 * echo server and a client that checks every byte.
 *
 *   epoll-echo server PORT et|lt    echo each connection until its end;
 *                                   lt reads at most 100 bytes per wake-up,
 *                                   so it needs readiness after partial reads
 *   epoll-echo client PORT BYTES [CONNS]   send a pattern over CONNS
 *                                   connections at once (non-blocking,
 *                                   edge-triggered), verify the echo
 *   epoll-echo dump PORT BYTES     write BYTES, close and return from
 *                                   main at once (the exit-time close)
 * Exit 0 when every byte came back right. Prints one summary line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC 64

static uint8_t pat(uint64_t i, int c) { return (uint8_t)((i * 131 + (uint64_t)c * 7 + (i >> 9)) & 0xff); }

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "epoll-echo: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

struct conn {
	int fd;
	uint8_t buf[65536];
	size_t have, off; /* server: pending echo bytes */
	uint64_t sent, got;
	int done_rd;
};

static _Noreturn void server(int port, int et)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(ls, (void *)&a, sizeof(a)) < 0 || listen(ls, 64) < 0)
		die("bind/listen");
	nonblock(ls);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(ep, evs, 16, -1);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				int fd;
				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					struct epoll_event ce = {
						.events = EPOLLIN | EPOLLOUT | (et ? EPOLLET : 0),
						.data.ptr = c};
					if (!et)
						ce.events = EPOLLIN;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
				}
				continue;
			}
			for (;;) { /* et: until EAGAIN; lt: one small read */
				if (c->have == c->off) {
					c->have = c->off = 0;
					ssize_t r = read(c->fd, c->buf, et ? sizeof(c->buf) : 100);
					if (r == 0 || (r < 0 && errno != EAGAIN)) {
						epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
						close(c->fd);
						free(c);
						break;
					}
					if (r < 0)
						break;
					c->have = (size_t)r;
				}
				ssize_t w = write(c->fd, c->buf + c->off, c->have - c->off);
				if (w < 0 && errno != EAGAIN)
					die("write");
				if (w > 0)
					c->off += (size_t)w;
				if (c->off < c->have) {
					if (!et) { /* wait for room: LT on POLLOUT too */
						struct epoll_event ce = {.events = EPOLLOUT, .data.ptr = c};
						epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ce);
					}
					break;
				}
				if (!et) {
					struct epoll_event ce = {.events = EPOLLIN, .data.ptr = c};
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ce);
					break;
				}
			}
		}
	}
}

static int client(int port, uint64_t bytes, int nconn)
{
	static struct conn cs[MAXC];
	int ep = epoll_create1(0), left = nconn;
	for (int i = 0; i < nconn; i++) {
		struct conn *c = &cs[i];
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (connect(c->fd, (void *)&a, sizeof(a)) < 0 && errno != EINPROGRESS)
			die("connect");
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	}
	uint8_t buf[32768];
	while (left) {
		struct epoll_event evs[MAXC];
		int n = epoll_wait(ep, evs, MAXC, 10000);
		if (n == 0) {
			fprintf(stderr, "epoll-echo: no progress for 10 s\n");
			return 1;
		}
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			int ci = (int)(c - cs);
			if (evs[k].events & EPOLLOUT) {
				int err = 0;
				socklen_t el = sizeof(err);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					errno = err;
					die("connect (SO_ERROR)");
				}
			}
			while (c->sent < bytes) { /* edge-triggered: until EAGAIN */
				size_t len = bytes - c->sent < sizeof(buf) ? bytes - c->sent : sizeof(buf);
				for (size_t i = 0; i < len; i++)
					buf[i] = pat(c->sent + i, ci);
				ssize_t w = write(c->fd, buf, len);
				if (w < 0 && errno == EAGAIN)
					break;
				if (w < 0)
					die("write");
				c->sent += (uint64_t)w;
				if (c->sent == bytes)
					shutdown(c->fd, SHUT_WR);
			}
			while (!c->done_rd) {
				ssize_t r = read(c->fd, buf, sizeof(buf));
				if (r < 0 && errno == EAGAIN)
					break;
				if (r <= 0) {
					if (r < 0)
						die("read");
					fprintf(stderr, "epoll-echo: early end after %llu bytes\n",
						(unsigned long long)c->got);
					return 1;
				}
				for (ssize_t i = 0; i < r; i++)
					if (buf[i] != pat(c->got + (uint64_t)i, ci)) {
						fprintf(stderr, "epoll-echo: conn %d: wrong byte at %llu\n",
							ci, (unsigned long long)(c->got + (uint64_t)i));
						return 1;
					}
				c->got += (uint64_t)r;
				if (c->got == bytes) {
					c->done_rd = 1;
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
					close(c->fd);
					left--;
				}
			}
		}
	}
	printf("ok %d connections x %llu bytes echoed\n", nconn, (unsigned long long)bytes);
	return 0;
}

/* Write, close, exit: nothing waits for the close to reach the peer. */
static int dump(int port, size_t bytes)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	char buf[4096];
	memset(buf, 'x', sizeof(buf));
	for (size_t off = 0; off < bytes;) {
		ssize_t w = write(fd, buf, bytes - off < sizeof(buf) ? bytes - off : sizeof(buf));
		if (w <= 0)
			die("write");
		off += (size_t)w;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "dump"))
		return dump(atoi(argv[2]), strtoull(argv[3], NULL, 0));
	if (argc >= 4 && !strcmp(argv[1], "server"))
		server(atoi(argv[2]), !strcmp(argv[3], "et"));
	if (argc >= 4 && !strcmp(argv[1], "client")) {
		int n = argc > 4 ? atoi(argv[4]) : 1;
		return client(atoi(argv[2]), strtoull(argv[3], NULL, 0), n < 1 ? 1 : n > MAXC ? MAXC : n);
	}
	fprintf(stderr, "usage: epoll-echo server PORT et|lt | client PORT BYTES [CONNS] | dump PORT BYTES\n");
	return 2;
}
