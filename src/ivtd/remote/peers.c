/* SPDX-License-Identifier: MIT */
/* Peer daemons: SLURPoE engines on libevent, accepting and dialling. */
#include "common/textbuf.h"
#include "peers.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "ivtd/remote/carrier.h"
#include "ivtd/remote/if_claim.h"
#include "ivtd/remote/peers_int.h"

#define WHO "ivtd"
#define HOUSE_MS 250

/* The user pointer of our listening endpoint: marks fresh connections. */
static char accept_token;

uint64_t peers_now_ms(void) { return slp_clock_us() / 1000; }

/* ---- interfaces --------------------------------------------------------- */

static void if_process(struct peers_if *ifc);

static void on_if_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if_process(arg);
}

void peers_if_schedule(struct peers_if *ifc)
{
	if (ifc && ifc->timer_ev)
		event_active(ifc->timer_ev, EV_TIMEOUT, 0);
}

static void rearm_timer(struct peers_if *ifc)
{
	uint64_t d = slp_loop_deadline(&ifc->loop);
	if (d == UINT64_MAX) {
		evtimer_del(ifc->timer_ev);
		return;
	}
	uint64_t now = slp_clock_us();
	uint64_t us = d > now ? d - now : 0;
	struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000)};
	evtimer_add(ifc->timer_ev, &tv);
}

static const struct ivt_policy_host *host_by_mac(struct ivt_peers *P, const char *ifname,
						  const uint8_t *mac)
{
	const struct ivt_policy *pol = ivt_broker_policy(P->cfg.broker);
	for (size_t i = 0; pol && i < pol->n_hosts; i++)
		if (!memcmp(pol->hosts[i].mac, mac, 6) && !strcmp(pol->hosts[i].ifname, ifname))
			return &pol->hosts[i];
	return NULL;
}

/* A peer daemon connected to IVT_REMOTE_EP: only configured hosts, each
 * known by the name our policy gives its MAC. */
static struct bridge *accepted(struct peers_if *ifc, struct slp_conn *c)
{
	struct ivt_peers *P = ifc->P;
	const uint8_t *mac = slp_conn_peer_mac(c);
	const struct ivt_policy_host *h = host_by_mac(P, ifc->name, mac);
	if (!h || strlen(h->name) > IVT_REMOTE_HOST_NAME_MAX) {
		P->refused_unknown_mac++;
		static struct ivt_ratelimit rl = IVT_RATELIMIT_INIT(10000, 5); /* any MAC at will */
		ivt_log_limited(&rl, IVT_LOG_INFO, WHO,
				"%s: refused a peer connection from %02x:%02x:%02x:%02x:%02x:%02x: %s",
				ifc->name, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
				h ? "host name too long for remote identities"
				  : "not in policy \"hosts\"");
		slp_conn_free(c);
		return NULL;
	}
	struct bridge *br = bridge_new(P, ifc, BRIDGE_ACCEPTOR, h->name);
	if (!br) {
		IVT_WARN(WHO, "%s: too many bridged channels; refusing host %s", ifc->name, h->name);
		slp_conn_free(c);
		return NULL;
	}
	br->conn = c;
	slp_conn_set_user(c, br);
	peers_note_accept(P, ifc, h->name);
	return br;
}

static void if_process(struct peers_if *ifc)
{
	slp_loop_process(&ifc->loop);
	slp_rawsock_batch_begin(ifc->loop.rs);
	unsigned events;
	struct slp_conn *c;
	while ((c = slp_engine_next_event(ifc->loop.engine, &events))) {
		void *user = slp_conn_user(c);
		if (user == &accept_token) {
			if (!(events & SLP_EV_ACCEPTED)) {
				slp_conn_free(c);
				continue;
			}
			user = accepted(ifc, c); /* c is gone when NULL */
			if (!user)
				continue;
		}
		if (user)
			bridge_conn_events(user, events);
	}
	/* The bridges had their turn: ACKs they did not carry go now. */
	slp_engine_flush_acks(ifc->loop.engine);
	slp_rawsock_flush(ifc->loop.rs);
	rearm_timer(ifc);
}

/* The policy's key for the host at mac on this interface (frames are
 * authenticated when the policy names key files, docs/remote.md). Read
 * from the current policy, so a reload rotates keys for new connections. */
static int peer_key(void *ctx, const uint8_t mac[6], uint8_t key[32])
{
	struct peers_if *ifc = ctx;
	const struct ivt_policy_host *h = host_by_mac(ifc->P, ifc->name, mac);
	if (!h || !h->has_key)
		return -ENOENT;
	memcpy(key, h->key, IVT_HOST_KEY_LEN);
	return 0;
}

/* Whether the policy asks for confidentiality with the host at mac. */
static int peer_encrypt(void *ctx, const uint8_t mac[6])
{
	struct peers_if *ifc = ctx;
	const struct ivt_policy_host *h = host_by_mac(ifc->P, ifc->name, mac);
	return h && h->has_key && h->encrypt;
}

/* 0: no keys on ifname; 1: keys; 2: keys, and some host asks for
 * encryption. */
static int if_keyed(struct ivt_peers *P, const char *ifname)
{
	const struct ivt_policy *pol = ivt_broker_policy(P->cfg.broker);
	int k = 0;
	for (size_t i = 0; pol && i < pol->n_hosts; i++)
		if (pol->hosts[i].has_key && !strcmp(pol->hosts[i].ifname, ifname))
			k = pol->hosts[i].encrypt ? 2 : k ? k : 1;
	return k;
}

struct peers_if *peers_find_if(const struct ivt_peers *P, const char *name, int udp)
{
	for (struct peers_if *i = P->ifs; i; i = i->next)
		if (!strcmp(i->name, name) && i->udp == udp)
			return i;
	return NULL;
}

static void close_if(struct peers_if *ifc)
{
	if (ifc->rx_ev)
		event_free(ifc->rx_ev);
	if (ifc->timer_ev)
		event_free(ifc->timer_ev);
	if (ifc->claim_ev)
		event_free(ifc->claim_ev);
	if (ifc->claim_fd >= 0)
		close(ifc->claim_fd);
	if (ifc->loop.engine)
		slp_loop_close(&ifc->loop);
	free(ifc);
}

/* An engine on interface `name` over raw frames or UDP. NULL with the
 * reason in why (logged by the caller) and the error in *err. */
static struct peers_if *open_engine(struct ivt_peers *P, const char *name, int udp, int *err,
				    char *why, size_t why_len)
{
	struct peers_if *ifc = calloc(1, sizeof(*ifc));
	*err = -ENOMEM;
	if (!ifc) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	ifc->P = P;
	ifc->udp = udp;
	ifc->claim_fd = -1;
	snprintf(ifc->name, sizeof(ifc->name), "%s", name);
	char owhy[200] = "";
	struct slp_loop_opts o = {
		.ifname = name,
		.impair = P->cfg.impair && *P->cfg.impair ? P->cfg.impair : NULL,
		.impair_seed = (uint64_t)getpid() + (uint64_t)udp,
		.ack_at_turn_end = 1, /* if_process flushes them */
		.why = owhy,
		.why_len = sizeof(owhy),
	};
	/* The same keys on both carriers: the trust model does not depend
	 * on which one carries the frames (docs/remote.md). */
	if (if_keyed(P, name)) {
		o.peer_key = peer_key;
		o.peer_encrypt = peer_encrypt;
		o.key_ctx = ifc;
	}
	if (udp)
		o.rawsock_flags |= SLP_RS_UDP;
	int rc = slp_loop_open(&ifc->loop, &o);
	*err = rc;
	if (rc < 0) {
		snprintf(why, why_len, "%s%s", owhy[0] ? owhy : strerror(-rc),
			 rc == -EPERM ? " (ivtd needs CAP_NET_RAW)" : "");
		free(ifc);
		return NULL;
	}
	rc = slp_listen(ifc->loop.engine, IVT_REMOTE_EP, &accept_token);
	ifc->rx_ev = event_new(P->cfg.base, slp_loop_fd(&ifc->loop), EV_READ | EV_PERSIST,
			       on_if_event, ifc);
	ifc->timer_ev = evtimer_new(P->cfg.base, on_if_event, ifc);
	if (rc < 0 || !ifc->rx_ev || !ifc->timer_ev || event_add(ifc->rx_ev, NULL) != 0) {
		*err = rc < 0 ? rc : -ENOMEM;
		snprintf(why, why_len, "cannot set up the engine");
		close_if(ifc);
		return NULL;
	}
	const uint8_t *m = slp_rawsock_mac(ifc->loop.rs);
	IVT_INFO(WHO, "remote channels over %s (%02x:%02x:%02x:%02x:%02x:%02x), peer endpoint "
		      "%u, frames over %s%s%s", name, m[0], m[1], m[2], m[3], m[4], m[5], IVT_REMOTE_EP,
		 slp_rawsock_path(ifc->loop.rs), o.impair ? ", test impairment " : "", o.impair ? o.impair : "");
	ifc->next = P->ifs;
	P->ifs = ifc;
	return ifc;
}

static void on_claim(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	(void)arg;
	ivt_if_claim_drain(fd);
}

/* Claim interface `name` for this ivtd before its first engine there:
 * the claim fd, -1 to go on unclaimed (said), or -EADDRINUSE: another
 * ivtd serves it, and this one must not (logged). */
static int claim_if(const char *name)
{
	char why[200];
	int fd = ivt_if_claim(name, why, sizeof(why));
	if (fd == -EADDRINUSE) {
		IVT_ERR(WHO, "remote channels over %s disabled: %s; two ivtd on one interface take "
			     "each other's frames (stop one, or give each its own interface)",
			name, why);
		return fd;
	}
	if (fd < 0)
		IVT_WARN(WHO, "remote channels over %s: %s; serving it all the same", name, why);
	return fd < 0 ? -1 : fd;
}

/* Interface `name`'s engines: raw frames (needed: the fallback every peer
 * can reach) and UDP where the interface has an IPv4 address. Both
 * listen whatever our entries say: "carrier" chooses how we dial, and a
 * peer's entry for us may choose the other one. A reload tries again
 * what is missing (an address added since). */
static void open_if(struct ivt_peers *P, const char *name)
{
	char why[200];
	int err;
	struct peers_if *raw = peers_find_if(P, name, 0);
	if (!raw) {
		int keyed = if_keyed(P, name), claim = claim_if(name);
		if (claim == -EADDRINUSE)
			return;
		if (!(raw = open_engine(P, name, 0, &err, why, sizeof(why)))) {
			IVT_WARN(WHO, "remote channels over %s disabled: %s", name, why);
			if (claim >= 0)
				close(claim);
			return;
		}
		raw->claim_fd = claim;
		if (claim >= 0 &&
		    (!(raw->claim_ev = event_new(P->cfg.base, claim, EV_READ | EV_PERSIST, on_claim,
						 NULL)) ||
		     event_add(raw->claim_ev, NULL) != 0))
			IVT_WARN(WHO, "remote channels over %s: cannot watch the claim; a second ivtd "
				      "may not see this one", name);
		if (keyed)
			IVT_INFO(WHO, "remote channels over %s: every frame authenticated (policy keys)%s",
				 name, keyed == 2 ? ", payloads encrypted with hosts that ask" : "");
	}
	if (peers_find_if(P, name, 1))
		return;
	if (!open_engine(P, name, 1, &err, why, sizeof(why))) {
		snprintf(raw->no_udp, sizeof(raw->no_udp), "%s", why);
		/* port 34997 taken: an ivtd that does not claim interfaces */
		ivt_log(err == -EADDRINUSE ? IVT_LOG_WARN : IVT_LOG_INFO, WHO,
			"remote channels over %s: no UDP carrier (%s); raw frames only", name, why);
		return;
	}
	raw->no_udp[0] = 0;
}

void ivt_peers_policy_changed(struct ivt_peers *P)
{
	const struct ivt_policy *pol = ivt_broker_policy(P->cfg.broker);
	for (size_t i = 0; pol && i < pol->n_hosts; i++) {
		if (strlen(pol->hosts[i].name) > IVT_REMOTE_HOST_NAME_MAX)
			IVT_WARN(WHO, "host %s: name longer than %d characters; no remote channels "
				      "with it", pol->hosts[i].name, IVT_REMOTE_HOST_NAME_MAX);
		open_if(P, pol->hosts[i].ifname);
	}
	peers_pin_hosts(P);
}

/* ---- the broker's remote bridge ----------------------------------------- */

/* Open channel `channel` at host's ivtd for `end` (a dialer bridge). */
static int dial(struct ivt_peers *P, struct ivt_reg_end *end, const char *channel,
		const struct ivt_policy_host *host, uint64_t ring_size, uint64_t max_ring_size,
		int message, const char *direct, char *why, size_t why_len)
{
	char cwhy[240];
	int carrier;
	struct peers_if *ifc = peers_carrier_for(P, host, &carrier, cwhy, sizeof(cwhy));
	peers_note_dial(P, host->name, host->ifname, ifc ? carrier : -1, cwhy);
	if (!ifc) {
		snprintf(why, why_len, "host %s: %s", host->name, cwhy);
		return -ENOTSUP;
	}
	struct bridge *br = bridge_new(P, ifc, BRIDGE_DIALER, host->name);
	if (!br) {
		snprintf(why, why_len, "too many bridged channels");
		return -EBUSY;
	}
	br->lend = end;
	snprintf(br->channel, sizeof(br->channel), "%s", channel);
	br->who = end->who;
	br->ring_size = ring_size;
	br->max_ring_size = max_ring_size;
	br->message = message;
	/* The connector's own end of an RDMA plugin, if the rule names one
	 * (checked when offering: bridge_direct.c). */
	if (direct && *direct && strcmp(direct, "auto") && strcmp(direct, "shm"))
		snprintf(br->dx.backend, sizeof(br->dx.backend), "%s", direct);
	int rc = slp_connect(ifc->loop.engine, host->mac, IVT_REMOTE_EP, 0, br, &br->conn);
	if (rc < 0) {
		br->conn = NULL;
		br->lend = NULL;
		bridge_free(br);
		snprintf(why, why_len, "host %s: cannot connect: %s", host->name, strerror(-rc));
		return rc;
	}
	peers_if_schedule(ifc);
	return 0;
}

static int remote_open(void *arg, struct ivt_reg_end *end, const struct ivt_end_request *req,
		       const struct ivt_policy_host *host, uint64_t max_ring_size, char *why,
		       size_t why_len)
{
	if (!ivt_identity_is_local(&end->who)) {
		snprintf(why, why_len, "identity %s cannot be bridged", IVT_ID_S(&end->who));
		return -EACCES;
	}
	return dial(arg, end, req->name, host, req->ring_size, max_ring_size, req->message,
		    req->backend, why, why_len);
}

int ivt_peers_dial(struct ivt_peers *P, struct ivt_reg_end *end, const char *host_name,
		   const char *channel, uint64_t ring_size, char *why, size_t why_len)
{
	const struct ivt_policy_host *host =
		ivt_policy_find_host(ivt_broker_policy(P->cfg.broker), host_name);
	if (!host) {
		snprintf(why, why_len, "host %s is not in the policy's \"hosts\"", host_name);
		return -ENOENT;
	}
	if (end->who.kind != IVT_IDENTITY_DAEMON) {
		snprintf(why, why_len, "only ivtd itself dials this way");
		return -EACCES;
	}
	return dial(P, end, channel, host, ring_size, 0, 0, NULL, why, why_len);
}

static struct bridge *dialer_of(struct ivt_peers *P, const struct ivt_reg_end *end)
{
	for (struct bridge *b = P->bridges; b; b = b->next)
		if (b->role == BRIDGE_DIALER && b->lend == end)
			return b;
	return NULL;
}

static int remote_setup(void *arg, struct ivt_reg_end *end, const void *blob, size_t len,
			int nfds)
{
	struct bridge *br = dialer_of(arg, end);
	return br ? direct_client_setup(br, blob, len, nfds) : -ENOTCONN;
}

static void remote_gone(void *arg, struct ivt_reg_end *end, int graceful)
{
	struct bridge *br = dialer_of(arg, end);
	if (br)
		bridge_local_gone(br, graceful);
}

void ivt_peers_hangup(struct ivt_peers *P, struct ivt_reg_end *end, int graceful)
{
	remote_gone(P, end, graceful);
}

/* ---- house-keeping ------------------------------------------------------ */

static void on_house(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ivt_peers *P = arg;
	uint64_t now = peers_now_ms();
	for (struct bridge *b = P->bridges; b; b = b->next)
		bridge_housekeeping(b, now);
	for (struct bridge **pp = &P->bridges; *pp;) {
		struct bridge *b = *pp;
		if (b->dead) {
			struct peers_if *ifc = b->ifc;
			bridge_free(b); /* unlinks *pp */
			peers_if_schedule(ifc);
		} else {
			pp = &b->next;
		}
	}
}

/* ---- lifecycle ---------------------------------------------------------- */

struct ivt_peers *ivt_peers_new(const struct ivt_peers_cfg *cfg)
{
	struct ivt_peers *P = calloc(1, sizeof(*P));
	if (!P)
		return NULL;
	P->cfg = *cfg;
	P->next_id = 1;
	registry_remote_init(P);
	P->house_ev = event_new(cfg->base, -1, EV_PERSIST, on_house, P);
	struct timeval tv = {.tv_sec = 0, .tv_usec = HOUSE_MS * 1000};
	if (!P->house_ev || event_add(P->house_ev, &tv) != 0) {
		if (P->house_ev)
			event_free(P->house_ev);
		free(P);
		return NULL;
	}
	ivt_peers_policy_changed(P);
	struct ivt_broker_remote r = {
		.arg = P, .open = remote_open, .gone = remote_gone, .setup = remote_setup,
	};
	ivt_broker_set_remote(cfg->broker, &r);
	return P;
}

void ivt_peers_free(struct ivt_peers *P)
{
	if (!P)
		return;
	ivt_broker_set_remote(P->cfg.broker, NULL);
	while (P->bridges) {
		struct bridge *b = P->bridges;
		if (b->role == BRIDGE_ACCEPTOR && b->requested && !b->gone_reported) {
			b->gone_reported = 1;
			P->reg.cb.gone(P->reg.cb.arg, &b->end, 0);
		}
		bridge_free(b); /* RESETs the peer */
	}
	while (P->ifs) {
		struct peers_if *i = P->ifs;
		P->ifs = i->next;
		close_if(i);
	}
	event_free(P->house_ev);
	free(P->notes);
	free(P);
}

/* ---- status ------------------------------------------------------------- */


static const char *phase_name(const struct bridge *b)
{
	static const char *const names[] = {
		[PH_CONNECTING] = "connecting", [PH_HELLO] = "hello", [PH_OPEN] = "opening",
		[PH_SETUP] = "setup", [PH_XPORT] = "rdma-setup", [PH_PUMP] = "bridged", [PH_DIRECT] = "direct",
		[PH_DONE] = "closing",
	};
	return names[b->phase];
}

size_t ivt_peers_status(const struct ivt_peers *P, char *buf, size_t len)
{
	struct ivt_textbuf o;
	ivt_textbuf_init(&o, buf, len);
	const struct ivt_policy *pol = ivt_broker_policy(P->cfg.broker);
	if (!P->ifs && !P->bridges && (!pol || !pol->n_hosts))
		return 0; /* no remote configuration: nothing to say */
	ivt_textbuf_printf(&o, "host name: %s\n", ivt_broker_host_name(P->cfg.broker));
	for (const struct peers_if *i = P->ifs; i; i = i->next) {
		const struct slp_stats *s = slp_engine_stats(i->loop.engine);
		struct slp_rawsock_stats rst;
		slp_rawsock_stats(i->loop.rs, &rst);
		ivt_textbuf_printf(&o, "slurpoe %s %s: tx %" PRIu64 " rx %" PRIu64 " frames, retransmits %" PRIu64
			", resets %" PRIu64 "/%" PRIu64 ", %s%" PRIu64 " unauthenticated, %" PRIu64
			" half-open refused, %" PRIu64 " resets over the rate limit",
		    i->name, i->udp ? "udp" : "raw", s->tx_frames, s->rx_frames, s->retransmits, s->resets_sent,
		    s->resets_received, i->loop.engine && slp_engine_authenticates(i->loop.engine)
					    ? "authenticated, " : "",
		    s->rx_auth_fail, s->half_open_refused, s->resets_limited);
		if (i->udp)
			ivt_textbuf_printf(&o, ", %" PRIu64 " datagrams from refused sources", rst.rx_refused);
		else if (i->no_udp[0])
			ivt_textbuf_printf(&o, "; no UDP carrier: %s", i->no_udp);
		ivt_textbuf_printf(&o, "\n");
	}
	if (!P->ifs)
		ivt_textbuf_printf(&o, "slurpoe: no interface open (remote channels disabled)\n");
	for (size_t h = 0; pol && h < pol->n_hosts; h++) {
		size_t n = 0;
		for (const struct bridge *b = P->bridges; b; b = b->next)
			n += !strcmp(b->host, pol->hosts[h].name);
		char why[240];
		int carrier;
		const struct peers_if *ifc = peers_carrier_for(P, &pol->hosts[h], &carrier, why, sizeof(why));
		char contact[240];
		peers_contact_text(P, pol->hosts[h].name, contact, sizeof(contact));
		if (ifc)
			ivt_textbuf_printf(&o, "peer %s via %s: carrier %s (%s), %s, %zu bridged "
				"channels\n", pol->hosts[h].name, pol->hosts[h].ifname,
				ivt_carrier_name(carrier), why, contact, n);
		else
			ivt_textbuf_printf(&o, "peer %s via %s: cannot dial (%s), %zu bridged channels\n",
				pol->hosts[h].name, pol->hosts[h].ifname, why, n);
	}
	ivt_textbuf_printf(&o, "peer connections refused: %" PRIu64 " unknown MAC, %" PRIu64 " bad handshake\n",
	    P->refused_unknown_mac, P->refused_handshake);
	if (P->bridges)
		ivt_textbuf_printf(&o, "%-24s %-4s %-12s %-24s %-9s %12s %12s %s\n", "BRIDGED", "DIR", "HOST",
		    "IDENTITY", "STATE", "TO-PEER", "FROM-PEER", "OVER");
	for (const struct bridge *b = P->bridges; b; b = b->next)
		ivt_textbuf_printf(&o, "%-24s %-4s %-12s %-24s %-9s %12" PRIu64 " %12" PRIu64 " %s\n", b->channel,
		    b->role == BRIDGE_DIALER ? "to" : "from", b->host, IVT_ID_S(&b->who), phase_name(b),
		    b->l2r.total, b->r2l.total,
		    b->dx.sent_setup || b->phase == PH_DIRECT ? b->dx.backend
		    : b->xp.backend[0] ? b->xp.backend : b->ifc->udp ? "slurpoe/udp" : "slurpoe/raw");
	return o.len;
}
