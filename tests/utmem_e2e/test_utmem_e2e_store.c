/* SPDX-License-Identifier: MIT */
/*
 * The utmem store through a real ivtd and libivt's ivt_store API: values
 * round-trip byte-exactly, a put over quota is refused with -ENOSPC and
 * the client carries on, another identity cannot touch a private pool, a
 * client that dies gives its space back, and a client that speaks garbage
 * loses only its own connection. After ivtd restarts, a handle reconnects
 * by itself: what the store held is gone (gets miss), its pools are there
 * again, empty, under the same ids.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctrl_msg.h"
#include "e2e/e2e_util.h"
#include "utmem/proto.h"

#define QUOTA (1u << 20)
#define VAL (64u << 10)

/* The store's rule: everyone local, 1 MiB per identity; t* for plain channels. */
#define POLICY                                                                                \
	"{\"version\":1,\"utmem\":{\"capacity_bytes\":67108864,\"max_value_bytes\":1048576},"   \
	"\"limits\":{\"bytes_in_flight\":2097152},"                                           \
	"\"channels\":[{\"name\":\"ivt.utmem\",\"listeners\":[],\"connectors\":[\"uid:*\"],"   \
	"\"backend\":\"shm\",\"quota_bytes\":1048576},"                                       \
	"{\"name\":\"t*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],\"backend\":\"shm\"}]}"

static struct e2e_daemon daemon_;

static int setup(void **state)
{
	(void)state;
	if (e2e_daemon_start(&daemon_, POLICY) != 0)
		return -1;
	/* let an unprivileged child reach the socket */
	chmod(daemon_.dir, 0755);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	e2e_daemon_stop(&daemon_, 0);
	return 0;
}

static ivt_store *open_store(void)
{
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 5000};
	ivt_store *st = NULL;
	int rc = ivt_store_open(&o, &st);
	if (rc < 0)
		fail_msg("ivt_store_open: %s", ivt_strerror(rc));
	return st;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

static void test_put_get_invalidate(void **state)
{
	(void)state;
	ivt_store *st = open_store();
	assert_int_equal(ivt_store_max_value(st), 1048576);
	uint32_t pool;
	assert_int_equal(ivt_pool_create(st, IVT_POOL_PERSISTENT, NULL, &pool), 0);
	assert_true(pool > 0);
	assert_int_equal(ivt_put(st, pool, 7, 1, "hello", 5), 0);
	char buf[16] = "";
	assert_int_equal(ivt_get(st, pool, 7, 1, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(ivt_get(st, pool, 7, 1, buf, 2, 0), -EMSGSIZE);
	assert_int_equal(ivt_get(st, pool, 7, 2, buf, sizeof(buf), 0), -ENOENT);
	/* a large value, byte-exact (bigger than the channel's ring) */
	size_t big = 512u << 10;
	uint8_t *v = malloc(big), *w = malloc(big);
	e2e_fill(v, 42, 0, big);
	assert_int_equal(ivt_put(st, pool, 8, 0, v, big), 0);
	assert_int_equal(ivt_get(st, pool, 8, 0, w, big, 0), (ssize_t)big);
	assert_int_equal(e2e_mismatch(w, 42, 0, big), -1);
	assert_int_equal(ivt_put(st, pool, 8, 1, v, 1048577), -E2BIG);
	free(v);
	free(w);
	/* invalidate one, then the whole object */
	assert_int_equal(ivt_invalidate(st, pool, 7, 1), 0);
	assert_int_equal(ivt_invalidate(st, pool, 7, 1), -ENOENT);
	assert_int_equal(ivt_get(st, pool, 7, 1, buf, sizeof(buf), 0), -ENOENT);
	assert_int_equal(ivt_put(st, pool, 9, 1, "a", 1), 0);
	assert_int_equal(ivt_put(st, pool, 9, 2, "b", 1), 0);
	assert_int_equal(ivt_invalidate_object(st, pool, 9), 0);
	assert_int_equal(ivt_get(st, pool, 9, 2, buf, sizeof(buf), 0), -ENOENT);
	/* TAKE removes on a hit */
	assert_int_equal(ivt_put(st, pool, 10, 0, "xyz", 3), 0);
	assert_int_equal(ivt_get(st, pool, 10, 0, buf, sizeof(buf), IVT_GET_TAKE), 3);
	assert_int_equal(ivt_get(st, pool, 10, 0, buf, sizeof(buf), 0), -ENOENT);
	assert_int_equal(ivt_pool_destroy(st, pool), 0);
	assert_int_equal(ivt_put(st, pool, 7, 1, "x", 1), -EBADF);
	assert_int_equal(ivt_store_close(st), 0);
}

static void test_store_after_restart(void **state)
{
	(void)state;
	ivt_store *st = open_store();
	const uint8_t uuid[IVT_UUID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	uint32_t mine, shared, fresh;
	char buf[16];
	assert_int_equal(ivt_pool_create(st, IVT_POOL_PERSISTENT, NULL, &mine), 0);
	assert_int_equal(ivt_pool_create(st, IVT_POOL_PERSISTENT | IVT_POOL_SHARED, uuid, &shared),
			 0);
	assert_int_equal(ivt_put(st, mine, 1, 0, "before", 6), 0);
	assert_int_equal(ivt_put(st, shared, 1, 0, "before", 6), 0);

	assert_int_equal(e2e_daemon_kill(&daemon_), 0);
	/* while ivtd is down a call fails at once, saying so */
	int rc = ivt_put(st, mine, 2, 0, "x", 1);
	assert_true(rc == -ECONNRESET || rc == -EPIPE || rc == -ECONNREFUSED);
	assert_int_equal(e2e_daemon_respawn(&daemon_), 0);

	/* what the old ivtd held is gone: a miss, not an error */
	assert_int_equal(ivt_get(st, mine, 1, 0, buf, sizeof(buf), 0), -ENOENT);
	assert_int_equal(ivt_get(st, shared, 1, 0, buf, sizeof(buf), 0), -ENOENT);
	assert_int_equal(ivt_put(st, mine, 1, 0, "after", 5), 0);
	assert_int_equal(ivt_get(st, mine, 1, 0, buf, sizeof(buf), 0), 5);
	assert_memory_equal(buf, "after", 5);
	assert_int_equal(ivt_put(st, shared, 1, 0, "shared", 6), 0);
	assert_int_equal(ivt_get(st, shared, 1, 0, buf, sizeof(buf), 0), 6);
	/* a new pool gets an id of its own */
	assert_int_equal(ivt_pool_create(st, IVT_POOL_PERSISTENT, NULL, &fresh), 0);
	assert_true(fresh != mine && fresh != shared);
	assert_int_equal(ivt_put(st, fresh, 1, 0, "new", 3), 0);
	assert_int_equal(ivt_get(st, mine, 1, 0, buf, sizeof(buf), 0), 5);
	struct ivt_store_stats ss;
	assert_int_equal(ivt_store_stats(st, &ss), 0);
	assert_int_equal(ss.pools, 3);
	assert_int_equal(ss.pages, 3);
	assert_int_equal(ivt_pool_destroy(st, mine), 0);
	assert_int_equal(ivt_put(st, mine, 1, 0, "x", 1), -EBADF);
	assert_int_equal(ivt_store_close(st), 0);
}

/* Fill the quota with VAL-byte values; returns how many fit. */
static int fill(ivt_store *st, uint32_t pool)
{
	static uint8_t v[VAL];
	int n = 0;
	for (;; n++) {
		int rc = ivt_put(st, pool, 1, (uint32_t)n, v, sizeof(v));
		if (rc == -ENOSPC)
			return n;
		if (rc != 0)
			fail_msg("put %d: %s", n, ivt_strerror(rc));
		if (n > 1000)
			fail_msg("quota not enforced");
	}
}

static void test_quota_refusal_is_normal(void **state)
{
	(void)state;
	ivt_store *st = open_store();
	uint32_t pool;
	assert_int_equal(ivt_pool_create(st, IVT_POOL_PERSISTENT, NULL, &pool), 0);
	int n = fill(st, pool);
	assert_int_equal(n, QUOTA / (VAL + 128));
	struct ivt_store_stats s;
	assert_int_equal(ivt_store_stats(st, &s), 0);
	assert_int_equal(s.quota, QUOTA);
	assert_int_equal(s.used, (uint64_t)n * (VAL + 128));
	assert_true(s.puts_refused >= 1);
	/* the connection is fine: reads, and room again after an invalidate */
	uint8_t buf[VAL];
	assert_int_equal(ivt_get(st, pool, 1, 0, buf, sizeof(buf), 0), VAL);
	assert_int_equal(ivt_invalidate(st, pool, 1, 0), 0);
	assert_int_equal(ivt_put(st, pool, 1, 0, buf, sizeof(buf)), 0);
	assert_int_equal(ivt_put(st, pool, 1, 9999, buf, sizeof(buf)), -ENOSPC);
	assert_int_equal(ivt_store_close(st), 0);
	/* closing gave the space back */
	st = open_store();
	assert_int_equal(ivt_store_stats(st, &s), 0);
	assert_int_equal(s.used, 0);
	ivt_store_close(st);
}

struct other_arg {
	uint32_t pool;
};

static int other_identity(void *arg)
{
	struct other_arg *a = arg;
	if (setgid(65534) != 0 || setuid(65534) != 0)
		return 10;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 5000};
	ivt_store *st;
	int rc = ivt_store_open(&o, &st);
	if (rc < 0) {
		fprintf(stderr, "child: ivt_store_open: %s\n", ivt_strerror(rc));
		return 11;
	}
	char buf[16];
	int ret = 0;
	if ((rc = (int)ivt_get(st, a->pool, 7, 1, buf, sizeof(buf), 0)) != -EACCES)
		ret = 12;
	else if ((rc = ivt_put(st, a->pool, 7, 1, "x", 1)) != -EACCES)
		ret = 13;
	else if ((rc = ivt_invalidate_object(st, a->pool, 7)) != -EACCES)
		ret = 14;
	else if ((rc = ivt_pool_destroy(st, a->pool)) != -EACCES)
		ret = 15;
	if (ret)
		fprintf(stderr, "child: got %d (%s)\n", rc, ivt_strerror(rc));
	ivt_store_close(st);
	return ret;
}

static void test_private_pool_of_another_identity(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* needs two uids */
	ivt_store *st = open_store();
	struct other_arg a;
	assert_int_equal(ivt_pool_create(st, IVT_POOL_PERSISTENT, NULL, &a.pool), 0);
	assert_int_equal(ivt_put(st, a.pool, 7, 1, "secret", 6), 0);
	assert_int_equal(e2e_wait(e2e_fork(other_identity, &a)), 0);
	char buf[16];
	assert_int_equal(ivt_get(st, a.pool, 7, 1, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "secret", 6);
	ivt_store_close(st);
}

static int fill_and_die(void *arg)
{
	(void)arg;
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 5000};
	ivt_store *st;
	uint32_t pool;
	if (ivt_store_open(&o, &st) < 0 || ivt_pool_create(st, IVT_POOL_PERSISTENT, NULL, &pool) < 0)
		return 20;
	static uint8_t v[VAL];
	int n = 0;
	while (ivt_put(st, pool, 1, (uint32_t)n, v, sizeof(v)) == 0)
		n++;
	_exit(n > 0 ? 0 : 21); /* no close: as if it crashed */
}

static void test_dead_client_releases_quota(void **state)
{
	(void)state;
	assert_int_equal(e2e_wait(e2e_fork(fill_and_die, NULL)), 0);
	/* ivtd notices the death on its own schedule: wait for it */
	ivt_store *st = open_store();
	struct ivt_store_stats s;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(ivt_store_stats(st, &s), 0);
		if (s.used == 0)
			break;
		sleep_ms(10);
	}
	assert_int_equal(s.used, 0);
	uint32_t pool;
	assert_int_equal(ivt_pool_create(st, IVT_POOL_PERSISTENT, NULL, &pool), 0);
	assert_int_equal(fill(st, pool), QUOTA / (VAL + 128));
	ivt_store_close(st);
}

static void test_garbage_only_hurts_its_sender(void **state)
{
	(void)state;
	ivt_channel *ch;
	assert_int_equal(e2e_open(IVT_STORE_CHANNEL, 0, 5000, 0, &ch), 0);
	uint8_t junk[100];
	memset(junk, 0xa5, sizeof(junk));
	assert_int_equal(ivt_send(ch, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	/* an error reply, then end of stream: ivtd closed this end */
	uint8_t buf[256];
	ssize_t n, total = 0;
	while ((n = ivt_recv(ch, buf, sizeof(buf))) > 0)
		total += n;
	assert_true(n == 0 || n == -ECONNRESET);
	assert_int_equal(total, 40); /* one utmem header: the error reply */
	ivt_close(ch);
	/* listening on the reserved name is refused */
	assert_int_equal(e2e_open(IVT_STORE_CHANNEL, IVT_LISTEN, 1000, 0, &ch), -EACCES);
	/* and the store still serves everyone else */
	ivt_store *st = open_store();
	uint32_t pool;
	assert_int_equal(ivt_pool_create(st, 0, NULL, &pool), 0);
	ivt_store_close(st);
}

/* A client that pipelines requests and does not read the replies: ivtd
 * stops reading its requests (instead of buffering 16 MiB of replies or
 * blocking), keeps serving others, and the replies all arrive in order
 * once the client reads. */
static void test_pipelining_client_is_throttled(void **state)
{
	(void)state;
	enum { N = 64, SZ = 256 << 10 };
	ivt_store *st = open_store();
	uint32_t pool;
	assert_int_equal(ivt_pool_create(st, IVT_POOL_PERSISTENT, NULL, &pool), 0);
	uint8_t *v = malloc(SZ);
	e2e_fill(v, 5, 0, SZ);
	assert_int_equal(ivt_put(st, pool, 1, 0, v, SZ), 0);

	ivt_channel *ch; /* same identity, so the same store domain */
	assert_int_equal(e2e_open(IVT_STORE_CHANNEL, 0, 5000, 0, &ch), 0);
	uint8_t reqs[N][UTMEM_HDR_SIZE];
	for (int i = 0; i < N; i++) {
		struct utmem_hdr h = {.magic = UTMEM_PROTO_MAGIC, .version = UTMEM_PROTO_VERSION,
				      .op = UTMEM_OP_GET, .req_id = (uint32_t)i + 1, .pool = pool,
				      .oid = 1, .index = 0, .aux = SZ};
		utmem_hdr_encode(&h, reqs[i]);
	}
	assert_int_equal(ivt_send(ch, reqs, sizeof(reqs)), (ssize_t)sizeof(reqs));
	/* meanwhile the store serves everyone else */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(ivt_put(st, pool, 2, (uint32_t)i, "x", 1), 0);
		assert_int_equal(ivt_get(st, pool, 2, (uint32_t)i, v, 1, 0), 1);
	}
	/* now read every reply: in order, complete */
	uint8_t *w = malloc(SZ);
	for (int i = 0; i < N; i++) {
		uint8_t hb[UTMEM_HDR_SIZE];
		assert_int_equal(ivt_recv_all(ch, hb, sizeof(hb)), (ssize_t)sizeof(hb));
		struct utmem_hdr h;
		utmem_hdr_decode(hb, &h);
		assert_int_equal(h.req_id, (uint32_t)i + 1);
		assert_int_equal(h.status, 0);
		assert_int_equal(h.len, SZ);
		assert_int_equal(ivt_recv_all(ch, w, SZ), SZ);
		assert_int_equal(e2e_mismatch(w, 5, 0, SZ), -1);
	}
	free(v);
	free(w);
	ivt_close(ch);
	ivt_store_close(st);
}

/* ---- half-sent requests (issue 9) -------------------------------------- */

#define IN_FLIGHT_LIMIT (2u << 20) /* the policy's limits.bytes_in_flight */
#define BIG (1u << 20)             /* max_value */

/* Request bytes ivtd holds for uid:0's connections, from its status. */
static unsigned long long in_flight_now(void)
{
	struct ivt_ctrl_msg *m = malloc(sizeof(*m));
	int fd = e2e_ctrl_connect(daemon_.sock);
	assert_true(fd >= 0);
	assert_int_equal(ivt_ctrl_send(fd, IVT_CTRL_STATUS, 1, NULL, 0, NULL, 0), 0);
	assert_int_equal(ivt_ctrl_recv(fd, m, 10000), 0);
	assert_int_equal(m->hdr.type, IVT_CTRL_STATUS_OK);
	close(fd);
	unsigned long long sum = 0;
	int lines = 0;
	for (const char *p = m->u.status; (p = strstr(p, " in-flight ")); p++, lines++)
		sum += strtoull(p + 11, NULL, 10);
	free(m);
	assert_true(lines > 0); /* the status reports it */
	return sum;
}

/* Connections that each announce a max_value PUT and send half of it pin
 * at most the identity's bytes_in_flight in ivtd; the rest are read and
 * dropped, then answered -ENOBUFS. ivtd used to allocate every announced
 * payload outside any quota. */
static void test_half_sent_puts_are_bounded(void **state)
{
	(void)state;
	enum { CONNS = 8 };
	ivt_channel *ch[CONNS];
	uint8_t *half = calloc(1, BIG / 2);
	uint8_t hb[UTMEM_HDR_SIZE];
	for (int i = 0; i < CONNS; i++) {
		assert_int_equal(e2e_open(IVT_STORE_CHANNEL, 0, 5000, 0, &ch[i]), 0);
		struct utmem_hdr h = {.magic = UTMEM_PROTO_MAGIC, .version = UTMEM_PROTO_VERSION,
				      .op = UTMEM_OP_PUT, .req_id = 1, .pool = 1, .oid = 1,
				      .len = BIG};
		utmem_hdr_encode(&h, hb);
		assert_int_equal(ivt_send(ch[i], hb, sizeof(hb)), (ssize_t)sizeof(hb));
		assert_int_equal(ivt_send(ch[i], half, BIG / 2), (ssize_t)(BIG / 2));
	}
	/* ivtd reads at its own pace: wait (bounded) for the full charge */
	unsigned long long held = 0;
	for (int i = 0; i < 1000 && (held = in_flight_now()) < IN_FLIGHT_LIMIT; i++)
		usleep(10000);
	print_message("in flight with %d half-sent PUTs of %u bytes: %llu\n", CONNS, BIG, held);
	assert_int_equal(held, IN_FLIGHT_LIMIT);
	/* finishing them: two ran (into no pool: -ENOENT or the like), the
	 * others were refused without being buffered */
	int refused = 0;
	for (int i = 0; i < CONNS; i++) {
		assert_int_equal(ivt_send(ch[i], half, BIG / 2), (ssize_t)(BIG / 2));
		assert_int_equal(ivt_recv_all(ch[i], hb, sizeof(hb)), (ssize_t)sizeof(hb));
		struct utmem_hdr r;
		utmem_hdr_decode(hb, &r);
		assert_int_equal(r.len, 0);
		assert_true(r.status < 0);
		refused += r.status == -ENOBUFS;
	}
	assert_int_equal(refused, CONNS - IN_FLIGHT_LIMIT / BIG);
	assert_int_equal(in_flight_now(), 0);
	for (int i = 0; i < CONNS; i++)
		ivt_close(ch[i]);
	free(half);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_invalidate),
		cmocka_unit_test(test_quota_refusal_is_normal),
		cmocka_unit_test(test_private_pool_of_another_identity),
		cmocka_unit_test(test_dead_client_releases_quota),
		cmocka_unit_test(test_garbage_only_hurts_its_sender),
		cmocka_unit_test(test_pipelining_client_is_throttled),
		cmocka_unit_test(test_half_sent_puts_are_bounded),
		cmocka_unit_test(test_store_after_restart),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
