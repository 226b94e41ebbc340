/* SPDX-License-Identifier: MIT */
/*
 * Channel spill through a real ivtd: a channel whose rule says
 * "spill": {"to": "utmem", ...} lets a sender run ahead of a sleeping
 * receiver by parking bytes in ivtd's utmem store, and the receiver later
 * gets every byte, in order. A spill the store refuses (quota) is
 * back-pressure (-EAGAIN / waiting), never loss. Without a store the
 * channel behaves as before.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define RING 65536
#define PIECE 65536

/* ts* spills above 4 KiB; ivt.utmem gives each identity `quota` bytes. */
#define POLICY_FMT                                                                            \
	"{\"version\":1,\"channels\":["                                                       \
	"%s"                                                                                  \
	"{\"name\":\"ts*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],\"backend\":\"shm\","  \
	"\"ring_size\":65536,\"spill\":{\"to\":\"utmem\",\"above_bytes\":4096}}]}"
#define STORE_RULE_FMT                                                                        \
	"{\"name\":\"ivt.utmem\",\"listeners\":[],\"connectors\":[\"*\"],\"backend\":\"shm\"," \
	"\"ring_size\":1048576,\"quota_bytes\":%llu},"

static struct e2e_daemon daemon_;

static int start(unsigned long long quota, int with_store)
{
	char rule[512] = "", policy[2048];
	if (with_store)
		snprintf(rule, sizeof(rule), STORE_RULE_FMT, quota);
	snprintf(policy, sizeof(policy), POLICY_FMT, rule);
	return e2e_daemon_start(&daemon_, policy);
}

static int teardown(void **state)
{
	(void)state;
	e2e_daemon_stop(&daemon_, 0);
	return 0;
}

struct receiver {
	const char *name;
	uint64_t seed, len;
	int go[2];      /* the receiver reads only after a byte arrives here */
	int slow;       /* read in small bites with pauses */
};

static void sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static int receive(void *arg)
{
	struct receiver *r = arg;
	close(r->go[1]);
	ivt_channel *ch;
	if (e2e_open(r->name, IVT_LISTEN, 30000, RING, &ch) < 0)
		return 2;
	char c;
	if (read(r->go[0], &c, 1) != 1)
		return 3;
	int rc;
	if (!r->slow) {
		rc = e2e_recv_pattern(ch, r->seed, r->len);
	} else {
		uint8_t buf[3000];
		uint64_t off = 0;
		rc = 0;
		while (off < r->len && rc == 0) {
			size_t want = r->len - off < sizeof(buf) ? (size_t)(r->len - off) : sizeof(buf);
			ssize_t n = ivt_recv(ch, buf, want);
			if (n <= 0) {
				rc = n < 0 ? (int)n : -ECONNRESET;
				break;
			}
			if (e2e_mismatch(buf, r->seed, off, (size_t)n) >= 0) {
				fprintf(stderr, "receiver: wrong byte near %llu\n", (unsigned long long)off);
				rc = -EILSEQ;
			}
			off += (uint64_t)n;
			if ((off / sizeof(buf)) % 97 == 0)
				sleep_us(200);
		}
	}
	if (rc != 0)
		return 4;
	uint8_t extra;
	ssize_t n = ivt_recv(ch, &extra, 1);
	if (n != 0) {
		fprintf(stderr, "receiver: after the stream: %zd\n", n);
		return 5;
	}
	ivt_close(ch);
	return 0;
}

static pid_t start_receiver(struct receiver *r)
{
	if (pipe(r->go) != 0)
		return -1;
	pid_t pid = e2e_fork(receive, r);
	close(r->go[0]);
	return pid;
}

static void release_receiver(struct receiver *r)
{
	assert_int_equal(write(r->go[1], "g", 1), 1);
	close(r->go[1]);
}

/* Non-blocking sends of pattern bytes until len or the first short one.
 * Returns bytes accepted. */
static uint64_t send_until_refused(ivt_channel *ch, uint64_t seed, uint64_t len, int *refused)
{
	static uint8_t buf[PIECE];
	uint64_t off = 0;
	*refused = 0;
	while (off < len) {
		size_t n = len - off < PIECE ? (size_t)(len - off) : PIECE;
		e2e_fill(buf, seed, off, n);
		ssize_t r = ivt_send(ch, buf, n);
		if (r == -EAGAIN) {
			*refused = 1;
			break;
		}
		if (r < 0)
			fail_msg("send at %llu: %s", (unsigned long long)off, ivt_strerror((int)r));
		off += (uint64_t)r;
		if ((size_t)r < n) {
			*refused = 1;
			break;
		}
	}
	return off;
}

static int send_rest_blocking(ivt_channel *ch, uint64_t seed, uint64_t off, uint64_t len)
{
	static uint8_t buf[PIECE];
	ivt_set_nonblock(ch, 0);
	while (off < len) {
		size_t n = len - off < PIECE ? (size_t)(len - off) : PIECE;
		e2e_fill(buf, seed, off, n);
		ssize_t r = ivt_send(ch, buf, n);
		if (r != (ssize_t)n)
			return r < 0 ? (int)r : -EIO;
		off += n;
	}
	return 0;
}

/* 64 MiB into a 64 KiB ring while the receiver sleeps: every send
 * returns at once (nothing refused), then all of it arrives in order. */
static void test_sender_runs_ahead_of_sleeping_receiver(void **state)
{
	(void)state;
	assert_int_equal(start(256ull << 20, 1), 0);
	const uint64_t len = 64ull << 20;
	struct receiver r = {.name = "ts-big", .seed = 11, .len = len};
	pid_t pid = start_receiver(&r);
	ivt_channel *ch;
	assert_int_equal(e2e_open(r.name, IVT_NONBLOCK, 30000, RING, &ch), 0);
	int refused;
	uint64_t sent = send_until_refused(ch, r.seed, len, &refused);
	assert_false(refused);
	assert_int_equal(sent, len);
	struct ivt_stats st;
	assert_int_equal(ivt_get_stats(ch, &st), 0);
	assert_int_equal(st.ring_size, RING);
	/* the ring took at most a ring's worth: the rest was parked in the
	 * store, charged to this identity (the spill's own connection) */
	assert_true(st.bytes_sent <= 2 * RING);
	ivt_store *store;
	struct ivt_store_stats ss;
	assert_int_equal(ivt_store_open(NULL, &store), 0);
	assert_int_equal(ivt_store_stats(store, &ss), 0);
	print_message("parked in utmem: %llu bytes in %llu values\n", (unsigned long long)ss.used,
		      (unsigned long long)ss.pages);
	assert_true(ss.used >= len - 2 * RING - (1u << 20));
	assert_int_equal(ivt_store_close(store), 0);
	release_receiver(&r);
	assert_int_equal(ivt_set_nonblock(ch, 0), 0);
	assert_int_equal(ivt_flush(ch), 0);
	assert_int_equal(ivt_get_stats(ch, &st), 0);
	assert_int_equal(st.bytes_sent, len);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(pid), 0);
	/* delivered: nothing is left in the store */
	assert_int_equal(ivt_store_open(NULL, &store), 0);
	assert_int_equal(ivt_store_stats(store, &ss), 0);
	assert_int_equal(ss.used, 0);
	assert_int_equal(ivt_store_close(store), 0);
}

/* A 1 MiB quota: the sender parks about that much, then non-blocking
 * sends say -EAGAIN; when the receiver reads, everything gets through. */
static void test_refused_spill_is_backpressure(void **state)
{
	(void)state;
	assert_int_equal(start(1ull << 20, 1), 0);
	const uint64_t len = 8ull << 20;
	struct receiver r = {.name = "ts-quota", .seed = 22, .len = len};
	pid_t pid = start_receiver(&r);
	ivt_channel *ch;
	assert_int_equal(e2e_open(r.name, IVT_NONBLOCK, 30000, RING, &ch), 0);
	int refused;
	uint64_t sent = send_until_refused(ch, r.seed, len, &refused);
	print_message("accepted %llu bytes before back-pressure\n", (unsigned long long)sent);
	assert_true(refused);
	assert_true(sent > RING + (512u << 10)); /* it did spill */
	assert_true(sent < (4ull << 20));         /* and the quota held */
	/* non-blocking flush cannot finish while nobody reads */
	assert_int_equal(ivt_flush(ch), -EAGAIN);
	release_receiver(&r);
	assert_int_equal(send_rest_blocking(ch, r.seed, sent, len), 0);
	assert_int_equal(ivt_flush(ch), 0);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(pid), 0);
}

/* Both run at once, uneven pieces, small quota so the spill fills, is
 * refused and drains over and over: the order must hold throughout. */
static void test_order_under_churn(void **state)
{
	(void)state;
	assert_int_equal(start(512ull << 10, 1), 0);
	const uint64_t len = 24ull << 20;
	struct receiver r = {.name = "ts-churn", .seed = 33, .len = len, .slow = 1};
	pid_t pid = start_receiver(&r);
	ivt_channel *ch;
	assert_int_equal(e2e_open(r.name, 0, 30000, RING, &ch), 0);
	release_receiver(&r);
	uint8_t *buf = malloc(200000);
	uint64_t off = 0, x = 12345;
	while (off < len) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		size_t n = 1 + (size_t)((x >> 33) % 199999);
		if (n > len - off)
			n = (size_t)(len - off);
		e2e_fill(buf, r.seed, off, n);
		/* alternate modes: both paths must keep the order */
		ivt_set_nonblock(ch, (int)((x >> 20) & 1));
		ssize_t s = ivt_send(ch, buf, n);
		if (s == -EAGAIN)
			continue;
		assert_true(s > 0);
		off += (uint64_t)s;
	}
	free(buf);
	ivt_set_nonblock(ch, 0);
	assert_int_equal(ivt_flush(ch), 0);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(pid), 0);
}

/* No rule for ivt.utmem: the channel works as if it had no spill. */
static void test_without_store_behaves_as_before(void **state)
{
	(void)state;
	assert_int_equal(start(0, 0), 0);
	const uint64_t len = 1ull << 20;
	struct receiver r = {.name = "ts-nostore", .seed = 44, .len = len};
	pid_t pid = start_receiver(&r);
	ivt_channel *ch;
	assert_int_equal(e2e_open(r.name, IVT_NONBLOCK, 30000, RING, &ch), 0);
	int refused;
	uint64_t sent = send_until_refused(ch, r.seed, len, &refused);
	assert_true(refused);
	assert_true(sent <= 2 * RING);
	release_receiver(&r);
	assert_int_equal(send_rest_blocking(ch, r.seed, sent, len), 0);
	assert_int_equal(ivt_flush(ch), 0);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(pid), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_sender_runs_ahead_of_sleeping_receiver, teardown),
		cmocka_unit_test_teardown(test_refused_spill_is_backpressure, teardown),
		cmocka_unit_test_teardown(test_order_under_churn, teardown),
		cmocka_unit_test_teardown(test_without_store_behaves_as_before, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
