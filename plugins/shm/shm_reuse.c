/* SPDX-License-Identifier: MIT */
/*
 * Rings kept for the next connection (park, peer_done, renew; libivt's
 * per-line ring pool, docs/conn-setup.md). A parked end keeps its mapping
 * and its end of the wake-up socket pair; a new connection on it costs no
 * memfd, socket pair, mmap, munmap or descriptor passing.
 *
 * Nothing new is trusted: the end that made the ring writes a fresh
 * header (ivt_ring_create), the other checks it as on any attach
 * (ivt_ring_attach), and every index stays checked on use (docs/ring.md).
 * The peer's fate stays the socket pair's: EOF on it is a process gone.
 */
#include <errno.h>
#include <sys/socket.h>

#include "shm_ep.h"

/* No system call beyond close's kick: a peer gone is seen by peer_done
 * or renew, whose drain is needed anyway. */
int shm_park(struct ivt_ep *ep)
{
	ivt_ring_close(&ep->ring); /* the peer reads our end of stream, as on close */
	if (ep->ring.broken || __atomic_load_n(&ep->peer_gone, __ATOMIC_ACQUIRE))
		return ep->ring.broken ? -EPROTO : -ECONNRESET;
	return 0;
}

/* The close mark first (no system call); only without it the socket
 * says whether the peer's process let go. */
int shm_peer_done(struct ivt_ep *ep)
{
	if (!__atomic_load_n(&ep->peer_gone, __ATOMIC_ACQUIRE) && ivt_ring_peer_closed(&ep->ring))
		return 1;
	shm_drain_wake(ep);
	if (__atomic_load_n(&ep->peer_gone, __ATOMIC_ACQUIRE))
		return -ECONNRESET;
	return ivt_ring_peer_closed(&ep->ring);
}

/* Everything queued on our socket, up to "nothing more" or its end
 * (shm_drain_wake stops at a short read, which cannot tell them apart). */
static int drain_to_end(struct ivt_ep *ep)
{
	uint8_t buf[256];
	for (;;) {
		ssize_t n = recv(ep->wake, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n == 0 || errno != EAGAIN)
			return -ECONNRESET; /* its process closed or lost its end */
		return 0;
	}
}

int shm_renew(struct ivt_ep *ep)
{
	/* Both ends closed this ring and neither kicks it again before the
	 * next attach: what is queued now is stale. A peer whose process
	 * let go is never renewed. */
	if (__atomic_load_n(&ep->peer_gone, __ATOMIC_ACQUIRE) || drain_to_end(ep) < 0)
		return -ECONNRESET;
	size_t ring_size = ep->ring.wr_size; /* our copy, agreed at the first setup */
	if (ep->ring.is_server)
		return ivt_ring_create(&ep->ring, ep->map, ep->map_len, ring_size, shm_kick, ep);
	int rc = ivt_ring_attach(&ep->ring, ep->map, ep->map_len, ring_size, shm_kick, ep);
	if (rc < 0) {
		shm_log(IVT_LOG_WARN, "reuse: shared ring header is invalid");
		return rc;
	}
	return ivt_ring_set_live(&ep->ring);
}
