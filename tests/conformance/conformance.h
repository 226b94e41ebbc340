/* SPDX-License-Identifier: MIT */
/*
 * One conformance suite for every transport plugin, in the manner of UCX's
 * UCT_INSTANTIATE_TEST_CASE: the same tests run on each plugin named on
 * the command line (`ivt-conformance shm`), both ends in this process,
 * inside the environment that plugin needs (env.c). What is checked is
 * what include/ivt/plugin.h promises.
 */
#ifndef IVT_TESTS_CONFORMANCE_H
#define IVT_TESTS_CONFORMANCE_H

#include <stddef.h>
#include <stdint.h>

#include "ivt/plugin.h"
#include "testsupport/oob_pair.h"

#define CONF_TMO 30000 /* ms: only a hang hits it */

/* The plugin under test (NULL: its environment is missing; tests skip). */
extern const struct ivt_plugin_ops *conf_ops;
extern const char *conf_plugin;

/* Prepare the plugin's environment (namespaces, devices) and load it.
 * 0 ready, 1 skip (why says so), -1 broken. */
int conf_env_enter(const char *plugin, char *why, size_t why_len);
/* Before listen (is_server 1) or connect (0): per-end settings, e.g. the
 * interface each end uses. */
void conf_env_side(int is_server);
/* Parameters for one end of channel `chan` over oob. */
struct ivt_ep_params conf_params(const char *chan, int is_server, size_t ring,
				 const struct ivt_oob *oob, int timeout_ms);

struct conf_pair {
	struct oob_end oa, ob; /* listener sends on oa, connector reads ob */
	struct ivt_ep *srv, *cli;
};

/* Listener and connector attached to each other (asserts on failure). */
void conf_pair_open(struct conf_pair *p, size_t ring);
/* Close whichever end is still open, and the oob. */
void conf_pair_close(struct conf_pair *p);

/* Byte i of a test stream: deterministic, not periodic in a ring size. */
uint8_t conf_stream_byte(uint64_t i);

/* Keep both ends making progress for up to ms (transports that move
 * data in their ack, such as slurpoe, need both sides driven). */
void conf_drive(struct ivt_ep *a, struct ivt_ep *b, int ms);

/* The tests (cmocka), by file. */
void test_stream_integrity_duplex(void **state); /* suite_stream.c */
void test_eof_after_close(void **state);
void test_epipe_after_peer_close(void **state);
void test_stats_count_bytes(void **state);
void test_no_lost_wakeup_recv(void **state); /* suite_wakeup.c */
void test_no_lost_wakeup_send(void **state);
void test_forged_setup_refused(void **state); /* suite_setup.c */
void test_native_rdma(void **state);

#endif
