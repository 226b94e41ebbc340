/* SPDX-License-Identifier: MIT */
#include "utmem/htab.h"

#include <errno.h>
#include <stdlib.h>

int utmem_htab_init(struct utmem_htab *t, size_t initial_buckets)
{
	size_t n = 16;
	while (n < initial_buckets)
		n <<= 1;
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = n;
	t->count = 0;
	return 0;
}

void utmem_htab_fini(struct utmem_htab *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
}

struct utmem_hnode *utmem_htab_find(const struct utmem_htab *t, uint64_t hash,
				    utmem_hmatch_fn match, const void *key)
{
	struct utmem_hnode *n = t->buckets[hash & (t->nbuckets - 1)];
	for (; n; n = n->next)
		if (n->hash == hash && match(n, key))
			return n;
	return NULL;
}

static void grow(struct utmem_htab *t)
{
	size_t nb = t->nbuckets * 2;
	struct utmem_hnode **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* keep working with longer chains */
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct utmem_hnode *n = t->buckets[i];
		while (n) {
			struct utmem_hnode *next = n->next;
			size_t j = n->hash & (nb - 1);
			n->next = b[j];
			b[j] = n;
			n = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

void utmem_htab_insert(struct utmem_htab *t, struct utmem_hnode *node)
{
	if (t->count >= t->nbuckets)
		grow(t);
	struct utmem_hnode **b = &t->buckets[node->hash & (t->nbuckets - 1)];
	node->next = *b;
	*b = node;
	t->count++;
}

void utmem_htab_remove(struct utmem_htab *t, struct utmem_hnode *node)
{
	struct utmem_hnode **p = &t->buckets[node->hash & (t->nbuckets - 1)];
	for (; *p; p = &(*p)->next) {
		if (*p == node) {
			*p = node->next;
			node->next = NULL;
			t->count--;
			return;
		}
	}
}
