/* SPDX-License-Identifier: MIT */
#include "bench_chan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testsupport/ep_io.h"
#include "testsupport/plugin_find.h"

#define SETUP_TIMEOUT_MS 10000
#define IO_TIMEOUT_MS 30000

static const struct ivt_plugin_ops *shm_ops;

const char *chan_kind_name(enum chan_kind k)
{
	return k == CHAN_SHM ? "shm" : k == CHAN_UNIX ? "unix" : "tcp";
}

const struct ivt_plugin_ops *chan_shm_ops(char *why, size_t why_len)
{
	if (!shm_ops)
		shm_ops = ts_plugin_load("shm", why, why_len);
	return shm_ops;
}

static int tcp_listener(unsigned short *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		int e = -errno;
		if (fd >= 0)
			close(fd);
		return e;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

int chan_prepare(struct chan_prep *p, enum chan_kind kind, size_t ring_size, int nodelay)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->ring_size = ring_size;
	p->nodelay = nodelay;
	p->fds[0] = p->fds[1] = -1;
	switch (kind) {
	case CHAN_SHM:
		return oob_pair_open(&p->oob[0], &p->oob[1]);
	case CHAN_UNIX:
		return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fds) < 0 ? -errno : 0;
	case CHAN_TCP:
		p->fds[0] = tcp_listener(&p->port);
		return p->fds[0] < 0 ? p->fds[0] : 0;
	}
	return -EINVAL;
}

static int open_shm(struct chan_prep *p, int is_parent, struct chan_end *e)
{
	char why[256];
	e->ops = chan_shm_ops(why, sizeof(why));
	if (!e->ops)
		return -ENOENT;
	struct oob_end *mine = &p->oob[is_parent ? 0 : 1];
	oob_end_close(&p->oob[is_parent ? 1 : 0]);
	int rc = ep_open(e->ops, &mine->oob, "bench", is_parent, p->ring_size, SETUP_TIMEOUT_MS,
			 &e->ep);
	oob_end_close(mine);
	return rc;
}

static int open_tcp(struct chan_prep *p, int is_parent, struct chan_end *e)
{
	int fd;
	if (is_parent) {
		fd = accept4(p->fds[0], NULL, NULL, SOCK_CLOEXEC);
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p->port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			close(fd);
			fd = -1;
		}
	}
	int e_no = errno;
	close(p->fds[0]);
	if (fd < 0)
		return -e_no;
	int one = 1;
	if (p->nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	e->fd = fd;
	return 0;
}

int chan_open(struct chan_prep *p, int is_parent, struct chan_end *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = p->kind;
	e->fd = -1;
	switch (p->kind) {
	case CHAN_SHM:
		return open_shm(p, is_parent, e);
	case CHAN_UNIX:
		e->fd = p->fds[is_parent ? 0 : 1];
		close(p->fds[is_parent ? 1 : 0]);
		return 0;
	case CHAN_TCP:
		return open_tcp(p, is_parent, e);
	}
	return -EINVAL;
}

ssize_t chan_send_all(struct chan_end *e, const void *buf, size_t len)
{
	if (e->kind == CHAN_SHM)
		return ep_send_all(e->ops, e->ep, buf, len, IO_TIMEOUT_MS);
	const char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = send(e->fd, p + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t chan_recv_some(struct chan_end *e, void *buf, size_t len)
{
	if (e->kind == CHAN_SHM)
		return ep_recv_some(e->ops, e->ep, buf, len, IO_TIMEOUT_MS);
	for (;;) {
		ssize_t n = recv(e->fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 ? -errno : n;
	}
}

ssize_t chan_recv_all(struct chan_end *e, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = chan_recv_some(e, p + done, len - done);
		if (n <= 0)
			return n < 0 ? n : (ssize_t)done;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

void chan_close(struct chan_end *e)
{
	if (e->kind == CHAN_SHM && e->ep)
		e->ops->close(e->ep);
	else if (e->fd >= 0)
		close(e->fd);
	e->ep = NULL;
	e->fd = -1;
}
