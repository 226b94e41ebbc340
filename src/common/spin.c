/* SPDX-License-Identifier: MIT */
#include "spin.h"

#include <stdlib.h>
#include <time.h>

static uint32_t spin_max_from_env(void)
{
	const char *e = getenv(IVT_SPIN_ENV);
	char *end;
	unsigned long v = e && *e ? strtoul(e, &end, 10) : IVT_SPIN_MAX_NS;
	if (e && *e && *end)
		v = IVT_SPIN_MAX_NS; /* not a number: the default */
	return v < IVT_SPIN_MAX_NS ? (uint32_t)v : IVT_SPIN_MAX_NS;
}

void ivt_spin_init(struct ivt_spin *s)
{
	s->max = spin_max_from_env();
	s->idle = 0;
	/* The first wait a peer answers within it (or the first full probe
	 * that sees one) raises it to the maximum. A short connection (one
	 * request, one answer) does not burn 50 us of a core per end on its
	 * first waits, while its peer is still mapping the ring. */
	s->ns = s->max < IVT_SPIN_MIN_NS ? s->max : IVT_SPIN_MIN_NS;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#else
	__asm__ volatile("" ::: "memory");
#endif
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall */
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int changed(const struct ivt_spin_watch *w)
{
	for (int i = 0; i < 2; i++)
		if (w->w[i] && *w->w[i] != w->old[i])
			return 1;
	return w->b && *w->b != w->old_b;
}

/* The budget is in time, not iterations (pause costs 10..150 cycles
 * depending on the CPU). */
int ivt_spin_until_changed(struct ivt_spin *s, const struct ivt_spin_watch *w)
{
	uint32_t budget = s->ns;
	if (!s->max)
		return 0;
	if (budget <= IVT_SPIN_MIN_NS && ++s->idle >= IVT_SPIN_PROBE_EVERY) {
		s->idle = 0;
		budget = s->max;
	}
	uint64_t deadline = mono_ns() + budget;
	for (uint32_t i = 1;; i++) {
		if (changed(w)) {
			s->ns = s->max;
			s->idle = 0;
			return 1;
		}
		cpu_relax();
		if ((i & 15) == 0 && mono_ns() >= deadline)
			break;
	}
	s->ns = s->ns / 2 > IVT_SPIN_MIN_NS ? s->ns / 2 : IVT_SPIN_MIN_NS;
	if (s->ns > s->max)
		s->ns = s->max;
	return 0;
}
