/* SPDX-License-Identifier: MIT */
/*
 * The slurpoe plugin through the plugin ABI, over a veth pair inside a
 * private network namespace (both ends in this process, one per veth end):
 * setup, the byte stream and regions.
 * Skipped unless we may create namespaces (root).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/plugin_loader.h"
#include "ivt/plugin.h"

static const struct ivt_plugin_ops *ops;

/* One-message in-memory oob channel. */
struct mem_oob {
	char blob[IVT_OOB_BLOB_MAX];
	int len;
};

static int oob_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds)
{
	struct mem_oob *o = ctx;
	(void)fds;
	assert_int_equal(nfds, 0);
	assert_true(len <= sizeof(o->blob));
	memcpy(o->blob, blob, len);
	o->len = (int)len;
	return 0;
}

static int oob_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	struct mem_oob *o = ctx;
	(void)fds;
	(void)timeout_ms;
	*nfds = 0;
	if (o->len < 0)
		return -ETIMEDOUT;
	if ((size_t)o->len > cap)
		return -EMSGSIZE;
	memcpy(blob, o->blob, (size_t)o->len);
	return o->len;
}

static int setup(void **state)
{
	(void)state;
	if (unshare(CLONE_NEWNET))
		return 0; /* tests skip */
	if (system("ip link add pa type veth peer name pb && ip link set pa up && "
		   "ip link set pb up"))
		return -1;
	char why[256];
	ops = ivt_plugin_load(getenv("IVT_PLUGIN_DIR"), "slurpoe", why, sizeof(why));
	if (!ops)
		fprintf(stderr, "load: %s\n", why);
	return ops ? 0 : -1;
}

static void wait_fds(struct ivt_ep *a, struct ivt_ep *b)
{
	struct pollfd p[2] = {{.fd = ops->poll_fd(a), .events = POLLIN},
			      {.fd = ops->poll_fd(b), .events = POLLIN}};
	poll(p, 2, 10);
	ops->ack(a);
	ops->ack(b);
}

static void open_pair(struct ivt_ep **srv, struct ivt_ep **cli)
{
	struct mem_oob mo = {.len = -1};
	struct ivt_oob oob = {&mo, oob_send, oob_recv};
	struct ivt_ep_params p = {.channel = "t", .is_server = 1, .ring_size = 1 << 20,
				  .oob = &oob, .timeout_ms = 1000};
	setenv("IVT_SLURPOE_IF", "pa", 1);
	assert_int_equal(ops->listen(&p, srv), 0);
	setenv("IVT_SLURPOE_IF", "pb", 1);
	p.is_server = 0;
	assert_int_equal(ops->connect(&p, cli), 0);
	int rc, spins = 0;
	while ((rc = ops->accept(*srv)) == -EAGAIN && spins++ < 500)
		wait_fds(*srv, *cli);
	assert_int_equal(rc, 0);
}

static void test_probe(void **state)
{
	(void)state;
	if (!ops)
		skip();
	char why[256] = "";
	unsetenv("IVT_SLURPOE_IF");
	assert_int_equal(ops->probe(why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "IVT_SLURPOE_IF"));
	setenv("IVT_SLURPOE_IF", "nosuchif0", 1);
	assert_int_equal(ops->probe(why, sizeof(why)), -ENODEV);
	setenv("IVT_SLURPOE_IF", "pa", 1);
	assert_int_equal(ops->probe(why, sizeof(why)), 0);
	assert_true(ops->caps & IVT_CAP_REMOTE);
}

static void test_bad_blob(void **state)
{
	(void)state;
	if (!ops)
		skip();
	static const char *const bad[] = {
		"slurpoe1 mac=02:00:00:00:00:01 ep=0",          /* no endpoint 0 */
		"slurpoe1 mac=01:00:5e:00:00:01 ep=5",          /* multicast */
		"slurpoe1 mac=02:00:00:00:00:01 ep=5 trailing",
		"slurpoe1 mac=02:00:00:00:00 ep=5",
		"slurpoe1 mac=02:00:00:00:00:01 ep=99999999999",
		"slurpoe1 mac=02:00:00:00:00:01 ep=5 udp=10.0.0.1",
		"slurpoe1 mac=02:00:00:00:00:01 ep=5 udp=10.0.0.1:0",
		"slurpoe1 mac=02:00:00:00:00:01 ep=5 udp=10.0.0.1:70000",
		"slurpoe1 mac=02:00:00:00:00:01 ep=5 udp=300.0.0.1:5",
		"slurpoe1 mac=02:00:00:00:00:01 ep=5 udp=10.0.0.1:5 x",
		"slurpoe1 mac=02:00:00:00:00:01 ep=5  udp=10.0.0.1:5",
		"slurpoe1 mac=02:00:00:00:00:01 ep=5 udp=0.0.0.0:5",
		"",
	};
	setenv("IVT_SLURPOE_IF", "pb", 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mem_oob mo;
		mo.len = (int)strlen(bad[i]);
		memcpy(mo.blob, bad[i], (size_t)mo.len);
		struct ivt_oob oob = {&mo, oob_send, oob_recv};
		struct ivt_ep_params p = {.channel = "t", .oob = &oob, .timeout_ms = 100};
		struct ivt_ep *e = NULL;
		assert_int_equal(ops->connect(&p, &e), -EPROTO);
	}
}

struct client_job {
	struct ivt_ep *cli;
	const uint8_t *src;
	size_t total;
	int err;
};

/* The client end in its own thread (separate engine, so no sharing):
 * send everything with poll-based waiting, then close gracefully. */
static void *client_thread(void *arg)
{
	struct client_job *j = arg;
	size_t sent = 0;
	while (sent < j->total) {
		ssize_t r = ops->send(j->cli, j->src + sent, j->total - sent);
		if (r > 0) {
			sent += (size_t)r;
			continue;
		}
		if (r != -EAGAIN) {
			j->err = (int)r;
			return NULL;
		}
		if (ops->arm(j->cli, IVT_EV_SEND) == 0) {
			struct pollfd p = {.fd = ops->poll_fd(j->cli), .events = POLLIN};
			poll(&p, 1, 100);
			ops->ack(j->cli);
		}
	}
	ops->close(j->cli);
	return NULL;
}

/* total bytes from cli (its own thread, which closes it) to srv, checked;
 * closes srv. */
static void stream_check(struct ivt_ep *srv, struct ivt_ep *cli, size_t total)
{
	size_t got = 0;
	uint8_t *src = malloc(total), *dst = malloc(total + 1);
	for (size_t i = 0; i < total; i++)
		src[i] = (uint8_t)(i * 7 + (i >> 12));
	struct client_job job = {cli, src, total, 0};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, client_thread, &job), 0);
	int eof = 0;
	for (int spins = 0; !eof && spins < 200000; spins++) {
		ssize_t r = ops->recv(srv, dst + got, total + 1 - got);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0) {
			eof = 1;
			break;
		}
		assert_int_equal(r, -EAGAIN);
		if (ops->arm(srv, IVT_EV_RECV) == 0) {
			struct pollfd p = {.fd = ops->poll_fd(srv), .events = POLLIN};
			poll(&p, 1, 100);
			ops->ack(srv);
		}
	}
	pthread_join(t, NULL);
	assert_int_equal(job.err, 0);
	assert_true(eof);
	assert_int_equal(got, total);
	assert_memory_equal(src, dst, total);
	struct ivt_ep_stats st;
	assert_int_equal(ops->stats(srv, &st), 0);
	assert_int_equal(st.bytes_received, total);
	assert_int_equal(st.protocol_errors, 0);
	ops->close(srv);
	free(src);
	free(dst);
}

static void test_stream(void **state)
{
	(void)state;
	if (!ops)
		skip();
	struct ivt_ep *srv, *cli;
	open_pair(&srv, &cli);
	stream_check(srv, cli, 8u << 20);
}

/* The named namespace test_udp_carrier made, deleted at the end even
 * when an assertion cut the test short. */
static char udp_ns[64];

static int teardown(void **state)
{
	(void)state;
	if (udp_ns[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", udp_ns);
		(void)system(cmd);
	}
	return 0;
}

/* UDP sockets in the calling thread's network namespace. */
static int udp_sockets(void)
{
	FILE *f = fopen("/proc/self/net/udp", "r");
	assert_non_null(f);
	char line[512];
	int n = -1; /* the header */
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/* The carriers (docs/slurpoe.md): with IPv4 addresses the listener also
 * listens on UDP and says so in its blob, and the connector, in another
 * namespace, uses it; with $IVT_SLURPOE_CARRIER=raw it does not. The
 * connector's UDP socket (or its absence) in its namespace tells. */
static void test_udp_carrier(void **state)
{
	(void)state;
	if (!ops)
		skip();
	char *ns = udp_ns, cmd[512], path[96];
	snprintf(udp_ns, sizeof(udp_ns), "tpu-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "ip netns add %s && ip link add ua type veth peer name ub && ip link set ub netns %s && "
		 "ip addr add 10.77.0.1/24 dev ua && ip link set ua up && "
		 "ip -n %s addr add 10.77.0.2/24 dev ub && ip -n %s link set ub up", ns, ns, ns, ns);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	int own = open("/proc/self/ns/net", O_RDONLY), other = open(path, O_RDONLY);
	assert_true(own >= 0 && other >= 0);
	for (int raw = 0; raw < 2; raw++) {
		struct mem_oob mo = {.len = -1};
		struct ivt_oob oob = {&mo, oob_send, oob_recv};
		struct ivt_ep_params p = {.channel = "t", .is_server = 1, .ring_size = 1 << 20,
					  .oob = &oob, .timeout_ms = 1000};
		struct ivt_ep *srv, *cli;
		unsetenv("IVT_SLURPOE_CARRIER");
		setenv("IVT_SLURPOE_IF", "ua", 1);
		assert_int_equal(ops->listen(&p, &srv), 0);
		mo.blob[mo.len] = 0;
		assert_non_null(strstr(mo.blob, " udp=10.77.0.1:"));
		if (raw)
			setenv("IVT_SLURPOE_CARRIER", "raw", 1);
		assert_int_equal(setns(other, CLONE_NEWNET), 0);
		setenv("IVT_SLURPOE_IF", "ub", 1);
		p.is_server = 0;
		int before = udp_sockets();
		assert_int_equal(ops->connect(&p, &cli), 0);
		int after = udp_sockets();
		assert_int_equal(setns(own, CLONE_NEWNET), 0);
		assert_int_equal(after - before, raw ? 0 : 1);
		int rc, spins = 0;
		while ((rc = ops->accept(srv)) == -EAGAIN && spins++ < 500)
			wait_fds(srv, cli);
		assert_int_equal(rc, 0);
		stream_check(srv, cli, 4u << 20);
	}
	unsetenv("IVT_SLURPOE_CARRIER");
	close(own);
	close(other);
	(void)system("ip link del ua 2>/dev/null");
}

static void test_region_keys(void **state)
{
	(void)state;
	if (!ops)
		skip();
	struct ivt_ep *srv, *cli;
	open_pair(&srv, &cli);
	uint8_t mem[4096];
	uint64_t k1 = 0, k2 = 0;
	assert_int_equal(ops->register_region(srv, mem, sizeof(mem), 1, &k1), 0);
	assert_int_equal(ops->register_region(srv, mem, sizeof(mem), 3, &k2), 0);
	assert_true(k1 && k2 && k1 != k2);
	assert_int_equal(ops->register_region(srv, mem, sizeof(mem), 0, &k1), -EINVAL);
	assert_int_equal(ops->deregister_region(srv, k2), 0);
	assert_int_equal(ops->deregister_region(srv, k2), -ENOENT);
	ops->close(cli);
	ops->close(srv);
}

/* Reap one completion on cli, running both engines meanwhile (the target
 * serves one-sided ops only when its engine runs). */
/* The native one-sided ops (write, read, refusals) are checked for every
 * IVT_CAP_RDMA plugin by the conformance suite (tests/conformance,
 * conformance_slurpoe). */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_bad_blob),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_region_keys),
		cmocka_unit_test(test_udp_carrier),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
