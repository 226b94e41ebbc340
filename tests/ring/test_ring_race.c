/* SPDX-License-Identifier: MIT */
/*
 * The ring under a live hostile peer: one thread produces, another
 * consumes, and a third keeps overwriting one shared index with values no
 * honest peer could write, racing the honest writer of that index. The
 * side that reads the index must notice (-EPROTO), mark the ring broken
 * for good (counted once) and never touch memory outside the mapping,
 * which sits between PROT_NONE guard pages; read and write buffers are
 * exact-size heap blocks, so ASan and memcheck see any overrun too.
 * No timing: each loop ends when the victim noticed, or fails after a
 * generous number of attempts.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "common/ring.h"

#define PAGE 4096u
#define RING 4096u
#define MAX_ATTEMPTS 50000000ul /* victim calls before giving up: far beyond need */

struct race {
	uint8_t *guarded;
	size_t guarded_len;
	struct ivt_ring_hdr *hdr;
	struct ivt_ring srv, cli; /* server consumes c2s, client produces it */
	uint32_t *target;         /* the index the attacker forges */
	int stop;                 /* set once the victim noticed */
	ssize_t victim_rc;        /* what the victim's last call returned */
	unsigned long victim_calls;
	int violations; /* checks failed in a thread (cmocka asserts only in main) */
};

#define CHECK(r, cond) ((cond) ? (void)0 : (void)__atomic_add_fetch(&(r)->violations, 1, __ATOMIC_RELAXED))

static int no_kick(void *ctx) { return 0; }

static void race_init(struct race *r)
{
	memset(r, 0, sizeof(*r));
	size_t len = ivt_ring_shm_size(RING);
	r->guarded_len = len + 2 * PAGE;
	r->guarded = mmap(NULL, r->guarded_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(r->guarded != MAP_FAILED);
	void *mem = r->guarded + PAGE;
	assert_int_equal(mprotect(mem, len, PROT_READ | PROT_WRITE), 0);
	r->hdr = mem;
	assert_int_equal(ivt_ring_create(&r->srv, mem, len, RING, no_kick, NULL), 0);
	assert_int_equal(ivt_ring_attach(&r->cli, mem, len, RING, no_kick, NULL), 0);
	assert_int_equal(ivt_ring_set_live(&r->cli), 0);
}

static int stopped(struct race *r) { return __atomic_load_n(&r->stop, __ATOMIC_ACQUIRE); }
static void set_stop(struct race *r) { __atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE); }

/* Values impossible for any state the victim can be in: about 2^31 ahead
 * of the consumer index, or behind it. */
static void *attacker(void *arg)
{
	struct race *r = arg;
	uint32_t x = 12345;
	while (!stopped(r)) {
		x = x * 1103515245u + 12345u;
		uint32_t cons = __atomic_load_n(&r->hdr->c2s_cons, __ATOMIC_ACQUIRE);
		uint32_t bad = (x & 1) ? cons + 0x80000000u + (x >> 12) % RING : cons - 1 - (x >> 12) % 1024;
		__atomic_store_n(r->target, bad, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* One side's loop: write (producer) or read (consumer) until told to
 * stop; the side whose peer index is forged judges every result. */
static void side_loop(struct race *r, int producing)
{
	size_t len = producing ? 1000 : 777; /* odd sizes: pieces wrap at varying offsets */
	uint8_t *buf = calloc(1, len);
	int victim = r->target == (producing ? &r->hdr->c2s_cons : &r->hdr->c2s_prod);
	CHECK(r, buf != NULL);
	while (buf && !stopped(r)) {
		ssize_t n = producing ? ivt_ring_write(&r->cli, buf, len) : ivt_ring_read(&r->srv, buf, len);
		if (victim) {
			/* Our view of the peer's index: at most one ring ahead/behind. */
			uint32_t view = producing ? r->cli.wr_prod - r->cli.wr_cons_seen
						  : r->srv.rd_prod_seen - r->srv.rd_cons;
			r->victim_calls++;
			CHECK(r, n == -EAGAIN || n == -EPROTO || (n > 0 && (size_t)n <= len));
			CHECK(r, view <= RING);
			if (n == -EPROTO || r->victim_calls > MAX_ATTEMPTS) {
				r->victim_rc = n;
				set_stop(r);
			}
		}
		if (n == -EAGAIN || n == -EPROTO)
			sched_yield();
	}
	if (!buf)
		set_stop(r);
	free(buf);
}

static void *producer(void *arg)
{
	side_loop(arg, 1);
	return NULL;
}

static void *consumer(void *arg)
{
	side_loop(arg, 0);
	return NULL;
}

static void run_race(uint32_t *(*pick)(struct race *), struct ivt_ring *(*victim)(struct race *))
{
	struct race r;
	race_init(&r);
	r.target = pick(&r);
	pthread_t t[3];
	assert_int_equal(pthread_create(&t[0], NULL, producer, &r), 0);
	assert_int_equal(pthread_create(&t[1], NULL, consumer, &r), 0);
	assert_int_equal(pthread_create(&t[2], NULL, attacker, &r), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);

	struct ivt_ring *v = victim(&r);
	assert_int_equal(r.violations, 0);
	assert_int_equal(r.victim_rc, -EPROTO);
	/* Broken for good, counted once, even with an honest index back. */
	assert_true(v->broken);
	assert_int_equal(v->protocol_errors, 1);
	uint8_t b[16];
	r.hdr->c2s_prod = r.cli.wr_prod;
	r.hdr->c2s_cons = r.srv.rd_cons;
	assert_int_equal(ivt_ring_read(v, b, sizeof(b)), -EPROTO);
	assert_int_equal(ivt_ring_write(v, b, sizeof(b)), -EPROTO);
	assert_int_equal(ivt_ring_ready(v), IVT_RING_READABLE | IVT_RING_WRITABLE);
	assert_int_equal(v->protocol_errors, 1);
	munmap(r.guarded, r.guarded_len);
}

static uint32_t *c2s_prod(struct race *r) { return &r->hdr->c2s_prod; }
static uint32_t *c2s_cons(struct race *r) { return &r->hdr->c2s_cons; }
static struct ivt_ring *server(struct race *r) { return &r->srv; }
static struct ivt_ring *client(struct race *r) { return &r->cli; }

/* The consumer's view of the producer index races the honest producer. */
static void test_forged_prod_while_streaming(void **state) { run_race(c2s_prod, server); }
/* The producer's view of the consumer index races the honest consumer. */
static void test_forged_cons_while_streaming(void **state) { run_race(c2s_cons, client); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forged_prod_while_streaming),
		cmocka_unit_test(test_forged_cons_while_streaming),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
