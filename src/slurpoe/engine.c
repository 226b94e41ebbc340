/* SPDX-License-Identifier: MIT */
/* Engine lifecycle, frame demultiplexing, timers and the event list. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/random.h>

#include "engine_int.h"

uint64_t slp_now(struct slp_engine *e)
{
	return e->now_frozen ? e->now_frozen : e->cfg.now_us(e->cfg.ctx);
}

void slp_engine_clock_freeze(struct slp_engine *e)
{
	uint64_t now = e->cfg.now_us(e->cfg.ctx);
	e->now_frozen = now ? now : 1;
}

void slp_engine_clock_thaw(struct slp_engine *e) { e->now_frozen = 0; }

int slp_engine_expecting(const struct slp_engine *e)
{
	for (const struct slp_conn *c = e->all; c; c = c->all_next)
		if (c->state == SLP_ST_OPEN && slp_seq_lt(c->rcv_nxt, c->peer_tx_next))
			return 1;
	return 0;
}

static uint64_t default_random(void *ctx)
{
	uint64_t v = 0;
	(void)ctx;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint64_t)(uintptr_t)&v ^ 0x9E3779B97F4A7C15ull; /* never fails in practice */
	return v;
}

struct slp_engine *slp_engine_new(const struct slp_engine_cfg *cfg)
{
	if (!cfg || !cfg->tx || !cfg->now_us || cfg->mtu < 256 || cfg->mtu > 9000)
		return NULL;
	uint32_t w = cfg->window ? cfg->window : 512;
	if (w < 4 || w > 4096 || (w & (w - 1)))
		return NULL;
	struct slp_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->cfg = *cfg;
	if (!e->cfg.rto_min_us)
		e->cfg.rto_min_us = 2000;
	if (!e->cfg.rto_max_us)
		e->cfg.rto_max_us = 1000000;
	if (e->cfg.rto_max_us < e->cfg.rto_min_us)
		e->cfg.rto_max_us = e->cfg.rto_min_us;
	if (!e->cfg.max_retries)
		e->cfg.max_retries = 12;
	if (!e->cfg.stream_buf)
		e->cfg.stream_buf = 1u << 20;
	if (!e->cfg.max_conns)
		e->cfg.max_conns = 1024;
	if (!e->cfg.random)
		e->cfg.random = default_random;
	if (!e->cfg.keepalive_us)
		e->cfg.keepalive_us = 500000;
	if (!e->cfg.max_half_open)
		e->cfg.max_half_open = 64;
	if (!e->cfg.max_conns_per_peer)
		e->cfg.max_conns_per_peer = 256;
	e->auth = cfg->peer_key != NULL;
	if (e->auth && sodium_init() < 0) {
		free(e);
		return NULL;
	}
	e->trailer = e->auth ? SLP_AUTH_TRAILER : 0;
	e->nocrc_ok = e->auth || cfg->carrier_checksums;
	e->reset_tokens = SLP_STATELESS_RESETS_PER_S;
	e->reset_refill = e->cfg.now_us(e->cfg.ctx);
	e->cap = w;
	e->frame_max = SLP_ETH_HLEN + cfg->mtu;
	e->max_payload = cfg->mtu - SLP_HDR_LEN - e->trailer;
	e->scratch = malloc(e->frame_max);
	e->plain = e->auth ? malloc(e->frame_max) : NULL;
	if (!e->scratch || (e->auth && !e->plain)) {
		free(e->scratch);
		free(e->plain);
		free(e);
		return NULL;
	}
	return e;
}

void slp_engine_free(struct slp_engine *e)
{
	if (!e)
		return;
	e->cfg.no_reset = 1; /* freeing sends nothing */
	while (e->all) {
		struct slp_conn *c = e->all;
		c->state = SLP_ST_FAILED;
		slp_conn_free(c);
	}
	while (e->listeners) {
		struct slp_listener *l = e->listeners;
		e->listeners = l->next;
		free(l);
	}
	free(e->scratch);
	free(e->plain);
	free(e);
}

const struct slp_stats *slp_engine_stats(const struct slp_engine *e) { return &e->st; }
size_t slp_engine_max_payload(const struct slp_engine *e) { return e->max_payload; }
int slp_engine_authenticates(const struct slp_engine *e) { return e->auth; }

static int host_pair_type(unsigned type)
{
	return type == SLP_CONNECT || type == SLP_ACCEPT || type == SLP_RESET;
}

/* Append the tag (auth on); 0 when the frame cannot be authenticated and
 * must not leave. */
static size_t auth_out(struct slp_engine *e, struct slp_conn *c, uint8_t *frame, size_t len)
{
	if (!e->auth)
		return len;
	if (host_pair_type(frame[SLP_ETH_HLEN + 1])) {
		uint8_t psk[SLP_AUTH_KEY_LEN];
		const uint8_t *k = c ? c->psk : psk;
		if (!c && e->cfg.peer_key(e->cfg.key_ctx, frame, psk))
			return 0; /* frame[0..6) is the destination */
		len = slp_auth_seal(k, SLP_AUTH_HOST_PAIR, slp_auth_random64(), frame, len);
		sodium_memzero(psk, sizeof(psk));
		return len;
	}
	if (!c || !c->keyed)
		return 0;
	return slp_auth_seal(c->key, c->accepted ? SLP_AUTH_FROM_SERVER : SLP_AUTH_FROM_CLIENT,
			     c->auth_ctr++, frame, len);
}

/* Do we share a key with the host at mac (auth on)? */
static int known_host(struct slp_engine *e, const uint8_t *mac)
{
	uint8_t psk[SLP_AUTH_KEY_LEN];
	int ok = !e->cfg.peer_key(e->cfg.key_ctx, mac, psk);
	sodium_memzero(psk, sizeof(psk));
	return ok;
}

/* Is a parsed frame from who it says (auth on)? */
static int authentic(struct slp_engine *e, struct slp_conn *c, const struct slp_pkt *p,
		     const uint8_t *frame, size_t len)
{
	if (host_pair_type(p->type)) {
		if (c)
			return !slp_auth_check(c->psk, SLP_AUTH_HOST_PAIR, frame, len);
		uint8_t psk[SLP_AUTH_KEY_LEN];
		int ok = !e->cfg.peer_key(e->cfg.key_ctx, p->src_mac, psk) &&
			 !slp_auth_check(psk, SLP_AUTH_HOST_PAIR, frame, len);
		sodium_memzero(psk, sizeof(psk));
		return ok;
	}
	return c && c->keyed &&
	       !slp_auth_check(c->key, c->accepted ? SLP_AUTH_FROM_CLIENT : SLP_AUTH_FROM_SERVER,
			       frame, len);
}

void slp_transmit(struct slp_engine *e, struct slp_conn *c, uint8_t *frame, size_t len)
{
	if (!(len = auth_out(e, c, frame, len)))
		return;
	e->st.tx_frames++;
	e->st.tx_bytes += len;
	e->cfg.tx(e->cfg.ctx, frame, len);
}

void slp_transmit_slot(struct slp_conn *c, struct slp_txslot *s)
{
	struct slp_engine *e = c->e;
	if (!e->cfg.tx_ref || !e->cfg.tx_flush) {
		slp_transmit(e, c, s->frame, s->len);
		return;
	}
	/* The tag goes after the frame, inside the slot: re-made per send. */
	size_t len = auth_out(e, c, s->frame, s->len);
	if (!len)
		return;
	e->st.tx_frames++;
	e->st.tx_bytes += len;
	s->reffed = 1;
	s->ref_gen = e->ref_gen;
	e->cfg.tx_ref(e->cfg.ctx, s->frame, len);
}

/* A slot referenced in an older generation was sent by the flush that
 * ended it; one from this generation may still be queued. At most one
 * early flush per driver turn: afterwards the generation is new. */
void slp_slot_reclaim(struct slp_engine *e, struct slp_txslot *s)
{
	if (s->reffed && s->ref_gen == e->ref_gen)
		slp_tx_release_refs(e);
	s->reffed = 0;
}

void slp_tx_release_refs(struct slp_engine *e)
{
	if (e->cfg.tx_ref && e->cfg.tx_flush) {
		e->cfg.tx_flush(e->cfg.ctx);
		e->ref_gen++;
	}
}

/* ---- listeners ---- */

static struct slp_listener *find_listener(struct slp_engine *e, uint32_t ep)
{
	for (struct slp_listener *l = e->listeners; l; l = l->next)
		if (l->ep == ep)
			return l;
	return NULL;
}

int slp_listen(struct slp_engine *e, uint32_t ep, void *user)
{
	if (!ep)
		return -EINVAL;
	if (find_listener(e, ep))
		return -EEXIST;
	struct slp_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->ep = ep;
	l->user = user;
	l->next = e->listeners;
	e->listeners = l;
	return 0;
}

int slp_unlisten(struct slp_engine *e, uint32_t ep)
{
	for (struct slp_listener **pp = &e->listeners; *pp; pp = &(*pp)->next) {
		if ((*pp)->ep == ep) {
			struct slp_listener *l = *pp;
			*pp = l->next;
			free(l);
			return 0;
		}
	}
	return -ENOENT;
}

void *slp_listener_user(struct slp_engine *e, uint32_t ep, int *found)
{
	struct slp_listener *l = find_listener(e, ep);
	*found = l != NULL;
	return l ? l->user : NULL;
}

/* ---- connection table ---- */

static unsigned bucket(uint32_t local_ep, const uint8_t *mac, uint32_t peer_ep)
{
	uint32_t h = local_ep * 0x9E3779B1u ^ peer_ep * 0x85EBCA6Bu;
	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 0x01000193u;
	return h % SLP_HASH_BUCKETS;
}

struct slp_conn *slp_conn_lookup(struct slp_engine *e, uint32_t local_ep, const uint8_t *mac,
				 uint32_t peer_ep)
{
	for (struct slp_conn *c = e->hash[bucket(local_ep, mac, peer_ep)]; c; c = c->hnext)
		if (c->local_ep == local_ep && c->peer_ep == peer_ep && !memcmp(c->peer_mac, mac, 6))
			return c;
	return NULL;
}

void slp_conn_link(struct slp_conn *c)
{
	struct slp_engine *e = c->e;
	unsigned b = bucket(c->local_ep, c->peer_mac, c->peer_ep);
	c->hnext = e->hash[b];
	e->hash[b] = c;
	c->all_next = e->all;
	if (e->all)
		e->all->all_prev = c;
	e->all = c;
	e->n_conns++;
}

void slp_conn_unlink(struct slp_conn *c)
{
	struct slp_engine *e = c->e;
	for (struct slp_conn **pp = &e->hash[bucket(c->local_ep, c->peer_mac, c->peer_ep)]; *pp;
	     pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	}
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		e->all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	if (c->on_ev_list) {
		struct slp_conn *prev = NULL;
		for (struct slp_conn *x = e->ev_head; x; prev = x, x = x->ev_next) {
			if (x == c) {
				if (prev)
					prev->ev_next = c->ev_next;
				else
					e->ev_head = c->ev_next;
				if (e->ev_tail == c)
					e->ev_tail = prev;
				break;
			}
		}
	}
	e->n_conns--;
}

/* ---- events ---- */

void slp_mark(struct slp_conn *c, unsigned ev)
{
	struct slp_engine *e = c->e;
	c->ev |= ev;
	if (c->on_ev_list)
		return;
	c->on_ev_list = 1;
	c->ev_next = NULL;
	if (e->ev_tail)
		e->ev_tail->ev_next = c;
	else
		e->ev_head = c;
	e->ev_tail = c;
}

struct slp_conn *slp_engine_next_event(struct slp_engine *e, unsigned *events)
{
	struct slp_conn *c = e->ev_head;
	if (!c)
		return NULL;
	e->ev_head = c->ev_next;
	if (!e->ev_head)
		e->ev_tail = NULL;
	c->on_ev_list = 0;
	*events = c->ev;
	c->ev = 0;
	return c;
}

/* ---- input ---- */

void slp_send_reset(struct slp_engine *e, const uint8_t *mac, uint32_t src_ep, uint32_t dst_ep,
		    uint32_t echo, uint16_t flags)
{
	if (e->cfg.no_reset)
		return;
	struct slp_out o = {.dst_mac = mac, .src_mac = e->cfg.mac, .type = SLP_RESET,
			    .flags = SLP_F_ACK | flags, .src_ep = src_ep, .dst_ep = dst_ep,
			    .ack = echo};
	size_t len = slp_build(e->scratch, &o, 0);
	e->st.resets_sent++;
	slp_transmit(e, NULL, e->scratch, len);
}

/* A token bucket for stateless RESETs: a stranger who sends frames for
 * endpoints we do not know can make us send at most this many per second,
 * and only to hosts we share a key with (auth_out() drops the rest). */
static int reset_token(struct slp_engine *e)
{
	uint64_t now = slp_now(e);
	uint64_t add = (now - e->reset_refill) * SLP_STATELESS_RESETS_PER_S / 1000000;
	if (add) {
		e->reset_tokens = add + e->reset_tokens > SLP_STATELESS_RESETS_PER_S
					  ? SLP_STATELESS_RESETS_PER_S
					  : e->reset_tokens + (uint32_t)add;
		e->reset_refill = now;
	}
	if (!e->reset_tokens) {
		e->st.resets_limited++;
		return 0;
	}
	e->reset_tokens--;
	return 1;
}

/* A frame for endpoints we have no connection for (the peer's connection
 * outlived ours: we restarted, or freed it while its RESET got lost):
 * answer reliable frames and probes with a RESET echoing a sequence
 * number the peer sent, so it fails at once with -ECONNRESET instead of
 * after its retry budget. With authentication the frame cannot be
 * verified (its connection's key went with the connection), so the RESET
 * is marked stateless, tagged under the host pair's key and rate-limited;
 * docs/remote.md says why that is safe. */
static void reset_unknown(struct slp_engine *e, const struct slp_pkt *p)
{
	uint32_t echo;
	if (slp_type_reliable(p->type))
		echo = p->seq + 1;
	else if (p->type == SLP_ACK && (p->flags & SLP_F_PROBE))
		echo = p->seq; /* a probe's seq is the prober's tx_next, which it sent */
	else
		return;
	if (e->auth && (e->cfg.no_reset || !reset_token(e)))
		return;
	slp_send_reset(e, p->src_mac, p->dst_ep, p->src_ep, echo,
		       e->auth ? SLP_F_STATELESS : 0);
}

static int mac_is_ours(struct slp_engine *e, const uint8_t *mac)
{
	return !memcmp(mac, e->cfg.mac, 6);
}

void slp_engine_input(struct slp_engine *e, const void *frame, size_t len)
{
	struct slp_pkt p;
	e->st.rx_frames++;
	e->st.rx_bytes += len;
	if (len > e->frame_max) {
		e->st.rx_bad[SLP_ERR_LENGTH]++;
		return;
	}
	enum slp_parse_err err = slp_parse_trailer(frame, len, e->trailer, &p);
	if (err == SLP_ERR_LENGTH && e->auth && slp_parse(frame, len, &p) == SLP_OK) {
		e->st.rx_auth_fail++; /* a well-formed frame without a tag */
		return;
	}
	if (!err && (p.flags & SLP_F_NOCRC) && !e->nocrc_ok)
		err = SLP_ERR_CRC; /* nothing else checks it here */
	if (err) {
		e->st.rx_bad[err]++;
		return;
	}
	if (!mac_is_ours(e, p.dst_mac)) {
		e->st.rx_not_for_us++;
		return;
	}
	struct slp_conn *c = slp_conn_lookup(e, p.dst_ep, p.src_mac, p.src_ep);
	if (e->auth && !c && !host_pair_type(p.type)) {
		/* Unverifiable: no connection, so no key to check it with. */
		if (!known_host(e, p.src_mac)) {
			e->st.rx_auth_fail++;
			return;
		}
		e->st.rx_unknown_ep++;
		reset_unknown(e, &p);
		return;
	}
	if (e->auth && !authentic(e, c, &p, frame, len)) {
		e->st.rx_auth_fail++;
		return;
	}
	if (!c) {
		if (p.type == SLP_CONNECT) {
			slp_conn_on_connect(e, &p);
			return;
		}
		e->st.rx_unknown_ep++;
		reset_unknown(e, &p);
		return;
	}
	switch (p.type) {
	case SLP_CONNECT:
		slp_conn_on_connect(e, &p);
		return;
	case SLP_RESET:
		slp_conn_on_reset(c, &p);
		return;
	case SLP_ACCEPT:
		if (c->state == SLP_ST_CONNECTING) {
			slp_conn_on_accept(c, &p);
			return;
		}
		break;
	default:
		if (c->state == SLP_ST_CONNECTING) {
			e->st.rx_bad_state++;
			return;
		}
	}
	if (c->state == SLP_ST_FAILED) {
		e->st.rx_bad_state++;
		return;
	}
	/* The ack must acknowledge something we actually sent. */
	if (slp_seq_lt(p.ack, c->snd_una) || slp_seq_lt(c->snd_tx, p.ack)) {
		e->st.rx_out_of_window++;
		return;
	}
	c->st.frames_received++;
	slp_tx_heard(c, slp_now(e));
	/* The peer's announced sequence horizon only grows, and only sanely. */
	if (slp_seq_lt(c->peer_tx_next, p.tx_next) && p.tx_next - c->rcv_nxt <= (1u << 24))
		c->peer_tx_next = p.tx_next;
	slp_tx_on_ack(c, &p);
	if (slp_type_reliable(p.type))
		slp_rx_frame(c, &p, frame, len);
	if (p.flags & SLP_F_PROBE)
		c->ack_pending = c->ack_urgent = 1;
	if (c->state == SLP_ST_FAILED)
		return;
	slp_ops_check_fences(c);
	slp_maybe_closed(c);
	slp_tx_pump(c);
}

/* ---- timers ---- */

static int owes_ack(const struct slp_conn *c)
{
	return c->ack_pending && c->state != SLP_ST_FAILED && c->state != SLP_ST_CONNECTING;
}

void slp_engine_tick(struct slp_engine *e)
{
	uint64_t now = slp_now(e);
	for (struct slp_conn *c = e->all; c; c = c->all_next) {
		if (c->rto_deadline && now >= c->rto_deadline)
			slp_tx_timer(c, now);
		if (!e->cfg.ack_at_turn_end && owes_ack(c))
			slp_tx_send_ack(c, 0);
		slp_tx_keepalive(c, now);
	}
}

/* A turn-end ACK may wait for a later turn while the sender has frames
 * on their way to us (each frame announces the end of its burst in
 * tx_next, beyond rcv_nxt) and we have acknowledged all but less than a
 * quarter of the credit we gave: the sender is not waiting for this ACK,
 * and the frames still coming bring another turn. The end of a burst
 * (rcv_nxt reaches tx_next: the sender may now wait), a duplicate, a hole
 * and a probe are acknowledged at once. At MTU 1500 this takes ACKs from
 * one per input batch (every 15-40 frames) to about one per quarter
 * window, and from the sender a wake-up and a recvmmsg each. A lost tail
 * frame is found by the sender's RTO, whose retransmission (a duplicate
 * here) is acknowledged at once. */
static int ack_can_wait(const struct slp_conn *c)
{
	if (c->ack_urgent || c->peer_tx_next == c->rcv_nxt)
		return 0;
	return (c->rcv_nxt - c->rcv_acked) * 4 < c->adv_window;
}

void slp_engine_flush_acks(struct slp_engine *e)
{
	for (struct slp_conn *c = e->all; c; c = c->all_next)
		if (owes_ack(c) && !ack_can_wait(c))
			slp_tx_send_ack(c, 0);
}

void slp_engine_push(struct slp_engine *e)
{
	for (struct slp_conn *c = e->all; c; c = c->all_next) {
		if (c->corked) {
			c->corked = 0;
			slp_tx_pump(c);
		}
	}
}

uint64_t slp_engine_next_deadline(struct slp_engine *e)
{
	uint64_t d = UINT64_MAX;
	for (struct slp_conn *c = e->all; c; c = c->all_next) {
		if (!e->cfg.ack_at_turn_end && owes_ack(c))
			return 0; /* due now */
		if (c->rto_deadline && c->rto_deadline < d)
			d = c->rto_deadline;
		uint64_t ka = slp_tx_keepalive_due(c);
		if (ka < d)
			d = ka;
	}
	return d;
}
