/* SPDX-License-Identifier: MIT */
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>

void ivt_textbuf_init(struct ivt_textbuf *t, char *buf, size_t cap)
{
	t->buf = buf;
	t->cap = cap;
	t->len = 0;
	t->full = cap == 0;
	if (cap)
		buf[0] = '\0';
}

size_t ivt_textbuf_room(const struct ivt_textbuf *t)
{
	return t->cap > t->len + 1 ? t->cap - t->len - 1 : 0;
}

void ivt_textbuf_printf(struct ivt_textbuf *t, const char *fmt, ...)
{
	if (t->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len) {
		t->buf[t->len] = '\0'; /* drop the partial piece */
		t->full = 1;
		return;
	}
	t->len += (size_t)n;
}
