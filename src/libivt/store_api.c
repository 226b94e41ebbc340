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
#include "common/log.h"
#include "errors.h"
#include "store.h"
#include "store_pools.h"
#include "utmem/proto.h"

_Static_assert((int)IVT_POOL_PERSISTENT == (int)UTMEM_POOL_PERSISTENT &&
		       (int)IVT_POOL_SHARED == (int)UTMEM_POOL_SHARED,
	       "ivt.h pool flags are the wire's");
_Static_assert(IVT_UUID_LEN == UTMEM_UUID_LEN, "uuid size");

struct ivt_store {
	pthread_mutex_t lock; /* one request outstanding per connection */
	ivt_channel *ch;
	struct utmem_client *c;
	struct ivt_open_opts opts; /* for reconnecting, with copies of its strings */
	char *socket_path, *backend;
	size_t max_value; /* the store's, as the last HELLO said */
	struct store_pools pools; /* this handle's, re-created after a reconnect */
};

static ssize_t io_read(void *ctx, void *buf, size_t len) { return ivt_recv(ctx, buf, len); }
static ssize_t io_write(void *ctx, const void *buf, size_t len) { return ivt_send(ctx, buf, len); }

/* Open the channel and say HELLO. 0 or a negative errno with the reason. */
static int store_connect(ivt_store *st, const struct ivt_open_opts *use)
{
	int rc = ivt_open(IVT_STORE_CHANNEL, 0, use, &st->ch);
	if (rc < 0)
		return rc;
	const struct utmem_io io = {.ctx = st->ch, .read = io_read, .write = io_write};
	rc = utmem_client_open(&io, &st->c);
	if (rc == 0)
		st->max_value = utmem_client_max_value(st->c);
	if (rc < 0) {
		ivt_reason_set(rc, "utmem store on '%s' did not answer HELLO properly",
			       IVT_STORE_CHANNEL);
		ivt_close(st->ch);
		st->ch = NULL;
		st->c = NULL;
	}
	return rc;
}

static void store_disconnect(ivt_store *st)
{
	utmem_client_free(st->c);
	st->c = NULL;
	if (st->ch)
		ivt_close(st->ch);
	st->ch = NULL;
}

/* The store lives in ivtd: when ivtd restarted, the connection died with
 * everything stored. Connect to the new one and re-create our pools,
 * empty, under the ids the caller knows. */
static int store_reconnect(ivt_store *st)
{
	store_disconnect(st);
	int rc = store_connect(st, &st->opts);
	if (rc < 0)
		return rc;
	size_t lost = 0;
	for (size_t i = 0; i < st->pools.n; i++) {
		struct store_pool *p = &st->pools.v[i];
		if (utmem_client_pool_create(st->c, p->flags, p->uuid, &p->cur) < 0) {
			p->cur = 0;
			lost++;
		}
	}
	IVT_INFO("libivt", "utmem store: reconnected to ivtd; what it held is gone (%zu pools "
		 "re-created empty, %zu could not be)", st->pools.n - lost, lost);
	return 0;
}

/* rc ended a call: 1 if the connection died and a new one is up (run
 * the call again, once). */
static int store_retry(ivt_store *st, ssize_t rc)
{
	if (rc != -ECONNRESET && rc != -EPIPE && rc != -ENOTCONN)
		return 0;
	return store_reconnect(st) == 0;
}

IVT_EXPORT int ivt_store_open(const struct ivt_open_opts *opts, ivt_store **out)
{
	if (!out)
		return ivt_einval(__func__);
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
	/* reconnects need the caller's strings after this call */
	if ((o.socket_path && !(st->socket_path = strdup(o.socket_path))) ||
	    (o.backend && !(st->backend = strdup(o.backend)))) {
		free(st->socket_path);
		free(st);
		return -ENOMEM;
	}
	st->opts = o;
	st->opts.socket_path = st->socket_path;
	st->opts.backend = st->backend;
	int rc = store_connect(st, use);
	if (rc < 0) {
		free(st->socket_path);
		free(st->backend);
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
		return ivt_einval(__func__);
	utmem_client_free(st->c);
	int rc = st->ch ? ivt_close(st->ch) : 0;
	pthread_mutex_destroy(&st->lock);
	store_pools_free(&st->pools);
	free(st->socket_path);
	free(st->backend);
	free(st);
	return rc;
}

struct utmem_tier *ivt_store_tier(ivt_store *st) { return utmem_client_tier(st->c); }

IVT_EXPORT size_t ivt_store_max_value(const ivt_store *st) { return st ? st->max_value : 0; }

/* Before a call: a connection lost earlier (ivtd was still down when we
 * tried) is tried again now. 0 or the reason we still have none. */
static int store_ready(ivt_store *st)
{
	return st->c ? 0 : store_reconnect(st);
}

/* Each call below runs once more, on a new connection, when ivtd went
 * away under it (store_retry). */
#define STORE_CALL(st, rc, call)                                                              \
	do {                                                                                  \
		pthread_mutex_lock(&(st)->lock);                                              \
		for (int tries_ = 0;; tries_++) {                                             \
			rc = store_ready(st);                                                 \
			if (rc == 0)                                                          \
				rc = (call);                                                  \
			if (tries_ || !store_retry((st), rc))                                 \
				break;                                                        \
		}                                                                             \
		pthread_mutex_unlock(&(st)->lock);                                            \
	} while (0)

static int pool_create_locked(ivt_store *st, unsigned flags, const uint8_t *uuid, uint32_t *pool)
{
	uint32_t cur;
	int rc = utmem_client_pool_create(st->c, flags, uuid, &cur);
	if (rc < 0)
		return rc;
	rc = store_pools_add(&st->pools, flags, uuid, cur, pool);
	if (rc < 0)
		utmem_client_pool_destroy(st->c, cur);
	return rc;
}

IVT_EXPORT int ivt_pool_create(ivt_store *st, unsigned flags, const uint8_t uuid[IVT_UUID_LEN],
			       uint32_t *pool)
{
	static const uint8_t zero[IVT_UUID_LEN];
	if (!st || !pool || (flags & ~(unsigned)(IVT_POOL_PERSISTENT | IVT_POOL_SHARED)))
		return ivt_einval(__func__);
	if ((flags & IVT_POOL_SHARED) && !uuid)
		return ivt_einval(__func__);
	int rc;
	STORE_CALL(st, rc, pool_create_locked(st, flags, uuid ? uuid : zero, pool));
	return rc;
}

static int pool_destroy_locked(ivt_store *st, uint32_t pool)
{
	uint32_t cur;
	int rc = store_pools_cur(&st->pools, pool, &cur);
	if (rc == 0)
		rc = utmem_client_pool_destroy(st->c, cur);
	if (rc != -ECONNRESET && rc != -EPIPE && rc != -ENOTCONN)
		store_pools_forget(&st->pools, pool);
	return rc;
}

IVT_EXPORT int ivt_pool_destroy(ivt_store *st, uint32_t pool)
{
	if (!st)
		return ivt_einval(__func__);
	int rc;
	STORE_CALL(st, rc, pool_destroy_locked(st, pool));
	return rc;
}

/* The key with the current connection's pool id. 0 or -EBADF. */
static int key_of(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index,
		  struct utmem_key *k)
{
	*k = (struct utmem_key){.index = index, .oid = oid};
	return store_pools_cur(&st->pools, pool, &k->pool);
}

static int put_locked(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index, const void *buf,
		      size_t len)
{
	struct utmem_key k;
	int rc = key_of(st, pool, oid, index, &k);
	return rc ? rc : utmem_client_put(st->c, &k, buf, len);
}

IVT_EXPORT int ivt_put(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index, const void *buf,
		       size_t len)
{
	if (!st || (len && !buf))
		return ivt_einval(__func__);
	int rc;
	STORE_CALL(st, rc, put_locked(st, pool, oid, index, buf, len));
	return rc;
}

static ssize_t get_locked(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index, void *buf,
			  size_t cap, unsigned flags)
{
	struct utmem_key k;
	int rc = key_of(st, pool, oid, index, &k);
	return rc ? rc : utmem_client_get(st->c, &k, buf, cap,
					   (flags & IVT_GET_TAKE) ? UTMEM_GET_TAKE : 0);
}

IVT_EXPORT ssize_t ivt_get(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index, void *buf,
			   size_t cap, unsigned flags)
{
	if (!st || (cap && !buf) || (flags & ~(unsigned)IVT_GET_TAKE))
		return ivt_einval(__func__);
	ssize_t rc;
	STORE_CALL(st, rc, get_locked(st, pool, oid, index, buf, cap, flags));
	return rc;
}

static int inval_locked(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index, int object)
{
	struct utmem_key k;
	int rc = key_of(st, pool, oid, index, &k);
	if (rc)
		return rc;
	return object ? utmem_client_invalidate_object(st->c, k.pool, oid)
		      : utmem_client_invalidate_page(st->c, &k);
}

IVT_EXPORT int ivt_invalidate(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index)
{
	if (!st)
		return ivt_einval(__func__);
	int rc;
	STORE_CALL(st, rc, inval_locked(st, pool, oid, index, 0));
	return rc;
}

IVT_EXPORT int ivt_invalidate_object(ivt_store *st, uint32_t pool, uint64_t oid)
{
	if (!st)
		return ivt_einval(__func__);
	int rc;
	STORE_CALL(st, rc, inval_locked(st, pool, oid, 0, 1));
	return rc;
}

IVT_EXPORT int ivt_store_stats(ivt_store *st, struct ivt_store_stats *out)
{
	if (!st || !out)
		return ivt_einval(__func__);
	struct utmem_domain_stats ds;
	int rc;
	STORE_CALL(st, rc, utmem_client_stats(st->c, &ds));
	if (rc < 0)
		return rc;
	*out = (struct ivt_store_stats){
		.quota = ds.quota, .used = ds.used, .pages = ds.pages, .pools = ds.pools,
		.puts = ds.puts, .puts_refused = ds.puts_refused, .gets = ds.gets,
		.get_hits = ds.get_hits, .evicted = ds.evicted,
	};
	return 0;
}
