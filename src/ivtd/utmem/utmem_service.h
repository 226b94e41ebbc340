/* SPDX-License-Identifier: MIT */
/*
 * ivtd serves the utmem store (docs/utmem.md) on the reserved channel
 * "ivt.utmem".
 *
 * A local process (or guest) connects to that channel; the broker checks
 * the policy rule for it as for any connector and hands the end to this
 * service, which makes ivtd the listening end (a daemon end, shm) and runs
 * a utmem protocol session over it. The channel carries libivt's frames
 * (docs/framing.md) like any other, so the client is simply libivt's
 * ivt_store API over ivt_send/ivt_recv; only DATA frames are accepted.
 *
 * Who is who in the store: each identity is one utmem domain. "dom:N" is
 * domain N (a Xen domid, < 65536); any other identity ("uid:N", remote
 * ones) gets an id of its own from 65536 up, fixed for the daemon's life,
 * so every connection of uid:1000 shares one quota: the rule's
 * "quota_bytes" (0 = unlimited), applied whenever such a connection opens.
 *
 * Lifetimes: pools belong to the connection that created them; when it
 * ends (closed or died) its private pools are destroyed and it is detached
 * from its shared ones, so a dead client's space comes back. When a Xen
 * domain dies (its ends go away ungracefully), utmem_domain_destroy()
 * also drops whatever it put into other domains' shared pools.
 *
 * Back-pressure: replies wait in a per-connection buffer; while it holds
 * more than a small high-water mark the service stops reading that
 * client's requests (it never blocks the loop). Requests are read one at
 * a time up to their boundaries, so a client that pipelines without
 * reading costs at most the mark plus one reply.
 *
 * Single-threaded: ivtd's event loop owns the store.
 */
#ifndef IVTD_UTMEM_SERVICE_H
#define IVTD_UTMEM_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "common/identity.h"
#include "ivtd/core/broker.h"

#define IVT_UTMEM_CHANNEL "ivt.utmem"
/* First store domain id for identities that are not "dom:N". */
#define IVT_UTMEM_LOCAL_DOMID_BASE 0x10000u

struct event_base;
struct ivt_utmem_service;

/* Create the store (capacity and max value from the broker's current
 * policy "utmem") and register with the broker for IVT_UTMEM_CHANNEL.
 * NULL on failure (logged). */
struct ivt_utmem_service *ivt_utmem_service_new(struct event_base *base, struct ivt_broker *b,
						const char *plugin_dir);
/* With peers, the store can stack the policy's "utmem": {"lower_tier":
 * HOST}: what it refuses goes to HOST's ivtd store over SLURPoE
 * (utmem_lower.h, utmem_conn_tier.h). Call once, before clients come. */
struct ivt_peers;
void ivt_utmem_service_set_peers(struct ivt_utmem_service *s, struct ivt_peers *peers);
/* Detaches from the broker, closes every connection, frees the store
 * (and hangs up the lower tier: free it before the peers). */
void ivt_utmem_service_free(struct ivt_utmem_service *s);

/* Store domain id for an identity; assigns one for a new non-"dom:N"
 * identity. 0 or -ENOSPC (too many identities), -EINVAL. */
int ivt_utmem_service_domain(struct ivt_utmem_service *s, const struct ivt_identity *who,
			     uint32_t *domid);

/* Status text: the store's totals and one line per connection. Always
 * NUL-terminates; returns the length written. */
size_t ivt_utmem_service_status(struct ivt_utmem_service *s, char *buf, size_t len);
/* 1 if b's policy lets anyone connect to the store (else it is "off"). */
int ivt_utmem_service_reachable(const struct ivt_broker *b);

#endif
