/* SPDX-License-Identifier: MIT */
/* Driving ivtd's event loop against fake_xenstored until a node appears
 * (or goes): shared by the registry tests. */
#ifndef TESTS_XS_PUMP_H
#define TESTS_XS_PUMP_H

#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "fake_xenstored.h"

/* Run base's loop until cond(arg) holds; 0 after 20 s (a hang, not a
 * timing assertion). */
static inline int xs_pump(struct event_base *base, int (*cond)(void *), void *arg)
{
	time_t give_up = time(NULL) + 20;
	struct timeval tick = {0, 10000};
	while (!cond(arg)) {
		if (time(NULL) > give_up)
			return 0;
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	return 1;
}

static inline int node_exists(void *path)
{
	char *v = fx_read(path);
	free(v);
	return v != NULL;
}

static inline int node_gone(void *path) { return !node_exists(path); }

#endif
