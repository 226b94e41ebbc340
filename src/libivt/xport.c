/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "xport.h"

void ivt_xport_init(struct ivt_xport *xp, const struct ivt_plugin_ops *ops, struct ivt_ep *ep,
		    size_t ring_size)
{
	memset(xp, 0, sizeof(*xp));
	xp->ops = ops;
	xp->ep = ep;
	/* Half a ring per frame: the receiver can drain one half while the
	 * sender fills the other, so the stream never stalls on a whole frame. */
	size_t chunk = ring_size / 2;
	if (chunk > IVT_FRAME_PAYLOAD_MAX)
		chunk = IVT_FRAME_PAYLOAD_MAX;
	xp->chunk = chunk ? chunk : 1;
	pthread_mutex_init(&xp->tx_lock, NULL);
	pthread_mutex_init(&xp->rx_lock, NULL);
	pthread_mutex_init(&xp->tx.q_lock, NULL);
	ivt_rx_init(&xp->rx);
	ivt_regions_init(&xp->regions);
	ivt_track_init(&xp->track);
}

void ivt_xport_fini(struct ivt_xport *xp)
{
	ivt_tx_fini(xp);
	ivt_rx_fini(&xp->rx);
	ivt_track_fini(&xp->track);
	ivt_regions_fini(&xp->regions);
	pthread_mutex_destroy(&xp->tx.q_lock);
	pthread_mutex_destroy(&xp->rx_lock);
	pthread_mutex_destroy(&xp->tx_lock);
}
