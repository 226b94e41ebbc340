/* SPDX-License-Identifier: MIT */
/*
 * libivt: the client side of ivt, the inter-VM transport.
 *
 * A guest (or a local process) opens a named channel; ivtd checks the
 * channel policy, picks a backend (shm, vchan, slurpoe, verbs) and brokers
 * the setup. After that, data moves between the two ends without ivtd on
 * the path for co-located backends.
 *
 * Channels are reliable, ordered byte streams in both directions, plus
 * one-sided RDMA-style writes/reads into regions the other side registered.
 *
 * Error convention (whole API): functions return a negative errno value on
 * failure (e.g. -EACCES), never -1 with errno. ivt_strerror() turns any
 * return value into text, including ivt-specific reasons the daemon sent.
 *
 * Thread safety: one ivt_channel may be used by one sending thread and one
 * receiving thread at a time. Different channels are independent.
 */
#ifndef IVT_IVT_H
#define IVT_IVT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IVT_API_VERSION 1

/* Longest channel name, without the terminating NUL. Names are
 * [A-Za-z0-9._-]+, so they can be XenStore path components. */
#define IVT_NAME_MAX 63

typedef struct ivt_channel ivt_channel;
typedef struct ivt_listener ivt_listener;

/* ivt_open() flags */
enum ivt_open_flags {
	IVT_LISTEN = 1u << 0,   /* offer the channel (server side); default: connect */
	IVT_NONBLOCK = 1u << 1, /* send/recv/rdma return -EAGAIN rather than wait */
};

struct ivt_open_opts {
	size_t struct_size;      /* set to sizeof(struct ivt_open_opts) */
	const char *backend;     /* NULL or "auto": the policy decides */
	size_t ring_size;        /* bytes per direction; 0 = policy default */
	int timeout_ms;          /* wait for daemon and peer; -1 forever, 0 = don't wait for peer */
	const char *socket_path; /* NULL: $IVT_SOCKET, else IVT_DEFAULT_SOCKET */
	/* Appended (older callers' struct_size leaves it 0). ivt_listen:
	 * IVT_NONBLOCK makes ivt_accept non-blocking; ivt_open ignores it. */
	unsigned flags;
};

#define IVT_DEFAULT_SOCKET "/run/ivt/ivtd.sock"

/* Open channel `name`. With IVT_LISTEN the call returns when the channel is
 * set up and, unless opts->timeout_ms is 0, a peer has connected: a
 * one-shot listener that serves exactly one connector (ivt_listen serves
 * many). A connector to an ivt_listen listener returns once accepted.
 * Errors: -EACCES policy refuses, -ENOENT no such channel policy or (connect)
 * nobody listening within the timeout, -EADDRINUSE already has a listener,
 * -ECONNREFUSED daemon not running or the listener closed before accepting,
 * -ENOTSUP backend unavailable here, -ETIMEDOUT (also: not accepted in
 * time), -EAGAIN / -EUSERS (ivt_listen's backlog / max_connections full),
 * -ECONNRESET (listener: its connector went away during setup),
 * -EMFILE this identity holds as many connections or channel ends as the
 * policy's "limits" allow, -EUSERS also when ivtd's connection table is
 * full (its last places are kept for root), -EPROTO malformed answer from
 * daemon or peer. ivt_strerror carries ivtd's reason. */
int ivt_open(const char *name, unsigned flags, const struct ivt_open_opts *opts,
	     ivt_channel **out);

/* ---- Listeners: one name, many connections ------------------------ */

/* Offer channel `name` to many connectors, like listen() on a socket.
 * Each connector the policy admits (checked per connector: a refused one
 * never reaches this listener) is queued until ivt_accept takes it, up to
 * the policy's "backlog"; the listener holds at most "max_connections"
 * accepted connections at once (conf/README.md). A connector beyond
 * either waits for room up to its own timeout_ms, then fails with
 * -EAGAIN (backlog full) or -EUSERS (max_connections reached); one whose
 * timeout is 0 fails at once. opts as for ivt_open (backend, ring_size
 * and socket_path apply to every connection; timeout_ms bounds only
 * ivtd's answer here; flags: IVT_NONBLOCK). Errors as ivt_open's
 * listener, and -ENOTSUP over XenStore (guests: use ivt_open). */
int ivt_listen(const char *name, const struct ivt_open_opts *opts, ivt_listener **out);

/* Take the next queued connection: a channel of its own (own ring,
 * backend and stats) that outlives the listener; blocking unless
 * ivt_set_nonblock. Waits for a connector unless the listener is
 * non-blocking (then -EAGAIN). A connector that left while queued is
 * skipped. The channel's first ivt_send/ivt_recv waits for the connector
 * to attach (non-blocking: -EAGAIN, ivt_fd wakes); a connector that
 * fails its setup makes them return -ECONNRESET. Errors: -EAGAIN,
 * -ECONNRESET (ivtd went away), -ENOMEM, -ENOTSUP, -EPROTO. One thread
 * at a time per listener. */
int ivt_accept(ivt_listener *l, ivt_channel **out);

/* Readable (POLLIN, level-triggered) while ivt_accept may succeed, or
 * will report an error; it may wake for a connector that left meanwhile
 * (ivt_accept then says -EAGAIN). */
int ivt_listener_fd(ivt_listener *l);

/* Stop listening and free l: connectors queued but not yet accepted fail
 * with -ECONNREFUSED; accepted channels live on. */
int ivt_listener_close(ivt_listener *l);

int ivt_listener_set_nonblock(ivt_listener *l, int nonblock);

/* The other end's identity as ivtd's policy saw it: "uid:1000",
 * "dom:5", "host:hostB/uid:0". "" while not known (a one-shot listener
 * before its peer connected, an ivtd older than this API, XenStore ends);
 * NULL if ch is NULL. Valid as long as ch. */
const char *ivt_peer_identity(const ivt_channel *ch);

/* Close gracefully: the peer reads what was sent, then end-of-stream. */
int ivt_close(ivt_channel *ch);

/* Send up to len bytes. Blocking: returns len once all is queued, or an error.
 * Non-blocking: returns bytes queued (maybe fewer) or -EAGAIN.
 * -EPIPE: peer closed; -ECONNRESET: peer died. Bytes already returned as
 * sent are never lost while the peer lives. */
ssize_t ivt_send(ivt_channel *ch, const void *buf, size_t len);

/* Receive up to len bytes. Returns >0 bytes, 0 at end of stream (the peer
 * closed and everything it sent was read), -EAGAIN (non-blocking, nothing
 * there), -ECONNRESET (peer died; data that had arrived was read first). */
ssize_t ivt_recv(ivt_channel *ch, void *buf, size_t len);

/* Wait for a message of exactly len bytes (loops over ivt_recv, like
 * recv(MSG_WAITALL)). Returns len, or what ivt_recv would when no byte of
 * the message came (0 at end of stream, -EAGAIN, -ECONNRESET, ...). A
 * short count (0 < n < len) is never an error and the bytes are the
 * caller's: the stream ended inside the message (the next call returns 0
 * after a close, -ECONNRESET after a death), or, on an IVT_NONBLOCK
 * channel, no more has arrived yet (call again for the rest; it never
 * blocks). */
ssize_t ivt_recv_all(ivt_channel *ch, void *buf, size_t len);

/* File descriptor that becomes readable (POLLIN) when ivt_recv, ivt_send or
 * ivt_poll_completions may make progress. Use with poll/epoll; then call
 * the operation, which returns -EAGAIN if woken spuriously. */
int ivt_fd(ivt_channel *ch);

int ivt_set_nonblock(ivt_channel *ch, int nonblock);

/* ---- One-sided operations ------------------------------------------- */

enum ivt_access {
	IVT_ACCESS_REMOTE_WRITE = 1u << 0,
	IVT_ACCESS_REMOTE_READ = 1u << 1,
};

/* Make [addr, addr+len) writable and/or readable by the peer. The key
 * (unguessable, 64 bits) is what the peer passes to ivt_rdma_write/read;
 * send it over the channel yourself. Every remote access is checked
 * against key, bounds and access bits; a bad one fails at the origin with
 * -EACCES or -ERANGE and never touches memory. The memory must stay valid
 * until ivt_deregister_region(). */
int ivt_register_region(ivt_channel *ch, void *addr, size_t len, unsigned access,
			uint64_t *key_out);
int ivt_deregister_region(ivt_channel *ch, uint64_t key);

enum ivt_opcode {
	IVT_OP_RDMA_WRITE = 1,
	IVT_OP_RDMA_READ = 2,
};

struct ivt_completion {
	uint64_t wr_id;  /* caller's cookie */
	int32_t status;  /* 0 or negative errno (-EACCES, -ERANGE, -ECONNRESET) */
	uint32_t opcode; /* enum ivt_opcode */
	uint64_t len;    /* bytes transferred */
};

/* Post a write of buf[0..len) into the peer's region `key` at `offset`.
 * buf may be reused when the call returns. Completion (success or the
 * peer's refusal) arrives through ivt_poll_completions with wr_id. */
int ivt_rdma_write(ivt_channel *ch, const void *buf, size_t len, uint64_t key,
		   uint64_t offset, uint64_t wr_id);

/* Post a read of len bytes from the peer's region into buf; buf must stay
 * valid until the completion for wr_id is reaped. */
int ivt_rdma_read(ivt_channel *ch, void *buf, size_t len, uint64_t key,
		  uint64_t offset, uint64_t wr_id);

/* Reap up to max completions; returns how many (0 if none). Remote
 * operations make progress whenever the peer calls into libivt. */
int ivt_poll_completions(ivt_channel *ch, struct ivt_completion *out, int max);

/* ---- Introspection --------------------------------------------------- */

struct ivt_stats {
	uint64_t bytes_sent, bytes_received;
	uint64_t sends, recvs;
	uint64_t notifies_sent; /* wake-ups of the peer */
	uint64_t waits;         /* times this side had to sleep */
	uint64_t ring_size;     /* bytes per direction */
	uint64_t protocol_errors; /* forged/invalid data from the peer */
};

int ivt_get_stats(ivt_channel *ch, struct ivt_stats *st);
const char *ivt_backend_name(const ivt_channel *ch);

/* Text for a return value of this API; also describes the daemon's last
 * reason for a refusal on this thread (e.g. which policy rule refused). */
const char *ivt_strerror(int err);

/* ---- Spill (policy "spill", docs/utmem.md) ------------------------- */

/* A channel whose policy rule has "spill": {"to": "utmem", "above_bytes":
 * N} does not make a sender wait when the ring is full: ivt_send keeps up
 * to N bytes in memory and parks the rest in ivtd's utmem store (over its
 * own ivt_store connection, opened on first need and subject to that
 * identity's quota there), then returns. Parked bytes go into the ring in
 * order, before anything sent later, whenever this end calls ivt_send,
 * ivt_recv, ivt_poll_completions or ivt_flush; ivt_close delivers them
 * first. A spill the store refuses (quota) is ordinary back-pressure:
 * ivt_send waits, or returns fewer bytes / -EAGAIN if non-blocking.
 * Nothing accepted is lost. Without spill (or without a store) nothing
 * changes. */

/* Wait until everything this end parked in utmem and every frame begun
 * is in the ring. Non-blocking: 0 when done, else -EAGAIN (ivt_fd wakes
 * when more fits). -EPIPE/-ECONNRESET as ivt_send; -EIO if the store lost
 * parked data (never wrong bytes instead). */
int ivt_flush(ivt_channel *ch);

/* ---- utmem: host memory for explicit put/get (docs/utmem.md) --------- */

/* ivtd serves the utmem store on this reserved channel; the policy rule
 * for it says who may use it and each identity's quota. */
#define IVT_STORE_CHANNEL "ivt.utmem"
#define IVT_UUID_LEN 16

typedef struct ivt_store ivt_store;

enum ivt_pool_flags {
	IVT_POOL_PERSISTENT = 1u << 0, /* else ephemeral: values may be dropped any time */
	IVT_POOL_SHARED = 1u << 1,     /* named by a uuid; else private to this identity */
};

enum ivt_get_flags {
	IVT_GET_TAKE = 1u << 0, /* remove the value on a hit */
};

/* Connect to the store: opens channel IVT_STORE_CHANNEL as a connector
 * (opts as for ivt_open, NULL for defaults; timeout_ms is not used: ivtd
 * always serves the store, so -ENOENT at once means no policy rule for
 * it, and ivtd's answers are awaited as with timeout 0). The handle
 * is blocking; one call at a time runs (calls from several threads are
 * serialised). Errors as ivt_open, -EPROTO if the store misbehaves. */
int ivt_store_open(const struct ivt_open_opts *opts, ivt_store **out);
/* Close; pools this connection created go away with it (private ones
 * are destroyed, shared ones detached). */
int ivt_store_close(ivt_store *st);

/* Create a pool (flags: enum ivt_pool_flags). Shared pools need a uuid
 * (not all zero): creating one that exists attaches to it (same id).
 * Private pools ignore uuid (may be NULL). -EINVAL, -EEXIST (shared uuid
 * exists with other persistence), -EMFILE (64 pools), -EUSERS. */
int ivt_pool_create(ivt_store *st, unsigned flags, const uint8_t uuid[IVT_UUID_LEN],
		    uint32_t *pool);
int ivt_pool_destroy(ivt_store *st, uint32_t pool);

/* Store (or replace) the value of (pool, oid, index), 1..max_value bytes.
 * -ENOSPC: refused (quota or capacity) - a normal result; a replaced
 * value is then gone too. -E2BIG, -EBADF no such pool, -EACCES not yours. */
int ivt_put(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index, const void *buf,
	    size_t len);
/* Copy the value into buf: its length, -ENOENT (miss; ephemeral values
 * may vanish), -EMSGSIZE (cap too small, nothing removed), -EBADF, -EACCES.
 * Gets from private ephemeral pools always take the value. */
ssize_t ivt_get(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index, void *buf,
		size_t cap, unsigned flags);
/* 0, or -ENOENT when there was nothing to remove. */
int ivt_invalidate(ivt_store *st, uint32_t pool, uint64_t oid, uint32_t index);
int ivt_invalidate_object(ivt_store *st, uint32_t pool, uint64_t oid);

struct ivt_store_stats { /* this identity's use of the store */
	uint64_t quota; /* UINT64_MAX: unlimited */
	uint64_t used;  /* bytes charged: values + 128 per value */
	uint64_t pages, pools;
	uint64_t puts, puts_refused, gets, get_hits, evicted;
};
int ivt_store_stats(ivt_store *st, struct ivt_store_stats *out);
/* Largest value the store accepts. */
size_t ivt_store_max_value(const ivt_store *st);

#ifdef __cplusplus
}
#endif
#endif /* IVT_IVT_H */
