/* SPDX-License-Identifier: MIT */
/* ivt_strerror(): ivt's wording for every errno the API documents, plus the
 * reason the daemon (or libivt itself) gave for the last failure here. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "export.h"
#include "ivt/ivt.h"

static __thread int reason_err;
static __thread char reason[320];
static __thread char text[640];

void ivt_reason_set(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	reason_err = err;
}

int ivt_reason_is_set(int err)
{
	return reason_err == err && reason[0];
}

void ivt_reason_clear(void)
{
	reason_err = 0;
	reason[0] = '\0';
}

static const char *ivt_text(int e)
{
	switch (e) {
	case EACCES:
		return "access denied (by the channel policy, or by the peer's region)";
	case ENOENT:
		return "no such channel (no policy for it, or nobody listening)";
	case EADDRINUSE:
		return "the channel already has a listener";
	case ECONNREFUSED:
		return "ivtd is not running, or the listener closed";
	case EUSERS:
		return "too many connections: the listener holds its most (policy "
		       "max_connections), or ivtd's connection table is full";
	case ENOTSUP:
		return "the backend is not available here";
	case ETIMEDOUT:
		return "timed out waiting for ivtd or the peer";
	case EPROTO:
		return "protocol error: malformed data from ivtd or the peer";
	case EPIPE:
		return "the peer closed the channel";
	case ECONNRESET:
		return "the peer went away without closing the channel";
	case EAGAIN:
		return "would block (non-blocking: poll ivt_fd() or ivt_listener_fd() and retry), "
		       "or the listener's accept backlog is full";
	case ERANGE:
		return "outside the bounds of the peer's registered region";
	case EINVAL:
		return "invalid argument";
	case ENOMEM:
		return "out of memory";
	case EMSGSIZE:
		return "message too large";
	case EPROTONOSUPPORT:
		return "version mismatch between libivt, ivtd and the plugin";
	case ENAMETOOLONG:
		return "name or path too long";
	case EBADF:
		return "invalid channel";
	case ECANCELED:
		return "the channel was closed";
	case EBUSY:
		return "the channel already has its peer";
	case EISCONN:
		return "this control connection already carries a channel end";
	case EALREADY:
		return "the channel is already set up";
	case EMFILE:
		return "too many connections or channels for this identity";
	default:
		return NULL;
	}
}

IVT_EXPORT const char *ivt_strerror(int err)
{
	if (err >= 0) {
		if (err == 0)
			return "success";
		snprintf(text, sizeof(text), "success (%d bytes)", err);
		return text;
	}
	int e = err == INT32_MIN ? EINVAL : -err;
	const char *base = ivt_text(e);
	char sys[128];
	if (!base)
		base = strerror_r(e, sys, sizeof(sys)); /* GNU: returns the string */
	if (reason_err == err && reason[0])
		snprintf(text, sizeof(text), "%s (%s)", base, reason);
	else
		snprintf(text, sizeof(text), "%s", base);
	return text;
}
