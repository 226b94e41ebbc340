/* SPDX-License-Identifier: MIT */
/* A listener's count of the connections it holds, against its policy's
 * max_connections (accept_bound.c, docs/conn-setup.md). */
#ifndef IVT_LIBIVT_ACCEPT_BOUND_H
#define IVT_LIBIVT_ACCEPT_BOUND_H

#include <stdatomic.h>

struct ivt_channel;

struct accept_bound {
	atomic_uint refs;       /* the listener's and each counted channel's */
	atomic_uint held;       /* accepted channels not closed yet, both ways */
	atomic_uint held_lines; /* ...of them, made over direct lines */
	atomic_uint max;        /* max_connections ivtd gave (OPEN_OK, LINE); 0: none */
	int efd;                /* eventfd: a close took held below max */
};

/* The listener's (refs 1; it watches efd), or NULL with errno set. */
struct accept_bound *accept_bound_new(void);
void accept_bound_unref(struct accept_bound *b);
/* ivtd's bound (0: none). */
void accept_bound_set_max(struct accept_bound *b, unsigned max);
/* ch was accepted (over a line: line): counted until accept_bound_put. */
void accept_bound_take(struct accept_bound *b, struct ivt_channel *ch, int line);
/* A counted channel closes (channel.c): uncounted, and, when that takes
 * the count below the bound, the listener is woken. Any thread. */
void accept_bound_put(struct accept_bound *b, int line);
/* At the bound: the listener takes no more offers until a close. */
int accept_bound_full(struct accept_bound *b);
/* The eventfd's wake-up, read (the listener's thread). */
void accept_bound_clear(struct accept_bound *b);

#endif
