/* SPDX-License-Identifier: MIT */
/* Sending and parsing control-socket messages (see ctrl_proto.h). */
#ifndef IVT_CTRL_MSG_H
#define IVT_CTRL_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "ctrl_proto.h"

struct ivt_ctrl_msg {
	struct ivt_ctrl_hdr hdr;
	union {
		struct ivt_ctrl_open open;
		struct ivt_ctrl_open_ok open_ok;
		struct ivt_ctrl_error error;
		struct ivt_ctrl_setup setup;
		struct ivt_ctrl_peer peer;
		struct ivt_ctrl_incoming incoming;
		struct ivt_ctrl_incoming_ring incoming_ring;
		struct ivt_ctrl_open_setup open_setup;
		struct ivt_ctrl_peer_info peer_info;
		struct ivt_ctrl_line line;
		struct ivt_ctrl_line_stats line_stats;
		struct ivt_ctrl_attach_info attach_info;
		struct ivt_ctrl_attach attach;
		struct ivt_ctrl_attach_ok attach_ok;
		char status[IVT_CTRL_STATUS_MAX + 1];
	} u;
	int fds[IVT_OOB_FDS_MAX]; /* received fds, owned by the receiver */
	int nfds;
};

/* Send one message. fds only with IVT_CTRL_SETUP, IVT_CTRL_INCOMING_RING
 * and IVT_CTRL_LINE (exactly one). 0 or negative errno. */
int ivt_ctrl_send(int sock, uint16_t type, uint32_t seq, const void *payload, uint32_t len,
		  const int *fds, int nfds);

/* An OPEN (seq) and a SETUP (seq + 1, with fds) in one system call
 * (sendmmsg): a connector that brings its ring. one: as one datagram,
 * OPEN_SETUP (seq), for an ivtd that said it takes it. 0 or negative
 * errno. */
int ivt_ctrl_send_open_setup(int sock, uint32_t seq, const struct ivt_ctrl_open *open,
			     const struct ivt_ctrl_setup *setup, const int *fds, int nfds, int one);

/* A SETUP of a backend's blob (len bytes) and nfds descriptors, for
 * struct ivt_oob senders: 0, or -EINVAL when they do not fit. */
int ivt_ctrl_setup_fill(struct ivt_ctrl_setup *s, const void *blob, size_t len, int nfds);

/* One message of a batch: no fds. */
struct ivt_ctrl_out {
	uint16_t type;
	uint32_t seq;
	const void *payload;
	uint32_t len;
};
#define IVT_CTRL_BATCH_MAX 16

/* Up to IVT_CTRL_BATCH_MAX messages without fds to one socket, in order,
 * in one system call (sendmmsg) as a rule. 0 or a negative errno as
 * ivt_ctrl_send's (-EINVAL: a message that does not parse; nothing sent
 * then). */
int ivt_ctrl_send_batch(int sock, const struct ivt_ctrl_out *msgs, int n);

/* Receive and validate one message. timeout_ms < 0 waits forever.
 * Returns 0, -ECONNRESET when the peer closed the socket and nothing it
 * sent is left (also when the kernel reported the close first), -ETIMEDOUT,
 * -EPROTO for a malformed message (any fds that came with it are closed). */
int ivt_ctrl_recv(int sock, struct ivt_ctrl_msg *m, int timeout_ms);

/* Pure validation of a received datagram of n bytes that came with nfds fds
 * (already stored in m->fds by the caller). Fills m. Used by ivt_ctrl_recv
 * and directly by the tests. 0 or -EPROTO. */
int ivt_ctrl_parse(const void *buf, size_t n, struct ivt_ctrl_msg *m);

/* Close any fds held by m. */
void ivt_ctrl_msg_close_fds(struct ivt_ctrl_msg *m);

/* Channel names: 1..IVT_NAME_MAX chars of [A-Za-z0-9._-], not starting
 * with '.', so they are safe as XenStore path components and file names. */
int ivt_name_valid(const char *name);

#endif
