/* SPDX-License-Identifier: MIT */
/* The broker finds plugins it has never heard of and chooses them by their
 * capability flags: "tgrant" (cap_plugin.c, built only here) declares what
 * vchan declares and must get vchan's treatment, without any name in the
 * core. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/plugin_loader.h"
#include "ivtd/core/broker.h"

#include "fake_registry.h"

static const char *policy_text =
	"{\"version\":1,\"channels\":[\n"
	"{\"name\":\"any\",\"listeners\":[\"*\"],\"connectors\":[\"*\"]}\n"
	"]}";

static struct fake_end *new_end(struct fake_broker *x, const char *identity, uint32_t domid)
{
	struct fake_end *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	fake_end_init(x, f, identity);
	f->end.domid = domid;
	f->end.pid = domid ? -1 : 1234;
	return f;
}

static void gone(struct fake_broker *x, struct fake_end *f)
{
	x->cb.gone(x->cb.arg, &f->end, 1);
	free(f);
}

static void test_discovered_plugin_chosen_by_caps(void **state)
{
	(void)state;
	struct fake_broker x;
	assert_int_equal(fake_broker_init(&x, policy_text, "caps.json"), 0);
	/* The directory holds only ivt_tgrant.so: found, loaded, probed. */
	assert_int_equal(ivt_broker_probe_backends(x.b, CAP_PLUGIN_DIR), 1);
	const struct ivt_backend_info *be = ivt_broker_backend(x.b, "tgrant");
	assert_non_null(be);
	assert_true(be->available);
	assert_true(be->caps & IVT_CAP_PEER_BOUND);

	/* Two processes: the colocated, non-Xen backend (shm). */
	struct fake_end *a = new_end(&x, "uid:1", 0), *b = new_end(&x, "uid:2", 0);
	fake_request(&x, a, "any", 1, NULL, 0);
	assert_int_equal(a->ok_count, 1);
	assert_string_equal(a->last_ok.backend, "shm");
	gone(&x, a);
	free(b);

	/* Two domains: the only backend that crosses them, answered as a
	 * peer-bound one (listener waits for its client's domid) at an
	 * assigned XenStore path. */
	struct fake_end *srv = new_end(&x, "dom:4", 4), *cli = new_end(&x, "dom:5", 5);
	fake_request(&x, srv, "any", 1, NULL, 0);
	assert_int_equal(srv->ok_count + srv->err_count, 0);
	fake_request(&x, cli, "any", 0, NULL, 0);
	assert_int_equal(srv->ok_count, 1);
	assert_int_equal(cli->ok_count, 1);
	assert_string_equal(srv->last_ok.backend, "tgrant");
	assert_string_equal(cli->last_ok.backend, "tgrant");
	assert_int_equal(srv->last_ok.peer_domid, 5);
	assert_non_null(strstr(srv->last_ok.xs_path, "/local/domain/4/"));
	assert_string_equal(cli->last_ok.xs_path, srv->last_ok.xs_path);

	char status[IVT_CTRL_STATUS_MAX + 1];
	ivt_broker_status(x.b, status, sizeof(status));
	assert_non_null(strstr(status, "tgrant=yes"));
	gone(&x, cli);
	gone(&x, srv);
	fake_broker_fini(&x);
}

/* A plugin the core never heard of that is not available: its probe's
 * reason reaches the end that needed it. */
static void test_unavailable_reason_reported(void **state)
{
	(void)state;
	struct fake_broker x;
	assert_int_equal(fake_broker_init(&x, policy_text, "caps.json"), 0);
	assert_int_equal(ivt_broker_set_backend(x.b, "tgrant", IVT_CAP_COLOCATED | IVT_CAP_NEEDS_XEN,
						0, "no grant device"), 0);
	assert_int_equal(ivt_broker_set_backend(x.b, "Bad-Name", 0, 1, NULL), -EINVAL);
	struct fake_end *srv = new_end(&x, "dom:4", 4);
	fake_request(&x, srv, "any", 1, NULL, 0);
	assert_int_equal(srv->last_err, ENOTSUP);
	assert_string_equal(srv->last_msg, "no backend available for two Xen domains on this "
					   "host (tgrant: no grant device)");
	gone(&x, srv);
	fake_broker_fini(&x);
}

/* A backend name with a typo passes the policy's syntax check: ivtd says
 * so against its backend table when it loads the policy. */
static void test_unknown_backend_named(void **state)
{
	(void)state;
	struct fake_broker x;
	assert_int_equal(fake_broker_init(&x,
					  "{\"version\":1,\"defaults\":{\"prefer\":[\"tgrant\",\"vchn\"]},"
					  "\"channels\":[{\"name\":\"a\",\"listeners\":[\"*\"],"
					  "\"connectors\":[\"*\"],\"backend\":\"shmm\"},"
					  "{\"name\":\"b\",\"listeners\":[\"*\"],"
					  "\"connectors\":[\"*\"],\"backend\":\"tgrant\"}]}",
					  "typo.json"),
			 0);
	assert_int_equal(ivt_broker_set_backend(x.b, "tgrant", IVT_CAP_COLOCATED, 0, "absent"), 0);
	/* "vchn" in prefer and "shmm" in rule a; an unavailable but installed
	 * plugin is not a typo */
	assert_int_equal(ivt_broker_warn_unknown_backends(x.b), 2);
	fake_broker_fini(&x);
}

static void test_plugin_list(void **state)
{
	(void)state;
	char names[IVT_PLUGINS_MAX][IVT_BACKEND_NAME_MAX + 1];
	assert_int_equal(ivt_plugin_list(CAP_PLUGIN_DIR, names, IVT_PLUGINS_MAX), 1);
	assert_string_equal(names[0], "tgrant");
	assert_int_equal(ivt_plugin_list("/nonexistent/ivt", names, IVT_PLUGINS_MAX), -ENOENT);
	assert_true(ivt_plugin_name_valid("shm", 3));
	assert_false(ivt_plugin_name_valid("Shm", 3));
	assert_false(ivt_plugin_name_valid("a/b", 3));
	assert_false(ivt_plugin_name_valid("", 0));
	assert_false(ivt_plugin_name_valid("abcdefghijklmnop", 16));
}

int main(void)
{
	ivt_log_set_level(ivt_log_level_from_env(IVT_LOG_WARN));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discovered_plugin_chosen_by_caps),
		cmocka_unit_test(test_unavailable_reason_reported),
		cmocka_unit_test(test_plugin_list),
		cmocka_unit_test(test_unknown_backend_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
