/* SPDX-License-Identifier: MIT */
/*
 * Bridging over an RDMA plugin instead of SLURPoE (docs/remote.md,
 * "Bridging over RDMA"). The plugin is found by capability
 * (xport_choice.h); its setup blobs travel over the channel's SLURPoE
 * connection as SETUP messages, and the plugin itself is driven as a
 * daemon end with that connection as its oob.
 *
 * Who speaks (so the byte stream after the negotiation is unambiguous):
 * the acceptor exactly once, SETUP or RESULT(errno); after its SETUP the
 * dialer alone decides, with SETUP + RESULT(0 | errno) or RESULT(errno).
 * Any errno means both stay on SLURPoE, with the reason logged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ivtd/remote/peers_int.h"
#include "ivtd/remote/xport_choice.h"

#define WHO "ivtd"

static const struct ivt_policy_host *peer_entry(struct bridge *br)
{
	return ivt_policy_find_host(ivt_broker_policy(br->P->cfg.broker), br->host);
}

void xport_offer(struct bridge *br)
{
	size_t n;
	const struct ivt_backend_info *be = ivt_broker_backends(br->P->cfg.broker, &n);
	const struct ivt_policy_host *h = peer_entry(br);
	char why[400];
	if (ivt_xport_pick(h, be, n, br->xp.backend, sizeof(br->xp.backend), why, sizeof(why))) {
		br->xp.backend[0] = '\0';
		if (h && h->rdma) /* asked for and not possible: say why */
			IVT_INFO(WHO, "channel '%s' to host %s: over SLURPoE: %s", br->channel,
				 br->host, why);
		return;
	}
	struct ivt_rmsg m = {.type = IVT_RMSG_OFFER};
	snprintf(m.u.offer.backend, sizeof(m.u.offer.backend), "%s", br->xp.backend);
	if (bridge_send_msg(br, &m) < 0)
		br->xp.backend[0] = '\0'; /* the OPEN after it fails the same way */
}

int xport_got_offer(struct bridge *br, const struct ivt_rmsg *m)
{
	if (br->xp.backend[0])
		return -EPROTO;
	snprintf(br->xp.backend, sizeof(br->xp.backend), "%s", m->u.offer.backend);
	return 0;
}

void xport_release(struct bridge *br)
{
	ivt_daemon_end_close(br->xp.de);
	br->xp.de = NULL;
	free(br->xp.l2r.buf);
	br->xp.l2r.buf = NULL;
}

/* Stay on SLURPoE: tell the peer (when it is our turn) and pump there. */
static void fall_back(struct bridge *br, int err, const char *why, int tell)
{
	IVT_INFO(WHO, "channel '%s' %s host %s: over SLURPoE, not %s: %s", br->channel,
		 bridge_role_name(br), br->host, br->xp.backend, why);
	if (tell) {
		struct ivt_rmsg m = {.type = IVT_RMSG_RESULT};
		m.u.error.err = err < 0 ? -err : err > 0 ? err : EIO;
		snprintf(m.u.error.msg, sizeof(m.u.error.msg), "%.*s", IVT_ERRMSG_MAX, why);
		if (bridge_send_msg(br, &m) < 0) {
			bridge_fail(br, -EIO, "cannot send RESULT");
			return;
		}
	}
	xport_release(br);
	br->xp.backend[0] = '\0';
	bridge_pump_slurpoe(br);
}

static void activate(struct bridge *br)
{
	br->xp.l2r.buf = malloc(BRIDGE_XPORT_STAGE);
	if (!br->xp.l2r.buf) {
		bridge_fail(br, -ENOMEM, "no memory for the RDMA pump");
		return;
	}
	br->xp.active = 1;
	br->phase = PH_PUMP;
	br->deadline_ms = 0;
	IVT_INFO(WHO, "channel '%s' %s host %s: bridged for %s over %s (ring %llu)", br->channel,
		 bridge_role_name(br), br->host, IVT_ID_S(&br->who), br->xp.backend,
		 (unsigned long long)br->ring_size);
	bridge_pump(br);
}

/* ---- the plugin's oob: the SLURPoE connection --------------------------- */

static int oob_send(void *ctx, const void *blob, size_t len, const int *fds, int nfds)
{
	(void)fds;
	struct bridge *br = ctx;
	if (nfds)
		return -EINVAL; /* IVT_CAP_NET_SETUP: fds cannot cross hosts */
	int rc = bridge_send_setup(br, blob, len);
	if (rc == 0)
		br->xp.sent_setup = 1;
	return rc;
}

static int oob_recv(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	(void)fds;
	(void)timeout_ms; /* never waits: the blob is there or not */
	struct bridge *br = ctx;
	*nfds = 0;
	if (br->xp.peer_taken)
		return -ECONNRESET; /* one setup per channel */
	if (!br->xp.peer_len)
		return -EAGAIN;
	if (br->xp.peer_len > cap)
		return -EMSGSIZE;
	memcpy(blob, br->xp.peer_blob, br->xp.peer_len);
	br->xp.peer_taken = 1;
	return (int)br->xp.peer_len;
}

static void on_plugin(void *arg, struct ivt_daemon_end *de);

static void on_plugin_failed(void *arg, struct ivt_daemon_end *de, int err)
{
	(void)de;
	(void)err;
	struct bridge *br = arg;
	if (br->phase == PH_PUMP)
		bridge_pump(br); /* its recv now says -EIO: the peer is lost */
}

static int open_plugin(struct bridge *br, int is_server, char *why, size_t why_len)
{
	static const struct ivt_oob oob_ops = {.send = oob_send, .recv = oob_recv};
	struct ivt_oob oob = oob_ops;
	oob.ctx = br;
	struct ivt_daemon_end_params p = {
		.backend = br->xp.backend,
		.plugin_dir = br->P->cfg.plugin_dir,
		.channel = br->channel,
		.ring_size = br->ring_size,
	};
	struct ivt_daemon_end_cb cb = {
		.arg = br, .readable = on_plugin, .writable = on_plugin, .failed = on_plugin_failed,
	};
	return ivt_daemon_end_open_oob(br->P->cfg.base, &p, is_server, &oob, &cb, &br->xp.de, why,
				       why_len);
}

/* ---- the negotiation ---------------------------------------------------- */

void xport_begin(struct bridge *br)
{
	if (br->role == BRIDGE_DIALER)
		return; /* the acceptor speaks first */
	char why[400];
	int rc = ivt_xport_allowed(peer_entry(br), br->xp.backend,
				   ivt_broker_backend(br->P->cfg.broker, br->xp.backend), why,
				   sizeof(why));
	if (rc == 0)
		rc = open_plugin(br, 1, why, sizeof(why)); /* sends our SETUP */
	if (rc < 0)
		fall_back(br, rc, why, 1);
	else if (!br->xp.sent_setup)
		fall_back(br, -EPROTO, "the plugin published no setup", 1);
}

/* Dialer: the queue pair carried the plugin's first message. */
static void dialer_check_up(struct bridge *br)
{
	int up = ivt_daemon_end_up(br->xp.de);
	if (up == 0)
		return;
	if (up < 0) {
		char why[128];
		snprintf(why, sizeof(why), "the RDMA connection failed: %s", strerror(-up));
		fall_back(br, up, why, 1);
		return;
	}
	ivt_daemon_end_want(br->xp.de, 0);
	struct ivt_rmsg m = {.type = IVT_RMSG_RESULT};
	if (bridge_send_msg(br, &m) < 0) {
		bridge_fail(br, -EIO, "cannot send RESULT");
		return;
	}
	activate(br);
}

static void on_plugin(void *arg, struct ivt_daemon_end *de)
{
	(void)de;
	struct bridge *br = arg;
	if (br->phase == PH_XPORT && br->role == BRIDGE_DIALER && br->xp.de)
		dialer_check_up(br);
	else if (br->phase == PH_PUMP)
		bridge_pump(br);
	else if (br->xp.de)
		ivt_daemon_end_want(br->xp.de, 0);
}

static void dialer_got_setup(struct bridge *br, const struct ivt_rmsg *m)
{
	memcpy(br->xp.peer_blob, m->u.setup.blob, m->u.setup.len);
	br->xp.peer_len = m->u.setup.len;
	char why[400];
	int rc = open_plugin(br, 0, why, sizeof(why)); /* sends our SETUP */
	if (rc < 0) {
		fall_back(br, rc, why, 1);
		return;
	}
	br->xp.up_deadline = peers_now_ms() + BRIDGE_XPORT_UP_MS;
	ivt_daemon_end_want(br->xp.de, IVT_EV_SEND);
}

static void acceptor_got_setup(struct bridge *br, const struct ivt_rmsg *m)
{
	memcpy(br->xp.peer_blob, m->u.setup.blob, m->u.setup.len);
	br->xp.peer_len = m->u.setup.len;
	int rc = ivt_daemon_end_accepted(br->xp.de);
	if (rc <= 0)
		/* Not our turn to speak: the dialer's RESULT says where we go. */
		IVT_INFO(WHO, "channel '%s' from host %s: %s rejected the peer's setup: %s",
			 br->channel, br->host, br->xp.backend, rc ? strerror(-rc) : "incomplete");
}

void xport_msg(struct bridge *br, const struct ivt_rmsg *m)
{
	int dialer = br->role == BRIDGE_DIALER;
	if (m->type == IVT_RMSG_SETUP && !br->xp.peer_len && (dialer || br->xp.de)) {
		if (dialer)
			dialer_got_setup(br, m);
		else
			acceptor_got_setup(br, m);
	} else if (m->type == IVT_RMSG_RESULT && m->u.error.err == 0 && !dialer &&
		   br->xp.de && ivt_daemon_end_accepted(br->xp.de) == 1) {
		activate(br);
	} else if (m->type == IVT_RMSG_RESULT && m->u.error.err != 0 &&
		   (dialer ? !br->xp.de : 1)) {
		char why[IVT_ERRMSG_MAX + IVT_NAME_MAX + 16];
		snprintf(why, sizeof(why), "host %s: %s", br->host, m->u.error.msg);
		fall_back(br, -m->u.error.err, why, 0);
	} else {
		br->P->refused_handshake++;
		bridge_fail(br, -EPROTO, "unexpected message while setting up RDMA");
	}
}

void xport_tick(struct bridge *br, uint64_t now_ms)
{
	if (br->role == BRIDGE_DIALER && br->xp.de && br->xp.up_deadline &&
	    now_ms > br->xp.up_deadline) {
		char why[128];
		snprintf(why, sizeof(why), "no message over the RDMA connection within %d ms (does "
				   "the device reach the peer?)", BRIDGE_XPORT_UP_MS);
		fall_back(br, -ETIMEDOUT, why, 1);
	}
}
