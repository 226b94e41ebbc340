/* SPDX-License-Identifier: MIT */
/*
 * Holding small control messages back while ivtd handles one client's
 * messages, then sending each connection's in one system call: taking an
 * accepting end's OPEN answers both ends with three or four messages each
 * (cookie, PEER_INFO, OPEN_OK, PEER), seven sendmsg calls otherwise.
 * Order per connection is kept: a message the cork does not take (fds,
 * large) is sent only after a flush. Nothing is held outside a dispatch.
 */
#ifndef IVTD_CTRL_CORK_H
#define IVTD_CTRL_CORK_H

#include <stdint.h>

#include "common/ctrl_msg.h"

#define IVT_CORK_PAYLOAD_MAX 256

struct ivt_ctrl_cork_msg {
	void *conn; /* whose; the owner's pointer, compared only */
	int sock;
	uint16_t type;
	uint32_t seq, len;
	uint8_t payload[IVT_CORK_PAYLOAD_MAX];
};

struct ivt_ctrl_cork {
	int depth;    /* dispatches in progress: > 0 holds messages */
	int flushing; /* failed() may call back in: no nested flush */
	int n;
	struct ivt_ctrl_cork_msg m[IVT_CTRL_BATCH_MAX];
	/* A connection's batch failed (rc as ivt_ctrl_send's): its owner
	 * drops it. Called during ivt_ctrl_cork_flush. */
	void (*failed)(void *conn, int rc, void *arg);
	void *arg;
};

/* Hold one message for conn (on sock) if a dispatch is in progress and it
 * is small: 1 held, 0 not (then flush and send it yourself). */
int ivt_ctrl_cork_hold(struct ivt_ctrl_cork *k, void *conn, int sock, uint16_t type,
		       uint32_t seq, const void *payload, uint32_t len);
/* Send everything held, one batch per connection, in order. */
void ivt_ctrl_cork_flush(struct ivt_ctrl_cork *k);
/* Forget what conn has held (it is being freed unsent). */
void ivt_ctrl_cork_forget(struct ivt_ctrl_cork *k, const void *conn);

static inline void ivt_ctrl_cork_begin(struct ivt_ctrl_cork *k) { k->depth++; }

static inline void ivt_ctrl_cork_end(struct ivt_ctrl_cork *k)
{
	if (--k->depth == 0)
		ivt_ctrl_cork_flush(k);
}

#endif
