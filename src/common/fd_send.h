/* SPDX-License-Identifier: MIT */
/* Sending bytes with file descriptors attached (SCM_RIGHTS): the one
 * sendmsg() with a control buffer, for the control socket, oob pairs and
 * tests that must put malformed messages on the wire. */
#ifndef IVT_FD_SEND_H
#define IVT_FD_SEND_H

#include <stddef.h>
#include <sys/types.h>

/* The most descriptors one call attaches. Protocols keep their own,
 * lower limit (IVT_OOB_FDS_MAX); tests send more to check receivers. */
#define IVT_SEND_FDS_MAX 16

/* One sendmsg() of len bytes with nfds (0..IVT_SEND_FDS_MAX) descriptors,
 * MSG_NOSIGNAL so a vanished peer cannot kill the sender with SIGPIPE,
 * retried on EINTR. Bytes sent, or -errno (-EINVAL: nfds out of range). */
ssize_t ivt_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);

#endif
