/* SPDX-License-Identifier: MIT */
/* fake_libxenvchan.c: libxenvchan in this process, for the plugin's tests. */
#ifndef IVT_TESTS_FAKE_LIBXENVCHAN_H
#define IVT_TESTS_FAKE_LIBXENVCHAN_H

#define FAKE_RING_ORDER 12
#define FAKE_RING (1u << FAKE_RING_ORDER)

/* Set: the next libxenvchan_wait first consumes the pending event itself,
 * as a second thread in ack would have between our poll() and read(). */
extern int fake_steal_before_wait;

#endif
