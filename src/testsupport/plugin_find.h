/* SPDX-License-Identifier: MIT */
/* Test/bench support: loading a plugin for a run outside ivtd. */
#ifndef IVT_TESTSUPPORT_PLUGIN_FIND_H
#define IVT_TESTSUPPORT_PLUGIN_FIND_H

#include <stddef.h>

#include "ivt/plugin.h"

/* Plugin `name` from $IVT_PLUGIN_DIR if set, else from the build tree
 * beside the executable (<exe dir>/../plugins), else the install
 * directory. NULL and a reason in why if none loads. */
const struct ivt_plugin_ops *ts_plugin_load(const char *name, char *why, size_t why_len);

#endif
