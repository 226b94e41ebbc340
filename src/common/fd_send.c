/* SPDX-License-Identifier: MIT */
#include "fd_send.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

ssize_t ivt_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	if (nfds < 0 || nfds > IVT_SEND_FDS_MAX || (nfds && !fds))
		return -EINVAL;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int) * IVT_SEND_FDS_MAX)];
		struct cmsghdr align;
	} cbuf;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > 0) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	for (;;) {
		ssize_t r = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (r >= 0 || errno != EINTR)
			return r >= 0 ? r : -errno;
	}
}
