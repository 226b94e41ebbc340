/* SPDX-License-Identifier: MIT */
/*
 * The broker: ivtd's table of channels. Registries report channel ends
 * through the callbacks of ivt_broker_callbacks(); the broker asks the
 * policy, picks a backend among those that probed fine on this host,
 * answers through the end's registry ops, relays the listener's setup to
 * its client and tells each end when the other one comes or goes.
 *
 * A channel has one server end and at most one client end. A one-shot
 * listener (ivt_open) serves one client; a listener (ivt_listen) hands
 * each connector a channel of its own, which outlives the listener
 * (broker_int.h has the kinds and states). When one end goes the other
 * is told CLOSED/DIED, and the channel's memory goes when that end is
 * gone too. Single-threaded: call from the event loop.
 */
#ifndef IVTD_BROKER_H
#define IVTD_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "ivtd/policy/policy.h"
#include "ivtd/registries/registry.h"

struct ivt_broker;

/* The broker owns policy (may be NULL: everything is refused until
 * ivt_broker_set_policy). All backends start unavailable. */
struct ivt_broker *ivt_broker_new(struct ivt_policy *policy);
/* Closes held setup fds and frees every channel; registries must have
 * been destroyed first (their ends point into the broker). */
void ivt_broker_free(struct ivt_broker *b);

/* Swap in a new policy (ownership passes; the old one is freed).
 * Channels already open keep what they were granted. */
void ivt_broker_set_policy(struct ivt_broker *b, struct ivt_policy *p);
const struct ivt_policy *ivt_broker_policy(const struct ivt_broker *b);

/* Find every ivt_<name>.so in plugin_dir (NULL: ivt_plugin_dir()), load
 * and probe() it, and enter it in the backend table with its capability
 * flags; logs each result. Returns how many are available. */
int ivt_broker_probe_backends(struct ivt_broker *b, const char *plugin_dir);
/* Log a warning for each backend the policy names (a channel rule's
 * "backend", "defaults" "backend" and "prefer") that is not in the backend
 * table: a typo passes the policy's syntax check, then every open under it
 * fails with ENOTSUP. Returns how many names are unknown. */
int ivt_broker_warn_unknown_backends(const struct ivt_broker *b);
/* Enter or update one backend by hand (tests, or a registry that knows
 * better); why is kept as the reason when unavailable. -EINVAL for an
 * invalid name or a full table. */
int ivt_broker_set_backend(struct ivt_broker *b, const char *name, unsigned caps, int available,
			   const char *why);
/* The table entry for name, or NULL. */
const struct ivt_backend_info *ivt_broker_backend(const struct ivt_broker *b, const char *name);
/* The whole table (*n entries). */
const struct ivt_backend_info *ivt_broker_backends(const struct ivt_broker *b, size_t *n);

/* Refuse connectors that waited for a listener (ivt_listen) longer than
 * they said they would. Call a few times a second. */
void ivt_broker_tick(struct ivt_broker *b);

/* The callbacks to hand to ivt_registry_*_new(). */
struct ivt_broker_cb ivt_broker_callbacks(struct ivt_broker *b);

/* Human-readable status: counters, backends, one line per channel.
 * Always NUL-terminates; cuts the table (saying so) if len is short.
 * Returns the length written. */
size_t ivt_broker_status(const struct ivt_broker *b, char *buf, size_t len);

struct ivt_broker_stats {
	uint64_t requests, granted, refused;
	uint64_t setups_relayed, peers_died;
	uint64_t retries; /* OPENs repeated while nobody listened (not requests) */
	size_t channels; /* in the table now (with a listener) */
};
void ivt_broker_get_stats(const struct ivt_broker *b, struct ivt_broker_stats *st);

/* ---- channels on other hosts (docs/remote.md) ----------------------- */

/* This host's name, matched against channel rules' "host" (default:
 * gethostname()). A rule naming another host sends its connectors there. */
void ivt_broker_set_host_name(struct ivt_broker *b, const char *name);
/* ivtd is exiting: the ends its registries drop from now on are logged
 * as let go, not as died. */
void ivt_broker_stopping(struct ivt_broker *b);
const char *ivt_broker_host_name(const struct ivt_broker *b);

/* The bridge that opens such channels at the listener's host. */
struct ivt_broker_remote {
	void *arg;
	/* A local connector `end` (policy already checked here) asks for
	 * channel req->name whose listener lives on `host`. On 0 the bridge
	 * owns the answers to `end` (reply_ok + relay_setup, or reply_error;
	 * notify_peer later). A negative errno with why: refused now. */
	int (*open)(void *arg, struct ivt_reg_end *end, const struct ivt_end_request *req,
		    const struct ivt_policy_host *host, uint64_t max_ring_size, char *why,
		    size_t why_len);
	/* That end went away (only after open returned 0). */
	void (*gone)(void *arg, struct ivt_reg_end *end, int graceful);
	/* That end sent SETUP (its half of a direct queue pair, see
	 * docs/remote.md): 0 taken, or a negative errno (refused). The fds
	 * stay the caller's. */
	int (*setup)(void *arg, struct ivt_reg_end *end, const void *blob, size_t len, int nfds);
};

/* A remote connector `end` (a client end from the remote registry) hands
 * its setup to its channel's server end: the blob of a direct queue pair,
 * which never carries fds. 0 or a negative errno. */
int ivt_broker_setup_to_server(struct ivt_broker *b, struct ivt_reg_end *end, const void *blob,
			       size_t len);
/* NULL detaches. The struct is copied. */
void ivt_broker_set_remote(struct ivt_broker *b, const struct ivt_broker_remote *r);

/* ---- channels ivtd serves itself (utmem_service.c) ------------------ */

/* A connector to channel `name` gets ivtd itself as its listener; nobody
 * may listen on that name. The broker checks the policy as for any
 * connector (the rule's backend, shm for "auto", and ring size make the
 * grant), answers OPEN_OK, then calls open, which must set up ivtd's end
 * (a daemon end relaying its setup to `end`). A negative errno with why:
 * the broker answers ERROR. gone: that end went away (after open
 * returned 0). */
struct ivt_broker_service {
	char name[IVT_NAME_MAX + 1];
	void *arg;
	int (*open)(void *arg, struct ivt_reg_end *end, const char *backend, uint64_t ring_size,
		    const char *xs_path, const struct ivt_policy_decision *d, char *why,
		    size_t why_len);
	void (*gone)(void *arg, struct ivt_reg_end *end, int graceful);
};
/* NULL detaches. The struct is copied. */
void ivt_broker_set_service(struct ivt_broker *b, const struct ivt_broker_service *s);

#endif
