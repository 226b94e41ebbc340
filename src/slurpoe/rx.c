/* SPDX-License-Identifier: MIT */
/*
 * Receiving side: duplicate detection, the reordering buffer, in-order
 * delivery of reliable frames, and the credit (window) we advertise.
 */
#include <string.h>

#include "engine_int.h"

#define STALL 1 /* frame needs stream buffer space: keep it, retry after a read */

uint16_t slp_rx_window(struct slp_conn *c)
{
	uint32_t frames = c->e->cap - 1;
	/* Only stream data needs buffer space, but any frame may be DATA. */
	size_t room = (c->rcvbuf.cap - c->rcvbuf.len) / c->peer_max_payload;
	if (room < frames)
		frames = (uint32_t)room;
	return (uint16_t)frames;
}

/* The frame at rcv_nxt with its payload decrypted (into the engine's
 * buffer: a stalled frame is decrypted again when retried). */
static const struct slp_pkt *plain(struct slp_conn *c, const struct slp_pkt *p,
				   struct slp_pkt *q)
{
	if (!c->encrypt || !p->payload_len)
		return p;
	*q = *p;
	slp_conn_crypt(c, 0, c->rcv_ext, c->e->plain, p->payload, p->payload_len);
	q->payload = c->e->plain;
	return q;
}

static int deliver(struct slp_conn *c, const struct slp_pkt *p)
{
	struct slp_engine *e = c->e;
	struct slp_pkt q;
	switch (p->type) {
	case SLP_DATA:
		if (c->peer_fin) { /* data after CLOSE: the peer is broken */
			e->st.rx_proto_error++;
			return 0;
		}
		if (c->rcvbuf.cap - c->rcvbuf.len < p->payload_len)
			return STALL;
		p = plain(c, p, &q);
		size_t took = slp_rx_to_sink(c, p->payload, p->payload_len);
		if (took < p->payload_len) {
			slp_bytes_put(&c->rcvbuf, p->payload + took, p->payload_len - took);
			slp_mark(c, SLP_EV_READABLE);
		}
		return 0;
	case SLP_RDMA_WRITE:
	case SLP_RDMA_READ_REQ:
	case SLP_RDMA_READ_RESP:
	case SLP_NACK:
		slp_ops_process(c, plain(c, p, &q));
		return 0;
	case SLP_CLOSE:
		if (!c->peer_fin) {
			c->peer_fin = 1;
			slp_mark(c, SLP_EV_READABLE);
		}
		return 0;
	default: /* CONNECT/ACCEPT can't be in the stream */
		e->st.rx_proto_error++;
		return 0;
	}
}

/* Deliver the frame at rcv_nxt and everything buffered behind it. */
static void drain(struct slp_conn *c)
{
	uint32_t m = c->e->cap - 1;
	while (c->state != SLP_ST_FAILED) {
		struct slp_rxslot *s = &c->rx[c->rcv_nxt & m];
		if (!s->present)
			break;
		struct slp_pkt p;
		if (slp_parse_trailer(s->frame, s->len, c->e->trailer, &p) != SLP_OK) { /* validated when stored */
			s->present = 0;
			break;
		}
		if (deliver(c, &p) == STALL)
			break;
		s->present = 0;
		c->rcv_nxt++;
		c->rcv_ext++;
	}
}

void slp_rx_frame(struct slp_conn *c, const struct slp_pkt *p, const uint8_t *frame, size_t len)
{
	struct slp_engine *e = c->e;
	uint32_t off = p->seq - c->rcv_nxt;
	c->ack_pending = 1; /* every reliable frame is answered, duplicates too */
	if (slp_seq_lt(p->seq, c->rcv_nxt)) {
		e->st.rx_duplicate++;
		c->ack_urgent = 1;
		return;
	}
	if (off >= e->cap) {
		e->st.rx_out_of_window++;
		c->ack_urgent = 1;
		return;
	}
	struct slp_rxslot *s = &c->rx[p->seq & (e->cap - 1)];
	if (s->present) {
		e->st.rx_duplicate++;
		c->ack_urgent = 1;
		return;
	}
	if (off == 0 && deliver(c, p) != STALL) {
		c->rcv_nxt++;
		c->rcv_ext++;
		drain(c);
		return;
	}
	memcpy(s->frame, frame, len);
	s->len = (uint16_t)len;
	s->present = 1;
	c->ack_urgent = 1; /* a hole: the SACK drives the fast retransmit */
}

void slp_rx_after_read(struct slp_conn *c)
{
	drain(c);
	uint16_t w = slp_rx_window(c);
	/* Tell a sender we throttled that it may go on (a quarter window of
	 * news is worth a frame). */
	if (c->state == SLP_ST_OPEN && w > c->adv_window &&
	    (c->adv_window == 0 || (uint32_t)(w - c->adv_window) >= c->e->cap / 4))
		slp_tx_send_ack(c, 0);
}
