/* SPDX-License-Identifier: MIT */
/*
 * ivtd as a channel end (daemon_end.c) when its client lets go without a
 * word: the real shm plugin reports -ECONNRESET through the readable
 * callback (no broker needed), and once the owner wants nothing more the
 * end stops watching the wake-up fd, which stays readable at EOF for good:
 * a client that closed only its wake-up fd must not make ivtd's loop spin.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/plugin_loader.h"
#include "ivtd/core/daemon_end.h"
#include "testsupport/oob_pair.h"

#define RING 65536

struct owner {
	int calls;
	ssize_t last;
};

static void on_readable(void *arg, struct ivt_daemon_end *de)
{
	struct owner *o = arg;
	char buf[64];
	o->calls++;
	while ((o->last = ivt_daemon_end_recv(de, buf, sizeof(buf))) > 0)
		;
	if (o->last != -EAGAIN)
		ivt_daemon_end_want(de, 0); /* the end of it: as utmem_service does */
}

static void on_writable(void *arg, struct ivt_daemon_end *de)
{
	(void)arg;
	(void)de;
}

static void test_client_vanishes(void **state)
{
	(void)state;
	char why[256];
	const struct ivt_plugin_ops *ops = ivt_plugin_load(NULL, "shm", why, sizeof(why));
	assert_non_null(ops);
	struct oob_end a, b;
	assert_int_equal(oob_pair_open(&a, &b), 0);
	struct ivt_ep_params lp = {.channel = "t", .is_server = 1, .ring_size = RING,
				   .oob = &a.oob, .timeout_ms = 1000};
	struct ivt_ep *client = NULL;
	assert_int_equal(ops->listen(&lp, &client), 0);
	_Alignas(8) unsigned char blob[IVT_OOB_BLOB_MAX];
	int fds[IVT_OOB_FDS_MAX], nfds = IVT_OOB_FDS_MAX;
	int len = oob_pair_recv(&b, blob, sizeof(blob), fds, &nfds, 1000);
	assert_true(len > 0);

	struct event_base *base = event_base_new();
	struct owner o = {0};
	struct ivt_daemon_end_cb cb = {.arg = &o, .readable = on_readable,
				       .writable = on_writable};
	struct ivt_daemon_end_params p = {.backend = "shm", .channel = "t", .ring_size = RING};
	struct ivt_daemon_end *de = NULL;
	assert_int_equal(ivt_daemon_end_connect(base, &p, blob, (size_t)len, fds, nfds, &cb, &de,
						why, sizeof(why)), 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	ivt_daemon_end_want(de, IVT_EV_RECV);
	assert_int_equal(ops->send(client, "hi", 2), 2);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_true(o.calls >= 1);

	/* The client keeps everything but its wake-up fd, and closes that. A
	 * loop that spins on it fails here by SIGALRM rather than by ctest's
	 * timeout. */
	alarm(30);
	assert_int_equal(shutdown(ops->poll_fd(client), SHUT_RDWR), 0);
	for (int i = 0; i < 10 && o.last != -ECONNRESET; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(o.last, -ECONNRESET);
	/* Nothing wanted: nothing watched (1: the loop had no events). */
	assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 1);
	alarm(0);

	ivt_daemon_end_close(de);
	ops->close(client);
	event_base_free(base);
	oob_end_close(&a);
	oob_end_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_vanishes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
