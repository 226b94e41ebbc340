/* SPDX-License-Identifier: MIT */
/*
 * One bridged channel: a SLURPoE connection to the peer daemon on one
 * side, a daemon end (shm ring) toward the local process on the other.
 * Handshake (remote_proto.h), then a pump that moves bytes only as fast as
 * the receiving side takes them, without staging: the local ring is read
 * straight into SLURPoE frame payloads (as many as the window allows), and
 * each arriving frame's payload is written straight into the ring (the
 * connection's receive buffer holds only what the ring had no room for).
 * See docs/remote.md for the state machine and failure rules.
 */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ivtd/remote/peers_int.h"

#define WHO "ivtd"

#ifndef IVT_VERSION_NUM
#define IVT_VERSION_NUM 0x000100u
#endif

const char *bridge_role_name(const struct bridge *br)
{
	return br->role == BRIDGE_DIALER ? "to" : "from";
}

struct bridge *bridge_new(struct ivt_peers *P, struct peers_if *ifc, enum bridge_role role,
			  const char *host)
{
	if (P->n_bridges >= PEERS_MAX_BRIDGES)
		return NULL;
	struct bridge *br = calloc(1, sizeof(*br));
	if (!br)
		return NULL;
	br->P = P;
	br->ifc = ifc;
	br->role = role;
	br->phase = role == BRIDGE_DIALER ? PH_CONNECTING : PH_HELLO;
	br->id = P->next_id++;
	br->since = time(NULL);
	br->deadline_ms = peers_now_ms() + BRIDGE_HANDSHAKE_MS;
	snprintf(br->host, sizeof(br->host), "%s", host);
	snprintf(br->backend, sizeof(br->backend), "shm");
	br->next = P->bridges;
	P->bridges = br;
	P->n_bridges++;
	return br;
}

void bridge_free(struct bridge *br)
{
	struct ivt_peers *P = br->P;
	for (struct bridge **pp = &P->bridges; *pp; pp = &(*pp)->next)
		if (*pp == br) {
			*pp = br->next;
			P->n_bridges--;
			break;
		}
	if (br->conn)
		slp_conn_free(br->conn); /* RESET unless it finished */
	xport_release(br);
	ivt_daemon_end_close(br->de);
	free(br);
}

void bridge_schedule_house(struct bridge *br)
{
	event_active(br->P->house_ev, EV_TIMEOUT, 0);
}

int bridge_send_msg(struct bridge *br, const struct ivt_rmsg *m)
{
	uint8_t buf[IVT_RMSG_MAX];
	int n = ivt_rmsg_encode(m, buf, sizeof(buf));
	if (n < 0 || !br->conn)
		return -EINVAL;
	/* A fresh connection has megabytes of send buffer: a short write
	 * here means the connection is already broken. */
	ssize_t w = slp_send(br->conn, buf, (size_t)n);
	peers_if_schedule(br->ifc);
	return w == n ? 0 : w < 0 ? (int)w : -EIO;
}

int bridge_send_setup(struct bridge *br, const void *blob, size_t len)
{
	if (!len || len > IVT_RMSG_BLOB_MAX)
		return -EMSGSIZE;
	struct ivt_rmsg m = {.type = IVT_RMSG_SETUP};
	m.u.setup.len = (uint32_t)len;
	memcpy(m.u.setup.blob, blob, len);
	return bridge_send_msg(br, &m);
}

/* ---- telling the local side ------------------------------------------ */

/* Acceptor: the broker hears about our end leaving from the house-keeping
 * pass, never from inside one of its own callbacks. */
static void acceptor_gone(struct bridge *br)
{
	if (br->requested && !br->gone_reported)
		bridge_schedule_house(br);
}

/* The remote side ended (graceful or not) and everything it sent is in
 * the local ring. */
void bridge_report_remote_end(struct bridge *br)
{
	if (br->reported)
		return;
	br->reported = 1;
	int died = br->remote == SIDE_DIED;
	IVT_INFO(WHO, "channel '%s' %s host %s: peer %s (%s)", br->channel, bridge_role_name(br), br->host,
		 died ? "died" : "closed", died ? strerror(-br->remote_err) : "end of stream");
	if (!br->xp.active && br->r2l.total)
		IVT_INFO(WHO, "channel '%s' %s host %s: %" PRIu64 " of %" PRIu64
			      " bytes from the peer went straight from frames into the ring",
			 br->channel, bridge_role_name(br), br->host, br->r2l.direct, br->r2l.total);
	if (!died) {
		/* End of stream in the ring itself, after the data. */
		ivt_daemon_end_close(br->de);
		br->de = NULL;
	}
	/* After a death the ring stays open (the reader must see the death,
	 * not an end of stream) until the local end goes or lingering ends. */
	if (br->role == BRIDGE_DIALER) {
		if (br->lend)
			br->lend->reg->ops->notify_peer(br->lend,
							died ? IVT_PEER_DIED : IVT_PEER_CLOSED, 0);
	} else {
		acceptor_gone(br);
	}
}

void bridge_fail(struct bridge *br, int err, const char *what)
{
	if (br->phase == PH_DONE)
		return;
	IVT_WARN(WHO, "channel '%s' %s host %s: %s: %s", br->channel[0] ? br->channel : "?",
		 bridge_role_name(br), br->host, what, strerror(err < 0 ? -err : err));
	/* From PH_XPORT on the dialer's client already has OPEN_OK. */
	int before_pump = br->phase < PH_XPORT;
	br->phase = PH_DONE;
	br->remote = SIDE_DIED;
	br->remote_err = err < 0 ? err : -err;
	xport_release(br);
	if (br->conn) {
		slp_conn_free(br->conn);
		br->conn = NULL;
		peers_if_schedule(br->ifc);
	}
	if (br->role == BRIDGE_DIALER && br->lend && before_pump) {
		char msg[IVT_ERRMSG_MAX + 1];
		snprintf(msg, sizeof(msg), "channel '%s' on host %s: %s: %s", br->channel, br->host,
			 what, strerror(-br->remote_err));
		br->lend->reg->ops->reply_error(br->lend, -br->remote_err, msg);
		br->reported = 1;
	} else {
		bridge_report_remote_end(br);
	}
	if (br->de)
		br->deadline_ms = peers_now_ms() + BRIDGE_LINGER_MS;
	bridge_schedule_house(br);
}

/* ---- the pump ---------------------------------------------------------- */

/* The ring as the connection's sink, both for its receive buffer
 * (slp_recv_drain) and, while that is empty, for each frame as the engine
 * takes it (slp_conn_set_sink): -EAGAIN (full) takes nothing, and the
 * engine keeps the rest; any other error ends the direction, and is kept
 * apart from the connection's own errors. */
/* A frame taken alone costs one whole ring send (its own frame header, and
 * a wake-up of a reader that sleeps between frames); smaller frames wait in
 * the receive buffer and the pump moves them in one send. Measured at MTU
 * 1500 (remote-bench, same run): every frame alone bridged 64 KiB writes at
 * 0.70x and 1 MiB at 0.88x of the buffered pump, with 12% more CPU. */
#define BRIDGE_SINK_MIN_FRAME 4096

static ssize_t to_ring(void *arg, const void *src, size_t len)
{
	struct bridge *br = arg;
	if (!br->de || br->r2l_done || br->r2l.sink_err)
		return 0; /* the pump decides what becomes of it */
	if (!br->r2l.draining && len < BRIDGE_SINK_MIN_FRAME)
		return 0; /* batched by the receive buffer and the pump */
	ssize_t n = ivt_daemon_end_send(br->de, src, len);
	if (n > 0) {
		br->r2l.total += (uint64_t)n;
		if (!br->r2l.draining)
			br->r2l.direct += (uint64_t)n;
		return n;
	}
	if (n < 0 && n != -EAGAIN)
		br->r2l.sink_err = (int)n;
	return 0;
}

/* This direction is over: whatever still arrives stays in the engine. */
static void r2l_finished(struct bridge *br)
{
	br->r2l_done = 1;
	if (br->conn)
		slp_conn_set_sink(br->conn, NULL, NULL);
}

static void pump_r2l(struct bridge *br)
{
	br->r2l.blocked = 0;
	while (!br->r2l_done) {
		if (br->local == SIDE_DIED || !br->de || !br->conn) {
			/* Nobody will read it: don't wait for a dead ring. */
			r2l_finished(br);
			return;
		}
		br->r2l.draining = 1;
		ssize_t n = slp_recv_drain(br->conn, to_ring, br);
		br->r2l.draining = 0;
		if (n > 0)
			continue;
		if (br->r2l.sink_err) {
			/* The local end closed or broke: nobody will read this. */
			r2l_finished(br);
			return;
		}
		if (n == -EAGAIN) {
			br->r2l.blocked = slp_conn_readable(br->conn);
			return;
		}
		br->remote = n == 0 ? SIDE_CLOSED : SIDE_DIED;
		br->remote_err = n == 0 ? 0 : (int)n;
		r2l_finished(br);
		bridge_report_remote_end(br);
	}
}

static ssize_t from_ring(void *arg, void *dst, size_t room)
{
	struct bridge *br = arg;
	return ivt_daemon_end_recv(br->de, dst, room);
}

static void pump_l2r(struct bridge *br)
{
	while (!br->l2r_done) {
		if (!br->conn || br->remote == SIDE_DIED || !br->de) {
			br->l2r_done = 1;
			return;
		}
		ssize_t last;
		ssize_t n = slp_send_fill(br->conn, from_ring, br, &last);
		if (n > 0) {
			br->l2r.total += (uint64_t)n;
			if (last > 0)
				continue; /* stopped for room: ask again */
		} else if (n == -EAGAIN) {
			return; /* SLP_EV_WRITABLE follows */
		} else if (n < 0) {
			br->l2r_done = 1;
			return;
		}
		if (last == -EAGAIN) {
			/* A dead process's ring is empty for good now. */
			if (br->local == SIDE_DIED)
				br->l2r_done = 1;
			return;
		}
		if (last < 0)
			br->local = SIDE_DIED; /* broken ring: the peer must not see a clean end */
		else if (br->local == SIDE_OPEN)
			br->local = SIDE_CLOSED;
		br->l2r_done = 1;
	}
}

/* Close or reset our direction once the local side has no more to say;
 * release the connection once it has finished. */
static void finish(struct bridge *br)
{
	struct slp_conn *c = br->conn;
	if (!c)
		return;
	if (br->l2r_done && !br->slp_closed && !br->abort_pending) {
		if (br->local == SIDE_DIED)
			br->abort_pending = 1; /* reset, but only after our data arrived */
		else
			slp_close(c);
		br->slp_closed = 1;
	}
	enum slp_state st = slp_conn_state(c);
	int done = st == SLP_ST_CLOSED || (st == SLP_ST_FAILED && br->r2l_done) ||
		   (br->abort_pending && slp_conn_tx_idle(c));
	if (!done)
		return;
	slp_conn_free(c); /* RESET when aborting, nothing when CLOSED */
	br->conn = NULL;
	peers_if_schedule(br->ifc);
	if (br->abort_pending)
		IVT_INFO(WHO, "channel '%s' %s host %s: local end died; peer reset", br->channel,
			 bridge_role_name(br), br->host);
	br->phase = PH_DONE;
	if (!br->reported) {
		/* The local side ended first; the peer's remaining bytes, if
		 * any, had nowhere to go. */
		br->remote = br->local == SIDE_DIED ? SIDE_DIED : SIDE_CLOSED;
		br->remote_err = br->local == SIDE_DIED ? -ECONNRESET : 0;
		bridge_report_remote_end(br);
	}
	if (br->de)
		br->deadline_ms = peers_now_ms() + BRIDGE_LINGER_MS;
	bridge_schedule_house(br);
}

static void update_interest(struct bridge *br)
{
	if (!br->de)
		return;
	unsigned want = 0;
	if (!br->r2l_done && br->r2l.blocked)
		want |= IVT_EV_SEND;
	if (!br->l2r_done && br->conn && slp_send_space(br->conn) > 0)
		want |= IVT_EV_RECV;
	ivt_daemon_end_want(br->de, want);
}

void bridge_pump(struct bridge *br)
{
	if (br->phase != PH_PUMP)
		return;
	if (br->xp.active) {
		pipe_pump(br);
		return;
	}
	pump_r2l(br);
	pump_l2r(br);
	finish(br);
	update_interest(br);
}

/* ---- daemon end ------------------------------------------------------- */

static void de_ready(void *arg, struct ivt_daemon_end *de)
{
	(void)de;
	struct bridge *br = arg;
	slp_rawsock_batch_begin(br->ifc->loop.rs);
	bridge_pump(br);
	slp_rawsock_flush(br->ifc->loop.rs);
	peers_if_schedule(br->ifc);
}

static void de_failed(void *arg, struct ivt_daemon_end *de, int err)
{
	(void)de;
	(void)err;
	struct bridge *br = arg;
	br->local = SIDE_DIED;
}

void bridge_pump_slurpoe(struct bridge *br)
{
	br->phase = PH_PUMP;
	br->deadline_ms = 0;
	/* From here on frames go straight into the ring when it has room;
	 * the handshake's leftovers, if any, are drained first (in order). */
	if (br->conn)
		slp_conn_set_sink(br->conn, to_ring, br);
	IVT_INFO(WHO, "channel '%s' %s host %s: bridged for %s (ring %" PRIu64 ")", br->channel,
		 bridge_role_name(br), br->host, IVT_ID_S(&br->who), br->ring_size);
	bridge_pump(br);
}

int bridge_start_pump(struct bridge *br, const void *blob, size_t len, const int *fds,
		      int nfds, char *why, size_t why_len)
{
	struct ivt_daemon_end_params p = {
		.backend = br->backend,
		.plugin_dir = br->P->cfg.plugin_dir,
		.channel = br->channel,
		.ring_size = br->ring_size,
	};
	struct ivt_daemon_end_cb cb = {
		.arg = br, .readable = de_ready, .writable = de_ready, .failed = de_failed,
	};
	struct event_base *base = br->P->cfg.base;
	int rc = br->role == BRIDGE_DIALER
			 ? ivt_daemon_end_listen(base, &p, br->lend, &cb, &br->de, why, why_len)
			 : ivt_daemon_end_connect(base, &p, blob, len, fds, nfds, &cb, &br->de, why,
						  why_len);
	if (rc < 0)
		return rc;
	if (br->xp.backend[0]) {
		/* Both sides talk over the plugin's setup first. */
		br->phase = PH_XPORT;
		br->deadline_ms = peers_now_ms() + BRIDGE_HANDSHAKE_MS;
		xport_begin(br);
		return 0;
	}
	bridge_pump_slurpoe(br);
	return 0;
}

/* ---- handshake -------------------------------------------------------- */

/* Exactly one message, never a byte beyond it (the stream after the
 * handshake belongs to the channel). 1 got one, 0 need more, <0 error. */
static int read_msg(struct bridge *br, struct ivt_rmsg *m, char *why, size_t why_len)
{
	for (;;) {
		if (!br->msg_need)
			br->msg_need = IVT_RMSG_HDR_LEN;
		ssize_t n = slp_recv(br->conn, br->msg + br->msg_have, br->msg_need - br->msg_have);
		if (n == -EAGAIN)
			return 0;
		if (n <= 0) {
			snprintf(why, why_len, "connection ended during the handshake");
			return n == 0 ? -ECONNRESET : (int)n;
		}
		br->msg_have += (size_t)n;
		if (br->msg_have < br->msg_need)
			continue;
		if (br->msg_need == IVT_RMSG_HDR_LEN) {
			uint16_t type;
			int plen = ivt_rmsg_parse_hdr(br->msg, &type, why, why_len);
			if (plen < 0)
				return plen;
			br->msg_need = IVT_RMSG_HDR_LEN + (size_t)plen;
			continue;
		}
		int rc = ivt_rmsg_parse(br->msg, br->msg_have, m, why, why_len);
		br->msg_have = br->msg_need = 0;
		return rc < 0 ? rc : 1;
	}
}

static int send_hello(struct bridge *br)
{
	struct ivt_rmsg m = {.type = IVT_RMSG_HELLO};
	snprintf(m.u.hello.host, sizeof(m.u.hello.host), "%s", ivt_broker_host_name(br->P->cfg.broker));
	m.u.hello.sw_version = IVT_VERSION_NUM;
	/* the dialer's client takes half-close: so may the channel */
	if (br->role == BRIDGE_DIALER && br->lend && br->lend->halfclose)
		m.u.hello.sw_version |= IVT_RMSG_HELLO_HALFCLOSE;
	return bridge_send_msg(br, &m);
}

static void got_hello(struct bridge *br, const struct ivt_rmsg *m)
{
	if (br->role == BRIDGE_ACCEPTOR)
		br->far_halfclose = (m->u.hello.sw_version & IVT_RMSG_HELLO_HALFCLOSE) != 0;
	/* Informational only: the identity uses the name configured for
	 * the MAC this came from. */
	if (strcmp(m->u.hello.host, br->host) != 0)
		IVT_INFO(WHO, "peer %s calls itself '%s'", br->host, m->u.hello.host);
}

/* Acceptor: the peer's connector asks for a channel here. */
static void got_open(struct bridge *br, const struct ivt_rmsg *m)
{
	snprintf(br->channel, sizeof(br->channel), "%s", m->u.open.channel);
	if (ivt_identity_remote(br->host, &m->u.open.identity, &br->who) != 0) {
		/* peers.c keeps longer host names out of the table */
		bridge_fail(br, -EPROTO, "its connector's identity cannot be named here");
		return;
	}
	struct ivt_reg_end *e = &br->end;
	e->reg = &br->P->reg;
	e->domid = 0;
	e->uid = 0;
	e->pid = -1;
	e->who = br->who;
	e->halfclose = br->far_halfclose; /* the listener may send it FIN frames */
	struct ivt_end_request req;
	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "%s", m->u.open.channel);
	snprintf(req.backend, sizeof(req.backend), "%s", m->u.open.backend);
	req.ring_size = m->u.open.ring_size;
	/* the far side wants messages: refused here if the listener streams */
	req.message = (m->u.open.flags & IVT_RMSG_MESSAGE) != 0;
	br->phase = PH_SETUP;
	br->requested = 1;
	/* The broker answers through registry_remote.c, maybe at once. */
	br->P->reg.cb.request(br->P->reg.cb.arg, e, &req);
}

/* Dialer, before the client's OPEN_OK: what ivtd tells a local peer in
 * PEER_INFO. The far listener's own identity does not cross hosts (the
 * protocol carries only the connector's); what this ivtd knows is the
 * host whose ivtd took the channel: "host:H/ivtd" (ivt_peer_identity
 * would otherwise say "" for good). Half-close only to a client that
 * announced it (op_peer_info drops the flag otherwise). */
void bridge_tell_peer(struct bridge *br, uint32_t open_ok_flags)
{
	struct ivt_reg_end *e = br->lend;
	if (!e->reg->ops->peer_info)
		return;
	struct ivt_identity far, daemon = ivt_identity_daemon();
	if (ivt_identity_remote(br->host, &daemon, &far) < 0)
		memset(&far, 0, sizeof(far)); /* a name the policy took: not expected */
	uint32_t flags = (open_ok_flags & IVT_RMSG_HALFCLOSE) && e->halfclose
				 ? IVT_CTRL_PEER_HALFCLOSE : 0;
	e->reg->ops->peer_info(e, &far, 0, flags);
}

/* Dialer: the listener's host accepted; now the local client. */
static void got_open_ok(struct bridge *br, const struct ivt_rmsg *m)
{
	uint64_t ring = m->u.open_ok.ring_size;
	if (br->max_ring_size && ring > br->max_ring_size)
		ring = br->max_ring_size; /* the local leg is ours to size */
	if (br->dx.offered)
		IVT_INFO(WHO, "channel '%s' to host %s: bridged, not a direct %s queue pair: the "
			      "listener's end there is on shm", br->channel, br->host, br->dx.backend);
	br->ring_size = ring;
	struct ivt_ctrl_open_ok ok;
	memset(&ok, 0, sizeof(ok));
	ok.chan_id = br->id;
	snprintf(ok.backend, sizeof(ok.backend), "shm");
	ok.ring_size = ring;
	ok.is_server = 0;
	/* the listener's mode, as its host says (or ours asked for it) */
	if (m->u.open_ok.flags & IVT_RMSG_MESSAGE)
		br->message = 1;
	ok.flags = br->message ? IVT_CTRL_OK_MESSAGE : 0;
	ok.local_domid = br->lend->domid;
	bridge_tell_peer(br, m->u.open_ok.flags);
	br->lend->reg->ops->reply_ok(br->lend, &ok);
	char why[256] = "";
	int rc = bridge_start_pump(br, NULL, 0, NULL, 0, why, sizeof(why));
	if (rc < 0) {
		br->phase = PH_PUMP; /* OPEN_OK went out: the client must see a death */
		bridge_fail(br, rc, why);
	}
}

static void got_error(struct bridge *br, const struct ivt_rmsg *m)
{
	/* Cut to fit: the peer's reason is the useful part. */
	char msg[IVT_ERRMSG_MAX + 1 + IVT_NAME_MAX + 8];
	snprintf(msg, sizeof(msg), "host %s: %s", br->host, m->u.error.msg);
	msg[IVT_ERRMSG_MAX] = '\0';
	IVT_INFO(WHO, "channel '%s' to host %s refused: %s", br->channel, br->host,
		 m->u.error.msg);
	if (br->lend)
		br->lend->reg->ops->reply_error(br->lend, m->u.error.err, msg);
	br->reported = 1;
	br->phase = PH_DONE;
	if (br->conn) {
		slp_close(br->conn);
		br->slp_closed = 1;
	}
	bridge_schedule_house(br);
}

void bridge_handshake(struct bridge *br)
{
	while (br->conn && (br->phase == PH_HELLO || br->phase == PH_OPEN ||
			    br->phase == PH_XPORT ||
			    (br->phase == PH_DIRECT && !br->dx.got_setup))) {
		struct ivt_rmsg m;
		char why[200] = "";
		int rc = read_msg(br, &m, why, sizeof(why));
		if (rc == 0)
			return;
		if (rc < 0) {
			br->P->refused_handshake++;
			bridge_fail(br, rc, why[0] ? why : "handshake failed");
			return;
		}
		if (br->phase == PH_XPORT) {
			xport_msg(br, &m);
			continue;
		}
		if (br->phase == PH_DIRECT) {
			direct_msg(br, &m);
			continue;
		}
		enum ivt_rmsg_type want =
			br->phase == PH_HELLO ? IVT_RMSG_HELLO
			: br->role == BRIDGE_ACCEPTOR ? IVT_RMSG_OPEN : IVT_RMSG_OPEN_OK;
		if (m.type == IVT_RMSG_HELLO && want == IVT_RMSG_HELLO) {
			got_hello(br, &m);
			br->phase = PH_OPEN;
			if (br->role == BRIDGE_ACCEPTOR && send_hello(br) < 0)
				bridge_fail(br, -EIO, "cannot answer HELLO");
		} else if (want == IVT_RMSG_OPEN && m.type == IVT_RMSG_OFFER) {
			if (xport_got_offer(br, &m) < 0) {
				br->P->refused_handshake++;
				bridge_fail(br, -EPROTO, "second OFFER in the handshake");
			}
		} else if (want == IVT_RMSG_OPEN && m.type == IVT_RMSG_DIRECT) {
			if (direct_got_offer(br, &m) < 0) {
				br->P->refused_handshake++;
				bridge_fail(br, -EPROTO, "second DIRECT in the handshake");
			}
		} else if (want == IVT_RMSG_OPEN && m.type == IVT_RMSG_OPEN) {
			got_open(br, &m);
		} else if (want == IVT_RMSG_OPEN_OK && m.type == IVT_RMSG_OPEN_OK) {
			got_open_ok(br, &m);
		} else if (want == IVT_RMSG_OPEN_OK && m.type == IVT_RMSG_OPEN_DIRECT) {
			direct_got_open(br, &m);
		} else if (want == IVT_RMSG_OPEN_OK && m.type == IVT_RMSG_ERROR) {
			got_error(br, &m);
		} else {
			br->P->refused_handshake++;
			bridge_fail(br, -EPROTO, "unexpected message in the handshake");
		}
	}
}

static void dialer_connected(struct bridge *br)
{
	struct ivt_rmsg m = {.type = IVT_RMSG_OPEN};
	snprintf(m.u.open.channel, sizeof(m.u.open.channel), "%s", br->channel);
	/* Our local identity (uid:N): the peer prefixes our host name. */
	if (br->lend)
		m.u.open.identity = br->lend->who;
	snprintf(m.u.open.backend, sizeof(m.u.open.backend), "auto");
	m.u.open.ring_size = br->ring_size;
	m.u.open.flags = br->message ? IVT_RMSG_MESSAGE : 0;
	br->phase = PH_HELLO;
	if (send_hello(br) < 0) {
		bridge_fail(br, -EIO, "cannot send HELLO");
		return;
	}
	direct_offer(br);
	xport_offer(br);
	if (bridge_send_msg(br, &m) < 0)
		bridge_fail(br, -EIO, "cannot send OPEN");
}

void bridge_conn_events(struct bridge *br, unsigned events)
{
	if (!br->conn)
		return;
	if ((events & SLP_EV_CONNECTED) && br->phase == PH_CONNECTING)
		dialer_connected(br);
	if (br->phase < PH_PUMP) {
		bridge_handshake(br);
		if (br->conn && br->phase < PH_PUMP &&
		    (slp_conn_state(br->conn) == SLP_ST_FAILED ||
		     slp_conn_state(br->conn) == SLP_ST_CLOSED)) {
			int err = slp_conn_error(br->conn);
			bridge_fail(br, err ? err : -ECONNRESET,
				    br->phase == PH_CONNECTING ? "cannot reach its ivtd"
							       : "connection lost during setup");
		}
		return;
	}
	if (br->phase == PH_PUMP) {
		bridge_pump(br);
		return;
	}
	if (br->phase == PH_DIRECT) {
		direct_conn_events(br);
		return;
	}
	/* PH_DONE: a refusal went out; wait for our CLOSE to be acknowledged. */
	if (br->xp.active ? pipe_conn_done(br, peers_now_ms())
			  : slp_conn_tx_idle(br->conn) || slp_conn_state(br->conn) != SLP_ST_OPEN) {
		slp_conn_free(br->conn);
		br->conn = NULL;
		bridge_schedule_house(br);
	}
}

/* ---- local side ------------------------------------------------------- */

void bridge_local_gone(struct bridge *br, int graceful)
{
	br->lend = NULL;
	if (br->phase == PH_DIRECT) {
		direct_local_end(br, graceful);
		return;
	}
	if (br->local == SIDE_OPEN)
		br->local = graceful ? SIDE_CLOSED : SIDE_DIED;
	if (br->phase < PH_PUMP) {
		/* Nobody to open it for any more. */
		br->phase = PH_DONE;
		br->reported = 1;
		if (br->conn) {
			slp_conn_free(br->conn);
			br->conn = NULL;
			peers_if_schedule(br->ifc);
		}
	}
	bridge_pump(br);
	bridge_schedule_house(br);
}

void bridge_local_event(struct bridge *br, int event)
{
	if (event == IVT_PEER_CONNECTED)
		return;
	if (br->phase == PH_DIRECT) {
		direct_local_end(br, event != IVT_PEER_DIED);
		return;
	}
	if (br->local == SIDE_OPEN)
		br->local = event == IVT_PEER_DIED ? SIDE_DIED : SIDE_CLOSED;
	if (br->phase == PH_SETUP) {
		/* The listener left before publishing its ring. */
		bridge_fail(br, event == IVT_PEER_DIED ? -ECONNRESET : -EPIPE,
			    "local listener left before its setup");
		return;
	}
	bridge_pump(br);
	peers_if_schedule(br->ifc);
}

/* ---- house-keeping: deadlines, reporting, freeing ---------------------- */

void bridge_housekeeping(struct bridge *br, uint64_t now_ms)
{
	if (br->phase < PH_PUMP && br->deadline_ms && now_ms > br->deadline_ms) {
		br->P->refused_handshake++;
		bridge_fail(br, -ETIMEDOUT, "handshake did not complete");
	}
	if (br->phase == PH_PUMP && br->abort_pending)
		bridge_pump(br); /* tx idle yet? */
	if (br->phase == PH_XPORT)
		xport_tick(br, now_ms);
	if (br->phase == PH_DIRECT && br->deadline_ms && now_ms > br->deadline_ms) {
		br->P->refused_handshake++;
		bridge_fail(br, -ETIMEDOUT, "the direct queue pair's setup did not complete");
	}
	if (br->role == BRIDGE_ACCEPTOR && br->requested && !br->gone_reported &&
	    (br->reported || br->phase == PH_DONE)) {
		br->gone_reported = 1;
		int graceful = br->remote != SIDE_DIED;
		br->P->reg.cb.gone(br->P->reg.cb.arg, &br->end, graceful);
	}
	if (br->phase != PH_DONE)
		return;
	if (br->conn && (br->xp.active ? pipe_conn_done(br, now_ms)
				       : slp_conn_tx_idle(br->conn) ||
						 slp_conn_state(br->conn) != SLP_ST_OPEN)) {
		slp_conn_free(br->conn);
		br->conn = NULL;
	}
	if (br->de && br->role == BRIDGE_ACCEPTOR && br->deadline_ms && now_ms > br->deadline_ms) {
		ivt_daemon_end_close(br->de);
		br->de = NULL;
	}
	int local_done = br->role == BRIDGE_DIALER ? br->lend == NULL
						   : (!br->requested || br->gone_reported) && !br->de;
	if (local_done && !br->conn)
		br->dead = 1;
}
