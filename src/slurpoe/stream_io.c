/* SPDX-License-Identifier: MIT */
/* Zero-staging stream I/O for relays: a source writes straight into frame
 * payloads (or the send buffer when bytes are queued ahead), a sink reads
 * straight out of the receive buffer, or out of the frame itself while the
 * receive buffer is empty (slp_conn_set_sink, rx.c). */
#include <errno.h>

#include "engine_int.h"

ssize_t slp_send_fill(struct slp_conn *c, ssize_t (*fill)(void *arg, void *dst, size_t room),
		      void *arg, ssize_t *fill_rc)
{
	*fill_rc = 0;
	if (c->state == SLP_ST_FAILED)
		return c->error;
	if (c->close_queued || c->state == SLP_ST_CLOSED)
		return -EPIPE;
	size_t total = 0;
	int no_room = 0;
	for (;;) {
		uint8_t *dst;
		size_t room = slp_tx_direct_room(c, &dst);
		int direct = room > 0;
		if (!direct)
			room = slp_bytes_free_span(&c->sndbuf, &dst);
		if (!room) {
			no_room = 1;
			break;
		}
		ssize_t r = fill(arg, dst, room);
		*fill_rc = r;
		if (r <= 0)
			break;
		if ((size_t)r > room)
			r = (ssize_t)room; /* a broken source must not overrun */
		if (direct)
			slp_tx_direct_seal(c, (size_t)r);
		else
			slp_bytes_commit(&c->sndbuf, (size_t)r);
		c->stream_posted += (uint64_t)r;
		c->st.bytes_sent += (uint64_t)r;
		total += (size_t)r;
		if ((size_t)r < room)
			break;
	}
	if (total) {
		slp_tx_pump(c);
		return (ssize_t)total;
	}
	if (no_room) {
		c->want_writable = 1;
		return -EAGAIN;
	}
	return 0;
}

ssize_t slp_recv_drain(struct slp_conn *c,
		       ssize_t (*sink)(void *arg, const void *src, size_t len), void *arg)
{
	size_t total = 0;
	ssize_t r = 0;
	while (c->rcvbuf.len) {
		const uint8_t *src;
		size_t n = slp_bytes_data_span(&c->rcvbuf, &src);
		r = sink(arg, src, n);
		if (r <= 0)
			break;
		if ((size_t)r > n)
			r = (ssize_t)n;
		slp_bytes_consume(&c->rcvbuf, (size_t)r);
		total += (size_t)r;
		if ((size_t)r < n)
			break;
	}
	if (total) {
		c->st.bytes_received += total;
		slp_rx_after_read(c);
		return (ssize_t)total;
	}
	if (c->rcvbuf.len)
		return r < 0 ? r : -EAGAIN;
	if (c->peer_fin || c->state == SLP_ST_CLOSED)
		return 0;
	if (c->state == SLP_ST_FAILED)
		return c->error;
	return -EAGAIN;
}

void slp_conn_set_sink(struct slp_conn *c,
		       ssize_t (*sink)(void *arg, const void *src, size_t len), void *arg)
{
	c->sink = sink;
	c->sink_arg = sink ? arg : NULL;
}

size_t slp_rx_to_sink(struct slp_conn *c, const uint8_t *src, size_t len)
{
	if (!c->sink || c->rcvbuf.len || !len)
		return 0;
	ssize_t r = c->sink(c->sink_arg, src, len);
	size_t took = r <= 0 ? 0 : (size_t)r > len ? len : (size_t)r;
	c->st.bytes_received += took;
	return took;
}
