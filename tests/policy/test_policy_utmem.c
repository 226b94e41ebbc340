/* SPDX-License-Identifier: MIT */
/* The policy's top-level "utmem" object (store size), the reserved
 * channel's rule and the per-identity "limits": defaults, values, and
 * errors that name the key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ivtd/policy/policy.h"
#include "testsupport/id_text.h"

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
	struct ivt_policy_query q = {.channel = "ivt.utmem", .identity = ID("uid:1000"),
				     .granted_backend = "shm", .granted_ring_size = 65536,
				     .colocated = 1};
	struct ivt_policy_decision d;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_int_equal(d.quota_bytes, 1048576);
	q.identity = ID("dom:3");
	assert_int_equal(ivt_policy_decide(p, &q, &d), -EACCES);
	ivt_policy_free(p);
}

#define HOSTS "\"hosts\":[{\"name\":\"hostB\",\"ifname\":\"eth0\"," \
	      "\"mac\":\"02:00:00:00:00:02\"}]"

/* "lower_tier" names one of "hosts". */
static void test_lower_tier(void **state)
{
	(void)state;
	struct ivt_policy *p = load("{\"version\":1,\"channels\":[]," HOSTS ","
				    "\"utmem\":{\"capacity_bytes\":4096,\"lower_tier\":\"hostB\"}}");
	assert_non_null(p);
	assert_string_equal(p->utmem_lower_tier, "hostB");
	ivt_policy_free(p);
	p = load("{\"version\":1,\"channels\":[]," HOSTS ",\"utmem\":{}}");
	assert_non_null(p);
	assert_string_equal(p->utmem_lower_tier, "");
	ivt_policy_free(p);
	/* errors name file, line and key */
	expect_error("{\"version\":1,\"channels\":[]," HOSTS ",\n\"utmem\":{\n"
		     "\"lower_tier\":\"hostC\"}}",
		     "t.json:3: utmem.lower_tier: host \"hostC\" is not in \"hosts\"");
	expect_error("{\"version\":1,\"channels\":[],\"utmem\":{\"lower_tier\":\"hostB\"}}",
		     "utmem.lower_tier: host \"hostB\" is not in \"hosts\"");
	expect_error("{\"version\":1,\"channels\":[]," HOSTS ",\"utmem\":{\"lower_tier\":1}}",
		     "utmem.lower_tier: must be a string");
	expect_error("{\"version\":1,\"channels\":[]," HOSTS ",\"utmem\":{\"lower_tier\":\"\"}}",
		     "utmem.lower_tier");
}

/* The peer daemon's identity "host:NAME/ivtd" in rules for ivt.utmem. */
static void test_daemon_identity(void **state)
{
	(void)state;
	struct ivt_principal pat;
	assert_int_equal(ivt_principal_parse("host:hostA/ivtd", &pat), 0);
	assert_true(ivt_principal_match(&pat, ID("host:hostA/ivtd")));
	assert_false(ivt_principal_match(&pat, ID("host:hostB/ivtd")));
	assert_false(ivt_principal_match(&pat, ID("host:hostA/uid:0")));
	assert_int_equal(ivt_principal_parse("host:*", &pat), 0);
	assert_true(ivt_principal_match(&pat, ID("host:hostA/ivtd")));
	assert_int_equal(ivt_principal_parse("host:hostA/uid:*", &pat), 0);
	assert_false(ivt_principal_match(&pat, ID("host:hostA/ivtd")));
	/* never a local identity, never a top-level pattern */
	assert_false(ivt_identity_is_local(ID("ivtd")));
	assert_int_equal(ivt_principal_parse("ivtd", &pat), -EINVAL);

	struct ivt_policy *p = load("{\"version\":1,\"channels\":[{\"name\":\"ivt.utmem\","
				    "\"listeners\":[],\"connectors\":[\"host:hostA/ivtd\"],"
				    "\"quota_bytes\":4096}]}");
	assert_non_null(p);
	struct ivt_policy_query q = {.channel = "ivt.utmem", .identity = ID("host:hostA/ivtd"),
				     .granted_backend = "shm", .granted_ring_size = 65536,
				     .colocated = 1};
	struct ivt_policy_decision d;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_int_equal(d.quota_bytes, 4096);
	q.identity = ID("host:hostA/uid:0");
	assert_int_equal(ivt_policy_decide(p, &q, &d), -EACCES);
	ivt_policy_free(p);
}

static void test_limits(void **state)
{
	(void)state;
	struct ivt_policy *p = load("{\"version\":1,\"channels\":[]}");
	assert_non_null(p);
	assert_int_equal(p->limits.connections, IVT_POLICY_LIMIT_CONNECTIONS_DEFAULT);
	assert_int_equal(p->limits.channels, IVT_POLICY_LIMIT_CHANNELS_DEFAULT);
	assert_int_equal(p->limits.root_reserve, IVT_POLICY_LIMIT_ROOT_RESERVE_DEFAULT);
	assert_int_equal(p->limits.bytes_in_flight, 4 * IVT_POLICY_UTMEM_MAX_VALUE_DEFAULT);
	ivt_policy_free(p);
	/* the in-flight default follows max_value */
	p = load("{\"version\":1,\"channels\":[],\"utmem\":{\"max_value_bytes\":4096},"
		 "\"limits\":{\"connections\":3,\"channels\":2,\"root_reserve\":0}}");
	assert_non_null(p);
	assert_int_equal(p->limits.connections, 3);
	assert_int_equal(p->limits.channels, 2);
	assert_int_equal(p->limits.root_reserve, 0);
	assert_int_equal(p->limits.bytes_in_flight, 4 * 4096);
	ivt_policy_free(p);
	/* root_reserve is at most half the connection table, said when cut */
	char note[IVT_POLICY_ERR_MAX];
	p = load("{\"version\":1,\n\"limits\":{\n\"root_reserve\":100}}");
	assert_non_null(p);
	assert_int_equal(ivt_policy_root_reserve(&p->limits, 114), 57);
	assert_int_equal(ivt_policy_root_reserve_text(p, 114, "the table", note, sizeof(note)), 1);
	assert_string_equal(note, "t.json:3: limits.root_reserve: 100 is more than half of the "
				  "table (114 places), so ivtd uses 57");
	assert_int_equal(ivt_policy_root_reserve(&p->limits, 200), 100);
	assert_int_equal(ivt_policy_root_reserve_text(p, 200, "the table", note, sizeof(note)), 0);
	assert_string_equal(note, "");
	ivt_policy_free(p);
	p = load("{\"version\":1}"); /* the default cut is not the policy's doing */
	assert_non_null(p);
	assert_int_equal(ivt_policy_root_reserve(&p->limits, 114), 57);
	assert_int_equal(ivt_policy_root_reserve_text(p, 114, "the table", note, sizeof(note)), 0);
	ivt_policy_free(p);
	expect_error("{\"version\":1,\"limits\":[]}", "limits");
	expect_error("{\"version\":1,\"limits\":{\"conns\":1}}", "conns");
	expect_error("{\"version\":1,\"limits\":{\"connections\":0}}", "limits.connections");
	expect_error("{\"version\":1,\"limits\":{\"channels\":-1}}", "limits.channels");
	expect_error("{\"version\":1,\"utmem\":{\"max_value_bytes\":4096},"
		     "\"limits\":{\"bytes_in_flight\":4095}}", "limits.bytes_in_flight");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lower_tier),
		cmocka_unit_test(test_daemon_identity),
		cmocka_unit_test(test_defaults_without_utmem),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_reserved_channel_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
