/* SPDX-License-Identifier: MIT */
/*
 * The only code that builds and parses control-socket messages.
 *
 * Payload sizes (hdr.len) per type:
 *   OPEN        sizeof(struct ivt_ctrl_open)
 *   OPEN_OK     sizeof(struct ivt_ctrl_open_ok)
 *   ERROR       sizeof(struct ivt_ctrl_error)
 *   SETUP       sizeof(struct ivt_ctrl_setup)   (whole blob array; blob_len says how much counts)
 *   PEER        sizeof(struct ivt_ctrl_peer)
 *   INCOMING    sizeof(struct ivt_ctrl_incoming)   (ticket nonzero)
 *   INCOMING_RING sizeof(struct ivt_ctrl_incoming_ring)   (as INCOMING and SETUP)
 *   OPEN_SETUP  sizeof(struct ivt_ctrl_open_setup)   (as OPEN and SETUP)
 *   PEER_INFO   sizeof(struct ivt_ctrl_peer_info)
 *   ATTACH_INFO sizeof(struct ivt_ctrl_attach_info)   (cookie not all zero)
 *   ATTACH      sizeof(struct ivt_ctrl_attach)   (cookie not all zero, known
 *               flags, reserved 0; name and backend are checked by ivtd)
 *   ATTACH_OK   sizeof(struct ivt_ctrl_attach_ok)   (paired 0 or 1)
 *   CLOSE       0
 *   STATUS      0
 *   STATUS_OK   1 .. IVT_CTRL_STATUS_MAX + 1, text whose only NUL is the last byte
 *   LINE_STATS  sizeof(struct ivt_ctrl_line_stats), or IVT_CTRL_LINE_STATS_V1 (an
 *               older listener's, without held)
 *   LINE_REUSE, LINE_RELEASED  0 (hdr.seq: a slot, 1 .. IVT_LINE_SLOTS)
 */
#include "clock.h"
#include "ctrl_msg.h"
#include "fd_send.h"
#include "fd_stdio.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Large enough for the biggest valid message plus one byte, so anything
 * bigger shows up as MSG_TRUNC rather than fitting by accident. */
#define RECV_BUF_SIZE (sizeof(struct ivt_ctrl_hdr) + sizeof(((struct ivt_ctrl_msg *)0)->u) + 1)

int ivt_name_valid(const char *name)
{
	if (!name || !name[0] || name[0] == '.')
		return 0;
	size_t n = 0;
	for (; name[n]; n++) {
		char c = name[n];
		if (n >= IVT_NAME_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* A string field is valid when it has a NUL inside its array. */
static bool field_terminated(const char *field, size_t size)
{
	return memchr(field, '\0', size) != NULL;
}

#define TERMINATED(f) field_terminated((f), sizeof(f))

static bool cookie_set(const uint8_t *c)
{
	for (int i = 0; i < IVT_CTRL_COOKIE_LEN; i++)
		if (c[i])
			return true;
	return false;
}

/* Checks the payload (already copied into m->u) for one type. */
static int check_payload(struct ivt_ctrl_msg *m, uint32_t len)
{
	switch (m->hdr.type) {
	case IVT_CTRL_OPEN:
		if (len != sizeof(m->u.open) || !TERMINATED(m->u.open.name) ||
		    !TERMINATED(m->u.open.backend))
			return -EPROTO;
		return 0;
	case IVT_CTRL_OPEN_OK:
		if (len != sizeof(m->u.open_ok) || !TERMINATED(m->u.open_ok.backend) ||
		    !TERMINATED(m->u.open_ok.xs_path) || m->u.open_ok.is_server > 1 ||
		    (m->u.open_ok.flags & ~IVT_CTRL_OK_FLAGS) ||
		    m->u.open_ok.spill_above_bytes > IVT_CTRL_SPILL_ABOVE_MAX)
			return -EPROTO;
		return 0;
	case IVT_CTRL_ERROR:
		if (len != sizeof(m->u.error) || !TERMINATED(m->u.error.msg) ||
		    m->u.error.err <= 0 || m->u.error.err >= 4096)
			return -EPROTO;
		return 0;
	case IVT_CTRL_SETUP:
		if (len != sizeof(m->u.setup) || m->u.setup.blob_len > IVT_OOB_BLOB_MAX ||
		    m->u.setup.nfds > IVT_OOB_FDS_MAX || (int)m->u.setup.nfds != m->nfds)
			return -EPROTO;
		return 0;
	case IVT_CTRL_PEER:
		if (len != sizeof(m->u.peer) || m->u.peer.event < IVT_PEER_CONNECTED ||
		    m->u.peer.event > IVT_PEER_DIED)
			return -EPROTO;
		return 0;
	case IVT_CTRL_INCOMING:
		if (len != sizeof(m->u.incoming) || !m->u.incoming.ticket ||
		    !TERMINATED(m->u.incoming.identity))
			return -EPROTO;
		return 0;
	case IVT_CTRL_INCOMING_RING: {
		const struct ivt_ctrl_incoming_ring *r = &m->u.incoming_ring;
		if (len != sizeof(*r) || !r->in.ticket || !TERMINATED(r->in.identity) ||
		    r->setup.blob_len > IVT_OOB_BLOB_MAX || r->setup.nfds > IVT_OOB_FDS_MAX ||
		    ((int)r->setup.nfds != m->nfds && (int)r->setup.nfds + 1 != m->nfds))
			return -EPROTO; /* + 1: the accepting end's control connection */
		return 0;
	}
	case IVT_CTRL_OPEN_SETUP: {
		const struct ivt_ctrl_open_setup *o = &m->u.open_setup;
		if (len != sizeof(*o) || !TERMINATED(o->open.name) || !TERMINATED(o->open.backend) ||
		    o->setup.blob_len > IVT_OOB_BLOB_MAX || o->setup.nfds > IVT_OOB_FDS_MAX ||
		    (int)o->setup.nfds != m->nfds)
			return -EPROTO;
		return 0;
	}
	case IVT_CTRL_LINE: {
		const struct ivt_ctrl_line *l = &m->u.line;
		if (len != sizeof(*l) || !l->line_id || l->message > 1 ||
		    !TERMINATED(l->name) || !TERMINATED(l->backend) || !TERMINATED(l->identity) ||
		    m->nfds < 1 || m->nfds > 2) /* 2: a listener's, with the keeper */
			return -EPROTO;
		return 0;
	}
	case IVT_CTRL_LINE_STATS:
		return len == sizeof(m->u.line_stats) || len == IVT_CTRL_LINE_STATS_V1 ? 0 : -EPROTO;
	case IVT_CTRL_PEER_INFO:
		if (len != sizeof(m->u.peer_info) || !TERMINATED(m->u.peer_info.identity))
			return -EPROTO;
		return 0;
	case IVT_CTRL_ATTACH_INFO:
		if (len != sizeof(m->u.attach_info) || !cookie_set(m->u.attach_info.cookie))
			return -EPROTO;
		return 0;
	case IVT_CTRL_ATTACH: {
		const struct ivt_ctrl_attach *a = &m->u.attach;
		if (len != sizeof(*a) || !cookie_set(a->cookie) || !TERMINATED(a->name) ||
		    !TERMINATED(a->backend) || !TERMINATED(a->peer_identity) ||
		    (a->flags & ~IVT_CTRL_ATTACH_FLAGS) || a->reserved)
			return -EPROTO;
		return 0;
	}
	case IVT_CTRL_ATTACH_OK:
		if (len != sizeof(m->u.attach_ok) || m->u.attach_ok.paired > 1 ||
		    m->u.attach_ok.reserved)
			return -EPROTO;
		return 0;
	case IVT_CTRL_CLOSE:
	case IVT_CTRL_STATUS:
	case IVT_CTRL_QUEUED:
	case IVT_CTRL_LINES_DROP:
		return len == 0 ? 0 : -EPROTO;
	case IVT_CTRL_LINE_REUSE:
	case IVT_CTRL_LINE_RELEASED:
		return len == 0 && m->hdr.seq >= 1 && m->hdr.seq <= IVT_LINE_SLOTS ? 0 : -EPROTO;
	case IVT_CTRL_STATUS_OK: {
		if (len < 1 || len > IVT_CTRL_STATUS_MAX + 1)
			return -EPROTO;
		const char *nul = memchr(m->u.status, '\0', len);
		return nul == m->u.status + len - 1 ? 0 : -EPROTO;
	}
	default:
		return -EPROTO;
	}
}

int ivt_ctrl_parse(const void *buf, size_t n, struct ivt_ctrl_msg *m)
{
	if (!buf || !m || n < sizeof(m->hdr))
		return -EPROTO;
	if (m->nfds < 0 || m->nfds > IVT_OOB_FDS_MAX)
		return -EPROTO;
	memcpy(&m->hdr, buf, sizeof(m->hdr));
	if (m->hdr.magic != IVT_CTRL_MAGIC || m->hdr.version != IVT_CTRL_VERSION ||
	    m->hdr.type < IVT_CTRL_OPEN || m->hdr.type >= IVT_CTRL_TYPE_MAX)
		return -EPROTO;
	/* Compare in size_t: hdr.len is attacker-chosen and must not wrap. */
	if (n - sizeof(m->hdr) != (size_t)m->hdr.len || m->hdr.len > sizeof(m->u))
		return -EPROTO;
	/* Only SETUP, OPEN_SETUP, INCOMING_RING and LINE may carry descriptors. */
	if (m->nfds > 0 && m->hdr.type != IVT_CTRL_SETUP && m->hdr.type != IVT_CTRL_OPEN_SETUP &&
	    m->hdr.type != IVT_CTRL_INCOMING_RING && m->hdr.type != IVT_CTRL_LINE)
		return -EPROTO;
	memset(&m->u, 0, sizeof(m->u));
	memcpy(&m->u, (const char *)buf + sizeof(m->hdr), m->hdr.len);
	return check_payload(m, m->hdr.len);
}

int ivt_ctrl_setup_fill(struct ivt_ctrl_setup *s, const void *blob, size_t len, int nfds)
{
	if (len > IVT_OOB_BLOB_MAX || nfds < 0 || nfds > IVT_OOB_FDS_MAX || (len && !blob))
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->blob_len = (uint32_t)len;
	s->nfds = (uint32_t)nfds;
	if (len)
		memcpy(s->blob, blob, len);
	return 0;
}

void ivt_ctrl_msg_close_fds(struct ivt_ctrl_msg *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nfds && i < IVT_OOB_FDS_MAX; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
}

/* static-size stack buffer: the biggest message is a few KiB */
union ctrl_out {
	char bytes[RECV_BUF_SIZE];
	struct ivt_ctrl_hdr hdr;
};

/* Header + payload into out, checked by our own parser: a bug here must
 * not look like a hostile peer over there. Its size, or -EINVAL. */
static ssize_t build(union ctrl_out *out, uint16_t type, uint32_t seq, const void *payload,
		     uint32_t len, const int *fds, int nfds)
{
	if (len > sizeof(out->bytes) - sizeof(struct ivt_ctrl_hdr) || (len && !payload) ||
	    nfds < 0 || nfds > IVT_OOB_FDS_MAX || (nfds && !fds))
		return -EINVAL;
	struct ivt_ctrl_hdr hdr = {
		.magic = IVT_CTRL_MAGIC, .version = IVT_CTRL_VERSION, .type = type, .len = len, .seq = seq,
	};
	memcpy(out->bytes, &hdr, sizeof(hdr));
	if (len)
		memcpy(out->bytes + sizeof(hdr), payload, len);
	struct ivt_ctrl_msg check = {.nfds = nfds};
	if (ivt_ctrl_parse(out->bytes, sizeof(hdr) + len, &check) != 0)
		return -EINVAL;
	return (ssize_t)(sizeof(hdr) + len);
}

/* One code for "the other end is gone", as ivt_ctrl_recv uses. */
static int send_result(ssize_t r, size_t total)
{
	if (r >= 0)
		return (size_t)r == total ? 0 : -EPROTO;
	return r == -EPIPE ? -ECONNRESET : (int)r;
}

int ivt_ctrl_send(int sock, uint16_t type, uint32_t seq, const void *payload, uint32_t len,
		  const int *fds, int nfds)
{
	union ctrl_out out;
	ssize_t total = build(&out, type, seq, payload, len, fds, nfds);
	if (total < 0)
		return (int)total;
	return send_result(ivt_send_with_fds(sock, out.bytes, (size_t)total, fds, nfds),
			   (size_t)total);
}

int ivt_ctrl_send_open_setup(int sock, uint32_t seq, const struct ivt_ctrl_open *open,
			     const struct ivt_ctrl_setup *setup, const int *fds, int nfds, int one)
{
	if (one) {
		struct ivt_ctrl_open_setup os = {.open = *open, .setup = *setup};
		return ivt_ctrl_send(sock, IVT_CTRL_OPEN_SETUP, seq, &os, sizeof(os), fds, nfds);
	}
	union ctrl_out out[2];
	ssize_t n0 = build(&out[0], IVT_CTRL_OPEN, seq, open, sizeof(*open), NULL, 0);
	ssize_t n1 = build(&out[1], IVT_CTRL_SETUP, seq + 1, setup, sizeof(*setup), fds, nfds);
	if (n0 < 0 || n1 < 0)
		return -EINVAL;
	union {
		char buf[CMSG_SPACE(sizeof(int) * IVT_OOB_FDS_MAX)];
		struct cmsghdr align;
	} cbuf;
	memset(&cbuf, 0, sizeof(cbuf));
	struct iovec iov[2] = {{.iov_base = out[0].bytes, .iov_len = (size_t)n0},
			       {.iov_base = out[1].bytes, .iov_len = (size_t)n1}};
	struct mmsghdr mm[2];
	memset(mm, 0, sizeof(mm));
	mm[0].msg_hdr.msg_iov = &iov[0];
	mm[0].msg_hdr.msg_iovlen = 1;
	mm[1].msg_hdr.msg_iov = &iov[1];
	mm[1].msg_hdr.msg_iovlen = 1;
	if (nfds > 0) {
		mm[1].msg_hdr.msg_control = cbuf.buf;
		mm[1].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mm[1].msg_hdr);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	int r;
	while ((r = sendmmsg(sock, mm, 2, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return send_result(-errno, 0);
	if (r == 2)
		return mm[0].msg_len == (unsigned)n0 && mm[1].msg_len == (unsigned)n1 ? 0 : -EPROTO;
	/* only the OPEN went (a full socket buffer): the SETUP on its own */
	return send_result(ivt_send_with_fds(sock, out[1].bytes, (size_t)n1, fds, nfds),
			   (size_t)n1);
}

int ivt_ctrl_send_batch(int sock, const struct ivt_ctrl_out *msgs, int n)
{
	if (n < 0 || n > IVT_CTRL_BATCH_MAX)
		return -EINVAL;
	union ctrl_out out[IVT_CTRL_BATCH_MAX];
	struct iovec iov[IVT_CTRL_BATCH_MAX];
	struct mmsghdr mm[IVT_CTRL_BATCH_MAX];
	memset(mm, 0, sizeof(mm[0]) * (size_t)n);
	for (int i = 0; i < n; i++) {
		ssize_t len = build(&out[i], msgs[i].type, msgs[i].seq, msgs[i].payload,
				    msgs[i].len, NULL, 0);
		if (len < 0)
			return -EINVAL;
		iov[i] = (struct iovec){.iov_base = out[i].bytes, .iov_len = (size_t)len};
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	/* datagrams go whole or not at all: a short count is a full buffer
	 * (or a signal), and the rest goes on */
	for (int done = 0; done < n;) {
		int r = sendmmsg(sock, mm + done, (unsigned)(n - done), MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return send_result(r < 0 ? -errno : -EAGAIN, 0);
		done += r;
	}
	return 0;
}

/* Wait until sock is readable. 0, -ETIMEDOUT or -errno. */
static int wait_readable(int sock, int timeout_ms)
{
	long long deadline = ivt_deadline_ms(timeout_ms);
	for (;;) {
		struct pollfd p = {.fd = sock, .events = POLLIN};
		int r = poll(&p, 1, ivt_left_ms(deadline));
		if (r > 0)
			return 0; /* readable, or HUP/ERR: recvmsg will say which */
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Move SCM_RIGHTS fds from the control buffer into m; close any beyond
 * what m can hold. Returns false when there were too many. */
static bool take_fds(struct msghdr *mh, struct ivt_ctrl_msg *m)
{
	bool ok = true;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			fd = ivt_fd_off_stdio(fd);
			if (m->nfds < IVT_OOB_FDS_MAX) {
				m->fds[m->nfds++] = fd;
			} else {
				close(fd);
				ok = false;
			}
		}
	}
	return ok;
}

int ivt_ctrl_recv(int sock, struct ivt_ctrl_msg *m, int timeout_ms)
{
	m->nfds = 0;
	char buf[RECV_BUF_SIZE];
	union {
		/* room for one more fd than allowed, to tell "too many" from MSG_CTRUNC noise */
		char buf[CMSG_SPACE(sizeof(int) * (IVT_OOB_FDS_MAX + 1))];
		struct cmsghdr align;
	} cbuf;

	bool reset_seen = false;
	for (;;) {
		/* Not waiting: recvmsg says "nothing" itself, without a poll
		 * first (ivtd reads every message this way: one syscall less). */
		int w = timeout_ms == 0 ? 0 : wait_readable(sock, timeout_ms);
		if (w < 0)
			return w;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
		};
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (timeout_ms == 0)
					return -ETIMEDOUT;
				continue; /* spurious wake-up; poll again */
			}
			if (errno == ECONNRESET && !reset_seen) {
				/* A peer that closed with our message unread makes the
				 * kernel report a reset *before* what it sent last (a
				 * CLOSE, or the ERROR saying why it hung up). The error
				 * is cleared by reporting it: read on. */
				reset_seen = true;
				continue;
			}
			if (errno == ECONNRESET || errno == EPIPE)
				return -ECONNRESET;
			return -errno;
		}
		bool fds_ok = take_fds(&mh, m);
		if (n == 0) {
			/* SEQPACKET end of stream (an empty datagram is no valid message either) */
			ivt_ctrl_msg_close_fds(m);
			return -ECONNRESET;
		}
		if (!fds_ok || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
			ivt_ctrl_msg_close_fds(m);
			return -EPROTO;
		}
		int rc = ivt_ctrl_parse(buf, (size_t)n, m);
		if (rc != 0) {
			ivt_ctrl_msg_close_fds(m);
			return rc;
		}
		return 0;
	}
}
