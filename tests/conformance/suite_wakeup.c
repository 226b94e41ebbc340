/* SPDX-License-Identifier: MIT */
/*
 * No lost wake-up across arm/ack (plugin.h): an event after arm() returned
 * 0 must make poll_fd readable. Each end is owned by one thread here, so a
 * poll that sleeps through the whole timeout is a lost wake-up, not a
 * wake-up some other thread consumed.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conformance.h"

static int rounds(int n) { return getenv("IVT_UNDER_VALGRIND") ? n / 10 : n; }

/* Sleep until ev is ready on ep: arm, and if that says "sleep", poll.
 * -ETIMEDOUT: poll_fd never fired although the peer acted. */
static int sleep_for(struct ivt_ep *ep, unsigned ev)
{
	for (int spurious = 0; spurious < 100000; spurious++) {
		int ready = conf_ops->arm(ep, ev);
		if (ready != 0)
			return ready < 0 ? ready : 0;
		struct pollfd p = {.fd = conf_ops->poll_fd(ep), .events = POLLIN};
		int r = poll(&p, 1, CONF_TMO);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return -errno;
		conf_ops->ack(ep);
	}
	return -ELOOP;
}

/* Receive exactly one byte, sleeping as a host does. */
static int recv_one(struct ivt_ep *ep, uint8_t *b)
{
	for (;;) {
		ssize_t r = conf_ops->recv(ep, b, 1);
		if (r == 1)
			return 0;
		if (r != -EAGAIN)
			return r == 0 ? -ENODATA : (int)r;
		int rc = sleep_for(ep, IVT_EV_RECV);
		if (rc < 0)
			return rc;
	}
}

static int send_one(struct ivt_ep *ep, uint8_t b)
{
	for (;;) {
		ssize_t r = conf_ops->send(ep, &b, 1);
		if (r == 1)
			return 0;
		if (r != -EAGAIN)
			return (int)r;
		int rc = sleep_for(ep, IVT_EV_SEND);
		if (rc < 0)
			return rc;
	}
}

struct ponger {
	struct ivt_ep *ep;
	int n, rc;
};

static void *pong(void *arg)
{
	struct ponger *g = arg;
	for (int i = 0; i < g->n && g->rc == 0; i++) {
		uint8_t b;
		if ((g->rc = recv_one(g->ep, &b)) == 0)
			g->rc = b == (uint8_t)i ? send_one(g->ep, (uint8_t)(b + 1)) : -EBADMSG;
	}
	return NULL;
}

void test_no_lost_wakeup_recv(void **state)
{
	(void)state;
	if (!conf_ops)
		skip();
	struct conf_pair p;
	conf_pair_open(&p, 4096);
	struct ponger g = {.ep = p.cli, .n = rounds(3000)};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, pong, &g), 0);
	int rc = 0;
	for (int i = 0; i < g.n && rc == 0; i++) {
		uint8_t b = 0;
		if ((rc = send_one(p.srv, (uint8_t)i)) == 0 && (rc = recv_one(p.srv, &b)) == 0 &&
		    b != (uint8_t)(i + 1))
			rc = -EBADMSG;
		if (rc)
			fprintf(stderr, "round %d: %s\n", i, strerror(-rc));
	}
	pthread_join(t, NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(g.rc, 0);
	conf_pair_close(&p);
}

/* A full pipe, drained by the peer while we sleep on IVT_EV_SEND. */
struct drainer {
	struct ivt_ep *ep;
	int go;            /* eventfd-like pipe: one byte per round */
	atomic_size_t sent; /* what the filler has sent so far */
	size_t got;
	int rounds, rc;
	atomic_int done;
};

static void *drain(void *arg)
{
	struct drainer *d = arg;
	static uint8_t buf[65536];
	for (int i = 0; i < d->rounds && d->rc == 0; i++) {
		/* Until told to drain, stay a live host: take our wake-ups
		 * (a network transport acknowledges frames in ack). */
		struct pollfd p[2] = {{.fd = d->go, .events = POLLIN},
				      {.fd = conf_ops->poll_fd(d->ep), .events = POLLIN}};
		for (;;) {
			conf_ops->arm(d->ep, IVT_EV_RECV);
			if (poll(p, 2, CONF_TMO) <= 0) {
				d->rc = -ETIMEDOUT;
				break;
			}
			if (p[1].revents)
				conf_ops->ack(d->ep);
			if (p[0].revents)
				break;
		}
		char c;
		if (d->rc || read(d->go, &c, 1) != 1) {
			d->rc = d->rc ? d->rc : -EIO;
			break;
		}
		size_t want = atomic_load(&d->sent);
		while (d->rc == 0 && d->got < want) {
			ssize_t r = conf_ops->recv(d->ep, buf, sizeof(buf));
			if (r > 0)
				d->got += (size_t)r;
			else if (r == -EAGAIN)
				d->rc = sleep_for(d->ep, IVT_EV_RECV);
			else
				d->rc = r == 0 ? -ENODATA : (int)r;
		}
	}
	atomic_store(&d->done, 1);
	return NULL;
}

void test_no_lost_wakeup_send(void **state)
{
	(void)state;
	if (!conf_ops)
		skip();
	struct conf_pair p;
	conf_pair_open(&p, 4096);
	int go[2];
	assert_int_equal(pipe(go), 0);
	struct drainer d = {.ep = p.cli, .go = go[0], .rounds = rounds(200)};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, drain, &d), 0);
	static uint8_t buf[1024];
	int rc = 0;
	for (int i = 0; i < d.rounds && rc == 0; i++) {
		ssize_t r;
		while ((r = conf_ops->send(p.srv, buf, sizeof(buf))) > 0)
			atomic_fetch_add(&d.sent, (size_t)r);
		if (r != -EAGAIN) {
			rc = (int)r;
			break;
		}
		/* arm first, then let the peer drain: its reads must wake us */
		int ready = conf_ops->arm(p.srv, IVT_EV_SEND);
		if (write(go[1], "x", 1) != 1)
			rc = -EIO;
		if (ready == 0 && rc == 0)
			rc = sleep_for(p.srv, IVT_EV_SEND);
		else if (ready < 0)
			rc = ready;
		if (rc)
			fprintf(stderr, "round %d: %s\n", i, strerror(-rc));
	}
	if (rc) /* unblock the drainer */
		for (int i = 0; i < d.rounds; i++)
			if (write(go[1], "x", 1) != 1)
				break;
	/* stay a live host until the drainer has it all (what we sent last
	 * may still sit in a network transport's send buffer) */
	while (!atomic_load(&d.done)) {
		struct pollfd pf = {.fd = conf_ops->poll_fd(p.srv), .events = POLLIN};
		conf_ops->arm(p.srv, IVT_EV_SEND);
		if (poll(&pf, 1, 10) > 0)
			conf_ops->ack(p.srv);
	}
	pthread_join(t, NULL);
	close(go[0]);
	close(go[1]);
	assert_int_equal(rc, 0);
	assert_int_equal(d.rc, 0);
	conf_pair_close(&p);
}
