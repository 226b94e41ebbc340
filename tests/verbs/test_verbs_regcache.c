/* SPDX-License-Identifier: MIT */
/* Registration cache and the peer-region table of the verbs plugin, with a
 * fake ibv_reg_mr so it runs without RDMA hardware. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ivt/ivt.h"
#include "verbs_regcache.h"
#include "verbs_wire.h"

struct fake {
	int regs, deregs, live;
	int fail_next;
	uint32_t next_rkey;
	uint32_t ids[8];
	int nids, id_pos;
};

static int fake_reg(void *ctx, void *addr, size_t len, unsigned access, void **handle,
		    uint32_t *rkey, uint32_t *lkey)
{
	struct fake *f = ctx;
	if (f->fail_next) {
		f->fail_next = 0;
		return -ENOMEM;
	}
	f->regs++;
	f->live++;
	*handle = (void *)(uintptr_t)(0x1000 + f->regs);
	*rkey = ++f->next_rkey;
	*lkey = f->next_rkey + 1000;
	return 0;
}

static void fake_dereg(void *ctx, void *handle)
{
	struct fake *f = ctx;
	assert_non_null(handle);
	f->deregs++;
	f->live--;
}

static uint32_t fake_rand(void *ctx)
{
	struct fake *f = ctx;
	return f->ids[f->id_pos++ % f->nids];
}

static void setup_cache(struct vrc_cache *c, struct fake *f, int scripted_ids)
{
	memset(f, 0, sizeof(*f));
	struct vrc_backend be = {.ctx = f, .reg = fake_reg, .dereg = fake_dereg,
				 .random_u32 = scripted_ids ? fake_rand : NULL};
	vrc_init(c, &be);
}

static char mem[1 << 16];

static void same_region_is_cached(void **state)
{
	static struct vrc_cache c;
	struct fake f;
	setup_cache(&c, &f, 0);
	uint64_t k1, k2, k3;
	int is_new;
	assert_int_equal(vrc_register(&c, mem, 4096, IVT_ACCESS_REMOTE_WRITE, &k1, &is_new), 0);
	assert_true(is_new);
	assert_int_equal(vrc_register(&c, mem, 4096, IVT_ACCESS_REMOTE_WRITE, &k2, &is_new), 0);
	assert_false(is_new);
	assert_true(k1 == k2);
	assert_int_equal(f.regs, 1);
	assert_true(c.hits == 1 && c.misses == 1);
	/* Different access or length is a different MR. */
	assert_int_equal(vrc_register(&c, mem, 4096, IVT_ACCESS_REMOTE_READ, &k3, &is_new), 0);
	assert_true(is_new && k3 != k1);
	assert_int_equal(vrc_register(&c, mem, 8192, IVT_ACCESS_REMOTE_WRITE, &k3, &is_new), 0);
	assert_true(is_new);
	assert_int_equal(f.regs, 3);

	const struct vrc_entry *e = vrc_find_key(&c, k1);
	assert_non_null(e);
	assert_int_equal(e->refs, 2);
	assert_int_equal(vw_key_rkey(k1), e->rkey);
	assert_int_equal(vw_key_id(k1), e->id);
	assert_true(e->id != 0);

	/* Reference counted: released on the last deregistration only. */
	struct vrc_entry gone;
	assert_int_equal(vrc_deregister(&c, k1, &gone), 0);
	assert_int_equal(f.deregs, 0);
	assert_int_equal(vrc_deregister(&c, k1, &gone), 1);
	assert_int_equal(f.deregs, 1);
	assert_int_equal(gone.id, vw_key_id(k1));
	assert_int_equal(vrc_deregister(&c, k1, &gone), -ENOENT);
	assert_null(vrc_find_key(&c, k1));

	vrc_clear(&c);
	assert_int_equal(f.live, 0);
}

static void bad_requests(void **state)
{
	static struct vrc_cache c;
	struct fake f;
	setup_cache(&c, &f, 0);
	uint64_t k;
	int is_new;
	assert_int_equal(vrc_register(&c, NULL, 10, IVT_ACCESS_REMOTE_READ, &k, &is_new), -EINVAL);
	assert_int_equal(vrc_register(&c, mem, 0, IVT_ACCESS_REMOTE_READ, &k, &is_new), -EINVAL);
	assert_int_equal(vrc_register(&c, mem, 10, 0, &k, &is_new), -EINVAL);
	assert_int_equal(vrc_register(&c, mem, 10, 0x80, &k, &is_new), -EINVAL);
	assert_int_equal(vrc_register(&c, (void *)(UINTPTR_MAX - 4), 10, 1, &k, &is_new), -EINVAL);
	f.fail_next = 1;
	assert_int_equal(vrc_register(&c, mem, 10, 1, &k, &is_new), -ENOMEM);
	assert_int_equal(f.live, 0);
	/* unknown keys, key 0, right id with a wrong rkey (stale key) */
	assert_int_equal(vrc_deregister(&c, 0, NULL), -ENOENT);
	assert_int_equal(vrc_register(&c, mem, 10, 1, &k, &is_new), 0);
	assert_int_equal(vrc_deregister(&c, k ^ (1ull << 40), NULL), -ENOENT);
	assert_int_equal(vrc_deregister(&c, k, NULL), 1);
}

static void table_full_and_ids_unique(void **state)
{
	static struct vrc_cache c;
	struct fake f;
	setup_cache(&c, &f, 0);
	static uint64_t keys[VRC_MAX_ENTRIES];
	int is_new;
	for (int i = 0; i < VRC_MAX_ENTRIES; i++)
		assert_int_equal(vrc_register(&c, mem + i, 1, 1, &keys[i], &is_new), 0);
	uint64_t k;
	assert_int_equal(vrc_register(&c, mem + VRC_MAX_ENTRIES, 1, 1, &k, &is_new), -ENOSPC);
	for (int i = 0; i < VRC_MAX_ENTRIES; i++)
		for (int j = i + 1; j < VRC_MAX_ENTRIES; j++)
			assert_true(vw_key_id(keys[i]) != vw_key_id(keys[j]));
	assert_int_equal(vrc_deregister(&c, keys[7], NULL), 1);
	assert_int_equal(vrc_register(&c, mem + VRC_MAX_ENTRIES, 1, 1, &k, &is_new), 0);
	vrc_clear(&c);
	assert_int_equal(f.live, 0);
}

/* A random source that repeats (or returns 0) must not give duplicate ids
 * nor hang. */
static void colliding_random_ids(void **state)
{
	static struct vrc_cache c;
	struct fake f;
	setup_cache(&c, &f, 1);
	f.ids[0] = 0;
	f.ids[1] = 42;
	f.nids = 2;
	uint64_t k1, k2;
	int is_new;
	assert_int_equal(vrc_register(&c, mem, 1, 1, &k1, &is_new), 0);
	assert_int_equal(vw_key_id(k1), 42);
	assert_int_equal(vrc_register(&c, mem + 1, 1, 1, &k2, &is_new), 0);
	assert_true(vw_key_id(k2) != 42 && vw_key_id(k2) != 0);
	vrc_clear(&c);
}

static void peer_regions(void **state)
{
	static struct vrt_table t;
	vrt_init(&t);
	struct vw_region r = {.id = 5, .rkey = 0x77, .addr = 0x10000, .len = 4096,
			      .access = IVT_ACCESS_REMOTE_WRITE};
	assert_int_equal(vrt_add(&t, &r), 0);
	assert_int_equal(vrt_add(&t, &r), -EEXIST);
	uint64_t key = vw_key_make(0x77, 5), raddr;
	uint32_t rkey;
	assert_int_equal(vrt_check(&t, key, 100, 200, IVT_ACCESS_REMOTE_WRITE, &raddr, &rkey), 0);
	assert_true(raddr == 0x10000 + 100 && rkey == 0x77);
	assert_int_equal(vrt_check(&t, key, 0, 4096, IVT_ACCESS_REMOTE_WRITE, &raddr, &rkey), 0);
	/* bounds, including offset+len overflow */
	assert_int_equal(vrt_check(&t, key, 1, 4096, IVT_ACCESS_REMOTE_WRITE, &raddr, &rkey), -ERANGE);
	assert_int_equal(vrt_check(&t, key, 4097, 0, IVT_ACCESS_REMOTE_WRITE, &raddr, &rkey), -ERANGE);
	assert_int_equal(vrt_check(&t, key, UINT64_MAX, 2, IVT_ACCESS_REMOTE_WRITE, &raddr, &rkey),
			 -ERANGE);
	assert_int_equal(vrt_check(&t, key, 8, UINT64_MAX - 4, IVT_ACCESS_REMOTE_WRITE, &raddr,
				   &rkey), -ERANGE);
	/* access bits, wrong rkey half, unknown id */
	assert_int_equal(vrt_check(&t, key, 0, 1, IVT_ACCESS_REMOTE_READ, &raddr, &rkey), -EACCES);
	assert_int_equal(vrt_check(&t, vw_key_make(0x78, 5), 0, 1, IVT_ACCESS_REMOTE_WRITE, &raddr,
				   &rkey), -EACCES);
	assert_int_equal(vrt_check(&t, vw_key_make(0x77, 6), 0, 1, IVT_ACCESS_REMOTE_WRITE, &raddr,
				   &rkey), -EACCES);
	assert_int_equal(vrt_del(&t, 5), 0);
	assert_int_equal(vrt_del(&t, 5), -ENOENT);
	assert_int_equal(vrt_check(&t, key, 0, 1, IVT_ACCESS_REMOTE_WRITE, &raddr, &rkey), -EACCES);
	/* a peer flooding descriptors fills the table, then is refused */
	for (uint32_t i = 1; i <= VRT_MAX_ENTRIES; i++) {
		r.id = i;
		assert_int_equal(vrt_add(&t, &r), 0);
	}
	r.id = VRT_MAX_ENTRIES + 1;
	assert_int_equal(vrt_add(&t, &r), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_region_is_cached), cmocka_unit_test(bad_requests),
		cmocka_unit_test(table_full_and_ids_unique), cmocka_unit_test(colliding_random_ids),
		cmocka_unit_test(peer_regions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
