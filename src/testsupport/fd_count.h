/* SPDX-License-Identifier: MIT */
/* Test support: counting this process's open descriptors, to show that
 * fds passed in with a refused message were all closed. */
#ifndef IVT_TESTSUPPORT_FD_COUNT_H
#define IVT_TESTSUPPORT_FD_COUNT_H

/* How many of fds 0..1023 are open (an fcntl probe). */
int ts_count_open_fds(void);

#endif
