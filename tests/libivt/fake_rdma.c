/* SPDX-License-Identifier: MIT */
#include "fake_rdma.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "ivt/ivt.h"

static int find_region(const struct fake_rdma *r, uint64_t key)
{
	for (int i = 0; i < r->n_regions; i++)
		if (r->regions[i].key == key)
			return i;
	return -1;
}

/* 0, -EACCES or -ERANGE; *at: where the op's bytes are. */
static int check(const struct fake_rdma *r, const struct fake_rdma_post *p, uint8_t **at)
{
	int i = find_region(r, p->key);
	unsigned need = p->is_read ? IVT_ACCESS_REMOTE_READ : IVT_ACCESS_REMOTE_WRITE;
	if (i < 0 || !(r->regions[i].access & need))
		return -EACCES;
	if (p->offset > r->regions[i].len || p->len > r->regions[i].len - p->offset)
		return -ERANGE;
	*at = r->regions[i].addr + p->offset;
	return 0;
}

static int fake_register(struct ivt_ep *ep, void *addr, size_t len, unsigned access, uint64_t *key)
{
	struct fake_rdma *r = ep->rdma;
	if (r->n_regions == 8)
		return -ENOMEM;
	*key = FAKE_RDMA_KEY_MARK | (uint64_t)(r->n_regions + 1);
	r->regions[r->n_regions++] = (typeof(r->regions[0])){addr, len, access, *key};
	return 0;
}

static int fake_deregister(struct ivt_ep *ep, uint64_t key)
{
	struct fake_rdma *r = ep->rdma;
	int i = find_region(r, key);
	if (i < 0)
		return -ENOENT;
	r->regions[i].key = 0; /* never matches again */
	return 0;
}

static int post(struct ivt_ep *ep, int is_read, void *buf, size_t len, uint64_t key,
		uint64_t offset, uint64_t wr_id)
{
	struct fake_rdma *r = ep->rdma;
	struct fake_rdma_post p = {is_read, buf, len, key, offset, wr_id};
	int limit = r->max_inflight ? r->max_inflight : FAKE_RDMA_SLOTS;
	r->n_calls++;
	if (r->dead)
		return -ECONNRESET;
	if (r->fail_post_at && r->n_calls == r->fail_post_at)
		return r->fail_post_err;
	if (!buf || !len)
		return -EINVAL;
	if (len > FAKE_RDMA_MAX_LEN)
		return -EMSGSIZE;
	uint8_t *at;
	int rc = r->origin_checks ? check(r, &p, &at) : 0;
	if (rc)
		return rc;
	if (r->n_wire >= limit || r->n_wire + r->n_done >= FAKE_RDMA_SLOTS)
		return -EAGAIN;
	if (r->n_posts < 256)
		r->log[r->n_posts] = p;
	r->n_posts++;
	r->wire[r->n_wire++] = p;
	return 0;
}

static int fake_rdma_write(struct ivt_ep *ep, const void *buf, size_t len, uint64_t key,
			   uint64_t offset, uint64_t wr_id)
{
	/* like a real plugin, take a copy of what is sent: the host may reuse buf */
	static uint8_t copies[FAKE_RDMA_SLOTS][FAKE_RDMA_MAX_LEN];
	static int next;
	uint8_t *copy = copies[next];
	if (buf && len && len <= FAKE_RDMA_MAX_LEN)
		memcpy(copy, buf, len);
	int rc = post(ep, 0, buf ? copy : NULL, len, key, offset, wr_id);
	if (rc == 0)
		next = (next + 1) % FAKE_RDMA_SLOTS;
	return rc;
}

static int fake_rdma_read(struct ivt_ep *ep, void *buf, size_t len, uint64_t key,
			  uint64_t offset, uint64_t wr_id)
{
	return post(ep, 1, buf, len, key, offset, wr_id);
}

static int fake_poll(struct ivt_ep *ep, struct ivt_ep_completion *out, int max)
{
	struct fake_rdma *r = ep->rdma;
	int n = 0;
	while (n < max && n < r->n_done)
		n++;
	memcpy(out, r->done, (size_t)n * sizeof(*out));
	memmove(r->done, r->done + n, (size_t)(r->n_done - n) * sizeof(*out));
	r->n_done -= n;
	if (n == 0 && r->dead)
		return -ECONNRESET;
	return n;
}

static void complete(struct fake_rdma *r, const struct fake_rdma_post *p, int status)
{
	r->done[r->n_done++] = (struct ivt_ep_completion){
		.wr_id = p->wr_id, .status = status,
		.opcode = p->is_read ? IVT_OP_RDMA_READ : IVT_OP_RDMA_WRITE,
		.len = status ? 0 : p->len};
}

int fake_rdma_deliver(struct fake_rdma *r, int n)
{
	int k = 0;
	while (r->n_wire > 0 && (n < 0 || k < n)) {
		struct fake_rdma_post p = r->wire[0];
		memmove(r->wire, r->wire + 1, (size_t)--r->n_wire * sizeof(p));
		uint8_t *at;
		int rc = check(r, &p, &at);
		if (rc == 0)
			memcpy(p.is_read ? p.buf : at, p.is_read ? at : p.buf, p.len);
		complete(r, &p, rc);
		k++;
	}
	return k;
}

void fake_rdma_kill(struct fake_rdma *r)
{
	for (int i = 0; i < r->n_wire; i++)
		complete(r, &r->wire[i], -ECONNRESET);
	r->n_wire = 0;
	r->dead = 1;
}

static struct ivt_plugin_ops table;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void)
{
	table = fake_ops;
	table.ops_size = sizeof(table);
	table.name = "fake_rdma";
	table.caps = IVT_CAP_REMOTE | IVT_CAP_RDMA;
	table.register_region = fake_register;
	table.deregister_region = fake_deregister;
	table.rdma_write = fake_rdma_write;
	table.rdma_read = fake_rdma_read;
	table.poll_completions = fake_poll;
	table.max_rdma_len = FAKE_RDMA_MAX_LEN;
}

const struct ivt_plugin_ops *fake_rdma_ops(void)
{
	pthread_once(&table_once, build_table);
	return &table;
}
