/* SPDX-License-Identifier: MIT */
/* Test support: the shell and network-namespace steps of tests and
 * benchmarks that join two namespaces with a veth pair (root only). */
#ifndef IVT_TESTSUPPORT_NETNS_H
#define IVT_TESTSUPPORT_NETNS_H

/* Run a shell command made like printf (at most 511 characters). 0 when
 * it exited with 0, else -1. */
int ts_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Move the calling thread into the namespace `ip netns add name` made.
 * 0, or -1 with errno set. */
int ts_netns_enter(const char *name);

#endif
