/* SPDX-License-Identifier: MIT */
/* ivtd's utmem service without a client: identities -> store domains,
 * registration with the broker, and its status text. (Clients through a
 * real ivtd: tests/utmem_e2e.) */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ivtd/core/broker.h"
#include "ivtd/utmem/utmem_service.h"
#include "testsupport/id_text.h"

static void test_domains_and_status(void **state)
{
	(void)state;
	char err[IVT_POLICY_ERR_MAX];
	struct ivt_policy *p = ivt_policy_load_string(
		"{\"version\":1,\"utmem\":{\"capacity_bytes\":1048576,\"max_value_bytes\":4096},"
		"\"channels\":[]}", "u.json", err, sizeof(err));
	assert_non_null(p);
	struct ivt_broker *b = ivt_broker_new(p);
	struct event_base *base = event_base_new();
	struct ivt_utmem_service *s = ivt_utmem_service_new(base, b, NULL);
	assert_non_null(s);
	uint32_t d;
	assert_int_equal(ivt_utmem_service_domain(s, ID("dom:3"), &d), 0);
	assert_int_equal(d, 3);
	assert_int_equal(ivt_utmem_service_domain(s, ID("dom:0"), &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(ivt_utmem_service_domain(s, ID("uid:1000"), &d), 0);
	assert_int_equal(d, IVT_UTMEM_LOCAL_DOMID_BASE);
	assert_int_equal(ivt_utmem_service_domain(s, ID("uid:0"), &d), 0);
	assert_int_equal(d, IVT_UTMEM_LOCAL_DOMID_BASE + 1);
	assert_int_equal(ivt_utmem_service_domain(s, ID("uid:1000"), &d), 0); /* stable */
	assert_int_equal(d, IVT_UTMEM_LOCAL_DOMID_BASE);
	assert_int_equal(ivt_utmem_service_domain(s, ID("host:b/uid:1000"), &d), 0);
	assert_int_equal(d, IVT_UTMEM_LOCAL_DOMID_BASE + 2);
	assert_int_equal(ivt_utmem_service_domain(s, ID("dom:65536"), &d), -EINVAL);
	assert_int_equal(ivt_utmem_service_domain(s, ID("dom:"), &d), -EINVAL);
	assert_int_equal(ivt_utmem_service_domain(s, ID("dom:-1"), &d), -EINVAL);
	assert_int_equal(ivt_utmem_service_domain(s, ID("dom:3x"), &d), -EINVAL);
	assert_int_equal(ivt_utmem_service_domain(s, ID(""), &d), -EINVAL);
	char buf[512];
	size_t n = ivt_utmem_service_status(s, buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf, "capacity 1048576"));
	assert_non_null(strstr(buf, "connections 0"));
	/* short buffers are cut cleanly */
	n = ivt_utmem_service_status(s, buf, 10);
	assert_true(n < 10);
	assert_int_equal(n, strlen(buf));
	ivt_utmem_service_free(s);
	ivt_broker_free(b);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_domains_and_status)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
