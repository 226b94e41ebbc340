/* SPDX-License-Identifier: MIT */
/*
 * An ordinary TCP program (no ivt in it) for the preload tests: many
 * connections in one level-triggered epoll that never sleeps, because
 * one fd in it is always ready, as redis-benchmark's idle clients are
 * (they keep EPOLLOUT once every request is out).
 *
 *   busy-client PORT CONNS ROUNDS
 *
 * The first round writes one byte on every connection, the next ones on
 * the FEW connections opened first only, while the rest sit idle (as
 * redis-benchmark's last clients wait for replies); each round waits at
 * most 10 s until every echo came back. The preload looked at the rings
 * of at most 256 idle ("lazy") streams when epoll_wait returned at once,
 * always the newest, and armed the others only before a sleep: the
 * replies on the oldest connections were never seen (issue 12).
 * Exit 0 when every round completed. Prints one summary line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 4096
#define ROUND_SECS 10
#define FEW 8

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "busy-client: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: busy-client PORT CONNS ROUNDS\n");
		return 2;
	}
	int port = atoi(argv[1]), nconn = atoi(argv[2]), rounds = atoi(argv[3]);
	if (nconn < 1 || nconn > MAXC || rounds < 1) {
		fprintf(stderr, "busy-client: CONNS 1..%d, ROUNDS >= 1\n", MAXC);
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nconn * 2 + 64) {
		rl.rlim_cur = rl.rlim_max; /* each ivt stream holds more fds */
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	static int fds[MAXC], got[MAXC];
	int ep = epoll_create1(0);
	for (int i = 0; i < nconn; i++) {
		fds[i] = dial(port);
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			die("epoll_ctl");
	}
	/* the always-ready fd: a pipe with a byte nobody reads */
	int pp[2];
	if (pipe(pp) < 0 || write(pp[1], "b", 1) != 1)
		die("pipe");
	struct epoll_event pev = {.events = EPOLLIN, .data.u32 = (uint32_t)MAXC};
	epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &pev);

	static struct epoll_event evs[MAXC + 1];
	for (int r = 0; r < rounds; r++) {
		int busy = r == 0 || nconn < FEW ? nconn : FEW;
		for (int i = 0; i < busy; i++) {
			got[i] = 0;
			if (write(fds[i], "x", 1) != 1)
				die("write");
		}
		int left = busy;
		time_t end = time(NULL) + ROUND_SECS;
		while (left && time(NULL) < end) {
			int n = epoll_wait(ep, evs, MAXC + 1, 1000);
			for (int k = 0; k < n; k++) {
				uint32_t i = evs[k].data.u32;
				if (i == MAXC)
					continue;
				char b[16];
				ssize_t got_n = read(fds[i], b, sizeof(b));
				if (got_n == 0 || (got_n < 0 && errno != EAGAIN)) {
					fprintf(stderr, "busy-client: connection %u ended\n", i);
					return 1;
				}
				if (got_n > 0 && !got[i]++)
					left--;
			}
		}
		if (left) {
			fprintf(stderr, "busy-client: round %d: %d of %d replies never seen\n", r + 1,
				left, busy);
			return 1;
		}
	}
	printf("ok %d connections x %d rounds\n", nconn, rounds);
	return 0;
}
