/* SPDX-License-Identifier: MIT */
/* One byte-stream channel between a parent and a forked child, over the
 * shm plugin, a Unix stream socketpair or TCP on 127.0.0.1, with blocking
 * send/recv so the benchmark code is the same for all three. */
#ifndef IVT_BENCH_CHAN_H
#define IVT_BENCH_CHAN_H

#include <stddef.h>
#include <sys/types.h>

#include "ivt/plugin.h"
#include "testsupport/oob_pair.h"

enum chan_kind { CHAN_SHM, CHAN_UNIX, CHAN_TCP };

/* Made before fork(); each process then opens its end. */
struct chan_prep {
	enum chan_kind kind;
	size_t ring_size;   /* shm only */
	int nodelay;        /* tcp: disable Nagle (latency runs) */
	struct oob_end oob[2]; /* shm */
	int fds[2];            /* unix: socketpair; tcp: fds[0] listener */
	unsigned short port;   /* tcp */
};

struct chan_end {
	enum chan_kind kind;
	int fd;
	const struct ivt_plugin_ops *ops;
	struct ivt_ep *ep;
};

const char *chan_kind_name(enum chan_kind k);
/* Load the shm plugin once; NULL and a reason if it cannot be. */
const struct ivt_plugin_ops *chan_shm_ops(char *why, size_t why_len);

int chan_prepare(struct chan_prep *p, enum chan_kind kind, size_t ring_size, int nodelay);
/* After fork: the parent is the shm server / tcp acceptor. */
int chan_open(struct chan_prep *p, int is_parent, struct chan_end *e);
ssize_t chan_send_all(struct chan_end *e, const void *buf, size_t len);
/* Bytes (>0), 0 at end-of-stream, negative errno. */
ssize_t chan_recv_some(struct chan_end *e, void *buf, size_t len);
ssize_t chan_recv_all(struct chan_end *e, void *buf, size_t len);
void chan_close(struct chan_end *e);

#endif
