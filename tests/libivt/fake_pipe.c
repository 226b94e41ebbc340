/* SPDX-License-Identifier: MIT */
#include "fake_pipe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct fake_queue *fq_new(size_t cap)
{
	struct fake_queue *q = calloc(1, sizeof(*q));
	q->data = malloc(cap);
	q->cap = cap;
	return q;
}

void fq_free(struct fake_queue *q)
{
	if (q)
		free(q->data);
	free(q);
}

size_t fq_put(struct fake_queue *q, const void *buf, size_t len)
{
	size_t n = q->cap - q->len < len ? q->cap - q->len : len;
	memcpy(q->data + q->len, buf, n);
	q->len += n;
	return n;
}

size_t fq_get(struct fake_queue *q, void *buf, size_t len)
{
	size_t n = q->len < len ? q->len : len;
	memcpy(buf, q->data, n);
	memmove(q->data, q->data + n, q->len - n);
	q->len -= n;
	return n;
}

static size_t limit(const struct ivt_ep *ep, size_t len)
{
	return ep->max_io && len > ep->max_io ? ep->max_io : len;
}

static ssize_t fake_send(struct ivt_ep *ep, const void *buf, size_t len)
{
	if (ep->out->eof)
		return -EPIPE;
	size_t n = fq_put(ep->out, buf, limit(ep, len));
	return n ? (ssize_t)n : -EAGAIN;
}

static ssize_t fake_recv(struct ivt_ep *ep, void *buf, size_t len)
{
	size_t n = fq_get(ep->in, buf, limit(ep, len));
	if (n)
		return (ssize_t)n;
	return ep->in->eof ? 0 : -EAGAIN;
}

/* recv_peek/recv_consume over the same queue: the window is the queue's
 * head, at most max_io bytes (so frames straddle windows). */
static ssize_t fake_peek(struct ivt_ep *ep, const void **ptr)
{
	if (!ep->in->len)
		return ep->in->eof ? 0 : -EAGAIN;
	*ptr = ep->in->data;
	return (ssize_t)limit(ep, ep->in->len);
}

static int fake_consume(struct ivt_ep *ep, size_t len)
{
	struct fake_queue *q = ep->in;
	if (len > q->len)
		return -EINVAL;
	memmove(q->data, q->data + len, q->len - len);
	q->len -= len;
	ep->consumes++;
	return 0;
}

/* send_reserve/send_commit: room at the queue's tail, at most max_io. */
static ssize_t fake_reserve(struct ivt_ep *ep, size_t want, void **ptr, size_t *space)
{
	(void)want;
	struct fake_queue *q = ep->out;
	if (q->eof)
		return -EPIPE;
	size_t n = limit(ep, q->cap - q->len);
	if (!n)
		return -EAGAIN;
	*ptr = q->data + q->len;
	*space = n;
	return (ssize_t)n;
}

static int fake_commit(struct ivt_ep *ep, size_t len)
{
	ep->out->len += len;
	ep->commits++;
	return 0;
}

static int fake_arm(struct ivt_ep *ep, unsigned events)
{
	int ready = 0;
	if ((events & IVT_EV_RECV) && (ep->in->len || ep->in->eof))
		ready |= IVT_EV_RECV;
	if ((events & IVT_EV_SEND) && ep->out->len < ep->out->cap)
		ready |= IVT_EV_SEND;
	return ready;
}

static int fake_poll_fd(struct ivt_ep *ep) { (void)ep; return -1; }
static void fake_ack(struct ivt_ep *ep) { (void)ep; }
static void fake_close(struct ivt_ep *ep) { ep->out->eof = 1; }

/* The byte pipe both tables share. */
#define FAKE_PIPE_OPS(nm)                                                                          \
	.abi_version = IVT_PLUGIN_ABI_VERSION, .ops_size = sizeof(struct ivt_plugin_ops),          \
	.name = nm, .send = fake_send, .recv = fake_recv, .arm = fake_arm,                          \
	.poll_fd = fake_poll_fd, .ack = fake_ack, .close = fake_close

const struct ivt_plugin_ops fake_ops = {FAKE_PIPE_OPS("fake")};

const struct ivt_plugin_ops fake_ops_inplace = {
	FAKE_PIPE_OPS("fake-inplace"),
	.send_reserve = fake_reserve,
	.send_commit = fake_commit,
	.recv_peek = fake_peek,
	.recv_consume = fake_consume,
};
