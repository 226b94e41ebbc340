/* SPDX-License-Identifier: MIT */
/* vchan internals that decide what reaches libxenvchan: ring sizes and
 * XenStore base paths. Compiled in from the plugin's sources. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libxenvchan.h>

#include "vchan.h"

#define ZERO_STALE 16 /* more than glibc's tcache holds per size */

const struct ivt_plugin_ops *ivt_plugin_entry(uint32_t host_abi);

static char last_log[512];
static int last_level;

static void capture(int level, const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	last_level = level;
}

static const struct ivt_plugin_host host = {.abi_version = IVT_PLUGIN_ABI_VERSION,
					     .log = capture};

static int setup(void **state)
{
	const struct ivt_plugin_ops *ops = ivt_plugin_entry(IVT_PLUGIN_ABI_VERSION);
	assert_non_null(ops);
	assert_null(ivt_plugin_entry(IVT_PLUGIN_ABI_VERSION + 1));
	return ops->init(&host);
}

static void test_ring_sizes(void **state)
{
	last_log[0] = '\0';
	assert_int_equal(vchan_ring_request(0), VCHAN_RING_DEFAULT);
	assert_int_equal(vchan_ring_request(1), 1024);
	assert_int_equal(vchan_ring_request(4096), 4096);
	assert_int_equal(vchan_ring_request(5000), 8192);
	assert_int_equal(vchan_ring_request(1u << 20), 1u << 20);
	assert_string_equal(last_log, ""); /* nothing clamped so far */

	assert_int_equal(vchan_ring_request((1u << 20) + 1), 1u << 20);
	assert_int_equal(last_level, IVT_LOG_WARN);
	assert_non_null(strstr(last_log, "clamped to 1048576"));
	assert_int_equal(vchan_ring_request(SIZE_MAX), 1u << 20);
}

static void test_paths(void **state)
{
	char why[160];
	assert_int_equal(vchan_path_check("/local/domain/3/data/ivt/demo/vchan", 3, why, sizeof(why)),
			 0);
	assert_int_equal(vchan_path_check("/local/domain/3/data/ivt/.v12", -1, why, sizeof(why)), 0);
	/* the broker's per-connection form: '@' is XenStore's, never a name's */
	assert_int_equal(vchan_path_check("/local/domain/3/data/ivt/@v12", 3, why, sizeof(why)), 0);
	/* exactly the libxenvchan limit, and one more */
	assert_int_equal(vchan_path_check("/local/domain/32000/data/ivt/.v123456789012345678", -1,
					  why, sizeof(why)),
			 0);
	assert_int_equal(vchan_path_check("/local/domain/32000/data/ivt/.v1234567890123456789", -1,
					  why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "libxenvchan limit"));
	assert_int_equal(vchan_path_check("/local/domain/3/data/ivt/x", 30, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not under /local/domain/30/"));
	assert_int_equal(vchan_path_check("/local/domain/3/data/ivt/..", -1, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(vchan_path_check("/local/domain/3/./x", -1, why, sizeof(why)), -EINVAL);
	assert_int_equal(vchan_path_check("/local/domain/3/..x", -1, why, sizeof(why)), 0);
	assert_int_equal(vchan_path_check(NULL, -1, why, sizeof(why)), -EINVAL);
}

/* libxenvchan 4.17's server_init frees ctrl->xs_path uninitialized when
 * grants or the event channel fail (vchan_srv_init.c): the block it
 * mallocs must come out zeroed. A stale pointer left in a freed block of
 * that size would otherwise be what the library frees a second time. */
static void test_server_init_block_zeroed(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
	skip(); /* ASan's allocator: no reuse to steer (nor to fear) */
#endif
	if (getenv("IVT_UNDER_VALGRIND"))
		skip(); /* valgrind's allocator: likewise */
	struct libxenvchan *stale[ZERO_STALE];
	for (int i = 0; i < ZERO_STALE; i++) {
		stale[i] = malloc(sizeof(*stale[i]));
		memset(stale[i], 0xa5, sizeof(*stale[i])); /* a block that held pointers */
		__asm__ volatile("" : : "r"(stale[i]) : "memory");
	}
	for (int i = 0; i < ZERO_STALE; i++)
		free(stale[i]);
	vchan_zero_next_block(sizeof(struct libxenvchan));
	struct libxenvchan *ctrl = malloc(sizeof(*ctrl)); /* as libxenvchan does */
	assert_null(ctrl->xs_path);
	free(ctrl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_sizes),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_server_init_block_zeroed),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
