/* SPDX-License-Identifier: MIT */
/*
 * ivt_tcpx.so: a test stand-in for an RDMA plugin, so ivtd's bridging over
 * "an RDMA plugin" (docs/remote.md, "Bridging over RDMA") runs end to end
 * on hosts without RDMA devices (tests/remote/netns-xport.sh). It declares
 * what verbs declares for this purpose (IVT_CAP_REMOTE | IVT_CAP_NET_SETUP)
 * and carries the byte pipe over one TCP connection: the server listens on
 * $IVT_TCPX_ADDR (this host's address the peer can reach) and publishes
 * "addr port" as its blob; the client dials it and answers with a blob of
 * its own, like a queue pair's. Never installed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ivt/plugin.h"

struct ivt_ep {
	int lfd, fd, epfd;
	struct ivt_oob oob;
};

static int probe(char *why, size_t why_len)
{
	if (!getenv("IVT_TCPX_ADDR")) {
		snprintf(why, why_len, "IVT_TCPX_ADDR not set");
		return -ENODEV;
	}
	return 0;
}

static struct ivt_ep *ep_new(const struct ivt_ep_params *p)
{
	struct ivt_ep *ep = calloc(1, sizeof(*ep));
	if (!ep)
		return NULL;
	ep->lfd = ep->fd = -1;
	ep->oob = *p->oob;
	ep->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->epfd < 0) {
		free(ep);
		return NULL;
	}
	return ep;
}

static void ep_free(struct ivt_ep *ep)
{
	if (ep->lfd >= 0)
		close(ep->lfd);
	if (ep->fd >= 0)
		close(ep->fd);
	close(ep->epfd);
	free(ep);
}

static int watch(struct ivt_ep *ep, int fd, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.fd = fd};
	if (epoll_ctl(ep->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	return epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

static int tcpx_listen(const struct ivt_ep_params *p, struct ivt_ep **out)
{
	struct ivt_ep *ep = ep_new(p);
	if (!ep)
		return -ENOMEM;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	char blob[64];
	int rc = -EINVAL;
	if (inet_pton(AF_INET, getenv("IVT_TCPX_ADDR"), &a.sin_addr) != 1)
		goto fail;
	ep->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ep->lfd < 0 || bind(ep->lfd, (struct sockaddr *)&a, sizeof(a)) || listen(ep->lfd, 1) ||
	    getsockname(ep->lfd, (struct sockaddr *)&a, &al)) {
		rc = -errno;
		goto fail;
	}
	int n = snprintf(blob, sizeof(blob), "%s %u", getenv("IVT_TCPX_ADDR"), ntohs(a.sin_port));
	if ((rc = ep->oob.send(ep->oob.ctx, blob, (size_t)n, NULL, 0)) < 0 ||
	    (rc = watch(ep, ep->lfd, EPOLLIN)) < 0)
		goto fail;
	*out = ep;
	return 0;
fail:
	ep_free(ep);
	return rc;
}

static int tcpx_accept(struct ivt_ep *ep)
{
	if (ep->fd >= 0)
		return 0;
	char blob[IVT_OOB_BLOB_MAX];
	int fds[IVT_OOB_FDS_MAX], nfds = IVT_OOB_FDS_MAX;
	int n = ep->oob.recv(ep->oob.ctx, blob, sizeof(blob), fds, &nfds, 0);
	if (n < 0)
		return n == -ETIMEDOUT ? -EAGAIN : n;
	if (n != 4 || memcmp(blob, "tcpx", 4) != 0)
		return -EPROTO;
	/* The client connected before it sent its blob. */
	ep->fd = accept4(ep->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (ep->fd < 0)
		return -errno == -EAGAIN ? -EPROTO : -errno;
	epoll_ctl(ep->epfd, EPOLL_CTL_DEL, ep->lfd, NULL);
	close(ep->lfd);
	ep->lfd = -1;
	return watch(ep, ep->fd, 0);
}

static int tcpx_connect(const struct ivt_ep_params *p, struct ivt_ep **out)
{
	struct ivt_ep *ep = ep_new(p);
	if (!ep)
		return -ENOMEM;
	char blob[IVT_OOB_BLOB_MAX + 1], addr[64];
	int fds[IVT_OOB_FDS_MAX], nfds = IVT_OOB_FDS_MAX;
	unsigned port;
	struct sockaddr_in a = {.sin_family = AF_INET};
	int rc, n = ep->oob.recv(ep->oob.ctx, blob, sizeof(blob) - 1, fds, &nfds, p->timeout_ms);
	if (n < 0) {
		rc = n;
		goto fail;
	}
	blob[n] = '\0';
	rc = -EPROTO;
	if (sscanf(blob, "%63s %u", addr, &port) != 2 || port == 0 || port > 65535 ||
	    inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		goto fail;
	a.sin_port = htons((uint16_t)port);
	ep->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ep->fd < 0 || connect(ep->fd, (struct sockaddr *)&a, sizeof(a))) {
		rc = -errno;
		goto fail;
	}
	int fl = fcntl(ep->fd, F_GETFL);
	if (fl < 0 || fcntl(ep->fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = ep->oob.send(ep->oob.ctx, "tcpx", 4, NULL, 0)) < 0 ||
	    (rc = watch(ep, ep->fd, 0)) < 0)
		goto fail;
	*out = ep;
	return 0;
fail:
	ep_free(ep);
	return rc;
}

static ssize_t tcpx_send(struct ivt_ep *ep, const void *buf, size_t len)
{
	if (ep->fd < 0)
		return -EAGAIN;
	ssize_t n = send(ep->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n >= 0)
		return n;
	return errno == EAGAIN ? -EAGAIN : errno == EPIPE ? -EPIPE : -ECONNRESET;
}

static ssize_t tcpx_recv(struct ivt_ep *ep, void *buf, size_t len)
{
	if (ep->fd < 0)
		return -EAGAIN;
	ssize_t n = recv(ep->fd, buf, len, MSG_DONTWAIT);
	if (n >= 0)
		return n;
	return errno == EAGAIN ? -EAGAIN : -ECONNRESET;
}

static int tcpx_arm(struct ivt_ep *ep, unsigned events)
{
	if (ep->fd < 0)
		return 0;
	struct pollfd pfd = {.fd = ep->fd,
			     .events = (short)(((events & IVT_EV_RECV) ? POLLIN : 0) |
					       ((events & IVT_EV_SEND) ? POLLOUT : 0))};
	int r = 0;
	if (poll(&pfd, 1, 0) > 0) {
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
			r |= (int)(events & IVT_EV_RECV);
		if (pfd.revents & (POLLOUT | POLLHUP | POLLERR))
			r |= (int)(events & IVT_EV_SEND);
	}
	if (!r)
		watch(ep, ep->fd, (unsigned)pfd.events);
	return r;
}

static int tcpx_poll_fd(struct ivt_ep *ep) { return ep->epfd; }

static void tcpx_ack(struct ivt_ep *ep) { (void)ep; /* level-triggered: arm re-checks */ }

static void tcpx_close(struct ivt_ep *ep)
{
	if (ep->fd >= 0)
		shutdown(ep->fd, SHUT_WR); /* the peer reads everything, then EOF */
	ep_free(ep);
}

static const struct ivt_plugin_ops ops = {
	.abi_version = IVT_PLUGIN_ABI_VERSION,
	.ops_size = sizeof(struct ivt_plugin_ops),
	.name = "tcpx",
	.description = "test stand-in for an RDMA plugin: a TCP connection per channel",
	.caps = IVT_CAP_REMOTE | IVT_CAP_NET_SETUP,
	.probe = probe,
	.listen = tcpx_listen,
	.accept = tcpx_accept,
	.connect = tcpx_connect,
	.send = tcpx_send,
	.recv = tcpx_recv,
	.arm = tcpx_arm,
	.poll_fd = tcpx_poll_fd,
	.ack = tcpx_ack,
	.close = tcpx_close,
};

__attribute__((visibility("default"))) const struct ivt_plugin_ops *
ivt_plugin_entry(uint32_t host_abi)
{
	(void)host_abi;
	return &ops;
}
