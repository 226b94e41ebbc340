/* SPDX-License-Identifier: MIT */
/* The utmem store: pools, pages, quotas and LRU eviction (see store.h). */
#include "utmem/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "utmem/htab.h"

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* Circular doubly-linked list with a sentinel head. */
struct link {
	struct link *prev, *next;
};

static void list_init(struct link *h) { h->prev = h->next = h; }
static bool list_empty(const struct link *h) { return h->next == h; }
static void list_add_tail(struct link *h, struct link *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}
static void list_del(struct link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

struct domain {
	struct utmem_hnode h;
	uint32_t domid;
	uint64_t quota, used, eph_used, pages, pools;
	uint64_t puts, puts_refused, gets, get_hits, evicted;
	struct link lru; /* this domain's ephemeral pages, oldest first */
};

struct pool {
	uint32_t id;
	uint32_t flags;
	uint32_t creator;
	uint8_t uuid[UTMEM_UUID_LEN];
	uint32_t nsharers;
	uint32_t sharers[UTMEM_SHARERS_MAX]; /* shared pools: attached domids */
	struct link objects;
};

struct object {
	struct utmem_hnode h;
	struct pool *pool;
	uint64_t oid;
	struct link pool_link;
	struct link pages;
};

struct page {
	struct utmem_hnode h;
	struct utmem_key key;
	struct object *obj;
	struct domain *owner;
	struct link obj_link;
	struct link dom_lru;  /* ephemeral only */
	struct link glob_lru; /* ephemeral only */
	uint32_t len;
	unsigned char data[];
};

struct utmem_store {
	struct utmem_config cfg;
	struct utmem_htab pages, objects, domains;
	struct pool **pools; /* indexed by id; [0] unused */
	uint32_t npool_slots, npools, next_pool;
	uint64_t used, eph_used, npages, evicted;
	struct link lru; /* all ephemeral pages, oldest first */
};

/* ---- hashing ------------------------------------------------------------ */

static uint64_t page_hash(const struct utmem_key *k)
{
	return utmem_hash_mix(k->oid ^ utmem_hash_mix(((uint64_t)k->pool << 32) | k->index));
}

static uint64_t object_hash(uint32_t pool, uint64_t oid)
{
	return utmem_hash_mix(oid ^ utmem_hash_mix(((uint64_t)pool << 32) | 0xffffffffu));
}

static int page_match(const struct utmem_hnode *n, const void *key)
{
	const struct page *p = container_of(n, struct page, h);
	const struct utmem_key *k = key;
	return p->key.pool == k->pool && p->key.oid == k->oid && p->key.index == k->index;
}

struct okey {
	uint32_t pool;
	uint64_t oid;
};

static int object_match(const struct utmem_hnode *n, const void *key)
{
	const struct object *o = container_of(n, struct object, h);
	const struct okey *k = key;
	return o->pool->id == k->pool && o->oid == k->oid;
}

static int domain_match(const struct utmem_hnode *n, const void *key)
{
	return container_of(n, struct domain, h)->domid == *(const uint32_t *)key;
}

/* ---- config and lifetime ------------------------------------------------ */

void utmem_config_default(struct utmem_config *cfg)
{
	cfg->max_value = UTMEM_DEFAULT_MAX_VALUE;
	cfg->capacity = UINT64_MAX;
	cfg->default_quota = UTMEM_QUOTA_UNLIMITED;
}

struct utmem_store *utmem_store_new(const struct utmem_config *cfg)
{
	struct utmem_config def;
	if (!cfg) {
		utmem_config_default(&def);
		cfg = &def;
	}
	if (cfg->max_value == 0 || cfg->max_value > UTMEM_MAX_VALUE_LIMIT)
		return NULL;
	struct utmem_store *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->cfg = *cfg;
	st->next_pool = 1;
	list_init(&st->lru);
	if (utmem_htab_init(&st->pages, 1024) || utmem_htab_init(&st->objects, 256) ||
	    utmem_htab_init(&st->domains, 16)) {
		utmem_htab_fini(&st->pages);
		utmem_htab_fini(&st->objects);
		free(st);
		return NULL;
	}
	return st;
}

static struct domain *domain_find(const struct utmem_store *st, uint32_t domid)
{
	struct utmem_hnode *n =
		utmem_htab_find(&st->domains, utmem_hash_mix(domid), domain_match, &domid);
	return n ? container_of(n, struct domain, h) : NULL;
}

static struct domain *domain_get(struct utmem_store *st, uint32_t domid)
{
	struct domain *d = domain_find(st, domid);
	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->domid = domid;
	d->quota = st->cfg.default_quota;
	list_init(&d->lru);
	d->h.hash = utmem_hash_mix(domid);
	utmem_htab_insert(&st->domains, &d->h);
	return d;
}

/* ---- removing pages ----------------------------------------------------- */

static bool pool_ephemeral(const struct pool *p) { return !(p->flags & UTMEM_POOL_PERSISTENT); }

static void object_free_if_empty(struct utmem_store *st, struct object *o)
{
	if (!list_empty(&o->pages))
		return;
	utmem_htab_remove(&st->objects, &o->h);
	list_del(&o->pool_link);
	free(o);
}

/* Unlink a page, credit its owner and the store, free it. The object is
 * freed when it becomes empty. */
static void page_remove(struct utmem_store *st, struct page *pg)
{
	uint64_t c = utmem_charge(pg->len);
	struct object *o = pg->obj;
	utmem_htab_remove(&st->pages, &pg->h);
	list_del(&pg->obj_link);
	pg->owner->used -= c;
	pg->owner->pages--;
	st->used -= c;
	st->npages--;
	if (pool_ephemeral(o->pool)) {
		list_del(&pg->dom_lru);
		list_del(&pg->glob_lru);
		pg->owner->eph_used -= c;
		st->eph_used -= c;
	}
	free(pg);
	object_free_if_empty(st, o);
}

static void page_evict(struct utmem_store *st, struct page *pg)
{
	pg->owner->evicted++;
	st->evicted++;
	page_remove(st, pg);
}

/* Evict the domain's oldest ephemeral pages until it uses <= target. */
static void evict_domain_to(struct utmem_store *st, struct domain *d, uint64_t target)
{
	while (d->used > target && !list_empty(&d->lru))
		page_evict(st, container_of(d->lru.next, struct page, dom_lru));
}

static void evict_global_to(struct utmem_store *st, uint64_t target)
{
	while (st->used > target && !list_empty(&st->lru))
		page_evict(st, container_of(st->lru.next, struct page, glob_lru));
}

/* ---- pools -------------------------------------------------------------- */

static struct pool *pool_lookup(const struct utmem_store *st, uint32_t id)
{
	if (id == 0 || id >= st->npool_slots)
		return NULL;
	return st->pools[id];
}

static int sharer_index(const struct pool *p, uint32_t domid)
{
	for (uint32_t i = 0; i < p->nsharers; i++)
		if (p->sharers[i] == domid)
			return (int)i;
	return -1;
}

static bool pool_may_use(const struct pool *p, uint32_t domid)
{
	if (p->flags & UTMEM_POOL_SHARED)
		return sharer_index(p, domid) >= 0;
	return p->creator == domid;
}

/* Pool the domain may use, or NULL with *err set. */
static struct pool *pool_access(const struct utmem_store *st, uint32_t domid, uint32_t id,
				int *err)
{
	struct pool *p = pool_lookup(st, id);
	if (!p) {
		*err = -EBADF;
		return NULL;
	}
	if (!pool_may_use(p, domid)) {
		*err = -EACCES;
		return NULL;
	}
	return p;
}

static int pool_slot_alloc(struct utmem_store *st, uint32_t *id)
{
	for (uint32_t tries = 0; tries < UTMEM_POOLS_MAX; tries++) {
		uint32_t i = st->next_pool;
		st->next_pool = i + 1 >= UTMEM_POOLS_MAX ? 1 : i + 1;
		if (i >= st->npool_slots) {
			uint32_t n = st->npool_slots ? st->npool_slots * 2 : 16;
			if (n > UTMEM_POOLS_MAX)
				n = UTMEM_POOLS_MAX;
			struct pool **np = realloc(st->pools, n * sizeof(*np));
			if (!np)
				return -ENOMEM;
			memset(np + st->npool_slots, 0, (n - st->npool_slots) * sizeof(*np));
			st->pools = np;
			st->npool_slots = n;
		}
		if (!st->pools[i]) {
			*id = i;
			return 0;
		}
	}
	return -EMFILE;
}

static struct pool *shared_pool_find(const struct utmem_store *st, const uint8_t *uuid)
{
	for (uint32_t i = 1; i < st->npool_slots; i++) {
		struct pool *p = st->pools[i];
		if (p && (p->flags & UTMEM_POOL_SHARED) && !memcmp(p->uuid, uuid, UTMEM_UUID_LEN))
			return p;
	}
	return NULL;
}

static bool uuid_is_zero(const uint8_t *u)
{
	for (int i = 0; i < UTMEM_UUID_LEN; i++)
		if (u[i])
			return false;
	return true;
}

int utmem_pool_create(struct utmem_store *st, uint32_t domid, uint32_t flags,
		      const uint8_t uuid[UTMEM_UUID_LEN], uint32_t *pool_out)
{
	if (flags & ~UTMEM_POOL_FLAGS_ALL)
		return -EINVAL;
	bool shared = flags & UTMEM_POOL_SHARED;
	if (shared && (!uuid || uuid_is_zero(uuid)))
		return -EINVAL;
	struct domain *d = domain_get(st, domid);
	if (!d)
		return -ENOMEM;
	if (shared) {
		/* Shared pools are rare and few: a linear search by uuid is fine. */
		struct pool *p = shared_pool_find(st, uuid);
		if (p) {
			if (p->flags != flags)
				return -EEXIST;
			if (sharer_index(p, domid) < 0) {
				if (p->nsharers >= UTMEM_SHARERS_MAX)
					return -EUSERS;
				if (d->pools >= UTMEM_POOLS_PER_DOMAIN)
					return -EMFILE;
				p->sharers[p->nsharers++] = domid;
				d->pools++;
			}
			*pool_out = p->id;
			return 0;
		}
	}
	if (d->pools >= UTMEM_POOLS_PER_DOMAIN)
		return -EMFILE;
	uint32_t id;
	int rc = pool_slot_alloc(st, &id);
	if (rc)
		return rc;
	struct pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->id = id;
	p->flags = flags;
	p->creator = domid;
	if (shared) {
		memcpy(p->uuid, uuid, UTMEM_UUID_LEN);
		p->sharers[p->nsharers++] = domid;
	}
	list_init(&p->objects);
	st->pools[id] = p;
	st->npools++;
	d->pools++;
	*pool_out = id;
	return 0;
}

static void object_remove_pages(struct utmem_store *st, struct object *o, struct domain *only)
{
	struct link *l = o->pages.next;
	while (l != &o->pages) {
		struct link *next = l->next;
		struct page *pg = container_of(l, struct page, obj_link);
		bool last = next == &o->pages;
		if (!only || pg->owner == only) {
			page_remove(st, pg); /* may free o when it was the last page */
			if (last)
				return;
		}
		l = next;
	}
}

/* Remove the pages of a pool (all, or only those `only` put). */
static void pool_remove_pages(struct utmem_store *st, struct pool *p, struct domain *only)
{
	struct link *l = p->objects.next;
	while (l != &p->objects) {
		struct link *next = l->next; /* o may be freed below */
		object_remove_pages(st, container_of(l, struct object, pool_link), only);
		l = next;
	}
}

static void pool_free(struct utmem_store *st, struct pool *p)
{
	pool_remove_pages(st, p, NULL);
	st->pools[p->id] = NULL;
	st->npools--;
	free(p);
}

static void pool_detach(struct utmem_store *st, struct pool *p, struct domain *d)
{
	d->pools--;
	if (p->flags & UTMEM_POOL_SHARED) {
		int i = sharer_index(p, d->domid);
		p->sharers[i] = p->sharers[--p->nsharers];
		if (p->nsharers > 0)
			return;
	}
	pool_free(st, p);
}

int utmem_pool_destroy(struct utmem_store *st, uint32_t domid, uint32_t pool)
{
	int err;
	struct pool *p = pool_access(st, domid, pool, &err);
	if (!p)
		return err;
	pool_detach(st, p, domain_find(st, domid));
	return 0;
}

/* ---- pages -------------------------------------------------------------- */

static struct page *page_find(const struct utmem_store *st, const struct utmem_key *k)
{
	struct utmem_hnode *n = utmem_htab_find(&st->pages, page_hash(k), page_match, k);
	return n ? container_of(n, struct page, h) : NULL;
}

static struct object *object_find(const struct utmem_store *st, uint32_t pool, uint64_t oid)
{
	struct okey k = {pool, oid};
	struct utmem_hnode *n = utmem_htab_find(&st->objects, object_hash(pool, oid), object_match, &k);
	return n ? container_of(n, struct object, h) : NULL;
}

static struct object *object_get(struct utmem_store *st, struct pool *p, uint64_t oid)
{
	struct object *o = object_find(st, p->id, oid);
	if (o)
		return o;
	o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->pool = p;
	o->oid = oid;
	list_init(&o->pages);
	list_add_tail(&p->objects, &o->pool_link);
	o->h.hash = object_hash(p->id, oid);
	utmem_htab_insert(&st->objects, &o->h);
	return o;
}

/* Make room for `need` more charged bytes for domain d, evicting
 * ephemeral pages only if that is enough to succeed. */
static int make_room(struct utmem_store *st, struct domain *d, uint64_t need)
{
	uint64_t quota_floor = d->used - d->eph_used;    /* what eviction cannot free */
	uint64_t global_floor = st->used - st->eph_used;
	if (d->quota < need || quota_floor > d->quota - need)
		return -ENOSPC;
	if (st->cfg.capacity < need || global_floor > st->cfg.capacity - need)
		return -ENOSPC;
	if (d->used > d->quota - need)
		evict_domain_to(st, d, d->quota - need);
	if (st->used > st->cfg.capacity - need)
		evict_global_to(st, st->cfg.capacity - need);
	return 0;
}

int utmem_put(struct utmem_store *st, uint32_t domid, const struct utmem_key *key,
	      const void *buf, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > st->cfg.max_value)
		return -E2BIG;
	int err;
	struct pool *p = pool_access(st, domid, key->pool, &err);
	if (!p)
		return err;
	struct domain *d = domain_get(st, domid);
	if (!d)
		return -ENOMEM;
	d->puts++;
	/* A put replaces: drop the old value first so a refused put never
	 * leaves stale data behind (tmem duplicate-put rule). */
	struct page *old = page_find(st, key);
	if (old)
		page_remove(st, old);
	uint64_t need = utmem_charge(len);
	if (make_room(st, d, need)) {
		d->puts_refused++;
		return -ENOSPC;
	}
	struct object *o = object_get(st, p, key->oid);
	if (!o)
		return -ENOMEM;
	struct page *pg = malloc(sizeof(*pg) + len);
	if (!pg) {
		object_free_if_empty(st, o);
		return -ENOMEM;
	}
	pg->key = *key;
	pg->obj = o;
	pg->owner = d;
	pg->len = (uint32_t)len;
	memcpy(pg->data, buf, len);
	list_add_tail(&o->pages, &pg->obj_link);
	pg->h.hash = page_hash(key);
	utmem_htab_insert(&st->pages, &pg->h);
	d->used += need;
	d->pages++;
	st->used += need;
	st->npages++;
	if (pool_ephemeral(p)) {
		list_add_tail(&d->lru, &pg->dom_lru);
		list_add_tail(&st->lru, &pg->glob_lru);
		d->eph_used += need;
		st->eph_used += need;
	} else {
		list_init(&pg->dom_lru);
		list_init(&pg->glob_lru);
	}
	return 0;
}

ssize_t utmem_get(struct utmem_store *st, uint32_t domid, const struct utmem_key *key,
		  void *buf, size_t cap, unsigned flags)
{
	if (flags & ~UTMEM_GET_FLAGS_ALL)
		return -EINVAL;
	int err;
	struct pool *p = pool_access(st, domid, key->pool, &err);
	if (!p)
		return err;
	struct domain *d = domain_get(st, domid);
	if (d)
		d->gets++;
	struct page *pg = page_find(st, key);
	if (!pg)
		return -ENOENT;
	if (cap < pg->len)
		return -EMSGSIZE;
	size_t len = pg->len;
	memcpy(buf, pg->data, len);
	if (d)
		d->get_hits++;
	bool exclusive = pool_ephemeral(p) && !(p->flags & UTMEM_POOL_SHARED);
	if ((flags & UTMEM_GET_TAKE) || exclusive) {
		page_remove(st, pg);
	} else if (pool_ephemeral(p)) {
		/* A hit makes the page most recently used. */
		list_del(&pg->dom_lru);
		list_del(&pg->glob_lru);
		list_add_tail(&pg->owner->lru, &pg->dom_lru);
		list_add_tail(&st->lru, &pg->glob_lru);
	}
	return (ssize_t)len;
}

int utmem_invalidate_page(struct utmem_store *st, uint32_t domid, const struct utmem_key *key)
{
	int err;
	if (!pool_access(st, domid, key->pool, &err))
		return err;
	struct page *pg = page_find(st, key);
	if (!pg)
		return -ENOENT;
	page_remove(st, pg);
	return 0;
}

int utmem_invalidate_object(struct utmem_store *st, uint32_t domid, uint32_t pool, uint64_t oid)
{
	int err;
	if (!pool_access(st, domid, pool, &err))
		return err;
	struct object *o = object_find(st, pool, oid);
	if (!o)
		return -ENOENT;
	object_remove_pages(st, o, NULL);
	return 0;
}

/* ---- domains ------------------------------------------------------------ */

int utmem_set_quota(struct utmem_store *st, uint32_t domid, uint64_t bytes)
{
	struct domain *d = domain_get(st, domid);
	if (!d)
		return -ENOMEM;
	d->quota = bytes;
	evict_domain_to(st, d, bytes);
	return 0;
}

void utmem_domain_destroy(struct utmem_store *st, uint32_t domid)
{
	struct domain *d = domain_find(st, domid);
	if (!d)
		return;
	for (uint32_t i = 1; i < st->npool_slots; i++) {
		struct pool *p = st->pools[i];
		if (!p)
			continue;
		bool mine = (p->flags & UTMEM_POOL_SHARED) ? sharer_index(p, domid) >= 0
							   : p->creator == domid;
		if (p->flags & UTMEM_POOL_SHARED)
			pool_remove_pages(st, p, d); /* its pages, attached or not */
		if (mine)
			pool_detach(st, p, d);
	}
	utmem_htab_remove(&st->domains, &d->h);
	free(d);
}

void utmem_domain_stats(struct utmem_store *st, uint32_t domid, struct utmem_domain_stats *out)
{
	memset(out, 0, sizeof(*out));
	struct domain *d = domain_find(st, domid);
	if (!d) {
		out->quota = st->cfg.default_quota;
		return;
	}
	out->quota = d->quota;
	out->used = d->used;
	out->ephemeral_used = d->eph_used;
	out->pages = d->pages;
	out->pools = d->pools;
	out->puts = d->puts;
	out->puts_refused = d->puts_refused;
	out->gets = d->gets;
	out->get_hits = d->get_hits;
	out->evicted = d->evicted;
}

void utmem_store_stats(const struct utmem_store *st, struct utmem_store_stats *out)
{
	out->capacity = st->cfg.capacity;
	out->used = st->used;
	out->ephemeral_used = st->eph_used;
	out->pages = st->npages;
	out->pools = st->npools;
	out->domains = st->domains.count;
	out->evicted = st->evicted;
	out->max_value = st->cfg.max_value;
}

size_t utmem_store_max_value(const struct utmem_store *st)
{
	return st->cfg.max_value;
}

void utmem_store_free(struct utmem_store *st)
{
	if (!st)
		return;
	for (uint32_t i = 1; i < st->npool_slots; i++)
		if (st->pools[i])
			pool_free(st, st->pools[i]);
	free(st->pools);
	for (size_t b = 0; b < st->domains.nbuckets; b++) {
		struct utmem_hnode *n = st->domains.buckets[b];
		while (n) {
			struct utmem_hnode *next = n->next;
			free(container_of(n, struct domain, h));
			n = next;
		}
	}
	utmem_htab_fini(&st->pages);
	utmem_htab_fini(&st->objects);
	utmem_htab_fini(&st->domains);
	free(st);
}
