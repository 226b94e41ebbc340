/* SPDX-License-Identifier: MIT */
/*
 * The guest side of docs/xenstore.md: a channel end's control path to
 * ivtd through XenStore, for Xen guests, which have no control socket.
 *
 *   open:  write /local/domain/<self>/data/ivt/<name>/request with a fresh
 *          seq, watch .../response and .../event, accept only the response
 *          carrying our seq (older ones are stale), check it strictly
 *   news:  .../event "peer=connected|closed|died" -> enum ivt_peer_event,
 *          the same state the local socket's PEER messages produce
 *   close: remove the request node (ivtd tells the peer "closed")
 *
 * Values are formatted and parsed by common/xs_request.c and
 * common/xs_response.c, the code ivtd uses for the other side. There is
 * no setup channel: the only backend that works over XenStore is vchan,
 * which takes the ring path and the peer's domain from the response.
 *
 * The transport itself is reached through struct ivt_ctrl (ctrl.h,
 * ivt_ctrl_xs_new); this header exposes the pure check of an answer.
 */
#ifndef IVT_LIBIVT_XS_CONN_H
#define IVT_LIBIVT_XS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctrl_proto.h"
#include "common/xs_response.h"

/* Turn ivtd's parsed "ok" response to our request into what channel.c
 * gets from the local socket. listen: our end; self: our domid. Refuses
 * (-EPROTO, reason in why) what an honest ivtd never writes: a ring that
 * is not a power of two in [IVT_XS_RING_MIN, IVT_XS_RING_MAX], a path
 * outside the server's /local/domain/<srv>/data/ivt or longer than
 * libxenvchan can use. (A missing path is checked against the backend's
 * IVT_CAP_XS_PATH once its plugin is loaded, channel.c.) */
int ivt_xs_answer_to_open_ok(const struct ivt_xs_response *r, int listen, uint32_t self,
			     struct ivt_ctrl_open_ok *ok, char *why, size_t why_len);

#endif
