/* SPDX-License-Identifier: MIT */
/*
 * A client may do anything to the fds it was passed (issue 9, item 1). One
 * of ivt.utmem (served by ivtd itself, open to every uid) clears
 * O_NONBLOCK on each wake-up fd it holds, then keeps ivtd busy with
 * requests while it kicks and steals wake-ups. With eventfds that both
 * ends shared, ivtd's ack() then blocked in read() (on a wake-up stolen,
 * or on a second ack after a request arrived without one) and its one
 * event loop stopped; now it must still broker channels for everyone.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define POLICY                                                                                \
	"{\"version\":1,\"utmem\":{\"capacity_bytes\":16777216,\"max_value_bytes\":65536},"     \
	"\"channels\":[{\"name\":\"ivt.utmem\",\"listeners\":[],\"connectors\":[\"uid:*\"],"   \
	"\"backend\":\"shm\",\"quota_bytes\":1048576},"                                       \
	"{\"name\":\"t*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],\"backend\":\"shm\"}]}"

#define ATTACKS 5000

static struct e2e_daemon daemon_;

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	return e2e_daemon_start(&daemon_, POLICY);
}

static int teardown(void **state)
{
	(void)state;
	e2e_daemon_stop(&daemon_, 1); /* a frozen ivtd would not hear SIGTERM */
	return 0;
}

/* An fd a plugin passed us for wake-ups: an eventfd (the old shm layout) or
 * a stream socket (the new one; ivtd's control socket is a seqpacket). */
static int is_wakeup_fd(int fd)
{
	char path[64], target[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = '\0';
	if (!strcmp(target, "anon_inode:[eventfd]"))
		return 1;
	int type = 0;
	socklen_t len = sizeof(type);
	return !strncmp(target, "socket:", 7) &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

static int attacker(void *arg)
{
	(void)arg;
	alarm(60); /* our own blocking reads may lose a race with ivtd's */
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 10000};
	ivt_store *st;
	int rc = ivt_store_open(&o, &st);
	if (rc < 0) {
		fprintf(stderr, "attacker: ivt_store_open: %s\n", ivt_strerror(rc));
		return 10;
	}
	int fds[16], n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d)) && n < 16) {
		int fd = atoi(e->d_name);
		if (fd > 2 && fd != dirfd(d) && is_wakeup_fd(fd))
			fds[n++] = fd;
	}
	if (d)
		closedir(d);
	if (n == 0) {
		fprintf(stderr, "attacker: no wake-up fd found\n");
		return 11;
	}
	for (int i = 0; i < n; i++)
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) & ~O_NONBLOCK);
	uint32_t pool;
	if (ivt_pool_create(st, 0, NULL, &pool) < 0)
		return 12;
	/* Requests, and between them a kick taken back before ivtd reads it. */
	for (int k = 0; k < ATTACKS; k++) {
		uint64_t v = (uint64_t)k;
		if (ivt_put(st, pool, v % 64, 0, &v, sizeof(v)) < 0)
			return 13;
		for (int i = 0; i < n; i++) {
			uint64_t one = 1;
			if (write(fds[i], &one, sizeof(one)) < 0)
				continue;
			struct pollfd p = {.fd = fds[i], .events = POLLIN};
			if (poll(&p, 1, 0) == 1 && read(fds[i], &one, sizeof(one)) < 0)
				continue;
		}
	}
	return 0; /* the store stays open until we exit */
}

static void test_cleared_nonblock_does_not_freeze_ivtd(void **state)
{
	(void)state;
	pid_t pid = e2e_fork(attacker, NULL);
	int status = e2e_wait(pid);
	if (status != 0 && status != 128 + SIGALRM)
		fail_msg("the attacker failed (%d)", status);
	/* Another user's channel is still brokered: a listener is registered
	 * only once ivtd answered. */
	ivt_channel *ch;
	int rc = e2e_open("t-after-attack", IVT_LISTEN, 0, 0, &ch);
	if (rc < 0)
		fail_msg("ivtd no longer answers: %s", ivt_strerror(rc));
	assert_int_equal(ivt_close(ch), 0);
}

/* A program that closed its stdio (a daemon) must not find libivt's own
 * fds at 0, 1 or 2: its log lines, and the program's stray writes to
 * stderr, went into the control socket (ivtd dropped it as malformed and
 * the program's channels died at the next ivtd restart) or a ring's memfd. */
static int stdio_closed_end(void *arg)
{
	int listen = arg != NULL;
	for (int fd = 0; fd <= 2; fd++)
		close(fd);
	ivt_channel *ch = NULL;
	if (e2e_open("tstdio", listen ? IVT_LISTEN : 0, 10000, 0, &ch) < 0)
		return 3;
	/* a 1 MiB exchange makes both ends wait on the ring (eventfds) */
	int rc = listen ? e2e_recv_pattern(ch, 7, 1 << 20) : e2e_send_pattern(ch, 7, 1 << 20, 65536);
	if (rc == 0)
		rc = listen ? e2e_send_pattern(ch, 8, 1 << 20, 65536) : e2e_recv_pattern(ch, 8, 1 << 20);
	if (rc < 0)
		return 4;
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			return 10 + fd; /* one of libivt's fds landed there */
	ivt_close(ch);
	return 0;
}

static void test_stdio_closed_keeps_fds_off_0_to_2(void **state)
{
	(void)state;
	pid_t l = e2e_fork(stdio_closed_end, (void *)1);
	usleep(100 * 1000);
	pid_t c = e2e_fork(stdio_closed_end, NULL);
	assert_int_equal(e2e_wait(c), 0);
	assert_int_equal(e2e_wait(l), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cleared_nonblock_does_not_freeze_ivtd),
		cmocka_unit_test(test_stdio_closed_keeps_fds_off_0_to_2),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
