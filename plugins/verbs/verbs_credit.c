/* SPDX-License-Identifier: MIT */
#include "verbs_credit.h"

#include <errno.h>
#include <string.h>

void vc_init(struct vc_credit *c, uint32_t my_data, uint32_t my_ctrl, uint32_t peer_data,
	     uint32_t peer_ctrl)
{
	memset(c, 0, sizeof(*c));
	c->my_data_slots = my_data;
	c->my_ctrl_slots = my_ctrl;
	c->peer_data_slots = c->data_credits = peer_data;
	c->peer_ctrl_slots = c->ctrl_credits = peer_ctrl;
	/* A quarter of the window: updates are rare, the sender rarely stalls. */
	c->threshold = my_data / 4 ? my_data / 4 : 1;
}

int vc_take(struct vc_credit *c, enum vw_class cls)
{
	switch (cls) {
	case VW_CLASS_DATA:
		if (!c->data_credits)
			return -EAGAIN;
		c->data_credits--;
		return 0;
	case VW_CLASS_CTRL:
		if (!c->ctrl_credits)
			return -EAGAIN;
		c->ctrl_credits--;
		return 0;
	case VW_CLASS_CLOSE:
		if (c->close_sent)
			return -EPIPE;
		c->close_sent = 1;
		return 0;
	}
	return -EINVAL;
}

void vc_untake(struct vc_credit *c, enum vw_class cls)
{
	if (cls == VW_CLASS_DATA && c->data_credits < c->peer_data_slots)
		c->data_credits++;
	else if (cls == VW_CLASS_CTRL && c->ctrl_credits < c->peer_ctrl_slots)
		c->ctrl_credits++;
	else if (cls == VW_CLASS_CLOSE)
		c->close_sent = 0;
}

void vc_fill(struct vc_credit *c, struct vw_hdr *h)
{
	h->credits_returned = c->data_to_return;
	/* ctrl_slots <= VW_MAX_CTRL_SLOTS < 256, so this always fits. */
	h->ctrl_returned = (uint8_t)c->ctrl_to_return;
	c->data_to_return = 0;
	c->ctrl_to_return = 0;
}

int vc_on_recv(struct vc_credit *c, const struct vw_hdr *h)
{
	/* Returned credits can only be ones we used and not yet got back. */
	if (h->credits_returned > c->peer_data_slots - c->data_credits)
		return -EPROTO;
	if (h->ctrl_returned > c->peer_ctrl_slots - c->ctrl_credits)
		return -EPROTO;
	/* An honest peer never has more buffers of a class in use than we
	 * granted: held + not-yet-returned <= slots. */
	switch (vw_msg_class(h->type)) {
	case VW_CLASS_DATA:
		if (c->data_held + c->data_to_return >= c->my_data_slots)
			return -EPROTO;
		c->data_held++;
		break;
	case VW_CLASS_CTRL:
		if (c->ctrl_to_return >= c->my_ctrl_slots)
			return -EPROTO;
		/* A CREDIT that returns nothing would make updates ping-pong. */
		if (h->type == VW_MSG_CREDIT && h->credits_returned == 0)
			return -EPROTO;
		c->ctrl_to_return++;
		break;
	case VW_CLASS_CLOSE:
		if (c->close_seen)
			return -EPROTO;
		c->close_seen = 1;
		break;
	}
	c->data_credits += h->credits_returned;
	c->ctrl_credits += h->ctrl_returned;
	return 0;
}

void vc_on_data_reposted(struct vc_credit *c)
{
	if (c->data_held) {
		c->data_held--;
		c->data_to_return++;
	}
}

int vc_want_credit_msg(const struct vc_credit *c)
{
	return c->data_to_return >= c->threshold && c->ctrl_credits > 0 && !c->close_sent;
}
