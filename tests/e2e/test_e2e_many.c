/* SPDX-License-Identifier: MIT */
/*
 * 1,000 channel pairs open at once on one ivtd (issue 9): the listeners in
 * this process, the connectors in a child, a byte through each. ivtd used
 * to serve at most 1,024 control connections, one per channel end.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define PAIRS 1000
#define RING 4096

static int go[2], done[2];

/* Each end holds several descriptors (control socket, epoll, wake-ups,
 * the ring's): take what the kernel allows. */
static void raise_nofile(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static int connectors(void *arg)
{
	(void)arg;
	static ivt_channel *ch[PAIRS];
	char c, name[32];
	close(go[1]);
	close(done[0]);
	if (read(go[0], &c, 1) != 1)
		return 10;
	for (int i = 0; i < PAIRS; i++) {
		snprintf(name, sizeof(name), "t-many-%d", i);
		int rc = e2e_open(name, 0, 10000, RING, &ch[i]);
		if (rc < 0) {
			fprintf(stderr, "connector %d: %s\n", i, ivt_strerror(rc));
			return 11;
		}
		if (ivt_send(ch[i], "x", 1) != 1)
			return 12;
	}
	if (write(done[1], "c", 1) != 1) /* all open at once */
		return 13;
	if (read(go[0], &c, 1) != 0) /* the listeners are done */
		return 14;
	for (int i = 0; i < PAIRS; i++)
		ivt_close(ch[i]);
	return 0;
}

static void test_thousand_pairs(void **state)
{
	(void)state;
	static ivt_channel *ch[PAIRS];
	char name[32], c;
	raise_nofile();
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid_t child = e2e_fork(connectors, NULL);
	close(done[1]);
	for (int i = 0; i < PAIRS; i++) {
		snprintf(name, sizeof(name), "t-many-%d", i);
		int rc = e2e_open(name, IVT_LISTEN, 0, RING, &ch[i]);
		if (rc < 0)
			fail_msg("listener %d: %s", i, ivt_strerror(rc));
	}
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(done[0], &c, 1), 1);
	for (int i = 0; i < PAIRS; i++) {
		assert_int_equal(ivt_recv(ch[i], &c, 1), 1);
		assert_int_equal(c, 'x');
	}
	close(go[1]);
	assert_int_equal(e2e_wait(child), 0);
	for (int i = 0; i < PAIRS; i++)
		assert_int_equal(ivt_close(ch[i]), 0);
	close(go[0]);
	close(done[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_thousand_pairs)};
	return cmocka_run_group_tests(tests, e2e_group_setup_open, e2e_group_teardown);
}
