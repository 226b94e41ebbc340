/* SPDX-License-Identifier: MIT */
/* Test/bench helper: a struct ivt_oob over a SOCK_SEQPACKET socketpair,
 * fds passed with SCM_RIGHTS. Stands in for the daemon's oob channel. */
#ifndef IVT_TEST_OOB_PAIR_H
#define IVT_TEST_OOB_PAIR_H

#include <stddef.h>

#include "ivt/plugin.h"

struct oob_end {
	int fd;
	struct ivt_oob oob;
};

/* Two connected ends; 0 or negative errno. */
int oob_pair_open(struct oob_end *a, struct oob_end *b);
void oob_end_close(struct oob_end *e);

/* The raw operations, usable directly to forge hostile messages. */
int oob_pair_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds);
int oob_pair_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms);

#endif
