/* SPDX-License-Identifier: MIT */
/*
 * A small intrusive chained hash table with power-of-two buckets that
 * doubles when the load passes 1, so lookups, inserts and removals are
 * O(1) on average. The caller embeds struct utmem_hnode in its records
 * and supplies the hash; equality is checked by a callback because the
 * keys (page keys, object keys) differ per table.
 */
#ifndef UTMEM_HTAB_H
#define UTMEM_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct utmem_hnode {
	struct utmem_hnode *next;
	uint64_t hash;
};

/* Returns nonzero when node matches the key the caller looks for. */
typedef int (*utmem_hmatch_fn)(const struct utmem_hnode *node, const void *key);

struct utmem_htab {
	struct utmem_hnode **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
};

int utmem_htab_init(struct utmem_htab *t, size_t initial_buckets);
void utmem_htab_fini(struct utmem_htab *t); /* frees buckets, not the nodes */

struct utmem_hnode *utmem_htab_find(const struct utmem_htab *t, uint64_t hash,
				    utmem_hmatch_fn match, const void *key);
/* Insert a node whose hash field the caller set. Never fails: if growing
 * is impossible (no memory) the table just gets longer chains. */
void utmem_htab_insert(struct utmem_htab *t, struct utmem_hnode *node);
void utmem_htab_remove(struct utmem_htab *t, struct utmem_hnode *node);

/* 64-bit mixer (splitmix64 finaliser): cheap, good spread for ids. */
static inline uint64_t utmem_hash_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

#endif
