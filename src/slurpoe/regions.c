/* SPDX-License-Identifier: MIT */
/* Registered memory regions: the only memory a peer can reach. Every
 * remote access is checked here, at the target, before memory is touched. */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "engine_int.h"

struct slp_region *slp_region_find(struct slp_conn *c, uint64_t key)
{
	for (struct slp_region *r = c->regions; r; r = r->next)
		if (r->key == key)
			return r;
	return NULL;
}

int slp_region_check(struct slp_conn *c, uint64_t key, uint64_t off, uint64_t len,
		     unsigned access, uint8_t **where)
{
	struct slp_region *r = slp_region_find(c, key);
	if (!r || (r->access & access) != access)
		return -EACCES;
	/* off + len <= r->len, written so that nothing can wrap. */
	if (len > r->len || off > r->len - len)
		return -ERANGE;
	*where = r->addr + off;
	return 0;
}

/* Keys must be unguessable: a kernel CSPRNG, never the engine's PRNG. */
static int random_key(uint64_t *key)
{
	ssize_t n = getrandom(key, sizeof(*key), 0);
	return n == (ssize_t)sizeof(*key) ? 0 : -EIO;
}

int slp_register_region(struct slp_conn *c, void *addr, size_t len, unsigned access,
			uint64_t *key)
{
	if ((!addr && len) || !key || !access || (access & ~(SLP_ACCESS_READ | SLP_ACCESS_WRITE)))
		return -EINVAL;
	if ((uintptr_t)addr + len < (uintptr_t)addr)
		return -EINVAL;
	struct slp_region *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int err;
	do {
		err = random_key(&r->key);
	} while (!err && (r->key == 0 || slp_region_find(c, r->key)));
	if (err) {
		free(r);
		return err;
	}
	r->addr = addr;
	r->len = len;
	r->access = access;
	r->next = c->regions;
	c->regions = r;
	*key = r->key;
	return 0;
}

int slp_deregister_region(struct slp_conn *c, uint64_t key)
{
	for (struct slp_region **pp = &c->regions; *pp; pp = &(*pp)->next) {
		if ((*pp)->key == key) {
			struct slp_region *r = *pp;
			*pp = r->next;
			free(r);
			return 0;
		}
	}
	return -ENOENT;
}

void slp_regions_free(struct slp_conn *c)
{
	while (c->regions) {
		struct slp_region *r = c->regions;
		c->regions = r->next;
		free(r);
	}
}
