#include "uid_counts.h"

#include <stdint.h>
#include <stdlib.h>

static size_t hash(uid_t uid, size_t cap)
{
	/* Fibonacci hashing: uids are small and dense, spread them. */
	return (size_t)(((uint64_t)uid * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static struct uid_count *probe(const struct uid_counts *t, uid_t uid, int *found)
{
	size_t i = hash(uid, t->cap);
	while (t->in_use[i] && t->slot[i].uid != uid)
		i = (i + 1) & (t->cap - 1);
	*found = t->in_use[i];
	return &t->slot[i];
}

struct uid_count *uid_counts_find(const struct uid_counts *t, uid_t uid)
{
	if (!t->cap)
		return NULL;
	int found;
	struct uid_count *e = probe(t, uid, &found);
	return found ? e : NULL;
}

/* Double the table (load stays at most one half). */
static int grow(struct uid_counts *t)
{
	struct uid_counts n = { 0 };
	n.cap = t->cap ? t->cap * 2 : 16;
	n.slot = calloc(n.cap, sizeof(*n.slot));
	n.in_use = calloc(n.cap, 1);
	if (!n.slot || !n.in_use) {
		free(n.slot);
		free(n.in_use);
		return -1;
	}
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->in_use[i])
			continue;
		int found;
		struct uid_count *e = probe(&n, t->slot[i].uid, &found);
		*e = t->slot[i];
		n.in_use[e - n.slot] = 1;
		n.used++;
	}
	uid_counts_free(t);
	*t = n;
	return 0;
}

struct uid_count *uid_counts_get(struct uid_counts *t, uid_t uid)
{
	struct uid_count *e = uid_counts_find(t, uid);
	if (e)
		return e;
	if ((t->used + 1) * 2 > t->cap && grow(t) != 0)
		return NULL;
	int found;
	e = probe(t, uid, &found);
	e->uid = uid;
	e->conns = e->opened = 0;
	t->in_use[e - t->slot] = 1;
	t->used++;
	return e;
}

void uid_counts_free(struct uid_counts *t)
{
	free(t->slot);
	free(t->in_use);
	t->slot = NULL;
	t->in_use = NULL;
	t->cap = t->used = 0;
}
