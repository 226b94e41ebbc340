/* SPDX-License-Identifier: MIT */
/* Internal interfaces of the vchan plugin. */
#ifndef IVT_VCHAN_H
#define IVT_VCHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/spin.h"
#include "ivt/plugin.h"

struct xentoollog_logger;
struct libxenvchan;

/* An endpoint: one libxenvchan in non-blocking mode. */
struct ivt_ep {
	struct libxenvchan *ctrl;
	int is_server;
	uint32_t peer_domid;
	/* The peer's indices as last read and checked (vchan_zc.c,
	 * vchan_peek.c): while they show room enough (bytes to read), the
	 * next reserve (peek) leaves the peer's cache line alone. Only ever
	 * behind the true index, as both only grow. */
	uint32_t wr_cons_seen, rd_prod_seen;
	/* Bytes of room the last send_reserve wanted and did not find (0:
	 * any room will do): arm(IVT_EV_SEND) reports ready only then. */
	uint32_t send_want;
	struct ivt_spin spin; /* arm's spin before asking for a kick */
	struct ivt_ep_stats st;
};

/* libxenvchan 4.17 limits (tools/libs/vchan/init.c): rings are 2^10..2^20
 * bytes per direction (MAX_RING_SHIFT 20: more grant refs would not fit in
 * the shared control page); base paths must leave room for
 * "/event-channel" in a 64-byte buffer. */
#define VCHAN_RING_MIN (1u << 10)
#define VCHAN_RING_MAX (1u << 20)
#define VCHAN_RING_DEFAULT (1u << 16)
#define VCHAN_XS_PATH_MAX 49

/* vchan_plugin.c: the host's services (NULL-safe logging). */
void vchan_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* vchan_xtl.c: a xentoollog logger that forwards to vchan_log. Static
 * lifetime, because Xen library handles keep the pointer. */
struct xentoollog_logger *vchan_xtl(void);

/* vchan_srv_init.c: libxenvchan_server_init without 4.17's free of an
 * uninitialized pointer when grants or the event channel fail (see the
 * file); vchan_zero_next_block makes this thread's next malloc of size
 * return zeroed memory under glibc's allocator. */
struct libxenvchan *vchan_server_init(int domain, const char *xs_path, size_t left, size_t right);
void vchan_zero_next_block(size_t size);

/* vchan_probe.c */
int vchan_probe(char *why, size_t why_len);

/* vchan_wait.c: wait until the server published <path>/ring-ref and
 * <path>/event-channel (timeout_ms < 0: forever). 0, -ETIMEDOUT, or
 * -ENODEV/-errno when XenStore cannot be used. */
int vchan_wait_server(const char *xs_path, int timeout_ms);

/* vchan_ep.c: the endpoint ops. */
int vchan_listen(const struct ivt_ep_params *p, struct ivt_ep **out);
int vchan_accept(struct ivt_ep *ep);
int vchan_connect(const struct ivt_ep_params *p, struct ivt_ep **out);
ssize_t vchan_send(struct ivt_ep *ep, const void *buf, size_t len);
ssize_t vchan_recv(struct ivt_ep *ep, void *buf, size_t len);
int vchan_arm(struct ivt_ep *ep, unsigned events);
int vchan_poll_fd(struct ivt_ep *ep);
void vchan_ack(struct ivt_ep *ep);
void vchan_close(struct ivt_ep *ep);
int vchan_stats(struct ivt_ep *ep, struct ivt_ep_stats *st);

/* vchan_zc.c: zero-copy send, straight into libxenvchan's write ring. */
ssize_t vchan_send_reserve(struct ivt_ep *ep, size_t want, void **ptr, size_t *space);
int vchan_send_commit(struct ivt_ep *ep, size_t len);

/* vchan_peek.c: receive from libxenvchan's read ring in place. */
ssize_t vchan_recv_peek(struct ivt_ep *ep, const void **ptr);
int vchan_recv_consume(struct ivt_ep *ep, size_t len);

/* After moving an index (full barrier already issued): fire the event
 * channel if the peer asked for `bit` (VCHAN_NOTIFY_*), as libxenvchan's
 * send_notify does, clearing the request; no locked instruction when it
 * did not ask. */
void vchan_notify_if_asked(struct ivt_ep *ep, uint8_t bit);

/* Does either ring hold indices an honest peer cannot produce? */
int vchan_rings_corrupt(struct libxenvchan *c);
/* Does the peer want a notification for `bit` (VCHAN_NOTIFY_*) from us? */
int vchan_peer_wants(struct libxenvchan *c, uint8_t bit);

/* Ring size to ask libxenvchan for: 0 -> default, clamped into
 * [VCHAN_RING_MIN, VCHAN_RING_MAX] (logged), rounded up to a power of two. */
size_t vchan_ring_request(size_t asked);

/* Is path usable as a vchan base path (and, if domid >= 0, inside that
 * domain's subtree)? 0 or -EINVAL with a reason. */
int vchan_path_check(const char *path, long domid, char *why, size_t why_len);

#endif
