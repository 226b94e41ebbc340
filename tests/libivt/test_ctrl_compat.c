/* SPDX-License-Identifier: MIT */
/* Which OPEN flags libivt drops when an older ivtd refuses them
 * (ctrl_compat.c). Hint bits (IVT_CTRL_OPEN_HINTS) are ignored by the
 * daemons that know about hints, but the ones before them refuse any
 * unknown bit: a refused hint must be dropped like an optional flag
 * (before: kept, and the OPEN failed with -EINVAL for good). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ctrl_compat.h"

static void test_refused_hint_is_dropped(void **state)
{
	(void)state;
	uint32_t sent = IVT_LISTEN | IVT_CTRL_OPEN_MULTI | IVT_CTRL_OPEN_INFO | IVT_CTRL_OPEN_RINGS;
	uint32_t known = IVT_LISTEN | IVT_MESSAGE | IVT_CTRL_OPEN_MULTI | IVT_CTRL_OPEN_ACCEPT |
			 IVT_CTRL_OPEN_INFO;
	uint32_t out = 0;
	assert_int_equal(ivt_ctrl_compat_flags(sent, known, "/x", &out), 0);
	assert_int_equal(out, IVT_LISTEN | IVT_CTRL_OPEN_MULTI | IVT_CTRL_OPEN_INFO);
}

static void test_required_flag_still_refused(void **state)
{
	(void)state;
	uint32_t out = 0;
	assert_int_equal(ivt_ctrl_compat_flags(IVT_LISTEN | IVT_CTRL_OPEN_MULTI | IVT_CTRL_OPEN_RINGS,
					       IVT_LISTEN | IVT_MESSAGE, "/x", &out),
			 -EOPNOTSUPP);
	/* nothing unknown: refused for another reason */
	assert_int_equal(ivt_ctrl_compat_flags(IVT_LISTEN, IVT_LISTEN, "/x", &out), -EINVAL);
}

/* An ivtd before addresses refuses TCP_DIAL: the connector asks again
 * for tcp.<P>, matched by port alone, as before; other names and flags
 * stay as they were. */
static void test_refused_dial_drops_the_address(void **state)
{
	(void)state;
	uint32_t known = IVT_LISTEN | IVT_MESSAGE | IVT_CTRL_OPEN_MULTI | IVT_CTRL_OPEN_ACCEPT |
			 IVT_CTRL_OPEN_INFO | IVT_CTRL_OPEN_ATTACH;
	struct ivt_ctrl_open req = {.name = "tcp.6379.127.0.0.2",
				    .flags = IVT_CTRL_OPEN_INFO | IVT_CTRL_OPEN_TCP_DIAL};
	assert_int_equal(ivt_ctrl_compat_open(&req, known, "/x"), 0);
	assert_string_equal(req.name, "tcp.6379");
	assert_int_equal(req.flags, IVT_CTRL_OPEN_INFO);
	/* a listener's bound name is its name: kept */
	struct ivt_ctrl_open lis = {.name = "tcp.80.--1",
				    .flags = IVT_LISTEN | IVT_CTRL_OPEN_MULTI | IVT_CTRL_OPEN_DETACH};
	assert_int_equal(ivt_ctrl_compat_open(&lis, known, "/x"), 0);
	assert_string_equal(lis.name, "tcp.80.--1");
	assert_int_equal(lis.flags, IVT_LISTEN | IVT_CTRL_OPEN_MULTI);
	/* an ivtd too old to say what it knows: the newest optional flag
	 * sent is taken to be the one it lacks, which is TCP_DIAL */
	struct ivt_ctrl_error e = {.err = EINVAL, .msg = "invalid OPEN flags"};
	uint32_t guess = ivt_ctrl_compat_known(&e, req.flags | IVT_CTRL_OPEN_TCP_DIAL |
							   IVT_CTRL_OPEN_ATTACH);
	assert_false(guess & IVT_CTRL_OPEN_TCP_DIAL);
	assert_true(guess & IVT_CTRL_OPEN_ATTACH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_hint_is_dropped),
		cmocka_unit_test(test_required_flag_still_refused),
		cmocka_unit_test(test_refused_dial_drops_the_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
