/* SPDX-License-Identifier: MIT */
/*
 * The local registry's reaping: dropping k of n control connections looks
 * at those k only (it used to rescan the whole table after every free,
 * O(k * n): a burst of disconnects with many channels open stalled ivtd).
 * Counted, not timed: the registry reports how many connections reaping
 * looked at.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "ivtd/registries/registry_local.h"

#define LIVE 400
#define DROP 300

struct seen {
	int gone;
};

static void cb_request(void *arg, struct ivt_reg_end *end, const struct ivt_end_request *req)
{
	(void)arg;
	(void)end;
	(void)req;
}

static void cb_setup(void *arg, struct ivt_reg_end *end, const void *blob, size_t len, int *fds,
		     int nfds)
{
	(void)arg;
	(void)end;
	(void)blob;
	(void)len;
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

static void cb_gone(void *arg, struct ivt_reg_end *end, int graceful)
{
	(void)end;
	(void)graceful;
	((struct seen *)arg)->gone++;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return s;
}

static void test_reap_touches_only_the_dead(void **state)
{
	(void)state;
	char dir[] = "/tmp/ivt-reg-XXXXXX", path[128], why[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ivtd.sock", dir);
	struct event_base *base = event_base_new();
	struct seen seen = {0};
	struct ivt_broker_cb cb = {.arg = &seen, .request = cb_request, .setup = cb_setup,
				   .gone = cb_gone};
	struct ivt_registry *reg = ivt_registry_local_new(base, path, &cb, why, sizeof(why));
	assert_non_null(reg);
	int *fds = calloc(LIVE + DROP, sizeof(*fds));
	for (int i = 0; i < LIVE + DROP; i++) {
		fds[i] = dial(path);
		if (i % 64 == 63) /* within the listen backlog */
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	/* every other one of the first 2 * DROP goes: the dead are spread
	 * through the table, not at one end of it */
	int dropped = 0;
	for (int i = 0; i < 2 * DROP && dropped < DROP; i += 2, dropped++) {
		close(fds[i]);
		fds[i] = -1;
	}
	for (int i = 2 * DROP; dropped < DROP; i++, dropped++) {
		close(fds[i]);
		fds[i] = -1;
	}
	for (int spins = 0; seen.gone < DROP && spins < 1000; spins++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(seen.gone, DROP);
	assert_int_equal(ivt_registry_local_reap_visits(reg), DROP);
	for (int i = 0; i < LIVE + DROP; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	reg->ops->destroy(reg); /* the live ones are reported gone too */
	assert_int_equal(seen.gone, LIVE + DROP);
	event_base_free(base);
	free(fds);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reap_touches_only_the_dead),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
