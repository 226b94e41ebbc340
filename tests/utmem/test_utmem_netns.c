/* SPDX-License-Identifier: MIT */
/*
 * The "remote tier" story over real TCP: a utmem server in one network
 * namespace, a client stacking a small local store over it in another,
 * joined by a private veth pair (no other network involved). Needs root
 * and iproute2; skipped otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testsupport/netns.h"
#include "utmem/proto.h"

#define PORT 7411

static char ns_a[32], ns_b[32], subnet[16];

static int setup(void **state)
{
	int pid = (int)getpid();
	snprintf(ns_a, sizeof(ns_a), "utma%d", pid);
	snprintf(ns_b, sizeof(ns_b), "utmb%d", pid);
	snprintf(subnet, sizeof(subnet), "10.213.%d", pid % 250);
	if (geteuid() != 0 || ts_sh("ip -V >/dev/null 2>&1"))
		return 0; /* the test skips */
	if (ts_sh("ip netns add %s && ip netns add %s", ns_a, ns_b) ||
	    ts_sh("ip link add va%d netns %s type veth peer name vb%d netns %s", pid, ns_a, pid, ns_b) ||
	    ts_sh("ip -n %s addr add %s.1/24 dev va%d && ip -n %s link set va%d up && "
	       "ip -n %s link set lo up", ns_a, subnet, pid, ns_a, pid, ns_a) ||
	    ts_sh("ip -n %s addr add %s.2/24 dev vb%d && ip -n %s link set vb%d up && "
	       "ip -n %s link set lo up", ns_b, subnet, pid, ns_b, pid, ns_b)) {
		*state = (void *)1; /* set-up failed: report as skipped with reason */
	}
	return 0;
}

static int teardown(void **state)
{
	if (geteuid() == 0) {
		ts_sh("ip netns del %s 2>/dev/null", ns_a); /* removes the veth pair too */
		ts_sh("ip netns del %s 2>/dev/null", ns_b);
	}
	return 0;
}

/* Child: serve one connection in namespace b. Tells the parent on `ready`. */
static void server_child(int ready)
{
	alarm(60); /* never outlive a failed test */
	if (ts_netns_enter(ns_b))
		_exit(10);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	char addr[32];
	snprintf(addr, sizeof(addr), "%s.2", subnet);
	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 1))
		_exit(11);
	if (write(ready, "r", 1) != 1)
		_exit(12);
	int fd = accept(ls, NULL, NULL);
	if (fd < 0)
		_exit(13);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct utmem_store *st = utmem_store_new(NULL);
	struct utmem_tier *t = utmem_store_tier(st, 42);
	struct utmem_io io = utmem_io_fd(fd);
	struct utmem_server_opts o = {.domid = 42, .store = st};
	int rc = utmem_serve(t, &io, &o);
	/* free before _exit: valgrind checks this child for leaks too */
	utmem_tier_destroy(t);
	utmem_store_free(st);
	close(fd);
	close(ls);
	_exit(rc == 0 ? 0 : 14);
}

static void remote_tier_over_tcp(void **state)
{
	if (geteuid() != 0)
		skip();
	if (*state)
		skip(); /* no netns/veth support here */
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		server_child(pipefd[1]);
	}
	close(pipefd[1]);
	char r;
	assert_int_equal(read(pipefd[0], &r, 1), 1);
	close(pipefd[0]);

	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(home >= 0);
	assert_int_equal(ts_netns_enter(ns_a), 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	char addr[32];
	snprintf(addr, sizeof(addr), "%s.2", subnet);
	inet_pton(AF_INET, addr, &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	struct utmem_io io = utmem_io_fd(fd);
	struct utmem_client *c;
	assert_int_equal(utmem_client_open(&io, &c), 0);
	assert_int_equal(utmem_client_domid(c), 42);
	struct utmem_store *local = utmem_store_new(NULL);
	utmem_set_quota(local, 1, 4 * utmem_charge(4096));
	struct utmem_tier *lt = utmem_store_tier(local, 1);
	struct utmem_tier *levels[2] = {lt, utmem_client_tier(c)};
	struct utmem_tier *stack = utmem_stack_new(levels, 2);
	uint32_t p;
	assert_int_equal(utmem_tier_pool_create(stack, UTMEM_POOL_PERSISTENT, NULL, &p), 0);
	uint8_t buf[4096], out[4096];
	for (uint32_t i = 0; i < 64; i++) {
		memset(buf, (int)i, sizeof(buf));
		struct utmem_key k = {p, i, 1};
		assert_int_equal(utmem_tier_put(stack, &k, buf, sizeof(buf)), 0);
	}
	struct utmem_domain_stats ds;
	assert_int_equal(utmem_client_stats(c, &ds), 0);
	assert_int_equal(ds.pages, 60); /* 4 stayed local, 60 went over TCP */
	for (uint32_t i = 0; i < 64; i++) {
		struct utmem_key k = {p, i, 1};
		assert_int_equal(utmem_tier_get(stack, &k, out, sizeof(out), UTMEM_GET_TAKE), 4096);
		assert_int_equal(out[0], (uint8_t)i);
		assert_int_equal(out[4095], (uint8_t)i);
	}
	assert_int_equal(utmem_client_stats(c, &ds), 0);
	assert_int_equal(ds.pages, 0);
	utmem_tier_destroy(stack);
	utmem_tier_destroy(lt);
	utmem_store_free(local);
	utmem_client_free(c);
	close(fd);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(setns(home, CLONE_NEWNET), 0);
	close(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(remote_tier_over_tcp, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
