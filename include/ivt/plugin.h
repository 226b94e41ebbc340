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
 * a full-size copy with them zeroed (NULL ops, 0 values), and code holding
 * a table from elsewhere asks IVT_PLUGIN_OPS_HAS(ops, field) before reading
 * one. A plugin newer than the host simply has fields the host ignores.
 * Appended so far: the native one-sided ops (rdma_write, rdma_read,
 * poll_completions, max_rdma_len).
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
 * recv: returns blob length, fills fds[0..*nfds) (caller owns them), or a
 * negative errno (-ETIMEDOUT, -ECONNRESET if the peer went away). */
struct ivt_oob {
	void *ctx;
	int (*send)(void *ctx, const void *blob, size_t len, const int *fds, int nfds);
	int (*recv)(void *ctx, void *blob, size_t cap, int *fds, int *nfds, int timeout_ms);
};

/* Capabilities a plugin declares. */
enum ivt_plugin_caps {
	IVT_CAP_COLOCATED = 1u << 0, /* both ends on one host (shm, vchan) */
	IVT_CAP_REMOTE = 1u << 1,    /* ends on different hosts (slurpoe, verbs) */
	IVT_CAP_RDMA = 1u << 2,      /* native rdma_write/rdma_read */
	IVT_CAP_NEEDS_XEN = 1u << 3, /* only useful between Xen domains */
};

struct ivt_ep_params {
	const char *channel;  /* channel name */
	int is_server;        /* the listening end creates shared resources */
	uint32_t local_domid; /* 0 for dom0 or a plain Linux process */
	uint32_t peer_domid;
	size_t ring_size;     /* bytes per direction; power of two, policy-checked */
	const char *xs_path;  /* vchan: XenStore path the broker assigned, else NULL */
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

struct ivt_plugin_ops {
	uint32_t abi_version; /* IVT_PLUGIN_ABI_VERSION */
	uint32_t ops_size;    /* sizeof(struct ivt_plugin_ops) at build time */
	const char *name;     /* "shm", "vchan", ... matches the file name */
	const char *description;
	uint32_t caps;        /* enum ivt_plugin_caps */

	/* Optional. Called once after loading. */
	int (*init)(const struct ivt_plugin_host *host);
	void (*fini)(void);

	/* Can this transport work on this host now? 0 yes; else negative
	 * errno and a one-line reason in why (e.g. "no /dev/xen/gntalloc"). */
	int (*probe)(char *why, size_t why_len);

	/* Server end: create the shared resources, publish them with
	 * params->oob->send. Returns without waiting for the peer. */
	int (*listen)(const struct ivt_ep_params *params, struct ivt_ep **out);
	/* Server end: 0 once the peer has attached, -EAGAIN not yet. */
	int (*accept)(struct ivt_ep *ep);
	/* Client end: take the server's resources from params->oob->recv,
	 * validate everything, attach. */
	int (*connect)(const struct ivt_ep_params *params, struct ivt_ep **out);

	/* Non-blocking byte pipe. send returns bytes queued (>0), -EAGAIN
	 * when full, -EPIPE when the peer closed, -ECONNRESET when the
	 * transport itself knows the peer died. recv returns bytes (>0),
	 * -EAGAIN when empty, 0 when the peer closed and all was read,
	 * -ECONNRESET when it died (after the data it had sent), -EPROTO when
	 * the peer corrupted the shared state. */
	ssize_t (*send)(struct ivt_ep *ep, const void *buf, size_t len);
	ssize_t (*recv)(struct ivt_ep *ep, void *buf, size_t len);

	/* Ask to be woken for events; returns the subset already ready
	 * (then do not sleep), 0 if the caller should poll poll_fd. */
	int (*arm)(struct ivt_ep *ep, unsigned events);
	/* May stay readable for good once the peer is gone (then arm reports
	 * ready and the calls report the end). */
	int (*poll_fd)(struct ivt_ep *ep);
	/* After poll_fd was readable: consume the wake-up. Never blocks, even
	 * if the peer changed the flags of an fd it was passed: a plugin does
	 * not rely on status flags of a description the peer also holds. */
	void (*ack)(struct ivt_ep *ep);

	/* Optional native one-sided ops (IVT_CAP_RDMA); the host emulates
	 * them over send/recv when NULL. */
	int (*register_region)(struct ivt_ep *ep, void *addr, size_t len, unsigned access,
			       uint64_t *key);
	int (*deregister_region)(struct ivt_ep *ep, uint64_t key);

	/* Graceful close: the peer sees end-of-stream after the data. */
	void (*close)(struct ivt_ep *ep);
	int (*stats)(struct ivt_ep *ep, struct ivt_ep_stats *st);

	/* ---- Appended to ABI 1: present when ops_size covers them. ---- */

	/* Optional native one-sided ops: all three set with IVT_CAP_RDMA, or
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
