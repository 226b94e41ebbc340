/* SPDX-License-Identifier: MIT */
/* Half-close on the send side: the FIN frame (docs/framing.md, "Half-close"). */
#include <errno.h>
#include <stdlib.h>

#include "xport.h"

int ivt_xport_shutdown_wr(struct ivt_xport *xp, const struct ivt_waiter *w)
{
	if (atomic_load(&xp->broken))
		return -EPROTO;
	if (xp->tx.resv)
		return -EBUSY; /* this thread's open reservation holds the send side */
	pthread_mutex_lock(&xp->tx_lock);
	int rc = xp->tx.err;
	if (!rc && !atomic_load(&xp->tx.fin)) {
		struct tx_item *it = calloc(1, sizeof(*it));
		if (!it) {
			rc = -ENOMEM;
		} else {
			/* behind the frame begun and everything queued: the
			 * peer reads all we sent, then the end */
			it->kind = TXI_CTRL;
			it->head_len = ivt_frame_encode(it->head, IVT_FRAME_FIN, 0, NULL, 0);
			ivt_tx_enqueue(xp, it);
			atomic_store(&xp->tx.fin, 1);
		}
	}
	if (!rc)
		rc = ivt_tx_flush_locked(xp, w);
	ivt_tx_unlock(xp);
	return rc;
}
