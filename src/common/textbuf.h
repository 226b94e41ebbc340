/* SPDX-License-Identifier: MIT */
/* Building bounded status text (ivtctl status and friends): appends whole
 * pieces only, so a full buffer ends at a clean line, never mid-field. */
#ifndef IVT_TEXTBUF_H
#define IVT_TEXTBUF_H

#include <stddef.h>

struct ivt_textbuf {
	char *buf;
	size_t cap; /* bytes in buf, NUL included */
	size_t len; /* text so far, buf[len] == '\0' */
	int full;   /* a piece did not fit: later pieces are dropped too */
};

void ivt_textbuf_init(struct ivt_textbuf *t, char *buf, size_t cap);

/* Append one formatted piece, or nothing if it does not fit whole. */
void ivt_textbuf_printf(struct ivt_textbuf *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Bytes still free (excluding the NUL). */
size_t ivt_textbuf_room(const struct ivt_textbuf *t);

#endif
