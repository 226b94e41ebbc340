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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_hint_is_dropped),
		cmocka_unit_test(test_required_flag_still_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
