/* SPDX-License-Identifier: MIT */
/*
 * The plugin loader's ABI checks and its forward-compatibility rule
 * (include/ivt/plugin.h): a table of the ABI-1 size loads with the
 * appended fields absent; a wrong ABI version or a too-small table is
 * refused with a reason that says so; the native one-sided ops come as
 * a set with IVT_CAP_RDMA.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/plugin_loader.h"
#include "ivt/plugin.h"
#include "testsupport/null_plugin.h"

static const struct ivt_plugin_ops *load(const char *name, char *why, size_t why_len)
{
	why[0] = 0;
	return ivt_plugin_load(ABI_PLUGIN_DIR, name, why, why_len);
}

static void test_v1_table_loads_without_appended_fields(void **state)
{
	(void)state;
	char why[256];
	const struct ivt_plugin_ops *ops = load("abiv1", why, sizeof(why));
	assert_non_null(ops);
	assert_string_equal(ops->name, "abiv1");
	assert_int_equal(ops->ops_size, IVT_PLUGIN_OPS_V1_SIZE);
	/* the base table is intact */
	assert_non_null(ops->probe);
	assert_int_equal(ops->probe(why, sizeof(why)), 0);
	assert_non_null(ops->close);
	/* the plugin's memory behind its table holds function pointers; the
	 * host must see none of them */
	assert_false(IVT_PLUGIN_OPS_HAS(ops, rdma_write));
	assert_false(IVT_PLUGIN_OPS_HAS(ops, max_rdma_len));
	assert_int_equal(ops->rdma_write(NULL, why, 1, 0, 0, 0), -EOPNOTSUPP); /* stubs */
	assert_int_equal(ops->rdma_read(NULL, why, 1, 0, 0, 0), -EOPNOTSUPP);
	assert_int_equal(ops->poll_completions(NULL, NULL, 1), -EOPNOTSUPP);
	assert_int_equal(ops->max_rdma_len, 0);
	/* cached: the same table again */
	assert_ptr_equal(load("abiv1", why, sizeof(why)), ops);
}

static void test_full_table_has_native_ops(void **state)
{
	(void)state;
	char why[256];
	const struct ivt_plugin_ops *ops = load("abifull", why, sizeof(why));
	assert_non_null(ops);
	assert_int_equal(ops->ops_size, sizeof(struct ivt_plugin_ops));
	assert_true(IVT_PLUGIN_OPS_HAS(ops, rdma_write));
	assert_true(IVT_PLUGIN_OPS_HAS(ops, max_rdma_len));
	assert_non_null(ops->rdma_write);
	assert_non_null(ops->rdma_read);
	assert_non_null(ops->poll_completions);
	assert_int_equal(ops->max_rdma_len, 4096);
}

static void test_wrong_abi_version_refused(void **state)
{
	(void)state;
	char why[256];
	assert_null(load("abibadabi", why, sizeof(why)));
	assert_non_null(strstr(why, "plugin 'abibadabi' has ABI version 7, this ivt speaks 1"));
	assert_non_null(strstr(why, "rebuild"));
}

/* A plugin that is not there: the reason says where plugins are looked
 * for (a build tree's programs without IVT_PLUGIN_DIR hit this). */
static void test_missing_plugin_names_the_variable(void **state)
{
	(void)state;
	char why[256];
	assert_null(load("nosuchplugin", why, sizeof(why)));
	assert_non_null(strstr(why, "nosuchplugin"));
	assert_non_null(strstr(why, "IVT_PLUGIN_DIR"));
}

static void test_too_small_table_refused(void **state)
{
	(void)state;
	char why[256];
	assert_null(load("abismall", why, sizeof(why)));
	char want[128];
	snprintf(want, sizeof(want), "ops table is %zu bytes, need at least %zu",
		 (size_t)IVT_PLUGIN_OPS_V1_SIZE - sizeof(void *), (size_t)IVT_PLUGIN_OPS_V1_SIZE);
	assert_non_null(strstr(why, want));
}

static int nop_poll(struct ivt_ep *ep, struct ivt_ep_completion *o, int m)
{
	(void)ep, (void)o, (void)m;
	return 0;
}

static int nop_write(struct ivt_ep *ep, const void *b, size_t l, uint64_t k, uint64_t o, uint64_t w)
{
	(void)ep, (void)b, (void)l, (void)k, (void)o, (void)w;
	return 0;
}

static int nop_read(struct ivt_ep *ep, void *b, size_t l, uint64_t k, uint64_t o, uint64_t w)
{
	(void)ep, (void)b, (void)l, (void)k, (void)o, (void)w;
	return 0;
}

static int nop_reg(struct ivt_ep *ep, void *a, size_t l, unsigned acc, uint64_t *k)
{
	(void)ep, (void)a, (void)l, (void)acc, (void)k;
	return 0;
}

static int nop_dereg(struct ivt_ep *ep, uint64_t k)
{
	(void)ep, (void)k;
	return 0;
}

static struct ivt_plugin_ops base_table(void)
{
	struct ivt_plugin_ops t = ts_null_plugin_ops("t");
	t.caps = IVT_CAP_COLOCATED;
	return t;
}

static void test_native_ops_come_as_a_set(void **state)
{
	(void)state;
	char why[256];
	struct ivt_plugin_ops t = base_table();
	assert_int_equal(ivt_plugin_ops_check(&t, "t", why, sizeof(why)), 0); /* none: emulated */
	t.caps = IVT_CAP_RDMA; /* the capability promises the ops */
	assert_int_equal(ivt_plugin_ops_check(&t, "t", why, sizeof(why)), -EINVAL);
	t.register_region = nop_reg;
	t.deregister_region = nop_dereg;
	t.rdma_write = nop_write;
	t.poll_completions = nop_poll; /* rdma_read missing */
	assert_int_equal(ivt_plugin_ops_check(&t, "t", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "native one-sided ops"));
	t.rdma_read = nop_read;
	assert_int_equal(ivt_plugin_ops_check(&t, "t", why, sizeof(why)), 0);
	t.deregister_region = NULL; /* regions missing */
	assert_int_equal(ivt_plugin_ops_check(&t, "t", why, sizeof(why)), -EINVAL);
	t.deregister_region = nop_dereg;
	t.caps = IVT_CAP_REMOTE; /* ops without the capability */
	assert_int_equal(ivt_plugin_ops_check(&t, "t", why, sizeof(why)), -EINVAL);
}

static void test_newer_bigger_table_accepted(void **state)
{
	(void)state;
	char why[256];
	/* a plugin built against a future header with more appended fields */
	struct {
		struct ivt_plugin_ops ops;
		uint64_t future[4];
	} newer = {.ops = base_table(), .future = {1, 2, 3, 4}};
	newer.ops.ops_size = sizeof(newer);
	assert_int_equal(ivt_plugin_ops_check(&newer.ops, "t", why, sizeof(why)), 0);
	assert_true(IVT_PLUGIN_OPS_HAS(&newer.ops, max_rdma_len));
	/* ...and one from before the append, with junk where they would be */
	struct ivt_plugin_ops v1 = base_table();
	v1.ops_size = (uint32_t)IVT_PLUGIN_OPS_V1_SIZE;
	v1.rdma_write = nop_write; /* not covered by ops_size: ignored */
	assert_int_equal(ivt_plugin_ops_check(&v1, "t", why, sizeof(why)), 0);
	assert_false(IVT_PLUGIN_OPS_HAS(&v1, rdma_write));
}

/* Optional ops a plugin leaves out are stubs: the host never tests for NULL. */
static void test_optional_ops_stubbed(void **state)
{
	(void)state;
	struct ivt_plugin_ops t = base_table();
	assert_null(t.stats);
	ivt_plugin_ops_complete(&t);
	uint64_t key;
	struct ivt_ep_stats st;
	assert_int_equal(t.init(NULL), 0);
	t.fini();
	assert_int_equal(t.stats(NULL, &st), -EOPNOTSUPP);
	assert_int_equal(t.register_region(NULL, &key, 1, 0, &key), -EOPNOTSUPP);
	assert_int_equal(t.deregister_region(NULL, 1), -EOPNOTSUPP);
	assert_int_equal(t.rdma_write(NULL, &key, 1, 0, 0, 0), -EOPNOTSUPP);
	assert_int_equal(t.rdma_read(NULL, &key, 1, 0, 0, 0), -EOPNOTSUPP);
	assert_int_equal(t.poll_completions(NULL, NULL, 1), -EOPNOTSUPP);
	/* what the plugin set is kept */
	struct ivt_plugin_ops u = base_table();
	u.register_region = nop_reg;
	ivt_plugin_ops_complete(&u);
	assert_ptr_equal(u.register_region, nop_reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_table_loads_without_appended_fields),
		cmocka_unit_test(test_full_table_has_native_ops),
		cmocka_unit_test(test_wrong_abi_version_refused),
		cmocka_unit_test(test_too_small_table_refused),
		cmocka_unit_test(test_missing_plugin_names_the_variable),
		cmocka_unit_test(test_native_ops_come_as_a_set),
		cmocka_unit_test(test_newer_bigger_table_accepted),
		cmocka_unit_test(test_optional_ops_stubbed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
