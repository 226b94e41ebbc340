/* SPDX-License-Identifier: MIT */
/* One ivtd per interface (if_claim.h): a second claim on the same name
 * is refused naming the holder's pid, however often it asks; the claim
 * goes with its holder. No interface is needed: the claim is a name. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ivtd/remote/if_claim.h"

static void test_second_claim_refused(void **state)
{
	(void)state;
	char name[32], why[256], want[128];
	snprintf(name, sizeof(name), "t%d", (int)getpid()); /* no other test's */
	int fd = ivt_if_claim(name, why, sizeof(why));
	assert_true(fd >= 0);
	snprintf(want, sizeof(want), "another ivtd (pid %d) already serves %s in this network "
		 "namespace", (int)getpid(), name);
	/* more askers than the claim's backlog: each is drained, as ivtd's
	 * loop does when the claim is readable */
	for (int i = 0; i < 20; i++) {
		why[0] = '\0';
		assert_int_equal(ivt_if_claim(name, why, sizeof(why)), -EADDRINUSE);
		assert_string_equal(why, want);
		ivt_if_claim_drain(fd);
	}
	close(fd);
	fd = ivt_if_claim(name, why, sizeof(why)); /* free again */
	assert_true(fd >= 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_claim_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
