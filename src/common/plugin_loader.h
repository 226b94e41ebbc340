/* SPDX-License-Identifier: MIT */
/* Finding and loading transport plugins (shared by ivtd and libivt). */
#ifndef IVT_PLUGIN_LOADER_H
#define IVT_PLUGIN_LOADER_H

#include <stddef.h>

#include "common/ctrl_proto.h"
#include "ivt/plugin.h"

/* Most plugins one process loads (and ivtd's backend table holds). */
#define IVT_PLUGINS_MAX 16

/* Plugin directory: $IVT_PLUGIN_DIR, else the install-time default. */
const char *ivt_plugin_dir(void);

/* Plugin (= backend) names: 1..IVT_BACKEND_NAME_MAX of [a-z0-9_]; the
 * one check for them, wherever they come from (files, policy, requests). */
int ivt_plugin_name_valid(const char *name, size_t len);

/* The plugins in dir (NULL = ivt_plugin_dir()): the <name> of every
 * ivt_<name>.so with a valid name, sorted, at most max. Returns how many,
 * or a negative errno if dir cannot be read. Loads nothing. */
int ivt_plugin_list(const char *dir, char (*names)[IVT_BACKEND_NAME_MAX + 1], int max);

/* Load dir/ivt_<name>.so (dir NULL = ivt_plugin_dir()). Checks the ABI
 * version and the ops table; calls init. Loaded plugins are cached per
 * process. Returns the ops or NULL with a reason in why:
 * "plugin 'x' has ABI version 7, this ivt speaks 1" etc. The ops are a
 * full-size copy of the plugin's table in which every optional op the
 * plugin left out, or that was appended after it was built (beyond its
 * ops_size), is a -EOPNOTSUPP stub (ivt_plugin_ops_complete): callers never
 * test an op for NULL. */
const struct ivt_plugin_ops *ivt_plugin_load(const char *dir, const char *name, char *why,
					     size_t why_len);

/* Check an ops table as the loader does (exposed for tests). */
int ivt_plugin_ops_check(const struct ivt_plugin_ops *ops, const char *name, char *why,
			 size_t why_len);

/* Fill every NULL optional op of ops with its -EOPNOTSUPP stub (init: 0,
 * fini: nothing), as the loader does; for tables built by hand (tests). */
void ivt_plugin_ops_complete(struct ivt_plugin_ops *ops);

/* The host services given to plugins (logging through log.h). */
const struct ivt_plugin_host *ivt_plugin_host(void);

#endif
