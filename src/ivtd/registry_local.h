/* SPDX-License-Identifier: MIT */
/* Extras of the local control-socket registry beyond registry.h. */
#ifndef IVTD_REGISTRY_LOCAL_H
#define IVTD_REGISTRY_LOCAL_H

#include <stddef.h>

#include "ivtd/registry.h"

/* Writes the daemon's status text (NUL-terminated) into buf; returns its length. */
typedef size_t (*ivt_status_fn)(void *arg, char *buf, size_t len);

/* Who answers IVT_CTRL_STATUS on a registry made by ivt_registry_local_new.
 * Without one, STATUS gets a one-line placeholder. */
void ivt_registry_local_set_status(struct ivt_registry *reg, ivt_status_fn fn, void *arg);

/* Most control connections served at once; more are accepted and closed
 * at once, so one user cannot exhaust ivtd's descriptors. */
#define IVT_LOCAL_MAX_CONNS 1024

#endif
