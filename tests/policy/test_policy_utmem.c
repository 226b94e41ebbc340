/* SPDX-License-Identifier: MIT */
/* The policy's top-level "utmem" object (store size) and the reserved
 * channel's rule: defaults, values, and errors that name the key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ivtd/policy.h"

static char err[IVT_POLICY_ERR_MAX];

static struct ivt_policy *load(const char *text)
{
	err[0] = '\0';
	return ivt_policy_load_string(text, "t.json", err, sizeof(err));
}

static void expect_error(const char *text, const char *frag)
{
	struct ivt_policy *p = load(text);
	if (p) {
		ivt_policy_free(p);
		fail_msg("policy loaded but should fail:\n%s", text);
	}
	if (!strstr(err, frag))
		fail_msg("error \"%s\" lacks \"%s\"", err, frag);
}

static void test_defaults_without_utmem(void **state)
{
	(void)state;
	struct ivt_policy *p = load("{\"version\":1,\"channels\":[]}");
	assert_non_null(p);
	assert_int_equal(p->utmem_capacity_bytes, 0); /* unlimited */
	assert_int_equal(p->utmem_max_value_bytes, IVT_POLICY_UTMEM_MAX_VALUE_DEFAULT);
	ivt_policy_free(p);
}

static void test_values(void **state)
{
	(void)state;
	struct ivt_policy *p = load("{\"version\":1,\"channels\":[],\"utmem\":{"
				    "\"capacity_bytes\":1073741824,\"max_value_bytes\":65536}}");
	assert_non_null(p);
	assert_int_equal(p->utmem_capacity_bytes, 1ull << 30);
	assert_int_equal(p->utmem_max_value_bytes, 65536);
	ivt_policy_free(p);
	p = load("{\"version\":1,\"channels\":[],\"utmem\":{\"capacity_bytes\":4096}}");
	assert_non_null(p);
	assert_int_equal(p->utmem_capacity_bytes, 4096);
	assert_int_equal(p->utmem_max_value_bytes, IVT_POLICY_UTMEM_MAX_VALUE_DEFAULT);
	ivt_policy_free(p);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("{\"version\":1,\"channels\":[],\"utmem\":[]}", "utmem");
	expect_error("{\"version\":1,\"channels\":[],\"utmem\":{\"capacity\":1}}", "capacity");
	expect_error("{\"version\":1,\"channels\":[],\"utmem\":{\"capacity_bytes\":-1}}",
		     "utmem.capacity_bytes");
	expect_error("{\"version\":1,\"channels\":[],\"utmem\":{\"max_value_bytes\":0}}",
		     "utmem.max_value_bytes");
	expect_error("{\"version\":1,\"channels\":[],\"utmem\":{\"max_value_bytes\":1073741825}}",
		     "utmem.max_value_bytes");
	expect_error("{\"version\":1,\"channels\":[],\"utmem\":{\"max_value_bytes\":\"1M\"}}",
		     "utmem.max_value_bytes");
}

/* The reserved channel is an ordinary rule: connectors and quota_bytes. */
static void test_reserved_channel_rule(void **state)
{
	(void)state;
	struct ivt_policy *p = load("{\"version\":1,\"channels\":[{\"name\":\"ivt.utmem\","
				    "\"listeners\":[],\"connectors\":[\"uid:*\"],"
				    "\"quota_bytes\":1048576}]}");
	assert_non_null(p);
	struct ivt_policy_query q = {.channel = "ivt.utmem", .identity = "uid:1000",
				     .granted_backend = "shm", .granted_ring_size = 65536,
				     .colocated = 1};
	struct ivt_policy_decision d;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_int_equal(d.quota_bytes, 1048576);
	q.identity = "dom:3";
	assert_int_equal(ivt_policy_decide(p, &q, &d), -EACCES);
	ivt_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_without_utmem),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_reserved_channel_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
