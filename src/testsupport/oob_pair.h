/* SPDX-License-Identifier: MIT */
/* Test/bench support: a struct ivt_oob over a SOCK_SEQPACKET socketpair,
 * fds passed with SCM_RIGHTS. Stands in for the broker's oob channel
 * between two ends in one process or in a parent and its forked child
 * (each side closes the other's end after fork). */
#ifndef IVT_TESTSUPPORT_OOB_PAIR_H
#define IVT_TESTSUPPORT_OOB_PAIR_H

#include <stddef.h>

#include "ivt/plugin.h"

struct oob_end {
	int fd; /* the raw socket, e.g. to play a hostile peer */
	struct ivt_oob oob;
};

/* Two connected ends; 0 or negative errno. The ends must not move in
 * memory afterwards (oob.ctx points at them). */
int oob_pair_open(struct oob_end *a, struct oob_end *b);
void oob_end_close(struct oob_end *e);

/* The raw operations, usable directly to forge hostile messages. */
int oob_pair_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds);
int oob_pair_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms);

#endif
