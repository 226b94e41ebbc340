/* SPDX-License-Identifier: MIT */
/*
 * VMM-bypass (docs/remote.md, "Direct queue pairs"): a connector here and
 * a listener on the peer host that can both take an end of the same RDMA
 * plugin get a queue pair of their own. ivtd only carries the two setup
 * blobs across hosts, once each, and afterwards the channel's SLURPoE
 * connection only says how the channel ended; no byte of the channel
 * passes through either ivtd.
 *
 *   dialer                                    acceptor
 *   HELLO, DIRECT(plugin), [OFFER], OPEN  ->
 *                                         <-  HELLO, OPEN_DIRECT(ring)
 *                                              (its listener is on that plugin)
 *                                         <-  SETUP(listener's blob)
 *   SETUP(connector's blob)               ->
 *   then: CLOSE = a graceful end, RESET = a death, nothing else.
 *
 * If the acceptor's listener is on shm the answer is OPEN_OK: the channel
 * is bridged as before (with the reason logged on both sides). Blobs are
 * the untrusted word of another host (or of a local process): sizes are
 * checked here and in remote_proto.c, the contents by the plugin in the
 * process that receives them, never by ivtd.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "ivtd/remote/peers_int.h"
#include "ivtd/remote/xport_choice.h"

#define WHO "ivtd"

static const struct ivt_policy_host *peer_entry(struct bridge *br)
{
	return ivt_policy_find_host(ivt_broker_policy(br->P->cfg.broker), br->host);
}

/* Both ends' blobs crossed: nothing more is waited for. */
static void maybe_done(struct bridge *br)
{
	if (!br->dx.sent_setup || !br->dx.got_setup)
		return;
	br->deadline_ms = 0;
	IVT_INFO(WHO, "channel '%s' %s host %s: direct %s queue pair set up for %s; ivtd is off "
		      "its data path", br->channel, bridge_role_name(br), br->host, br->dx.backend,
		 IVT_ID_S(&br->who));
}

/* ---- dialer --------------------------------------------------------------- */

void direct_offer(struct bridge *br)
{
	if (!br->dx.backend[0])
		return;
	char why[400];
	int rc = ivt_xport_allowed(peer_entry(br), br->dx.backend,
				   ivt_broker_backend(br->P->cfg.broker, br->dx.backend), why,
				   sizeof(why));
	if (rc < 0) {
		IVT_INFO(WHO, "channel '%s' to host %s: no direct %s queue pair: %s", br->channel,
			 br->host, br->dx.backend, why);
		br->dx.backend[0] = '\0';
		return;
	}
	struct ivt_rmsg m = {.type = IVT_RMSG_DIRECT};
	snprintf(m.u.offer.backend, sizeof(m.u.offer.backend), "%s", br->dx.backend);
	if (bridge_send_msg(br, &m) == 0)
		br->dx.offered = 1;
}

void direct_got_open(struct bridge *br, const struct ivt_rmsg *m)
{
	if (!br->dx.offered || !br->lend) {
		br->P->refused_handshake++;
		bridge_fail(br, -EPROTO, "OPEN_DIRECT without our DIRECT");
		return;
	}
	uint64_t ring = m->u.open_ok.ring_size;
	if (br->max_ring_size && ring > br->max_ring_size)
		ring = br->max_ring_size; /* our end's buffers are ours to size */
	br->ring_size = ring;
	snprintf(br->backend, sizeof(br->backend), "%s", br->dx.backend);
	struct ivt_ctrl_open_ok ok;
	memset(&ok, 0, sizeof(ok));
	ok.chan_id = br->id;
	snprintf(ok.backend, sizeof(ok.backend), "%s", br->dx.backend);
	ok.ring_size = ring;
	ok.is_server = 0;
	if (m->u.open_ok.flags & IVT_RMSG_MESSAGE) /* the listener's mode, as for OPEN_OK */
		br->message = 1;
	ok.flags = br->message ? IVT_CTRL_OK_MESSAGE : 0;
	ok.local_domid = br->lend->domid;
	br->phase = PH_DIRECT;
	br->deadline_ms = peers_now_ms() + BRIDGE_HANDSHAKE_MS;
	bridge_tell_peer(br, m->u.open_ok.flags); /* FIN frames go end to end */
	br->lend->reg->ops->reply_ok(br->lend, &ok);
}

/* The local connector's blob (its SETUP to us): on to the listener's host. */
int direct_client_setup(struct bridge *br, const void *blob, size_t len, int nfds)
{
	if (br->phase != PH_DIRECT || !br->dx.got_setup || br->dx.sent_setup)
		return -EPROTO;
	if (nfds)
		return -EINVAL; /* IVT_CAP_NET_SETUP: nothing that only means something here */
	int rc = bridge_send_setup(br, blob, len);
	if (rc == -EMSGSIZE)
		return rc;
	if (rc < 0) {
		bridge_fail(br, rc, "cannot send the connector's setup");
		return rc;
	}
	br->dx.sent_setup = 1;
	maybe_done(br);
	return 0;
}

/* ---- acceptor ------------------------------------------------------------- */

int direct_got_offer(struct bridge *br, const struct ivt_rmsg *m)
{
	if (br->dx.offered)
		return -EPROTO;
	br->dx.offered = 1;
	snprintf(br->dx.backend, sizeof(br->dx.backend), "%s", m->u.offer.backend);
	return 0;
}

/* The broker granted our remote connector a channel whose listener is on
 * ok->backend, not shm: go direct if the dialer offered that plugin and
 * our policy allows it; else the reason in why. */
static int direct_check(struct bridge *br, const struct ivt_ctrl_open_ok *ok, char *why,
			size_t why_len)
{
	const char *here = ivt_broker_host_name(br->P->cfg.broker);
	if (!br->dx.offered) {
		snprintf(why, why_len, "channel '%s' runs over %s on host %s; bridging needs shm, "
				       "and host %s did not ask for a direct queue pair", br->channel,
			 ok->backend, here, br->host);
		return -ENOTSUP;
	}
	if (strcmp(br->dx.backend, ok->backend) != 0) {
		snprintf(why, why_len, "channel '%s' runs over %s on host %s, not %s", br->channel,
			 ok->backend, here, br->dx.backend);
		return -ENOTSUP;
	}
	char r[400];
	int rc = ivt_xport_allowed(peer_entry(br), ok->backend,
				   ivt_broker_backend(br->P->cfg.broker, ok->backend), r, sizeof(r));
	if (rc < 0)
		snprintf(why, why_len, "no direct queue pair on host %s: %s", here, r);
	return rc;
}

int direct_answer(struct bridge *br, const struct ivt_ctrl_open_ok *ok, char *why,
		  size_t why_len)
{
	int rc = direct_check(br, ok, why, why_len);
	if (rc < 0)
		return rc;
	br->ring_size = ok->ring_size;
	snprintf(br->backend, sizeof(br->backend), "%s", ok->backend);
	struct ivt_rmsg m = {.type = IVT_RMSG_OPEN_DIRECT};
	m.u.open_ok.ring_size = ok->ring_size;
	m.u.open_ok.flags = (ok->flags & IVT_CTRL_OK_MESSAGE) ? IVT_RMSG_MESSAGE : 0;
	m.u.open_ok.flags |= registry_remote_halfclose(br);
	rc = bridge_send_msg(br, &m);
	if (rc < 0) {
		snprintf(why, why_len, "cannot send OPEN_DIRECT");
		return rc;
	}
	br->phase = PH_DIRECT;
	br->deadline_ms = peers_now_ms() + BRIDGE_HANDSHAKE_MS;
	return 0;
}

/* The local listener's blob, relayed by the broker: on to the dialer. */
int direct_relay_setup(struct bridge *br, const void *blob, size_t len, int nfds)
{
	if (br->dx.sent_setup)
		return -EALREADY;
	if (nfds || !len || len > IVT_RMSG_BLOB_MAX) {
		bridge_fail(br, -EPROTO, "the listener's setup cannot cross hosts");
		return -EPROTO;
	}
	int rc = bridge_send_setup(br, blob, len);
	if (rc < 0) {
		bridge_fail(br, rc, "cannot send the listener's setup");
		return rc;
	}
	br->dx.sent_setup = 1;
	maybe_done(br);
	return 0;
}

/* ---- both ----------------------------------------------------------------- */

/* A SETUP from the peer host, in turn: the acceptor's comes first, the
 * dialer's only after it. */
void direct_msg(struct bridge *br, const struct ivt_rmsg *m)
{
	int dialer = br->role == BRIDGE_DIALER;
	int in_turn = dialer ? !br->dx.sent_setup : br->dx.sent_setup;
	if (m->type != IVT_RMSG_SETUP || br->dx.got_setup || !in_turn) {
		br->P->refused_handshake++;
		bridge_fail(br, -EPROTO, "unexpected message while setting up a direct queue pair");
		return;
	}
	br->dx.got_setup = 1;
	int rc = dialer ? (br->lend ? br->lend->reg->ops->relay_setup(br->lend, m->u.setup.blob,
								      m->u.setup.len, NULL, 0)
				    : -ENOTCONN)
			: ivt_broker_setup_to_server(br->P->cfg.broker, &br->end, m->u.setup.blob,
						     m->u.setup.len);
	if (rc < 0) {
		bridge_fail(br, rc, dialer ? "cannot hand the listener's setup to the connector"
					   : "cannot hand the connector's setup to the listener");
		return;
	}
	maybe_done(br);
}

/* After the setup the connection carries no byte: only its end says
 * how the channel ended (EOF: closed, reset: died). */
void direct_conn_events(struct bridge *br)
{
	if (!br->dx.sent_setup || !br->dx.got_setup) {
		bridge_handshake(br);
		if (br->phase == PH_DIRECT && br->conn && slp_conn_state(br->conn) == SLP_ST_FAILED)
			bridge_fail(br, slp_conn_error(br->conn) ?: -ECONNRESET,
				    "connection lost during the direct setup");
		return;
	}
	uint8_t b;
	ssize_t n = slp_recv(br->conn, &b, 1);
	if (n == -EAGAIN)
		return;
	if (n > 0) {
		br->P->refused_handshake++;
		bridge_fail(br, -EPROTO, "bytes on a direct channel's connection");
		return;
	}
	br->remote = n == 0 ? SIDE_CLOSED : SIDE_DIED;
	br->remote_err = n == 0 ? 0 : (int)n;
	bridge_report_remote_end(br);
	/* Nobody here waits for anything more from it. */
	if (n == 0 && !br->slp_closed) {
		slp_close(br->conn);
		br->slp_closed = 1;
	}
	br->phase = PH_DONE;
	peers_if_schedule(br->ifc);
	bridge_schedule_house(br);
}

/* Our local end left: the peer's end hears it as a close or a death. */
void direct_local_end(struct bridge *br, int graceful)
{
	if (br->local == SIDE_OPEN)
		br->local = graceful ? SIDE_CLOSED : SIDE_DIED;
	IVT_INFO(WHO, "channel '%s' %s host %s: local end %s (direct)", br->channel,
		 bridge_role_name(br), br->host, graceful ? "closed" : "died");
	if (br->conn && graceful && !br->slp_closed) {
		slp_close(br->conn);
		br->slp_closed = 1;
	} else if (br->conn && !graceful) {
		slp_conn_free(br->conn); /* RESET */
		br->conn = NULL;
	}
	br->phase = PH_DONE;
	br->reported = 1; /* nobody here to tell about the peer's end */
	br->remote = br->local == SIDE_DIED ? SIDE_DIED : SIDE_CLOSED;
	peers_if_schedule(br->ifc);
	bridge_schedule_house(br);
}
