/* SPDX-License-Identifier: MIT */
/*
 * Peer daemons: ivtd bridges channels to the ivtd of other hosts over
 * SLURPoE (docs/remote.md). One SLURPoE engine and raw socket per
 * interface named in the policy's "hosts"; every ivtd accepts peer
 * daemons on endpoint IVT_REMOTE_EP of that interface.
 *
 *  - A local connector of a channel whose rule says "host": "X" is opened
 *    at X's ivtd (struct ivt_broker_remote, installed by ivt_peers_new).
 *  - A peer daemon's connector arrives here as an ordinary end of the
 *    "remote" registry, identity "host:<configured name>/<its identity>".
 * Either way ivtd holds a daemon end (daemon_end.h) toward the local
 * process and pumps bytes between it and the channel's SLURPoE
 * connection.
 */
#ifndef IVTD_PEERS_H
#define IVTD_PEERS_H

#include <stddef.h>

#include "ivtd/core/broker.h"

struct event_base;
struct ivt_peers;

struct ivt_peers_cfg {
	struct event_base *base;
	struct ivt_broker *broker; /* host name and policy come from here */
	const char *plugin_dir;    /* for the shm plugin; NULL = default */
	const char *impair;        /* test aid: slp_rawsock_impair() spec or NULL */
};

/* Opens an engine on every interface of the broker's policy "hosts"; an
 * interface that cannot be opened (no CAP_NET_RAW, no such device) is
 * logged and skipped: channels to hosts behind it are refused with that
 * reason. Installs itself as the broker's remote bridge. NULL only when
 * out of memory. */
struct ivt_peers *ivt_peers_new(const struct ivt_peers_cfg *cfg);
/* Drop every bridged channel (the local ends see their peer die), close
 * the engines, detach from the broker. */
void ivt_peers_free(struct ivt_peers *p);
/* After a policy reload: open interfaces that are new in "hosts". */
void ivt_peers_policy_changed(struct ivt_peers *p);
/* ivtd's own connector (the utmem lower tier, docs/utmem.md): open
 * `channel` at host_name's ivtd for `end`, whose identity must be
 * ivt_identity_daemon() (the peer sees "host:<our name>/ivtd"). end's
 * registry gets what a local connector's would, later, from the event
 * loop: reply_ok then relay_setup (a shm ring to attach to with
 * ivt_daemon_end_connect), or reply_error; notify_peer when the peer
 * closes or dies. Every 0 return must be followed, eventually, by
 * ivt_peers_hangup(end) (also after reply_error), and `end` must stay
 * valid until then. A negative errno with why: refused now. */
int ivt_peers_dial(struct ivt_peers *p, struct ivt_reg_end *end, const char *host_name,
		   const char *channel, uint64_t ring_size, char *why, size_t why_len);
/* The end of ivt_peers_dial is gone (graceful: closed, else died). Do not
 * call from inside one of end's registry ops. */
void ivt_peers_hangup(struct ivt_peers *p, struct ivt_reg_end *end, int graceful);
/* Interfaces, peers and bridged channels, for ivtctl status. */
size_t ivt_peers_status(const struct ivt_peers *p, char *buf, size_t len);

#endif
