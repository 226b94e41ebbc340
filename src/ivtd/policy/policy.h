/* SPDX-License-Identifier: MIT */
/*
 * Channel policy: which identities may listen on / connect to which
 * channel names, over which backend, with which ring sizes. Loaded from a
 * JSON file (format: conf/README.md). A loaded policy is immutable; a
 * reload builds a new one and swaps it in only if it is entirely valid.
 */
#ifndef IVTD_POLICY_H
#define IVTD_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctrl_proto.h"
#include "common/identity.h"

#define IVT_POLICY_RING_MIN 4096ull
#define IVT_POLICY_RING_MAX (1ull << 30)
#define IVT_POLICY_ERR_MAX 512

/* One backend this host knows (a plugin found in the plugin directory),
 * as the broker probed it. The policy never names backends itself: it
 * ranks these by their capability flags (conf/README.md, "Backend auto"). */
struct ivt_backend_info {
	char name[IVT_BACKEND_NAME_MAX + 1];
	unsigned caps;   /* enum ivt_plugin_caps */
	int available;   /* loaded and probe() said yes */
	char why[200];   /* why not, when not available */
};

/* Most entries in "defaults"."prefer". */
#define IVT_POLICY_PREFER_MAX 8

/* Who a rule talks about: "*", "uid:*", "uid:N", "dom:*", "dom:N", and
 * ends on other hosts (bridged by their ivtd, docs/remote.md):
 * "host:*" (any remote end), "host:NAME" (any end on NAME), and
 * "host:NAME/" followed by any local form ("uid:N", "dom:*", "*") or
 * "ivtd" (that host's daemon); NAME may be "*". */
enum ivt_principal_kind { /* the identity kinds, plus "*" */
	IVT_PRINCIPAL_ANY = IVT_IDENTITY_NONE,
	IVT_PRINCIPAL_UID = IVT_IDENTITY_UID,
	IVT_PRINCIPAL_DOM = IVT_IDENTITY_DOM,
	IVT_PRINCIPAL_HOST = IVT_IDENTITY_HOST,
	/* "ivtd" after "host:NAME/": that host's daemon itself (its utmem
	 * lower tier, docs/utmem.md). Never a local identity. */
	IVT_PRINCIPAL_DAEMON = IVT_IDENTITY_DAEMON,
};
struct ivt_principal {
	enum ivt_principal_kind kind; /* HOST: the local part is in local_kind */
	int any_id; /* "uid:*" / "dom:*" */
	uint32_t id;
	/* IVT_PRINCIPAL_HOST only */
	char host[IVT_NAME_MAX + 1];        /* "" = any host */
	enum ivt_principal_kind local_kind; /* ANY, UID, DOM or DAEMON, with any_id and id */
};

/* Longest host name usable in remote identities (common/identity.h). */
#define IVT_REMOTE_HOST_NAME_MAX IVT_IDENTITY_HOST_MAX

/* Parse an identity pattern; 0 or -EINVAL. */
int ivt_principal_parse(const char *s, struct ivt_principal *out);
/* Does the identity match the pattern? A NONE identity matches only "*". */
int ivt_principal_match(const struct ivt_principal *pat, const struct ivt_identity *who);

/* A rule's "message" key. */
enum ivt_policy_mode {
	IVT_MODE_LISTENER = 0, /* absent: the listener's IVT_MESSAGE decides */
	IVT_MODE_STREAM,       /* false: byte stream; IVT_MESSAGE is refused */
	IVT_MODE_MESSAGE,      /* true: message mode, whatever the ends' flags */
};

struct ivt_policy_deny_pair { /* listener pattern, connector pattern */
	struct ivt_principal listener, connector;
};

struct ivt_policy_channel {
	char pattern[IVT_NAME_MAX + 1]; /* exact name or fnmatch glob */
	int index;                      /* position in "channels" */
	int line;                       /* in the source file; 0 unknown */
	struct ivt_principal *listeners;
	size_t n_listeners;
	struct ivt_principal *connectors;
	size_t n_connectors;
	struct ivt_policy_deny_pair *peers_denied;
	size_t n_peers_denied;
	char backend[IVT_BACKEND_NAME_MAX + 1]; /* "auto" or a backend name */
	uint64_t ring_size, max_ring_size;
	uint64_t quota_bytes; /* 0 = unlimited */
	int has_spill;
	char spill_to[IVT_BACKEND_NAME_MAX + 1]; /* "utmem" */
	uint64_t spill_above_bytes;
	/* "host": the channel's listener lives on that host ("" = here or
	 * anywhere local). Connectors elsewhere are bridged to it. */
	char host[IVT_NAME_MAX + 1];
	/* Listeners that accept many connections (ivt_listen): connectors
	 * offered but not yet accepted, and connections held at once. */
	uint32_t backlog, max_connections;
	/* Of the backlog, the most places one connector identity may hold
	 * (0: absent, half the backlog rounded up). */
	uint32_t backlog_per_identity;
	/* "message": the channel's mode, which both ends must agree on. */
	enum ivt_policy_mode message;
	/* "lines": false: no direct lines for this rule's listeners */
	int no_lines;
};

#define IVT_POLICY_BACKLOG_DEFAULT 128
#define IVT_POLICY_BACKLOG_MAX 4096
#define IVT_POLICY_MAX_CONNECTIONS_DEFAULT 1024
#define IVT_POLICY_MAX_CONNECTIONS_MAX 1000000

#define IVT_HOST_KEY_LEN 32

enum ivt_policy_carrier { IVT_CARRIER_AUTO, IVT_CARRIER_RAW, IVT_CARRIER_UDP };

struct ivt_policy_host {
	char name[IVT_NAME_MAX + 1];
	char ifname[16];
	uint8_t mac[6];
	char ivtd[128]; /* optional: how to reach that host's ivtd; "" if unset */
	/* optional "key_file": the key this host pair shares; every SLURPoE
	 * frame on ifname is then authenticated (docs/remote.md) */
	char key_file[256];
	uint8_t key[IVT_HOST_KEY_LEN];
	int has_key;
	/* "rdma": "auto" lets channels with this host be bridged over an RDMA
	 * plugin (IVT_CAP_NET_SETUP) when that host's entry for us says so
	 * too; "off" (default): SLURPoE only (docs/remote.md) */
	int rdma;
	int encrypt; /* optional "encrypt": payloads to/from it confidential too */
	/* optional "carrier": how this ivtd dials that host (docs/remote.md,
	 * "Carriers"): "auto" (default) UDP datagrams on port 34997 when its
	 * "ip" is known and ifname has a UDP carrier, else raw frames; "raw"
	 * (or "ethernet") raw frames; "udp" UDP datagrams only. */
	enum ivt_policy_carrier carrier;
	/* optional "ip": its IPv4 address on ifname's subnet (network order);
	 * UDP frames from its MAC are then taken from this address only */
	uint32_t ip;
	int has_ip;
	int line;
};

/* Read a host-pair key file: 64 hex digits, mode 0600 or stricter.
 * Returns 0 or a negative errno with the reason in why. */
int ivt_policy_read_key(const char *path, uint8_t key[IVT_HOST_KEY_LEN], char *why,
			size_t why_len);

struct ivt_policy {
	char source[256]; /* file name, for messages */
	char default_backend[IVT_BACKEND_NAME_MAX + 1];
	/* "defaults"."prefer": backend names auto tries first, in order. */
	char prefer[IVT_POLICY_PREFER_MAX][IVT_BACKEND_NAME_MAX + 1];
	size_t n_prefer;
	uint64_t default_ring_size, default_max_ring_size;
	struct ivt_policy_channel *channels;
	size_t n_channels;
	struct ivt_policy_host *hosts;
	size_t n_hosts;
	/* "utmem": the store ivtd serves on channel "ivt.utmem" (one per
	 * daemon, sized when ivtd starts). 0 = unlimited capacity. */
	uint64_t utmem_capacity_bytes;
	uint64_t utmem_max_value_bytes; /* default 16 MiB, at most 1 GiB */
	/* "lower_tier": a hosts[].name whose ivtd store takes what this one
	 * refuses (docs/utmem.md, "Tiering between hosts"); "" = none. */
	char utmem_lower_tier[IVT_NAME_MAX + 1];
	/* "limits": what one identity may hold in ivtd (conf/README.md). */
	struct ivt_policy_limits {
		uint64_t connections;     /* local control connections at once */
		uint64_t channels;        /* local channel ends (OPENs) at once */
		uint64_t bytes_in_flight; /* utmem request payloads being received */
		uint64_t root_reserve;    /* connections only uid 0 may take */
		/* table places in use beyond which accepted ends are let go
		 * once set up (IVT_CTRL_OK_DETACHED); _DETACH_HALF: half */
		uint64_t detach_above;
	} limits;
	int root_reserve_line; /* > 0: the policy sets root_reserve, on this line */
};

#define IVT_POLICY_LIMIT_CONNECTIONS_DEFAULT 4096
#define IVT_POLICY_LIMIT_CHANNELS_DEFAULT 2048
#define IVT_POLICY_LIMIT_ROOT_RESERVE_DEFAULT 64
/* ivtd's connection table has at most this many places (fewer with an
 * open file limit below 65536 + 256: registries/registry_local.c). */
#define IVT_POLICY_TABLE_MAX 65536

/* root_reserve as ivtd uses it with a connection table of `table`
 * places: at most half of it, so users keep a share. */
uint64_t ivt_policy_root_reserve(const struct ivt_policy_limits *l, size_t table);
/* The one wording of that cutting the policy's value, for ivtd's log and
 * ivtctl check-policy: "FILE:LINE: limits.root_reserve: N is more than
 * half of TABLE_WHAT (T places), so ivtd uses M". 1 when it does, else 0
 * (and buf ""): a default that does not fit is not the policy's doing. */
int ivt_policy_root_reserve_text(const struct ivt_policy *p, size_t table,
				 const char *table_what, char *buf, size_t len);
#define IVT_POLICY_LIMIT_DETACH_HALF UINT64_MAX /* detach_above's default */
/* bytes_in_flight defaults to this many utmem max_value_bytes */
#define IVT_POLICY_LIMIT_IN_FLIGHT_VALUES 4

#define IVT_POLICY_UTMEM_MAX_VALUE_DEFAULT (16ull << 20)
#define IVT_POLICY_UTMEM_MAX_VALUE_LIMIT (1ull << 30)

/* Load and fully validate. NULL on error with err = "file:line: path: what". */
struct ivt_policy *ivt_policy_load_file(const char *path, char *err, size_t err_len);

/* Each rule that can never apply because an earlier one matches every
 * name it does (the first match decides): fn(arg, shadowed, by). Only
 * what is certain is reported: a plain name an earlier glob matches, any
 * rule after "*", and "p*" after a shorter "q*" that p starts with. */
/* The one wording of such a finding: "channels[J] "B" can never apply:
 * channels[I] "A" (line L) comes first and matches every name it does". */
void ivt_policy_shadow_text(const struct ivt_policy_channel *shadowed,
			    const struct ivt_policy_channel *by, char *buf, size_t len);
void ivt_policy_each_shadowed(const struct ivt_policy *p,
			      void (*fn)(void *arg, const struct ivt_policy_channel *shadowed,
					 const struct ivt_policy_channel *by),
			      void *arg);
/* Same from memory; source names it in messages. */
struct ivt_policy *ivt_policy_load_string(const char *text, const char *source, char *err,
					  size_t err_len);
void ivt_policy_free(struct ivt_policy *p);

/* Reload *cur from path: on success the old policy is freed and *cur
 * replaced (returns 0); on error *cur is untouched and err says why. */
int ivt_policy_reload(struct ivt_policy **cur, const char *path, char *err, size_t err_len);

/* First rule whose pattern matches name, or NULL. */
const struct ivt_policy_channel *ivt_policy_find_channel(const struct ivt_policy *p,
							 const char *name);
const struct ivt_policy_host *ivt_policy_find_host(const struct ivt_policy *p, const char *name);
/* fn for each backend name p gives ("defaults" "backend" and "prefer", each
 * channel rule's "backend"; "auto" left out): where says which, line is
 * its line in the source (0 unknown). For checks against installed plugins. */
void ivt_policy_each_backend(const struct ivt_policy *p,
			     void (*fn)(void *arg, const char *name, const char *where, int line),
			     void *arg);

struct ivt_policy_query {
	const char *channel;
	const struct ivt_identity *identity;      /* NULL: not known */
	int is_listener;
	const char *backend;       /* requested; NULL, "" or "auto" = policy */
	uint64_t ring_size;        /* requested; 0 = policy default */
	int colocated;             /* both ends on this host */
	/* Connector only: the listener's identity and what it was granted. */
	const struct ivt_identity *peer_identity;
	const char *granted_backend;
	uint64_t granted_ring_size;
	/* The backends this host knows, in the broker's (sorted) order. */
	const struct ivt_backend_info *backends;
	size_t n_backends;
};

struct ivt_policy_decision {
	char backend[IVT_BACKEND_NAME_MAX + 1];
	uint64_t ring_size;
	int ring_adjusted;         /* requested ring was rounded/clamped; see note */
	uint64_t quota_bytes;
	int has_spill;
	char spill_to[IVT_BACKEND_NAME_MAX + 1];
	uint64_t spill_above_bytes;
	uint32_t backlog, max_connections; /* the rule's, for a listener */
	uint32_t backlog_per_identity;     /* the rule's (0: half the backlog) */
	enum ivt_policy_mode message;      /* the rule's "message" */
	int no_lines;                      /* the rule's "lines": false */
	char rule[160];            /* "channels[0] 'demo' (conf/policy.json:7)" */
	char reason[IVT_ERRMSG_MAX + 1]; /* refusal reason, or a note on success */
};

/* 0 allowed (d filled), -ENOENT no rule for the channel, -EACCES refused
 * by a rule, -ENOTSUP backend unknown/unavailable/not allowed here,
 * -EINVAL request inconsistent with the listener's grant. d->reason
 * always says why in one line that names the rule. */
int ivt_policy_decide(const struct ivt_policy *p, const struct ivt_policy_query *q,
		      struct ivt_policy_decision *d);

#endif
