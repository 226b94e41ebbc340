/* SPDX-License-Identifier: MIT */
/* The shm transport: ops table, byte pipe and wake-ups over common/ring. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/plugin_log.h"
#include "shm_ep.h"

static const struct ivt_plugin_host *shm_host;

void shm_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ivt_plugin_vlog(shm_host, "shm", level, fmt, ap);
	va_end(ap);
}

int shm_kick(void *ctx)
{
	struct ivt_ep *ep = ctx;
	uint64_t one = 1;
	/* EAGAIN means the counter is saturated: the peer is woken anyway. */
	if (write(ep->peer_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

struct ivt_ep *shm_ep_new(void)
{
	struct ivt_ep *ep = calloc(1, sizeof(*ep));
	if (ep)
		ep->own_efd = ep->peer_efd = -1;
	return ep;
}

void shm_ep_free(struct ivt_ep *ep)
{
	if (!ep)
		return;
	if (ep->map)
		munmap(ep->map, ep->map_len);
	if (ep->own_efd >= 0)
		close(ep->own_efd);
	if (ep->peer_efd >= 0)
		close(ep->peer_efd);
	free(ep);
}

static int shm_init(const struct ivt_plugin_host *host)
{
	shm_host = host;
	return 0;
}

static int shm_probe(char *why, size_t why_len)
{
	int fd = memfd_create("ivt-shm-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		int e = errno;
		snprintf(why, why_len, "memfd_create: %s", strerror(e));
		return -e;
	}
	close(fd);
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(why, why_len, "eventfd: %s", strerror(e));
		return -e;
	}
	close(fd);
	return 0;
}

static ssize_t shm_send(struct ivt_ep *ep, const void *buf, size_t len)
{
	return ivt_ring_write(&ep->ring, buf, len);
}

static ssize_t shm_recv(struct ivt_ep *ep, void *buf, size_t len)
{
	return ivt_ring_read(&ep->ring, buf, len);
}

static int shm_arm(struct ivt_ep *ep, unsigned events)
{
	unsigned want = 0, ready, out = 0;
	if (events & IVT_EV_RECV)
		want |= IVT_RING_READABLE;
	if (events & IVT_EV_SEND)
		want |= IVT_RING_WRITABLE;
	ready = ivt_ring_arm(&ep->ring, want);
	if (ready & IVT_RING_READABLE)
		out |= IVT_EV_RECV;
	if (ready & IVT_RING_WRITABLE)
		out |= IVT_EV_SEND;
	return (int)out;
}

static int shm_poll_fd(struct ivt_ep *ep) { return ep->own_efd; }

static void shm_ack(struct ivt_ep *ep)
{
	uint64_t v;
	/* Non-blocking; EAGAIN just means someone acked already. */
	if (read(ep->own_efd, &v, sizeof(v)) < 0)
		return;
}

static void shm_close(struct ivt_ep *ep)
{
	if (!ep)
		return;
	ivt_ring_close(&ep->ring);
	shm_ep_free(ep);
}

static int shm_stats(struct ivt_ep *ep, struct ivt_ep_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->bytes_sent = ep->ring.bytes_written;
	st->bytes_received = ep->ring.bytes_read;
	st->notifies_sent = ep->ring.notifies_sent;
	st->protocol_errors = ep->ring.protocol_errors;
	st->ring_size = ep->ring.wr_size;
	return 0;
}

static const struct ivt_plugin_ops shm_ops = {
	.abi_version = IVT_PLUGIN_ABI_VERSION,
	.ops_size = sizeof(struct ivt_plugin_ops),
	.name = "shm",
	.description = "memfd + eventfd rings between processes on one host",
	.caps = IVT_CAP_COLOCATED,
	.init = shm_init,
	.probe = shm_probe,
	.listen = shm_listen,
	.accept = shm_accept,
	.connect = shm_connect,
	.send = shm_send,
	.recv = shm_recv,
	.arm = shm_arm,
	.poll_fd = shm_poll_fd,
	.ack = shm_ack,
	.close = shm_close,
	.stats = shm_stats,
};

__attribute__((visibility("default"))) const struct ivt_plugin_ops *ivt_plugin_entry(uint32_t host_abi)
{
	(void)host_abi; /* the host checks our abi_version */
	return &shm_ops;
}
