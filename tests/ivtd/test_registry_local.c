/* SPDX-License-Identifier: MIT */
/*
 * The local registry's reaping: dropping k of n control connections looks
 * at those k only (it used to rescan the whole table after every free,
 * O(k * n): a burst of disconnects with many channels open stalled ivtd).
 * Counted, not timed: the registry reports how many connections reaping
 * looked at.
 *
 * A connector's dialled address (OPEN with IVT_CTRL_OPEN_TCP_DIAL): the
 * broker is asked for the listener TCP would pick (common/tcp_map.h), and
 * what is not a connector of an address is refused. Before, tcp.<P> was
 * matched by port alone: a client dialling 127.0.0.2 reached the server
 * bound to 127.0.0.1.
 *
 * A client that sends CLOSE and exits at once, while ivtd has an answer
 * for it: the send fails first, and the end used to be reported died
 * (graceful 0) with its CLOSE unread in the socket, so its peer read a
 * reset after all its bytes (preload_lifecycle under ASan, close_exit.py).
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

#include "common/ctrl_msg.h"
#include "ivtd/registries/registry_local.h"

#define LIVE 400
#define DROP 300

struct seen {
	int gone;
	int graceful; /* the last gone()'s */
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
	((struct seen *)arg)->gone++;
	((struct seen *)arg)->graceful = graceful;
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

struct fake_broker {
	struct seen seen; /* first: cb_gone counts into it */
	const char **listening; /* NULL-terminated */
	char asked[IVT_NAME_MAX + 1]; /* the name of the last request */
	struct ivt_reg_end *end;      /* ... and its end */
	int requests;
};

static void cb_request_named(void *arg, struct ivt_reg_end *end,
			     const struct ivt_end_request *req)
{
	struct fake_broker *b = arg;
	snprintf(b->asked, sizeof(b->asked), "%s", req->name);
	b->end = end;
	b->requests++;
}

static int cb_listening(void *arg, const char *name)
{
	struct fake_broker *b = arg;
	for (const char **n = b->listening; *n; n++)
		if (!strcmp(*n, name))
			return 1;
	return 0;
}

struct bed {
	char dir[32], path[128];
	struct event_base *base;
	struct ivt_registry *reg;
	struct fake_broker broker;
};

static void bed_up(struct bed *t, const char **listening)
{
	char why[256];
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/ivt-dial-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/ivtd.sock", t->dir);
	t->base = event_base_new();
	t->broker.listening = listening;
	struct ivt_broker_cb cb = {.arg = &t->broker, .request = cb_request_named, .setup = cb_setup,
				   .gone = cb_gone, .listening = cb_listening};
	t->reg = ivt_registry_local_new(t->base, t->path, &cb, why, sizeof(why));
	assert_non_null(t->reg);
}

static void bed_down(struct bed *t)
{
	t->reg->ops->destroy(t->reg);
	event_base_free(t->base);
	rmdir(t->dir);
}

/* One OPEN on a new connection. The broker's name for it, or "" when the
 * registry refused it itself (*err: its errno). */
static const char *open_as(struct bed *t, const char *name, uint32_t flags, int *err)
{
	int s = dial(t->path);
	struct ivt_ctrl_open o;
	memset(&o, 0, sizeof(o));
	snprintf(o.name, sizeof(o.name), "%s", name);
	o.flags = flags;
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_OPEN, 1, &o, sizeof(o), NULL, 0), 0);
	int before = t->broker.requests;
	t->broker.asked[0] = '\0';
	*err = 0;
	for (int i = 0; i < 100 && t->broker.requests == before && !*err; i++) {
		event_base_loop(t->base, EVLOOP_NONBLOCK);
		struct ivt_ctrl_msg m;
		if (ivt_ctrl_recv(s, &m, 0) == 0 && m.hdr.type == IVT_CTRL_ERROR)
			*err = m.u.error.err;
	}
	close(s);
	event_base_loop(t->base, EVLOOP_NONBLOCK);
	return t->broker.asked;
}

static void test_dial_picks_the_bound_listener(void **state)
{
	(void)state;
	const char *listening[] = {"tcp.80.127.0.0.1", "tcp.80.127.0.0.2", "tcp.81", "tcp.81.--",
				   NULL};
	struct bed t;
	int err;
	bed_up(&t, listening);
	assert_string_equal(open_as(&t, "tcp.80.127.0.0.2", IVT_CTRL_OPEN_TCP_DIAL, &err),
			    "tcp.80.127.0.0.2");
	assert_string_equal(open_as(&t, "tcp.80.127.0.0.1", IVT_CTRL_OPEN_TCP_DIAL, &err),
			    "tcp.80.127.0.0.1");
	/* nobody on 127.0.0.3: tcp.80, which the broker refuses (nobody
	 * listens on it), as TCP refuses */
	assert_string_equal(open_as(&t, "tcp.80.127.0.0.3", IVT_CTRL_OPEN_TCP_DIAL, &err), "tcp.80");
	/* 0.0.0.0 and [::] IPv6-only on port 81: by family */
	assert_string_equal(open_as(&t, "tcp.81.--1", IVT_CTRL_OPEN_TCP_DIAL, &err), "tcp.81.--");
	assert_string_equal(open_as(&t, "tcp.81.127.0.0.1", IVT_CTRL_OPEN_TCP_DIAL, &err), "tcp.81");
	/* without the flag a name is only a name */
	assert_string_equal(open_as(&t, "tcp.80.127.0.0.3", 0, &err), "tcp.80.127.0.0.3");
	bed_down(&t);
}

static void test_dial_refusals(void **state)
{
	(void)state;
	const char *listening[] = {NULL};
	struct bed t;
	int err;
	bed_up(&t, listening);
	/* not an address, or a listener: refused before the broker */
	const char *bad[] = {"tcp.80", "tcp.80.dom5", "other", "tcp.80.--ffff-127.0.0.1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_string_equal(open_as(&t, bad[i], IVT_CTRL_OPEN_TCP_DIAL, &err), "");
		assert_int_equal(err, EINVAL);
	}
	assert_string_equal(open_as(&t, "tcp.80.127.0.0.1",
				    IVT_LISTEN | IVT_CTRL_OPEN_MULTI | IVT_CTRL_OPEN_TCP_DIAL, &err),
			    "");
	assert_int_equal(err, EINVAL);
	assert_int_equal(t.broker.requests, 0);
	bed_down(&t);
}

static void test_close_queued_behind_a_failed_send(void **state)
{
	(void)state;
	const char *listening[] = {NULL};
	struct bed t;
	bed_up(&t, listening);
	int s = dial(t.path);
	struct ivt_ctrl_open o;
	memset(&o, 0, sizeof(o));
	snprintf(o.name, sizeof(o.name), "tcp.80");
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_OPEN, 1, &o, sizeof(o), NULL, 0), 0);
	for (int i = 0; i < 100 && !t.broker.end; i++)
		event_base_loop(t.base, EVLOOP_NONBLOCK);
	assert_non_null(t.broker.end);
	/* the client closes and leaves before ivtd reads that; then the
	 * broker has news for it (the race forced: no loop in between) */
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_CLOSE, 2, NULL, 0, NULL, 0), 0);
	close(s);
	assert_true(t.reg->ops->notify_peer(t.broker.end, IVT_PEER_CONNECTED, 0) < 0);
	for (int i = 0; i < 100 && !t.broker.seen.gone; i++)
		event_base_loop(t.base, EVLOOP_NONBLOCK);
	assert_int_equal(t.broker.seen.gone, 1);
	assert_int_equal(t.broker.seen.graceful, 1); /* closed, not died */
	bed_down(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reap_touches_only_the_dead),
		cmocka_unit_test(test_dial_picks_the_bound_listener),
		cmocka_unit_test(test_dial_refusals),
		cmocka_unit_test(test_close_queued_behind_a_failed_send),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
