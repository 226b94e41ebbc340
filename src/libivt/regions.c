/* SPDX-License-Identifier: MIT */
#include "regions.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "ivt/ivt.h"

void ivt_regions_init(struct ivt_regions *r)
{
	pthread_mutex_init(&r->lock, NULL);
	r->v = NULL;
	r->n = r->cap = 0;
}

void ivt_regions_fini(struct ivt_regions *r)
{
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
	pthread_mutex_destroy(&r->lock);
}

static struct ivt_region *find_locked(struct ivt_regions *r, uint64_t key)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].key == key)
			return &r->v[i];
	return NULL;
}

/* Keys are the only thing guarding a region, so they come from the
 * kernel's CSPRNG, not a counter a peer could guess. */
static int random_key(uint64_t *key)
{
	for (;;) {
		ssize_t n = getrandom(key, sizeof(*key), 0);
		if (n == (ssize_t)sizeof(*key))
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int ivt_regions_check_args(const void *addr, size_t len, unsigned access, const uint64_t *key_out)
{
	const unsigned all = IVT_ACCESS_REMOTE_WRITE | IVT_ACCESS_REMOTE_READ;
	if (!addr || !len || !key_out || !access || (access & ~all))
		return -EINVAL;
	/* The region must not wrap the address space: bounds checks add to addr. */
	if ((uintptr_t)addr + len < (uintptr_t)addr)
		return -EINVAL;
	return 0;
}

int ivt_regions_add(struct ivt_regions *r, void *addr, size_t len, unsigned access,
		    uint64_t *key_out)
{
	int rc = ivt_regions_check_args(addr, len, access, key_out);
	if (rc)
		return rc;

	pthread_mutex_lock(&r->lock);
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct ivt_region *v = realloc(r->v, cap * sizeof(*v));
		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		r->v = v;
		r->cap = cap;
	}
	uint64_t key;
	do {
		rc = random_key(&key);
		if (rc < 0)
			goto out;
	} while (key == 0 || find_locked(r, key));
	r->v[r->n++] = (struct ivt_region){.key = key, .addr = addr, .len = len, .access = access};
	*key_out = key;
out:
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int ivt_regions_remove(struct ivt_regions *r, uint64_t key)
{
	pthread_mutex_lock(&r->lock);
	struct ivt_region *reg = key ? find_locked(r, key) : NULL;
	if (reg)
		*reg = r->v[--r->n];
	pthread_mutex_unlock(&r->lock);
	return reg ? 0 : -ENOENT;
}

int ivt_regions_resolve_locked(struct ivt_regions *r, uint64_t key, uint64_t offset, uint64_t len,
			       unsigned need, uint8_t **out)
{
	const struct ivt_region *reg = key ? find_locked(r, key) : NULL;
	if (!reg || (reg->access & need) != need)
		return -EACCES;
	/* offset + len may wrap; compare against what is left instead. */
	if (offset > reg->len || len > reg->len - offset)
		return -ERANGE;
	*out = reg->addr + offset;
	return 0;
}
