/* SPDX-License-Identifier: MIT */
/*
 * The ivt_store API: utmem (docs/utmem.md) over channel "ivt.utmem".
 * ivtd is the listening end; the utmem protocol rides in the channel's
 * stream (ivt_send/ivt_recv), so this is just the utmem client on top.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "errors.h"
#include "store.h"
#include "utmem/proto.h"

_Static_assert((int)IVT_POOL_PERSISTENT == (int)UTMEM_POOL_PERSISTENT &&
		       (int)IVT_POOL_SHARED == (int)UTMEM_POOL_SHARED,
	       "ivt.h pool flags are the wire's");
_Static_assert(IVT_UUID_LEN == UTMEM_UUID_LEN, "uuid size");

struct ivt_store {
	pthread_mutex_t lock; /* one request outstanding per connection */
	ivt_channel *ch;
	struct utmem_client *c;
};

static ssize_t io_read(void *ctx, void *buf, size_t len) { return ivt_recv(ctx, buf, len); }
static ssize_t io_write(void *ctx, const void *buf, size_t len) { return ivt_send(ctx, buf, len); }

IVT_EXPORT int ivt_store_open(const struct ivt_open_opts *opts, ivt_store **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	ivt_store *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	/* ivtd always serves the store: "no such channel" means no policy
	 * rule, so one attempt (timeout 0 still waits for ivtd's answers). */
	struct ivt_open_opts o = {.struct_size = sizeof(o)};
	if (opts && opts->struct_size >= offsetof(struct ivt_open_opts, backend)) {
		memcpy(&o, opts, opts->struct_size < sizeof(o) ? opts->struct_size : sizeof(o));
		o.struct_size = sizeof(o);
	}
	o.timeout_ms = 0;
	const struct ivt_open_opts *use = &o;
	if (opts && opts->struct_size < offsetof(struct ivt_open_opts, backend))
		use = opts; /* ivt_open explains what is wrong with it */
	int rc = ivt_open(IVT_STORE_CHANNEL, 0, use, &st->ch);
	if (rc < 0) {
		free(st);
		return rc;
	}
	const struct utmem_io io = {.ctx = st->ch, .read = io_read, .write = io_write};
	rc = utmem_client_open(&io, &st->c);
	if (rc < 0) {
		ivt_reason_set(rc, "utmem store on '%s' did not answer HELLO properly",
			       IVT_STORE_CHANNEL);
		ivt_close(st->ch);
		free(st);
		return rc;
	}
	pthread_mutex_init(&st->lock, NULL);
	*out = st;
	return 0;
}

IVT_EXPORT int ivt_store_close(ivt_store *st)
{
	if (!st)
		return -EINVAL;
	utmem_client_free(st->c);
	int rc = ivt_close(st->ch);
	pthread_mutex_destroy(&st->lock);
	free(st);
	return rc;
}

struct utmem_tier *ivt_store_tier(ivt_store *st) { return utmem_client_tier(st->c); }

IVT_EXPORT size_t ivt_store_max_value(const ivt_store *st)
{
	return st ? utmem_client_max_value(st->c) : 0;
}

IVT_EXPORT int ivt_pool_create(ivt_store *st, unsigned flags, const uint8_t uuid[IVT_UUID_LEN],
			       uint32_t *pool)
{
	static const uint8_t zero[IVT_UUID_LEN];
	if (!st || !pool || (flags & ~(unsigned)(IVT_POOL_PERSISTENT | IVT_POOL_SHARED)))
		return -EINVAL;
	if ((flags & IVT_POOL_SHARED) && !uuid)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	int rc = utmem_client_pool_create(st->c, flags, uuid ? uuid : zero, pool);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

IVT_EXPORT int ivt_pool_destroy(ivt_store *st, uint32_t pool)
{
	if (!st)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	int rc = utmem_client_pool_destroy(st->c, pool);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

IVT_EXPORT int ivt_put(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index, const void *buf,
		       size_t len)
{
	if (!st || (len && !buf))
		return -EINVAL;
	struct utmem_key k = {.pool = pool, .index = index, .oid = oid};
	pthread_mutex_lock(&st->lock);
	int rc = utmem_client_put(st->c, &k, buf, len);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

IVT_EXPORT ssize_t ivt_get(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index, void *buf,
			   size_t cap, unsigned flags)
{
	if (!st || (cap && !buf) || (flags & ~(unsigned)IVT_GET_TAKE))
		return -EINVAL;
	struct utmem_key k = {.pool = pool, .index = index, .oid = oid};
	pthread_mutex_lock(&st->lock);
	ssize_t rc = utmem_client_get(st->c, &k, buf, cap,
				      (flags & IVT_GET_TAKE) ? UTMEM_GET_TAKE : 0);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

IVT_EXPORT int ivt_invalidate(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index)
{
	if (!st)
		return -EINVAL;
	struct utmem_key k = {.pool = pool, .index = index, .oid = oid};
	pthread_mutex_lock(&st->lock);
	int rc = utmem_client_invalidate_page(st->c, &k);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

IVT_EXPORT int ivt_invalidate_object(ivt_store *st, uint32_t pool, uint64_t oid)
{
	if (!st)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	int rc = utmem_client_invalidate_object(st->c, pool, oid);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

IVT_EXPORT int ivt_store_stats(ivt_store *st, struct ivt_store_stats *out)
{
	if (!st || !out)
		return -EINVAL;
	struct utmem_domain_stats ds;
	pthread_mutex_lock(&st->lock);
	int rc = utmem_client_stats(st->c, &ds);
	pthread_mutex_unlock(&st->lock);
	if (rc < 0)
		return rc;
	*out = (struct ivt_store_stats){
		.quota = ds.quota, .used = ds.used, .pages = ds.pages, .pools = ds.pools,
		.puts = ds.puts, .puts_refused = ds.puts_refused, .gets = ds.gets,
		.get_hits = ds.get_hits, .evicted = ds.evicted,
	};
	return 0;
}
