/* SPDX-License-Identifier: MIT */
/* The utmem protocol: client/server over a socketpair, a remote tier in a
 * stack, and hostile messages in both directions. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "utmem/proto.h"

#define DOM 5

/* ---- a real server in a thread ------------------------------------------ */

struct server {
	struct utmem_store *st;
	struct utmem_tier *tier;
	struct utmem_server_opts opts;
	int fd; /* server end */
	int cfd; /* client end */
	pthread_t thr;
	int rc;
	struct utmem_io cio;
	struct utmem_client *c;
};

static void *serve_thread(void *arg)
{
	struct server *s = arg;
	struct utmem_io io = utmem_io_fd(s->fd);
	s->rc = utmem_serve(s->tier, &io, &s->opts);
	return NULL;
}

static struct server *server_start(int admin, uint64_t quota)
{
	struct server *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->st = utmem_store_new(NULL);
	assert_non_null(s->st);
	if (quota)
		utmem_set_quota(s->st, DOM, quota);
	s->tier = utmem_store_tier(s->st, DOM);
	s->opts.domid = DOM;
	s->opts.store = s->st;
	s->opts.allow_admin = admin;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	s->fd = sv[0];
	s->cfd = sv[1];
	assert_int_equal(pthread_create(&s->thr, NULL, serve_thread, s), 0);
	s->cio = utmem_io_fd(s->cfd);
	assert_int_equal(utmem_client_open(&s->cio, &s->c), 0);
	return s;
}

/* Close the client side; the server loop must end cleanly. */
static int server_stop(struct server *s)
{
	utmem_client_free(s->c);
	shutdown(s->cfd, SHUT_RDWR);
	pthread_join(s->thr, NULL);
	close(s->cfd);
	close(s->fd);
	utmem_tier_destroy(s->tier);
	utmem_store_free(s->st);
	int rc = s->rc;
	free(s);
	return rc;
}

static void client_server_basics(void **state)
{
	struct server *s = server_start(0, 0);
	struct utmem_client *c = s->c;
	assert_int_equal(utmem_client_domid(c), DOM);
	assert_int_equal(utmem_client_max_value(c), UTMEM_DEFAULT_MAX_VALUE);
	uint32_t p;
	assert_int_equal(utmem_client_pool_create(c, UTMEM_POOL_PERSISTENT, NULL, &p), 0);
	struct utmem_key k = {p, 3, 77};
	char out[32];
	assert_int_equal(utmem_client_get(c, &k, out, sizeof(out), 0), -ENOENT);
	assert_int_equal(utmem_client_put(c, &k, "over the wire", 13), 0);
	assert_int_equal(utmem_client_get(c, &k, out, sizeof(out), 0), 13);
	assert_memory_equal(out, "over the wire", 13);
	assert_int_equal(utmem_client_get(c, &k, out, 5, 0), -EMSGSIZE);
	assert_int_equal(utmem_client_get(c, &k, out, sizeof(out), UTMEM_GET_TAKE), 13);
	assert_int_equal(utmem_client_get(c, &k, out, sizeof(out), 0), -ENOENT);
	assert_int_equal(utmem_client_put(c, &k, "a", 1), 0);
	assert_int_equal(utmem_client_invalidate_page(c, &k), 0);
	assert_int_equal(utmem_client_invalidate_page(c, &k), -ENOENT);
	assert_int_equal(utmem_client_put(c, &k, "a", 1), 0);
	assert_int_equal(utmem_client_invalidate_object(c, p, 77), 0);
	assert_int_equal(utmem_client_put(c, &k, "", 0), -EINVAL);
	/* errors from the store arrive as such and the connection stays usable */
	struct utmem_key bad = {p + 100, 0, 0};
	assert_int_equal(utmem_client_put(c, &bad, "a", 1), -EBADF);
	assert_int_equal(utmem_client_put(c, &k, "b", 1), 0);
	struct utmem_domain_stats ds;
	assert_int_equal(utmem_client_stats(c, &ds), 0);
	assert_int_equal(ds.pages, 1);
	assert_int_equal(ds.used, utmem_charge(1));
	/* not an admin session */
	assert_int_equal(utmem_client_set_quota(c, DOM, 0), -EPERM);
	assert_int_equal(utmem_client_pool_destroy(c, p), 0);
	assert_int_equal(server_stop(s), 0);
}

static void large_values_over_the_wire(void **state)
{
	struct server *s = server_start(0, 0);
	uint32_t p;
	assert_int_equal(utmem_client_pool_create(s->c, UTMEM_POOL_PERSISTENT, NULL, &p), 0);
	size_t n = UTMEM_DEFAULT_MAX_VALUE;
	uint8_t *buf = malloc(n + 1), *out = malloc(n);
	for (size_t i = 0; i < n + 1; i++)
		buf[i] = (uint8_t)(i ^ (i >> 9));
	struct utmem_key k = {p, 0, 1};
	assert_int_equal(utmem_client_put(s->c, &k, buf, n), 0);
	memset(out, 0, n);
	assert_int_equal(utmem_client_get(s->c, &k, out, n, 0), (ssize_t)n);
	assert_memory_equal(out, buf, n);
	/* refused locally, the server never sees it */
	assert_int_equal(utmem_client_put(s->c, &k, buf, n + 1), -E2BIG);
	assert_int_equal(utmem_client_get(s->c, &k, out, 1024 * 1024, 0), -EMSGSIZE);
	free(buf);
	free(out);
	assert_int_equal(server_stop(s), 0);
}

static void admin_quota_over_the_wire(void **state)
{
	struct server *s = server_start(1, 0);
	uint32_t p;
	assert_int_equal(utmem_client_pool_create(s->c, UTMEM_POOL_PERSISTENT, NULL, &p), 0);
	assert_int_equal(utmem_client_set_quota(s->c, DOM, utmem_charge(10)), 0);
	struct utmem_key k = {p, 0, 0}, k2 = {p, 1, 0};
	assert_int_equal(utmem_client_put(s->c, &k, "0123456789", 10), 0);
	assert_int_equal(utmem_client_put(s->c, &k2, "x", 1), -ENOSPC); /* normal result */
	struct utmem_domain_stats ds;
	assert_int_equal(utmem_client_stats(s->c, &ds), 0);
	assert_int_equal(ds.quota, utmem_charge(10));
	assert_int_equal(ds.puts_refused, 1);
	assert_int_equal(server_stop(s), 0);
}

static void remote_tier_in_a_stack(void **state)
{
	struct server *s = server_start(0, 0);
	struct utmem_store *local = utmem_store_new(NULL);
	utmem_set_quota(local, 1, 2 * utmem_charge(64));
	struct utmem_tier *lt = utmem_store_tier(local, 1);
	struct utmem_tier *levels[2] = {lt, utmem_client_tier(s->c)};
	struct utmem_tier *stack = utmem_stack_new(levels, 2);
	uint32_t p;
	assert_int_equal(utmem_tier_pool_create(stack, UTMEM_POOL_PERSISTENT, NULL, &p), 0);
	char buf[64], out[64];
	for (uint32_t i = 0; i < 10; i++) {
		memset(buf, 'a' + (int)i, sizeof(buf));
		struct utmem_key k = {p, i, 9};
		assert_int_equal(utmem_tier_put(stack, &k, buf, sizeof(buf)), 0);
	}
	struct utmem_store_stats ls, rs;
	utmem_store_stats(local, &ls);
	utmem_store_stats(s->st, &rs);
	assert_int_equal(ls.pages, 2);
	assert_int_equal(rs.pages, 8);
	for (uint32_t i = 0; i < 10; i++) {
		struct utmem_key k = {p, i, 9};
		assert_int_equal(utmem_tier_get(stack, &k, out, sizeof(out), UTMEM_GET_TAKE), 64);
		assert_int_equal(out[10], 'a' + (int)i);
	}
	utmem_store_stats(s->st, &rs);
	assert_int_equal(rs.pages, 0);
	assert_int_equal(utmem_tier_pool_destroy(stack, p), 0);
	utmem_tier_destroy(stack);
	utmem_tier_destroy(lt);
	utmem_store_free(local);
	assert_int_equal(server_stop(s), 0);
}

/* ---- hostile requests, fed straight into a session ----------------------- */

struct sink {
	uint8_t buf[4096];
	size_t len;
};

static ssize_t sink_write(void *ctx, const void *b, size_t n)
{
	struct sink *k = ctx;
	if (n > sizeof(k->buf) - k->len)
		return -ENOSPC;
	memcpy(k->buf + k->len, b, n);
	k->len += n;
	return (ssize_t)n;
}

static void make_req(uint8_t *out, uint8_t op, uint32_t len)
{
	struct utmem_hdr h = {.magic = UTMEM_PROTO_MAGIC, .version = UTMEM_PROTO_VERSION,
			      .op = op, .req_id = 9, .len = len};
	utmem_hdr_encode(&h, out);
}

/* Feed one header into a fresh session; return the reply status and
 * check that the session dropped the connection. */
static int32_t reject_status(const uint8_t *hdr, size_t n)
{
	struct utmem_store *st = utmem_store_new(NULL);
	struct utmem_tier *t = utmem_store_tier(st, DOM);
	struct utmem_session *s = utmem_session_new(t, NULL);
	struct sink k = {.len = 0};
	struct utmem_io out = {&k, NULL, sink_write};
	int rc = utmem_session_input(s, hdr, n, &out);
	assert_int_equal(rc, -EPROTO);
	assert_int_equal(k.len, UTMEM_HDR_SIZE); /* exactly one error reply */
	struct utmem_hdr r;
	utmem_hdr_decode(k.buf, &r);
	assert_int_equal(r.magic, UTMEM_PROTO_MAGIC);
	assert_int_equal(r.flags, UTMEM_HDR_REPLY);
	assert_int_equal(r.len, 0);
	/* a dead session ignores everything after */
	k.len = 0;
	uint8_t hello[UTMEM_HDR_SIZE];
	make_req(hello, UTMEM_OP_HELLO, 0);
	assert_int_equal(utmem_session_input(s, hello, sizeof(hello), &out), -EPROTO);
	assert_int_equal(k.len, 0);
	utmem_session_free(s);
	utmem_tier_destroy(t);
	utmem_store_free(st);
	return r.status;
}

static void hostile_requests(void **state)
{
	uint8_t h[UTMEM_HDR_SIZE];
	make_req(h, UTMEM_OP_HELLO, 0);
	h[0] ^= 1; /* magic */
	assert_int_equal(reject_status(h, sizeof(h)), -EPROTO);
	make_req(h, UTMEM_OP_HELLO, 0);
	h[4] = 2; /* version */
	assert_int_equal(reject_status(h, sizeof(h)), -EPROTO);
	make_req(h, 0, 0);
	assert_int_equal(reject_status(h, sizeof(h)), -EOPNOTSUPP);
	make_req(h, UTMEM_OP_MAX, 0);
	assert_int_equal(reject_status(h, sizeof(h)), -EOPNOTSUPP);
	make_req(h, 200, 0);
	assert_int_equal(reject_status(h, sizeof(h)), -EOPNOTSUPP);
	make_req(h, UTMEM_OP_PUT, 0xffffffffu); /* length overflow: no 4 GiB buffer */
	assert_int_equal(reject_status(h, sizeof(h)), -E2BIG);
	make_req(h, UTMEM_OP_PUT, UTMEM_DEFAULT_MAX_VALUE + 1);
	assert_int_equal(reject_status(h, sizeof(h)), -E2BIG);
	make_req(h, UTMEM_OP_PUT, 0);
	assert_int_equal(reject_status(h, sizeof(h)), -EMSGSIZE);
	make_req(h, UTMEM_OP_POOL_CREATE, UTMEM_POOL_CREATE_LEN - 1);
	assert_int_equal(reject_status(h, sizeof(h)), -EMSGSIZE);
	make_req(h, UTMEM_OP_GET, 1); /* GET carries no payload */
	assert_int_equal(reject_status(h, sizeof(h)), -EMSGSIZE);
	make_req(h, UTMEM_OP_SET_QUOTA, 0xfffffff0u);
	assert_int_equal(reject_status(h, sizeof(h)), -EMSGSIZE);
	make_req(h, UTMEM_OP_HELLO, 0);
	ivt_put_le16(h + 6, UTMEM_HDR_REPLY); /* a reply posing as a request */
	assert_int_equal(reject_status(h, sizeof(h)), -EPROTO);
	make_req(h, UTMEM_OP_GET, 0);
	ivt_put_le16(h + 6, 0x40); /* unknown get flag */
	assert_int_equal(reject_status(h, sizeof(h)), -EPROTO);
	make_req(h, UTMEM_OP_PUT, 4);
	ivt_put_le32(h + 36, 1); /* aux outside GET */
	assert_int_equal(reject_status(h, sizeof(h)), -EPROTO);
	make_req(h, UTMEM_OP_HELLO, 0);
	ivt_put_le32(h + 12, (uint32_t)-5); /* status in a request */
	assert_int_equal(reject_status(h, sizeof(h)), -EPROTO);
}

static void split_input_and_bad_fields(void **state)
{
	/* a valid stream fed one byte at a time gives the same answers */
	struct utmem_store *st = utmem_store_new(NULL);
	struct utmem_tier *t = utmem_store_tier(st, DOM);
	struct utmem_session *s = utmem_session_new(t, NULL);
	struct sink k = {.len = 0};
	struct utmem_io out = {&k, NULL, sink_write};
	uint8_t req[UTMEM_HDR_SIZE + UTMEM_POOL_CREATE_LEN] = {0};
	make_req(req, UTMEM_OP_POOL_CREATE, UTMEM_POOL_CREATE_LEN);
	ivt_put_le32(req + UTMEM_HDR_SIZE, 0x99); /* bad pool flags: store says -EINVAL */
	for (size_t i = 0; i < sizeof(req); i++)
		assert_int_equal(utmem_session_input(s, req + i, 1, &out), 0);
	assert_int_equal(k.len, UTMEM_HDR_SIZE);
	struct utmem_hdr r;
	utmem_hdr_decode(k.buf, &r);
	assert_int_equal(r.status, -EINVAL);
	/* SET_QUOTA without admin */
	uint8_t q[UTMEM_HDR_SIZE + UTMEM_SET_QUOTA_LEN] = {0};
	make_req(q, UTMEM_OP_SET_QUOTA, UTMEM_SET_QUOTA_LEN);
	k.len = 0;
	assert_int_equal(utmem_session_input(s, q, sizeof(q), &out), 0);
	utmem_hdr_decode(k.buf, &r);
	assert_int_equal(r.status, -EOPNOTSUPP); /* no store given at all */
	/* two requests in one buffer */
	uint8_t two[2 * UTMEM_HDR_SIZE];
	make_req(two, UTMEM_OP_HELLO, 0);
	make_req(two + UTMEM_HDR_SIZE, UTMEM_OP_STATS, 0);
	k.len = 0;
	assert_int_equal(utmem_session_input(s, two, sizeof(two), &out), 0);
	assert_int_equal(k.len, 2 * UTMEM_HDR_SIZE + UTMEM_HELLO_REPLY_LEN);
	utmem_session_free(s);
	utmem_tier_destroy(t);
	utmem_store_free(st);
}

static void random_garbage_never_crashes(void **state)
{
	struct utmem_store *st = utmem_store_new(NULL);
	struct utmem_tier *t = utmem_store_tier(st, DOM);
	uint64_t x = 0x1234567;
	for (int round = 0; round < 2000; round++) {
		struct utmem_session *s = utmem_session_new(t, NULL);
		struct sink k = {.len = 0};
		struct utmem_io out = {&k, NULL, sink_write};
		uint8_t buf[200];
		size_t n = 1 + round % sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		if (round % 2) /* plausible header, random rest */
			memcpy(buf, "UTM1\x01", 5);
		int rc = utmem_session_input(s, buf, n, &out);
		assert_true(rc == 0 || rc == -EPROTO || rc == -ENOSPC);
		utmem_session_free(s);
	}
	utmem_tier_destroy(t);
	utmem_store_free(st);
}

static void truncated_request_ends_with_error(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct utmem_store *st = utmem_store_new(NULL);
	struct utmem_tier *t = utmem_store_tier(st, DOM);
	uint8_t h[UTMEM_HDR_SIZE];
	make_req(h, UTMEM_OP_PUT, 100);
	assert_int_equal(write(sv[1], h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(write(sv[1], "only a few", 10), 10);
	shutdown(sv[1], SHUT_WR);
	struct utmem_io io = utmem_io_fd(sv[0]);
	assert_int_equal(utmem_serve(t, &io, NULL), -ECONNRESET);
	close(sv[0]);
	close(sv[1]);
	/* half a header */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], h, 17), 17);
	shutdown(sv[1], SHUT_WR);
	io = utmem_io_fd(sv[0]);
	assert_int_equal(utmem_serve(t, &io, NULL), -ECONNRESET);
	close(sv[0]);
	close(sv[1]);
	utmem_tier_destroy(t);
	utmem_store_free(st);
}

/* ---- hostile replies: pre-written into the socket before each call ------- */

static void write_reply(int fd, uint8_t op, uint32_t id, int32_t status, uint32_t len,
			const void *payload, size_t plen)
{
	uint8_t h[UTMEM_HDR_SIZE];
	struct utmem_hdr r = {.magic = UTMEM_PROTO_MAGIC, .version = UTMEM_PROTO_VERSION,
			      .op = op, .flags = UTMEM_HDR_REPLY, .req_id = id,
			      .status = status, .len = len};
	utmem_hdr_encode(&r, h);
	assert_int_equal(write(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	if (plen)
		assert_int_equal(write(fd, payload, plen), (ssize_t)plen);
}

static struct utmem_client *fake_client(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	uint8_t hello[UTMEM_HELLO_REPLY_LEN] = {0};
	ivt_put_le64(hello, 1024);
	write_reply(sv[1], UTMEM_OP_HELLO, 1, 0, sizeof(hello), hello, sizeof(hello));
	static struct utmem_io io; /* the client keeps a copy; ctx is the fd */
	io = utmem_io_fd(sv[0]);
	struct utmem_client *c;
	assert_int_equal(utmem_client_open(&io, &c), 0);
	return c;
}

static void close_pair(struct utmem_client *c, int sv[2])
{
	utmem_client_free(c);
	close(sv[0]);
	close(sv[1]);
}

static void hostile_replies(void **state)
{
	int sv[2];
	struct utmem_key k = {1, 0, 0};
	char out[16];
	uint8_t junk[64] = {0};

	/* GET reply longer than we asked for */
	struct utmem_client *c = fake_client(sv);
	write_reply(sv[1], UTMEM_OP_GET, 2, 0, 17, junk, 17);
	assert_int_equal(utmem_client_get(c, &k, out, sizeof(out), 0), -EPROTO);
	/* broken from now on */
	assert_int_equal(utmem_client_put(c, &k, "a", 1), -EPROTO);
	close_pair(c, sv);

	/* wrong request id */
	c = fake_client(sv);
	write_reply(sv[1], UTMEM_OP_PUT, 7, 0, 0, NULL, 0);
	assert_int_equal(utmem_client_put(c, &k, "a", 1), -EPROTO);
	close_pair(c, sv);

	/* wrong op */
	c = fake_client(sv);
	write_reply(sv[1], UTMEM_OP_GET, 2, 0, 0, NULL, 0);
	assert_int_equal(utmem_client_put(c, &k, "a", 1), -EPROTO);
	close_pair(c, sv);

	/* positive or absurd status */
	c = fake_client(sv);
	write_reply(sv[1], UTMEM_OP_PUT, 2, 5, 0, NULL, 0);
	assert_int_equal(utmem_client_put(c, &k, "a", 1), -EPROTO);
	close_pair(c, sv);
	c = fake_client(sv);
	write_reply(sv[1], UTMEM_OP_PUT, 2, -100000, 0, NULL, 0);
	assert_int_equal(utmem_client_put(c, &k, "a", 1), -EPROTO);
	close_pair(c, sv);

	/* error status with a payload */
	c = fake_client(sv);
	write_reply(sv[1], UTMEM_OP_GET, 2, -ENOENT, 4, junk, 4);
	assert_int_equal(utmem_client_get(c, &k, out, sizeof(out), 0), -EPROTO);
	close_pair(c, sv);

	/* empty GET value */
	c = fake_client(sv);
	write_reply(sv[1], UTMEM_OP_GET, 2, 0, 0, NULL, 0);
	assert_int_equal(utmem_client_get(c, &k, out, sizeof(out), 0), -EPROTO);
	close_pair(c, sv);

	/* POOL_CREATE answering pool 0 */
	c = fake_client(sv);
	write_reply(sv[1], UTMEM_OP_POOL_CREATE, 2, 0, 0, NULL, 0);
	uint32_t p;
	assert_int_equal(utmem_client_pool_create(c, 0, NULL, &p), -EPROTO);
	close_pair(c, sv);

	/* truncated reply, then the server goes away */
	c = fake_client(sv);
	uint8_t h[UTMEM_HDR_SIZE];
	struct utmem_hdr r = {.magic = UTMEM_PROTO_MAGIC, .version = UTMEM_PROTO_VERSION,
			      .op = UTMEM_OP_GET, .flags = UTMEM_HDR_REPLY, .req_id = 2, .len = 8};
	utmem_hdr_encode(&r, h);
	assert_int_equal(write(sv[1], h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(write(sv[1], "abc", 3), 3);
	shutdown(sv[1], SHUT_WR);
	assert_int_equal(utmem_client_get(c, &k, out, sizeof(out), 0), -ECONNRESET);
	assert_int_equal(utmem_client_get(c, &k, out, sizeof(out), 0), -ECONNRESET);
	close_pair(c, sv);

	/* a HELLO announcing an absurd max_value */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	uint8_t hello[UTMEM_HELLO_REPLY_LEN] = {0};
	ivt_put_le64(hello, (uint64_t)UTMEM_MAX_VALUE_LIMIT + 1);
	write_reply(sv[1], UTMEM_OP_HELLO, 1, 0, sizeof(hello), hello, sizeof(hello));
	struct utmem_io io = utmem_io_fd(sv[0]);
	assert_int_equal(utmem_client_open(&io, &c), -EPROTO);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(client_server_basics),
		cmocka_unit_test(large_values_over_the_wire),
		cmocka_unit_test(admin_quota_over_the_wire),
		cmocka_unit_test(remote_tier_in_a_stack),
		cmocka_unit_test(hostile_requests),
		cmocka_unit_test(split_input_and_bad_fields),
		cmocka_unit_test(random_garbage_never_crashes),
		cmocka_unit_test(truncated_request_ends_with_error),
		cmocka_unit_test(hostile_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
