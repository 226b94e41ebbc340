/* SPDX-License-Identifier: MIT */
/* ivt-conformance PLUGIN: the suite on one plugin (tests/conformance). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "conformance.h"

int main(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: %s PLUGIN\n"
				"Runs the plugin conformance suite (include/ivt/plugin.h) on\n"
				"ivt_PLUGIN.so from $IVT_PLUGIN_DIR or the build tree. Exit 0: all\n"
				"passed or skipped (environment missing, the reason is printed).\n",
			argv[0]);
		return 2;
	}
	ivt_log_set_level(ivt_log_level_from_env(IVT_LOG_WARN));
	char why[512] = "";
	int rc = conf_env_enter(argv[1], why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], why);
		return 1;
	}
	if (rc > 0)
		fprintf(stderr, "%s: skipped: %s\n", argv[1], why);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_integrity_duplex),
		cmocka_unit_test(test_eof_after_close),
		cmocka_unit_test(test_epipe_after_peer_close),
		cmocka_unit_test(test_stats_count_bytes),
		cmocka_unit_test(test_no_lost_wakeup_recv),
		cmocka_unit_test(test_no_lost_wakeup_send),
		cmocka_unit_test(test_forged_setup_refused),
		cmocka_unit_test(test_native_rdma),
	};
	char group[64];
	snprintf(group, sizeof(group), "conformance(%s)", argv[1]);
	return _cmocka_run_group_tests(group, tests, sizeof(tests) / sizeof(tests[0]), NULL, NULL);
}
