/* SPDX-License-Identifier: MIT */
/*
 * Closing plugin endpoints off ivtd's event loop.
 *
 * A network plugin's close may linger until the peer acknowledged what was
 * sent (verbs: until its CLOSE completes, at most 3 s; slurpoe: 2 s), and
 * ivtd must never wait for a peer. So ivtd hands such closes to a
 * short-lived thread of their own. The endpoint is no longer touched by
 * the loop: close is the last op on it (plugin.h), and each endpoint has
 * its own resources, so it may run beside the loop's other endpoints.
 */
#ifndef IVTD_CLOSER_H
#define IVTD_CLOSER_H

#include "ivt/plugin.h"

/* Run ops->close(ep) on a thread of its own, or inline if none can be
 * started (then this blocks as the plugin does). */
void ivt_closer_close(const struct ivt_plugin_ops *ops, struct ivt_ep *ep);

/* Wait up to timeout_ms for the closes still running (at exit, so they
 * finish their goodbyes and free their memory). Returns how many are
 * still running. */
int ivt_closer_drain(int timeout_ms);

#endif
