/* SPDX-License-Identifier: MIT */
/* Connection lifecycle: handshake, stream API, close, reset, failure. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine_int.h"

/* The memory of c (slots' frames: txmem, rxmem), by the constructor when
 * it fails part-way and by slp_conn_free. */
static void conn_mem_free(struct slp_conn *c, uint8_t *txmem, uint8_t *rxmem)
{
	free(txmem);
	free(rxmem);
	free(c->tx);
	free(c->rx);
	free(c->cq);
	slp_bytes_free(&c->sndbuf);
	slp_bytes_free(&c->rcvbuf);
	free(c);
}

struct slp_conn *slp_conn_alloc(struct slp_engine *e, uint32_t local_ep, const uint8_t *mac,
				uint32_t peer_ep)
{
	if (e->n_conns >= e->cfg.max_conns)
		return NULL;
	struct slp_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->e = e;
	c->local_ep = local_ep;
	c->peer_ep = peer_ep;
	memcpy(c->peer_mac, mac, 6);
	c->tx = calloc(e->cap, sizeof(*c->tx));
	c->rx = calloc(e->cap, sizeof(*c->rx));
	c->cq = calloc(SLP_MAX_OPS, sizeof(*c->cq));
	uint8_t *txmem = malloc((size_t)e->cap * e->frame_max);
	uint8_t *rxmem = malloc((size_t)e->cap * e->frame_max);
	if (!c->tx || !c->rx || !c->cq || !txmem || !rxmem ||
	    slp_bytes_init(&c->sndbuf, e->cfg.stream_buf) ||
	    slp_bytes_init(&c->rcvbuf, e->cfg.stream_buf)) {
		conn_mem_free(c, txmem, rxmem);
		return NULL;
	}
	for (uint32_t i = 0; i < e->cap; i++) {
		c->tx[i].frame = txmem + (size_t)i * e->frame_max;
		c->rx[i].frame = rxmem + (size_t)i * e->frame_max;
	}
	c->ops_tail = &c->ops;
	c->wait_tail = &c->wait;
	c->ctrl_tail = &c->ctrl;
	c->rto_us = e->cfg.rto_min_us * 5 > e->cfg.rto_max_us ? e->cfg.rto_max_us
							     : e->cfg.rto_min_us * 5;
	c->peer_window = 1;
	c->peer_max_payload = (uint16_t)e->max_payload;
	uint32_t isn = (uint32_t)e->cfg.random(e->cfg.ctx);
	c->isn = isn;
	c->snd_una = c->snd_tx = c->snd_nxt = isn;
	c->next_msg_id = (uint32_t)e->cfg.random(e->cfg.ctx);
	c->state = SLP_ST_CONNECTING;
	slp_conn_link(c);
	return c;
}

/* CONNECT/ACCEPT carry our MTU and window. */
static size_t build_handshake(struct slp_conn *c, uint8_t type, uint8_t *buf,
			      uint32_t *body_crc)
{
	struct slp_engine *e = c->e;
	struct slp_out o = {.dst_mac = c->peer_mac, .src_mac = e->cfg.mac, .type = type,
			    .src_ep = c->local_ep, .dst_ep = c->peer_ep, .seq = c->snd_nxt};
	uint8_t *x = buf + SLP_ETH_HLEN + SLP_HDR_LEN;
	slp_put16(x, e->cfg.mtu);
	slp_put16(x + 2, (uint16_t)e->cap);
	slp_put32(x + 4, (c->encrypt ? SLP_CONN_ENCRYPT : 0) | (c->offer_nocrc ? SLP_CONN_NOCRC : 0));
	return slp_build_crc(buf, &o, SLP_EXT_CONNECT, body_crc);
}

void slp_conn_withdraw_nocrc(struct slp_conn *c)
{
	struct slp_txslot *s = &c->tx[c->isn & (c->e->cap - 1)];
	uint32_t nxt = c->snd_nxt;
	slp_slot_reclaim(c->e, s);
	c->offer_nocrc = 0;
	c->snd_nxt = c->isn; /* the CONNECT's own sequence number */
	s->len = (uint16_t)build_handshake(c, SLP_CONNECT, s->frame, &s->body_crc);
	c->snd_nxt = nxt;
}

/* Put a handshake frame into the window like any reliable frame, so the
 * retransmission timer covers it. */
static void queue_handshake(struct slp_conn *c, uint8_t type)
{
	struct slp_txslot *s = &c->tx[c->snd_nxt & (c->e->cap - 1)];
	slp_slot_reclaim(c->e, s);
	s->len = (uint16_t)build_handshake(c, type, s->frame, &s->body_crc);
	s->sacked = s->retx = 0;
	c->snd_nxt++;
	c->snd_ext++;
}

/* Both ends keyed: the connection's key, and its encryption key. */
static void set_keys(struct slp_conn *c, const uint8_t *client_mac, const uint8_t *server_mac,
		     uint32_t client_ep, uint32_t server_ep, uint32_t client_isn,
		     uint32_t server_isn)
{
	slp_auth_conn_key(c->psk, client_mac, server_mac, client_ep, server_ep, client_isn,
			  server_isn, c->key);
	if (c->encrypt)
		slp_auth_enc_key(c->key, c->enc_key);
	c->keyed = 1;
}

void slp_conn_crypt(struct slp_conn *c, int outgoing, uint64_t frame_no, uint8_t *dst,
		    const uint8_t *src, size_t len)
{
	/* Our direction's nonces are the ones we send with. */
	int from_server = outgoing ? c->accepted : !c->accepted;
	slp_auth_crypt(c->enc_key, from_server ? SLP_AUTH_FROM_SERVER : SLP_AUTH_FROM_CLIENT,
		       frame_no, dst, src, len);
}

static int wants_encryption(struct slp_engine *e, const uint8_t *mac)
{
	return e->auth && e->cfg.peer_encrypt && e->cfg.peer_encrypt(e->cfg.key_ctx, mac);
}

static uint32_t pick_ep(struct slp_engine *e, const uint8_t *mac, uint32_t peer_ep)
{
	for (;;) {
		uint32_t ep = (uint32_t)e->cfg.random(e->cfg.ctx);
		if (ep && !slp_conn_lookup(e, ep, mac, peer_ep))
			return ep;
	}
}

int slp_connect(struct slp_engine *e, const uint8_t mac[6], uint32_t peer_ep, uint32_t local_ep,
		void *user, struct slp_conn **out)
{
	if (!peer_ep || (mac[0] & 1) || !out)
		return -EINVAL;
	if (!local_ep)
		local_ep = pick_ep(e, mac, peer_ep);
	else if (slp_conn_lookup(e, local_ep, mac, peer_ep))
		return -EADDRINUSE;
	uint8_t psk[SLP_AUTH_KEY_LEN];
	if (e->auth && e->cfg.peer_key(e->cfg.key_ctx, mac, psk))
		return -EACCES; /* no key shared with that host */
	struct slp_conn *c = slp_conn_alloc(e, local_ep, mac, peer_ep);
	if (!c)
		return -ENOMEM;
	if (e->auth) {
		memcpy(c->psk, psk, sizeof(psk));
		sodium_memzero(psk, sizeof(psk));
	}
	c->encrypt = wants_encryption(e, mac);
	c->offer_nocrc = e->nocrc_ok;
	c->user = user;
	queue_handshake(c, SLP_CONNECT);
	slp_tx_pump(c);
	*out = c;
	return 0;
}

static uint16_t negotiated_payload(struct slp_engine *e, uint16_t peer_mtu)
{
	uint16_t mtu = peer_mtu < e->cfg.mtu ? peer_mtu : e->cfg.mtu;
	return (uint16_t)(mtu - SLP_HDR_LEN - e->trailer);
}

int slp_conn_half_open(const struct slp_conn *c)
{
	return c->accepted && c->state == SLP_ST_OPEN && c->snd_una == c->isn;
}

/* Whether one more connection from mac may be accepted: a CONNECT costs
 * its sender nothing (and a recorded one can be replayed even with
 * authentication), so unconfirmed ones are few and per-peer ones bounded. */
static int room_for(struct slp_engine *e, const uint8_t *mac)
{
	uint32_t half = 0, peer = 0;
	for (struct slp_conn *c = e->all; c; c = c->all_next) {
		half += (uint32_t)slp_conn_half_open(c);
		peer += !memcmp(c->peer_mac, mac, 6);
	}
	return half < e->cfg.max_half_open && peer < e->cfg.max_conns_per_peer;
}

void slp_conn_on_connect(struct slp_engine *e, const struct slp_pkt *p)
{
	struct slp_conn *c = slp_conn_lookup(e, p->dst_ep, p->src_mac, p->src_ep);
	if (c) {
		/* A retransmitted CONNECT: our ACCEPT's timer resends it. */
		if (c->accepted && p->seq + 1 == c->rcv_nxt)
			e->st.rx_duplicate++;
		else
			e->st.rx_bad_state++;
		return;
	}
	int found;
	void *user = slp_listener_user(e, p->dst_ep, &found);
	/* Confidentiality needs keys: without them, refuse rather than
	 * carry in clear what the peer wanted hidden. */
	if (!found || ((p->u.conn.flags & SLP_CONN_ENCRYPT) && !e->auth)) {
		e->st.rx_unknown_ep++;
		slp_send_reset(e, p->src_mac, p->dst_ep, p->src_ep, p->seq + 1, 0);
		return;
	}
	if (!room_for(e, p->src_mac)) {
		e->st.half_open_refused++;
		e->st.conns_refused++;
		return; /* silently: the real peer retransmits */
	}
	c = slp_conn_alloc(e, p->dst_ep, p->src_mac, p->src_ep);
	if (!c) {
		e->st.conns_refused++;
		return;
	}
	if (e->auth) { /* the CONNECT verified under this key (engine.c) */
		if (e->cfg.peer_key(e->cfg.key_ctx, p->src_mac, c->psk)) {
			c->state = SLP_ST_FAILED; /* key gone meanwhile: say nothing */
			slp_conn_free(c);
			return;
		}
		c->encrypt = (p->u.conn.flags & SLP_CONN_ENCRYPT) || wants_encryption(e, p->src_mac);
		set_keys(c, p->src_mac, e->cfg.mac, p->src_ep, p->dst_ep, p->seq, c->isn);
	}
	c->user = user;
	c->accepted = 1;
	/* A connector that offers NOCRC knows the flag: we may answer with ours. */
	c->tx_nocrc = (p->u.conn.flags & SLP_CONN_NOCRC) != 0;
	c->offer_nocrc = e->nocrc_ok && c->tx_nocrc;
	c->rcv_nxt = p->seq + 1;
	c->rcv_ext = 1;
	c->peer_tx_next = c->rcv_nxt;
	c->peer_max_payload = negotiated_payload(e, p->u.conn.mtu);
	c->state = SLP_ST_OPEN;
	slp_tx_heard(c, slp_now(e));
	queue_handshake(c, SLP_ACCEPT);
	c->peer_window = p->window < e->cap ? p->window : e->cap;
	c->st.frames_received++;
	slp_mark(c, SLP_EV_ACCEPTED);
	slp_tx_pump(c);
}

void slp_conn_on_accept(struct slp_conn *c, const struct slp_pkt *p)
{
	struct slp_engine *e = c->e;
	if (p->ack != c->snd_nxt) { /* must acknowledge exactly our CONNECT */
		e->st.rx_out_of_window++;
		return;
	}
	if (c->encrypt && !(p->u.conn.flags & SLP_CONN_ENCRYPT)) {
		/* We must encrypt, the peer will not (an authenticated answer:
		 * its policy, not an attacker, says so). */
		slp_send_reset(e, c->peer_mac, c->local_ep, c->peer_ep, p->seq + 1, 0);
		slp_fail(c, -EPROTONOSUPPORT);
		return;
	}
	if (e->auth) {
		c->encrypt = (p->u.conn.flags & SLP_CONN_ENCRYPT) != 0;
		set_keys(c, e->cfg.mac, c->peer_mac, c->local_ep, c->peer_ep, c->isn, p->seq);
	}
	c->tx_nocrc = (p->u.conn.flags & SLP_CONN_NOCRC) != 0;
	c->rcv_nxt = p->seq + 1;
	c->rcv_ext = 1;
	c->peer_tx_next = c->rcv_nxt;
	c->peer_max_payload = negotiated_payload(e, p->u.conn.mtu);
	c->state = SLP_ST_OPEN;
	c->st.frames_received++;
	slp_tx_heard(c, slp_now(e));
	slp_tx_on_ack(c, p); /* takes the window too */
	c->ack_pending = 1;
	slp_mark(c, SLP_EV_CONNECTED);
	slp_tx_pump(c);
	slp_tx_send_ack(c, 0);
}

void slp_conn_on_reset(struct slp_conn *c, const struct slp_pkt *p)
{
	struct slp_engine *e = c->e;
	/* Only a RESET that echoes a sequence number we really sent counts. */
	if (slp_seq_lt(p->ack, c->snd_una) || slp_seq_lt(c->snd_tx, p->ack)) {
		e->st.rx_out_of_window++;
		return;
	}
	/* A stateless RESET answers a frame the peer could not verify, so a
	 * stranger can provoke one for any endpoints the peer does not know:
	 * believed only by an open connection (the peer had it, and lost it),
	 * never as a refusal of a CONNECT still on its way. */
	if ((p->flags & SLP_F_STATELESS) && c->state == SLP_ST_CONNECTING) {
		e->st.rx_bad_state++;
		return;
	}
	e->st.resets_received++;
	if (c->state == SLP_ST_CLOSED || c->state == SLP_ST_FAILED)
		return;
	/* The peer forgot us after it had all our data, our CLOSE included,
	 * and we had its CLOSE: that is a finished connection, not an error. */
	if (p->ack == c->snd_tx && slp_close_ends(c, p->ack))
		return;
	slp_fail(c, c->state == SLP_ST_CONNECTING ? -ECONNREFUSED : -ECONNRESET);
}

void slp_fail(struct slp_conn *c, int err)
{
	if (c->state == SLP_ST_FAILED || c->state == SLP_ST_CLOSED)
		return;
	c->state = SLP_ST_FAILED;
	c->error = err;
	c->rto_deadline = 0;
	c->ack_pending = 0;
	slp_ops_fail_all(c, err);
	slp_mark(c, SLP_EV_ERROR | SLP_EV_READABLE | SLP_EV_WRITABLE);
}

int slp_close_ends(struct slp_conn *c, uint32_t acked)
{
	if (c->state != SLP_ST_OPEN || !c->close_queued || !c->fin_sent_seq_valid ||
	    !c->peer_fin || c->fin_seq + 1 != c->snd_tx || slp_seq_lt(acked, c->fin_seq))
		return 0;
	c->snd_una = c->snd_tx;
	slp_maybe_closed(c);
	return c->state == SLP_ST_CLOSED;
}

void slp_maybe_closed(struct slp_conn *c)
{
	if (c->state != SLP_ST_OPEN || !c->close_queued || !c->fin_sent_seq_valid || !c->peer_fin)
		return;
	if (!slp_seq_lt(c->fin_seq, c->snd_una))
		return;
	c->state = SLP_ST_CLOSED;
	c->rto_deadline = 0;
	slp_mark(c, SLP_EV_CLOSED | SLP_EV_READABLE);
}

/* ---- stream API ---- */

/* The sink behind slp_recv_post: fills the posted buffer. */
static ssize_t post_sink(void *arg, const void *src, size_t len)
{
	struct slp_conn *c = arg;
	size_t n = c->post_len - c->post_got < len ? c->post_len - c->post_got : len;
	memcpy(c->post + c->post_got, src, n);
	c->post_got += n;
	return (ssize_t)n;
}

void slp_recv_post(struct slp_conn *c, void *buf, size_t len)
{
	c->post = buf;
	c->post_len = len;
	c->post_got = 0;
	slp_conn_set_sink(c, len ? post_sink : NULL, c);
}

size_t slp_recv_unpost(struct slp_conn *c)
{
	size_t n = c->post_got;
	slp_conn_set_sink(c, NULL, NULL);
	c->post = NULL;
	c->post_len = c->post_got = 0;
	return n;
}

/* slp_send_direct's taking: full frames straight from buf, a short tail
 * held back (corked) in sndbuf, our last tail joined with our head. */
static size_t take_direct(struct slp_conn *c, const uint8_t *p, size_t len)
{
	size_t n = 0;
	if (c->corked) {
		if (c->sndbuf.len + len < c->peer_max_payload)
			return slp_bytes_put(&c->sndbuf, p, len);
		n = slp_tx_cut_joined(c, p, len);
		if (c->corked)
			return 0; /* no window for it yet */
	}
	n += slp_tx_cut_direct(c, p + n, len - n, 1);
	/* A short tail would end the carrier's batch (a GSO super-datagram
	 * takes equal segments): it waits for the next call's bytes, or the
	 * push at the end of the turn. */
	if (n < len && len - n < c->peer_max_payload && !c->sndbuf.len && !c->ops && !c->ctrl &&
	    c->state == SLP_ST_OPEN) {
		n += slp_bytes_put(&c->sndbuf, p + n, len - n);
		c->corked = 1;
	}
	return n;
}

static ssize_t send_stream(struct slp_conn *c, const void *buf, size_t len, int direct)
{
	if (c->state == SLP_ST_FAILED)
		return c->error;
	if (c->close_queued || c->state == SLP_ST_CLOSED)
		return -EPIPE;
	if (!len)
		return 0;
	size_t n;
	if (direct) {
		n = take_direct(c, buf, len);
	} else {
		n = slp_tx_cut_direct(c, buf, len, 0);
		n += slp_bytes_put(&c->sndbuf, (const uint8_t *)buf + n, len - n);
		c->corked = 0; /* no turn end promised for these */
	}
	if (!n) {
		c->want_writable = !direct;
		return -EAGAIN;
	}
	c->stream_posted += n;
	c->st.bytes_sent += n;
	slp_tx_pump(c);
	return (ssize_t)n;
}

ssize_t slp_send(struct slp_conn *c, const void *buf, size_t len)
{
	return send_stream(c, buf, len, 0);
}

ssize_t slp_send_direct(struct slp_conn *c, const void *buf, size_t len)
{
	return send_stream(c, buf, len, 1);
}

size_t slp_send_space(const struct slp_conn *c) { return c->sndbuf.cap - c->sndbuf.len; }

ssize_t slp_recv(struct slp_conn *c, void *buf, size_t len)
{
	if (c->rcvbuf.len) {
		size_t n = slp_bytes_get(&c->rcvbuf, buf, len);
		c->st.bytes_received += n;
		slp_rx_after_read(c);
		return (ssize_t)n;
	}
	if (c->peer_fin || c->state == SLP_ST_CLOSED)
		return 0;
	if (c->state == SLP_ST_FAILED)
		return c->error;
	return -EAGAIN;
}

int slp_close(struct slp_conn *c)
{
	if (c->state == SLP_ST_FAILED)
		return c->error;
	if (c->close_queued)
		return 0;
	struct slp_work *op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->kind = OP_CLOSE;
	op->stream_pos = c->stream_posted;
	*c->ops_tail = op;
	c->ops_tail = &op->next;
	c->close_queued = 1;
	slp_tx_pump(c);
	return 0;
}

void slp_conn_free(struct slp_conn *c)
{
	if (!c)
		return;
	struct slp_engine *e = c->e;
	if (c->state == SLP_ST_OPEN || c->state == SLP_ST_CONNECTING)
		slp_send_reset(e, c->peer_mac, c->local_ep, c->peer_ep, c->rcv_nxt, 0);
	slp_conn_unlink(c);
	slp_ops_free_all(c);
	slp_regions_free(c);
	slp_tx_release_refs(e); /* the driver may hold our slots' frames */
	conn_mem_free(c, c->tx ? c->tx[0].frame : NULL, c->rx ? c->rx[0].frame : NULL);
}

enum slp_state slp_conn_state(const struct slp_conn *c) { return c->state; }
int slp_conn_error(const struct slp_conn *c) { return c->error; }
void *slp_conn_user(const struct slp_conn *c) { return c->user; }
void slp_conn_set_user(struct slp_conn *c, void *user) { c->user = user; }
uint32_t slp_conn_local_ep(const struct slp_conn *c) { return c->local_ep; }
uint32_t slp_conn_peer_ep(const struct slp_conn *c) { return c->peer_ep; }
const uint8_t *slp_conn_peer_mac(const struct slp_conn *c) { return c->peer_mac; }

void slp_conn_stats(const struct slp_conn *c, struct slp_conn_stats *st)
{
	*st = c->st;
	st->srtt_us = c->srtt_us;
	st->rto_us = c->rto_us;
	st->peer_window = c->peer_window;
}

int slp_conn_readable(const struct slp_conn *c)
{
	return c->rcvbuf.len || c->peer_fin || c->state == SLP_ST_CLOSED ||
	       c->state == SLP_ST_FAILED;
}

int slp_conn_tx_idle(const struct slp_conn *c)
{
	return c->snd_una == c->snd_nxt && !c->ctrl && !c->ops && c->stream_cut == c->stream_posted;
}

int slp_conn_peer_closed(const struct slp_conn *c) { return c->peer_fin; }

void slp_engine_set_no_reset(struct slp_engine *e, int on) { e->cfg.no_reset = on; }
