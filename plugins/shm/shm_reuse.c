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

#include "shm_ep.h"

int shm_park(struct ivt_ep *ep)
{
	ivt_ring_close(&ep->ring); /* the peer reads our end of stream, as on close */
	shm_drain_wake(ep);
	if (ep->ring.broken || __atomic_load_n(&ep->peer_gone, __ATOMIC_ACQUIRE))
		return ep->ring.broken ? -EPROTO : -ECONNRESET;
	return 0;
}

int shm_peer_done(struct ivt_ep *ep)
{
	shm_drain_wake(ep);
	if (__atomic_load_n(&ep->peer_gone, __ATOMIC_ACQUIRE))
		return -ECONNRESET;
	return ivt_ring_peer_closed(&ep->ring);
}

int shm_renew(struct ivt_ep *ep)
{
	/* Both ends closed this ring and neither kicks it again before the
	 * next attach: what is queued now is stale. */
	shm_drain_wake(ep);
	if (__atomic_load_n(&ep->peer_gone, __ATOMIC_ACQUIRE))
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
