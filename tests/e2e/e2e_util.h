/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the end-to-end tests: a real ivtd from $IVT_BIN_DIR on a
 * private socket with a policy the test writes, forked peer processes,
 * and a deterministic byte pattern to verify transfers byte-exactly.
 */
#ifndef IVT_TEST_E2E_UTIL_H
#define IVT_TEST_E2E_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ivt/ivt.h"

/* Every channel named t* may be opened by anyone, over shm. */
#define E2E_POLICY_OPEN                                                                       \
	"{\"version\":1,\"channels\":[{\"name\":\"t*\",\"listeners\":[\"*\"],"               \
	"\"connectors\":[\"*\"],\"backend\":\"shm\",\"ring_size\":262144,"                    \
	"\"max_ring_size\":4194304}]}"

struct e2e_daemon {
	pid_t pid;
	char dir[64];
	char sock[100]; /* fits sun_path */
	char policy[128];
};

/* Start ivtd with policy_json; sets $IVT_SOCKET for this process and its
 * children. 0 or -1 (with a message on stderr). */
int e2e_daemon_start(struct e2e_daemon *d, const char *policy_json);
/* SIGKILL and reap it, keeping its directory and policy (a crash). */
int e2e_daemon_kill(struct e2e_daemon *d);
/* Start it again on the same socket and policy (a restart). */
int e2e_daemon_respawn(struct e2e_daemon *d);
/* SIGTERM (or SIGKILL with hard), reap, remove the directory. */
void e2e_daemon_stop(struct e2e_daemon *d, int hard);

/* cmocka group fixtures: one ivtd for the whole group, in
 * e2e_group_daemon. A group with its own policy calls e2e_group_start from
 * its setup; e2e_group_setup_open starts it with E2E_POLICY_OPEN. */
extern struct e2e_daemon e2e_group_daemon;
int e2e_group_start(const char *policy_json);
int e2e_group_setup_open(void **state);
int e2e_group_teardown(void **state);

/* A raw control connection to ivtd's socket at path (for STATUS), or -1. */
int e2e_ctrl_connect(const char *path);

/* ivtd's status text (as `ivtctl status` shows it) into buf; 0 or -1. */
int e2e_status(const char *path, char *buf, size_t cap);
/* The status line of channel name ("" when it is not listed). */
const char *e2e_status_line(const char *status, const char *name, char *line, size_t cap);

/* Open descriptors of process pid (0: this one), from /proc; -1 on error. */
int e2e_count_fds(pid_t pid);

/* Run fn(arg) in a child process; its return value is the exit status. */
pid_t e2e_fork(int (*fn)(void *), void *arg);
/* Exit status of child pid, 128 + signal if it was killed. */
int e2e_wait(pid_t pid);

/* ivt_open with an explicit timeout (-1 forever) and optional ring size. */
int e2e_open(const char *name, unsigned flags, int timeout_ms, size_t ring, ivt_channel **ch);

/* ivt_listen with a 5 s answer timeout, IVT_NONBLOCK if nonblock. */
int e2e_listen(const char *name, int nonblock, ivt_listener **l);

/* The next connection of l (blocking or not), waiting up to timeout_ms
 * on ivt_listener_fd: 0 with *ch, or ivt_accept's error (-EAGAIN: none
 * came in time). */
int e2e_accept(ivt_listener *l, int timeout_ms, ivt_channel **ch);

/* Pattern bytes [off, off + len) of stream `seed`; any off and len. */
void e2e_fill(uint8_t *buf, uint64_t seed, uint64_t off, size_t len);
/* Index of the first byte in buf that differs from the pattern, or -1. */
long long e2e_mismatch(const uint8_t *buf, uint64_t seed, uint64_t off, size_t len);

/* Send len pattern bytes in pieces of at most piece; 0 or the error. */
int e2e_send_pattern(ivt_channel *ch, uint64_t seed, uint64_t len, size_t piece);
/* Receive and verify len pattern bytes; 0, the error, or -EILSEQ for a
 * wrong byte (reported on stderr). */
int e2e_recv_pattern(ivt_channel *ch, uint64_t seed, uint64_t len);

/* An accepted stream as the many-clients tests send it: an 8-byte seed,
 * then `total` pattern bytes of that seed. Set ch and total. */
struct e2e_stream_in {
	ivt_channel *ch;
	uint64_t seed, got, total;
	int have_seed, done;
	uint8_t seed_buf[8];
};
/* Read what is there (a non-blocking channel): 1 when the stream is
 * complete, 0 not yet, -1 on a bad byte or an early end. */
int e2e_stream_in_read(struct e2e_stream_in *c);

#endif
