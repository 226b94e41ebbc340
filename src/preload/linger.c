/* SPDX-License-Identifier: MIT */
/*
 * Closing a stream whose last bytes are not all in the ring yet (libivt
 * holds the tail of a frame, docs/framing.md): ivt_close waits for room
 * to deliver them (up to its 10 s). That wait runs in a thread of its
 * own per such stream, so neither the application's close, nor the
 * monitor, nor other closing streams wait behind it. At exit the
 * destructor waits for all of them together, up to one deadline
 * (IVT_PRELOAD_EXIT_WAIT_MS, default 10 s); a stream still not flushed
 * then dies with the process, and its peer reads a reset after the
 * bytes that made it into the ring (docs/preload.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "preload.h"

#define EXIT_WAIT_MS_DEFAULT 10000
#define LINGER_STACK (256 * 1024)

static pthread_mutex_t linger_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t linger_done = PTHREAD_COND_INITIALIZER;
static int lingering; /* threads still delivering */

static void *linger_main(void *arg)
{
	preload_inside = 1;
	ivt_close(arg); /* delivers the tail, then the end (or gives up) */
	pthread_mutex_lock(&linger_lock);
	lingering--;
	pthread_cond_broadcast(&linger_done);
	pthread_mutex_unlock(&linger_lock);
	return NULL;
}

void linger_close(ivt_channel *ch)
{
	PLOG("close: the last bytes of a stream wait for room; a thread delivers them");
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, LINGER_STACK);
	/* the thread must not take the application's signals */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&linger_lock);
	pthread_t t;
	int rc = pthread_create(&t, &a, linger_main, ch);
	if (rc == 0)
		lingering++;
	pthread_mutex_unlock(&linger_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (rc != 0) {
		preload_inside++;
		ivt_close(ch); /* no thread: wait here */
		preload_inside--;
	}
}

static int exit_wait_ms(void)
{
	const char *e = getenv("IVT_PRELOAD_EXIT_WAIT_MS");
	char *end;
	long v = e && *e ? strtol(e, &end, 10) : -1;
	return e && *e && !*end && v >= 0 && v <= 3600000 ? (int)v : EXIT_WAIT_MS_DEFAULT;
}

void linger_exit_wait(void)
{
	long long deadline = ivt_deadline_ms(exit_wait_ms());
	pthread_mutex_lock(&linger_lock);
	while (lingering > 0) {
		int left = ivt_left_ms(deadline);
		if (left == 0) {
			PLOG("exit: %d stream(s) still not flushed; their peers read a reset", lingering);
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += left / 1000;
		ts.tv_nsec += (long)(left % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&linger_done, &linger_lock, &ts);
	}
	pthread_mutex_unlock(&linger_lock);
}

void linger_after_fork_child(void)
{
	/* the threads stayed with the parent, and so do their channels */
	lingering = 0;
	pthread_mutex_init(&linger_lock, NULL);
	pthread_cond_init(&linger_done, NULL);
}
