/* SPDX-License-Identifier: MIT */
/*
 * The utmem lower tier: ivtd's link to another host's ivtd store, which
 * takes what this store refuses ("utmem": {"lower_tier": HOST},
 * docs/utmem.md "Tiering between hosts").
 *
 * The link is ivtd's own connector of channel "ivt.utmem" at HOST,
 * opened through the peers machinery (ivt_peers_dial: a SLURPoE bridge
 * whose local leg is a shm ring inside ivtd). There it is the identity
 * "host:<our name>/ivtd", judged by HOST's rule for ivt.utmem and held to
 * its quota like any other. Over it runs an asynchronous utmem client
 * speaking libivt DATA frames: requests are queued and sent one at a time
 * (the protocol allows one outstanding request per connection) and each
 * reply calls its request's callback from the event loop. Nothing here
 * blocks: ivtd's loop also moves the bridge's bytes.
 *
 * Failures: a request unanswered for IVT_UTMEM_LOWER_TIMEOUT_MS, a
 * malformed reply, a handshake that does not finish, or the peer closing
 * or dying takes the link down: every queued request is called back with
 * an error, the generation changes (remote pool ids from before mean
 * nothing: the peer drops a dead connection's pools) and a new connection
 * is tried IVT_UTMEM_LOWER_RETRY_MS later. While the link is not up,
 * submissions fail at once with -ENOTCONN.
 *
 * Single-threaded: use from the thread that runs the event base.
 */
#ifndef IVTD_UTMEM_LOWER_H
#define IVTD_UTMEM_LOWER_H

#include <stddef.h>
#include <stdint.h>

#include "ivtd/core/broker.h"
#include "ivtd/remote/peers.h"
#include "utmem/proto.h"

#define IVT_UTMEM_LOWER_TIMEOUT_MS 5000u  /* per request, once sent */
#define IVT_UTMEM_LOWER_DIAL_MS 15000u    /* dial + HELLO */
#define IVT_UTMEM_LOWER_RETRY_MS 2000u    /* between connection attempts */

struct event_base;
struct ivt_utmem_lower;
struct ivt_utmem_lower_req;

/* err 0: rep is the peer's reply, already checked against the request
 * (rep->status is its answer; payload holds rep->len bytes). err < 0: no
 * answer (the link went down). Called from the event loop only, never
 * from inside ivt_utmem_lower_submit. */
typedef void (*ivt_utmem_lower_done)(void *arg, int err, const struct utmem_hdr *rep,
				     const uint8_t *payload);

/* Starts trying to connect to the policy's "lower_tier" host (re-read at
 * every attempt; none configured: idle). NULL when out of memory. */
struct ivt_utmem_lower *ivt_utmem_lower_new(struct event_base *base, struct ivt_broker *b,
					    struct ivt_peers *peers, const char *plugin_dir);
/* Hangs up; queued callbacks are dropped, not called. */
void ivt_utmem_lower_free(struct ivt_utmem_lower *L);

int ivt_utmem_lower_up(const struct ivt_utmem_lower *L);
/* Changes whenever the link goes down: remote pool ids are per generation. */
uint32_t ivt_utmem_lower_generation(const struct ivt_utmem_lower *L);
/* The peer store's largest value (0 while not up). */
size_t ivt_utmem_lower_max_value(const struct ivt_utmem_lower *L);

/* Queue a request: req's op, flags, pool, index, oid, aux and len are
 * used; len payload bytes are copied. done may be NULL (nobody waits:
 * invalidations, pool destroys). *handle, if asked, can be cancelled
 * until done is called. 0, or -ENOTCONN (not up), -E2BIG (payload above
 * the peer's max value), -ENOMEM. */
int ivt_utmem_lower_submit(struct ivt_utmem_lower *L, const struct utmem_hdr *req,
			   const void *payload, ivt_utmem_lower_done done, void *arg,
			   struct ivt_utmem_lower_req **handle);
/* Its callback will not be called (the request itself still goes out:
 * it may already be on the wire). */
void ivt_utmem_lower_cancel(struct ivt_utmem_lower_req *r);

/* One status line. Always NUL-terminates; returns the length written. */
size_t ivt_utmem_lower_status(const struct ivt_utmem_lower *L, char *buf, size_t len);

#endif
