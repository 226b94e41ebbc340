/* SPDX-License-Identifier: MIT */
/* Logging shared by ivtd, libivt and plugins: to stderr (or syslog style
 * "<N>" prefixes under systemd's journal when IVT_LOG_JOURNAL is set). */
#ifndef IVT_LOG_H
#define IVT_LOG_H

#include "ivt/plugin.h"

/* Messages above this level are dropped. Default IVT_LOG_INFO for ivtd,
 * IVT_LOG_WARN for libivt; $IVT_LOG_LEVEL (err|warn|info|debug) overrides. */
void ivt_log_set_level(int level);
int ivt_log_get_level(void);
int ivt_log_level_from_env(int fallback);
void ivt_log(int level, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define IVT_ERR(who, ...) ivt_log(IVT_LOG_ERR, who, __VA_ARGS__)
#define IVT_WARN(who, ...) ivt_log(IVT_LOG_WARN, who, __VA_ARGS__)
#define IVT_INFO(who, ...) ivt_log(IVT_LOG_INFO, who, __VA_ARGS__)
#define IVT_DEBUG(who, ...) ivt_log(IVT_LOG_DEBUG, who, __VA_ARGS__)

#endif
