/* SPDX-License-Identifier: MIT */
/* iovec cursors for ivt_sendv/ivt_recvv: the frame layer moves bytes
 * between the caller's segments and the pipe directly. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "xport.h"

ssize_t ivt_iov_total(const struct iovec *iov, int cnt)
{
	if (cnt == 1 && iov) /* ivt_send/ivt_recv: one buffer, checked once */
		return (iov[0].iov_len && !iov[0].iov_base) || iov[0].iov_len > (size_t)SSIZE_MAX
			       ? -EINVAL
			       : (ssize_t)iov[0].iov_len;
	if (cnt < 0 || cnt > IOV_MAX || (cnt && !iov))
		return -EINVAL;
	size_t total = 0;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len && !iov[i].iov_base)
			return -EINVAL;
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
			return -EINVAL; /* as writev: the sum must fit ssize_t */
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

size_t ivt_iov_piece(struct iov_cur *c, size_t max, uint8_t **p)
{
	while (c->idx < c->cnt && c->off == c->iov[c->idx].iov_len) {
		c->idx++;
		c->off = 0;
	}
	if (c->idx == c->cnt || max == 0)
		return 0;
	size_t n = c->iov[c->idx].iov_len - c->off;
	*p = (uint8_t *)c->iov[c->idx].iov_base + c->off;
	return n < max ? n : max;
}

void ivt_iov_advance(struct iov_cur *c, size_t n)
{
	uint8_t *p;
	while (n) {
		size_t k = ivt_iov_piece(c, n, &p);
		if (!k)
			return;
		c->off += k;
		n -= k;
	}
}

void ivt_iov_gather(struct iov_cur *c, uint8_t *dst, size_t n)
{
	uint8_t *p;
	while (n) {
		size_t k = ivt_iov_piece(c, n, &p);
		if (!k)
			return;
		memcpy(dst, p, k);
		c->off += k;
		dst += k;
		n -= k;
	}
}

void ivt_iov_scatter(struct iov_cur *c, const uint8_t *src, size_t n)
{
	uint8_t *p;
	while (n) {
		size_t k = ivt_iov_piece(c, n, &p);
		if (!k)
			return;
		memcpy(p, src, k);
		c->off += k;
		src += k;
		n -= k;
	}
}
