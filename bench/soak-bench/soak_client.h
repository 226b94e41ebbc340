/* SPDX-License-Identifier: MIT */
/* The two ends of one soak channel, each run in its own child process. */
#ifndef SOAK_CLIENT_H
#define SOAK_CLIENT_H

#include <stdint.h>

/* Exit codes of a soak child. A peer that was killed is an expected outcome
 * for the survivor, not a failure. */
enum soak_exit {
	SOAK_OK = 0,         /* everything sent/received and verified, clean close */
	SOAK_PEER_GONE = 3,  /* the peer died or closed early: -ECONNRESET/-EPIPE/EOF */
	SOAK_FAILED = 4,     /* wrong bytes, or any other error */
	SOAK_NO_PEER = 5,    /* open: the peer never came or left during setup */
};

/* Listener: accept on name, read `bytes` pattern bytes until EOF, verify,
 * answer with a short reply, close. */
int soak_listener(const char *name, uint64_t bytes, uint64_t seed);
/* Connector: send `bytes` pattern bytes in random pieces, read the reply,
 * close. */
int soak_connector(const char *name, uint64_t bytes, uint64_t seed);

#endif
