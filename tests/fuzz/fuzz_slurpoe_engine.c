/* SPDX-License-Identifier: MIT */
/*
 * The SLURPoE engine (src/slurpoe/engine.c and the files behind it) with
 * the input in charge of everything around it: two engines on the
 * simulated link of tests/slurpoe/sim.c, whose seed and impairments
 * (loss, duplication, reordering, corruption) the input picks, and a
 * script of application calls (stream, RDMA, regions, close, free) mixed
 * with forged frames: raw bytes, or well-addressed frames with fuzzed
 * type, flags, sequence numbers and extension (right CRC, right
 * endpoints), the kind an attacker on the segment can send.
 * The seed's top bits switch on authentication and encryption.
 * Property on top of the sanitizers: until a frame is forged, the stream
 * from side 1 arrives at side 0 intact and in order.
 */
#include <errno.h>

#include "fuzz_input.h"
#include "sim.h"
#include "slurpoe_crc.h"

#define EP_SERVER 7u
#define REGION 65536u

struct run {
	struct fz in;
	struct sim *s;
	struct slp_conn *c[2]; /* [0] accepted on side 0, [1] connected from side 1 */
	uint64_t key[2];       /* a region each side registered, 0 = none */
	uint8_t region[2][REGION], rdbuf[2][REGION];
	uint64_t sent, got;
	int forged;
};

static void drain_events(struct run *r)
{
	for (int i = 0; i < 2; i++) {
		unsigned ev;
		struct slp_conn *c;
		while ((c = slp_engine_next_event(sim_engine(r->s, i), &ev)))
			if ((ev & SLP_EV_ACCEPTED) && i == 0 && !r->c[0])
				r->c[0] = c;
	}
}

static void forge(struct run *r, int to, uint8_t how)
{
	uint8_t f[2048];
	size_t blen;
	const uint8_t *body = fz_bytes(&r->in, sizeof(f) - SLP_ETH_HLEN - SLP_HDR_LEN, &blen);
	r->forged = 1;
	if (how & 1) { /* raw bytes, maybe with a right CRC */
		memcpy(f, body, blen);
		if (how & 2)
			fz_slp_fix_crc(f, blen);
		sim_inject(r->s, to, f, blen);
		return;
	}
	struct slp_conn *c = r->c[to];        /* the connection being attacked */
	struct slp_out o = {
		.dst_mac = sim_mac(to), .src_mac = sim_mac(1 - to),
		.type = (uint8_t)(1 + fz_u8(&r->in) % SLP_RESET), .flags = fz_u8(&r->in) & SLP_F_ALL,
		.src_ep = c ? slp_conn_peer_ep(c) : fz_u32(&r->in),
		.dst_ep = c ? slp_conn_local_ep(c) : EP_SERVER,
		.seq = fz_u32(&r->in), .ack = fz_u32(&r->in), .tx_next = fz_u32(&r->in),
		.window = fz_u16(&r->in),
	};
	memcpy(f + SLP_ETH_HLEN + SLP_HDR_LEN, body, blen);
	size_t len = slp_build(f, &o, blen);
	sim_inject(r->s, to, f, len);
}

static void send_stream(struct run *r, size_t len)
{
	uint8_t buf[4096];
	if (!r->c[1])
		return;
	if (len > sizeof(buf))
		len = sizeof(buf);
	sim_pattern(r->sent, buf, len, 1);
	ssize_t n = slp_send(r->c[1], buf, len);
	FZ_CHECK(n < 0 || (size_t)n <= len);
	if (n > 0)
		r->sent += (uint64_t)n;
}

static void recv_stream(struct run *r, int side, size_t len)
{
	uint8_t buf[4096], want[4096];
	if (!r->c[side])
		return;
	if (len > sizeof(buf))
		len = sizeof(buf);
	ssize_t n = slp_recv(r->c[side], buf, len);
	FZ_CHECK(n < 0 || (size_t)n <= len);
	if (side == 0 && n > 0) {
		sim_pattern(r->got, want, (size_t)n, 1);
		FZ_CHECK(r->forged || !memcmp(buf, want, (size_t)n));
		r->got += (uint64_t)n;
	}
}

static void rdma(struct run *r, int side, uint8_t op)
{
	struct slp_conn *c = r->c[side];
	uint64_t key = (op & 0x10) ? fz_u32(&r->in) : r->key[1 - side];
	uint64_t off = fz_u16(&r->in), len = fz_u16(&r->in);
	if (!c)
		return;
	if (op & 0x20)
		(void)slp_rdma_read(c, r->rdbuf[side], len, key, off, op);
	else
		(void)slp_rdma_write(c, r->region[side], len, key, off, op);
}

static void region(struct run *r, int side, uint8_t op)
{
	struct slp_conn *c = r->c[side];
	if (!c)
		return;
	if (r->key[side] && (op & 0x10)) {
		FZ_CHECK(slp_deregister_region(c, r->key[side]) == 0);
		r->key[side] = 0;
	} else if (!r->key[side]) {
		unsigned access = 1 + (op >> 5) % 3;
		if (slp_register_region(c, r->region[side], REGION, access, &r->key[side]))
			r->key[side] = 0;
	}
}

static int step(struct sim *s, void *arg)
{
	struct run *r = arg;
	drain_events(r);
	if (!r->in.left)
		return 1;
	uint8_t op = fz_u8(&r->in);
	int side = (op >> 3) & 1;
	struct slp_completion cq[8];
	switch (op & 7) {
	case 0: send_stream(r, fz_u16(&r->in)); break;
	case 1: recv_stream(r, side, fz_u16(&r->in)); break;
	case 2: forge(r, side, op >> 4); break;
	case 3: rdma(r, side, op); break;
	case 4: region(r, side, op); break;
	case 5:
		if (r->c[side]) {
			int n = slp_poll_cq(r->c[side], cq, 8);
			FZ_CHECK(n <= 8);
		}
		break;
	case 6:
		if (r->c[side] && (op & 0x10)) {
			slp_conn_free(r->c[side]);
			r->c[side] = NULL;
			r->key[side] = 0;
		} else if (r->c[side]) {
			(void)slp_close(r->c[side]);
		}
		break;
	default: break; /* let time pass */
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	memset(&r, 0, sizeof(r));
	r.in = fz_init(data, size);
	uint32_t seed = fz_u32(&r.in);
	uint8_t imp_b[4] = {fz_u8(&r.in), fz_u8(&r.in), fz_u8(&r.in), fz_u8(&r.in)};
	struct sim_impair imp = {.loss = imp_b[0] / 1024.0, .dup = imp_b[1] / 1024.0,
				 .reorder = imp_b[2] / 512.0, .corrupt = imp_b[3] / 1024.0,
				 .delay_us = 50};
	/* The seed's top bits: authenticated frames, payloads encrypted too. */
	static const uint8_t key[32] = "fuzz host pair key .............";
	int keyed = (seed >> 30) & 1;
	r.s = sim_new_auth(seed, &imp, 512, 8, keyed ? key : NULL, keyed ? key : NULL);
	sim_set_encrypt(r.s, 1, keyed && (seed >> 31));
	if (slp_listen(sim_engine(r.s, 0), EP_SERVER, NULL) == 0 &&
	    slp_connect(sim_engine(r.s, 1), sim_mac(0), EP_SERVER, 0, NULL, &r.c[1]) == 0)
		sim_run(r.s, step, &r, 20000000);
	for (int i = 0; i < 2; i++)
		if (r.c[i])
			slp_conn_free(r.c[i]);
	sim_free(r.s);
	return 0;
}
