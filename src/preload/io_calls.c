/* SPDX-License-Identifier: MIT */
/*
 * read/write and friends on ivt streams: bytes go straight between the
 * caller's buffers and the ring (through the stage only when rx_settle
 * had to read ahead to learn whether more was there).
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "preload.h"

static int map_err(int rc)
{
	/* a broken ring is a broken connection to the application */
	return rc == -EPROTO ? ECONNRESET : -rc;
}

/* Copy up to want bytes into iov from the stage and then the ring; with
 * peek, only from the stage (filled first). p->lock held. Returns bytes,
 * or 0 with *state: 0 nothing yet, 1 end of stream, -errno error. */
static size_t rx_some(struct psock *p, const struct iovec *iov, int cnt, int peek, int *state)
{
	size_t got = 0;
	*state = 0;
	if (peek && !p->st_len)
		rx_settle(p);
	for (int i = 0; i < cnt; i++) {
		uint8_t *b = iov[i].iov_base;
		size_t len = iov[i].iov_len, done = 0;
		while (done < len && p->st_len) {
			size_t n = p->st_len < len - done ? p->st_len : len - done;
			memcpy(b + done, p->stage + p->st_off, n);
			done += n;
			if (!peek) {
				p->st_off += n;
				p->st_len -= n;
			}
			if (peek)
				break;
		}
		if (peek) {
			got += done;
			break; /* peeking reads the stage only */
		}
		if (done < len && !p->rd_eof && !p->rd_err && !p->rd_shut) {
			ssize_t n = ring_recv(p, b + done, len - done);
			if (n > 0)
				done += (size_t)n;
			else if (n == 0)
				p->rd_eof = 1;
			else if (n != -EAGAIN)
				rd_error(p, (int)n);
		}
		got += done;
		if (done < len)
			break;
	}
	if (!got) {
		if (p->rd_shut || p->rd_eof)
			*state = 1;
		else if (is_reset(p->rd_err))
			*state = reset_take(p) ? -ECONNRESET : 1; /* once, then the end */
		else if (p->rd_err)
			*state = p->rd_err;
	}
	if (!peek)
		rx_settle(p);
	return got;
}

ssize_t stream_recv(struct psock *p, const struct iovec *iov, int cnt, int flags)
{
	if (flags & MSG_OOB) {
		errno = EINVAL; /* as TCP with no urgent data pending */
		return -1;
	}
	if (flags & MSG_ERRQUEUE) {
		errno = EAGAIN;
		return -1;
	}
	if (!psock_usable(p))
		return -1;
	size_t want = 0;
	for (int i = 0; i < cnt; i++)
		want += iov[i].iov_len;
	if (!want)
		return 0;
	int peek = !!(flags & MSG_PEEK);
	int waitall = (flags & MSG_WAITALL) && !peek;
	size_t total = 0;
	struct iovec rest[64];
	long long deadline = TIMEO_UNSET; /* SO_RCVTIMEO, read at the first wait */
	for (;;) {
		/* skip what MSG_WAITALL already filled */
		const struct iovec *v = iov;
		int vc = cnt;
		if (total) {
			size_t skip = total;
			vc = 0;
			for (int i = 0; i < cnt && vc < 64; i++) {
				if (skip >= iov[i].iov_len) {
					skip -= iov[i].iov_len;
					continue;
				}
				rest[vc].iov_base = (char *)iov[i].iov_base + skip;
				rest[vc++].iov_len = iov[i].iov_len - skip;
				skip = 0;
			}
			v = rest;
		}
		int state;
		pthread_mutex_lock(&p->lock);
		size_t n = rx_some(p, v, vc, peek, &state);
		pthread_mutex_unlock(&p->lock);
		total += n;
		if (total && (!waitall || total == want))
			return (ssize_t)total;
		if (state == 1)
			return (ssize_t)total;
		if (state < 0) {
			if (total)
				return (ssize_t)total;
			errno = map_err(state);
			return -1;
		}
		if (p->nonblock || (flags & MSG_DONTWAIT)) {
			if (total)
				return (ssize_t)total;
			errno = EAGAIN;
			return -1;
		}
		if (wait_app_fd_timeo(p, POLLIN, SO_RCVTIMEO, &deadline) < 0)
			return total ? (ssize_t)total : -1; /* EAGAIN or EINTR, as TCP */
	}
}

/* A blocking write returns once its bytes are in the ring, none left
 * with libivt (a frame's tail): the ring is this socket's buffer, and a
 * close right after (then _exit) delivers everything at once. */
static ssize_t sent_blocking(struct psock *p, size_t n, long long *deadline)
{
	for (;;) {
		pthread_mutex_lock(&p->lock);
		int pending = p->tx_pending;
		if (pending)
			tx_blocked(p); /* POLLOUT drops until the tail went */
		pthread_mutex_unlock(&p->lock);
		/* SO_SNDTIMEO over: the tail is libivt's, it goes on its own */
		if (!pending || wait_app_fd_timeo(p, POLLOUT, SO_SNDTIMEO, deadline) < 0)
			return (ssize_t)n;
	}
}

ssize_t stream_send(struct psock *p, const struct iovec *iov, int cnt, int flags)
{
	if (flags & MSG_OOB) {
		errno = EOPNOTSUPP; /* urgent data has no ivt equivalent (docs) */
		return -1;
	}
	if (!psock_usable(p))
		return -1;
	size_t total = 0;
	int nb = p->nonblock || (flags & MSG_DONTWAIT);
	long long deadline = TIMEO_UNSET; /* SO_SNDTIMEO, read at the first wait */
	for (int i = 0; i < cnt;) {
		const uint8_t *b = iov[i].iov_base;
		size_t len = iov[i].iov_len, done = 0;
		while (done < len) {
			pthread_mutex_lock(&p->lock);
			ssize_t n;
			if (p->wr_shut) {
				n = -EPIPE;
			} else {
				preload_inside++;
				n = ivt_send(p->ch, b + done, len - done);
				preload_inside--;
			}
			if (n == -EAGAIN) {
				tx_blocked(p);
			} else if (n == -EPIPE || is_reset((int)n)) {
				p->wr_dead = 1; /* both directions done: POLLHUP */
				if (is_reset((int)n)) {
					reset_show(p);
					/* reported once, by the call that meets it
					 * (not one that returns a count) */
					if (!(total + done))
						n = reset_take(p) ? -ECONNRESET : -EPIPE;
				}
				hup_show(p);
			} else if (n > 0) {
				/* a non-blocking send may keep the tail of its
				 * last frame: it must reach the ring on its own */
				preload_inside++;
				int fr = ivt_flush(p->ch);
				preload_inside--;
				if (fr == -EAGAIN)
					tx_tail_pending(p);
				else
					tx_sent(p);
			}
			pthread_mutex_unlock(&p->lock);
			if (n > 0) {
				done += (size_t)n;
				continue;
			}
			if (n == -EAGAIN) {
				if (nb || total + done) {
					/* a partial write returns what went, like TCP */
					if (total + done)
						return nb ? (ssize_t)(total + done)
							  : sent_blocking(p, total + done, &deadline);
					errno = EAGAIN;
					return -1;
				}
				if (wait_app_fd_timeo(p, POLLOUT, SO_SNDTIMEO, &deadline) < 0)
					return -1; /* nothing went: EAGAIN or EINTR, as TCP */
				continue;
			}
			if (total + done)
				return (ssize_t)(total + done);
			if (n == -EPIPE && !(flags & MSG_NOSIGNAL))
				raise(SIGPIPE);
			errno = n == 0 ? EPIPE : map_err((int)n);
			return -1;
		}
		total += len;
		i++;
	}
	return nb || !total ? (ssize_t)total : sent_blocking(p, total, &deadline);
}

/* ---- the wrappers ---------------------------------------------------- */

#define ONE_IOV(b, l) (&(struct iovec){.iov_base = (void *)(b), .iov_len = (l)})

#define WRAP(call_real, call_ivt)                                                           \
	struct psock *p = psock_get(fd);                                                    \
	if (!p)                                                                             \
		return call_real;                                                           \
	ssize_t r = p->kind == PS_STREAM ? call_ivt : (errno = ENOTCONN, -1);               \
	int e = errno;                                                                      \
	psock_put(p);                                                                       \
	errno = e;                                                                          \
	return r

ssize_t read(int fd, void *buf, size_t len)
{
	WRAP(real.read(fd, buf, len), stream_recv(p, ONE_IOV(buf, len), 1, 0));
}

ssize_t write(int fd, const void *buf, size_t len)
{
	WRAP(real.write(fd, buf, len), stream_send(p, ONE_IOV(buf, len), 1, 0));
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	WRAP(real.recv(fd, buf, len, flags), stream_recv(p, ONE_IOV(buf, len), 1, flags));
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	WRAP(real.send(fd, buf, len, flags), stream_send(p, ONE_IOV(buf, len), 1, flags));
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *sa, socklen_t *sl)
{
	/* a connected stream names no sender, as TCP */
	WRAP(real.recvfrom(fd, buf, len, flags, sa, sl),
	     ((sl ? *sl = 0 : 0), stream_recv(p, ONE_IOV(buf, len), 1, flags)));
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *sa,
	       socklen_t sl)
{
	/* TCP ignores the address on a connected socket */
	WRAP(real.sendto(fd, buf, len, flags, sa, sl),
	     stream_send(p, ONE_IOV(buf, len), 1, flags));
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	WRAP(real.readv(fd, iov, cnt), stream_recv(p, iov, cnt, 0));
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	WRAP(real.writev(fd, iov, cnt), stream_send(p, iov, cnt, 0));
}

static ssize_t recvmsg_ivt(struct psock *p, struct msghdr *m, int flags)
{
	m->msg_namelen = 0;
	m->msg_controllen = 0; /* no ancillary data on a TCP stream */
	m->msg_flags = 0;
	return stream_recv(p, m->msg_iov, (int)m->msg_iovlen, flags);
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	WRAP(real.recvmsg(fd, m, flags), recvmsg_ivt(p, m, flags));
}

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	WRAP(real.sendmsg(fd, m, flags), stream_send(p, m->msg_iov, (int)m->msg_iovlen, flags));
}

/* sendfile to an ivt stream: read the file, then send, in 64 KiB pieces. */
static ssize_t sendfile_ivt(struct psock *p, int in_fd, off_t *off, size_t count)
{
	size_t cap = count < 65536 ? count : 65536;
	char *buf = malloc(cap ? cap : 1);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	ssize_t n = off ? pread(in_fd, buf, cap, *off) : real.read(in_fd, buf, cap);
	ssize_t sent = n;
	if (n > 0) {
		sent = stream_send(p, ONE_IOV(buf, (size_t)n), 1, 0);
		if (sent > 0 && off)
			*off += sent;
		else if (sent > 0 && sent < n)
			lseek(in_fd, sent - n, SEEK_CUR); /* unread what did not go */
	}
	int e = errno;
	free(buf);
	errno = e;
	return sent;
}

ssize_t sendfile(int out_fd, int in_fd, off_t *off, size_t count)
{
	int fd = out_fd;
	WRAP(real.sendfile(out_fd, in_fd, off, count), sendfile_ivt(p, in_fd, off, count));
}

/* splice would move our readiness bytes, not the stream's: refuse it. */
ssize_t splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len,
	       unsigned int flags)
{
	static ssize_t (*real_splice)(int, loff_t *, int, loff_t *, size_t, unsigned);
	struct psock *a = psock_get(fd_in), *b = psock_get(fd_out);
	if (a || b) {
		psock_put(a);
		psock_put(b);
		PLOG("splice on an ivt socket: EINVAL (not supported)");
		errno = EINVAL;
		return -1;
	}
	if (!real_splice)
		real_splice = (__typeof__(real_splice))dlsym(RTLD_NEXT, "splice");
	return real_splice(fd_in, off_in, fd_out, off_out, len, flags);
}
