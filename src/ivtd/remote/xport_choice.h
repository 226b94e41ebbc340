/* SPDX-License-Identifier: MIT */
/*
 * Whether a bridged channel may leave SLURPoE for an RDMA plugin
 * (docs/remote.md, "Bridging over RDMA"). Pure decisions over the policy
 * and the probed backends, so they are unit-tested without RDMA.
 *
 * A plugin qualifies by its capabilities, never by name: IVT_CAP_REMOTE
 * (ends on different hosts) and IVT_CAP_NET_SETUP (its setup blob can be
 * carried to another host), and its probe said yes on this host.
 */
#ifndef IVTD_XPORT_CHOICE_H
#define IVTD_XPORT_CHOICE_H

#include <stddef.h>

#include "ivtd/policy/policy.h"

#define IVT_XPORT_CAPS (IVT_CAP_REMOTE | IVT_CAP_NET_SETUP)

/* The dialer's pick for a channel to `host` among backends[0..n): the
 * first available qualifying plugin, its name in name. 0, or -ENOTSUP
 * with the reason in why (the host's entry does not say "rdma": "auto",
 * no such plugin, or none available and why not). */
int ivt_xport_pick(const struct ivt_policy_host *host, const struct ivt_backend_info *backends,
		   size_t n, char *name, size_t name_len, char *why, size_t why_len);

/* The acceptor's check of the dialer's OFFER of `name` (be: our table
 * entry for it, or NULL). 0, or -ENOTSUP with the reason in why. */
int ivt_xport_allowed(const struct ivt_policy_host *host, const char *name,
		      const struct ivt_backend_info *be, char *why, size_t why_len);

#endif
