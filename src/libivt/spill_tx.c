/* SPDX-License-Identifier: MIT */
/* Channel spill into utmem, and ivt_flush (see spill_tx.h). */
#include "common/clock.h"
#include "spill_tx.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channel.h"
#include "common/log.h"
#include "errors.h"
#include "store.h"
#include "utmem/spill.h"

#define SPILL_CHUNK_MAX (256u << 10) /* bytes per value parked in the store */
#define STORE_OPEN_TIMEOUT_MS 5000
#define SPILL_OID 1 /* the pool is private to this queue */

struct chan_spill {
	pthread_mutex_t lock;
	uint64_t above;
	char socket[256]; /* "" = the default */
	int unavailable;  /* the store could not be used: behave as without spill */
	ivt_store *st;
	uint32_t pool;
	struct utmem_spill *q;
	int err;                /* sticky: the queue lost data or its store went away */
	atomic_uint_fast64_t queued; /* mirror of the queue's size, for lock-free checks */
	atomic_int waiting;     /* a sender sleeps for room while holding the lock */
};

int chan_spill_init(struct ivt_channel *ch, uint64_t above, const char *socket_opt)
{
	ch->spill = NULL;
	if (above == 0 || !strcmp(ch->name, IVT_STORE_CHANNEL))
		return 0; /* the store's own channel never spills into itself */
	struct chan_spill *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	pthread_mutex_init(&sp->lock, NULL);
	sp->above = above;
	if (socket_opt && strlen(socket_opt) < sizeof(sp->socket))
		memcpy(sp->socket, socket_opt, strlen(socket_opt) + 1);
	ch->spill = sp;
	return 0;
}

void chan_spill_free(struct ivt_channel *ch)
{
	struct chan_spill *sp = ch->spill;
	if (!sp)
		return;
	utmem_spill_free(sp->q); /* invalidates what is still parked */
	if (sp->st)
		ivt_store_close(sp->st); /* and the pool goes with the connection */
	pthread_mutex_destroy(&sp->lock);
	free(sp);
	ch->spill = NULL;
}

/* First overflow: connect to the store and make the queue. */
static int ensure_queue(struct ivt_channel *ch, struct chan_spill *sp)
{
	if (sp->q)
		return 0;
	if (sp->unavailable)
		return -ENOTSUP;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = STORE_OPEN_TIMEOUT_MS,
				  .socket_path = sp->socket[0] ? sp->socket : NULL};
	int rc = ivt_store_open(&o, &sp->st);
	if (rc == 0)
		rc = ivt_pool_create(sp->st, IVT_POOL_PERSISTENT, NULL, &sp->pool);
	if (rc == 0) {
		struct utmem_tier *t = ivt_store_tier(sp->st);
		size_t mv = utmem_tier_max_value(t);
		struct utmem_spill_opts so = {
			.tier = t, .pool = sp->pool, .channel_id = SPILL_OID,
			.above_bytes = (size_t)sp->above,
			.chunk_size = mv < SPILL_CHUNK_MAX ? mv : SPILL_CHUNK_MAX,
		};
		rc = utmem_spill_new(&so, &sp->q);
	}
	if (rc < 0) {
		IVT_WARN("libivt", "channel '%s': spill to utmem unavailable (%s); sending "
				   "without it", ch->name, ivt_strerror(rc));
		if (sp->st)
			ivt_store_close(sp->st);
		sp->st = NULL;
		sp->unavailable = 1;
		return rc;
	}
	return 0;
}

static void note_queued(struct chan_spill *sp)
{
	atomic_store(&sp->queued, sp->q ? utmem_spill_queued(sp->q) : 0);
}

/* Parked bytes into the ring, oldest first, as far as they fit. 0 or an
 * error (sticky for the queue's own failures). Lock held. */
static int drain_locked(struct ivt_channel *ch, struct chan_spill *sp)
{
	if (sp->err)
		return sp->err;
	int rc = 0;
	while (sp->q && utmem_spill_queued(sp->q) > 0) {
		const void *data;
		size_t n;
		rc = utmem_spill_peek(sp->q, &data, &n);
		if (rc < 0) {
			IVT_WARN("libivt", "channel '%s': spilled data unavailable: %s", ch->name,
				 ivt_strerror(rc));
			sp->err = rc == -ECONNRESET || rc == -EPROTO ? -EIO : rc;
			rc = sp->err;
			break;
		}
		if (n == 0)
			break;
		ssize_t m = ivt_xport_send(&ch->xp, data, n, NULL);
		if (m == -EAGAIN)
			break;
		if (m < 0) {
			rc = (int)m;
			break;
		}
		utmem_spill_consume(sp->q, (size_t)m);
	}
	note_queued(sp);
	return rc;
}

static int queue_empty(const struct chan_spill *sp)
{
	return !sp->q || utmem_spill_queued(sp->q) == 0;
}

/* Sleep until the ring may take more (a sender holding the lock). */
static void wait_room(struct ivt_channel *ch, struct chan_spill *sp, int timeout_ms)
{
	atomic_store(&sp->waiting, 1);
	chan_wait(ch, CHAN_SENDER, IVT_EV_SEND, timeout_ms);
	atomic_store(&sp->waiting, 0);
}

/* The ring is full and nothing more can be parked: back-pressure. 0 to
 * try again, else what ends the send (-EAGAIN for a non-blocking one). */
static int await_room(struct ivt_channel *ch, struct chan_spill *sp, int nonblock, int *tries)
{
	if (nonblock)
		return chan_retry_nonblock(ch, IVT_EV_SEND, tries) ? 0 : -EAGAIN;
	int rc = chan_peer_send_error(ch);
	if (rc)
		return rc;
	wait_room(ch, sp, -1);
	return 0;
}

ssize_t chan_spill_send(struct ivt_channel *ch, const void *buf, size_t len)
{
	struct chan_spill *sp = ch->spill;
	if (!sp)
		return -ENOSYS;
	pthread_mutex_lock(&sp->lock);
	if (sp->unavailable && queue_empty(sp)) {
		pthread_mutex_unlock(&sp->lock);
		return -ENOSYS;
	}
	const uint8_t *p = buf;
	int nonblock = atomic_load(&ch->nonblock);
	size_t done = 0;
	int rc = 0, tries = 0;
	while (done < len) {
		if ((rc = drain_locked(ch, sp)) < 0)
			break;
		/* Straight into the ring only while nothing is parked. */
		if (queue_empty(sp)) {
			ssize_t n = ivt_xport_send(&ch->xp, p + done, len - done, NULL);
			if (n > 0) {
				done += (size_t)n;
				continue;
			}
			if (n != -EAGAIN) {
				rc = (int)n;
				break;
			}
		}
		if (ensure_queue(ch, sp) == 0) {
			ssize_t n = utmem_spill_write(sp->q, p + done, len - done);
			note_queued(sp);
			if (n > 0) {
				done += (size_t)n;
				continue;
			}
			if (n != -EAGAIN) {
				sp->err = (int)n;
				rc = (int)n;
				break;
			}
		}
		/* The ring is full and the store refuses. */
		if (nonblock && done)
			break;
		if ((rc = await_room(ch, sp, nonblock, &tries)))
			break;
	}
	pthread_mutex_unlock(&sp->lock);
	if (done && (nonblock || rc == 0))
		return (ssize_t)done;
	return rc < 0 ? chan_send_error(ch, rc) : (ssize_t)done;
}

void chan_spill_progress(struct ivt_channel *ch)
{
	struct chan_spill *sp = ch->spill;
	if (!sp || atomic_load(&sp->queued) == 0)
		return;
	if (pthread_mutex_trylock(&sp->lock) != 0)
		return; /* a sender has it and drains itself */
	drain_locked(ch, sp);
	pthread_mutex_unlock(&sp->lock);
}

unsigned chan_spill_events(struct ivt_channel *ch)
{
	struct chan_spill *sp = ch->spill;
	if (!sp || atomic_load(&sp->queued) == 0 || atomic_load(&sp->waiting))
		return 0;
	return IVT_EV_SEND;
}

int chan_spill_close_flush(struct ivt_channel *ch, int timeout_ms)
{
	struct chan_spill *sp = ch->spill;
	if (!sp)
		return 0;
	pthread_mutex_lock(&sp->lock);
	long long deadline = ivt_now_ms() + timeout_ms;
	uint64_t last = atomic_load(&sp->queued);
	int rc;
	while ((rc = drain_locked(ch, sp)) == 0 && !queue_empty(sp)) {
		uint64_t now_q = utmem_spill_queued(sp->q);
		if (now_q < last) { /* progress: the peer reads */
			last = now_q;
			deadline = ivt_now_ms() + timeout_ms;
		}
		long long left = deadline - ivt_now_ms();
		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if ((rc = chan_peer_send_error(ch)))
			break;
		wait_room(ch, sp, (int)(left > 100 ? 100 : left));
	}
	if (rc < 0)
		IVT_WARN("libivt", "channel '%s': closing with %llu spilled bytes undelivered (%s)",
			 ch->name, (unsigned long long)utmem_spill_queued(sp->q), ivt_strerror(rc));
	pthread_mutex_unlock(&sp->lock);
	return rc;
}

IVT_EXPORT int ivt_flush(ivt_channel *ch)
{
	if (!ch)
		return ivt_einval(__func__);
	int rc = chan_send_ready(ch);
	if (rc)
		return rc;
	int nonblock = atomic_load(&ch->nonblock), tries = 0;
	struct chan_spill *sp = ch->spill;
	if (sp) {
		pthread_mutex_lock(&sp->lock);
		while ((rc = drain_locked(ch, sp)) == 0 && !queue_empty(sp))
			if ((rc = await_room(ch, sp, nonblock, &tries)))
				break;
		pthread_mutex_unlock(&sp->lock);
		if (rc < 0)
			return chan_send_error(ch, rc);
	}
	/* the tail of a frame a non-blocking send began */
	for (;;) {
		rc = ivt_xport_flush(&ch->xp, nonblock ? NULL : &ch->waiter);
		if (rc != -EAGAIN || !nonblock)
			break;
		if (!chan_retry_nonblock(ch, IVT_EV_SEND, &tries))
			break;
	}
	return rc < 0 ? chan_send_error(ch, rc) : 0;
}
