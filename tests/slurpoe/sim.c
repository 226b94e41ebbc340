/* SPDX-License-Identifier: MIT */
#include "sim.h"

#include "slurpoe/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct frame {
	uint64_t at, order;
	int to;
	size_t len;
	uint8_t *data;
};

struct side {
	struct sim *s;
	int idx;
};

struct sim {
	uint64_t now, rng, order;
	uint8_t keys[2][32];
	int keyed[2];
	int encrypt[2];
	int carrier[2], drop_offers;
	int turn_acks; /* engines ack at turn end; sim_run flushes after each step */
	struct sim_impair imp;
	struct slp_engine *eng[2];
	struct side sides[2];
	int cut[2];
	uint64_t paused_until[2];
	uint64_t link_free[2]; /* per direction (to): when the link is free (frame_us) */
	int near_wrap;
	uint16_t mtu, window;
	struct frame *heap;
	size_t n, cap;
	struct sim_counters ctr;
};

static const uint8_t macs[2][6] = {{0x02, 0, 0, 0, 0, 0xA1}, {0x02, 0, 0, 0, 0, 0xB2}};
const uint8_t *sim_mac(int side) { return macs[side]; }
uint64_t sim_now(struct sim *s) { return s->now; }

uint64_t sim_rand(struct sim *s)
{
	uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull); /* splitmix64 */
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double chance(struct sim *s) { return (double)(sim_rand(s) >> 11) / 9007199254740992.0; }

static int before(const struct frame *a, const struct frame *b)
{
	return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void push(struct sim *s, struct frame f)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->heap = realloc(s->heap, s->cap * sizeof(*s->heap));
	}
	size_t i = s->n++;
	while (i && before(&f, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = f;
}

static struct frame pop(struct sim *s)
{
	struct frame top = s->heap[0], last = s->heap[--s->n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		const struct frame *best = &last;
		if (l < s->n && before(&s->heap[l], best))
			best = &s->heap[m = l];
		if (l + 1 < s->n && before(&s->heap[l + 1], best))
			m = l + 1;
		if (m == i)
			break;
		s->heap[i] = s->heap[m];
		i = m;
	}
	if (s->n)
		s->heap[i] = last;
	return top;
}

static void enqueue(struct sim *s, int to, const void *data, size_t len)
{
	struct frame f = {.to = to, .len = len, .order = s->order++};
	f.data = malloc(len);
	memcpy(f.data, data, len);
	f.at = s->now + s->imp.delay_us;
	if (s->imp.frame_us) {
		uint64_t start = s->link_free[to] > s->now ? s->link_free[to] : s->now;
		s->link_free[to] = start + s->imp.frame_us;
		f.at = s->link_free[to] + s->imp.delay_us;
	}
	if (s->imp.reorder > 0 && chance(s) < s->imp.reorder) {
		f.at += 1 + sim_rand(s) % (4 * s->imp.delay_us + 1);
		s->ctr.reordered++;
	}
	if (s->imp.corrupt > 0 && chance(s) < s->imp.corrupt) {
		f.data[sim_rand(s) % len] ^= (uint8_t)(1u << (sim_rand(s) % 8));
		s->ctr.corrupted++;
	}
	push(s, f);
}

static void tx(void *ctx, const void *frame, size_t len)
{
	struct side *sd = ctx;
	struct sim *s = sd->s;
	const uint8_t *f = frame;
	s->ctr.sent++;
	if (slp_get16(f + SLP_ETH_HLEN + 2) & SLP_F_NOCRC)
		s->ctr.nocrc[sd->idx]++;
	if (s->drop_offers && f[SLP_ETH_HLEN + 1] == SLP_CONNECT &&
	    (slp_get32(f + SLP_ETH_HLEN + SLP_HDR_LEN + 4) & SLP_CONN_NOCRC)) {
		s->ctr.dropped++;
		return;
	}
	if (s->cut[sd->idx] || s->cut[1 - sd->idx] || (s->imp.loss > 0 && chance(s) < s->imp.loss)) {
		s->ctr.dropped++;
		return;
	}
	enqueue(s, 1 - sd->idx, frame, len);
	if (s->imp.dup > 0 && chance(s) < s->imp.dup) {
		s->ctr.duplicated++;
		enqueue(s, 1 - sd->idx, frame, len);
	}
}

static uint64_t now_cb(void *ctx) { return ((struct side *)ctx)->s->now; }

static uint64_t random_cb(void *ctx)
{
	struct sim *s = ((struct side *)ctx)->s;
	uint64_t r = sim_rand(s);
	return s->near_wrap ? (0xFFFFFF00u + (r & 0x7f)) | (r & ~0xFFFFFFFFull) : r;
}

/* Side i knows one key, for the other side's address only. */
static int peer_key_cb(void *ctx, const uint8_t mac[6], uint8_t key[32])
{
	struct side *sd = ctx;
	if (memcmp(mac, macs[1 - sd->idx], 6))
		return -ENOENT;
	memcpy(key, sd->s->keys[sd->idx], 32);
	return 0;
}

static int peer_encrypt_cb(void *ctx, const uint8_t mac[6])
{
	struct side *sd = ctx;
	return !memcmp(mac, macs[1 - sd->idx], 6) && sd->s->encrypt[sd->idx];
}

void sim_set_encrypt(struct sim *s, int side, int on) { s->encrypt[side] = on; }
void sim_drop_nocrc_offers(struct sim *s, int on) { s->drop_offers = on; }

struct sim *sim_new(uint64_t seed, const struct sim_impair *imp, uint16_t mtu, uint16_t window)
{
	return sim_new_auth(seed, imp, mtu, window, NULL, NULL);
}

static struct slp_engine *side_engine(struct sim *s, int i, uint16_t mtu, uint16_t window)
{
	struct slp_engine_cfg cfg = {.mtu = mtu, .window = window, .tx = tx, .now_us = now_cb,
				     .random = random_cb, .ctx = &s->sides[i], .max_retries = 8,
				     .carrier_checksums = s->carrier[i],
				     .ack_at_turn_end = s->turn_acks};
	if (s->keyed[i]) {
		cfg.peer_key = peer_key_cb;
		cfg.peer_encrypt = peer_encrypt_cb;
		cfg.key_ctx = &s->sides[i];
	}
	memcpy(cfg.mac, macs[i], 6);
	return slp_engine_new(&cfg);
}

struct sim *sim_new_auth(uint64_t seed, const struct sim_impair *imp, uint16_t mtu,
			 uint16_t window, const uint8_t *key0, const uint8_t *key1)
{
	struct sim *s = calloc(1, sizeof(*s));
	s->rng = seed;
	s->now = 1000;
	s->imp = *imp;
	s->mtu = mtu;
	s->window = window;
	for (int i = 0; i < 2; i++) {
		s->sides[i].s = s;
		s->sides[i].idx = i;
		const uint8_t *k = i ? key1 : key0;
		if (k) {
			memcpy(s->keys[i], k, 32);
			s->keyed[i] = 1;
		}
		s->eng[i] = side_engine(s, i, mtu, window);
	}
	return s;
}

void sim_restart(struct sim *s, int side)
{
	slp_engine_set_no_reset(s->eng[side], 1);
	slp_engine_free(s->eng[side]);
	s->eng[side] = side_engine(s, side, s->mtu, s->window);
}

void sim_set_carrier_checksums(struct sim *s, int side, int on)
{
	s->carrier[side] = on;
	sim_restart(s, side);
}

void sim_set_turn_acks(struct sim *s, int on)
{
	s->turn_acks = on;
	sim_restart(s, 0);
	sim_restart(s, 1);
}

void sim_free(struct sim *s)
{
	slp_engine_free(s->eng[0]);
	slp_engine_free(s->eng[1]);
	for (size_t i = 0; i < s->n; i++)
		free(s->heap[i].data);
	free(s->heap);
	free(s);
}

struct slp_engine *sim_engine(struct sim *s, int side) { return s->eng[side]; }
void sim_cut(struct sim *s, int side) { s->cut[side] = 1; }
void sim_pause(struct sim *s, int side, uint64_t us) { s->paused_until[side] = s->now + us; }
int sim_paused(struct sim *s, int side) { return s->paused_until[side] > s->now; }
void sim_set_impair(struct sim *s, const struct sim_impair *imp) { s->imp = *imp; }
void sim_near_wrap(struct sim *s, int on) { s->near_wrap = on; }
void sim_counters(struct sim *s, struct sim_counters *c) { *c = s->ctr; }

void sim_inject(struct sim *s, int to, const void *frame, size_t len)
{
	slp_engine_input(s->eng[to], frame, len);
}

int sim_run(struct sim *s, int (*step)(struct sim *s, void *arg), void *arg, uint64_t limit_us)
{
	uint64_t end = s->now + limit_us;
	for (;;) {
		while (s->n && s->heap[0].at <= s->now) {
			struct frame f = pop(s);
			if (s->paused_until[f.to] > s->now) { /* queued in its socket */
				f.at = s->paused_until[f.to];
				push(s, f);
				continue;
			}
			if (!s->cut[f.to])
				slp_engine_input(s->eng[f.to], f.data, f.len);
			free(f.data);
		}
		for (int i = 0; i < 2; i++)
			if (!s->cut[i] && s->paused_until[i] <= s->now)
				slp_engine_tick(s->eng[i]);
		int r = step(s, arg);
		if (r)
			return r;
		for (int i = 0; i < 2 && s->turn_acks; i++) /* the apps' turn ends */
			if (!s->cut[i] && s->paused_until[i] <= s->now)
				slp_engine_flush_acks(s->eng[i]);
		if (s->now >= end)
			return 0;
		uint64_t next = s->n ? s->heap[0].at : UINT64_MAX;
		for (int i = 0; i < 2; i++) {
			uint64_t d = s->cut[i] ? UINT64_MAX
				     : s->paused_until[i] > s->now ? s->paused_until[i]
								   : slp_engine_next_deadline(s->eng[i]);
			if (d < next)
				next = d;
		}
		if (next <= s->now)
			next = s->now + 1;
		if (next == UINT64_MAX || next > end)
			next = s->now + 100 < end ? s->now + 100 : end; /* let the apps act */
		s->now = next;
	}
}

void sim_pattern(uint64_t off, uint8_t *buf, size_t len, uint64_t salt)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (off + i) / 8 * 0x9E3779B97F4A7C15ull ^ salt;
		x ^= x >> 29;
		x *= 0xBF58476D1CE4E5B9ull;
		buf[i] = (uint8_t)(x >> (8 * ((off + i) % 8)));
	}
}

static int step_connect(struct sim *s, void *arg)
{
	struct sim_pair *p = arg;
	unsigned ev;
	struct slp_conn *c;
	while ((c = slp_engine_next_event(sim_engine(s, 0), &ev)))
		if (ev & SLP_EV_ACCEPTED)
			p->c[0] = c;
	while ((c = slp_engine_next_event(sim_engine(s, 1), &ev)))
		if (ev & SLP_EV_ERROR)
			p->err = slp_conn_error(c);
	return p->err ? -1 : p->c[0] && slp_conn_state(p->c[1]) == SLP_ST_OPEN;
}

int sim_pair_connect(struct sim_pair *p, uint32_t ep, uint64_t limit_us)
{
	int rc = slp_listen(sim_engine(p->s, 0), ep, NULL);
	if (!rc)
		rc = slp_connect(sim_engine(p->s, 1), sim_mac(0), ep, 0, NULL, &p->c[1]);
	if (rc) {
		p->err = rc;
		return -1;
	}
	return sim_pair_wait(p, limit_us);
}

int sim_pair_wait(struct sim_pair *p, uint64_t limit_us)
{
	return sim_run(p->s, step_connect, p, limit_us);
}

void sim_pair_close(struct sim_pair *p)
{
	slp_conn_free(p->c[0]);
	slp_conn_free(p->c[1]);
	sim_free(p->s);
}

int sim_oneway_step(struct sim *s, void *arg)
{
	struct sim_oneway *x = arg;
	unsigned ev;
	for (int i = 0; i < 2; i++)
		while (!sim_paused(s, i) && slp_engine_next_event(sim_engine(s, i), &ev))
			;
	size_t msg = x->msg ? x->msg : sizeof(x->buf);
	while (!sim_paused(s, 1) && x->sent < x->total) {
		size_t n = x->total - x->sent < msg ? x->total - x->sent : msg;
		sim_pattern(x->sent, x->buf, n, 7);
		ssize_t r = x->direct ? slp_send_direct(x->p->c[1], x->buf, n)
				      : slp_send(x->p->c[1], x->buf, n);
		if (r == -EAGAIN)
			break;
		if (r <= 0) {
			x->bad = 1;
			return 1;
		}
		x->sent += (uint64_t)r;
	}
	if (x->direct && !x->no_push && !sim_paused(s, 1))
		slp_engine_push(sim_engine(s, 1));
	if (sim_paused(s, 0))
		return 0;
	size_t n = x->post ? slp_recv_unpost(x->p->c[0]) : 0;
	if (n) { /* they came before anything buffered */
		sim_pattern(x->got, x->chk, n, 7);
		x->bad |= memcmp(x->pbuf, x->chk, n) != 0;
		x->got += n;
		x->got_posted += n;
	}
	ssize_t r;
	while ((r = slp_recv(x->p->c[0], x->buf, sizeof(x->buf))) > 0) {
		sim_pattern(x->got, x->chk, (size_t)r, 7);
		x->bad |= memcmp(x->buf, x->chk, (size_t)r) != 0;
		x->got += (uint64_t)r;
	}
	if (x->post && r == -EAGAIN)
		slp_recv_post(x->p->c[0], x->pbuf, x->post);
	return x->got == x->total;
}
