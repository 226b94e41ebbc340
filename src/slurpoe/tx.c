/* SPDX-License-Identifier: MIT */
/*
 * Sending side: cutting queued work into sequence-numbered frames, the
 * sender window, cumulative/selective acknowledgement, RTT estimation
 * (Jacobson/Karels with Karn's rule) and retransmission (fast on SACK
 * evidence, timeout-driven with exponential backoff otherwise).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

#define BODY(f) ((f) + SLP_ETH_HLEN + SLP_HDR_LEN)

static uint32_t mask(const struct slp_conn *c) { return c->e->cap - 1; }

uint32_t slp_tx_announced_next(const struct slp_conn *c) { return c->snd_nxt + c->ctrl_frames; }

int slp_tx_all_acked(const struct slp_conn *c) { return c->snd_una == c->snd_nxt; }

static uint32_t resp_payload(const struct slp_conn *c)
{
	return c->peer_max_payload - SLP_EXT_READ_RESP;
}

static uint32_t ctrl_frame_count(const struct slp_conn *c, const struct slp_ctrl *x)
{
	if (x->type == SLP_NACK)
		return 1;
	uint32_t p = resp_payload(c);
	return (x->len - x->cut + p - 1) / p;
}

int slp_tx_queue_ctrl(struct slp_conn *c, struct slp_ctrl *x)
{
	uint32_t n = ctrl_frame_count(c, x);
	if (c->n_ctrl >= SLP_MAX_PENDING_CTRL || c->ctrl_frames + n > (1u << 22))
		return -ENOBUFS;
	x->next = NULL;
	*c->ctrl_tail = x;
	c->ctrl_tail = &x->next;
	c->n_ctrl++;
	c->ctrl_frames += n;
	return 0;
}

/* Flags of every frame after the handshake. */
static uint16_t data_flags(const struct slp_conn *c)
{
	return SLP_F_ACK | (c->tx_nocrc ? SLP_F_NOCRC : 0);
}

/* Header for the frame whose body (extension + payload) is already in the
 * slot; takes sequence number snd_nxt. */
static void seal_slot(struct slp_conn *c, uint8_t type, size_t body_len)
{
	struct slp_engine *e = c->e;
	struct slp_txslot *s = &c->tx[c->snd_nxt & mask(c)];
	slp_slot_reclaim(e, s);
	struct slp_out o = {.dst_mac = c->peer_mac, .src_mac = e->cfg.mac, .type = type,
			    .flags = data_flags(c), .src_ep = c->local_ep, .dst_ep = c->peer_ep,
			    .seq = c->snd_nxt};
	if (c->encrypt && slp_type_has_payload(type)) { /* once: retransmissions reuse it */
		uint8_t *pl = BODY(s->frame) + slp_ext_len(type);
		slp_conn_crypt(c, 1, c->snd_ext, pl, pl, body_len - (size_t)slp_ext_len(type));
	}
	s->len = (uint16_t)slp_build_crc(s->frame, &o, body_len, &s->body_crc);
	s->sacked = s->retx = 0;
	s->last_tx = 0;
	c->snd_nxt++;
	c->snd_ext++;
}

/* Where the next frame's body goes (its slot reclaimed from the driver). */
static uint8_t *slot_body(struct slp_conn *c)
{
	struct slp_txslot *s = &c->tx[c->snd_nxt & mask(c)];
	slp_slot_reclaim(c->e, s);
	return BODY(s->frame);
}

static void pop_ctrl(struct slp_conn *c)
{
	struct slp_ctrl *x = c->ctrl;
	c->ctrl = x->next;
	if (!c->ctrl)
		c->ctrl_tail = &c->ctrl;
	c->n_ctrl--;
	free(x);
}

static void cut_ctrl(struct slp_conn *c)
{
	struct slp_ctrl *x = c->ctrl;
	uint8_t *b = slot_body(c);
	c->ctrl_frames--;
	if (x->type == SLP_RDMA_READ_RESP && !x->abort_err) {
		uint32_t n = x->len - x->cut;
		if (n > resp_payload(c))
			n = resp_payload(c);
		uint8_t *src;
		/* Re-checked per fragment: the region may be gone by now. */
		int err = slp_region_check(c, x->key, x->offset + x->cut, n, SLP_ACCESS_READ, &src);
		if (!err) {
			slp_put32(b, x->msg_id);
			slp_put32(b + 4, x->cut);
			memcpy(b + SLP_EXT_READ_RESP, src, n);
			seal_slot(c, SLP_RDMA_READ_RESP, SLP_EXT_READ_RESP + n);
			x->cut += n;
			if (x->cut == x->len)
				pop_ctrl(c);
			return;
		}
		x->abort_err = (uint16_t)-err;
	}
	/* NACK, or one of the NACKs standing in for an aborted response (the
	 * frame count was announced, so it must not shrink). */
	slp_put32(b, x->msg_id);
	slp_put16(b + 4, x->type == SLP_NACK ? x->nack_op : SLP_RDMA_READ_REQ);
	slp_put16(b + 6, x->type == SLP_NACK ? x->nack_err : x->abort_err);
	seal_slot(c, SLP_NACK, SLP_EXT_NACK);
	c->e->st.nacks_sent++;
	if (x->type == SLP_NACK) {
		pop_ctrl(c);
		return;
	}
	uint32_t n = x->len - x->cut;
	x->cut += n < resp_payload(c) ? n : resp_payload(c);
	if (x->cut == x->len)
		pop_ctrl(c);
}

static void cut_data(struct slp_conn *c, uint64_t limit)
{
	size_t n = c->sndbuf.len;
	if (n > limit)
		n = (size_t)limit;
	if (n > c->peer_max_payload)
		n = c->peer_max_payload;
	slp_bytes_get(&c->sndbuf, slot_body(c), n);
	seal_slot(c, SLP_DATA, n);
	c->stream_cut += n;
	if (!c->sndbuf.len)
		c->corked = 0;
	if (c->want_writable) {
		c->want_writable = 0;
		slp_mark(c, SLP_EV_WRITABLE);
	}
}

size_t slp_tx_direct_room(struct slp_conn *c, uint8_t **dst)
{
	/* Only when nothing is queued ahead of these bytes: no buffered stream,
	 * no operation or debt to the peer that would have to go first. */
	if (c->state != SLP_ST_OPEN || c->sndbuf.len || c->ops || c->ctrl)
		return 0;
	uint32_t lim = c->peer_window < c->e->cap ? c->peer_window : c->e->cap;
	if (c->snd_nxt - c->snd_una >= lim)
		return 0;
	*dst = slot_body(c);
	return c->peer_max_payload;
}

void slp_tx_direct_seal(struct slp_conn *c, size_t n)
{
	seal_slot(c, SLP_DATA, n);
	c->stream_cut += n; /* the caller counts them as posted */
}

size_t slp_tx_cut_direct(struct slp_conn *c, const uint8_t *buf, size_t len, int whole)
{
	size_t done = 0, room;
	uint8_t *dst;
	while (done < len && (room = slp_tx_direct_room(c, &dst))) {
		if (whole && len - done < room)
			break;
		size_t n = len - done < room ? len - done : room;
		memcpy(dst, buf + done, n);
		slp_tx_direct_seal(c, n);
		done += n;
	}
	return done;
}

size_t slp_tx_cut_joined(struct slp_conn *c, const uint8_t *buf, size_t len)
{
	struct slp_bytes *b = &c->sndbuf;
	uint32_t lim = c->peer_window < c->e->cap ? c->peer_window : c->e->cap;
	size_t have = b->len, take = c->peer_max_payload - have;
	if (!c->corked || c->state != SLP_ST_OPEN || c->ops || c->ctrl ||
	    have >= c->peer_max_payload || have + len < c->peer_max_payload ||
	    c->snd_nxt - c->snd_una >= lim)
		return 0;
	uint8_t *dst = slot_body(c);
	slp_bytes_get(b, dst, have);
	memcpy(dst + have, buf, take);
	seal_slot(c, SLP_DATA, c->peer_max_payload);
	c->stream_cut += c->peer_max_payload;
	c->corked = 0;
	return take; /* the caller counts them as posted */
}

static struct slp_work *pop_op(struct slp_conn *c)
{
	struct slp_work *op = c->ops;
	c->ops = op->next;
	if (!c->ops)
		c->ops_tail = &c->ops;
	op->next = NULL;
	return op;
}

static void cut_write(struct slp_conn *c, struct slp_work *op)
{
	uint8_t *b = slot_body(c);
	uint32_t n = op->len - op->cut, room = c->peer_max_payload - SLP_EXT_WRITE;
	if (n > room)
		n = room;
	slp_put64(b, op->key);
	slp_put64(b + 8, op->offset);
	slp_put32(b + 16, op->msg_id);
	slp_put32(b + 20, op->len);
	slp_put32(b + 24, op->cut);
	slp_put32(b + 28, 0);
	memcpy(b + SLP_EXT_WRITE, op->wbuf + op->cut, n);
	op->last_seq = c->snd_nxt;
	seal_slot(c, SLP_RDMA_WRITE, SLP_EXT_WRITE + n);
	op->cut += n;
	if (op->cut == op->len) {
		pop_op(c);
		free(op->wbuf); /* the frames hold the data now */
		op->wbuf = NULL;
		*c->wait_tail = op;
		c->wait_tail = &op->next;
	}
}

static void cut_read_req(struct slp_conn *c, struct slp_work *op)
{
	uint8_t *b = slot_body(c);
	slp_put64(b, op->key);
	slp_put64(b + 8, op->offset);
	slp_put32(b + 16, op->msg_id);
	slp_put32(b + 20, op->len);
	seal_slot(c, SLP_RDMA_READ_REQ, SLP_EXT_READ_REQ);
	pop_op(c);
	op->next = c->reads;
	c->reads = op;
}

static void cut_close(struct slp_conn *c)
{
	c->fin_seq = c->snd_nxt;
	c->fin_sent_seq_valid = 1;
	seal_slot(c, SLP_CLOSE, 0);
	free(pop_op(c));
}

/* Cut one frame from pending work: our debts to the peer first (NACKs,
 * read responses), then stream bytes and operations in posting order. */
static int cut_next(struct slp_conn *c)
{
	if (c->ctrl) {
		cut_ctrl(c);
		return 1;
	}
	struct slp_work *op = c->ops;
	if (c->stream_cut < c->stream_posted && (!op || op->stream_pos > c->stream_cut)) {
		if (c->corked && !op && c->sndbuf.len < c->peer_max_payload)
			return 0; /* a short frame waits for more bytes or the push */
		cut_data(c, op ? op->stream_pos - c->stream_cut : UINT64_MAX);
		return 1;
	}
	if (!op)
		return 0;
	switch (op->kind) {
	case OP_WRITE: cut_write(c, op); break;
	case OP_READ: cut_read_req(c, op); break;
	case OP_CLOSE: cut_close(c); break;
	}
	return 1;
}

static void send_slot(struct slp_conn *c, uint32_t seq, uint64_t now)
{
	struct slp_txslot *s = &c->tx[seq & mask(c)];
	uint8_t type = s->frame[SLP_ETH_HLEN + 1];
	int is_connect = type == SLP_CONNECT;
	if (is_connect && c->offer_nocrc && s->retx + 1 >= SLP_NOCRC_OFFER_TRIES)
		slp_conn_withdraw_nocrc(c);
	uint16_t w = slp_rx_window(c);
	uint16_t flags = is_connect ? 0 : type == SLP_ACCEPT ? SLP_F_ACK : data_flags(c);
	slp_refresh_crc(s->frame, flags, is_connect ? 0 : c->rcv_nxt,
			slp_tx_announced_next(c), w, s->body_crc);
	if (!is_connect) {
		c->ack_pending = c->ack_urgent = 0;
		c->rcv_acked = c->rcv_nxt;
		c->adv_window = w;
	}
	if (s->last_tx) {
		s->retx++;
		c->st.retransmits++;
		c->e->st.retransmits++;
	}
	s->last_tx = now ? now : 1;
	c->st.frames_sent++;
	slp_transmit_slot(c, s);
}

static int work_pending(const struct slp_conn *c)
{
	return c->snd_tx != c->snd_nxt || c->ctrl || c->ops || c->stream_cut != c->stream_posted;
}

void slp_tx_pump(struct slp_conn *c)
{
	if (c->state == SLP_ST_FAILED)
		return;
	uint64_t now = slp_now(c->e);
	uint32_t cap = c->e->cap;
	for (;;) {
		while (c->snd_tx != c->snd_nxt && c->snd_tx - c->snd_una < c->peer_window) {
			send_slot(c, c->snd_tx, now);
			c->snd_tx++;
		}
		if (c->state != SLP_ST_OPEN && c->state != SLP_ST_CLOSED)
			break;
		/* Cut all the window allows before sending any: every frame of
		 * the burst then announces its end in tx_next, which tells the
		 * receiver whether more is on the way (slp_engine_flush_acks). */
		uint32_t lim = c->peer_window < cap ? c->peer_window : cap;
		int cut = 0;
		while (c->snd_nxt - c->snd_una < lim && cut_next(c))
			cut = 1;
		if (!cut)
			break;
	}
	if (c->snd_una != c->snd_tx) {
		if (!c->rto_deadline || c->probing) {
			c->probing = 0;
			c->rto_deadline = now + c->rto_us;
		}
	} else if (c->peer_window == 0 && work_pending(c)) {
		if (!c->probing) { /* persist: ask for window updates we may have missed */
			c->probing = 1;
			c->rto_deadline = now + c->rto_us;
		}
	} else {
		c->probing = 0;
		c->rto_deadline = 0;
	}
}

static void rtt_sample(struct slp_conn *c, uint64_t r64)
{
	const struct slp_engine_cfg *cfg = &c->e->cfg;
	uint32_t r = r64 > cfg->rto_max_us ? cfg->rto_max_us : (uint32_t)r64;
	if (!c->srtt_us) {
		c->srtt_us = r ? r : 1;
		c->rttvar_us = r / 2;
	} else {
		uint32_t d = c->srtt_us > r ? c->srtt_us - r : r - c->srtt_us;
		c->rttvar_us = (3 * c->rttvar_us + d) / 4;
		c->srtt_us = (7 * c->srtt_us + r) / 8;
	}
}

static void rto_from_srtt(struct slp_conn *c)
{
	const struct slp_engine_cfg *cfg = &c->e->cfg;
	if (!c->srtt_us)
		return;
	uint64_t rto = (uint64_t)c->srtt_us + 4ull * c->rttvar_us;
	c->rto_us = rto < cfg->rto_min_us ? cfg->rto_min_us
		  : rto > cfg->rto_max_us ? cfg->rto_max_us : (uint32_t)rto;
}

static void retransmit(struct slp_conn *c, uint32_t seq, uint64_t now)
{
	send_slot(c, seq, now);
}

/* Minimum age of a frame before fast retransmit or recovery resends it:
 * a smoothed RTT, so that a frame just resent is not sent again. */
static uint64_t resend_age(const struct slp_conn *c)
{
	uint64_t age = (uint64_t)c->srtt_us + 2ull * c->rttvar_us;
	return age < 200 ? 200 : age;
}

/* RTO recovery, once an ACK made progress. A receiver that was only
 * slow (its process not scheduled: the common case on a loaded host)
 * acknowledges frames we did not resend: they were on their way, so
 * nothing more is resent. An ACK that stops exactly behind our resent
 * frames says the ones after them are lost (they left before our resend
 * and would have arrived first): those go in bursts doubling per such
 * ACK, as TCP's slow start after an RTO, so a lost tail costs a few round
 * trips, not a window of duplicates per expiry. */
static void recover(struct slp_conn *c, uint64_t now)
{
	if (!c->rec_burst)
		return;
	if (!slp_seq_lt(c->snd_una, c->rec_end)) {
		c->rec_burst = 0;
		return;
	}
	if (c->snd_una != c->rec_next) {
		if (slp_seq_lt(c->rec_next, c->snd_una))
			c->rec_next = c->snd_una; /* more came than we resent */
		return;
	}
	uint64_t age = resend_age(c);
	for (uint32_t n = 0; n < c->rec_burst && slp_seq_lt(c->rec_next, c->rec_end); c->rec_next++) {
		struct slp_txslot *t = &c->tx[c->rec_next & mask(c)];
		if (t->sacked || now - t->last_tx < age)
			continue;
		retransmit(c, c->rec_next, now);
		n++;
	}
	if (c->rec_burst < c->e->cap)
		c->rec_burst *= 2;
}

void slp_tx_on_ack(struct slp_conn *c, const struct slp_pkt *p)
{
	uint64_t now = slp_now(c->e);
	uint32_t cap = c->e->cap;
	c->peer_window = p->window < cap ? p->window : cap;
	if (c->probing)
		c->retries = 0; /* the peer answers: alive, just not reading */
	if (p->ack != c->snd_una) {
		struct slp_txslot *last = &c->tx[(p->ack - 1) & mask(c)];
		if (!last->retx && !last->sacked && last->last_tx) /* Karn */
			rtt_sample(c, now - last->last_tx);
		c->snd_una = p->ack;
		c->retries = 0;
		rto_from_srtt(c);
		if (c->have_sack && slp_seq_le(c->high_sacked, c->snd_una))
			c->have_sack = 0;
		c->rto_deadline = c->snd_una != c->snd_tx ? now + c->rto_us : 0;
		recover(c, now);
		/* Writes whose last fragment is acknowledged wait for every frame
		 * the peer had queued by then: any NACK for them is among those. */
		for (struct slp_work *op = c->wait; op; op = op->next) {
			if (!op->fenced && slp_seq_lt(op->last_seq, c->snd_una)) {
				op->fenced = 1;
				op->fence = c->peer_tx_next;
			}
		}
	}
	if (p->type == SLP_ACK) {
		for (uint32_t i = 0; i < p->u.ack_ext.nsack; i++) {
			uint32_t s = p->u.ack_ext.sack[i].start, end = p->u.ack_ext.sack[i].end;
			if (slp_seq_lt(s, c->snd_una))
				s = c->snd_una;
			if (slp_seq_lt(c->snd_tx, end))
				end = c->snd_tx;
			if (!slp_seq_lt(s, end))
				continue;
			for (; s != end; s++)
				c->tx[s & mask(c)].sacked = 1;
			if (!c->have_sack || slp_seq_lt(c->high_sacked, end)) {
				c->high_sacked = end;
				c->have_sack = 1;
			}
		}
	}
	if (c->have_sack) {
		/* A hole with DUPTHRESH frames SACKed beyond it is lost; resend it
		 * at most once per smoothed RTT. */
		uint64_t age = resend_age(c);
		for (uint32_t s = c->snd_una; slp_seq_lt(s + SLP_DUPTHRESH, c->high_sacked); s++) {
			struct slp_txslot *t = &c->tx[s & mask(c)];
			if (!t->sacked && now - t->last_tx >= age) {
				c->e->st.fast_retransmits++;
				retransmit(c, s, now);
			}
		}
	}
	slp_maybe_closed(c);
}

void slp_tx_timer(struct slp_conn *c, uint64_t now)
{
	const struct slp_engine_cfg *cfg = &c->e->cfg;
	c->rto_deadline = 0;
	if (c->state == SLP_ST_FAILED)
		return;
	if (c->snd_una == c->snd_tx && !c->probing)
		return;
	c->e->st.rto_expirations++;
	if (!c->retries)
		c->stall_since = now;
	if (++c->retries > cfg->max_retries && now - c->stall_since >= cfg->min_dead_us) {
		if (!slp_close_ends(c, c->snd_una))
			slp_fail(c, -ETIMEDOUT);
		return;
	}
	/* A CONNECT nobody confirms (blind, spoofed, replayed) must not hold
	 * a connection, and whatever its user attached, for long. */
	if (slp_conn_half_open(c) && c->retries > SLP_HALF_OPEN_RETRIES &&
	    now - c->last_rx >= SLP_HALF_OPEN_MIN_US) {
		c->e->st.half_open_expired++;
		slp_fail(c, -ETIMEDOUT);
		return;
	}
	c->rto_us = c->rto_us * 2 > cfg->rto_max_us ? cfg->rto_max_us : c->rto_us * 2;
	if (c->snd_una != c->snd_tx) {
		/* Resend the oldest frame only: an expiry mostly means the
		 * receiver was not scheduled, not that the window was lost,
		 * and resending everything that waited an RTO sent the whole
		 * window again per expiry (27 % of a 64 KiB stream's frames at
		 * MTU 9000 in slurpoe-bench). The rest follows per ACK if it
		 * was lost (recover()). */
		uint32_t s = c->snd_una;
		while (s != c->snd_tx && c->tx[s & mask(c)].sacked)
			s++;
		if (s != c->snd_tx)
			retransmit(c, s++, now);
		c->rec_end = c->snd_tx;
		c->rec_next = s;
		c->rec_burst = 1;
	} else {
		slp_tx_send_ack(c, 1);
	}
	c->rto_deadline = now + c->rto_us;
}

void slp_tx_send_ack(struct slp_conn *c, int probe)
{
	struct slp_engine *e = c->e;
	uint8_t *b = BODY(e->scratch);
	uint32_t n = 0, start = 0, cap = e->cap;
	int in = 0;
	/* SACK blocks from the reordering buffer (offset 0 is never SACKed:
	 * it is undelivered, waiting for stream buffer space). */
	for (uint32_t i = 1; i < cap && n < SLP_MAX_SACK; i++) {
		int present = c->rx[(c->rcv_nxt + i) & (cap - 1)].present;
		if (present && !in) {
			start = c->rcv_nxt + i;
			in = 1;
		} else if (!present && in) {
			slp_put32(b + 4 + 8 * n, start);
			slp_put32(b + 8 + 8 * n, c->rcv_nxt + i);
			n++;
			in = 0;
		}
	}
	if (in && n < SLP_MAX_SACK) {
		slp_put32(b + 4 + 8 * n, start);
		slp_put32(b + 8 + 8 * n, c->rcv_nxt + cap);
		n++;
	}
	slp_put32(b, n);
	uint16_t w = slp_rx_window(c);
	struct slp_out o = {.dst_mac = c->peer_mac, .src_mac = e->cfg.mac, .type = SLP_ACK,
			    .flags = data_flags(c) | (probe ? SLP_F_PROBE : 0), .src_ep = c->local_ep,
			    .dst_ep = c->peer_ep, .seq = slp_tx_announced_next(c),
			    .ack = c->rcv_nxt, .tx_next = slp_tx_announced_next(c), .window = w};
	size_t len = slp_build(e->scratch, &o, SLP_EXT_ACK_BASE + 8 * n);
	c->ack_pending = c->ack_urgent = 0;
	c->rcv_acked = c->rcv_nxt;
	c->adv_window = w;
	slp_transmit(e, c, e->scratch, len);
}

/* ---- keepalive ----
 * A connection with nothing in flight has no timer, so a side that only
 * receives would wait forever for a peer that vanished (or whose RESET was
 * lost). Once the peer has been quiet for keepalive_us we probe it: a live
 * peer ACKs, one that forgot the connection RESETs, a dead one stays silent
 * and max_retries probes later (RTO backoff, like data; and no sooner than
 * min_dead_us after we last heard from it) we give up. */

void slp_tx_heard(struct slp_conn *c, uint64_t now)
{
	c->last_rx = now;
	c->ka_sent = 0;
}

uint64_t slp_tx_keepalive_due(const struct slp_conn *c)
{
	/* With frames outstanding (or a zero window) the RTO timer watches. */
	if (c->state != SLP_ST_OPEN || c->rto_deadline)
		return UINT64_MAX;
	return c->ka_sent ? c->ka_next : c->last_rx + c->e->cfg.keepalive_us;
}

void slp_tx_keepalive(struct slp_conn *c, uint64_t now)
{
	const struct slp_engine_cfg *cfg = &c->e->cfg;
	if (now < slp_tx_keepalive_due(c))
		return;
	if (c->ka_sent >= cfg->max_retries && now - c->last_rx >= cfg->min_dead_us) {
		slp_fail(c, -ETIMEDOUT);
		return;
	}
	uint64_t gap = (uint64_t)c->rto_us << (c->ka_sent < 20 ? c->ka_sent : 20);
	c->ka_next = now + (gap < cfg->rto_max_us ? gap : cfg->rto_max_us);
	c->ka_sent++;
	c->e->st.keepalives_sent++;
	slp_tx_send_ack(c, 1);
}
