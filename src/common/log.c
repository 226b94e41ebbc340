/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* -1 until set or first used: then $IVT_LOG_LEVEL, else IVT_LOG_WARN (a
 * library in someone else's program says only what went wrong; ivtd sets
 * its own level at start). Racing first uses all store the same value. */
static int log_level = -1;
static int log_timestamps;

void ivt_log_set_timestamps(int on) { log_timestamps = on; }

/* "2026-12-06T22:45:33.123Z " into buf; 0 when the clock fails. */
static int format_stamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	if (clock_gettime(CLOCK_REALTIME, &ts) || !gmtime_r(&ts.tv_sec, &tm))
		return 0;
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!n)
		return 0;
	int m = snprintf(buf + n, size - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	return m > 0 && (size_t)m < size - n ? (int)(n + (size_t)m) : 0;
}

void ivt_log_set_level(int level) { __atomic_store_n(&log_level, level, __ATOMIC_RELAXED); }
int ivt_log_get_level(void)
{
	int l = __atomic_load_n(&log_level, __ATOMIC_RELAXED);
	if (l < 0) {
		l = ivt_log_level_from_env(IVT_LOG_WARN);
		__atomic_store_n(&log_level, l, __ATOMIC_RELAXED);
	}
	return l;
}

int ivt_log_level_from_env(int fallback)
{
	const char *v = getenv("IVT_LOG_LEVEL");
	if (!v || !*v)
		return fallback;
	if (!strcasecmp(v, "err") || !strcasecmp(v, "error"))
		return IVT_LOG_ERR;
	if (!strcasecmp(v, "warn") || !strcasecmp(v, "warning"))
		return IVT_LOG_WARN;
	if (!strcasecmp(v, "info"))
		return IVT_LOG_INFO;
	if (!strcasecmp(v, "debug"))
		return IVT_LOG_DEBUG;
	return fallback;
}

static const char *level_name(int level)
{
	switch (level) {
	case IVT_LOG_ERR: return "error";
	case IVT_LOG_WARN: return "warning";
	case IVT_LOG_INFO: return "info";
	default: return "debug";
	}
}

void ivt_log(int level, const char *who, const char *fmt, ...)
{
	if (level > ivt_log_get_level())
		return;
	/* Format into one buffer and write once, so lines from several
	 * threads or processes sharing stderr do not interleave. */
	char line[1024];
	/* journald understands "<N>" priority prefixes, and stamps lines itself */
	int journal = getenv("IVT_LOG_JOURNAL") != NULL;
	int t = log_timestamps && !journal ? format_stamp(line, 64) : 0;
	int n;
	if (journal)
		n = snprintf(line + t, sizeof(line) - (size_t)t, "<%d>%s: ", level, who ? who : "ivt");
	else
		n = snprintf(line + t, sizeof(line) - (size_t)t, "%s: %s: ", who ? who : "ivt", level_name(level));
	if (n < 0 || (size_t)n >= sizeof(line) - (size_t)t)
		n = 0;
	n += t;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

int ivt_ratelimit_ok(struct ivt_ratelimit *rl, unsigned *suppressed)
{
	long long now = ivt_now_ms();
	if (rl->window_start < 0 || now - rl->window_start >= rl->interval_ms) {
		rl->window_start = now;
		rl->printed = 0;
	}
	if (rl->printed >= rl->burst) {
		rl->suppressed++;
		return 0;
	}
	rl->printed++;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return 1;
}

void ivt_log_limited(struct ivt_ratelimit *rl, int level, const char *who, const char *fmt, ...)
{
	unsigned dropped;
	if (level > ivt_log_get_level() || !ivt_ratelimit_ok(rl, &dropped))
		return;
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (dropped)
		ivt_log(level, who, "%s (%u similar messages suppressed)", msg, dropped);
	else
		ivt_log(level, who, "%s", msg);
}
