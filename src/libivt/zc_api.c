/* SPDX-License-Identifier: MIT */
/* Zero-copy send: ivt_send_reserve / ivt_send_commit (ivt.h; the frame
 * side is tx_zc.c). */
#include <errno.h>

#include "channel.h"
#include "errors.h"

IVT_EXPORT size_t ivt_send_reserve_max(ivt_channel *ch)
{
	if (!ch || ch->spill || ch->native)
		return 0;
	return ivt_xport_reserve_max(&ch->xp);
}

IVT_EXPORT int ivt_send_reserve(ivt_channel *ch, size_t len, void **ptr)
{
	if (!ch || !ptr)
		return ivt_einval(__func__);
	*ptr = NULL;
	int rc = chan_send_ready(ch);
	if (rc)
		return rc;
	/* parked spill bytes would have to go first: not combined (ivt.h) */
	if (ch->spill)
		return -EOPNOTSUPP;
	if (!atomic_load(&ch->nonblock)) {
		struct timed_wait t;
		struct ivt_waiter w = chan_send_waiter(ch, &t);
		return chan_send_error(ch, ivt_xport_reserve(&ch->xp, len, ptr, &w));
	}
	for (int tries = 0;;) {
		rc = ivt_xport_reserve(&ch->xp, len, ptr, NULL);
		if (rc != -EAGAIN)
			return rc < 0 ? chan_send_error(ch, rc) : 0;
		int again = chan_retry_nonblock(ch, IVT_EV_SEND, &tries);
		if ((rc = chan_peer_send_error(ch)))
			return rc;
		if (!again)
			return -EAGAIN;
	}
}

IVT_EXPORT int ivt_send_commit(ivt_channel *ch, void *ptr, size_t n)
{
	if (!ch)
		return ivt_einval(__func__);
	int rc = ivt_xport_commit(&ch->xp, ptr, n);
	if (rc == -EINVAL)
		ivt_reason_set(rc, "ivt_send_commit: %s", !ch->xp.tx.resv ? "no reservation is open"
			       : !ptr ? "ptr is NULL with n > 0 (cancel with NULL, 0)"
			       : "ptr is not the open reservation's, or n is larger than reserved");
	return chan_send_error(ch, rc);
}
