/* SPDX-License-Identifier: MIT */
/*
 * The utmem protocol (src/utmem/proto*.c) from both ends.
 * First byte bit 0 clear: the input is what a client sends to ivtd's
 * store; it is fed to a server session in pieces whose sizes the input
 * also picks (bit 1: admin session). Bit 0 set: the input is what a
 * server answers; a client opens a session and runs a fixed script of
 * calls reading those answers.
 */
#include <errno.h>

#include "fuzz_input.h"
#include "utmem/proto.h"
#include "utmem/store.h"
#include "utmem/tier.h"

static ssize_t sink_write(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	return (ssize_t)len;
}

static void server(struct fz *f, int admin)
{
	struct utmem_config cfg;
	utmem_config_default(&cfg);
	cfg.max_value = 8192; /* keep each input's memory small */
	cfg.capacity = 1 << 20;
	struct utmem_store *st = utmem_store_new(&cfg);
	struct utmem_server_opts opts = {.domid = 7, .store = st, .allow_admin = admin};
	struct utmem_tier *tier = utmem_store_tier(st, 7);
	struct utmem_session *s = utmem_session_new(tier, &opts);
	struct utmem_io out = {.write = sink_write};
	while (f->left) {
		size_t len;
		const uint8_t *piece = fz_bytes(f, 4096, &len);
		if (utmem_session_input(s, piece, len, &out) < 0)
			break; /* the caller drops the connection */
	}
	utmem_session_free(s);
	utmem_tier_destroy(tier);
	utmem_store_free(st);
}

static ssize_t replies_read(void *ctx, void *buf, size_t len)
{
	struct fz *f = ctx;
	if (!f->left)
		return 0;
	size_t n = len < f->left ? len : f->left;
	memcpy(buf, f->p, n);
	f->p += n;
	f->left -= n;
	return (ssize_t)n;
}

static void client(struct fz *f)
{
	struct utmem_io io = {.ctx = f, .read = replies_read, .write = sink_write};
	struct utmem_client *c;
	if (utmem_client_open(&io, &c) != 0)
		return;
	FZ_CHECK(utmem_client_max_value(c) > 0);
	static const uint8_t uuid[UTMEM_UUID_LEN];
	uint32_t pool = 0;
	struct utmem_key key = {.pool = 1, .index = 2, .oid = 3};
	uint8_t buf[4096];
	struct utmem_domain_stats st;
	(void)utmem_client_pool_create(c, 0, uuid, &pool);
	(void)utmem_client_put(c, &key, "value", 5);
	ssize_t n = utmem_client_get(c, &key, buf, sizeof(buf), 0);
	FZ_CHECK(n < 0 || (size_t)n <= sizeof(buf));
	(void)utmem_client_invalidate_page(c, &key);
	(void)utmem_client_stats(c, &st);
	(void)utmem_client_invalidate_object(c, 1, 3);
	(void)utmem_client_set_quota(c, 3, 1 << 20);
	(void)utmem_client_pool_destroy(c, pool);
	utmem_client_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	uint8_t how = fz_u8(&f);
	if (how & 1)
		client(&f);
	else
		server(&f, (how >> 1) & 1);
	return 0;
}
