/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for the vchan plugin (built as ivt_vchan.so in a test-only
 * directory): the same parameters, but the "ring" is an AF_UNIX stream
 * socket whose address is derived from the XenStore path the answer
 * carried: $FAKE_VCHAN_DIR/<xs_path with '/' -> '_'>. The test plays the
 * other end with a plain socket there.
 *
 * It refuses (-EINVAL) unless libivt passed what a real vchan needs:
 * xs_path set, peer_domid == $FAKE_VCHAN_PEER, local_domid ==
 * $FAKE_VCHAN_SELF, a power-of-two ring, and no use of the oob.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ivt/plugin.h"

struct ivt_ep {
	int lfd;  /* server: listening socket until the peer attached */
	int fd;   /* the pipe */
	int efd;  /* poll_fd: stable across accept */
	size_t ring;
	struct sockaddr_un addr;
};

static int env_u32(const char *name, uint32_t *out)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return -1;
	*out = (uint32_t)strtoul(v, NULL, 10);
	return 0;
}

static int check(const struct ivt_ep_params *p, struct sockaddr_un *a)
{
	uint32_t peer, self;
	const char *dir = getenv("FAKE_VCHAN_DIR");
	if (!dir || env_u32("FAKE_VCHAN_PEER", &peer) || env_u32("FAKE_VCHAN_SELF", &self) ||
	    !p->xs_path || p->peer_domid != peer || p->local_domid != self || !p->ring_size ||
	    (p->ring_size & (p->ring_size - 1)))
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	int n = snprintf(a->sun_path, sizeof(a->sun_path), "%s/%s", dir, p->xs_path);
	if (n < 0 || (size_t)n >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	for (char *c = a->sun_path + strlen(dir) + 1; *c; c++)
		if (*c == '/')
			*c = '_';
	return 0;
}

static struct ivt_ep *ep_new(const struct ivt_ep_params *p, const struct sockaddr_un *a)
{
	struct ivt_ep *ep = calloc(1, sizeof(*ep));
	ep->lfd = ep->fd = -1;
	ep->efd = epoll_create1(EPOLL_CLOEXEC);
	ep->ring = p->ring_size;
	ep->addr = *a;
	return ep;
}

static void watch(struct ivt_ep *ep, int fd, int op, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	epoll_ctl(ep->efd, op, fd, &ev);
}

static int fake_listen(const struct ivt_ep_params *p, struct ivt_ep **out)
{
	struct sockaddr_un a;
	int rc = check(p, &a);
	if (rc)
		return rc;
	struct ivt_ep *ep = ep_new(p, &a);
	ep->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unlink(a.sun_path);
	if (bind(ep->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(ep->lfd, 1)) {
		rc = -errno;
		close(ep->lfd);
		close(ep->efd);
		free(ep);
		return rc;
	}
	watch(ep, ep->lfd, EPOLL_CTL_ADD, EPOLLIN);
	*out = ep;
	return 0;
}

static int fake_accept(struct ivt_ep *ep)
{
	if (ep->fd >= 0)
		return 0;
	int fd = accept4(ep->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	epoll_ctl(ep->efd, EPOLL_CTL_DEL, ep->lfd, NULL);
	close(ep->lfd);
	ep->lfd = -1;
	unlink(ep->addr.sun_path);
	ep->fd = fd;
	watch(ep, fd, EPOLL_CTL_ADD, EPOLLIN);
	return 0;
}

static int fake_connect(const struct ivt_ep_params *p, struct ivt_ep **out)
{
	struct sockaddr_un a;
	int rc = check(p, &a);
	if (rc)
		return rc;
	if (p->oob && p->oob->recv) {
		/* vchan never uses the oob; over XenStore it must refuse */
		char b[8];
		int fds[IVT_OOB_FDS_MAX], n = IVT_OOB_FDS_MAX;
		if (p->oob->recv(p->oob->ctx, b, sizeof(b), fds, &n, 0) != -ENOTSUP)
			return -EINVAL;
	}
	struct ivt_ep *ep = ep_new(p, &a);
	ep->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(ep->fd, (struct sockaddr *)&a, sizeof(a))) {
		rc = errno == ENOENT || errno == ECONNREFUSED ? -ETIMEDOUT : -errno;
		close(ep->fd);
		close(ep->efd);
		free(ep);
		return rc;
	}
	fcntl(ep->fd, F_SETFL, fcntl(ep->fd, F_GETFL) | O_NONBLOCK);
	watch(ep, ep->fd, EPOLL_CTL_ADD, EPOLLIN);
	*out = ep;
	return 0;
}

static ssize_t fake_send(struct ivt_ep *ep, const void *buf, size_t len)
{
	if (ep->fd < 0)
		return -EAGAIN;
	ssize_t n = send(ep->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n >= 0)
		return n ? n : -EAGAIN;
	return errno == EAGAIN ? -EAGAIN : -EPIPE;
}

static ssize_t fake_recv(struct ivt_ep *ep, void *buf, size_t len)
{
	if (ep->fd < 0)
		return -EAGAIN;
	ssize_t n = recv(ep->fd, buf, len, MSG_DONTWAIT);
	if (n >= 0)
		return n;
	return errno == EAGAIN ? -EAGAIN : 0;
}

static int fake_arm(struct ivt_ep *ep, unsigned events)
{
	if (ep->fd < 0)
		return 0; /* the listening socket is in efd already */
	unsigned want = (events & IVT_EV_RECV ? EPOLLIN : 0u) | (events & IVT_EV_SEND ? EPOLLOUT : 0u);
	watch(ep, ep->fd, EPOLL_CTL_MOD, want);
	struct pollfd p = {.fd = ep->fd, .events = (short)((events & IVT_EV_RECV ? POLLIN : 0) |
							   (events & IVT_EV_SEND ? POLLOUT : 0))};
	if (poll(&p, 1, 0) <= 0)
		return 0;
	unsigned ready = 0;
	if (p.revents & (POLLIN | POLLHUP | POLLERR))
		ready |= IVT_EV_RECV;
	if (p.revents & (POLLOUT | POLLHUP | POLLERR))
		ready |= IVT_EV_SEND;
	return (int)(ready & events);
}

static int fake_poll_fd(struct ivt_ep *ep) { return ep->efd; }
static void fake_ack(struct ivt_ep *ep) { (void)ep; }

static void fake_close(struct ivt_ep *ep)
{
	if (ep->lfd >= 0) {
		close(ep->lfd);
		unlink(ep->addr.sun_path);
	}
	if (ep->fd >= 0)
		close(ep->fd);
	close(ep->efd);
	free(ep);
}

static int fake_stats(struct ivt_ep *ep, struct ivt_ep_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->ring_size = ep->ring;
	return 0;
}

static int fake_probe(char *why, size_t len) { (void)why; (void)len; return 0; }

static const struct ivt_plugin_ops ops = {
	.abi_version = IVT_PLUGIN_ABI_VERSION,
	.ops_size = sizeof(struct ivt_plugin_ops),
	.name = "vchan",
	.description = "test stand-in: vchan parameters over AF_UNIX",
	.caps = IVT_CAP_COLOCATED | IVT_CAP_NEEDS_XEN | IVT_CAP_PEER_BOUND | IVT_CAP_XS_PATH,
	.probe = fake_probe,
	.listen = fake_listen,
	.accept = fake_accept,
	.connect = fake_connect,
	.send = fake_send,
	.recv = fake_recv,
	.arm = fake_arm,
	.poll_fd = fake_poll_fd,
	.ack = fake_ack,
	.close = fake_close,
	.stats = fake_stats,
};

__attribute__((visibility("default"))) const struct ivt_plugin_ops *ivt_plugin_entry(uint32_t abi)
{
	(void)abi;
	return &ops;
}
