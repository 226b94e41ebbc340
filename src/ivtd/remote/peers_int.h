/* SPDX-License-Identifier: MIT */
/* Internals shared by peers.c, bridge.c and registry_remote.c. */
#ifndef IVTD_PEERS_INT_H
#define IVTD_PEERS_INT_H

#include <stdint.h>
#include <time.h>

#include "ivtd/core/daemon_end.h"
#include "ivtd/remote/peers.h"
#include "ivtd/registries/registry.h"
#include "ivtd/remote/remote_proto.h"
#include "loop.h"

#define BRIDGE_HANDSHAKE_MS 10000      /* a peer must open within this */
#define BRIDGE_LINGER_MS 2000          /* keep a dead channel's ring for the reader */
#define PEERS_MAX_BRIDGES 1024         /* per daemon, both roles */
#define BRIDGE_XPORT_UP_MS 5000        /* RDMA: the queue pair must carry a message by then */
#define BRIDGE_XPORT_STAGE 65536       /* RDMA pump: bytes staged toward the peer */

/* One engine: an interface and a carrier (carrier.h). An interface
 * listed in "hosts" has a raw one and, where it can, a UDP one. */
struct peers_if {
	struct peers_if *next;
	struct ivt_peers *P;
	char name[16];
	int udp;            /* the UDP carrier (SLP_RS_UDP) */
	char no_udp[240];   /* raw engine: why this interface has no UDP one ("" if it has) */
	struct slp_loop loop;
	struct event *rx_ev, *timer_ev;
	int claim_fd;       /* raw engine: our claim on the interface (if_claim.h), or -1 */
	struct event *claim_ev;
};

/* What was last logged about a peer's carrier (logged again on change). */
struct peer_note {
	char host[IVT_NAME_MAX + 1];
	int dial;           /* carrier dialled with, -1 none yet */
	char dial_why[240];
	int acc;            /* carrier it last connected to us over, -1 none */
	/* Its ivtd's last sign of life (a HELLO, either way) and our last
	 * dial that got none, in peers_now_ms; 0 never. For the status: an
	 * engine to dial with is not a peer that answers. */
	uint64_t hello_ms, fail_ms;
	char fail_why[160];
};

enum bridge_role {
	BRIDGE_DIALER,   /* connector here, listener on the peer host */
	BRIDGE_ACCEPTOR, /* listener here, connector on the peer host */
};

enum bridge_phase {
	PH_CONNECTING, /* dialer: SLURPoE connect under way */
	PH_HELLO,      /* reading the peer's HELLO */
	PH_OPEN,       /* reading OPEN (acceptor) / OPEN_OK|ERROR (dialer) */
	PH_SETUP,      /* acceptor: waiting for the local listener's setup */
	PH_XPORT,      /* both: setting up the RDMA plugin (bridge_xport.c) */
	PH_PUMP,       /* bytes flow */
	PH_DIRECT,     /* the ends have a queue pair of their own (bridge_direct.c) */
	PH_DONE,       /* nothing more to move */
};

enum side_state { SIDE_OPEN, SIDE_CLOSED, SIDE_DIED };

/* One direction of the pump. No staging: bytes go from the local ring
 * straight into SLURPoE frames, and from the receive buffer straight into
 * the ring (slp_send_fill / slp_recv_drain). */
struct stage {
	uint64_t total;
	int blocked;   /* r2l: the ring refused what the connection holds */
	int sink_err;  /* r2l: the ring's error (not -EAGAIN), 0 none */
	int draining;  /* r2l: to_ring called from slp_recv_drain */
	uint64_t direct; /* r2l: bytes that went from a frame into the ring */
};

/* A direction of the RDMA pump: ivtd copies between two plugin pipes.
 * Toward the peer through buf (the local ring has no peek); toward the
 * ring without it (the plugin's recv lands in the ring's reserved space). */
struct pipe_dir {
	uint8_t *buf; /* l2r only */
	size_t off, len;
	int blocked; /* the sink said -EAGAIN */
};

/* Bridging over an RDMA plugin instead of SLURPoE (bridge_xport.c,
 * bridge_pipe.c). The SLURPoE connection carries the handshake and the
 * plugin's setup, then stays open only to say how the channel ended. */
struct xport {
	char backend[IVT_BACKEND_NAME_MAX + 1]; /* offered / in use; "" none */
	struct ivt_daemon_end *de;              /* the plugin's pipe to the peer host */
	uint8_t peer_blob[IVT_RMSG_BLOB_MAX];
	size_t peer_len;
	int peer_taken;
	int sent_setup;        /* acceptor: our SETUP went out */
	uint64_t up_deadline;  /* dialer: fall back if not up by then */
	int active;            /* bytes flow over it */
	int remote_eof;        /* its pipe said end of stream: how it ended comes
				  from the SLURPoE connection */
	int ctl_end;           /* that connection: 0 open, 1 peer closed, <0 failed */
	struct pipe_dir l2r, r2l;
};

/* VMM-bypass (bridge_direct.c, docs/remote.md): the two processes get a
 * queue pair of their own; ivtd carries each end's setup blob once and
 * then only says how the channel ended. */
struct direct {
	char backend[IVT_BACKEND_NAME_MAX + 1]; /* dialer: asked for; acceptor: offered */
	int offered;    /* dialer: DIRECT sent; acceptor: DIRECT received */
	int sent_setup; /* our end's blob went to the peer host */
	int got_setup;  /* the peer host's blob arrived (and went to our end) */
};

struct bridge {
	struct bridge *next;
	struct ivt_peers *P;
	struct peers_if *ifc;
	enum bridge_role role;
	enum bridge_phase phase;
	uint64_t id;
	struct slp_conn *conn;
	struct ivt_daemon_end *de;
	char host[IVT_NAME_MAX + 1];       /* the peer's configured name */
	char channel[IVT_NAME_MAX + 1];
	struct ivt_identity who;           /* the connector's, as seen here */
	char backend[IVT_BACKEND_NAME_MAX + 1];
	uint64_t ring_size, max_ring_size;
	int message;                       /* dialer: its client is told message mode */
	/* Half-close between the ends (docs/remote.md, "Half-close"): the
	 * acceptor heard in HELLO that the dialer's client takes it, and
	 * then from the broker (peer_info) that the listener does too. */
	int far_halfclose, lis_halfclose;
	time_t since;
	uint64_t deadline_ms;              /* handshake deadline / linger end; 0 none */

	/* handshake reader: exactly one message at a time, never beyond it */
	uint8_t msg[IVT_RMSG_MAX];
	size_t msg_have, msg_need;

	/* dialer: the broker's local end (NULL once the broker said gone) */
	struct ivt_reg_end *lend;
	/* acceptor: our own end in the remote registry */
	struct ivt_reg_end end;
	int requested, gone_reported;

	enum side_state local, remote;
	int remote_err;
	struct stage r2l, l2r;             /* remote->local, local->remote */
	int r2l_done, l2r_done, slp_closed, abort_pending, reported;
	int dead;                          /* to be freed by the reaper */
	struct xport xp;
	struct direct dx;
};

struct ivt_peers {
	struct ivt_peers_cfg cfg;
	struct peers_if *ifs;
	struct bridge *bridges;
	size_t n_bridges;
	uint64_t next_id;
	struct ivt_registry reg; /* ends that come from peer daemons */
	struct event *house_ev;  /* handshake timeouts, lingering, reaping */
	uint64_t refused_unknown_mac, refused_handshake;
	struct peer_note *notes;
	size_t n_notes;
};

uint64_t peers_now_ms(void);
void peers_if_schedule(struct peers_if *ifc);
/* The engine of interface name over UDP (udp 1) or raw frames (0), NULL none. */
struct peers_if *peers_find_if(const struct ivt_peers *P, const char *name, int udp);

/* peers_carrier.c */
/* host's ivtd said HELLO (ok 1), or our dial got no HELLO (ok 0, why). */
void peers_note_contact(struct ivt_peers *P, const char *host, int ok, const char *why);
/* The status words for host's last contact ("answered 3 s ago", ...). */
void peers_contact_text(const struct ivt_peers *P, const char *host, char *buf, size_t len);
/* Pin every host's "ip" on its interface's UDP engine (after a reload). */
void peers_pin_hosts(struct ivt_peers *P);
/* The engine to dial host with (carrier.h) and *carrier, or NULL (and
 * *carrier -1 or -ENOTSUP); the reason in why either way. */
struct peers_if *peers_carrier_for(const struct ivt_peers *P, const struct ivt_policy_host *host,
				   int *carrier, char *why, size_t why_len);
/* Log which carrier a host is dialled over (carrier < 0: cannot be) /
 * connected to us over, once per change, rate-limited. */
void peers_note_dial(struct ivt_peers *P, const char *host, const char *ifname, int carrier,
		     const char *why);
void peers_note_accept(struct ivt_peers *P, const struct peers_if *ifc, const char *host);

/* bridge.c */
struct bridge *bridge_new(struct ivt_peers *P, struct peers_if *ifc, enum bridge_role role,
			  const char *host);
void bridge_conn_events(struct bridge *br, unsigned events);
void bridge_pump(struct bridge *br);
void bridge_housekeeping(struct bridge *br, uint64_t now_ms);
void bridge_local_gone(struct bridge *br, int graceful); /* dialer: broker gone() */
/* Dialer, before the local client's OPEN_OK: PEER_INFO with the far
 * host ("host:H/ivtd") and, when OPEN_OK's (or OPEN_DIRECT's) flags say
 * so, half-close. */
void bridge_tell_peer(struct bridge *br, uint32_t open_ok_flags);
void bridge_local_event(struct bridge *br, int event);  /* acceptor: notify_peer */
void bridge_free(struct bridge *br);
int bridge_start_pump(struct bridge *br, const void *blob, size_t len, const int *fds,
		      int nfds, char *why, size_t why_len);
/* Bytes flow over SLURPoE from now on (after the handshake, or after the
 * RDMA plugin's setup fell back): sets the sink, logs, pumps. */
void bridge_pump_slurpoe(struct bridge *br);
int bridge_send_msg(struct bridge *br, const struct ivt_rmsg *m);
/* SETUP with a plugin's blob: 0, -EMSGSIZE unless 1..IVT_RMSG_BLOB_MAX */
int bridge_send_setup(struct bridge *br, const void *blob, size_t len);
void bridge_fail(struct bridge *br, int err, const char *what);

void bridge_handshake(struct bridge *br);
void bridge_report_remote_end(struct bridge *br);
void bridge_schedule_house(struct bridge *br);
const char *bridge_role_name(const struct bridge *br);

/* bridge_xport.c: choosing and setting up the RDMA plugin */
void xport_offer(struct bridge *br);                       /* dialer, before OPEN */
int xport_got_offer(struct bridge *br, const struct ivt_rmsg *m);
void xport_begin(struct bridge *br);                       /* both, local leg ready */
void xport_msg(struct bridge *br, const struct ivt_rmsg *m);
void xport_tick(struct bridge *br, uint64_t now_ms);
void xport_release(struct bridge *br);

/* bridge_direct.c: the ends' own queue pair, ivtd off the data path */
void direct_offer(struct bridge *br);                       /* dialer, before OPEN */
int direct_got_offer(struct bridge *br, const struct ivt_rmsg *m);
int direct_answer(struct bridge *br, const struct ivt_ctrl_open_ok *ok, char *why,
		  size_t why_len); /* acceptor */
int direct_relay_setup(struct bridge *br, const void *blob, size_t len, int nfds);
void direct_got_open(struct bridge *br, const struct ivt_rmsg *m); /* dialer: OPEN_DIRECT */
void direct_msg(struct bridge *br, const struct ivt_rmsg *m);
void direct_conn_events(struct bridge *br);
void direct_local_end(struct bridge *br, int graceful);
int direct_client_setup(struct bridge *br, const void *blob, size_t len, int nfds);

/* bridge_pipe.c: the pump once bytes flow over the plugin */
void pipe_pump(struct bridge *br);
int pipe_conn_done(const struct bridge *br, uint64_t now_ms);

/* registry_remote.c */
void registry_remote_init(struct ivt_peers *P);
struct bridge *registry_remote_bridge(struct ivt_reg_end *end);
/* OPEN_OK's (OPEN_DIRECT's) IVT_RMSG_HALFCLOSE when both ends take it. */
uint32_t registry_remote_halfclose(const struct bridge *br);

#endif
