/* SPDX-License-Identifier: MIT */
/* Half-close on the send side: the FIN frame (docs/framing.md, "Half-close"). */
#include <errno.h>
#include <stdlib.h>

#include "xport.h"

/* tx lock held: the FIN behind the frame begun and everything queued
 * (the peer reads all we sent, then the end); once only. */
static int queue_fin_locked(struct ivt_xport *xp)
{
	if (xp->tx.err)
		return xp->tx.err;
	if (atomic_load(&xp->tx.fin))
		return 0;
	struct tx_item *it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->kind = TXI_CTRL;
	it->head_len = ivt_frame_encode(it->head, IVT_FRAME_FIN, 0, NULL, 0);
	ivt_tx_enqueue(xp, it);
	atomic_store(&xp->tx.fin, 1);
	return 0;
}

static int fin_usable(struct ivt_xport *xp)
{
	if (atomic_load(&xp->broken))
		return -EPROTO;
	return xp->tx.resv ? -EBUSY : 0; /* this thread's open reservation holds the send side */
}

int ivt_xport_shutdown_wr(struct ivt_xport *xp, const struct ivt_waiter *w)
{
	int rc = fin_usable(xp);
	if (rc)
		return rc;
	pthread_mutex_lock(&xp->tx_lock);
	rc = queue_fin_locked(xp);
	if (!rc)
		rc = ivt_tx_flush_locked(xp, w);
	ivt_tx_unlock(xp);
	return rc;
}

int ivt_xport_queue_fin(struct ivt_xport *xp)
{
	int rc = fin_usable(xp);
	if (rc)
		return rc;
	pthread_mutex_lock(&xp->tx_lock);
	rc = queue_fin_locked(xp);
	pthread_mutex_unlock(&xp->tx_lock); /* no flush: the pipe may not be up yet */
	return rc;
}
