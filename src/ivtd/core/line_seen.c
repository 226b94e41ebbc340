/* SPDX-License-Identifier: MIT */
/*
 * A direct line costs the listener two descriptors for as long as it
 * holds it, and a process that connects once (curl, a shell loop under
 * the preload) never uses one. So ivtd grants a line at a process's
 * second connection to the same listener (docs/conn-setup.md): it
 * remembers the (connector pid, listener) pairs it brokered without a
 * line, in a bounded table.
 *
 * Keyed by the pid from SO_PEERCRED and the listener's channel id. A pid
 * reused by a new process that connects to the same listener gets its
 * line one connection early: harmless, the policy admitted that
 * connector anyway, and a line is only a faster way for connections it
 * may make. A pair evicted by a flood of other pairs costs its process
 * one more connection through ivtd. Neither is worth /proc reads.
 */
#include <stdlib.h>

#include "line_seen.h"

struct pair {
	uint64_t lis_id; /* 0: free */
	int32_t pid;
	uint32_t stamp; /* when last touched: the smallest of a set goes */
};

struct line_seen {
	struct pair p[LINE_SEEN_SETS][LINE_SEEN_WAYS];
	uint32_t clock;
};

struct line_seen *line_seen_new(void)
{
	return calloc(1, sizeof(struct line_seen));
}

void line_seen_free(struct line_seen *t)
{
	free(t);
}

static unsigned set_of(int32_t pid, uint64_t lis_id)
{
	uint64_t h = ((uint64_t)(uint32_t)pid << 32 ^ lis_id) * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> 54) % LINE_SEEN_SETS; /* the high bits mix best */
}

int line_seen_take(struct line_seen *t, int32_t pid, uint64_t lis_id)
{
	struct pair *set = t->p[set_of(pid, lis_id)];
	struct pair *victim = NULL; /* a free place, else the least recent */
	for (int i = 0; i < LINE_SEEN_WAYS; i++) {
		struct pair *q = &set[i];
		if (q->lis_id == lis_id && q->pid == pid) {
			q->lis_id = 0; /* the line is granted: its place is free */
			return 1;
		}
		if (!victim || (victim->lis_id && (!q->lis_id || q->stamp < victim->stamp)))
			victim = q;
	}
	/* the clock wraps after 2^32 connections: one early eviction */
	*victim = (struct pair){.lis_id = lis_id, .pid = pid, .stamp = ++t->clock};
	return 0;
}
