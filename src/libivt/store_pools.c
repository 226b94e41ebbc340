/* SPDX-License-Identifier: MIT */
/* The caller's pool ids and the current store's (store_pools.h). */
#include "store_pools.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct store_pool *find(const struct store_pools *ps, uint32_t id)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].id == id)
			return &ps->v[i];
	return NULL;
}

int store_pools_cur(const struct store_pools *ps, uint32_t id, uint32_t *cur)
{
	const struct store_pool *p = find(ps, id);
	if (p && !p->cur)
		return -EBADF;
	*cur = p ? p->cur : id;
	return 0;
}

int store_pools_add(struct store_pools *ps, unsigned flags, const uint8_t *uuid, uint32_t cur,
		    uint32_t *id)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].cur == cur) { /* a shared pool attached twice */
			*id = ps->v[i].id;
			return 0;
		}
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 8;
		struct store_pool *nv = realloc(ps->v, cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		ps->v = nv;
		ps->cap = cap;
	}
	uint32_t want = cur;
	while (find(ps, want))
		want = want % UINT32_MAX + 1; /* never 0 */
	struct store_pool *p = &ps->v[ps->n++];
	*p = (struct store_pool){.id = want, .cur = cur, .flags = flags};
	memcpy(p->uuid, uuid, IVT_UUID_LEN);
	*id = want;
	return 0;
}

void store_pools_forget(struct store_pools *ps, uint32_t id)
{
	struct store_pool *p = find(ps, id);
	if (p)
		*p = ps->v[--ps->n];
}

void store_pools_free(struct store_pools *ps)
{
	free(ps->v);
	*ps = (struct store_pools){0};
}
