/* SPDX-License-Identifier: MIT */
/* The shm transport: ops table, byte pipe and wake-ups over common/ring. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

static void note_peer_gone(struct ivt_ep *ep) { __atomic_store_n(&ep->peer_gone, 1, __ATOMIC_RELEASE); }

static int peer_gone(struct ivt_ep *ep) { return __atomic_load_n(&ep->peer_gone, __ATOMIC_ACQUIRE); }

int shm_kick(void *ctx)
{
	struct ivt_ep *ep = ctx;
	const uint8_t one = 1;
	/* MSG_DONTWAIT per call: whatever anyone did to the file's flags, a
	 * kick never blocks. EAGAIN: the peer has wake-ups queued already. */
	while (send(ep->wake, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			note_peer_gone(ep); /* nobody left to wake; the ring reports it */
		else if (errno != EAGAIN)
			return -errno;
		break;
	}
	return 0;
}

void shm_drain_wake(struct ivt_ep *ep)
{
	uint8_t buf[256];
	for (;;) {
		ssize_t n = recv(ep->wake, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == (ssize_t)sizeof(buf) || (n < 0 && errno == EINTR))
			continue;
		if (n == 0 || (n < 0 && errno != EAGAIN))
			note_peer_gone(ep); /* its process closed or lost its end */
		return;
	}
}

struct ivt_ep *shm_ep_new(void)
{
	struct ivt_ep *ep = calloc(1, sizeof(*ep));
	if (ep)
		ep->wake = -1;
	return ep;
}

void shm_ep_free(struct ivt_ep *ep)
{
	if (!ep)
		return;
	if (ep->map)
		munmap(ep->map, ep->map_len);
	if (ep->wake >= 0)
		close(ep->wake);
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
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		int e = errno;
		snprintf(why, why_len, "socketpair: %s", strerror(e));
		return -e;
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}

/* The peer's process let go of the pair: a clean end if its ring says it
 * closed first, else it died. */
static int gone_error(struct ivt_ep *ep)
{
	/* A ring offered (a direct line) that the peer never attached to:
	 * refused, or its listener closed with it queued: TCP's refusal. */
	if (!ivt_ring_peer_attached(&ep->ring))
		return -ECONNREFUSED;
	return ivt_ring_peer_closed(&ep->ring) ? -EPIPE : -ECONNRESET;
}

static ssize_t shm_send(struct ivt_ep *ep, const void *buf, size_t len)
{
	if (peer_gone(ep) && !ep->ring.broken)
		return gone_error(ep); /* nobody will ever read it */
	return ivt_ring_write(&ep->ring, buf, len);
}

static ssize_t shm_recv(struct ivt_ep *ep, void *buf, size_t len)
{
	ssize_t n = ivt_ring_read(&ep->ring, buf, len);
	if (n != -EAGAIN || !peer_gone(ep))
		return n;
	/* Gone: what it published before is still ours to read, then the end. */
	n = ivt_ring_read(&ep->ring, buf, len);
	return n == -EAGAIN ? (ivt_ring_peer_attached(&ep->ring) ? -ECONNRESET : -ECONNREFUSED) : n;
}

static ssize_t shm_send_reserve(struct ivt_ep *ep, size_t want, void **ptr, size_t *space)
{
	if (peer_gone(ep) && !ep->ring.broken)
		return gone_error(ep); /* as send: nobody will ever read it */
	return ivt_ring_reserve(&ep->ring, want, ptr, space);
}

static int shm_send_commit(struct ivt_ep *ep, size_t len)
{
	return ivt_ring_commit(&ep->ring, len);
}

static ssize_t shm_recv_peek(struct ivt_ep *ep, const void **ptr)
{
	ssize_t n = ivt_ring_peek(&ep->ring, ptr);
	if (n != -EAGAIN || !peer_gone(ep))
		return n;
	/* as shm_recv: what it published before it went is still ours */
	n = ivt_ring_peek(&ep->ring, ptr);
	return n == -EAGAIN ? (ivt_ring_peer_attached(&ep->ring) ? -ECONNRESET : -ECONNREFUSED) : n;
}

static int shm_recv_consume(struct ivt_ep *ep, size_t len)
{
	return ivt_ring_consume(&ep->ring, len);
}

static int shm_arm(struct ivt_ep *ep, unsigned events)
{
	unsigned want = 0, ready, out = 0;
	if (peer_gone(ep)) /* the calls report it now; nothing will kick us */
		return (int)(events & (IVT_EV_RECV | IVT_EV_SEND));
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

/* The ring's indices only: what arm reports, without asking for a kick. */
static int shm_ready(struct ivt_ep *ep, unsigned events)
{
	if (peer_gone(ep)) /* the calls report it now */
		return (int)(events & (IVT_EV_RECV | IVT_EV_SEND));
	unsigned ready = ivt_ring_ready(&ep->ring), out = 0;
	if ((events & IVT_EV_RECV) && (ready & IVT_RING_READABLE))
		out |= IVT_EV_RECV;
	if ((events & IVT_EV_SEND) && (ready & IVT_RING_WRITABLE))
		out |= IVT_EV_SEND;
	return (int)out;
}

static int shm_poll_fd(struct ivt_ep *ep) { return ep->wake; }

static void shm_ack(struct ivt_ep *ep) { shm_drain_wake(ep); }

static void shm_close(struct ivt_ep *ep)
{
	if (!ep)
		return;
	ivt_ring_close(&ep->ring);
	shm_ep_free(ep);
}

/* A forked copy let go: the ring and the wake-up socket stay the other
 * holder's; no close mark (ivt_forget). */
static void shm_forget(struct ivt_ep *ep) { shm_ep_free(ep); }

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
	.description = "memfd rings and socketpair wake-ups between processes on one host",
	.caps = IVT_CAP_COLOCATED | IVT_CAP_PEER_FATE,
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
	.send_reserve = shm_send_reserve,
	.send_commit = shm_send_commit,
	.ready = shm_ready,
	.recv_peek = shm_recv_peek,
	.recv_consume = shm_recv_consume,
	.forget = shm_forget,
	.park = shm_park,
	.peer_done = shm_peer_done,
	.renew = shm_renew,
};

__attribute__((visibility("default"))) const struct ivt_plugin_ops *ivt_plugin_entry(uint32_t host_abi)
{
	(void)host_abi; /* the host checks our abi_version */
	return &shm_ops;
}
