/* SPDX-License-Identifier: MIT */
/* Extras of the local control-socket registry beyond registry.h. */
#ifndef IVTD_REGISTRY_LOCAL_H
#define IVTD_REGISTRY_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "ivtd/policy/policy.h"
#include "ivtd/registries/registry.h"

/* Writes the daemon's status text (NUL-terminated) into buf; returns its length. */
typedef size_t (*ivt_status_fn)(void *arg, char *buf, size_t len);

/* Who answers IVT_CTRL_STATUS on a registry made by ivt_registry_local_new.
 * Without one, STATUS gets a one-line placeholder. */
void ivt_registry_local_set_status(struct ivt_registry *reg, ivt_status_fn fn, void *arg);

/* Per-identity limits (policy p's "limits"); until called, the documented
 * defaults. The connection table itself is sized from RLIMIT_NOFILE when
 * the registry is made (ivtd raises its soft limit to the hard one first);
 * a root_reserve above half of it is cut to half, with a warning. */
void ivt_registry_local_set_limits(struct ivt_registry *reg, const struct ivt_policy *p);

/* For tests: how many connections reaping has looked at since the
 * registry was made (each dead one once: it never scans the live). */
uint64_t ivt_registry_local_reap_visits(const struct ivt_registry *reg);

#endif
