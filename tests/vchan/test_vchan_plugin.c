/* SPDX-License-Identifier: MIT */
/* The vchan plugin as ivtd and libivt see it: loaded with ivt_plugin_load.
 * On a host without Xen every call must fail with a reason, not crash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/plugin_loader.h"

static const struct ivt_plugin_ops *ops;

static int on_xen(void) { return access("/dev/xen/gntalloc", F_OK) == 0; }

static int load(void **state)
{
	char why[256] = "";
	ops = ivt_plugin_load(getenv("IVT_PLUGIN_DIR"), "vchan", why, sizeof(why));
	if (!ops)
		fail_msg("cannot load vchan plugin: %s", why);
	return 0;
}

static void test_ops(void **state)
{
	assert_string_equal(ops->name, "vchan");
	assert_int_equal(ops->caps, IVT_CAP_COLOCATED | IVT_CAP_NEEDS_XEN | IVT_CAP_PEER_BOUND | IVT_CAP_XS_PATH);
	assert_non_null(ops->listen);
	assert_non_null(ops->accept);
	assert_non_null(ops->connect);
	assert_non_null(ops->send);
	assert_non_null(ops->recv);
	assert_non_null(ops->arm);
	assert_non_null(ops->poll_fd);
	assert_non_null(ops->ack);
	assert_non_null(ops->close);
	uint64_t key; /* the host emulates one-sided ops: the loader's stub */
	assert_int_equal(ops->register_region(NULL, &key, 1, 0, &key), -EOPNOTSUPP);
}

static void test_probe(void **state)
{
	char why[256] = "";
	int rc = ops->probe(why, sizeof(why));
	if (on_xen()) {
		/* On a Xen host either works, or says why (e.g. permissions). */
		if (rc)
			assert_true(strlen(why) > 0);
		return;
	}
	assert_true(rc < 0);
	assert_non_null(strstr(why, "/dev/xen/gntalloc"));
	assert_non_null(strstr(why, "not running on Xen"));
}

static struct ivt_ep_params params(const char *path, int server)
{
	struct ivt_ep_params p = {
		.channel = "demo", .is_server = server, .local_domid = 1, .peer_domid = 2,
		.ring_size = 65536, .xs_path = path, .timeout_ms = 0,
	};
	return p;
}

static void test_listen_connect_fail_cleanly(void **state)
{
	struct ivt_ep *ep = NULL;
	if (on_xen())
		skip(); /* real runs happen with ivt-xs-open */
	struct ivt_ep_params p = params("/local/domain/1/data/ivt/demo/vchan", 1);
	int rc = ops->listen(&p, &ep);
	assert_true(rc < 0);
	assert_null(ep);
	p = params("/local/domain/2/data/ivt/demo/vchan", 0);
	rc = ops->connect(&p, &ep);
	assert_true(rc < 0);
	assert_true(rc != -EINVAL); /* valid params: it is Xen that is missing */
	assert_null(ep);
}

static void test_bad_params_rejected(void **state)
{
	struct ivt_ep *ep = NULL;
	const char *bad[] = {
		NULL,
		"",
		"relative/path",
		"/local/domain/1/data/ivt/a-name-too-long-for-libxenvchan",
		"/local/domain/1/data/ivt/../../0/x",
		"/local/domain/1/data/ivt/demo/",
		"/local/domain/1/data//ivt",
		"/local/domain/1/data/ivt/de mo",
		"/local/domain/1/data/ivt/demo\n",
		"/tool/xenstored",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ivt_ep_params p = params(bad[i], 1);
		assert_int_equal(ops->listen(&p, &ep), -EINVAL);
		p.is_server = 0;
		p.peer_domid = 1;
		assert_int_equal(ops->connect(&p, &ep), -EINVAL);
		assert_null(ep);
	}
	/* A client only takes a ring from its peer's subtree. */
	struct ivt_ep_params p = params("/local/domain/7/data/ivt/demo/vchan", 0);
	assert_int_equal(ops->connect(&p, &ep), -EINVAL);
	/* Reserved domain ids (DOMID_FIRST_RESERVED and up). */
	p = params("/local/domain/1/data/ivt/demo/vchan", 1);
	p.peer_domid = 0x7FF0;
	assert_int_equal(ops->listen(&p, &ep), -EINVAL);
	p.peer_domid = 0xFFFFFFFFu;
	assert_int_equal(ops->listen(&p, &ep), -EINVAL);
	assert_null(ep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_listen_connect_fail_cleanly),
		cmocka_unit_test(test_bad_params_rejected),
	};
	return cmocka_run_group_tests(tests, load, NULL);
}
