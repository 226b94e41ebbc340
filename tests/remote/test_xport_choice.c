/* SPDX-License-Identifier: MIT */
/* Bridging over an RDMA plugin or SLURPoE: the policy key "rdma", the
 * choice by capability (never by name) and the reasons for falling back,
 * without any RDMA device. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ivtd/policy/policy.h"
#include "ivtd/remote/xport_choice.h"

static char why[600];
static char name[32];

static struct ivt_policy_host host(int rdma)
{
	struct ivt_policy_host h;
	memset(&h, 0, sizeof(h));
	strcpy(h.name, "hostB");
	h.rdma = rdma;
	return h;
}

static struct ivt_backend_info be(const char *n, unsigned caps, int available, const char *w)
{
	struct ivt_backend_info b;
	memset(&b, 0, sizeof(b));
	snprintf(b.name, sizeof(b.name), "%s", n);
	b.caps = caps;
	b.available = available;
	snprintf(b.why, sizeof(b.why), "%s", w);
	return b;
}

#define RDMA_CAPS (IVT_CAP_REMOTE | IVT_CAP_RDMA | IVT_CAP_OPT_IN | IVT_CAP_NET_SETUP)

static void test_pick(void **state)
{
	(void)state;
	struct ivt_backend_info t[] = {
		be("shm", IVT_CAP_COLOCATED, 1, ""),
		be("slurpoe", IVT_CAP_REMOTE | IVT_CAP_RDMA, 1, ""), /* no NET_SETUP */
		be("fabric", RDMA_CAPS, 0, "no RDMA device (load rdma_rxe or an RDMA NIC driver)"),
		be("zz", RDMA_CAPS, 1, ""),
	};
	struct ivt_policy_host off = host(0), on = host(1);

	/* The policy has the last word. */
	assert_int_equal(ivt_xport_pick(&off, t, 4, name, sizeof(name), why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "\"rdma\": \"auto\""));
	assert_int_equal(ivt_xport_pick(NULL, t, 4, name, sizeof(name), why, sizeof(why)), -ENOTSUP);

	/* The first available plugin with the capabilities, whatever its name. */
	assert_int_equal(ivt_xport_pick(&on, t, 4, name, sizeof(name), why, sizeof(why)), 0);
	assert_string_equal(name, "zz");

	/* None available: the reason names each candidate and why not. */
	assert_int_equal(ivt_xport_pick(&on, t, 3, name, sizeof(name), why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "fabric: no RDMA device"));
	assert_null(strstr(why, "slurpoe"));
	assert_int_equal(ivt_xport_pick(&on, t, 2, name, sizeof(name), why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "IVT_CAP_NET_SETUP"));
	assert_int_equal(ivt_xport_pick(&on, t, 0, name, sizeof(name), why, sizeof(why)), -ENOTSUP);
}

static void test_allowed(void **state)
{
	(void)state;
	struct ivt_policy_host off = host(0), on = host(1);
	struct ivt_backend_info ok = be("verbs", RDMA_CAPS, 1, "");
	struct ivt_backend_info down = be("verbs", RDMA_CAPS, 0, "no RDMA device");
	struct ivt_backend_info plain = be("slurpoe", IVT_CAP_REMOTE | IVT_CAP_RDMA, 1, "");

	assert_int_equal(ivt_xport_allowed(&on, "verbs", &ok, why, sizeof(why)), 0);
	/* Our own entry for the dialer must allow it too. */
	assert_int_equal(ivt_xport_allowed(&off, "verbs", &ok, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "here does not say"));
	/* An offer of something we lack, cannot carry, or cannot use now. */
	assert_int_equal(ivt_xport_allowed(&on, "nope", NULL, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "no RDMA plugin 'nope'"));
	assert_int_equal(ivt_xport_allowed(&on, "slurpoe", &plain, why, sizeof(why)), -ENOTSUP);
	assert_int_equal(ivt_xport_allowed(&on, "verbs", &down, why, sizeof(why)), -ENOTSUP);
	assert_non_null(strstr(why, "verbs not available here: no RDMA device"));
}

/* The key in a policy file: "auto", "off" (default), nothing else. */
static int load(const char *rdma_line, struct ivt_policy **out)
{
	char text[512];
	snprintf(text, sizeof(text), "{ \"version\": 1, \"channels\": [], \"hosts\": [ { \"name\": \"hostB\", "
		   "\"ifname\": \"eth0\", \"mac\": \"02:00:00:00:00:02\"%s } ] }\n",
		rdma_line);
	char err[512];
	*out = ivt_policy_load_string(text, "test", err, sizeof(err));
	if (!*out)
		snprintf(why, sizeof(why), "%s", err);
	return *out ? 0 : -1;
}

static void test_policy_key(void **state)
{
	(void)state;
	struct ivt_policy *p;
	assert_int_equal(load("", &p), 0);
	assert_int_equal(p->hosts[0].rdma, 0);
	ivt_policy_free(p);
	assert_int_equal(load(", \"rdma\": \"auto\"", &p), 0);
	assert_int_equal(p->hosts[0].rdma, 1);
	ivt_policy_free(p);
	assert_int_equal(load(", \"rdma\": \"off\"", &p), 0);
	assert_int_equal(p->hosts[0].rdma, 0);
	ivt_policy_free(p);
	assert_int_equal(load(", \"rdma\": \"on\"", &p), -1);
	assert_non_null(strstr(why, "rdma"));
	assert_int_equal(load(", \"rdma\": true", &p), -1);
	assert_int_equal(load(", \"rdma\": \"automatic\"", &p), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_allowed),
		cmocka_unit_test(test_policy_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
