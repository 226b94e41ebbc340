/* SPDX-License-Identifier: MIT */
#include "common/plugin_log.h"

#include <stdio.h>

void ivt_plugin_vlog(const struct ivt_plugin_host *host, const char *who, int level,
		     const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (host && host->log)
		host->log(level, who, "%s", buf);
	else if (level <= IVT_LOG_WARN)
		fprintf(stderr, "ivt %s: %s\n", who, buf);
}
