/* SPDX-License-Identifier: MIT */
/* A network plugin's close may linger for its peer (verbs: up to 3 s);
 * ivtd hands it to a thread of its own (core/closer.c) so its event loop
 * never waits. The stand-in close here blocks until the test lets it go:
 * on the old code (close inline) ivt_closer_close could not return first. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ivtd/core/closer.h"

static int gate[2];
static pthread_t closer_thread;
static int closed;

static void blocking_close(struct ivt_ep *ep)
{
	(void)ep;
	char c;
	closer_thread = pthread_self();
	while (read(gate[0], &c, 1) < 0)
		;
	closed = 1;
}

static void test_close_off_the_caller(void **state)
{
	(void)state;
	assert_int_equal(pipe(gate), 0);
	static const struct ivt_plugin_ops ops = {.name = "lingering", .close = blocking_close};
	ivt_closer_close(&ops, (struct ivt_ep *)&ops); /* returns while close blocks */
	assert_int_equal(closed, 0);
	assert_int_equal(ivt_closer_drain(0), 1); /* still running */
	assert_int_equal(write(gate[1], "x", 1), 1);
	assert_int_equal(ivt_closer_drain(60000), 0);
	assert_int_equal(closed, 1);
	assert_false(pthread_equal(closer_thread, pthread_self()));
	close(gate[0]);
	close(gate[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_off_the_caller),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
