/* SPDX-License-Identifier: MIT */
/* xentoollog -> host log, so libxengnttab/evtchn errors reach ivt's log. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <xentoollog.h>

#include "vchan.h"

static int level_of(xentoollog_level l)
{
	if (l >= XTL_ERROR)
		return IVT_LOG_ERR;
	if (l >= XTL_WARN)
		return IVT_LOG_WARN;
	if (l >= XTL_PROGRESS)
		return IVT_LOG_INFO;
	return IVT_LOG_DEBUG;
}

static void xtl_vmessage(struct xentoollog_logger *lg, xentoollog_level level, int errnoval,
			 const char *context, const char *format, va_list al)
{
	char msg[400];
	vsnprintf(msg, sizeof(msg), format, al);
	if (errnoval >= 0)
		vchan_log(level_of(level), "%s%s%s: %s", context ? context : "", context ? ": " : "",
			  msg, strerror(errnoval));
	else
		vchan_log(level_of(level), "%s%s%s", context ? context : "", context ? ": " : "",
			  msg);
}

static void xtl_destroy(struct xentoollog_logger *lg) { /* static: nothing to free */ }

static struct xentoollog_logger logger = {
	.vmessage = xtl_vmessage,
	.progress = NULL,
	.destroy = xtl_destroy,
};

struct xentoollog_logger *vchan_xtl(void) { return &logger; }
