/* SPDX-License-Identifier: MIT */
#include "verbs_regcache.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "ivt/ivt.h"
#include "verbs_wire.h"

static const unsigned known_access = IVT_ACCESS_REMOTE_WRITE | IVT_ACCESS_REMOTE_READ;

void vrc_init(struct vrc_cache *c, const struct vrc_backend *be)
{
	memset(c, 0, sizeof(*c));
	c->be = *be;
}

static uint32_t next_random(struct vrc_cache *c)
{
	if (c->be.random_u32)
		return c->be.random_u32(c->be.ctx);
	uint32_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)(uintptr_t)&v ^ (uint32_t)c->misses * 2654435761u;
	return v;
}

static int id_in_use(const struct vrc_cache *c, uint32_t id)
{
	for (int i = 0; i < VRC_MAX_ENTRIES; i++)
		if (c->e[i].refs && c->e[i].id == id)
			return 1;
	return 0;
}

int vrc_register(struct vrc_cache *c, void *addr, size_t len, unsigned access, uint64_t *key,
		 int *is_new)
{
	uintptr_t a = (uintptr_t)addr;
	if (!addr || !len || a > UINTPTR_MAX - len || !access || (access & ~known_access))
		return -EINVAL;
	struct vrc_entry *free_slot = NULL;
	for (int i = 0; i < VRC_MAX_ENTRIES; i++) {
		struct vrc_entry *e = &c->e[i];
		if (!e->refs) {
			if (!free_slot)
				free_slot = e;
			continue;
		}
		if (e->addr == a && e->len == len && e->access == access) {
			e->refs++;
			c->hits++;
			*key = vw_key_make(e->rkey, e->id);
			*is_new = 0;
			return 0;
		}
	}
	if (!free_slot)
		return -ENOSPC;
	c->misses++;
	uint32_t id;
	int tries = 0;
	do {
		id = next_random(c);
		/* A broken random source must not loop forever. */
		if (++tries > 64)
			id = (uint32_t)(free_slot - c->e) + 1;
	} while (id == 0 || (id_in_use(c, id) && tries <= 64));
	if (id_in_use(c, id))
		return -ENOSPC;

	void *handle = NULL;
	uint32_t rkey = 0, lkey = 0;
	int rc = c->be.reg(c->be.ctx, addr, len, access, &handle, &rkey, &lkey);
	if (rc)
		return rc < 0 ? rc : -EIO;
	*free_slot = (struct vrc_entry){ .addr = a, .len = len, .access = access, .id = id,
					 .rkey = rkey, .lkey = lkey, .refs = 1, .handle = handle };
	*key = vw_key_make(rkey, id);
	*is_new = 1;
	return 0;
}

static struct vrc_entry *find(const struct vrc_cache *c, uint64_t key)
{
	uint32_t id = vw_key_id(key), rkey = vw_key_rkey(key);
	if (!id)
		return NULL;
	for (int i = 0; i < VRC_MAX_ENTRIES; i++)
		if (c->e[i].refs && c->e[i].id == id && c->e[i].rkey == rkey)
			return (struct vrc_entry *)&c->e[i];
	return NULL;
}

const struct vrc_entry *vrc_find_key(const struct vrc_cache *c, uint64_t key)
{
	return find(c, key);
}

int vrc_deregister(struct vrc_cache *c, uint64_t key, struct vrc_entry *gone)
{
	struct vrc_entry *e = find(c, key);
	if (!e)
		return -ENOENT;
	if (--e->refs)
		return 0;
	c->be.dereg(c->be.ctx, e->handle);
	if (gone)
		*gone = *e;
	memset(e, 0, sizeof(*e));
	return 1;
}

void vrc_clear(struct vrc_cache *c)
{
	for (int i = 0; i < VRC_MAX_ENTRIES; i++)
		if (c->e[i].refs) {
			c->be.dereg(c->be.ctx, c->e[i].handle);
			memset(&c->e[i], 0, sizeof(c->e[i]));
		}
}

/* ---- the peer's regions ---------------------------------------------------- */

void vrt_init(struct vrt_table *t) { memset(t, 0, sizeof(*t)); }

int vrt_add(struct vrt_table *t, const struct vw_region *r)
{
	struct vrt_entry *free_slot = NULL;
	for (int i = 0; i < VRT_MAX_ENTRIES; i++) {
		if (t->e[i].used && t->e[i].id == r->id)
			return -EEXIST;
		if (!t->e[i].used && !free_slot)
			free_slot = &t->e[i];
	}
	if (!free_slot)
		return -ENOSPC;
	*free_slot = (struct vrt_entry){ .id = r->id, .rkey = r->rkey, .addr = r->addr,
					 .len = r->len, .access = r->access, .used = 1 };
	return 0;
}

int vrt_del(struct vrt_table *t, uint32_t id)
{
	for (int i = 0; i < VRT_MAX_ENTRIES; i++)
		if (t->e[i].used && t->e[i].id == id) {
			memset(&t->e[i], 0, sizeof(t->e[i]));
			return 0;
		}
	return -ENOENT;
}

int vrt_check(const struct vrt_table *t, uint64_t key, uint64_t offset, uint64_t len,
	      unsigned need_access, uint64_t *raddr, uint32_t *rkey)
{
	uint32_t id = vw_key_id(key);
	for (int i = 0; i < VRT_MAX_ENTRIES; i++) {
		const struct vrt_entry *e = &t->e[i];
		if (!e->used || e->id != id)
			continue;
		if (e->rkey != vw_key_rkey(key) || (e->access & need_access) != need_access)
			return -EACCES;
		if (offset > e->len || len > e->len - offset)
			return -ERANGE;
		*raddr = e->addr + offset;
		*rkey = e->rkey;
		return 0;
	}
	return -EACCES;
}
