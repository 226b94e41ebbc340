/* SPDX-License-Identifier: MIT */
/* Peer daemons: which carrier each one is dialled over, pinning their
 * addresses on the UDP engines, and saying so (docs/remote.md,
 * "Carriers"). The choice itself is carrier.c's. */
#include <inttypes.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "ivtd/remote/carrier.h"
#include "ivtd/remote/peers_int.h"

#define WHO "ivtd"

/* host's note, or NULL (the status looks; it does not add). */
static struct peer_note *note_find(const struct ivt_peers *P, const char *host)
{
	for (size_t i = 0; i < P->n_notes; i++)
		if (!strcmp(P->notes[i].host, host))
			return &P->notes[i];
	return NULL;
}

static struct peer_note *note_of(struct ivt_peers *P, const char *host)
{
	struct peer_note *n = note_find(P, host);
	if (n)
		return n;
	n = realloc(P->notes, (P->n_notes + 1) * sizeof(*n));
	if (!n)
		return NULL;
	P->notes = n;
	n = &P->notes[P->n_notes++];
	memset(n, 0, sizeof(*n));
	snprintf(n->host, sizeof(n->host), "%s", host);
	n->dial = n->acc = -1;
	return n;
}

/* Which carrier a peer uses, and why: logged when it changes (a few
 * lines per reload at most), through a limiter all the same. */
static struct ivt_ratelimit carrier_rl = IVT_RATELIMIT_INIT(10000, 10);

void peers_note_dial(struct ivt_peers *P, const char *host, const char *ifname, int carrier,
		      const char *why)
{
	struct peer_note *n = note_of(P, host);
	if (n && n->dial == carrier && !strcmp(n->dial_why, why))
		return;
	if (n) {
		n->dial = carrier;
		snprintf(n->dial_why, sizeof(n->dial_why), "%s", why);
	}
	if (carrier < 0)
		ivt_log_limited(&carrier_rl, IVT_LOG_WARN, WHO, "host %s: cannot dial over %s: %s",
				host, ifname, why);
	else
		ivt_log_limited(&carrier_rl, IVT_LOG_INFO, WHO, "host %s: dialling over %s, %s "
				"carrier: %s", host, ifname, ivt_carrier_name(carrier), why);
}

void peers_note_contact(struct ivt_peers *P, const char *host, int ok, const char *why)
{
	struct peer_note *n = note_of(P, host);
	if (!n)
		return;
	if (ok) {
		n->hello_ms = peers_now_ms();
	} else {
		n->fail_ms = peers_now_ms();
		snprintf(n->fail_why, sizeof(n->fail_why), "%s", why);
	}
}

void peers_contact_text(const struct ivt_peers *P, const char *host, char *buf, size_t len)
{
	const struct peer_note *n = note_find(P, host);
	uint64_t now = peers_now_ms();
	if (!n || (!n->hello_ms && !n->fail_ms))
		snprintf(buf, len, "not contacted yet");
	else if (n->hello_ms >= n->fail_ms)
		snprintf(buf, len, "its ivtd answered %" PRIu64 " s ago", (now - n->hello_ms) / 1000);
	else
		snprintf(buf, len, "NOT ANSWERING: last dial %" PRIu64 " s ago failed (%s)%s",
			 (now - n->fail_ms) / 1000, n->fail_why,
			 n->hello_ms ? "" : ", never answered");
}

void peers_note_accept(struct ivt_peers *P, const struct peers_if *ifc, const char *host)
{
	struct peer_note *n = note_of(P, host);
	int c = ifc->udp ? IVT_CARRIER_IS_UDP : IVT_CARRIER_IS_RAW;
	if (n && n->acc == c)
		return;
	if (n)
		n->acc = c;
	ivt_log_limited(&carrier_rl, IVT_LOG_INFO, WHO, "host %s: connects to us over %s, %s carrier",
			host, ifc->name, ivt_carrier_name(c));
}

/* Pin every host's "ip" on its interface's UDP engine: frames go there,
 * and its MAC is taken from there only. What cannot be pinned is said
 * when dialling (peers_carrier_for). */
void peers_pin_hosts(struct ivt_peers *P)
{
	const struct ivt_policy *pol = ivt_broker_policy(P->cfg.broker);
	for (struct peers_if *i = P->ifs; i; i = i->next) {
		if (!i->udp)
			continue;
		slp_rawsock_udp_unpin_all(i->loop.rs);
		for (size_t h = 0; pol && h < pol->n_hosts; h++) {
			char why[160];
			if (pol->hosts[h].has_ip && !strcmp(pol->hosts[h].ifname, i->name))
				(void)slp_rawsock_udp_pin(i->loop.rs, pol->hosts[h].mac, pol->hosts[h].ip, 0,
							  why, sizeof(why));
		}
	}
}

/* The engine to dial host with (carrier.h), or NULL with the reason in
 * why; the reason for the choice in why otherwise. */
struct peers_if *peers_carrier_for(const struct ivt_peers *P, const struct ivt_policy_host *host,
				    int *carrier, char *why, size_t why_len)
{
	struct peers_if *raw = peers_find_if(P, host->ifname, 0), *udp = peers_find_if(P, host->ifname, 1);
	if (!raw) {
		snprintf(why, why_len, "no SLURPoE engine on interface %s (see the ivtd log)",
			 host->ifname);
		*carrier = -1;
		return NULL;
	}
	char pin_why[160] = "";
	int pin_bad = udp && host->has_ip &&
		      slp_rawsock_udp_pin(udp->loop.rs, host->mac, host->ip, 0, pin_why,
					  sizeof(pin_why));
	*carrier = ivt_carrier_pick(host, udp ? NULL : raw->no_udp, pin_bad ? pin_why : NULL, why,
				    why_len);
	return *carrier < 0 ? NULL : *carrier == IVT_CARRIER_IS_UDP ? udp : raw;
}
