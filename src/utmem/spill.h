/* SPDX-License-Identifier: MIT */
/*
 * A FIFO byte queue that spills to a utmem tier.
 *
 * A channel sender whose peer is slow queues bytes here. The first
 * above_bytes stay in memory; beyond that, bytes are gathered into chunks
 * of chunk_size and put into the tier under (pool, channel_id, sequence).
 * Reads return the bytes in exactly the order they were written, taking
 * spilled chunks back (GET with UTMEM_GET_TAKE) when the reader reaches
 * them. Memory use is at most above_bytes + 2 * chunk_size.
 *
 * Nothing accepted is ever dropped: if the tier refuses a chunk (quota),
 * the write accepts fewer bytes or returns -EAGAIN, i.e. backpressure.
 * The pool must be PERSISTENT (an ephemeral pool may drop chunks; a chunk
 * found missing makes the queue fail with -EIO rather than return wrong data).
 * Not thread-safe; one queue per channel direction.
 */
#ifndef UTMEM_SPILL_H
#define UTMEM_SPILL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "utmem/tier.h"

struct utmem_spill_opts {
	struct utmem_tier *tier; /* must outlive the queue */
	uint32_t pool;           /* a persistent pool in that tier */
	uint64_t channel_id;     /* object id for this queue's chunks: unique per pool */
	size_t above_bytes;      /* bytes kept in memory before spilling starts */
	size_t chunk_size;       /* bytes per spilled value, 1..tier max_value */
};

struct utmem_spill;

/* -EINVAL bad options, -ENOMEM. */
int utmem_spill_new(const struct utmem_spill_opts *opts, struct utmem_spill **out);
/* Frees the queue and invalidates whatever it still has in the tier. */
void utmem_spill_free(struct utmem_spill *q);

/* Queue up to len bytes. Returns bytes accepted (>0), -EAGAIN when none
 * could be accepted because the tier refused (try again after reading),
 * or the tier's error (e.g. -ECONNRESET for a remote tier). len 0 -> 0. */
ssize_t utmem_spill_write(struct utmem_spill *q, const void *buf, size_t len);

/* Take up to len bytes from the front. Returns bytes (>0), 0 when the
 * queue is empty, or a negative errno (-EIO: a spilled chunk was lost). */
ssize_t utmem_spill_read(struct utmem_spill *q, void *buf, size_t len);

/* Zero-copy draining, e.g. straight into a ring: peek exposes the
 * contiguous bytes at the front (*len 0 when empty); consume(n) removes
 * n <= *len of them. peek returns 0 or a negative errno. */
int utmem_spill_peek(struct utmem_spill *q, const void **data, size_t *len);
void utmem_spill_consume(struct utmem_spill *q, size_t n);

uint64_t utmem_spill_queued(const struct utmem_spill *q);  /* all bytes queued */
uint64_t utmem_spill_spilled(const struct utmem_spill *q); /* of which in the tier */
uint64_t utmem_spill_refusals(const struct utmem_spill *q);

#endif /* UTMEM_SPILL_H */
