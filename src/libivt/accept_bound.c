/* SPDX-License-Identifier: MIT */
/*
 * max_connections, held by the listener (docs/conn-setup.md). ivtd does
 * not see connections made over lines, nor when an accepting end it let
 * go of closes, so it tells the listener the policy's bound (with its
 * OPEN_OK, and with each line), and the listener holds it: it counts every channel it accepted (over lines and
 * through ivtd) until that channel closes, and at the bound it reads
 * neither its lines nor ivtd's offers (listener.c): they wait in their
 * queues, as connections in TCP's accept queue do. A close that takes
 * the count below the bound writes an eventfd in the listener's epoll
 * set, so a listener asleep in ivt_accept or poll wakes and takes offers
 * again.
 *
 * Channels outlive their listener, so the count is shared and counted
 * by reference; closes come from any thread (atomics, no lock).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "accept_bound.h"
#include "channel.h"

struct accept_bound *accept_bound_new(void)
{
	struct accept_bound *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	if ((b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		free(b);
		return NULL;
	}
	return b;
}

void accept_bound_unref(struct accept_bound *b)
{
	if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	close(b->efd);
	free(b);
}

void accept_bound_set_max(struct accept_bound *b, unsigned max)
{
	atomic_store(&b->max, max);
}

void accept_bound_take(struct accept_bound *b, struct ivt_channel *ch, int line)
{
	atomic_fetch_add(&b->refs, 1);
	atomic_fetch_add(&b->held, 1);
	if (line)
		atomic_fetch_add(&b->held_lines, 1);
	ch->bound = b;
	ch->bound_line = line;
}

void accept_bound_put(struct accept_bound *b, int line)
{
	if (!b)
		return;
	if (line)
		atomic_fetch_sub(&b->held_lines, 1);
	unsigned was = atomic_fetch_sub(&b->held, 1);
	unsigned max = atomic_load(&b->max);
	if (max && was == max) {
		uint64_t one = 1;
		/* full only when 2^64 - 2 wake-ups are unread: none lost then */
		if (write(b->efd, &one, sizeof(one)) < 0) {
		}
	}
	accept_bound_unref(b);
}

int accept_bound_full(struct accept_bound *b)
{
	unsigned max = atomic_load(&b->max);
	return max && atomic_load(&b->held) >= max;
}

void accept_bound_clear(struct accept_bound *b)
{
	uint64_t n;
	if (read(b->efd, &n, sizeof(n)) < 0) {
		/* nothing there: a stale event */
	}
}
