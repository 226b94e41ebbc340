/* SPDX-License-Identifier: MIT */
/* Byte ring used for the stream send and receive buffers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

int slp_bytes_init(struct slp_bytes *b, size_t cap)
{
	b->buf = malloc(cap);
	b->cap = cap;
	b->head = b->len = 0;
	return b->buf ? 0 : -ENOMEM;
}

void slp_bytes_free(struct slp_bytes *b)
{
	free(b->buf);
	b->buf = NULL;
}

size_t slp_bytes_put(struct slp_bytes *b, const void *src, size_t n)
{
	if (n > b->cap - b->len)
		n = b->cap - b->len;
	size_t tail = (b->head + b->len) % b->cap;
	size_t first = n < b->cap - tail ? n : b->cap - tail;
	memcpy(b->buf + tail, src, first);
	memcpy(b->buf, (const uint8_t *)src + first, n - first);
	b->len += n;
	return n;
}

size_t slp_bytes_get(struct slp_bytes *b, void *dst, size_t n)
{
	if (n > b->len)
		n = b->len;
	size_t first = n < b->cap - b->head ? n : b->cap - b->head;
	memcpy(dst, b->buf + b->head, first);
	memcpy((uint8_t *)dst + first, b->buf, n - first);
	b->head = (b->head + n) % b->cap;
	b->len -= n;
	return n;
}

size_t slp_bytes_free_span(struct slp_bytes *b, uint8_t **dst)
{
	size_t tail = (b->head + b->len) % b->cap, free = b->cap - b->len;
	*dst = b->buf + tail;
	return free < b->cap - tail ? free : b->cap - tail;
}

void slp_bytes_commit(struct slp_bytes *b, size_t n) { b->len += n; }

size_t slp_bytes_data_span(struct slp_bytes *b, const uint8_t **src)
{
	*src = b->buf + b->head;
	return b->len < b->cap - b->head ? b->len : b->cap - b->head;
}

void slp_bytes_consume(struct slp_bytes *b, size_t n)
{
	b->head = (b->head + n) % b->cap;
	b->len -= n;
}
