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

int ivt_einval(const char *fn)
{
	ivt_reason_set(-EINVAL, "%s: an argument is NULL or outside its documented range", fn);
	return -EINVAL;
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
		return "ivtd is not running, or the listener closed or refused this connection "
		       "(a connection sent over a direct line is refused when the listener "
		       "closes or drops its lines, e.g. at a policy reload)";
	case EUSERS:
		return "too many connections: the listener holds its most (policy "
		       "max_connections), or ivtd's connection table is full";
	case ENOTSUP:
		return "not supported: the backend is not available here, or cannot do this";
	case ETIMEDOUT:
		return "timed out waiting for ivtd or the peer (or a channel timeout expired)";
	case EPROTO:
		return "protocol error: malformed data from ivtd or the peer";
	case EPIPE:
		return "the peer closed the channel";
	case ECONNRESET:
		return "the peer went away without closing the channel";
	case EAGAIN:
		return "would block (non-blocking: poll ivt_fd() or ivt_listener_fd() and retry)";
	case ERANGE:
		return "outside the bounds of the peer's registered region";
	case EINVAL:
		return "invalid argument";
	case ENOMEM:
		return "out of memory";
	case EMSGSIZE:
		return "message too large: for the buffer (nothing consumed; ivt_next_msg_size "
		       "gives its size), or above IVT_MSG_MAX or ivt_send_reserve_max";
	case EPROTONOSUPPORT:
		return "version mismatch between libivt, ivtd and the plugin";
	case ENAMETOOLONG:
		return "name or path too long";
	case EBADF:
		return "invalid channel";
	case ECANCELED:
		return "the channel was closed";
	case EBUSY:
		return "busy: this thread's ivt_send_reserve is not committed yet (ivt_send_commit "
		       "first), or the channel already has its peer";
	case EISCONN:
		return "this control connection already carries a channel end";
	case EALREADY:
		return "the channel is already set up";
	case EPROTOTYPE:
		return "the channel is a byte stream; IVT_MESSAGE needs a message-mode channel";
	case EMFILE:
		return "too many connections or channels for this identity";
	default:
		return NULL;
	}
}

/* The store's results mean other things than the same errno on a channel. */
static const char *store_text(int e)
{
	switch (e) {
	case ENOENT:
		return "no such value in the store (a miss; ephemeral values may vanish)";
	case EBADF:
		return "no such pool";
	case EACCES:
		return "not yours (the pool or value belongs to another identity)";
	case ENOSPC:
		return "the store refused the value (quota or capacity)";
	case E2BIG:
		return "value larger than the store's maximum";
	case EMSGSIZE:
		return "buffer too small for the value (nothing removed)";
	case EMFILE:
		return "too many pools on this connection";
	case EUSERS:
		return "too many sharers of this pool";
	case EEXIST:
		return "the shared pool exists with another persistence";
	case EIO:
		return "the store lost parked data";
	default:
		return NULL;
	}
}

/* With a reason, a few errnos read better without their list of usual causes:
 * ivtd's "listener closed" must not follow "ivtd is not running". */
static const char *text_with_reason(int e, const char *base)
{
	switch (e) {
	case ECONNREFUSED:
		return "connection refused";
	case EAGAIN:
		return "try again"; /* ivtd's reason: e.g. the accept backlog is full */
	default:
		return base;
	}
}

static const char *format(int err, const char *base, int e)
{
	char sys[128];
	if (base && reason_err == err && reason[0])
		base = text_with_reason(e, base);
	if (!base)
		base = strerror_r(e, sys, sizeof(sys)); /* GNU: returns the string */
	if (reason_err == err && reason[0])
		snprintf(text, sizeof(text), "%s (%s)", base, reason);
	else
		snprintf(text, sizeof(text), "%s", base);
	return text;
}

IVT_EXPORT const char *ivt_store_strerror(int err)
{
	if (err >= 0)
		return ivt_strerror(err);
	int e = err == INT32_MIN ? EINVAL : -err;
	const char *base = store_text(e);
	return format(err, base ? base : ivt_text(e), e);
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
	return format(err, ivt_text(e), e);
}
