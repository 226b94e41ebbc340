/* SPDX-License-Identifier: MIT */
/*
 * The socket calls: connect and listen decide ivt or kernel (and log why),
 * accept takes whichever connection is there, and the address/option calls
 * answer for ivt sockets as a TCP socket would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "preload.h"

#define HELLO_WAIT_MS 2000

static int is_tcp(int fd, int *family)
{
	int type = 0;
	socklen_t tl = sizeof(type);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (real.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
		return 0;
	if (real.getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return 0;
	*family = ss.ss_family;
	return ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

static const struct ivt_open_opts *open_opts(void)
{
	static struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = 0};
	return &o;
}

/* A connector's options: the address dialled (text), as host_addr when it
 * is this host's (ivtd picks the listener bound to it, or to any), else
 * as peer_addr, which only a Xen guest's ivtd maps (docs/preload.md). */
static struct ivt_open_opts connect_opts(const char *ip, int local)
{
	struct ivt_open_opts o = *open_opts();
	if (local)
		o.host_addr = ip;
	else
		o.peer_addr = ip;
	return o;
}

/* The source address the kernel would pick towards `to` (a UDP socket's
 * connect only routes, it sends nothing); else the family's any. */
static void source_for(const struct sockaddr *to, socklen_t tolen, struct sockaddr_storage *out)
{
	socklen_t l = sizeof(*out);
	int u = socket(to->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(out, 0, sizeof(*out));
	if (u < 0 || real.connect(u, to, tolen) < 0 || real.getsockname(u, (void *)out, &l) < 0) {
		memset(out, 0, sizeof(*out));
		out->ss_family = to->sa_family;
	}
	if (u >= 0)
		real.close(u);
}

static void copy_addr(struct sockaddr *out, socklen_t *olen, const struct sockaddr_storage *a,
		      socklen_t alen)
{
	if (!out || !olen)
		return;
	memcpy(out, a, *olen < alen ? *olen : alen);
	*olen = alen; /* the real size, as the kernel reports it */
}

/* Give the kernel socket a local port (what getsockname will say), on
 * the source address TCP would take towards `to` (127.0.0.2 and 0.0.0.0
 * are dialled from 127.0.0.1), or the wildcard when there is no route. */
static void bind_local(int fd, const struct sockaddr *to, socklen_t tolen,
		       struct sockaddr_storage *local, socklen_t *llen)
{
	*llen = sizeof(*local);
	if (real.getsockname(fd, (struct sockaddr *)local, llen) == 0 && addr_port((void *)local) > 0)
		return;
	struct sockaddr_storage b;
	source_for(to, tolen, &b);
	if (b.ss_family == AF_INET)
		((struct sockaddr_in *)&b)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&b)->sin6_port = 0;
	if (bind(fd, (struct sockaddr *)&b, tolen) < 0) {
		/* e.g. already bound without a port: keep what it has */
	}
	*llen = sizeof(*local);
	real.getsockname(fd, (struct sockaddr *)local, llen);
}

/* Where the kernel connects for `sa`: the any address means loopback
 * (getpeername says 127.0.0.1 / ::1). */
static void kernel_dest(const struct sockaddr *sa, socklen_t len, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out, sa, len);
	if (out->ss_family == AF_INET) {
		struct sockaddr_in *s = (void *)out;
		if (s->sin_addr.s_addr == htonl(INADDR_ANY))
			s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *s = (void *)out;
		if (IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr))
			s->sin6_addr = in6addr_loopback;
	}
}

/* Try tcp.<port>; 1: fd is now an ivt stream, 0: use the kernel. */
static int connect_ivt(int fd, const struct sockaddr *sa, socklen_t len)
{
	char where[80], name[IVT_NAME_MAX + 1];
	int family;
	addr_str(sa, where, sizeof(where));
	if (!is_tcp(fd, &family) || sa->sa_family != family)
		return 0;
	/* a connect after one the kernel took (hiredis asks so whether its
	 * non-blocking connect finished): the kernel answers, no new try */
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	if (real.getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && ti.tcpi_state != TCP_CLOSE)
		return 0;
	if (!fdtab_fits(fd)) {
		PLOG("connect %s: kernel (fd %d above the preload's table)", where, fd);
		return 0;
	}
	/* this host's address: its tcp.P; else maybe a guest's beside us */
	struct sockaddr_storage local, peer;
	kernel_dest(sa, len, &peer);
	char ip[INET6_ADDRSTRLEN];
	addr_ip((struct sockaddr *)&peer, ip, sizeof(ip));
	struct ivt_open_opts o = connect_opts(ip, addr_is_local(sa, len));
	channel_name(name, sizeof(name), addr_port(sa));
	ivt_channel *ch;
	preload_inside++;
	int rc = ivt_open(name, IVT_NONBLOCK, &o, &ch);
	preload_inside--;
	if (rc == -EHOSTUNREACH) {
		PLOG("connect %s: kernel (not an address of this host: %s)", where, ivt_strerror(rc));
		return 0;
	}
	if (rc < 0) {
		PLOG("connect %s: kernel (ivt %s: %s)", where, name, ivt_strerror(rc));
		return 0;
	}
	socklen_t llen;
	bind_local(fd, (struct sockaddr *)&peer, len, &local, &llen);
	uint8_t hello[HELLO_SIZE];
	hello_encode(hello, &local, &peer);
	preload_inside++;
	ssize_t n = ivt_send(ch, hello, sizeof(hello)); /* a fresh ring has room */
	preload_inside--;
	int fl = real.fcntl(fd, F_GETFL);
	int fdfl = real.fcntl(fd, F_GETFD);
	int kfd = n == HELLO_SIZE ? hide_fd(fd) : -1;
	struct psock *p = kfd >= 0 ? stream_install(fd, ch, fl >= 0 && (fl & O_NONBLOCK),
						   fdfl >= 0 && (fdfl & FD_CLOEXEC))
				   : NULL;
	if (!p) {
		PLOG("connect %s: kernel (setting up the fd failed: %s)", where, strerror(errno));
		if (kfd >= 0)
			real.close(kfd);
		preload_inside++;
		ivt_close(ch);
		preload_inside--;
		return 0;
	}
	pthread_mutex_lock(&p->lock);
	p->kfd = kfd;
	p->family = family;
	p->local = local;
	p->local_len = llen;
	p->peer = peer;
	p->peer_len = len;
	pthread_mutex_unlock(&p->lock);
	/* ivtd picks the listener (tcp.P.<addr> or a wildcard's): the accept
	 * side's log names it; this side knows the port and address it asked */
	PLOG("connect %s: ivt %s at %s (backend %s, peer %s)", where, name, ip,
	     ivt_backend_name(ch), ivt_peer_identity(ch));
	return 1;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (preload_inside || !sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return real.connect(fd, sa, len);
	struct psock *p = psock_get(fd);
	if (p) {
		psock_put(p);
		errno = EISCONN;
		return -1;
	}
	int e = errno;
	if (connect_ivt(fd, sa, len)) {
		errno = e;
		return 0; /* connected at once, even when non-blocking */
	}
	errno = e;
	return real.connect(fd, sa, len);
}

int listen(int fd, int backlog)
{
	if (preload_inside)
		return real.listen(fd, backlog);
	struct psock *p = psock_get(fd);
	if (p) {
		int r = p->kind == PS_LISTEN ? real.listen(p->kls, backlog) : (errno = EINVAL, -1);
		int e = errno;
		psock_put(p);
		errno = e;
		return r;
	}
	int r = real.listen(fd, backlog);
	int family;
	if (r < 0 || !is_tcp(fd, &family))
		return r;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	real.getsockname(fd, (struct sockaddr *)&ss, &sl);
	char where[80], name[IVT_NAME_MAX + 1];
	addr_str((struct sockaddr *)&ss, where, sizeof(where));
	channel_name(name, sizeof(name), addr_port((struct sockaddr *)&ss));
	if (!fdtab_fits(fd)) {
		PLOG("listen %s: kernel only (fd %d above the preload's table)", where, fd);
		return 0;
	}
	ivt_listener *l;
	/* the bound address: other guests reach it only as TCP would */
	char ip[INET6_ADDRSTRLEN];
	addr_ip((struct sockaddr *)&ss, ip, sizeof(ip));
	struct ivt_open_opts o = *open_opts();
	o.bind_addr = ip;
	int v6only = 0;
	socklen_t vl = sizeof(v6only);
	if (family == AF_INET6 &&
	    real.getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &vl) == 0 && v6only)
		o.flags |= IVT_V6ONLY; /* "::" then takes no IPv4 connections */
	preload_inside++;
	int rc = ivt_listen(name, &o, &l);
	preload_inside--;
	if (rc < 0) {
		PLOG("listen %s: kernel only (ivt %s: %s)", where, name, ivt_strerror(rc));
		return 0;
	}
	ivt_listener_set_nonblock(l, 1);
	int fl = real.fcntl(fd, F_GETFL), fdfl = real.fcntl(fd, F_GETFD);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct psock *q = psock_new(PS_LISTEN);
	int kls = ep >= 0 && q ? hide_fd(fd) : -1;
	struct epoll_event ev = {.events = EPOLLIN};
	if (kls < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, kls, &ev) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, ivt_listener_fd(l), &ev) < 0 ||
	    real.dup3(ep, fd, fdfl >= 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
		PLOG("listen %s: kernel only (setting up the fd failed: %s)", where, strerror(errno));
		if (kls >= 0)
			real.close(kls);
		if (ep >= 0)
			real.close(ep);
		free(q);
		ivt_listener_close(l);
		return 0;
	}
	real.close(ep);
	real.fcntl(kls, F_SETFL, O_NONBLOCK); /* accept polls it; we block ourselves */
	if (fl >= 0 && (fl & O_NONBLOCK))
		real.fcntl(fd, F_SETFL, O_NONBLOCK);
	q->l = l;
	q->kls = kls;
	q->family = family;
	q->nonblock = fl >= 0 && (fl & O_NONBLOCK);
	q->local = ss;
	q->local_len = sl;
	fdtab_set(fd, q);
	PLOG("listen %s: kernel and ivt %s", where, ivt_listener_name(l)); /* as ivtd names it */
	return 0;
}

/* An accepted channel's hello, waited for briefly (the connector sends it
 * right after opening). 0 or -1. */
static int read_hello(ivt_channel *ch, uint8_t *buf)
{
	size_t got = 0;
	for (int waited = 0; got < HELLO_SIZE && waited < HELLO_WAIT_MS;) {
		ssize_t n = ivt_recv(ch, buf + got, HELLO_SIZE - got);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n != -EAGAIN)
			return -1;
		struct pollfd pf = {.fd = ivt_fd(ch), .events = POLLIN};
		poll(&pf, 1, 50);
		waited += 50;
	}
	return got == HELLO_SIZE ? 0 : -1;
}

/* A v4 peer of a v6 listener appears as ::ffff:a.b.c.d, as with TCP; a
 * v6 socket that dialled ::ffff:a.b.c.d reaches a v4 listener as a.b.c.d. */
static void to_family(int family, struct sockaddr_storage *a, socklen_t *len)
{
	if (family == AF_INET && a->ss_family == AF_INET6) {
		struct sockaddr_in6 v6 = *(struct sockaddr_in6 *)a;
		struct sockaddr_in *s = (void *)a;
		if (!IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr))
			return; /* not a v4 listener's connection: cannot happen over TCP */
		memset(a, 0, sizeof(*a));
		s->sin_family = AF_INET;
		s->sin_port = v6.sin6_port;
		memcpy(&s->sin_addr, &v6.sin6_addr.s6_addr[12], 4);
		*len = sizeof(*s);
		return;
	}
	if (family != AF_INET6 || a->ss_family != AF_INET)
		return;
	struct sockaddr_in v4 = *(struct sockaddr_in *)a;
	struct sockaddr_in6 *s = (void *)a;
	memset(a, 0, sizeof(*a));
	s->sin6_family = AF_INET6;
	s->sin6_port = v4.sin_port;
	s->sin6_addr.s6_addr[10] = s->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&s->sin6_addr.s6_addr[12], &v4.sin_addr, 4);
	*len = sizeof(*s);
}

static int accept_ivt(struct psock *lp, struct sockaddr *addr, socklen_t *alen, int flags)
{
	ivt_channel *ch;
	preload_inside++;
	int rc = ivt_accept(lp->l, &ch);
	preload_inside--;
	if (rc < 0)
		return rc == -EAGAIN ? -EAGAIN : -EAGAIN; /* errors: the kernel side still works */
	uint8_t hello[HELLO_SIZE];
	struct sockaddr_storage src, dst;
	socklen_t slen, dlen;
	preload_inside++;
	rc = read_hello(ch, hello);
	preload_inside--;
	if (rc < 0 || hello_decode(hello, &src, &slen, &dst, &dlen) < 0) {
		PLOG("accept: dropped an ivt connection without a valid hello");
		preload_inside++;
		ivt_close(ch);
		preload_inside--;
		return -EAGAIN;
	}
	to_family(lp->family, &src, &slen);
	to_family(lp->family, &dst, &dlen);
	struct psock *p;
	int fd = stream_new_fd(ch, flags, &p);
	if (fd < 0) {
		preload_inside++;
		ivt_close(ch);
		preload_inside--;
		return -errno;
	}
	pthread_mutex_lock(&p->lock);
	p->family = lp->family;
	p->local = dst;
	p->local_len = dlen;
	p->peer = src;
	p->peer_len = slen;
	/* a kernel socket of the same kind answers getsockopt/setsockopt */
	p->kfd = real.socket(lp->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_mutex_unlock(&p->lock);
	copy_addr(addr, alen, &src, slen);
	char where[80];
	addr_str((struct sockaddr *)&src, where, sizeof(where));
	PLOG("accept: ivt connection on %s from %s (peer %s)", ivt_listener_name(lp->l), where,
	     ivt_peer_identity(ch));
	return fd;
}

int listener_accept(struct psock *p, struct sockaddr *addr, socklen_t *alen, int flags)
{
	long long deadline = TIMEO_UNSET; /* SO_RCVTIMEO bounds accept, as TCP's */
	for (;;) {
		p->turn ^= 1;
		for (int k = 0; k < 2; k++) {
			if ((k ^ p->turn) == 0) {
				int fd = real.accept4(p->kls, addr, alen, flags | SOCK_NONBLOCK);
				if (fd >= 0) {
					if (!(flags & SOCK_NONBLOCK))
						real.fcntl(fd, F_SETFL, 0);
					return fd;
				}
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return -1;
			} else {
				int fd = accept_ivt(p, addr, alen, flags);
				if (fd >= 0)
					return fd;
				if (fd != -EAGAIN) {
					errno = -fd;
					return -1;
				}
			}
		}
		if (p->nonblock) {
			errno = EAGAIN;
			return -1;
		}
		int left = timeo_left(p->kls, SO_RCVTIMEO, &deadline);
		if (left == 0)
			return -1; /* EAGAIN */
		struct pollfd pf[2] = {{.fd = p->kls, .events = POLLIN},
				       {.fd = ivt_listener_fd(p->l), .events = POLLIN}};
		if (poll(pf, 2, left) < 0 && errno == EINTR && signal_ends_call())
			return -1; /* EINTR, as the kernel's accept */
	}
}

int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	struct psock *p = preload_inside ? NULL : psock_get(fd);
	if (!p)
		return real.accept4(fd, addr, alen, flags);
	int r = p->kind == PS_LISTEN ? listener_accept(p, addr, alen, flags) : (errno = EINVAL, -1);
	int e = errno;
	psock_put(p);
	errno = e;
	return r;
}

int accept(int fd, struct sockaddr *addr, socklen_t *alen) { return accept4(fd, addr, alen, 0); }

/* ---- addresses, options, shutdown ------------------------------------- */

static int name_of(int fd, struct sockaddr *sa, socklen_t *len, int peer)
{
	struct psock *p = psock_get(fd);
	if (!p)
		return peer ? real.getpeername(fd, sa, len) : real.getsockname(fd, sa, len);
	int r = 0;
	if (p->kind == PS_LISTEN) {
		r = peer ? (errno = ENOTCONN, -1) : real.getsockname(p->kls, sa, len);
	} else {
		pthread_mutex_lock(&p->lock);
		if (peer)
			copy_addr(sa, len, &p->peer, p->peer_len);
		else
			copy_addr(sa, len, &p->local, p->local_len);
		pthread_mutex_unlock(&p->lock);
	}
	int e = errno;
	psock_put(p);
	errno = e;
	return r;
}

int getsockname(int fd, struct sockaddr *sa, socklen_t *len) { return name_of(fd, sa, len, 0); }
int getpeername(int fd, struct sockaddr *sa, socklen_t *len) { return name_of(fd, sa, len, 1); }

/* The kernel socket standing in for options: the listen socket, or the
 * stream's own TCP socket (bound or not). */
static int opt_fd(struct psock *p) { return p->kind == PS_LISTEN ? p->kls : p->kfd; }

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct psock *p = psock_get(fd);
	if (!p)
		return real.getsockopt(fd, level, name, val, len);
	int r;
	if (level == SOL_SOCKET && name == SO_ERROR && val && len && *len >= sizeof(int)) {
		/* an ivt connect succeeds at once: only a reset is ever
		 * pending, and reading it clears it (reset.c) */
		pthread_mutex_lock(&p->lock);
		*(int *)val = p->kind == PS_STREAM ? reset_take(p) : 0;
		pthread_mutex_unlock(&p->lock);
		*len = sizeof(int);
		r = 0;
	} else if (opt_fd(p) >= 0) {
		r = real.getsockopt(opt_fd(p), level, name, val, len);
	} else {
		errno = ENOPROTOOPT;
		r = -1;
	}
	int e = errno;
	psock_put(p);
	errno = e;
	return r;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct psock *p = psock_get(fd);
	if (!p)
		return real.setsockopt(fd, level, name, val, len);
	/* options land on the stand-in kernel socket: accepted and reported
	 * back as TCP would, without effect on the ring (docs) */
	int r = opt_fd(p) >= 0 ? real.setsockopt(opt_fd(p), level, name, val, len) : 0;
	int e = errno;
	psock_put(p);
	errno = e;
	return r;
}

/* The write side (p->lock held): the peer reads its end of stream after
 * what we sent, as TCP's FIN (ivt_shutdown), where both ends' libivt and
 * ivtd know half-close; else it hears it at close. */
static void shut_wr(struct psock *p, int fd, int how)
{
	p->wr_shut = 1;
	preload_inside++;
	int rc = ivt_shutdown(p->ch, IVT_SHUT_WR);
	/* non-blocking inside: the end marker may wait for room */
	int fr = rc == 0 ? ivt_flush(p->ch) : 0;
	preload_inside--;
	if (fr == -EAGAIN)
		tx_tail_pending(p);
	const char *h = how == SHUT_WR ? "SHUT_WR" : "SHUT_RDWR";
	if (rc == 0)
		PLOG("shutdown(fd %d, %s): half-close, the peer reads end of stream now", fd, h);
	else
		PLOG("shutdown(fd %d, %s): no half-close on this channel (%s); the peer reads "
		     "end of stream at close", fd, h, ivt_strerror(rc));
}

int shutdown(int fd, int how)
{
	struct psock *p = psock_get(fd);
	if (!p)
		return real.shutdown(fd, how);
	int r = 0;
	if (p->kind == PS_LISTEN) {
		r = real.shutdown(p->kls, how);
	} else if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) {
		errno = EINVAL;
		r = -1;
	} else if (how == SHUT_RD || psock_usable(p)) { /* a FIN is a write: ours only */
		pthread_mutex_lock(&p->lock);
		if (how != SHUT_WR)
			p->rd_shut = 1; /* reads now end the stream */
		if (how != SHUT_RD && !p->wr_shut)
			shut_wr(p, fd, how);
		hup_show(p); /* the peer closed already: POLLHUP now, as TCP */
		rx_settle(p);
		pthread_mutex_unlock(&p->lock);
	} else {
		r = -1; /* errno ENOTCONN: another process uses the stream */
	}
	int e = errno;
	psock_put(p);
	errno = e;
	return r;
}
