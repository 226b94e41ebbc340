/* SPDX-License-Identifier: MIT */
/* A backend table as ivtd builds it on a host where every plugin the tree
 * ships probed fine: names and the capability flags those plugins declare. */
#ifndef TESTS_POLICY_ALL_BACKENDS_H
#define TESTS_POLICY_ALL_BACKENDS_H

#include "ivtd/policy/policy.h"

static const struct ivt_backend_info all_backends[] = {
	{.name = "shm", .caps = IVT_CAP_COLOCATED, .available = 1},
	{.name = "slurpoe", .caps = IVT_CAP_REMOTE | IVT_CAP_RDMA, .available = 1},
	{.name = "vchan",
	 .caps = IVT_CAP_COLOCATED | IVT_CAP_NEEDS_XEN | IVT_CAP_PEER_BOUND | IVT_CAP_XS_PATH,
	 .available = 1},
	{.name = "verbs", .caps = IVT_CAP_REMOTE | IVT_CAP_RDMA | IVT_CAP_OPT_IN, .available = 1},
};
#define ALL_BACKENDS .backends = all_backends, .n_backends = 4

#endif
