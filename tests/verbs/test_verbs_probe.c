/* SPDX-License-Identifier: MIT */
/* The verbs plugin as the loader sees it: a valid ops table with the right
 * caps and the native one-sided ops, only its entry point exported, and
 * on a host without RDMA devices a clear
 * -ENODEV from probe, listen and connect (the daemon then falls back). */
#include <dlfcn.h>
#include <errno.h>
#include <infiniband/verbs.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/plugin_loader.h"

static const struct ivt_plugin_ops *ops;

static int host_has_rdma(void)
{
	int n = 0;
	struct ibv_device **l = ibv_get_device_list(&n);
	if (l)
		ibv_free_device_list(l);
	return l && n > 0;
}

static int oob_calls;
static int oob_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds)
{
	oob_calls++;
	return 0;
}
static int oob_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	oob_calls++;
	return -ETIMEDOUT;
}

static int load(void **state)
{
	char why[256] = "";
	ops = ivt_plugin_load(getenv("IVT_PLUGIN_DIR"), "verbs", why, sizeof(why));
	if (!ops)
		fprintf(stderr, "load failed: %s\n", why);
	return ops ? 0 : -1;
}

static void ops_table(void **state)
{
	char why[256] = "";
	assert_int_equal(ivt_plugin_ops_check(ops, "verbs", why, sizeof(why)), 0);
	assert_int_equal(ops->caps, IVT_CAP_REMOTE | IVT_CAP_RDMA | IVT_CAP_OPT_IN | IVT_CAP_NET_SETUP);
	assert_non_null(ops->register_region);
	assert_non_null(ops->deregister_region);
	assert_non_null(ops->stats);
}

static void native_rdma_ops(void **state)
{
	assert_true(IVT_PLUGIN_OPS_HAS(ops, max_rdma_len));
	assert_non_null(ops->rdma_write);
	assert_non_null(ops->rdma_read);
	assert_non_null(ops->poll_completions);
	assert_true(ops->max_rdma_len >= 4096);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/ivt_verbs.so", getenv("IVT_PLUGIN_DIR"));
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	/* one entry point; internals and the old stop-gap entry stay hidden */
	assert_non_null(dlsym(h, IVT_PLUGIN_ENTRY_SYMBOL));
	assert_null(dlsym(h, "ivt_verbs_ext_entry"));
	assert_null(dlsym(h, "vw_blob_decode"));
	assert_null(dlsym(h, "verbs_send"));
	dlclose(h);
}

static void probe_matches_host(void **state)
{
	char why[256] = "";
	int rc = ops->probe(why, sizeof(why));
	if (!host_has_rdma()) {
		assert_int_equal(rc, -ENODEV);
		assert_string_equal(why, "no RDMA device (load rdma_rxe or an RDMA NIC driver)");
	} else {
		/* With a device: 0 and which one, or a reason (port down...). */
		assert_true(why[0] != 0);
		print_message("probe on this host: %d %s\n", rc, why);
	}
}

static void no_device_endpoints(void **state)
{
	if (host_has_rdma())
		skip();
	struct ivt_oob oob = {.ctx = NULL, .send = oob_send, .recv = oob_recv};
	struct ivt_ep_params p = {.channel = "t", .is_server = 1, .ring_size = 1 << 20,
				  .oob = &oob, .timeout_ms = 100};
	struct ivt_ep *ep = (struct ivt_ep *)&p; /* must stay untouched */
	assert_int_equal(ops->listen(&p, &ep), -ENODEV);
	assert_ptr_equal(ep, (struct ivt_ep *)&p);
	p.is_server = 0;
	assert_int_equal(ops->connect(&p, &ep), -ENODEV);
	assert_int_equal(oob_calls, 0); /* nothing published for a dead end */
}

static void bad_params(void **state)
{
	struct ivt_ep *ep = NULL;
	struct ivt_ep_params p = {.channel = "t", .oob = NULL};
	int rc = ops->listen(&p, &ep);
	assert_true(rc == -EINVAL || rc == -ENODEV);
	assert_null(ep);
	struct ivt_oob half = {.send = oob_send, .recv = NULL};
	p.oob = &half;
	rc = ops->connect(&p, &ep);
	assert_true(rc == -EINVAL || rc == -ENODEV);
	assert_null(ep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ops_table),          cmocka_unit_test(native_rdma_ops),
		cmocka_unit_test(probe_matches_host), cmocka_unit_test(no_device_endpoints),
		cmocka_unit_test(bad_params),
	};
	return cmocka_run_group_tests(tests, load, NULL);
}
