/* SPDX-License-Identifier: MIT */
/*
 * A stand-in plugin for the loader's ABI checks. ABI_VARIANT_* picks the
 * table it exports:
 *   v1      built "before" the native one-sided ops were appended:
 *           ops_size = IVT_PLUGIN_OPS_V1_SIZE. The bytes behind that are
 *           deliberately not zero (as in a real older plugin, where
 *           whatever follows its table lies there): the host must not use them.
 *   full    the current table, with native one-sided ops.
 *   badabi  abi_version 7.
 *   small   ops_size smaller than the ABI-1 table.
 * The operations do nothing; only loading is tested.
 */
#include <errno.h>

#include "testsupport/null_plugin.h"

static int rdma_write(struct ivt_ep *ep, const void *buf, size_t len, uint64_t key, uint64_t off,
		      uint64_t wr_id)
{
	(void)ep, (void)buf, (void)len, (void)key, (void)off, (void)wr_id;
	return -ENOTSUP;
}

static int rdma_read(struct ivt_ep *ep, void *buf, size_t len, uint64_t key, uint64_t off,
		     uint64_t wr_id)
{
	(void)ep, (void)buf, (void)len, (void)key, (void)off, (void)wr_id;
	return -ENOTSUP;
}

static int reg(struct ivt_ep *ep, void *addr, size_t len, unsigned access, uint64_t *key)
{
	(void)ep, (void)addr, (void)len, (void)access, (void)key;
	return -ENOTSUP;
}

static int dereg(struct ivt_ep *ep, uint64_t key)
{
	(void)ep, (void)key;
	return -ENOTSUP;
}

static int poll_completions(struct ivt_ep *ep, struct ivt_ep_completion *out, int max)
{
	(void)ep, (void)out, (void)max;
	return 0;
}

#if defined(ABI_VARIANT_v1)
#define ABI_VERSION IVT_PLUGIN_ABI_VERSION
#define OPS_SIZE IVT_PLUGIN_OPS_V1_SIZE
#elif defined(ABI_VARIANT_full)
#define ABI_VERSION IVT_PLUGIN_ABI_VERSION
#define OPS_SIZE sizeof(struct ivt_plugin_ops)
#elif defined(ABI_VARIANT_badabi)
#define ABI_VERSION 7
#define OPS_SIZE sizeof(struct ivt_plugin_ops)
#elif defined(ABI_VARIANT_small)
#define ABI_VERSION IVT_PLUGIN_ABI_VERSION
#define OPS_SIZE (IVT_PLUGIN_OPS_V1_SIZE - sizeof(void *))
#else
#error "define ABI_VARIANT_v1, _full, _badabi or _small"
#endif

static struct ivt_plugin_ops ops;

__attribute__((visibility("default"))) const struct ivt_plugin_ops *ivt_plugin_entry(uint32_t host_abi)
{
	(void)host_abi;
	ops = ts_null_plugin_ops(ABI_NAME);
	ops.abi_version = ABI_VERSION;
	ops.ops_size = (uint32_t)OPS_SIZE;
	ops.caps = IVT_CAP_COLOCATED | IVT_CAP_RDMA;
	ops.register_region = reg;
	ops.deregister_region = dereg;
	/* v1: beyond ops_size, so they must read as absent */
	ops.rdma_write = rdma_write;
	ops.rdma_read = rdma_read;
	ops.poll_completions = poll_completions;
	ops.max_rdma_len = 4096;
	return &ops;
}
