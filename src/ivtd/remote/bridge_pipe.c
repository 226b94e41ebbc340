/* SPDX-License-Identifier: MIT */
/*
 * The pump of a channel bridged over an RDMA plugin: bytes between the
 * local ring (daemon end br->de) and the plugin's pipe to the peer host
 * (br->xp.de). Toward the ring the plugin's recv lands in the ring's
 * reserved space (send_reserve/commit: one copy, no staging); toward the
 * peer through one staging buffer (the shm ring has no peek, and the
 * plugin's send copies).
 *
 * How the remote side ended: the plugin's pipe says end of stream both
 * after the peer's graceful close and after its local process died (the
 * peer ivtd closes the pipe after the last byte either way), so the
 * SLURPoE connection decides: the peer closes it after a graceful end and
 * RESETs it after a death, and closes or resets only after its pipe.
 * A pipe error (-ECONNRESET: the queue pair broke) is a death at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ivtd/remote/peers_int.h"

#define WHO "ivtd"

/* The SLURPoE connection's word on the end: 1 closed, <0 reset/failed,
 * 0 not yet. Nothing else may arrive on it once bytes flow here. */
static int ctl_end(struct bridge *br)
{
	if (br->xp.ctl_end || !br->conn)
		return br->xp.ctl_end ? br->xp.ctl_end : -ECONNRESET;
	uint8_t b;
	ssize_t n = slp_recv(br->conn, &b, 1);
	if (n == -EAGAIN)
		return 0;
	br->xp.ctl_end = n == 0 ? 1 : n > 0 ? -EPROTO : (int)n;
	return br->xp.ctl_end;
}

static void remote_ended(struct bridge *br, int err)
{
	br->r2l_done = 1;
	br->remote = err ? SIDE_DIED : SIDE_CLOSED;
	br->remote_err = err;
	bridge_report_remote_end(br);
}

/* Toward the ring without staging: the plugin's recv writes into the
 * ring's reserved space, which is published only once it holds bytes. A
 * full ring stops the reading, so the plugin's window closes on the peer. */
static void pump_r2l(struct bridge *br)
{
	struct pipe_dir *d = &br->xp.r2l;
	d->blocked = 0;
	while (!br->r2l_done) {
		if (!br->de || br->local == SIDE_DIED) {
			br->r2l_done = 1; /* nobody reads it */
			return;
		}
		if (br->xp.remote_eof) {
			/* Everything is in the ring: how did the peer end? */
			int c = ctl_end(br);
			if (c)
				remote_ended(br, c > 0 ? 0 : -ECONNRESET);
			return;
		}
		void *p;
		size_t space;
		ssize_t room = ivt_daemon_end_send_reserve(br->de, BRIDGE_XPORT_STAGE, &p, &space);
		if (room == -EAGAIN) {
			d->blocked = 1;
			return;
		}
		if (room <= 0) {
			if (room == -EOPNOTSUPP) /* bridges join shm rings only */
				IVT_WARN(WHO, "channel '%s': the local ring (%s) has no reserve",
					 br->channel, ivt_daemon_end_backend(br->de));
			br->r2l_done = 1; /* the local end closed or broke */
			return;
		}
		ssize_t n = br->xp.de ? ivt_daemon_end_recv(br->xp.de, p, (size_t)room)
				      : -ECONNRESET;
		if (n == -EAGAIN)
			return; /* the reservation publishes nothing */
		if (n < 0) {
			remote_ended(br, n == -EIO ? -ECONNRESET : (int)n);
			return;
		}
		if (n == 0) {
			br->xp.remote_eof = 1;
			continue;
		}
		if (ivt_daemon_end_send_commit(br->de, (size_t)n) < 0) {
			br->r2l_done = 1;
			return;
		}
		br->r2l.total += (uint64_t)n;
	}
}

static void pump_l2r(struct bridge *br)
{
	struct pipe_dir *d = &br->xp.l2r;
	d->blocked = 0;
	while (!br->l2r_done) {
		if (!br->xp.de || br->remote == SIDE_DIED) {
			br->l2r_done = 1;
			return;
		}
		if (d->off == d->len) {
			ssize_t n = br->de ? ivt_daemon_end_recv(br->de, d->buf, BRIDGE_XPORT_STAGE) : 0;
			if (n == -EAGAIN) {
				if (br->local == SIDE_DIED)
					br->l2r_done = 1; /* a dead process's ring is empty for good */
				return;
			}
			if (n <= 0) {
				if (n < 0)
					br->local = SIDE_DIED; /* broken ring: no clean end */
				else if (br->local == SIDE_OPEN)
					br->local = SIDE_CLOSED;
				br->l2r_done = 1;
				return;
			}
			d->off = 0;
			d->len = (size_t)n;
		}
		ssize_t w = ivt_daemon_end_send(br->xp.de, d->buf + d->off, d->len - d->off);
		if (w == -EAGAIN) {
			d->blocked = 1;
			return;
		}
		if (w < 0) {
			br->l2r_done = 1; /* the pipe broke: pump_r2l hears why */
			return;
		}
		d->off += (size_t)w;
		br->l2r.total += (uint64_t)w;
	}
}

/* Our side has said everything: close the pipe after the last byte, then
 * the SLURPoE connection the way the peer must read it. */
static void finish(struct bridge *br)
{
	if (!br->l2r_done || br->slp_closed)
		return;
	br->slp_closed = 1;
	int died = br->local == SIDE_DIED;
	if (died && br->conn) {
		slp_conn_free(br->conn); /* RESET: a death, not an end of stream */
		br->conn = NULL;
		peers_if_schedule(br->ifc);
	}
	ivt_daemon_end_close(br->xp.de); /* lingers until the peer has the bytes */
	br->xp.de = NULL;
	if (br->conn && slp_conn_state(br->conn) == SLP_ST_OPEN)
		slp_close(br->conn);
	if (died)
		IVT_INFO(WHO, "channel '%s' %s host %s: local end died; peer reset", br->channel,
			 bridge_role_name(br), br->host);
	br->phase = PH_DONE;
	if (!br->reported) {
		/* The local side ended first; the peer's remaining bytes, if
		 * any, had nowhere to go. */
		br->remote = died ? SIDE_DIED : SIDE_CLOSED;
		br->remote_err = died ? -ECONNRESET : 0;
		bridge_report_remote_end(br);
	}
	/* Ring linger, and how long the peer has to close its side. */
	br->deadline_ms = peers_now_ms() + BRIDGE_LINGER_MS;
	peers_if_schedule(br->ifc);
	bridge_schedule_house(br);
}

static void update_interest(struct bridge *br)
{
	unsigned local = 0, remote = 0;
	if (!br->r2l_done) {
		if (br->xp.r2l.blocked)
			local |= IVT_EV_SEND;
		else if (!br->xp.remote_eof)
			remote |= IVT_EV_RECV;
	}
	if (!br->l2r_done) {
		if (br->xp.l2r.blocked)
			remote |= IVT_EV_SEND;
		else
			local |= IVT_EV_RECV;
	}
	if (br->de)
		ivt_daemon_end_want(br->de, local);
	if (br->xp.de)
		ivt_daemon_end_want(br->xp.de, remote);
}

void pipe_pump(struct bridge *br)
{
	pump_r2l(br);
	pump_l2r(br);
	finish(br);
	update_interest(br);
}

int pipe_conn_done(const struct bridge *br, uint64_t now_ms)
{
	/* Closed both ways, or the peer never closed its side in time. */
	return slp_conn_state(br->conn) != SLP_ST_OPEN ||
	       (br->deadline_ms && now_ms > br->deadline_ms);
}
