/* SPDX-License-Identifier: MIT */
/* Adaptive spin before sleeping on a ring shared with another process or
 * domain (shm's ring.c, the vchan plugin): watch the peer's index for a
 * while, since a peer that is running publishes soon, and then neither
 * side pays for a wake-up (a syscall, or a hypercall under Xen) plus a
 * sleep and a wake-up. */
#ifndef IVT_COMMON_SPIN_H
#define IVT_COMMON_SPIN_H

#include <stdint.h>

/* The maximum is about one sleep/wake-up round under a hypervisor. */
#define IVT_SPIN_MAX_NS 50000u
#define IVT_SPIN_MIN_NS 2000u
#define IVT_SPIN_PROBE_EVERY 8u
/* $IVT_SPIN_NS caps it for a whole process ("0": never spin), for
 * programs whose waits are event-loop polls rather than real waits
 * (libivt-preload.so sets 0, docs/preload.md). */
#define IVT_SPIN_ENV "IVT_SPIN_NS"

struct ivt_spin {
	uint32_t ns;   /* current budget */
	uint32_t idle; /* waits spent at the minimum budget */
	uint32_t max;  /* IVT_SPIN_MAX_NS or $IVT_SPIN_NS */
};

/* What to watch: up to two 32-bit words (NULL: none) and one byte (NULL:
 * none), each against the value last seen. Plain loads only: a change
 * just ends the spin, the caller validates what changed. */
struct ivt_spin_watch {
	const volatile uint32_t *w[2];
	uint32_t old[2];
	const volatile uint8_t *b;
	uint8_t old_b;
};

/* A fresh budget: starts at the floor, since a new connection has not
 * shown that spinning pays. */
void ivt_spin_init(struct ivt_spin *s);

/* Spin until a watched value changes (1) or the budget is spent (0). The
 * budget resets to the maximum whenever spinning paid off and halves when
 * it did not; at the floor, every IVT_SPIN_PROBE_EVERY-th wait spins fully
 * once, so two ends that both fell asleep find their way back. */
int ivt_spin_until_changed(struct ivt_spin *s, const struct ivt_spin_watch *w);

#endif
