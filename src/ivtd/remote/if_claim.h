/* SPDX-License-Identifier: MIT */
/*
 * One ivtd per network interface (docs/remote.md, "One ivtd per
 * interface"). Two daemons on one interface both answer its MAC on the
 * peer endpoint and take each other's frames, so the second must know.
 * Each ivtd claims the interfaces it serves with a listening abstract
 * AF_UNIX socket "@ivtd/if/NAME": abstract names live per network
 * namespace, as interface names do, and go with the process however it
 * ends. The holder's SO_PEERCRED tells an ivtd as trusted as this one
 * (root, or our own uid) from a local user squatting the name, who must
 * not be able to switch remote channels off.
 */
#ifndef IVTD_IF_CLAIM_H
#define IVTD_IF_CLAIM_H

#include <stddef.h>

/* The claim's listening fd (non-blocking; ivt_if_claim_drain when it is
 * readable), or:
 *   -EADDRINUSE  another ivtd holds it; why names its pid;
 *   other -errno the claim cannot be had or checked (a squatter, no
 *                sockets): why says so, and the interface is served all
 *                the same, unclaimed. */
int ivt_if_claim(const char *ifname, char *why, size_t why_len);

/* Accept and close what knocked on a claim (another ivtd asking who
 * holds it), so that the next one finds room too. */
void ivt_if_claim_drain(int fd);

#endif
