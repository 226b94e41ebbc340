/* SPDX-License-Identifier: MIT */
/* utmem wire format: header encoding, request/reply validation, streams. */
#include "utmem/proto.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

void utmem_hdr_encode(const struct utmem_hdr *h, uint8_t out[UTMEM_HDR_SIZE])
{
	ivt_put_le32(out + 0, h->magic);
	out[4] = h->version;
	out[5] = h->op;
	ivt_put_le16(out + 6, h->flags);
	ivt_put_le32(out + 8, h->req_id);
	ivt_put_le32(out + 12, (uint32_t)h->status);
	ivt_put_le32(out + 16, h->pool);
	ivt_put_le32(out + 20, h->index);
	ivt_put_le64(out + 24, h->oid);
	ivt_put_le32(out + 32, h->len);
	ivt_put_le32(out + 36, h->aux);
}

void utmem_hdr_decode(const uint8_t in[UTMEM_HDR_SIZE], struct utmem_hdr *h)
{
	h->magic = ivt_get_le32(in + 0);
	h->version = in[4];
	h->op = in[5];
	h->flags = ivt_get_le16(in + 6);
	h->req_id = ivt_get_le32(in + 8);
	h->status = (int32_t)ivt_get_le32(in + 12);
	h->pool = ivt_get_le32(in + 16);
	h->index = ivt_get_le32(in + 20);
	h->oid = ivt_get_le64(in + 24);
	h->len = ivt_get_le32(in + 32);
	h->aux = ivt_get_le32(in + 36);
}

/* Fixed request payload size per op; -1 for PUT (variable). */
static long request_len(uint8_t op)
{
	switch (op) {
	case UTMEM_OP_POOL_CREATE:
		return UTMEM_POOL_CREATE_LEN;
	case UTMEM_OP_SET_QUOTA:
		return UTMEM_SET_QUOTA_LEN;
	case UTMEM_OP_PUT:
		return -1;
	default:
		return 0;
	}
}

int utmem_check_request(const struct utmem_hdr *h, size_t max_value)
{
	if (h->magic != UTMEM_PROTO_MAGIC || h->version != UTMEM_PROTO_VERSION || h->status != 0)
		return -EPROTO;
	if (h->op == 0 || h->op >= UTMEM_OP_MAX)
		return -EOPNOTSUPP;
	unsigned allowed_flags = h->op == UTMEM_OP_GET ? UTMEM_GET_FLAGS_ALL : 0;
	if (h->flags & ~allowed_flags)
		return -EPROTO;
	if (h->op != UTMEM_OP_GET && h->aux != 0)
		return -EPROTO;
	long want = request_len(h->op);
	if (want >= 0)
		return h->len == (uint32_t)want ? 0 : -EMSGSIZE;
	if (h->len == 0)
		return -EMSGSIZE;
	if (h->len > max_value)
		return -E2BIG;
	return 0;
}

int utmem_check_reply(const struct utmem_hdr *r, const struct utmem_hdr *req)
{
	if (r->magic != UTMEM_PROTO_MAGIC || r->version != UTMEM_PROTO_VERSION ||
	    r->op != req->op || r->flags != UTMEM_HDR_REPLY || r->req_id != req->req_id ||
	    r->aux != 0)
		return -EPROTO;
	if (r->status > 0 || r->status < -4095)
		return -EPROTO;
	if (r->status < 0)
		return r->len == 0 ? 0 : -EPROTO;
	switch (r->op) {
	case UTMEM_OP_HELLO:
		return r->len == UTMEM_HELLO_REPLY_LEN ? 0 : -EPROTO;
	case UTMEM_OP_STATS:
		return r->len == UTMEM_STATS_REPLY_LEN ? 0 : -EPROTO;
	case UTMEM_OP_GET:
		return r->len >= 1 && r->len <= req->aux ? 0 : -EPROTO;
	default:
		return r->len == 0 ? 0 : -EPROTO;
	}
}

/* ---- streams ------------------------------------------------------------- */

static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
	ssize_t n = read((int)(intptr_t)ctx, buf, len);
	return n < 0 ? -errno : n;
}

static ssize_t fd_write(void *ctx, const void *buf, size_t len)
{
	/* MSG_NOSIGNAL: a vanished peer is -EPIPE, not a process-killing SIGPIPE. */
	ssize_t n = send((int)(intptr_t)ctx, buf, len, MSG_NOSIGNAL);
	if (n < 0 && errno == ENOTSOCK)
		n = write((int)(intptr_t)ctx, buf, len);
	return n < 0 ? -errno : n;
}

struct utmem_io utmem_io_fd(int fd)
{
	struct utmem_io io = {(void *)(intptr_t)fd, fd_read, fd_write};
	return io;
}

int utmem_io_read_full(const struct utmem_io *io, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = io->read(io->ctx, p, len);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ECONNRESET;
		if ((size_t)n > len)
			return -EIO; /* a broken stream callback, not the peer */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int utmem_io_write_full(const struct utmem_io *io, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = io->write(io->ctx, p, len);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0 || (size_t)n > len)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
