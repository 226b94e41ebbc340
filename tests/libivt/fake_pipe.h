/* SPDX-License-Identifier: MIT */
/*
 * An in-memory stand-in for a transport plugin: two byte queues with a
 * capacity and a per-call size limit (to force partial sends and reads),
 * so the frame layer can be tested without ivtd or real plugins.
 */
#ifndef IVT_TEST_FAKE_PIPE_H
#define IVT_TEST_FAKE_PIPE_H

#include <stddef.h>
#include <stdint.h>

#include "ivt/plugin.h"

struct fake_queue {
	uint8_t *data;
	size_t cap, len;
	int eof; /* writer closed: reads return 0 once empty */
};

struct fake_rdma;

struct ivt_ep {
	struct fake_queue *in, *out;
	size_t max_io; /* bytes per send/recv call at most; 0 = unlimited */
	struct fake_rdma *rdma; /* fake_rdma.h: native one-sided ops; NULL: a pipe only */
	unsigned consumes, commits; /* recv_consume, send_commit calls (fake_ops_inplace) */
};

extern const struct ivt_plugin_ops fake_ops;
/* The same pipe, read and written in place: recv_peek/recv_consume and
 * send_reserve/send_commit. */
extern const struct ivt_plugin_ops fake_ops_inplace;

struct fake_queue *fq_new(size_t cap);
void fq_free(struct fake_queue *q);
/* Append raw bytes (a hostile peer writing); returns bytes taken. */
size_t fq_put(struct fake_queue *q, const void *buf, size_t len);
/* Take up to len bytes (the test reading what the frame layer sent). */
size_t fq_get(struct fake_queue *q, void *buf, size_t len);

#endif
