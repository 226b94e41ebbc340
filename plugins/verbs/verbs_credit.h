/* SPDX-License-Identifier: MIT */
/*
 * Credit-based flow control of the verbs byte pipe (pure code).
 *
 * Each end pre-posts data_slots + ctrl_slots + 1 receive buffers. The peer
 * may have at most data_slots DATA/REGION messages, ctrl_slots CREDIT/READY
 * messages and one CLOSE message outstanding, so a SEND never finds the
 * receive queue empty (no RNR stalls, no overrun).
 *
 *  - DATA-class buffers are re-posted once the user has read them; their
 *    count is returned to the sender in the next header (piggy-backed), or
 *    in a CREDIT message once data_to_return reaches the threshold.
 *  - CTRL-class buffers are re-posted at once; their count is piggy-backed
 *    on the next message of any type and never triggers a message of its
 *    own, so credit updates cannot ping-pong. A CREDIT message always
 *    returns >= 1 data credit, so the peer can always answer with a message
 *    that carries our ctrl credits back: no deadlock (see docs/verbs.md).
 *
 * Every count the peer reports is checked; a lie is -EPROTO.
 */
#ifndef IVT_VERBS_CREDIT_H
#define IVT_VERBS_CREDIT_H

#include <stdint.h>

#include "verbs_wire.h"

struct vc_credit {
	/* what the peer granted us */
	uint32_t peer_data_slots, peer_ctrl_slots;
	uint32_t data_credits, ctrl_credits;
	int close_sent;
	/* what we granted the peer */
	uint32_t my_data_slots, my_ctrl_slots;
	uint32_t data_held;      /* DATA-class buffers the user has not consumed */
	uint32_t data_to_return; /* re-posted, the peer not yet told */
	uint32_t ctrl_to_return;
	int close_seen;
	uint32_t threshold; /* send a CREDIT message at this many data_to_return */
};

void vc_init(struct vc_credit *c, uint32_t my_data, uint32_t my_ctrl, uint32_t peer_data,
	     uint32_t peer_ctrl);

/* Reserve the credit a message of this class needs: 0, -EAGAIN (none
 * left), -EPIPE (CLOSE already sent). */
int vc_take(struct vc_credit *c, enum vw_class cls);
/* Give back a credit taken for a message that was then not posted. */
void vc_untake(struct vc_credit *c, enum vw_class cls);

/* Move the pending returns into an outgoing header. */
void vc_fill(struct vc_credit *c, struct vw_hdr *h);

/* Account a validated incoming header: credits it returns and the receive
 * buffer it occupies. 0 or -EPROTO (the peer broke the protocol). */
int vc_on_recv(struct vc_credit *c, const struct vw_hdr *h);

/* The user finished a DATA-class buffer and it was re-posted. */
void vc_on_data_reposted(struct vc_credit *c);

/* Should an explicit CREDIT message go out now? (does not take the credit) */
int vc_want_credit_msg(const struct vc_credit *c);

#endif
