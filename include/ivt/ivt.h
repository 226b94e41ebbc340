/* SPDX-License-Identifier: MIT */
/*
 * libivt: the client side of ivt, the inter-VM transport.
 *
 * A guest (or a local process) opens a named channel; ivtd checks the
 * channel policy, picks a backend (shm, vchan, slurpoe, verbs) and brokers
 * the setup. After that, data moves between the two ends without ivtd on
 * the path for co-located backends.
 *
 * Channels are reliable, ordered byte streams in both directions (or, with
 * IVT_MESSAGE, reliable ordered messages), plus one-sided RDMA-style
 * writes/reads into regions the other side registered.
 *
 * Error convention (whole API): functions return a negative errno value on
 * failure (e.g. -EACCES), never -1 with errno. ivt_strerror() turns any
 * return value into text, including ivt-specific reasons the daemon sent.
 *
 * Thread safety: one ivt_channel may be used by one sending thread and one
 * receiving thread at a time. Different channels are independent.
 *
 * Defaults, all in one place:
 *   - opts NULL in ivt_open: backend and ring size from the policy; a
 *     listener waits for its peer without limit, a connector retries for
 *     10 s (IVT_DEFAULT_OPEN_TIMEOUT_MS) while nobody listens; socket
 *     $IVT_SOCKET, else IVT_DEFAULT_SOCKET.
 *   - timeout_ms 0: do not wait for a peer, but still up to 10 s for
 *     ivtd's own answers. A connector to an ivt_listen listener then
 *     returns once it is queued there (as TCP's connect), not accepted.
 *   - blocking channel; ivt_send/ivt_recv wait without limit until
 *     ivt_set_timeouts says otherwise.
 *   - byte stream unless the listener passed IVT_MESSAGE or the policy's
 *     "message" key is true.
 *   - ivt_close waits up to 10 s for a peer that does not read what is
 *     still queued, then closes anyway (-ETIMEDOUT).
 *
 * ivtd restarts (docs/ivtd.8.md, RESTARTS): an open co-located channel
 * keeps working while ivtd is down, and the peer's close or death is
 * still reported (0 / -EPIPE / -ECONNRESET from the channel itself). Its
 * control connection re-attaches to the restarted ivtd by itself, with
 * backoff, from inside the channel's calls (never blocking them: a
 * blocking call wakes for an attempt, ivt_fd becomes readable when one
 * is due); ivtd then lists it and hears of its end again. An ivt_listen
 * listener listens again under its name once ivtd is back (see
 * ivt_accept); a one-shot listener (ivt_open IVT_LISTEN) still waiting
 * for its connector gets -ECONNRESET. An ivt_store handle reconnects on its next
 * call, but what the store held is gone.
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
 * [A-Za-z0-9._-]+, not starting with '.', so they can be XenStore path
 * components (where each '.' is written '@': docs/xenstore.md). */
#define IVT_NAME_MAX 63

typedef struct ivt_channel ivt_channel;
typedef struct ivt_listener ivt_listener;

/* ivt_open() flags */
enum ivt_open_flags {
	IVT_LISTEN = 1u << 0,   /* offer the channel (server side); default: connect */
	IVT_NONBLOCK = 1u << 1, /* send/recv/rdma return -EAGAIN rather than wait */
	/* Message mode, like SOCK_SEQPACKET: every ivt_send/ivt_sendv is one
	 * message, ivt_recv returns exactly one whole message. The channel
	 * policy's "message" key (conf/README.md) may fix the mode: true puts
	 * both ends in message mode with or without the flag, false refuses
	 * the flag with -EPROTOTYPE. Without the key the listener chooses.
	 * ivtd tells both ends the mode at setup (over the local control
	 * socket or XenStore, across hosts too), so an end is in message mode
	 * whether or not it passed the flag; an end passing IVT_MESSAGE to a
	 * byte-stream channel fails with -EPROTOTYPE and ivtd's reason. */
	IVT_MESSAGE = 1u << 2,
	/* ivt_listen (opts->flags) with bind_addr "::": like a socket with
	 * IPV6_V6ONLY, IPv6 connectors only (host_addr below). */
	IVT_V6ONLY = 1u << 3,
};

/* Largest message in message mode (larger than any ring: messages are
 * carried in ring-sized pieces and reassembled in the caller's buffer). */
#define IVT_MSG_MAX (1u << 30)
#define IVT_DEFAULT_OPEN_TIMEOUT_MS 10000

struct ivt_open_opts {
	size_t struct_size;      /* set to sizeof(struct ivt_open_opts) */
	const char *backend;     /* NULL or "auto": the policy decides */
	size_t ring_size;        /* bytes per direction; 0 = policy default */
	int timeout_ms;          /* wait for daemon and peer; -1 forever, 0 = don't wait for peer */
	const char *socket_path; /* NULL: $IVT_SOCKET, else IVT_DEFAULT_SOCKET */
	/* Appended (older callers' struct_size leaves it 0). ivt_listen:
	 * IVT_NONBLOCK makes ivt_accept non-blocking, IVT_MESSAGE puts every
	 * connection in message mode; ivt_open ignores it. */
	unsigned flags;
	/* Appended. ivt_open connectors only: the IP address (text, IPv4 or
	 * IPv6) a TCP program dialled, for channels tcp.<port>. In a Xen
	 * guest ivtd then opens tcp.<port> of the guest on this host that the
	 * toolstack gave this address (docs/xenstore.md, "TCP ports of
	 * guests"); where ivt_open would use ivtd's control socket it fails
	 * with -EHOSTUNREACH without asking ivtd (a host's own addresses are
	 * the caller's to recognise). NULL: none. */
	const char *peer_addr;
	/* Appended. ivt_listen only: the IP address (text) a TCP listener is
	 * bound to, "0.0.0.0"/"::" for any. In a Xen guest, ivtd lets other
	 * guests' peer_addr connectors reach the listener only when that is
	 * any or the address they dialled, never loopback: TCP's rules. Over
	 * ivtd's control socket: a listener of tcp.<P> bound to one address
	 * becomes tcp.<P>.<addr> (docs/preload.md, "Addresses"), reached by
	 * host_addr connectors that dialled that address. NULL: as any. */
	const char *bind_addr;
	/* Appended. ivt_open connectors of tcp.<port> only: an address of
	 * this host (the caller checked) a TCP program dialled. Over ivtd's
	 * control socket ivtd opens the listener TCP would pick: the one
	 * bound to that address, else one bound to any (bind_addr); an ivtd
	 * older than this picks by port alone. In a Xen guest ignored (the
	 * guest's own tcp.<port>). NULL: by port alone. */
	const char *host_addr;
};

#define IVT_DEFAULT_SOCKET "/run/ivt/ivtd.sock"

/* Open channel `name`. With IVT_LISTEN the call returns when the channel is
 * set up and, unless opts->timeout_ms is 0, a peer has connected: a
 * one-shot listener that serves exactly one connector (ivt_listen serves
 * many). A connector to an ivt_listen listener returns once accepted;
 * with timeout_ms 0 once queued in its backlog (or fails at once: full,
 * nobody listening), like TCP's connect: it may send at once (the bytes
 * wait in the ring, which it built) and stays queued until accepted; a
 * listener that closes first (or refuses the ring) makes its calls return
 * -ECONNREFUSED. Only for listeners whose connectors bring their rings
 * (shm between local processes, docs/conn-setup.md); others (vchan,
 * "spill" policies, an older ivtd) still answer once accepted.
 * Direct lines (docs/conn-setup.md): once ivtd admitted this process for
 * such a listener it may give both processes a line of their own; this
 * process's later connections to that name then go over it without
 * ivtd and return at once, whatever timeout_ms says, as TCP's connect
 * does while the connection waits in the accept queue: the listener has
 * not accepted yet, and one that refuses the ring or closes first makes
 * the next call that needs the peer return -ECONNREFUSED. A line whose
 * queue is full, or that is gone (listener closed, policy reloaded), is
 * passed by: the connection goes through ivtd as above. Such connections
 * are not held by ivtd (no re-attach after an ivtd restart, no PEER
 * notices: the backend tells each end the other's fate), and a line is
 * a capability: a process that passes its line's descriptor on passes
 * its identity with it, as passing an open channel would. IVT_LINES=0 in
 * the environment turns lines off for the process; the policy key
 * "lines": false for a rule. 
 * Errors: -EACCES policy refuses (a connector also at once when no rule
 * matches the name), -ENOENT no rule for a listener's name or (connect)
 * nobody listening within the timeout, -EADDRINUSE already has a listener,
 * -ECONNREFUSED daemon not running or the listener closed before accepting,
 * -ENOTSUP backend unavailable here, or an ivtd older than this libivt
 * that lacks what the call needs (IVT_MESSAGE, ivt_listen; the reason
 * says which: upgrade ivtd), -ETIMEDOUT (also: not accepted in
 * time), -EAGAIN / -EUSERS (ivt_listen's backlog / max_connections full),
 * -ECONNRESET (listener: its connector went away during setup),
 * -EHOSTUNREACH (opts->peer_addr: not in a Xen guest, or no guest on this
 * host has the address; -ENOTUNIQ: several are configured with it),
 * -EMFILE this identity holds as many connections or channel ends as the
 * policy's "limits" allow, -EUSERS also when ivtd's connection table is
 * full (its last places are kept for root), -EPROTO malformed answer from
 * daemon or peer, -EPROTOTYPE IVT_MESSAGE on a byte-stream channel. ivt_strerror carries ivtd's reason. */
int ivt_open(const char *name, unsigned flags, const struct ivt_open_opts *opts,
	     ivt_channel **out);

/* ---- Listeners: one name, many connections ------------------------ */

/* Offer channel `name` to many connectors, like listen() on a socket.
 * Each connector the policy admits (checked per connector: a refused one
 * never reaches this listener) is queued until ivt_accept takes it, up to
 * the policy's "backlog", of which the connectors of one identity hold
 * at most "backlog_per_identity" (default half); the listener holds at
 * most "max_connections" accepted connections at once (conf/README.md).
 * A connector beyond any of them waits for room up to its own
 * timeout_ms, then fails with -EAGAIN (backlog full, or its identity's
 * share of it held) or -EUSERS (max_connections reached); one whose
 * timeout is 0 fails at once. Waiting connectors are offered identities
 * in turn, so one identity's flood does not lock the others out. opts as for ivt_open (backend, ring_size
 * and socket_path apply to every connection; timeout_ms bounds only
 * ivtd's answer here; flags: IVT_NONBLOCK, IVT_MESSAGE). Errors as ivt_open's
 * listener. In a Xen guest (XenStore) each accepted connection gets a vchan
 * ring of its own, and a connector there waits in the queue at most 10 s.
 * IVT_MESSAGE reaches accepted channels and their connectors. */
int ivt_listen(const char *name, const struct ivt_open_opts *opts, ivt_listener **out);

/* Take the next queued connection: a channel of its own (own ring,
 * backend and stats) that outlives the listener. Waits for a connector
 * unless the listener is non-blocking (IVT_NONBLOCK in ivt_listen's
 * flags, or ivt_listener_set_nonblock): then -EAGAIN. A connector that left while queued is
 * skipped. The channel's first ivt_send/ivt_recv waits for the connector
 * to attach (non-blocking: -EAGAIN, ivt_fd wakes); a connector that
 * fails its setup makes them return -ECONNRESET. If ivtd goes away (a
 * restart), the listener listens again under the same name once ivtd is
 * back: connectors queued in the old ivtd are lost; a blocking
 * ivt_accept waits through the restart, a non-blocking one says -EAGAIN
 * and ivt_listener_fd wakes when the next attempt is due (50 ms, doubling
 * to 2 s). A listener given direct lines holds "max_connections" itself:
 * while that many channels it returned are open in this process (until
 * ivt_close or ivt_forget, in any thread), it takes no offer (they wait
 * in their queues; non-blocking: -EAGAIN) and a close wakes it
 * (docs/conn-setup.md). Errors: -EAGAIN, the new ivtd's refusal of the
 * name, -ENOMEM, -ENOTSUP, -EPROTO. One thread at a time per listener. */
int ivt_accept(ivt_listener *l, ivt_channel **out);

/* Readable (POLLIN, level-triggered) while ivt_accept may succeed, or
 * will report an error; it may wake for a connector that left meanwhile,
 * for ivtd's word about direct lines (a new line, lines dropped), for an
 * offer on a line that turns out bad, for a close that took the listener
 * below its max_connections, or for an attempt to listen again after
 * ivtd restarted (ivt_accept then says -EAGAIN). Not readable for offers
 * while the listener holds its max_connections. Offers on direct
 * lines (docs/conn-setup.md) wait in their lines until ivt_accept takes
 * them, one per call; the connection it returns has the identity ivtd
 * gave with the line and is not held by ivtd. The same fd for the listener's life, whatever happens
 * to ivtd (an epoll set: add it to poll/select/epoll like any fd). */
int ivt_listener_fd(ivt_listener *l);

/* The channel name l offers, as ivtd's control socket knows it: a TCP
 * port's tcp.<P> bound to one address (opts->bind_addr) is tcp.<P>.<addr>
 * (docs/preload.md, "Addresses"); over XenStore it stays the name given
 * (ivtd scopes it to the guest). NULL if l is NULL. Valid as long as l. */
const char *ivt_listener_name(const ivt_listener *l);

/* Stop listening and free l: connectors queued but not yet accepted fail
 * with -ECONNREFUSED; accepted channels live on. */
int ivt_listener_close(ivt_listener *l);

/* nonblock 1: ivt_accept returns -EAGAIN instead of waiting (poll
 * ivt_listener_fd); 0: it waits. Accepted channels do not inherit it
 * (ivt_set_nonblock each, or IVT_NONBLOCK at ivt_listen). 0 or -EINVAL. */
int ivt_listener_set_nonblock(ivt_listener *l, int nonblock);

/* The other end's identity as ivtd's policy saw it: "uid:1000",
 * "dom:5", "host:hostB/uid:0" (a connector from another host, as the
 * listener sees it); a connector to a listener on another host sees
 * "host:hostA/ivtd" (that host's ivtd: the listener's own identity stays
 * on its host). "" while not known (a one-shot listener
 * before its peer connected, an ivtd older than this API, XenStore ends);
 * NULL if ch is NULL. Valid as long as ch. A connector that brought its
 * own ring (docs/conn-setup.md) may be accepted before ivtd's word on
 * its listener arrived: the first call then waits for it (up to 2 s). */
const char *ivt_peer_identity(const ivt_channel *ch);

/* Close gracefully: the peer reads what was sent, then end-of-stream. */
int ivt_close(ivt_channel *ch);

/* ivt_shutdown's how: the values of shutdown(2)'s SHUT_RD/WR/RDWR. */
enum ivt_shut_how { IVT_SHUT_RD = 0, IVT_SHUT_WR = 1, IVT_SHUT_RDWR = 2 };

/* Half-close, as shutdown(2) on a TCP socket; the channel stays open
 * until ivt_close.
 * IVT_SHUT_WR: this end sends no more. The peer reads everything sent
 * before, then ivt_recv returns 0 (ivt_next_msg_size 0: no message comes
 * any more), while it can still send to us and we still receive.
 * Later ivt_send(v)/ivt_send_reserve here return -EPIPE; one-sided ops
 * and their answers go on. Blocking: returns once the end marker is in
 * the ring (it waits for room like ivt_send, bounded by the send
 * timeout: -ETIMEDOUT); non-blocking: never waits, the marker goes out
 * with the next flush (ivt_flush, or any receive). Again: 0.
 * IVT_SHUT_RD: this end's ivt_recv(v)/ivt_next_msg_size return 0 from
 * now on; the peer is not told (as TCP on Linux: what it sends still
 * fills the ring, and a peer sending more than a ring waits).
 * IVT_SHUT_RDWR: both. ivt_ready/ivt_fd report the ends as ready.
 * Returns 0, -EINVAL, -EOPNOTSUPP (SHUT_WR/RDWR: the other end's
 * libivt or ivtd (either host's, bridged) is older than half-close;
 * nothing changed, the reason says so), -EAGAIN (non-blocking,
 * policy "spill" with parked bytes not yet in the ring: call again),
 * -ECONNRESET/-EPROTO as ivt_send. A peer that closed already is no
 * error (0). */
int ivt_shutdown(ivt_channel *ch, int how);

/* After fork, when another process goes on using ch (its copy of the
 * channel): free this process's copy only. Nothing reaches the peer or
 * ivtd: no end of stream, no close; the control socket and the ring stay
 * open in the processes still holding them. Bytes libivt holds unsent in
 * this copy are dropped. 0 or -EINVAL. */
int ivt_forget(ivt_channel *ch);

/* Send up to len bytes. Blocking: returns len once all is queued, or an error.
 * Non-blocking: returns bytes queued (maybe fewer) or -EAGAIN.
 * -EPIPE: peer closed; -ECONNRESET: peer died. Bytes already returned as
 * sent are never lost while the peer lives. With a send timeout: the bytes
 * queued when it expired, or -ETIMEDOUT if none.
 * Message mode: one message of len bytes, sent whole or not at all:
 * returns len, -EAGAIN or -ETIMEDOUT. Non-blocking, a message once begun
 * is taken whole (the part that did not fit the ring is copied and sent
 * later). Blocking with a send timeout that expires inside the message:
 * -ETIMEDOUT, and the peer drops the part that reached it (its receive
 * never returns that message; ivt_next_msg_size may have reported its
 * size); len 0 sends nothing and returns 0;
 * -EMSGSIZE above IVT_MSG_MAX. A blocking message larger than the free
 * ring returns only as the peer reads: a single thread that sends it to a
 * channel whose other end it reads itself waits for good. */
ssize_t ivt_send(ivt_channel *ch, const void *buf, size_t len);

/* ivt_send of the concatenation of iov[0..iovcnt) (one message in message
 * mode), gathered straight into the ring: no staging copy. -EINVAL for
 * iovcnt outside 0..IOV_MAX or a total above SSIZE_MAX. */
struct iovec;
ssize_t ivt_sendv(ivt_channel *ch, const struct iovec *iov, int iovcnt);

/* Receive up to len bytes. Returns >0 bytes, 0 at end of stream (the peer
 * closed and everything it sent was read), -EAGAIN (non-blocking, nothing
 * there), -ECONNRESET (peer died; data that had arrived was read first),
 * -ETIMEDOUT (receive timeout, nothing there).
 * Message mode: exactly one whole message (its length), or -EMSGSIZE when
 * it is longer than len: nothing is consumed, ivt_next_msg_size tells the
 * size to retry with. Non-blocking (or timed out) while a large message
 * is only partly there: -EAGAIN (-ETIMEDOUT) and libivt keeps the part. */
ssize_t ivt_recv(ivt_channel *ch, void *buf, size_t len);

/* ivt_recv scattering into iov[0..iovcnt), straight from the ring. */
ssize_t ivt_recvv(ivt_channel *ch, const struct iovec *iov, int iovcnt);

/* Message mode: the length of the next message, without taking it; waits
 * like ivt_recv. 0 at end of stream, -EINVAL on a byte-stream channel,
 * errors as ivt_recv. */
ssize_t ivt_next_msg_size(ivt_channel *ch);

/* Wait for a message of exactly len bytes (loops over ivt_recv, like
 * recv(MSG_WAITALL)). Returns len, or what ivt_recv would when no byte of
 * the message came (0 at end of stream, -EAGAIN, -ECONNRESET, ...). A
 * short count (0 < n < len) is never an error and the bytes are the
 * caller's: the stream ended inside the message (the next call returns 0
 * after a close, -ECONNRESET after a death), or, on an IVT_NONBLOCK
 * channel, no more has arrived yet (call again for the rest; it never
 * blocks). Message mode: same as ivt_recv (one whole message, whatever
 * its length). */
ssize_t ivt_recv_all(ivt_channel *ch, void *buf, size_t len);

/* Per-channel limits for blocking ivt_send/ivt_sendv/ivt_send_reserve
 * (send_ms) and ivt_recv/ivt_recvv/ivt_next_msg_size (recv_ms), like
 * SO_SNDTIMEO/SO_RCVTIMEO: -1 waits without limit (the default), 0 fails
 * at once with -ETIMEDOUT rather than wait, >0 milliseconds. The limit is
 * on the call's total waiting. A timed-out stream send returns the bytes
 * it queued (the last frame's unsent tail is copied, as non-blocking), or
 * -ETIMEDOUT if none; a timed-out message send returns -ETIMEDOUT and the
 * message is not delivered (ivt_send); a timed-out receive returns
 * -ETIMEDOUT. Any time after
 * ivt_open, from any thread; takes effect at the next call. Does not apply
 * to ivt_open (opts->timeout_ms), ivt_close, ivt_flush or one-sided ops. */
int ivt_set_timeouts(ivt_channel *ch, int send_ms, int recv_ms);

/* ---- Zero-copy send ---------------------------------------------------
 * ivt_send_reserve gives the caller len bytes of the ring itself to build
 * data in; ivt_send_commit publishes them (the first n <= len of them) as
 * if ivt_send had sent them. Nothing is copied by libivt: the frame header
 * is written in front of the reservation at commit.
 *   - The space is contiguous. When too little is left before the ring's
 *     wrap, libivt fills that tail with a padding frame the receiver skips
 *     and reserves at the ring's start; so len may be at most
 *     ivt_send_reserve_max() (a little under half the ring).
 *   - Between reserve and commit the sending thread holds the channel's
 *     send side: the same thread must commit; ivt_send(v), one-sided
 *     posts and ivt_flush return -EBUSY meanwhile, ivt_close cancels the
 *     reservation. ivt_send_commit(ch, NULL, 0) or (ch, ptr, 0) cancels;
 *     (ch, NULL, n > 0) is -EINVAL and the reservation stays open (a
 *     failed ivt_send_reserve sets *ptr to NULL: do not reuse the
 *     variable that holds an open reservation).
 *   - The reservation is shared memory: the peer can read (and, on a
 *     hostile peer, write) it; build nothing there that must stay secret
 *     or must not change before commit.
 * reserve: 0, -EOPNOTSUPP (backend cannot, e.g. the remote backends,
 * or a channel with policy "spill"; shm and vchan can), -EINVAL (len 0, ptr NULL),
 * -EMSGSIZE (len above ivt_send_reserve_max), -EAGAIN (non-blocking, no room), -ETIMEDOUT,
 * -EBUSY (a reservation is open), -EPIPE, -ECONNRESET.
 * commit: 0, -EINVAL (no reservation, ptr is not the open reservation,
 * n > len, ptr NULL with n > 0).
 *
 * There is no zero-copy receive: the ring is writable by the peer while
 * we read it, so data handed out in place could change after the caller
 * checked it (the XSA-155 double-fetch class; docs/ring.md). ivt_recv
 * copies each byte out exactly once, and what the caller holds is then
 * its own. */
int ivt_send_reserve(ivt_channel *ch, size_t len, void **ptr);
int ivt_send_commit(ivt_channel *ch, void *ptr, size_t n);
size_t ivt_send_reserve_max(ivt_channel *ch);

/* File descriptor for poll/epoll (POLLIN only; it is owned by the channel,
 * do not read or close it). It is level-triggered, whatever the caller
 * consumed last:
 *  - readable whenever ivt_recv would not return -EAGAIN (data, end of
 *    stream, an error) and whenever ivt_poll_completions would return a
 *    completion, including data or completions that arrived before the
 *    first call to ivt_fd();
 *  - after ivt_send, ivt_rdma_write/read or ivt_flush returned -EAGAIN:
 *    readable once there is room again (once per -EAGAIN);
 *  - it may also be readable when every call would return -EAGAIN: after
 *    a call that made progress it stays readable until a call returns
 *    -EAGAIN (more may be there), and a wake-up may be spurious (e.g. a
 *    re-attach attempt after an ivtd restart was due). A call that
 *    returns -EAGAIN re-arms it.
 * So both loops work: poll() then one call per wake-up, or an
 * edge-triggered epoll that calls until -EAGAIN. Needs only one thread
 * waiting on it per channel. The descriptor is made on the first call
 * (a channel never asked costs no epoll set) and is the same from then
 * on; that first call may fail with -EMFILE, -ENFILE or -ENOMEM. */
int ivt_fd(ivt_channel *ch);

/* What a non-blocking call could do now, read from the ring's indices in
 * shared memory: no system call, nothing armed, ivt_fd untouched.
 * IVT_READY_RECV: ivt_recv may not return -EAGAIN (bytes, end of stream
 * or an error to report); IVT_READY_SEND: there is room (ivt_send or
 * ivt_flush may make progress). A hint for event loops deciding whether
 * to call or to sleep: a bit may be set while the call still returns
 * -EAGAIN (part of a frame, or a message not all there) and may be stale
 * the moment it returns; news from ivtd (the peer died) is not in it,
 * ivt_fd reports that. Backends that cannot tell without arming arm
 * (then ivt_fd may wake once more). Returns the mask, or -EINVAL. */
enum ivt_ready_bits { IVT_READY_RECV = 1u << 0, IVT_READY_SEND = 1u << 1 };
int ivt_ready(ivt_channel *ch);

/* About to sleep on ivt_fd for `events` (IVT_READY_*) without having
 * called until -EAGAIN (an event loop that learnt from ivt_ready that
 * nothing is there): does what such a call does before it returns
 * -EAGAIN. Clears ivt_fd's level, then asks the peer to kick for events
 * (IVT_READY_SEND counts as a send that found no room: ivt_fd wakes once
 * there is room) and re-checks. Returns the subset ready now (do not
 * sleep; call), 0 (sleep: ivt_fd wakes when one may be), -EINVAL. Costs
 * the system calls of an -EAGAIN; ivt_ready costs none. */
int ivt_arm(ivt_channel *ch, unsigned events);

int ivt_set_nonblock(ivt_channel *ch, int nonblock);

/* manual 1: for event loops that track readiness themselves with
 * ivt_ready and ivt_arm. A non-blocking ivt_recv that finds nothing in
 * the ring returns -EAGAIN without arming (no system call; it used to
 * cost 2-3), and ivt_fd has no level of its own (after progress it is
 * not made readable: an eventfd write and read less). So before
 * sleeping on ivt_fd, call ivt_arm(ch, IVT_READY_RECV) (and
 * IVT_READY_SEND to wait for room); ivt_arm also reports the peer's
 * close or death as ready. Sends still arm on -EAGAIN. The caller
 * makes one call at a time on the channel. Default 0. 0 or -EINVAL. */
int ivt_set_manual_arm(ivt_channel *ch, int manual);

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
 * reason for a refusal on this thread (e.g. which policy rule refused).
 * The returned buffer is per thread: valid until this thread's next
 * ivt_strerror/ivt_store_strerror call; other threads never touch it. */
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
 * serialised). Errors as ivt_open, -EPROTO if the store misbehaves.
 * The store lives in ivtd: when ivtd restarts, the next call on the
 * handle connects to the new one (while ivtd is down it fails at once
 * with -ECONNRESET, -EPIPE or -ECONNREFUSED) and re-creates the handle's
 * pools, empty, under the same ids: gets miss (-ENOENT), puts work. A
 * pool that cannot be re-created answers -EBADF. */
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

/* ivt_strerror for the results of the store calls above, where errnos
 * mean store things: -ENOENT is a miss (not "no such channel"), -EBADF no
 * such pool, -ENOSPC refused, ... Same per-thread buffer and reason as
 * ivt_strerror. */
const char *ivt_store_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* IVT_IVT_H */
