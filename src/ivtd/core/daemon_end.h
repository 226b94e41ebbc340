/* SPDX-License-Identifier: MIT */
/*
 * ivtd itself as one end of a channel toward a local client.
 *
 * Normally ivtd only brokers: it hands the listener's setup (shm: memfd +
 * a wake-up socket) to the connector and data flows between the two processes.
 * Some channels end inside ivtd instead: a channel bridged to another host
 * (remote.md: ivtd pumps bytes between a local ring and a SLURPoE
 * connection) or a service ivtd provides itself (the utmem store). A
 * daemon end is that: a plugin endpoint (any plugin, loaded with
 * ivt_plugin_load) driven from ivtd's libevent loop.
 *
 *  - Server role (ivt_daemon_end_listen): ivtd creates the shared
 *    resources (ops->listen); their setup goes to the local client end
 *    `to` through to->reg->ops->relay_setup, exactly as the broker relays
 *    a listener's setup. The broker still owns `to` and its answers
 *    (OPEN_OK before, PEER events after): the daemon end only relays.
 *  - Client role (ivt_daemon_end_connect): ivtd attaches to a local
 *    listener's resources (ops->connect) from the setup blob + fds the
 *    broker received in that listener's SETUP. Everything in them is the
 *    listener's word; the plugin validates it.
 *
 * I/O is the plugin's non-blocking byte pipe, passed through opaquely
 * (libivt's frames, RDMA emulation included, are just bytes here). The
 * owner states what it wants with ivt_daemon_end_want(); the daemon end
 * arms the plugin, watches ops->poll_fd with libevent, acks wake-ups and
 * calls readable/writable while the matching interest is set. A callback
 * must either make the call progress until -EAGAIN or drop that interest,
 * otherwise it is called again on the next loop iteration (never
 * recursively: callbacks only run from the event loop, never from inside
 * a daemon_end call).
 *
 * The peer's death shows as an error from recv/send where the plugin can
 * tell (shm: -ECONNRESET once the client's wake-up socket is closed);
 * otherwise the broker reports it (the client end's registry says it is
 * gone). The owner then closes the daemon end. While the owner wants
 * nothing, the wake-up fd is not watched (a gone peer's fd may stay
 * readable for good).
 *
 * Single-threaded: use from the thread that runs the event base.
 */
#ifndef IVTD_DAEMON_END_H
#define IVTD_DAEMON_END_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ivt/plugin.h"
#include "ivtd/registries/registry.h"

struct event_base;
struct ivt_daemon_end;

struct ivt_daemon_end_cb {
	void *arg;
	/* recv may return data, 0 (end of stream) or an error. */
	void (*readable)(void *arg, struct ivt_daemon_end *de);
	/* send may accept bytes again (or return -EPIPE: the peer closed). */
	void (*writable)(void *arg, struct ivt_daemon_end *de);
	/* Optional: the endpoint is unusable (err: -EPROTO the peer corrupted
	 * the shared state, or another negative errno). Interest is cleared;
	 * the owner should close the daemon end. Not called on end of stream. */
	void (*failed)(void *arg, struct ivt_daemon_end *de, int err);
};

struct ivt_daemon_end_params {
	const char *backend;    /* plugin name, "shm" ... */
	const char *plugin_dir; /* NULL: ivt_plugin_dir() */
	const char *channel;    /* for the plugin and logs */
	uint64_t ring_size;     /* bytes per direction, as granted */
	uint32_t local_domid;   /* 0: ivtd is dom0 / a plain process */
	uint32_t peer_domid;
	const char *xs_path;    /* vchan only; NULL otherwise */
};

/* Server role: listen with params and relay the setup to `to` (which
 * must be a client end the broker already answered OPEN_OK). Returns 0
 * and *out, or a negative errno with a one-line reason in why. */
int ivt_daemon_end_listen(struct event_base *base, const struct ivt_daemon_end_params *params,
			  struct ivt_reg_end *to, const struct ivt_daemon_end_cb *cb,
			  struct ivt_daemon_end **out, char *why, size_t why_len);

/* Client role: attach to a listener's setup (blob + fds as received in
 * its SETUP). The fds are duplicated: the caller keeps its copies. */
int ivt_daemon_end_connect(struct event_base *base, const struct ivt_daemon_end_params *params,
			   const void *blob, size_t len, const int *fds, int nfds,
			   const struct ivt_daemon_end_cb *cb, struct ivt_daemon_end **out,
			   char *why, size_t why_len);

/* Either role, the setup travelling through the caller's own oob (e.g.
 * to an ivtd on another host, docs/remote.md "Bridging over RDMA"): the
 * plugin calls oob->send / oob->recv during listen/connect, and the
 * server's oob->recv again from ivt_daemon_end_accepted(); they must not
 * block (recv: -EAGAIN until the peer's blob is there). oob->ctx must
 * stay valid for the daemon end's life. */
int ivt_daemon_end_open_oob(struct event_base *base, const struct ivt_daemon_end_params *params,
			    int is_server, const struct ivt_oob *oob,
			    const struct ivt_daemon_end_cb *cb, struct ivt_daemon_end **out,
			    char *why, size_t why_len);

/* Does the pipe take bytes now, i.e. has the far side's setup completed
 * (a network plugin: its first message arrived)? 1 yes, 0 not yet (arm
 * IVT_EV_SEND through want() to hear of it), a negative errno when it is
 * broken. Sends nothing. */
int ivt_daemon_end_up(struct ivt_daemon_end *de);

/* Server role: has the client attached yet? 1 yes, 0 not yet, or a
 * negative errno (the client broke the setup). Client role: always 1.
 * Data may be sent before the client attached; it waits in the ring. */
int ivt_daemon_end_accepted(struct ivt_daemon_end *de);

/* The plugin's byte pipe (see plugin.h): send >0 / -EAGAIN / -EPIPE;
 * recv >0 / -EAGAIN / 0 end of stream / -EPROTO. */
ssize_t ivt_daemon_end_send(struct ivt_daemon_end *de, const void *buf, size_t len);
ssize_t ivt_daemon_end_recv(struct ivt_daemon_end *de, void *buf, size_t len);

/* Zero-copy send where the plugin has it (shm, vchan: plugin.h
 * send_reserve/send_commit): write the next bytes of the pipe at *ptr,
 * then publish them with commit; nothing else may be sent in between.
 * -EOPNOTSUPP: this plugin has no such thing (use send). */
ssize_t ivt_daemon_end_send_reserve(struct ivt_daemon_end *de, size_t want, void **ptr,
				    size_t *space);
int ivt_daemon_end_send_commit(struct ivt_daemon_end *de, size_t len);

/* Replace the interest set (IVT_EV_RECV | IVT_EV_SEND, 0 = none). Cheap;
 * call it whenever what you can take changes. Readiness that already
 * exists is reported on the next loop iteration. */
void ivt_daemon_end_want(struct ivt_daemon_end *de, unsigned events);

/* Graceful close (the peer reads what was sent, then end of stream) and
 * free. Safe from inside a callback of this daemon end; NULL is a no-op. */
void ivt_daemon_end_close(struct ivt_daemon_end *de);

int ivt_daemon_end_stats(struct ivt_daemon_end *de, struct ivt_ep_stats *st);
const char *ivt_daemon_end_backend(const struct ivt_daemon_end *de);

#endif
