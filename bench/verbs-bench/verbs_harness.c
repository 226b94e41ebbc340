/* SPDX-License-Identifier: MIT */
#include "verbs_harness.h"

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/plugin_loader.h"

double vh_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int remaining_ms(double deadline)
{
	double left = deadline - vh_now();
	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

int vh_load(struct vh_plugin *p, char *why, size_t why_len)
{
	char dir[PATH_MAX];
	const char *env = getenv("IVT_PLUGIN_DIR");
	if (env && *env) {
		snprintf(dir, sizeof(dir), "%s", env);
	} else {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return -errno;
		exe[n] = 0;
		snprintf(dir, sizeof(dir), "%s/../plugins", dirname(exe));
	}
	p->ops = ivt_plugin_load(dir, "verbs", why, why_len);
	if (!p->ops)
		return -ENOENT;
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/ivt_verbs.so", dir);
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	ivt_verbs_ext_fn fn = h ? (ivt_verbs_ext_fn)dlsym(h, IVT_VERBS_EXT_SYMBOL) : NULL;
	p->ext = fn ? fn() : NULL;
	if (!p->ext) {
		snprintf(why, why_len, "%s has no %s", path, IVT_VERBS_EXT_SYMBOL);
		return -ENOENT;
	}
	return 0;
}

static int oob_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds)
{
	struct vh_oob *o = ctx;
	if (nfds)
		return -EINVAL; /* verbs passes no fds */
	return send(o->fd, blob, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -errno;
}

static int oob_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	struct vh_oob *o = ctx;
	*nfds = 0;
	struct pollfd pfd = {.fd = o->fd, .events = POLLIN};
	int r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	ssize_t n = recv(o->fd, blob, cap, 0);
	if (n < 0)
		return -errno;
	return n == 0 ? -ECONNRESET : (int)n;
}

void vh_oob_init(struct vh_oob *o, int fd)
{
	o->fd = fd;
	o->oob = (struct ivt_oob){.ctx = o, .send = oob_send, .recv = oob_recv};
}

int vh_open(const struct vh_plugin *p, struct vh_oob *o, int is_server, size_t ring,
	    int timeout_ms, struct ivt_ep **ep)
{
	struct ivt_ep_params prm = {.channel = "verbs-pair", .is_server = is_server,
				    .ring_size = ring, .oob = &o->oob, .timeout_ms = timeout_ms};
	if (!is_server)
		return p->ops->connect(&prm, ep);
	int rc = p->ops->listen(&prm, ep);
	if (rc)
		return rc;
	double deadline = vh_now() + timeout_ms / 1000.0;
	while ((rc = p->ops->accept(*ep)) == -EAGAIN) {
		struct pollfd pfd = {.fd = o->fd, .events = POLLIN};
		if (poll(&pfd, 1, remaining_ms(deadline)) == 0) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	if (rc) {
		p->ops->close(*ep);
		*ep = NULL;
	}
	return rc;
}

int vh_wait(const struct vh_plugin *p, struct ivt_ep *ep, unsigned events, int timeout_ms,
	    int busy)
{
	/* Busy polling: the caller's send/recv polls the CQ itself; arm()
	 * would cost a req_notify system call per spin. */
	if (busy)
		return (int)events;
	double deadline = vh_now() + timeout_ms / 1000.0;
	for (;;) {
		int r = p->ops->arm(ep, events);
		if (r)
			return r;
		if (vh_now() >= deadline)
			return -ETIMEDOUT;
		struct pollfd pfd = {.fd = p->ops->poll_fd(ep), .events = POLLIN};
		if (poll(&pfd, 1, remaining_ms(deadline)) > 0)
			p->ops->ack(ep);
	}
}

ssize_t vh_send_all(const struct vh_plugin *p, struct ivt_ep *ep, const void *buf, size_t len,
		    int timeout_ms, int busy)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = p->ops->send(ep, (const uint8_t *)buf + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n != -EAGAIN)
			return n;
		int r = vh_wait(p, ep, IVT_EV_SEND, timeout_ms, busy);
		if (r < 0)
			return r;
	}
	return (ssize_t)len;
}

ssize_t vh_recv_all(const struct vh_plugin *p, struct ivt_ep *ep, void *buf, size_t len,
		    int timeout_ms, int busy)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = p->ops->recv(ep, (uint8_t *)buf + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0)
			return done ? -EPROTO : 0;
		if (n != -EAGAIN)
			return n;
		int r = vh_wait(p, ep, IVT_EV_RECV, timeout_ms, busy);
		if (r < 0)
			return r;
	}
	return (ssize_t)len;
}

int vh_wait_completions(const struct vh_plugin *p, struct ivt_ep *ep,
			struct ivt_verbs_completion *out, int n, int timeout_ms, int busy)
{
	int got = 0;
	while (got < n) {
		int r = p->ext->poll_completions(ep, out + got, n - got);
		if (r < 0)
			return r;
		got += r;
		if (got < n && !r) {
			int w = vh_wait(p, ep, IVT_VERBS_EV_COMPLETION, timeout_ms, busy);
			if (w < 0)
				return w;
		}
	}
	return 0;
}
