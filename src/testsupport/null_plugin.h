/* SPDX-License-Identifier: MIT */
/* Test support: an ops table whose operations do nothing, the base for
 * stand-in plugins (loader and ABI tests, daemons that only probe). */
#ifndef IVT_TESTSUPPORT_NULL_PLUGIN_H
#define IVT_TESTSUPPORT_NULL_PLUGIN_H

#include "ivt/plugin.h"

/* A current-ABI table named `name` with every mandatory operation set:
 * probe succeeds, listen/accept/connect/send/recv fail -ENOTSUP, arm
 * reports nothing ready, poll_fd is -1. No caps, no optional ops. */
struct ivt_plugin_ops ts_null_plugin_ops(const char *name);

#endif
