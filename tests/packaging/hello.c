/* SPDX-License-Identifier: MIT */
/* A program built only from the installed libivt-dev (pkg-config or
 * find_package): listens on a channel in one process, connects from a
 * forked one, and checks that a message crosses. Exit 0 on success. */
#include <errno.h>
#include <ivt/ivt.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSG "hello through the installed ivtd"

int main(int argc, char **argv)
{
	const char *chan = argc > 1 ? argv[1] : "pkgtest";
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 20000};
	pid_t pid = fork();
	if (pid == 0) {
		ivt_channel *c;
		int rc = ivt_open(chan, 0, &o, &c);
		if (rc < 0) {
			fprintf(stderr, "connect: %s\n", ivt_strerror(rc));
			_exit(1);
		}
		rc = ivt_send(c, MSG, sizeof(MSG)) == (ssize_t)sizeof(MSG) ? 0 : 1;
		ivt_close(c);
		_exit(rc);
	}
	ivt_channel *l;
	int rc = ivt_open(chan, IVT_LISTEN, &o, &l);
	if (rc < 0) {
		fprintf(stderr, "listen: %s\n", ivt_strerror(rc));
		return 1;
	}
	char buf[64] = "";
	ssize_t n = ivt_recv_all(l, buf, sizeof(MSG));
	int st = 1;
	waitpid(pid, &st, 0);
	printf("received %zd bytes over %s: %s\n", n, ivt_backend_name(l), buf);
	ivt_close(l);
	return n == (ssize_t)sizeof(MSG) && !strcmp(buf, MSG) && st == 0 ? 0 : 1;
}
