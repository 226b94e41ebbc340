/* SPDX-License-Identifier: MIT */
#include "testsupport/oob_pair.h"
#include "common/fd_send.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int oob_pair_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds)
{
	struct oob_end *e = ctx;
	if (nfds < 0 || nfds > IVT_OOB_FDS_MAX || len > IVT_OOB_BLOB_MAX)
		return -EINVAL;
	ssize_t n = ivt_send_with_fds(e->fd, blob, len, fds, nfds);
	return n < 0 ? (int)n : 0;
}

int oob_pair_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	struct oob_end *e = ctx;
	struct pollfd p = {.fd = e->fd, .events = POLLIN};
	int rc = poll(&p, 1, timeout_ms);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	char cbuf[CMSG_SPACE(sizeof(int) * IVT_OOB_FDS_MAX)];
	struct iovec iov = {.iov_base = blob, .iov_len = cap};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			   .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(e->fd, &m, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	int cap_fds = *nfds, got = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int tmp[IVT_OOB_FDS_MAX + 8];
		if (k > (int)(sizeof(tmp) / sizeof(tmp[0])))
			k = (int)(sizeof(tmp) / sizeof(tmp[0]));
		memcpy(tmp, CMSG_DATA(c), sizeof(int) * k);
		for (int i = 0; i < k; i++) {
			if (got < cap_fds)
				fds[got++] = tmp[i];
			else
				close(tmp[i]);
		}
	}
	*nfds = got;
	if (n == 0 && got == 0)
		return -ECONNRESET;
	if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (int i = 0; i < got; i++)
			close(fds[i]);
		*nfds = 0;
		return -EMSGSIZE;
	}
	return (int)n;
}

int oob_pair_open(struct oob_end *a, struct oob_end *b)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	a->fd = sv[0];
	b->fd = sv[1];
	a->oob = (struct ivt_oob){.ctx = a, .send = oob_pair_send, .recv = oob_pair_recv};
	b->oob = (struct ivt_oob){.ctx = b, .send = oob_pair_send, .recv = oob_pair_recv};
	return 0;
}

void oob_end_close(struct oob_end *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}
