/* SPDX-License-Identifier: MIT */
/* Lingering plugin closes on threads of their own (closer.h). */
#include "closer.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int running;

struct job {
	const struct ivt_plugin_ops *ops;
	struct ivt_ep *ep;
};

static void *run(void *arg)
{
	struct job *j = arg;
	j->ops->close(j->ep);
	free(j);
	pthread_mutex_lock(&mu);
	running--;
	pthread_cond_broadcast(&done_cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

void ivt_closer_close(const struct ivt_plugin_ops *ops, struct ivt_ep *ep)
{
	struct job *j = malloc(sizeof(*j));
	pthread_attr_t at;
	pthread_t t;
	if (j && pthread_attr_init(&at) == 0) {
		*j = (struct job){.ops = ops, .ep = ep};
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_mutex_lock(&mu);
		running++;
		pthread_mutex_unlock(&mu);
		int rc = pthread_create(&t, &at, run, j);
		pthread_attr_destroy(&at);
		if (rc == 0)
			return;
		pthread_mutex_lock(&mu);
		running--;
		pthread_mutex_unlock(&mu);
	}
	free(j);
	IVT_WARN("ivtd", "%s: closing an endpoint inline (no thread for it)", ops->name);
	ops->close(ep);
}

int ivt_closer_drain(int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&mu);
	while (running > 0 && pthread_cond_timedwait(&done_cv, &mu, &until) == 0)
		;
	int left = running;
	pthread_mutex_unlock(&mu);
	return left;
}
