/* SPDX-License-Identifier: MIT */
/* What crosses from the other side: a forged setup blob must be refused
 * without leaking fds or crashing; native one-sided ops where declared. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conformance.h"
#include "testsupport/fd_count.h"

/* An oob that keeps what the listener publishes. */
struct capture {
	uint8_t blob[IVT_OOB_BLOB_MAX];
	int len, fds[IVT_OOB_FDS_MAX], nfds;
};

static int capture_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds)
{
	struct capture *c = ctx;
	memcpy(c->blob, blob, len);
	c->len = (int)len;
	for (int i = 0; i < nfds; i++)
		c->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
	c->nfds = nfds;
	return 0;
}

static int no_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	(void)ctx, (void)blob, (void)cap, (void)fds, (void)nfds, (void)timeout_ms;
	return -ETIMEDOUT;
}

/* Offer blob/fds to a connecting end; returns connect's result (an end
 * that did attach is closed again). */
static int offer(const void *blob, int len, const int *fds, int nfds, int timeout_ms)
{
	struct oob_end a, b;
	assert_int_equal(oob_pair_open(&a, &b), 0);
	assert_int_equal(oob_pair_send(&a, blob, (size_t)len, fds, nfds), 0);
	conf_env_side(0);
	struct ivt_ep_params prm = conf_params("conf-forged", 0, 4096, &b.oob, timeout_ms);
	struct ivt_ep *ep = NULL;
	int rc = conf_ops->connect(&prm, &ep);
	if (rc == 0)
		conf_ops->close(ep);
	oob_end_close(&a);
	oob_end_close(&b);
	return rc;
}

/* A forged setup must not attach. */
static void expect_refused(const char *what, const void *blob, int len, const int *fds, int nfds)
{
	if (offer(blob, len, fds, nfds, 2000) == 0)
		fail_msg("%s: forged setup (%s) accepted", conf_plugin, what);
}

/* Mutations of the real blob may happen to stay valid; they must only
 * never crash, hang or leak. */
static void try_mutant(const uint8_t *blob, int len, const int *fds, int nfds)
{
	(void)offer(blob, len, fds, nfds, 300);
}

void test_forged_setup_refused(void **state)
{
	(void)state;
	if (!conf_ops)
		skip();
	/* a real listener's setup, as the template to forge from */
	struct capture cap = {.len = -1};
	struct ivt_oob oob = {.ctx = &cap, .send = capture_send, .recv = no_recv};
	conf_env_side(1);
	struct ivt_ep_params prm = conf_params("conf-forged", 1, 4096, &oob, 2000);
	struct ivt_ep *srv = NULL;
	assert_int_equal(conf_ops->listen(&prm, &srv), 0);
	if (cap.len < 0) { /* meets its peer elsewhere (vchan: XenStore) */
		conf_ops->close(srv);
		skip();
	}
	int before = ts_count_open_fds();

	uint8_t junk[IVT_OOB_BLOB_MAX];
	memset(junk, 0xa5, sizeof(junk));
	expect_refused("empty", junk, 0, NULL, 0);
	if (cap.len > 1)
		expect_refused("truncated", cap.blob, cap.len / 2, cap.fds, cap.nfds);
	expect_refused("garbage", junk, cap.len > 0 ? cap.len : 64, cap.fds, cap.nfds);
	expect_refused("oversized garbage", junk, sizeof(junk), cap.fds, cap.nfds);
	if (cap.nfds > 0) {
		expect_refused("fds missing", cap.blob, cap.len, NULL, 0);
		int nul[IVT_OOB_FDS_MAX];
		for (int i = 0; i < cap.nfds; i++)
			nul[i] = open("/dev/zero", O_RDWR | O_CLOEXEC);
		expect_refused("fds of /dev/zero", cap.blob, cap.len, nul, cap.nfds);
		for (int i = 0; i < cap.nfds; i++)
			close(nul[i]);
	}
	uint8_t m[IVT_OOB_BLOB_MAX];
	for (int i = 0; i < cap.len && i < 64; i++) {
		memcpy(m, cap.blob, (size_t)cap.len);
		m[i] ^= 0xff;
		try_mutant(m, cap.len, cap.fds, cap.nfds);
	}
	/* every fd that came with a refused setup was closed */
	assert_int_equal(ts_count_open_fds(), before);
	for (int i = 0; i < cap.nfds; i++)
		close(cap.fds[i]);
	conf_ops->close(srv);
}

/* Reap one completion of cli's, driving both ends meanwhile. */
static int reap_one(struct conf_pair *p, struct ivt_ep_completion *c)
{
	for (int spins = 0; spins < 3000; spins++) {
		int n = conf_ops->poll_completions(p->cli, c, 1);
		if (n != 0)
			return n;
		conf_drive(p->srv, p->cli, 10);
	}
	return 0;
}

void test_native_rdma(void **state)
{
	(void)state;
	if (!conf_ops || !(conf_ops->caps & IVT_CAP_RDMA))
		skip(); /* emulated by libivt: tests/e2e covers that */
	assert_true(IVT_PLUGIN_OPS_HAS(conf_ops, max_rdma_len));
	struct conf_pair p;
	conf_pair_open(&p, 1 << 20);
	static uint8_t mem[65536], src[10000], back[10000];
	memset(mem, 0, sizeof(mem));
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 13 + 5);
	uint64_t key = 0;
	assert_int_equal(conf_ops->register_region(p.srv, mem, sizeof(mem), 3, &key), 0);

	struct ivt_ep_completion c;
	assert_int_equal(conf_ops->rdma_write(p.cli, src, sizeof(src), key, 1000, 7), 0);
	assert_int_equal(reap_one(&p, &c), 1);
	assert_int_equal(c.wr_id, 7);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.opcode, 1 /* IVT_OP_RDMA_WRITE */);
	assert_int_equal(c.len, sizeof(src));
	assert_memory_equal(mem + 1000, src, sizeof(src));
	assert_int_equal(mem[999], 0);
	assert_int_equal(mem[1000 + sizeof(src)], 0);

	assert_int_equal(conf_ops->rdma_read(p.cli, back, sizeof(back), key, 1000, 8), 0);
	assert_int_equal(reap_one(&p, &c), 1);
	assert_int_equal(c.wr_id, 8);
	assert_int_equal(c.status, 0);
	assert_int_equal(c.opcode, 2 /* IVT_OP_RDMA_READ */);
	assert_memory_equal(back, src, sizeof(back));

	/* beyond the region: refused (at the origin or by the target), memory untouched */
	uint8_t before[sizeof(mem)];
	memcpy(before, mem, sizeof(mem));
	int rc = conf_ops->rdma_write(p.cli, src, 16, key, sizeof(mem) - 8, 9);
	if (rc == 0) {
		assert_int_equal(reap_one(&p, &c), 1);
		assert_int_equal(c.wr_id, 9);
		assert_true(c.status < 0);
	} else {
		assert_true(rc == -ERANGE || rc == -EACCES);
	}
	assert_memory_equal(before, mem, sizeof(mem));
	assert_int_equal(conf_ops->rdma_write(p.cli, src, 0, key, 0, 11), -EINVAL);
	assert_int_equal(conf_ops->deregister_region(p.srv, key), 0);
	conf_pair_close(&p);
}
