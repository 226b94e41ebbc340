/* SPDX-License-Identifier: MIT */
/* Connector processes ivtd brokered once for a listener without a line
 * (line_seen.c, docs/conn-setup.md). */
#ifndef IVTD_LINE_SEEN_H
#define IVTD_LINE_SEEN_H

#include <stdint.h>

/* Sets of a few ways each: LINE_SEEN_SETS * LINE_SEEN_WAYS pairs at most
 * (4,096, 64 KiB), the least recently seen of a set replaced. */
#define LINE_SEEN_SETS 1024
#define LINE_SEEN_WAYS 4

struct line_seen;

/* NULL when out of memory (the caller then grants at once, as before). */
struct line_seen *line_seen_new(void);
void line_seen_free(struct line_seen *t);
/* Process pid connects to listener lis_id (a channel id: never reused
 * within one ivtd): 1 when the pair was remembered (and is forgotten
 * now: its line is granted), 0 when it is remembered from now on. */
int line_seen_take(struct line_seen *t, int32_t pid, uint64_t lis_id);

#endif
