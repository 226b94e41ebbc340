/* SPDX-License-Identifier: MIT */
/* Memory regions this end registered for the peer's one-sided operations. */
#ifndef IVT_LIBIVT_REGIONS_H
#define IVT_LIBIVT_REGIONS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct ivt_region {
	uint64_t key; /* random, never 0 */
	uint8_t *addr;
	size_t len;
	unsigned access; /* enum ivt_access */
};

struct ivt_regions {
	/* Held while the frame layer copies into or out of a region, so
	 * deregistration waits for any copy in progress. */
	pthread_mutex_t lock;
	struct ivt_region *v;
	size_t n, cap;
};

void ivt_regions_init(struct ivt_regions *r);
void ivt_regions_fini(struct ivt_regions *r);

/* The caller's arguments to ivt_register_region are sane: 0 or -EINVAL
 * (also used when the plugin registers natively). */
int ivt_regions_check_args(const void *addr, size_t len, unsigned access, const uint64_t *key_out);

/* 0 and *key_out, or -EINVAL / -ENOMEM / an error from getrandom. */
int ivt_regions_add(struct ivt_regions *r, void *addr, size_t len, unsigned access,
		    uint64_t *key_out);
/* 0 or -ENOENT. Returns after any copy into the region has finished. */
int ivt_regions_remove(struct ivt_regions *r, uint64_t key);

/* With r->lock held: the address of [offset, offset + len) in region key if
 * that range lies inside it and access has all of `need`. -EACCES (unknown
 * key or missing access bit) or -ERANGE. Overflow-safe for any inputs. */
int ivt_regions_resolve_locked(struct ivt_regions *r, uint64_t key, uint64_t offset, uint64_t len,
			       unsigned need, uint8_t **out);

#endif
