/* SPDX-License-Identifier: MIT */
/*
 * A fake registry for driving the broker in tests: every answer the broker
 * gives an end (OPEN_OK, error, relayed setup, peer event) is recorded in
 * that end's struct fake_end.
 */
#ifndef IVT_TEST_FAKE_REGISTRY_H
#define IVT_TEST_FAKE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctrl_msg.h"
#include "ivtd/core/broker.h"

struct fake_end {
	struct ivt_reg_end end; /* first: the broker's end is the fake end */
	int ok_count, err_count;
	struct ivt_ctrl_open_ok last_ok;
	int last_err;
	char last_msg[IVT_ERRMSG_MAX + 1];
	int setups;
	char setup_blob[IVT_OOB_BLOB_MAX];
	size_t setup_len;
	int setup_nfds;
	int setup_fds_valid; /* all fds open when relayed */
	int relay_rc;        /* what relay_setup returns */
	int peer_events[8];  /* the first 8 */
	int n_peer_events;
	/* a listener that accepts many connections: its INCOMING tickets */
	uint32_t tickets[16]; /* the first 16 */
	char ticket_ids[16][48];
	int n_tickets;
	char peer_identity[64]; /* last PEER_INFO */
	/* re-attaching (broker_attach.c) */
	uint8_t cookie[IVT_CTRL_COOKIE_LEN]; /* last ATTACH_INFO */
	int cookies;
	int attach_oks, last_paired;
	uint64_t attach_chan_id;
};

/* A broker on a policy, shm available, answering through the fake. */
struct fake_broker {
	struct ivt_registry reg;
	struct ivt_broker *b;
	struct ivt_broker_cb cb;
};

/* 0, or -1 with the policy error on stderr. */
int fake_broker_init(struct fake_broker *fb, const char *policy_json, const char *source);
void fake_broker_fini(struct fake_broker *fb);
/* cmocka fixture halves: a heap fake_broker on policy_json in *state. */
int fake_broker_setup(void **state, const char *policy_json, const char *source);
int fake_broker_teardown(void **state);

/* A zeroed end of fb's registry with this identity ("uid:N", "dom:N"). */
void fake_end_init(struct fake_broker *fb, struct fake_end *f, const char *identity);

/* A heap end with identity "uid:N" (pid 1234) or "dom:N" (its domid,
 * pid -1); fake_end_gone reports it gone to the broker and frees it. */
struct fake_end *fake_end_new(struct fake_broker *fb, const char *identity);
void fake_end_gone(struct fake_broker *fb, struct fake_end *f, int graceful);

/* The registry's request callback for f; backend NULL means none. */
void fake_request(struct fake_broker *fb, struct fake_end *f, const char *name, int listen,
		  const char *backend, uint64_t ring);

/* Request for f as a listener that accepts many (ivt_listen), as the
 * accepting end of ticket, or as a connector that waits wait_ms. */
void fake_request_ex(struct fake_broker *fb, struct fake_end *f, const char *name, int listen,
		     int multi, uint32_t ticket, uint32_t wait_ms);
/* The same with IVT_MESSAGE (message nonzero). */
void fake_request_msg(struct fake_broker *fb, struct fake_end *f, const char *name, int listen,
		      int multi, uint32_t ticket, uint32_t wait_ms, int message);

/* ATTACH for f: the end of the channel with cookie that says it is its
 * server (or client) and that its peer is peer_identity. */
void fake_attach(struct fake_broker *fb, struct fake_end *f, const uint8_t *cookie,
		 const char *name, int is_server, const char *peer_identity, uint64_t ring);

#endif
