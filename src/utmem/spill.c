/* SPDX-License-Identifier: MIT */
/*
 * The queue is three segments in order: `front` (in memory, read from),
 * the spilled chunks with sequence numbers [rd_seq, wr_seq), and `tail`
 * (in memory, the chunk being gathered). Writes go to front only while
 * nothing is spilled or gathering, which keeps the order.
 */
#include "utmem/spill.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct utmem_spill {
	struct utmem_spill_opts o;
	uint8_t *front;
	size_t front_cap, front_off, front_len;
	uint8_t *tail; /* chunk_size bytes */
	size_t tail_len;
	uint64_t rd_seq, wr_seq;
	uint64_t spilled, refusals;
	int broken;
};

int utmem_spill_new(const struct utmem_spill_opts *o, struct utmem_spill **out)
{
	if (!o || !o->tier || o->chunk_size == 0 || o->chunk_size > utmem_tier_max_value(o->tier))
		return -EINVAL;
	struct utmem_spill *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->o = *o;
	q->tail = malloc(o->chunk_size);
	if (!q->tail) {
		free(q);
		return -ENOMEM;
	}
	*out = q;
	return 0;
}

void utmem_spill_free(struct utmem_spill *q)
{
	if (!q)
		return;
	if (q->rd_seq != q->wr_seq)
		utmem_tier_invalidate_object(q->o.tier, q->o.pool, q->o.channel_id);
	free(q->front);
	free(q->tail);
	free(q);
}

static struct utmem_key chunk_key(const struct utmem_spill *q, uint64_t seq)
{
	/* The 32-bit index wraps; fewer than 2^32 chunks are ever in flight. */
	struct utmem_key k = {q->o.pool, (uint32_t)seq, q->o.channel_id};
	return k;
}

/* Make room for `need` bytes in front (which is empty or compacted). */
static int front_reserve(struct utmem_spill *q, size_t need)
{
	if (q->front_off && q->front_off + q->front_len + need > q->front_cap) {
		memmove(q->front, q->front + q->front_off, q->front_len);
		q->front_off = 0;
	}
	size_t want = q->front_off + q->front_len + need;
	if (want <= q->front_cap)
		return 0;
	size_t cap = q->front_cap ? q->front_cap : 4096;
	while (cap < want)
		cap *= 2;
	uint8_t *nb = realloc(q->front, cap);
	if (!nb)
		return -ENOMEM;
	q->front = nb;
	q->front_cap = cap;
	return 0;
}

static int flush_tail(struct utmem_spill *q)
{
	struct utmem_key k = chunk_key(q, q->wr_seq);
	int rc = utmem_tier_put(q->o.tier, &k, q->tail, q->tail_len);
	if (rc) {
		q->refusals++;
		return rc;
	}
	q->wr_seq++;
	q->spilled += q->tail_len;
	q->tail_len = 0;
	return 0;
}

ssize_t utmem_spill_write(struct utmem_spill *q, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;
	int rc = 0;
	if (q->broken)
		return q->broken;
	while (done < len) {
		size_t left = len - done;
		bool direct = q->rd_seq == q->wr_seq && q->tail_len == 0 &&
			      q->front_len < q->o.above_bytes;
		if (direct) {
			size_t n = q->o.above_bytes - q->front_len;
			if (n > left)
				n = left;
			rc = front_reserve(q, n);
			if (rc)
				break;
			memcpy(q->front + q->front_off + q->front_len, p + done, n);
			q->front_len += n;
			done += n;
			continue;
		}
		if (q->tail_len == q->o.chunk_size) {
			rc = flush_tail(q);
			if (rc)
				break;
		}
		size_t n = q->o.chunk_size - q->tail_len;
		if (n > left)
			n = left;
		memcpy(q->tail + q->tail_len, p + done, n);
		q->tail_len += n;
		done += n;
	}
	if (done)
		return (ssize_t)done;
	return rc == -ENOSPC ? -EAGAIN : rc;
}

/* Make sure front holds the next bytes of the queue, if there are any. */
static int refill(struct utmem_spill *q)
{
	if (q->front_len)
		return 0;
	q->front_off = 0;
	if (q->rd_seq != q->wr_seq) {
		int rc = front_reserve(q, q->o.chunk_size);
		if (rc)
			return rc;
		struct utmem_key k = chunk_key(q, q->rd_seq);
		ssize_t n = utmem_tier_get(q->o.tier, &k, q->front, q->o.chunk_size, UTMEM_GET_TAKE);
		if (n == -ENOENT || n == 0 || (n > 0 && (uint64_t)n > q->spilled)) {
			q->broken = -EIO; /* lost or forged chunk: never hand out wrong bytes */
			return q->broken;
		}
		if (n < 0)
			return (int)n; /* e.g. transient remote error: retry later */
		q->front_len = (size_t)n;
		q->spilled -= (uint64_t)n;
		q->rd_seq++;
		return 0;
	}
	if (q->tail_len) {
		int rc = front_reserve(q, q->tail_len);
		if (rc)
			return rc;
		memcpy(q->front, q->tail, q->tail_len);
		q->front_len = q->tail_len;
		q->tail_len = 0;
	}
	return 0;
}

int utmem_spill_peek(struct utmem_spill *q, const void **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	if (q->broken)
		return q->broken;
	int rc = refill(q);
	if (rc)
		return rc;
	*data = q->front + q->front_off;
	*len = q->front_len;
	return 0;
}

void utmem_spill_consume(struct utmem_spill *q, size_t n)
{
	if (n > q->front_len)
		n = q->front_len;
	q->front_off += n;
	q->front_len -= n;
	if (q->front_len == 0)
		q->front_off = 0;
}

ssize_t utmem_spill_read(struct utmem_spill *q, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		const void *src;
		size_t avail;
		int rc = utmem_spill_peek(q, &src, &avail);
		if (rc)
			return done ? (ssize_t)done : rc;
		if (avail == 0)
			break;
		size_t n = avail < len - done ? avail : len - done;
		memcpy(p + done, src, n);
		utmem_spill_consume(q, n);
		done += n;
	}
	return (ssize_t)done;
}

uint64_t utmem_spill_queued(const struct utmem_spill *q)
{
	return q->front_len + q->spilled + q->tail_len;
}

uint64_t utmem_spill_spilled(const struct utmem_spill *q) { return q->spilled; }
uint64_t utmem_spill_refusals(const struct utmem_spill *q) { return q->refusals; }
