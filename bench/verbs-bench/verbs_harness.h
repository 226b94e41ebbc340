/* SPDX-License-Identifier: MIT */
/*
 * Driving the verbs plugin outside ivtd, for tests/verbs/verbs-pair.c and
 * verbs-bench: load it the way the daemon does, carry the oob blobs over a
 * SOCK_SEQPACKET socketpair (the broker's role), and block on poll_fd the
 * way a host does (arm, poll, ack).
 */
#ifndef IVT_VERBS_HARNESS_H
#define IVT_VERBS_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ivt/plugin.h"
#include "verbs_ext.h"

struct vh_plugin {
	const struct ivt_plugin_ops *ops;
	const struct ivt_verbs_ext *ext;
};

/* Load ivt_verbs.so from $IVT_PLUGIN_DIR, else <exe dir>/../plugins. */
int vh_load(struct vh_plugin *p, char *why, size_t why_len);

struct vh_oob {
	int fd;
	struct ivt_oob oob;
};
void vh_oob_init(struct vh_oob *o, int fd);

/* Server: listen, then accept until the peer attached; client: connect. */
int vh_open(const struct vh_plugin *p, struct vh_oob *o, int is_server, size_t ring,
	    int timeout_ms, struct ivt_ep **ep);

/* Block until one of events is ready, or -ETIMEDOUT. busy: return at once
 * (the caller retries its operation, which polls the CQ). */
int vh_wait(const struct vh_plugin *p, struct ivt_ep *ep, unsigned events, int timeout_ms,
	    int busy);

/* All of buf, or a negative errno (first error). */
ssize_t vh_send_all(const struct vh_plugin *p, struct ivt_ep *ep, const void *buf, size_t len,
		    int timeout_ms, int busy);
/* Exactly len bytes; 0 at end of stream before any byte; else -errno
 * (-EPROTO for end of stream in the middle). */
ssize_t vh_recv_all(const struct vh_plugin *p, struct ivt_ep *ep, void *buf, size_t len,
		    int timeout_ms, int busy);
/* Reap exactly n completions. 0 or -errno. */
int vh_wait_completions(const struct vh_plugin *p, struct ivt_ep *ep,
			struct ivt_verbs_completion *out, int n, int timeout_ms, int busy);

double vh_now(void);

/* The deterministic test pattern: byte at stream offset off. */
static inline uint8_t vh_pattern(uint64_t off, uint32_t seed)
{
	uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull ^ seed;
	x ^= x >> 29;
	return (uint8_t)(x >> (8 * (off & 7)));
}

#endif
