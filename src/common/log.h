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
/* 1: start each line with the UTC time to the millisecond. ivtd turns this
 * on when its stderr is not the journal (which stamps lines itself), so a
 * foreground or test log says when a guest's request and ivtd's answer
 * happened. Off by default: tools' output stays as it was. */
void ivt_log_set_timestamps(int on);
void ivt_log(int level, const char *who, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Lines anyone can trigger at will (refused connections, malformed
 * messages) go through a rate limit: at most `burst` lines per
 * `interval_ms`; the first line after a suppressed spell says how many
 * were dropped. One limiter per kind of line; not thread-safe (ivtd's
 * event loop owns its limiters). */
struct ivt_ratelimit {
	unsigned interval_ms, burst;
	long long window_start;
	unsigned printed, suppressed;
};
#define IVT_RATELIMIT_INIT(interval_ms, burst) {(interval_ms), (burst), -1, 0, 0}
/* 1: log this line (*suppressed = lines dropped since the last one); 0: drop it. */
int ivt_ratelimit_ok(struct ivt_ratelimit *rl, unsigned *suppressed);
void ivt_log_limited(struct ivt_ratelimit *rl, int level, const char *who, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define IVT_ERR(who, ...) ivt_log(IVT_LOG_ERR, who, __VA_ARGS__)
#define IVT_WARN(who, ...) ivt_log(IVT_LOG_WARN, who, __VA_ARGS__)
#define IVT_INFO(who, ...) ivt_log(IVT_LOG_INFO, who, __VA_ARGS__)
#define IVT_DEBUG(who, ...) ivt_log(IVT_LOG_DEBUG, who, __VA_ARGS__)

#endif
