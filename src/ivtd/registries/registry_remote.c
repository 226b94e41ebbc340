/* SPDX-License-Identifier: MIT */
/*
 * The "remote" registry: connectors on other hosts, as their ivtd
 * presents them over SLURPoE (bridge.c reads the OPEN). To the broker they
 * are ordinary channel ends with identity "host:<configured name>/<id>";
 * its answers go back over the channel's connection, and the listener's
 * setup becomes a daemon end attached to its ring (bridge_start_pump).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "ivtd/remote/peers_int.h"

#define WHO "ivtd"

struct bridge *registry_remote_bridge(struct ivt_reg_end *end)
{
	return (struct bridge *)((char *)end - offsetof(struct bridge, end));
}

static int op_reply_ok(struct ivt_reg_end *end, const struct ivt_ctrl_open_ok *ok)
{
	struct bridge *br = registry_remote_bridge(end);
	if (br->phase != PH_SETUP)
		return -ECONNRESET;
	/* ivtd can attach to a shm ring itself; other backends (vchan between
	 * domains) publish their own setup, which a daemon cannot join. */
	if (strcmp(ok->backend, "shm") != 0) {
		/* Not a ring ivtd can join: a direct queue pair between the
		 * ends (bridge_direct.c), or nothing. */
		char why[IVT_ERRMSG_MAX + 1];
		int rc = direct_answer(br, ok, why, sizeof(why));
		if (rc == 0)
			return 0;
		struct ivt_rmsg m = {.type = IVT_RMSG_ERROR};
		m.u.error.err = ENOTSUP;
		snprintf(m.u.error.msg, sizeof(m.u.error.msg), "%s", why);
		bridge_send_msg(br, &m);
		bridge_fail(br, -ENOTSUP, why);
		return -ENOTSUP;
	}
	if (br->dx.offered)
		IVT_INFO(WHO, "channel '%s' from host %s: bridged, not a direct %s queue pair: the "
			      "listener's end here is on shm", br->channel, br->host, br->dx.backend);
	br->ring_size = ok->ring_size;
	struct ivt_rmsg m = {.type = IVT_RMSG_OPEN_OK};
	m.u.open_ok.ring_size = ok->ring_size;
	m.u.open_ok.flags = (ok->flags & IVT_CTRL_OK_MESSAGE) ? IVT_RMSG_MESSAGE : 0;
	m.u.open_ok.flags |= registry_remote_halfclose(br);
	int rc = bridge_send_msg(br, &m);
	if (rc < 0)
		bridge_fail(br, rc, "cannot send OPEN_OK");
	return rc;
}

uint32_t registry_remote_halfclose(const struct bridge *br)
{
	/* both ends' libivt: only then, and so only to a dialer that said so */
	return br->far_halfclose && br->lis_halfclose ? IVT_RMSG_HALFCLOSE : 0;
}

/* The broker names the listener before it answers (reply_ok): we keep
 * only whether it takes half-close (granted only since the dialer's
 * client does too: end->halfclose). */
static int op_peer_info(struct ivt_reg_end *end, const struct ivt_identity *who,
			uint32_t peer_domid, uint32_t flags)
{
	(void)who;
	(void)peer_domid;
	registry_remote_bridge(end)->lis_halfclose = (flags & IVT_CTRL_PEER_HALFCLOSE) != 0;
	return 0;
}

static int op_reply_error(struct ivt_reg_end *end, int err, const char *msg)
{
	struct bridge *br = registry_remote_bridge(end);
	if (br->phase != PH_SETUP)
		return -ECONNRESET;
	struct ivt_rmsg m = {.type = IVT_RMSG_ERROR};
	m.u.error.err = err > 0 && err < 4096 ? err : EIO;
	snprintf(m.u.error.msg, sizeof(m.u.error.msg), "%s", msg ? msg : "");
	int rc = bridge_send_msg(br, &m);
	/* Our CLOSE follows the ERROR; house-keeping releases the rest. */
	br->phase = PH_DONE;
	br->reported = 1;
	if (br->conn) {
		slp_close(br->conn);
		br->slp_closed = 1;
	}
	peers_if_schedule(br->ifc);
	return rc;
}

static int op_relay_setup(struct ivt_reg_end *end, const void *blob, size_t len, const int *fds,
			  int nfds)
{
	struct bridge *br = registry_remote_bridge(end);
	if (br->phase == PH_DIRECT)
		return direct_relay_setup(br, blob, len, nfds);
	if (br->phase != PH_SETUP)
		return -ECONNRESET;
	char why[256] = "";
	int rc = bridge_start_pump(br, blob, len, fds, nfds, why, sizeof(why));
	if (rc < 0) {
		br->phase = PH_PUMP; /* OPEN_OK is out: the peer must see a death */
		bridge_fail(br, rc, why);
	}
	peers_if_schedule(br->ifc);
	return rc;
}

static int op_notify_peer(struct ivt_reg_end *end, int event, uint32_t peer_domid)
{
	(void)peer_domid;
	bridge_local_event(registry_remote_bridge(end), event);
	return 0;
}

static void op_destroy(struct ivt_registry *reg)
{
	(void)reg; /* part of struct ivt_peers; ivt_peers_free releases it */
}

static const struct ivt_registry_ops remote_ops = {
	.name = "remote",
	.reply_ok = op_reply_ok,
	.reply_error = op_reply_error,
	.relay_setup = op_relay_setup,
	.notify_peer = op_notify_peer,
	.peer_info = op_peer_info,
	.destroy = op_destroy,
};

void registry_remote_init(struct ivt_peers *P)
{
	P->reg.ops = &remote_ops;
	P->reg.cb = ivt_broker_callbacks(P->cfg.broker);
}
