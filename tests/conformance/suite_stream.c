/* SPDX-License-Identifier: MIT */
/* The byte pipe: integrity with a sender and a receiver thread on each end
 * at once (as libivt runs them), end of stream, -EPIPE, stats. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conformance.h"
#include "testsupport/ep_io.h"

#define RING (64u * 1024)
/* Two threads may wait on one poll_fd here (libivt hands wake-ups over
 * between them; these loops simply nap and retry). */
#define NAP_MS 5

static size_t stream_len(void)
{
	return getenv("IVT_UNDER_VALGRIND") ? (1u << 20) : (16u << 20);
}

struct flow {
	struct ivt_ep *ep;
	uint64_t seed; /* stream offset: each direction its own bytes */
	size_t len;
	int rc;        /* 0, or what went wrong */
	size_t bad_at; /* first wrong byte + 1 */
	/* Flows of one test: a flow that is done keeps its end driven (as a
	 * host keeps watching poll_fd) until all are. */
	atomic_int *finished;
	int n_flows;
};

static void linger(struct flow *f)
{
	atomic_fetch_add(f->finished, 1);
	while (atomic_load(f->finished) < f->n_flows)
		ep_wait(conf_ops, f->ep, 0, NAP_MS);
}

/* Write sizes that straddle ring and frame boundaries. */
static const size_t chunks[] = {1, 7, 4096 + 3, 65537, 300, 128 * 1024 + 1, 13};

static void *sender(void *arg)
{
	struct flow *f = arg;
	uint8_t *buf = malloc(128 * 1024 + 1);
	size_t done = 0, k = 0;
	double deadline = ep_io_now() + CONF_TMO / 1000.0;
	while (f->rc == 0 && done < f->len) {
		size_t n = chunks[k++ % (sizeof(chunks) / sizeof(chunks[0]))];
		if (n > f->len - done)
			n = f->len - done;
		for (size_t i = 0; i < n; i++)
			buf[i] = conf_stream_byte(f->seed + done + i);
		size_t off = 0;
		while (f->rc == 0 && off < n) {
			ssize_t r = conf_ops->send(f->ep, buf + off, n - off);
			if (r > 0)
				off += (size_t)r;
			else if (r != -EAGAIN)
				f->rc = r < 0 ? (int)r : -EIO;
			else if (ep_io_now() > deadline)
				f->rc = -ETIMEDOUT;
			else
				ep_wait(conf_ops, f->ep, IVT_EV_SEND, NAP_MS);
		}
		done += off;
	}
	free(buf);
	linger(f);
	return NULL;
}

static void *receiver(void *arg)
{
	struct flow *f = arg;
	uint8_t *buf = malloc(100000);
	size_t done = 0;
	double deadline = ep_io_now() + CONF_TMO / 1000.0;
	while (f->rc == 0 && done < f->len) {
		ssize_t r = conf_ops->recv(f->ep, buf, 100000);
		if (r > 0) {
			for (ssize_t i = 0; i < r && !f->bad_at; i++)
				if (buf[i] != conf_stream_byte(f->seed + done + (size_t)i))
					f->bad_at = done + (size_t)i + 1;
			done += (size_t)r;
			if (f->bad_at || done > f->len)
				f->rc = -EBADMSG;
		} else if (r == 0) {
			f->rc = -ENODATA; /* end of stream before the end */
		} else if (r != -EAGAIN) {
			f->rc = (int)r;
		} else if (ep_io_now() > deadline) {
			f->rc = -ETIMEDOUT;
		} else {
			ep_wait(conf_ops, f->ep, IVT_EV_RECV, NAP_MS);
		}
	}
	free(buf);
	linger(f);
	return NULL;
}

void test_stream_integrity_duplex(void **state)
{
	(void)state;
	if (!conf_ops)
		skip();
	struct conf_pair p;
	conf_pair_open(&p, RING);
	size_t len = stream_len();
	atomic_int fin = 0;
	struct flow f[4] = {
		{.ep = p.srv, .seed = 0, .len = len},         /* srv -> cli */
		{.ep = p.cli, .seed = 0, .len = len},
		{.ep = p.cli, .seed = 1ull << 40, .len = len}, /* cli -> srv */
		{.ep = p.srv, .seed = 1ull << 40, .len = len},
	};
	for (int i = 0; i < 4; i++)
		f[i].finished = &fin, f[i].n_flows = 4;
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, i % 2 ? receiver : sender, &f[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++)
		if (f[i].rc)
			fail_msg("%s, flow %d (%s): %s%s", conf_plugin, i, i % 2 ? "recv" : "send",
				 strerror(-f[i].rc), f[i].bad_at ? " (wrong byte)" : "");
	conf_pair_close(&p);
}

struct closer {
	struct ivt_ep *ep;
	size_t len;
	ssize_t rc;
};

static void *send_then_close(void *arg)
{
	struct closer *c = arg;
	uint8_t *buf = malloc(c->len);
	for (size_t i = 0; i < c->len; i++)
		buf[i] = conf_stream_byte(i);
	c->rc = ep_send_all(conf_ops, c->ep, buf, c->len, CONF_TMO);
	conf_ops->close(c->ep);
	free(buf);
	return NULL;
}

void test_eof_after_close(void **state)
{
	(void)state;
	if (!conf_ops)
		skip();
	struct conf_pair p;
	conf_pair_open(&p, 16 * 1024);
	struct closer c = {.ep = p.srv, .len = 100003};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, send_then_close, &c), 0);
	uint8_t buf[8192];
	size_t got = 0;
	ssize_t r;
	while ((r = ep_recv_some(conf_ops, p.cli, buf, sizeof(buf), CONF_TMO)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != conf_stream_byte(got + (size_t)i))
				fail_msg("byte %zu wrong", got + (size_t)i);
		got += (size_t)r;
	}
	pthread_join(t, NULL);
	p.srv = NULL; /* closed by the thread */
	assert_int_equal(c.rc, (ssize_t)c.len);
	assert_int_equal(r, 0); /* end of stream, after every byte */
	assert_int_equal(got, c.len);
	assert_int_equal(conf_ops->recv(p.cli, buf, sizeof(buf)), 0); /* and it stays so */
	conf_pair_close(&p);
}

static void *close_ep(void *ep)
{
	conf_ops->close(ep);
	return NULL;
}

void test_epipe_after_peer_close(void **state)
{
	(void)state;
	if (!conf_ops)
		skip();
	struct conf_pair p;
	conf_pair_open(&p, 16 * 1024);
	/* closed from another thread: close may linger to deliver what was
	 * sent, and a network transport needs this end driven meanwhile */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, close_ep, p.cli), 0);
	p.cli = NULL;
	static uint8_t buf[4096];
	double deadline = ep_io_now() + CONF_TMO / 1000.0;
	ssize_t r;
	for (;;) {
		r = conf_ops->send(p.srv, buf, sizeof(buf));
		if (r > 0 || r == -EAGAIN) { /* not noticed yet: may be buffered */
			if (ep_io_now() > deadline)
				fail_msg("send never reported the closed peer");
			if (r == -EAGAIN)
				ep_wait(conf_ops, p.srv, IVT_EV_SEND, NAP_MS);
			continue;
		}
		break;
	}
	assert_int_equal(r, -EPIPE);
	/* and the closed peer's stream ends */
	assert_int_equal(ep_recv_some(conf_ops, p.srv, buf, sizeof(buf), CONF_TMO), 0);
	pthread_join(t, NULL);
	conf_pair_close(&p);
}

void test_stats_count_bytes(void **state)
{
	(void)state;
	if (!conf_ops)
		skip();
	struct conf_pair p;
	conf_pair_open(&p, RING);
	atomic_int fin = 0;
	struct flow s = {.ep = p.srv, .len = 200000, .finished = &fin, .n_flows = 2},
		    r = {.ep = p.cli, .len = 200000, .finished = &fin, .n_flows = 2};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, sender, &s), 0);
	receiver(&r);
	pthread_join(t, NULL);
	assert_int_equal(s.rc, 0);
	assert_int_equal(r.rc, 0);
	struct ivt_ep_stats a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	int ra = conf_ops->stats(p.srv, &a), rb = conf_ops->stats(p.cli, &b);
	if (ra == -EOPNOTSUPP && rb == -EOPNOTSUPP) {
		conf_pair_close(&p);
		skip(); /* optional op, absent */
	}
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
	assert_true(a.bytes_sent >= 200000);
	assert_true(b.bytes_received >= 200000);
	assert_int_equal(a.protocol_errors, 0);
	assert_int_equal(b.protocol_errors, 0);
	conf_pair_close(&p);
}
