/* SPDX-License-Identifier: MIT */
/*
 * The ivt transport plugin ABI.
 *
 * A plugin is a shared object named ivt_<name>.so in the plugin directory
 * that exports one function:
 *
 *     const struct ivt_plugin_ops *ivt_plugin_entry(uint32_t host_abi);
 *
 * The host (ivtd or libivt) checks ops->abi_version == IVT_PLUGIN_ABI_VERSION
 * and refuses the plugin otherwise. Bump the version on any incompatible
 * change to the structures below; append-only growth is signalled by
 * ops_size.
 *
 * Forward compatibility (append-only growth within one ABI version):
 * fields are only ever added at the end of struct ivt_plugin_ops, and a
 * plugin sets ops_size = sizeof(struct ivt_plugin_ops) as it was when the
 * plugin was built. The host accepts any ops_size >= IVT_PLUGIN_OPS_V1_SIZE
 * (the table as ABI 1 first shipped, up to and including stats). Fields
 * that lie beyond a plugin's ops_size are absent: the loader hands the host
 * a full-size copy in which they are -EOPNOTSUPP stubs (values 0), and
 * IVT_PLUGIN_OPS_HAS(ops, field) still tells whether the plugin had them. A plugin newer than the host simply has fields the host ignores.
 * Appended so far: the native one-sided ops (rdma_write, rdma_read,
 * poll_completions, max_rdma_len); zero-copy send (send_reserve,
 * send_commit); readiness without a system call (ready); receive by
 * peek (recv_peek, recv_consume); a forked copy let go (forget); rings
 * kept for reuse (park, peer_done, renew).
 *
 * Like UCX's uct layer, a plugin is one transport behind one interface: an
 * endpoint is a reliable, ordered, bidirectional byte pipe, non-blocking in
 * every call. Waiting is done by the host with poll() on poll_fd() after
 * arm(). Framing, one-sided-operation emulation and blocking semantics live
 * once in the host, not in each plugin.
 *
 * Setup data (shared-memory fds, ring sizes, grant paths) crosses between
 * the two ends through an out-of-band channel the broker provides (struct
 * ivt_oob); everything received through it comes from the other side and is
 * untrusted.
 */
#ifndef IVT_PLUGIN_H
#define IVT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IVT_PLUGIN_ABI_VERSION 1
#define IVT_PLUGIN_ENTRY_SYMBOL "ivt_plugin_entry"
#define IVT_PLUGIN_FILE_PREFIX "ivt_"

/* Largest setup blob and fd count one oob message carries. */
#define IVT_OOB_BLOB_MAX 1024
#define IVT_OOB_FDS_MAX 4

enum ivt_log_level { IVT_LOG_ERR = 3, IVT_LOG_WARN = 4, IVT_LOG_INFO = 6, IVT_LOG_DEBUG = 7 };

/* Services the host gives a plugin. */
struct ivt_plugin_host {
	uint32_t abi_version;
	void (*log)(int level, const char *who, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
};

/* Out-of-band setup channel between the two ends, carried by the broker.
 * send: fds are duplicated by the transport; the caller keeps its copies.
 * recv: returns blob length, fills fds[0..*nfds) (caller owns them; they
 * are close-on-exec), or a negative errno (-ETIMEDOUT, -ECONNRESET if the
 * peer went away). */
struct ivt_oob {
	void *ctx;
	int (*send)(void *ctx, const void *blob, size_t len, const int *fds, int nfds);
	int (*recv)(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms);
};

/* Capabilities a plugin declares. ivtd chooses a backend by these flags
 * (and the policy's preference order), never by the plugin's name; see
 * conf/README.md, "Backend auto". */
enum ivt_plugin_caps {
	IVT_CAP_COLOCATED = 1u << 0, /* both ends on one host (shm, vchan) */
	IVT_CAP_REMOTE = 1u << 1,    /* ends on different hosts (slurpoe, verbs) */
	IVT_CAP_RDMA = 1u << 2,      /* native rdma_write/rdma_read */
	/* Crosses between Xen domains, and is only useful there: auto picks
	 * it exactly when both ends are domains (vchan). */
	IVT_CAP_NEEDS_XEN = 1u << 3,
	/* The listener's setup must name its peer's domain (libxenvchan
	 * grants the ring to one domain): the broker answers the listener
	 * only once a connector has come, with params->peer_domid set. */
	IVT_CAP_PEER_BOUND = 1u << 4,
	/* The ends meet at a XenStore path the broker assigns below the
	 * listener's domain (params->xs_path); an answer without one is a
	 * protocol error. */
	IVT_CAP_XS_PATH = 1u << 5,
	/* auto picks it only where the policy's "prefer" list names it
	 * (verbs: pins memory, needs a configured RDMA device). */
	IVT_CAP_OPT_IN = 1u << 6,
	/* The setup is a blob without fds that means the same on another
	 * host (queue pair numbers, GIDs): ivtd may carry it between hosts
	 * and bridge remote channels over this transport (docs/remote.md,
	 * "Bridging over RDMA"). */
	IVT_CAP_NET_SETUP = 1u << 7,
	/* Each end learns of its peer's close (as end of stream) and death
	 * (as a reset) from the backend itself, with no help from ivtd (shm:
	 * the ring's close mark and the wake-up socket pair's hang-up). ivtd
	 * may then stop watching an accepted end once it is set up, to save a
	 * descriptor per channel (docs/conn-setup.md, "Channels held open"). */
	IVT_CAP_PEER_FATE = 1u << 8,
};

struct ivt_ep_params {
	const char *channel;  /* channel name */
	int is_server;        /* the listening end creates shared resources */
	uint32_t local_domid; /* 0 for dom0 or a plain Linux process */
	uint32_t peer_domid;
	size_t ring_size;     /* bytes per direction; power of two, policy-checked */
	const char *xs_path;  /* IVT_CAP_XS_PATH: the path the broker assigned, else NULL */
	const struct ivt_oob *oob;
	int timeout_ms;       /* for blocking parts of setup (oob recv) */
};

/* Events for arm() */
enum ivt_ep_events {
	IVT_EV_RECV = 1u << 0, /* wake me when data arrives / peer closes */
	IVT_EV_SEND = 1u << 1, /* wake me when ring space frees up */
	IVT_EV_COMPLETION = 1u << 2, /* wake me when poll_completions has something */
};

/* A finished one-sided op (native ops only). Same layout as struct
 * ivt_completion in ivt/ivt.h. */
struct ivt_ep_completion {
	uint64_t wr_id;  /* the host's cookie from rdma_write/rdma_read */
	int32_t status;  /* 0 or negative errno (-EACCES, -ERANGE, -ECONNRESET) */
	uint32_t opcode; /* IVT_OP_RDMA_WRITE = 1 / IVT_OP_RDMA_READ = 2 */
	uint64_t len;    /* bytes transferred; 0 on error */
};

struct ivt_ep_stats {
	uint64_t bytes_sent, bytes_received;
	uint64_t notifies_sent;
	uint64_t protocol_errors; /* invalid indices, frames etc. from the peer */
	uint64_t ring_size;
};

struct ivt_ep; /* plugin-private */

/*
 * The operations, in the manner of libevent's struct eventop: each says
 * whether it is MANDATORY or OPTIONAL, what it owns and what it returns.
 * docs/plugins.md walks through shm, the reference plugin.
 *
 * Optional ops: a plugin leaves them NULL; the loader hands the host a
 * table in which every NULL optional op is a stub returning -EOPNOTSUPP
 * (init: 0, fini: nothing), so the host calls them without testing for
 * NULL, as rdma-core's dummy ops do. A table lacking a mandatory op is
 * refused at load time with a reason.
 *
 * Errors are negative errno values, never -1 with errno.
 *
 * Threads. Per endpoint, the host makes at most:
 *   - one thread in send, one in recv, at the same time (libivt sends
 *     from one application thread while another receives);
 *   - any number of threads in arm, poll_fd and ack, alongside send and
 *     recv (a sender and a receiver each sleep on poll_fd);
 *   - one thread in rdma_write / rdma_read / poll_completions /
 *     register_region / deregister_region at a time, alongside send/recv;
 *   - stats alongside any of these (it may read counters racily);
 *   - listen/connect/accept before anything else, close after everything
 *     else has returned.
 * Different endpoints are independent: nothing may be shared between
 * them without the plugin's own locking.
 *
 * Blocking. Nothing blocks except: connect (and listen), which may wait up
 * to params->timeout_ms for the other side's setup through params->oob;
 * probe, which may take a moment to look at the host; close, which may
 * linger (bounded). Everything else returns at once with -EAGAIN rather
 * than wait. A network transport moves its protocol along in these calls
 * (ack above all): the host keeps every open endpoint's poll_fd watched.
 */
struct ivt_plugin_ops {
	uint32_t abi_version; /* IVT_PLUGIN_ABI_VERSION */
	uint32_t ops_size;    /* sizeof(struct ivt_plugin_ops) at build time */
	const char *name;     /* "shm", "vchan", ... matches the file name */
	const char *description;
	uint32_t caps;        /* enum ivt_plugin_caps: how ivtd chooses it */

	/* OPTIONAL. Called once after loading, before any other op; host
	 * stays valid for the life of the process. A negative errno refuses
	 * the plugin (the reason is logged). fini is never called by ivtd or
	 * libivt today (plugins stay loaded); it exists for symmetry. */
	int (*init)(const struct ivt_plugin_host *host);
	void (*fini)(void);

	/* MANDATORY. Can this transport work on this host now? 0 yes; else a
	 * negative errno and a one-line reason in why (e.g. "no
	 * /dev/xen/gntalloc"). Must not change the host's state. */
	int (*probe)(char *why, size_t why_len);

	/* MANDATORY. Server end: create the shared resources, publish them
	 * with params->oob->send and return without waiting for the peer. On
	 * 0, *out is a new endpoint the host owns until close(); on error
	 * nothing is left behind. params and everything it points to are
	 * valid only during the call: copy what you keep. */
	int (*listen)(const struct ivt_ep_params *params, struct ivt_ep **out);
	/* MANDATORY. Server end: 0 once the peer has attached, -EAGAIN not
	 * yet (arm IVT_EV_RECV and poll poll_fd to hear of it), another
	 * negative errno if the attach failed for good. Never blocks. */
	int (*accept)(struct ivt_ep *ep);
	/* MANDATORY. Client end: take the server's resources from
	 * params->oob->recv (may block up to params->timeout_ms), validate
	 * every byte and fd (the blob comes from the other side: a forged one
	 * is refused with -EPROTO or -EINVAL, never trusted), attach. On 0,
	 * *out is the host's until close(); fds received are the plugin's to
	 * close on every path. */
	int (*connect)(const struct ivt_ep_params *params, struct ivt_ep **out);

	/* MANDATORY. The non-blocking byte pipe. send returns the bytes
	 * queued (>0, possibly fewer than len), -EAGAIN when full, -EPIPE
	 * once the peer closed, -ECONNRESET when the connection broke (e.g.
	 * the transport itself knows the peer died). recv returns the bytes
	 * read (>0), -EAGAIN when empty, 0 when the peer closed and everything
	 * it sent was read (end of stream, repeated on every later call),
	 * -ECONNRESET when it died (after the data it had sent), -EPROTO once
	 * the peer corrupted shared state (the endpoint stays broken). Bytes
	 * arrive in order, none lost or duplicated. The buffers stay the
	 * caller's. */
	ssize_t (*send)(struct ivt_ep *ep, const void *buf, size_t len);
	ssize_t (*recv)(struct ivt_ep *ep, void *buf, size_t len);

	/* MANDATORY. The wake-up, three ops used as a pair of halves:
	 *   arm(events): ask to be woken when one of events (IVT_EV_*) may
	 *     make progress. Returns the subset already ready (> 0: do not
	 *     sleep, retry the op), 0 (sleep on poll_fd), or a negative errno
	 *     (do not sleep; the next send/recv reports the error). No lost
	 *     wake-up: an event that happens after arm() returned 0 makes
	 *     poll_fd readable; one that happened before makes arm report it.
	 *   poll_fd: one fd, the same for the endpoint's life, readable when
	 *     an armed event happened (or spuriously). The plugin owns it.
	 *   ack: consume the wake-up after poll_fd was readable, so it does
	 *     not stay readable; never blocks. */
	int (*arm)(struct ivt_ep *ep, unsigned events);
	/* May stay readable for good once the peer is gone (then arm reports
	 * ready and the calls report the end). */
	int (*poll_fd)(struct ivt_ep *ep);
	/* ack never blocks, even if the peer changed the flags of an fd it
	 * was passed: a plugin does not rely on status flags of a description
	 * the peer also holds. */
	void (*ack)(struct ivt_ep *ep);

	/* OPTIONAL; MANDATORY with IVT_CAP_RDMA (and a table that has the
	 * appended ops below). Register [addr, addr+len) for the peer's
	 * one-sided ops with IVT_ACCESS_* rights; *key names it on the wire.
	 * The memory stays the caller's and must stay valid until
	 * deregister_region (or close). Without them the host emulates
	 * one-sided ops over send/recv. */
	int (*register_region)(struct ivt_ep *ep, void *addr, size_t len, unsigned access,
			       uint64_t *key);
	int (*deregister_region)(struct ivt_ep *ep, uint64_t key);

	/* MANDATORY. Close and free the endpoint: the peer sees end of stream
	 * after the data already sent. Frees everything the endpoint holds
	 * (poll_fd included); ep is invalid afterwards. Never fails; may
	 * linger, bounded, to hand the peer what was sent (slurpoe: at most
	 * 2 s), else returns at once. */
	void (*close)(struct ivt_ep *ep);
	/* OPTIONAL. Fill st (zeroed by the host) with the endpoint's
	 * counters: 0, or -EOPNOTSUPP when the plugin keeps none. */
	int (*stats)(struct ivt_ep *ep, struct ivt_ep_stats *st);

	/* ---- Appended to ABI 1: present when ops_size covers them. ---- */

	/* OPTIONAL native one-sided ops: all three set with IVT_CAP_RDMA, or
	 * all NULL (then the host emulates over send/recv). Keys are those of
	 * the peer's register_region. Non-blocking like everything else:
	 *   rdma_write: buf may be reused when it returns.
	 *   rdma_read: buf must stay valid until the op's completion.
	 * Both return 0 (exactly one completion with wr_id will follow),
	 * -EAGAIN (too many ops in flight: reap completions, retry),
	 * -EMSGSIZE (len > max_rdma_len), -EINVAL (len 0, no buf),
	 * -EACCES/-ERANGE (refused at the origin; nothing posted), -EPIPE or
	 * -ECONNRESET. A refusal by the target arrives as a completion. */
	int (*rdma_write)(struct ivt_ep *ep, const void *buf, size_t len, uint64_t key,
			  uint64_t offset, uint64_t wr_id);
	int (*rdma_read)(struct ivt_ep *ep, void *buf, size_t len, uint64_t key, uint64_t offset,
			 uint64_t wr_id);
	/* Reap up to max completions: how many (0: none yet; arm with
	 * IVT_EV_COMPLETION to be woken), or a negative errno once the
	 * connection is dead and every op has been reported. */
	int (*poll_completions)(struct ivt_ep *ep, struct ivt_ep_completion *out, int max);
	/* Largest len one rdma_write/rdma_read takes; the host splits larger
	 * ops. 0: no limit. */
	size_t max_rdma_len;

	/* ---- Appended to ABI 1: zero-copy send (optional, both or neither).
	 * The host (libivt) builds a frame in the pipe's own memory instead
	 * of handing bytes to send. NULL (or absent): the host's
	 * ivt_send_reserve returns -EOPNOTSUPP and nothing else changes. ---- */

	/* Where the next bytes of the pipe go: *ptr is writable memory at the
	 * producer position, valid until send_commit or the next
	 * send/send_reserve/close. Returns how many bytes are contiguous
	 * there (>0; it stops at the wrap of a ring), and *space the bytes
	 * the pipe could take in all (>= the return value; more means the
	 * rest lies after the wrap). want: the bytes the host needs; a
	 * plugin may skip looking at the peer's progress (a shared cache
	 * line) while it already knows that many are free, and when fewer
	 * than want are contiguous it may keep arm(IVT_EV_SEND) from
	 * reporting ready until want are free (vchan: the sender sleeps
	 * instead of waking at every byte the reader frees; a send or a
	 * reserve that fits makes any room do again). -EAGAIN when
	 * full, -EPIPE when the peer
	 * closed, -EPROTO as send. Non-blocking; changes nothing the peer
	 * can see. The host calls it from its sending thread only, and never
	 * calls send between it and send_commit. */
	ssize_t (*send_reserve)(struct ivt_ep *ep, size_t want, void **ptr, size_t *space);
	/* Publish the first len bytes at the last send_reserve's *ptr (len <=
	 * its return value; 0 publishes nothing) exactly as send of those
	 * bytes would: ordered before later data, peer woken as needed.
	 * 0 or a negative errno (then nothing was published). */
	int (*send_commit)(struct ivt_ep *ep, size_t len);

	/* ---- Appended to ABI 1: readiness without a system call. ---- */

	/* OPTIONAL. Which of events (IVT_EV_RECV, IVT_EV_SEND) recv/send
	 * could make progress on now (bytes, end of stream or an error to
	 * report; room), judged from state in memory (ring indices): no
	 * system call, no arming, no side effect the peer can see. A hint
	 * for an event loop deciding whether to call or to sleep; it may be
	 * stale the moment it returns. Any thread, alongside everything but
	 * close. Absent: the host uses arm() instead (which also arms). */
	int (*ready)(struct ivt_ep *ep, unsigned events);

	/* ---- Appended to ABI 1: receive without a call per piece (optional,
	 * both or neither). The host parses its frames from the pipe's own
	 * memory and releases what it took in one step. NULL (or absent): the
	 * host uses recv. ---- */

	/* Where the next unread bytes of the pipe are: *ptr is readable memory
	 * at the consumer position, valid until recv_consume or close.
	 * Returns how many bytes are contiguous there (>0; it stops at the
	 * wrap of a ring), or what recv would return instead of bytes
	 * (-EAGAIN, 0 at end of stream, -ECONNRESET, -EPROTO). The memory
	 * may be the peer's to write (a shared ring): the host copies every
	 * byte out exactly once and decides on the copy, never on *ptr (the
	 * XSA-155 double-fetch class). Non-blocking; changes nothing the peer
	 * can see (the host arms before it sleeps). Called from the receiving
	 * thread only, never alongside recv. */
	ssize_t (*recv_peek)(struct ivt_ep *ep, const void **ptr);
	/* Release the first len bytes at the last recv_peek's *ptr (len <=
	 * its return value) exactly as recv of them would: the peer may reuse
	 * the room and is woken if it waits for it. 0 or a negative errno. */
	int (*recv_consume)(struct ivt_ep *ep, size_t len);

	/* ---- Appended to ABI 1: a forked copy let go. ---- */

	/* OPTIONAL. Free ep in this process only: unmap its memory and close
	 * its fds, but write nothing the peer or ivtd can see (no close
	 * mark): another process that inherited the endpoint at fork goes on
	 * using it (libivt's ivt_forget). Absent: the host keeps ep as is
	 * (its memory and fds stay with this process until it exits). */
	void (*forget)(struct ivt_ep *ep);

	/* ---- Appended to ABI 1: rings kept for the next connection. ---- */

	/* OPTIONAL, all three or none (libivt's per-line ring pool,
	 * docs/conn-setup.md). park: end this connection as close does (the
	 * peer sees our end of stream) but keep the memory and the wake-up
	 * path for renew; 0, or a negative errno when ep cannot be kept (a
	 * broken ring, a peer gone): then the host closes it. A parked ep is
	 * freed with close. */
	int (*park)(struct ivt_ep *ep);
	/* A parked ep: 1 when the peer ended its connection too, 0 not yet,
	 * -ECONNRESET when its process let go of the endpoint. */
	int (*peer_done)(struct ivt_ep *ep);
	/* A parked ep both sides parked: a new connection on it. Stale
	 * wake-ups are dropped; the end that made the ring (listen) writes
	 * it fresh, the other (connect) checks it as connect does and goes
	 * live. 0, -ECONNRESET (the peer's process let go), -EPROTO. */
	int (*renew)(struct ivt_ep *ep);
};

/* The ABI-1 table as first shipped: the smallest ops_size a host accepts. */
#define IVT_PLUGIN_OPS_V1_SIZE offsetof(struct ivt_plugin_ops, rdma_write)

/* Does the table have (appended) field? Ask before reading one from a
 * table that did not come through the loader. */
#define IVT_PLUGIN_OPS_HAS(ops, field)                                                      \
	((ops)->ops_size >= offsetof(struct ivt_plugin_ops, field) + sizeof((ops)->field))

typedef const struct ivt_plugin_ops *(*ivt_plugin_entry_fn)(uint32_t host_abi);

#ifdef __cplusplus
}
#endif
#endif /* IVT_PLUGIN_H */
