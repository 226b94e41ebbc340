/* SPDX-License-Identifier: MIT */
/* Logging from inside a plugin: through the host's log service (given to
 * init), and before init or without a host, warnings and errors to stderr.
 * Each plugin keeps its host pointer and wraps this in a one-line
 * <plugin>_log(level, fmt, ...). */
#ifndef IVT_COMMON_PLUGIN_LOG_H
#define IVT_COMMON_PLUGIN_LOG_H

#include <stdarg.h>

#include "ivt/plugin.h"

void ivt_plugin_vlog(const struct ivt_plugin_host *host, const char *who, int level,
		     const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

#endif
