/* SPDX-License-Identifier: MIT */
/*
 * libivt-preload.so internals (docs/preload.md). Under LD_PRELOAD, TCP
 * sockets between co-located ends become ivt channels named tcp.<port>.
 *
 * The application always holds a real fd. For an ivt stream it is one end
 * of an AF_UNIX socketpair that carries no data, only readiness:
 *  - POLLIN: we keep one "token" byte queued to it exactly while a read
 *    would not block (bytes staged or in the ring, end of stream, error);
 *  - POLLOUT: while the ring is full we fill its send buffer with filler
 *    bytes (our end never reads them), so POLLOUT drops until the monitor
 *    thread sees room and drains them.
 * So poll/select/epoll (level and edge) need no interception at all. Data
 * moves between the application's buffers and the ring directly.
 *
 * For a listener the application's fd becomes an epoll fd holding the
 * kernel listen socket (moved to a hidden fd, still listening) and the ivt
 * listener's fd: readable when either has a connection.
 *
 * Locks: fdtab_lock (fd -> psock, held only for lookups); then one
 * psock's lock around every libivt call on it. Never two psock locks.
 */
#ifndef IVT_PRELOAD_H
#define IVT_PRELOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>

#include "ivt/ivt.h"

/* ---- real libc functions (real.c) ------------------------------------ */
struct real_fns {
	int (*socket)(int, int, int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*close)(int);
	int (*shutdown)(int, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*sendfile)(int, int, off_t *, size_t);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*ioctl)(int, unsigned long, ...);
	pid_t (*fork)(void);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	int (*epoll_wait)(int, struct epoll_event *, int, int);
	int (*epoll_pwait)(int, struct epoll_event *, int, int, const sigset_t *);
};
extern struct real_fns real;

/* Set while the preload itself calls into libivt or libc, so its own
 * sockets (the control socket to ivtd) pass straight through. */
extern __thread int preload_inside;

/* IVT_PRELOAD_LOG=1: one line per decision on stderr. */
extern int preload_log_on;
void preload_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define PLOG(...) do { if (preload_log_on) preload_log(__VA_ARGS__); } while (0)

/* ---- fork (forks.c) ---------------------------------------------------- */
/* Shared (MAP_SHARED) by every process that inherited a stream. */
struct pshare {
	_Atomic uint32_t own;  /* owner's pid | OWN_USED; 0: handed off */
	atomic_int holders;    /* processes holding an fd of it */
};
#define OWN_USED 0x80000000u /* the owner used it since the last fork */
#define OWN_PID 0x7fffffffu
struct pshare *pshare_new(void);
void pshare_free(struct pshare *s);
struct psock;
/* This process owns p's channel (a stream). */
int stream_mine(struct psock *p);
/* ... and has not used it since it forked. */
int stream_fresh(struct psock *p);
/* About to use p (p->lock NOT held): 1, taking it over if nobody used it
 * since the fork; else 0 with errno ENOTCONN. */
int stream_claim(struct psock *p);
/* p's last fd in this process is gone: 1 if this process must end the
 * channel, 0 if it only lets go of its copy (handed off, or another's). */
int stream_let_go(struct psock *p);

/* ---- one intercepted socket (fdtab.c) ---------------------------------- */
enum psock_kind { PS_STREAM = 1, PS_LISTEN = 2 };

#define STAGE_SIZE 65536 /* bytes read ahead to learn whether more is there */

struct psock {
	enum psock_kind kind;
	atomic_int refs;        /* fds in the table + calls in flight + monitor */
	atomic_int nfds;        /* application fds naming it */
	atomic_int mon_refs;    /* of refs, the monitor's (in_mon, graveyard);
				 * both change under lock, or once the
				 * stream is out of the monitor for good */
	pthread_mutex_t lock;
	pid_t owner;            /* process that may use the listener (fork) */
	struct pshare *sh;      /* PS_STREAM: who uses the channel (forks.c) */
	unsigned fork_mark;     /* fdtab_streams' round */
	int doomed;             /* last fd gone: 1 we end the channel, 0 we
				 * let go of our copy (forks.c), -1 not yet */
	int appdup;             /* hidden dup of the app's fd (same file) */
	int nonblock;           /* the application's O_NONBLOCK */
	int family;
	struct sockaddr_storage local, peer;
	socklen_t local_len, peer_len;
	int kfd;                /* kernel socket kept for its port (or -1) */

	/* PS_STREAM */
	ivt_channel *ch;
	int tok;                /* our end of the socketpair */
	int token;              /* a token byte sits in the app end */
	int filled;             /* filler blocks the app end's POLLOUT */
	int tx_pending;         /* libivt holds the tail of a frame we sent */
	int in_mon;             /* ivt_fd is in the monitor's epoll (owns a
				 * ref, kept while unarmed: monitor_forget) */
	int armed;              /* the monitor waits for ivt_fd's next event */
	int direct;             /* app_ep watches ivt_fd instead (owns a ref) */
	int app_ep;             /* the one application epoll holding this fd;
				 * -1 none yet, -2 several (then: the monitor) */
	struct psock *dnext;    /* list of direct streams (epoll_calls.c) */
	int rx_lazy;            /* direct, ring empty, not armed yet: the
				 * application's epoll_wait arms it */
	int rx_armed;           /* our last ivt_recv said -EAGAIN: libivt
				 * asked the peer to kick ivt_fd already */
	int rd_eof, rd_err;     /* end of stream seen / error (negative) */
	int rd_shut, wr_shut;
	int wr_dead;            /* a send said the peer is gone (EPIPE...) */
	int so_error;           /* for getsockopt(SO_ERROR), cleared on read */
	int reset_seen;         /* the channel was reset (reset.c) */
	uint8_t *stage;
	size_t st_off, st_len;

	/* PS_LISTEN */
	ivt_listener *l;
	int kls;                /* the kernel listen socket, hidden */
	int turn;               /* alternate kernel / ivt when both have one */
};

/* Lookup takes a reference; psock_put drops it. NULL: not ours. */
struct psock *psock_get(int fd);
void psock_put(struct psock *p);
/* Drop the monitor's reference (p->lock not held): the count of it
 * (mon_refs) and the reference go together under p->lock, so a close
 * counting them sees both or neither. */
void psock_put_mon(struct psock *p);
/* Bind fd to p (takes a reference); replaces nothing: fd must be free. */
void fdtab_set(int fd, struct psock *p);
/* Unbind fd; returns its psock (reference passed to the caller) or NULL. */
struct psock *fdtab_take(int fd);
/* fd (from fdtab_take) was closed: drop its reference, and when it was
 * the last fd, stop watching the channel. */
void psock_fd_gone(struct psock *p);
/* At exit: close p's channel (ours, a stream) for good; p stays allocated. */
void psock_exit_close(struct psock *p);
/* Every stream in the table once, each with a reference (malloc'd). */
struct psock **fdtab_streams(size_t *n);
/* Hold (1) or release (0) the table's lock across fork. */
void fdtab_hold(int on);
/* This process's pid, kept across fork (getpid() is a system call). */
extern pid_t preload_pid;
/* May this process use p's channel? Else errno = ENOTCONN (docs: fork). */
int psock_usable(struct psock *p);
struct psock *psock_new(enum psock_kind kind);
/* A close-on-exec copy of fd at a hidden number (4096 up, else anywhere
 * above 2); -1 if none can be made. */
int hide_fd(int fd);
/* fd, one the preload just made for itself, moved there (the original
 * closed); fd itself when it cannot be. */
int hide_new_fd(int fd);
/* Can fd be an ivt socket (below the table size)? */
int fdtab_fits(int fd);

/* ---- readiness (readiness.c) ----------------------------------------- */
/* ivt_recv on p's channel (p->lock held), noting whether it armed. */
ssize_t ring_recv(struct psock *p, void *buf, size_t len);
/* After any receive-side change, with p->lock held: make the token match
 * the ring (probing it), arming the monitor when a wait starts. */
void rx_settle(struct psock *p);
/* The ring is full (ivt_send said -EAGAIN), p->lock held: drop POLLOUT
 * until the monitor sees room. */
void tx_blocked(struct psock *p);
/* ivt_send took bytes it could not put in the ring yet (p->lock held):
 * push them on whenever room appears. */
void tx_tail_pending(struct psock *p);
/* ivt_send took bytes and libivt holds no tail of them (p->lock held):
 * end a wait for room that this send may have outdated. */
void tx_sent(struct psock *p);
/* Block (the application asked for a blocking call) until the app fd
 * polls `events` or timeout_ms (-1: none) passed; p->lock NOT held. The
 * caller loops and looks again. 0, or -1 with errno EINTR when a signal
 * handler ran that ends the call (signal_ends_call). */
int wait_app_fd(struct psock *p, short events, int timeout_ms);

/* ---- SO_RCVTIMEO / SO_SNDTIMEO (timeo.c) -------------------------------- */
#define TIMEO_UNSET (-2LL) /* a call's deadline before its first wait */
/* ms left of the call's waiting by fd's timeout opt (SO_RCVTIMEO or
 * SO_SNDTIMEO), fixed at the first ask (*deadline TIMEO_UNSET): -1 none,
 * 0 time is up (errno = EAGAIN, as TCP's calls say then). */
int timeo_left(int fd, int opt, long long *deadline);
/* wait_app_fd bounded so (opt read from p's stand-in socket): 0 after a
 * wait, -1 with errno EAGAIN once the time is up, or EINTR as above. */
int wait_app_fd_timeo(struct psock *p, short events, int opt, long long *deadline);
/* A blocking call's wait was interrupted by a signal handler (poll's
 * EINTR): 1 when the call returns EINTR, as the kernel's would after a
 * handler without SA_RESTART; 0 when it waits on (SA_RESTART). */
int signal_ends_call(void);
/* After the end of stream, a reset or shutdown(SHUT_WR) (p->lock held):
 * the app fd polls as TCP's then (POLLRDHUP, POLLHUP). */
void hup_show(struct psock *p);
/* Take p out of the monitor (p->lock held); its ref is dropped later. */
void monitor_forget(struct psock *p);
/* Free p once the monitor can no longer hold it. */
void monitor_defer_put(struct psock *p);
/* At exit: close the channels of sockets closed but not yet released. */
void monitor_exit_close(void);
void monitor_after_fork_child(void);
/* A stream handed off at fork: make its app fd readable, so a process
 * polling it looks (p->lock held or the stream ours alone). */
void token_show(struct psock *p);
/* Taken over after a fork (p->lock held): the token and arming as the
 * ring says, whatever the other process left. */
void fork_resync(struct psock *p);
/* The peer may have acted (p->lock held): fix token and filler. */
void kick_handle(struct psock *p);
/* Watch p from the monitor if it waits for anything (p->lock held). */
void monitor_arm(struct psock *p);
/* Threads in the application's epoll_wait that may sleep: while there
 * are any, no stream is left lazy (epoll_calls.c). */
extern atomic_int epoll_sleepers;
/* Streams with rx_lazy set: epoll_wait only looks for them when any. */
extern atomic_int lazy_count;
/* p->rx_lazy (p->lock held): arm now, someone is about to sleep. */
void rx_arm_lazy(struct psock *p);
/* p's last fd is gone (p->lock held): leave the application's epoll. */
void direct_off(struct psock *p);

/* ---- a reset, as TCP shows it (reset.c) ------------------------------- */
/* A libivt error that TCP would show as a reset (ECONNRESET). */
int is_reset(int rc);
/* The channel was reset (p->lock held): so_error, and POLLERR|POLLHUP on
 * the app fd until the error is taken. Once. */
void reset_show(struct psock *p);
/* A receive ended in error rc (p->lock held): keep it, show a reset. */
void rd_error(struct psock *p, int rc);
/* The pending error (ECONNRESET) for the call that meets it first, which
 * clears it (and POLLERR); 0 if none or already taken. p->lock held. */
int reset_take(struct psock *p);

/* ---- closing with bytes not yet in the ring (linger.c) ----------------- */
/* ivt_close(ch) in a thread of its own (it may wait for room). */
void linger_close(ivt_channel *ch);
/* At exit: wait for those closes, all together, up to one deadline. */
void linger_exit_wait(void);
void linger_after_fork_child(void);

/* ---- addresses and the hello (addr.c) ----------------------------------- */
/* Is addr one of this host's own (loopback, any, an interface's)? */
int addr_is_local(const struct sockaddr *sa, socklen_t len);
int addr_port(const struct sockaddr *sa);
void addr_str(const struct sockaddr *sa, char *buf, size_t len);
/* The address alone, as text (inet_ntop). */
void addr_ip(const struct sockaddr *sa, char *ip, size_t len);
#define HELLO_SIZE 64
/* The connector's first bytes on a tcp.P channel: its own address and the
 * one it connected to, so both ends answer getsockname/getpeername as TCP. */
void hello_encode(uint8_t out[HELLO_SIZE], const struct sockaddr_storage *src,
		  const struct sockaddr_storage *dst);
int hello_decode(const uint8_t in[HELLO_SIZE], struct sockaddr_storage *src, socklen_t *slen,
		 struct sockaddr_storage *dst, socklen_t *dlen);
void channel_name(char *buf, size_t len, int port);

/* ---- stream setup (stream.c) ----------------------------------------- */
/* Make fd (the app's socket number) the app end of a new ivt stream on ch.
 * Returns the psock or NULL (errno). */
struct psock *stream_install(int fd, ivt_channel *ch, int nonblock, int cloexec);
/* Give an accepted channel a new app fd. -1 with errno on failure. */
int stream_new_fd(ivt_channel *ch, int flags, struct psock **out);

/* ---- I/O on a stream (io_calls.c); -1 with errno like the libc calls */
ssize_t stream_recv(struct psock *p, const struct iovec *iov, int cnt, int flags);
ssize_t stream_send(struct psock *p, const struct iovec *iov, int cnt, int flags);

/* ---- listener (sock_calls.c) -------------------------------------------- */
int listener_accept(struct psock *p, struct sockaddr *addr, socklen_t *alen, int flags);

#endif
