/* SPDX-License-Identifier: MIT */
/* The shared-memory ring: data integrity across wraparound, full/empty,
 * notify-bit semantics, end-of-stream, and a hostile peer forging indices
 * and header fields. The mapping sits between PROT_NONE guard pages so an
 * out-of-bounds access crashes the test instead of passing silently. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ring.h"

#define PAGE 4096u

struct fixture {
	uint8_t *guarded; /* whole reservation including guard pages */
	size_t guarded_len;
	void *mem; /* the shared object */
	size_t mem_len;
	size_t ring_size;
	struct ivt_ring srv, cli;
	int kicks_by_srv, kicks_by_cli;
};

static int count_kick(void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static struct fixture *fixture_new(size_t ring_size)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->ring_size = ring_size;
	f->mem_len = ivt_ring_shm_size(ring_size);
	assert_true(f->mem_len > 0);
	f->guarded_len = f->mem_len + 2 * PAGE;
	f->guarded = mmap(NULL, f->guarded_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(f->guarded != MAP_FAILED);
	f->mem = f->guarded + PAGE;
	assert_int_equal(mprotect(f->mem, f->mem_len, PROT_READ | PROT_WRITE), 0);
	assert_int_equal(ivt_ring_create(&f->srv, f->mem, f->mem_len, ring_size, count_kick,
					 &f->kicks_by_srv), 0);
	assert_int_equal(ivt_ring_attach(&f->cli, f->mem, f->mem_len, ring_size, count_kick,
					 &f->kicks_by_cli), 0);
	return f;
}

static void fixture_free(struct fixture *f)
{
	munmap(f->guarded, f->guarded_len);
	free(f);
}

static struct ivt_ring_hdr *hdr(struct fixture *f) { return f->mem; }

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 131 + (i >> 9)); }

/* Pump bytes client->server in odd-sized pieces and check every byte. */
static void pump_and_check(struct fixture *f, uint64_t total, const size_t *wsz, int nw,
			   const size_t *rsz, int nr)
{
	size_t cap = 3 * f->ring_size;
	uint8_t *wbuf = malloc(cap), *rbuf = malloc(cap);
	assert_non_null(wbuf);
	assert_non_null(rbuf);
	uint64_t sent = 0, got = 0;
	int wi = 0, ri = 0;
	while (got < total) {
		size_t w = wsz[wi++ % nw];
		if (w > total - sent)
			w = (size_t)(total - sent);
		if (w) {
			for (size_t i = 0; i < w; i++)
				wbuf[i] = pattern(sent + i);
			ssize_t n = ivt_ring_write(&f->cli, wbuf, w);
			if (n == -EAGAIN)
				n = 0;
			assert_true(n >= 0 && (size_t)n <= w);
			sent += (uint64_t)n;
		}
		size_t r = rsz[ri++ % nr];
		ssize_t n = ivt_ring_read(&f->srv, rbuf, r);
		if (n == -EAGAIN)
			continue;
		assert_true(n > 0 && (size_t)n <= r);
		for (ssize_t i = 0; i < n; i++)
			if (rbuf[i] != pattern(got + (uint64_t)i))
				fail_msg("byte %llu differs", (unsigned long long)(got + (uint64_t)i));
		got += (uint64_t)n;
	}
	assert_int_equal(f->cli.protocol_errors + f->srv.protocol_errors, 0);
	free(wbuf);
	free(rbuf);
}

static void test_wraparound_odd_sizes(void **state)
{
	static const size_t w[] = {1, 7, 4095, 13, 4097, 333, 2048, 9000};
	static const size_t r[] = {5, 4096, 1, 999, 3, 8191, 77};
	struct fixture *f = fixture_new(4096);
	pump_and_check(f, 3u << 20, w, 8, r, 7);
	fixture_free(f);
}

/* Free-running 32-bit indices: start both sides just below 2^32. */
static void test_index_overflow(void **state)
{
	static const size_t w[] = {1000, 3, 5000};
	static const size_t r[] = {700, 4096, 11};
	struct fixture *f = fixture_new(4096);
	uint32_t start = UINT32_MAX - 5000;
	f->cli.wr_prod = f->cli.wr_cons_seen = f->srv.rd_cons = f->srv.rd_prod_seen = start;
	hdr(f)->c2s_prod = hdr(f)->c2s_cons = start;
	pump_and_check(f, 1u << 20, w, 3, r, 3);
	assert_true(f->cli.wr_prod < start); /* it really wrapped */
	fixture_free(f);
}

static void test_full_and_empty(void **state)
{
	struct fixture *f = fixture_new(4096);
	uint8_t buf[8192], out[8192];
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(ivt_ring_read(&f->srv, out, sizeof(out)), -EAGAIN);
	assert_int_equal(ivt_ring_ready(&f->srv), IVT_RING_WRITABLE);
	/* A write larger than the ring fills it and reports the partial count. */
	assert_int_equal(ivt_ring_write(&f->cli, buf, sizeof(buf)), 4096);
	assert_int_equal(ivt_ring_write(&f->cli, buf, 1), -EAGAIN);
	assert_int_equal(ivt_ring_ready(&f->cli) & IVT_RING_WRITABLE, 0);
	assert_int_equal(ivt_ring_ready(&f->srv) & IVT_RING_READABLE, IVT_RING_READABLE);
	assert_int_equal(ivt_ring_read(&f->srv, out, 100), 100);
	assert_int_equal(ivt_ring_write(&f->cli, buf, 1000), 100);
	assert_int_equal(ivt_ring_read(&f->srv, out, sizeof(out)), 4096);
	assert_int_equal(ivt_ring_read(&f->srv, out, sizeof(out)), -EAGAIN);
	assert_int_equal(ivt_ring_write(&f->cli, buf, 0), 0);
	fixture_free(f);
}

static void test_notify_bits(void **state)
{
	struct fixture *f = fixture_new(4096);
	uint8_t buf[4096] = {0};
	/* Nobody asked: writes and reads never kick. */
	assert_int_equal(ivt_ring_write(&f->cli, buf, 10), 10);
	assert_int_equal(ivt_ring_read(&f->srv, buf, 10), 10);
	assert_int_equal(f->kicks_by_cli + f->kicks_by_srv, 0);

	/* The server arms for data: the bit lands in the CLIENT's notify byte. */
	assert_int_equal(ivt_ring_arm(&f->srv, IVT_RING_READABLE), 0);
	assert_int_equal(hdr(f)->cli_notify, IVT_RING_NOTIFY_WRITE);
	assert_int_equal(hdr(f)->srv_notify, 0);
	assert_int_equal(ivt_ring_write(&f->cli, buf, 1), 1);
	assert_int_equal(f->kicks_by_cli, 1);
	assert_int_equal(hdr(f)->cli_notify, 0); /* fetch-and-cleared */
	assert_int_equal(ivt_ring_write(&f->cli, buf, 1), 1);
	assert_int_equal(f->kicks_by_cli, 1); /* one request, one kick */

	/* Arming with data already there reports it and requests nothing. */
	assert_int_equal(ivt_ring_arm(&f->srv, IVT_RING_READABLE), IVT_RING_READABLE);
	assert_int_equal(hdr(f)->cli_notify, 0);
	assert_int_equal(ivt_ring_read(&f->srv, buf, 2), 2);

	/* The client fills the ring and arms for space: the server's read kicks. */
	assert_int_equal(ivt_ring_write(&f->cli, buf, 4096), 4096);
	assert_int_equal(ivt_ring_arm(&f->cli, IVT_RING_WRITABLE), 0);
	assert_int_equal(hdr(f)->srv_notify, IVT_RING_NOTIFY_READ);
	assert_int_equal(ivt_ring_read(&f->srv, buf, 1), 1);
	assert_int_equal(f->kicks_by_srv, 1);
	assert_int_equal(ivt_ring_read(&f->srv, buf, 1), 1);
	assert_int_equal(f->kicks_by_srv, 1);

	/* A bit for the other event does not make a read kick. */
	assert_int_equal(ivt_ring_read(&f->srv, buf, sizeof(buf)), 4094);
	assert_int_equal(ivt_ring_arm(&f->cli, IVT_RING_READABLE), 0);
	assert_int_equal(hdr(f)->srv_notify, IVT_RING_NOTIFY_WRITE);
	assert_int_equal(ivt_ring_write(&f->cli, buf, 5), 5);
	assert_int_equal(ivt_ring_read(&f->srv, buf, 5), 5);
	assert_int_equal(f->kicks_by_srv, 1);
	assert_int_equal(hdr(f)->srv_notify, IVT_RING_NOTIFY_WRITE);

	/* Going live and closing kick unconditionally. */
	assert_int_equal(ivt_ring_set_live(&f->cli), 0);
	assert_int_equal(f->kicks_by_cli, 2);
	ivt_ring_close(&f->cli);
	assert_int_equal(f->kicks_by_cli, 3);
	ivt_ring_close(&f->cli);
	assert_int_equal(f->kicks_by_cli, 3);
	fixture_free(f);
}

static void test_close_drains_then_eof(void **state)
{
	struct fixture *f = fixture_new(4096);
	uint8_t buf[64] = {1, 2, 3};
	assert_int_equal(ivt_ring_peer_attached(&f->srv), 0);
	assert_int_equal(ivt_ring_set_live(&f->cli), 0);
	assert_int_equal(ivt_ring_peer_attached(&f->srv), 1);
	assert_int_equal(ivt_ring_write(&f->cli, buf, 3), 3);
	ivt_ring_close(&f->cli);
	assert_int_equal(ivt_ring_write(&f->cli, buf, 1), -EPIPE);
	assert_int_equal(ivt_ring_ready(&f->srv) & IVT_RING_READABLE, IVT_RING_READABLE);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ivt_ring_read(&f->srv, buf, 2), 2);
	assert_int_equal(ivt_ring_read(&f->srv, buf + 2, 10), 1);
	assert_int_equal(buf[2], 3);
	assert_int_equal(ivt_ring_read(&f->srv, buf, 10), 0);
	assert_int_equal(ivt_ring_read(&f->srv, buf, 10), 0);
	assert_int_equal(ivt_ring_write(&f->srv, buf, 1), -EPIPE);
	assert_int_equal(f->srv.protocol_errors, 0);
	fixture_free(f);
}

/* Read in place: bytes intact across the wrap (windows stop there and at
 * a piece), consume hands the room back, more than was shown is refused,
 * and the end comes after the data. */
static void test_peek_consume(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);
	uint8_t buf[4096];
	uint64_t sent = 0, got = 0;
	const void *p;
	assert_int_equal(ivt_ring_peek(&f->srv, &p), -EAGAIN);
	for (int round = 0; round < 40; round++) {
		size_t w = 1000 + (size_t)round * 37 % 900;
		for (size_t i = 0; i < w; i++)
			buf[i] = pattern(sent + i);
		ssize_t n = ivt_ring_write(&f->cli, buf, w);
		assert_true(n > 0);
		sent += (uint64_t)n;
		while (got < sent) {
			ssize_t k = ivt_ring_peek(&f->srv, &p);
			assert_true(k > 0 && k <= 1024); /* a quarter of this ring at most */
			for (ssize_t i = 0; i < k; i++)
				if (((const uint8_t *)p)[i] != pattern(got + (uint64_t)i))
					fail_msg("byte %llu differs", (unsigned long long)(got + i));
			size_t take = k > 3 ? (size_t)k / 2 : (size_t)k;
			assert_int_equal(ivt_ring_consume(&f->srv, take), 0);
			got += take;
		}
	}
	assert_int_equal(ivt_ring_peek(&f->srv, &p), -EAGAIN);
	assert_int_equal(ivt_ring_consume(&f->srv, 1), -EINVAL);
	assert_int_equal(ivt_ring_write(&f->cli, buf, 10), 10);
	assert_int_equal(ivt_ring_peek(&f->srv, &p), 10);
	assert_int_equal(ivt_ring_consume(&f->srv, 11), -EINVAL);
	ivt_ring_close(&f->cli);
	assert_int_equal(ivt_ring_consume(&f->srv, 10), 0);
	assert_int_equal(ivt_ring_peek(&f->srv, &p), 0);
	assert_int_equal(f->srv.bytes_read, sent + 10);
	assert_int_equal(f->srv.protocol_errors, 0);
	fixture_free(f);
}

/* A consume hands room back to a writer that asked to be told. */
static void test_consume_notifies_a_waiting_writer(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);
	static uint8_t big[8192];
	const void *p;
	assert_int_equal(ivt_ring_write(&f->cli, big, sizeof(big)), 4096);
	assert_int_equal(ivt_ring_arm(&f->cli, IVT_RING_WRITABLE), 0);
	int before = f->kicks_by_srv;
	assert_true(ivt_ring_peek(&f->srv, &p) > 0);
	assert_int_equal(ivt_ring_consume(&f->srv, 100), 0);
	assert_int_equal(f->kicks_by_srv, before + 1);
	fixture_free(f);
}

/* After a violation: -EPROTO forever, counted once, reported as ready. */
static void assert_broken(struct ivt_ring *r)
{
	uint8_t buf[16];
	assert_int_equal(r->protocol_errors, 1);
	assert_int_equal(ivt_ring_read(r, buf, sizeof(buf)), -EPROTO);
	assert_int_equal(ivt_ring_write(r, buf, sizeof(buf)), -EPROTO);
	assert_int_equal(ivt_ring_ready(r), IVT_RING_READABLE | IVT_RING_WRITABLE);
	assert_int_equal(ivt_ring_arm(r, IVT_RING_READABLE), IVT_RING_READABLE);
	assert_int_equal(r->protocol_errors, 1);
}

/* The hostile peer is the client; we are the server and must survive.
 * Reads go into a buffer far larger than the ring so that only our
 * validation, not the buffer size, limits them. */
/* ivt_ring_ready only looks: it runs in a waiter of one direction while
 * another thread reads or writes, and a cache it moved back (its older
 * load stored over the reader's newer one) let the reader take bytes the
 * peer had not published (-EPROTO on a healthy channel, both directions
 * at once in test_e2e_stream). */
static void test_ready_leaves_the_caches_alone(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(4096);
	uint8_t buf[64] = {0};
	assert_int_equal(ivt_ring_write(&f->cli, buf, 10), 10);
	assert_int_equal(ivt_ring_write(&f->srv, buf, 20), 20);
	uint32_t rd_seen = f->srv.rd_prod_seen, wr_seen = f->srv.wr_cons_seen;
	assert_int_equal(ivt_ring_ready(&f->srv), IVT_RING_READABLE | IVT_RING_WRITABLE);
	assert_int_equal(ivt_ring_read(&f->cli, buf, 20), 20); /* the peer consumed */
	assert_int_equal(ivt_ring_ready(&f->srv), IVT_RING_READABLE | IVT_RING_WRITABLE);
	assert_int_equal(f->srv.rd_prod_seen, rd_seen);
	assert_int_equal(f->srv.wr_cons_seen, wr_seen);
	assert_int_equal(ivt_ring_read(&f->srv, buf, sizeof(buf)), 10); /* the data path moves them */
	assert_int_equal(f->srv.protocol_errors, 0);
	fixture_free(f);
}

static void test_forged_prod_beyond_ring(void **state)
{
	struct fixture *f = fixture_new(4096);
	static uint8_t big[1 << 20];
	hdr(f)->c2s_prod = 0 + 4096 + 1;
	assert_int_equal(ivt_ring_read(&f->srv, big, sizeof(big)), -EPROTO);
	assert_broken(&f->srv);
	fixture_free(f);
}

/* peek judges the peer's index as read does. */
static void test_forged_prod_seen_by_peek(void **state)
{
	struct fixture *f = fixture_new(4096);
	const void *p;
	hdr(f)->c2s_prod = 4096 + 1;
	assert_int_equal(ivt_ring_peek(&f->srv, &p), -EPROTO);
	assert_broken(&f->srv);
	assert_int_equal(ivt_ring_peek(&f->srv, &p), -EPROTO);
	assert_int_equal(ivt_ring_consume(&f->srv, 1), -EPROTO);
	fixture_free(f);

	f = fixture_new(4096);
	uint8_t b[100] = {0};
	assert_int_equal(ivt_ring_write(&f->cli, b, 100), 100);
	assert_int_equal(ivt_ring_peek(&f->srv, &p), 100);
	assert_int_equal(ivt_ring_consume(&f->srv, 100), 0);
	hdr(f)->c2s_prod = 50; /* takes back data we consumed */
	assert_int_equal(ivt_ring_peek(&f->srv, &p), -EPROTO);
	assert_broken(&f->srv);
	fixture_free(f);

	f = fixture_new(4096);
	hdr(f)->c2s_order = 13; /* the header changed under us */
	assert_int_equal(ivt_ring_peek(&f->srv, &p), -EPROTO);
	assert_broken(&f->srv);
	fixture_free(f);
}

static void test_forged_prod_exactly_full_is_fine(void **state)
{
	struct fixture *f = fixture_new(4096);
	static uint8_t big[1 << 20];
	hdr(f)->c2s_prod = 4096; /* a full ring of garbage: legal */
	assert_int_equal(ivt_ring_read(&f->srv, big, sizeof(big)), 4096);
	assert_int_equal(f->srv.protocol_errors, 0);
	fixture_free(f);
}

static void test_forged_prod_far_ahead(void **state)
{
	struct fixture *f = fixture_new(4096);
	static uint8_t big[1 << 20];
	uint8_t b[100] = {0};
	assert_int_equal(ivt_ring_write(&f->cli, b, 100), 100);
	assert_int_equal(ivt_ring_read(&f->srv, b, 50), 50);
	hdr(f)->c2s_prod = 0x80000000u;
	assert_int_equal(ivt_ring_read(&f->srv, big, sizeof(big)), -EPROTO);
	assert_broken(&f->srv);
	fixture_free(f);
}

static void test_forged_prod_backwards(void **state)
{
	struct fixture *f = fixture_new(4096);
	uint8_t b[100] = {0};
	assert_int_equal(ivt_ring_write(&f->cli, b, 100), 100);
	assert_int_equal(ivt_ring_read(&f->srv, b, 10), 10);
	hdr(f)->c2s_prod = 50; /* still >= our cons, but takes back published data */
	assert_int_equal(ivt_ring_read(&f->srv, b, 100), -EPROTO);
	assert_broken(&f->srv);
	fixture_free(f);
}

static void test_forged_prod_before_cons(void **state)
{
	struct fixture *f = fixture_new(4096);
	uint8_t b[100] = {0};
	assert_int_equal(ivt_ring_write(&f->cli, b, 100), 100);
	assert_int_equal(ivt_ring_read(&f->srv, b, 100), 100);
	hdr(f)->c2s_prod = 20; /* behind our cons: unsigned distance is huge */
	assert_int_equal(ivt_ring_ready(&f->srv), IVT_RING_READABLE | IVT_RING_WRITABLE);
	assert_broken(&f->srv);
	fixture_free(f);
}

static void test_forged_cons_beyond_our_prod(void **state)
{
	struct fixture *f = fixture_new(4096);
	static uint8_t big[1 << 20];
	assert_int_equal(ivt_ring_write(&f->srv, big, 100), 100);
	hdr(f)->s2c_cons = 200; /* consumed more than we produced */
	assert_int_equal(ivt_ring_write(&f->srv, big, sizeof(big)), -EPROTO);
	assert_broken(&f->srv);
	fixture_free(f);
}

static void test_forged_cons_far_ahead_of_empty_ring(void **state)
{
	struct fixture *f = fixture_new(4096);
	static uint8_t big[1 << 20];
	hdr(f)->s2c_cons = 0xfffff000u; /* would claim 2^32 - 4096 + 4096 bytes free */
	assert_int_equal(ivt_ring_ready(&f->srv), IVT_RING_READABLE | IVT_RING_WRITABLE);
	assert_int_equal(ivt_ring_write(&f->srv, big, sizeof(big)), -EPROTO);
	assert_broken(&f->srv);
	fixture_free(f);
}

static void test_forged_cons_backwards(void **state)
{
	struct fixture *f = fixture_new(4096);
	static uint8_t big[1 << 20];
	assert_int_equal(ivt_ring_write(&f->srv, big, 4096), 4096);
	assert_int_equal(ivt_ring_read(&f->cli, big, 80), 80);
	assert_int_equal(ivt_ring_write(&f->srv, big, 100), 80); /* saw cons = 80 */
	hdr(f)->s2c_cons = 50;
	assert_int_equal(ivt_ring_write(&f->srv, big, sizeof(big)), -EPROTO);
	assert_broken(&f->srv);
	fixture_free(f);
}

/* Size fields are never used after setup; a change is detected and
 * reported, and until then the agreed size bounds every access. */
static void test_forged_ring_order(void **state)
{
	struct fixture *f = fixture_new(4096);
	static uint8_t big[1 << 20];
	hdr(f)->c2s_order = 30;
	hdr(f)->s2c_order = 30;
	hdr(f)->c2s_prod = 1u << 29;
	assert_int_equal(ivt_ring_read(&f->srv, big, sizeof(big)), -EPROTO);
	assert_broken(&f->srv);
	fixture_free(f);
}

static void test_forged_header_fields(void **state)
{
	static const size_t offsets[] = {
		offsetof(struct ivt_ring_hdr, magic),
		offsetof(struct ivt_ring_hdr, version),
		offsetof(struct ivt_ring_hdr, hdr_size),
		offsetof(struct ivt_ring_hdr, c2s_order),
		offsetof(struct ivt_ring_hdr, s2c_order),
	};
	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		struct fixture *f = fixture_new(4096);
		uint8_t b[64] = {0};
		uint32_t *field = (uint32_t *)((uint8_t *)f->mem + offsets[i]);
		*field += 1;
		assert_int_equal(ivt_ring_write(&f->srv, b, sizeof(b)), -EPROTO);
		assert_broken(&f->srv);
		/* A client attaching to such a header refuses it. */
		struct ivt_ring other;
		assert_int_equal(ivt_ring_attach(&other, f->mem, f->mem_len, 4096, NULL, NULL),
				 -EPROTO);
		fixture_free(f);
	}
}

static void test_attach_checks_agreed_size(void **state)
{
	struct fixture *f = fixture_new(8192);
	struct ivt_ring other;
	/* The creator says 8192, the out-of-band agreement said 4096. */
	assert_int_equal(ivt_ring_attach(&other, f->mem, f->mem_len, 4096, NULL, NULL), -EPROTO);
	/* Memory too small for what was agreed. */
	assert_int_equal(ivt_ring_attach(&other, f->mem, f->mem_len - 1, 8192, NULL, NULL), -EPROTO);
	assert_int_equal(ivt_ring_attach(&other, f->mem, f->mem_len, 3000, NULL, NULL), -EINVAL);
	assert_int_equal(ivt_ring_shm_size(2048), 0);
	assert_int_equal(ivt_ring_shm_size((size_t)IVT_RING_MAX_SIZE * 2), 0);
	assert_int_equal(ivt_ring_shm_size(4096), 3 * 4096);
	fixture_free(f);
}

/* Hostile live flag values are a hint, not an index: no error, just EOF. */
static void test_garbage_live_flag_means_closed(void **state)
{
	struct fixture *f = fixture_new(4096);
	uint8_t b[8];
	hdr(f)->cli_live = 0xff;
	assert_int_equal(ivt_ring_read(&f->srv, b, sizeof(b)), 0);
	assert_int_equal(ivt_ring_write(&f->srv, b, sizeof(b)), -EPIPE);
	assert_int_equal(f->srv.protocol_errors, 0);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wraparound_odd_sizes),
		cmocka_unit_test(test_index_overflow),
		cmocka_unit_test(test_full_and_empty),
		cmocka_unit_test(test_notify_bits),
		cmocka_unit_test(test_close_drains_then_eof),
		cmocka_unit_test(test_ready_leaves_the_caches_alone),
		cmocka_unit_test(test_peek_consume),
		cmocka_unit_test(test_consume_notifies_a_waiting_writer),
		cmocka_unit_test(test_forged_prod_beyond_ring),
		cmocka_unit_test(test_forged_prod_seen_by_peek),
		cmocka_unit_test(test_forged_prod_exactly_full_is_fine),
		cmocka_unit_test(test_forged_prod_far_ahead),
		cmocka_unit_test(test_forged_prod_backwards),
		cmocka_unit_test(test_forged_prod_before_cons),
		cmocka_unit_test(test_forged_cons_beyond_our_prod),
		cmocka_unit_test(test_forged_cons_far_ahead_of_empty_ring),
		cmocka_unit_test(test_forged_cons_backwards),
		cmocka_unit_test(test_forged_ring_order),
		cmocka_unit_test(test_forged_header_fields),
		cmocka_unit_test(test_attach_checks_agreed_size),
		cmocka_unit_test(test_garbage_live_flag_means_closed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
