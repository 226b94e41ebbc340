/* SPDX-License-Identifier: MIT */
/* Identities: the one parser and the one formatter (identity.h). */
#include "identity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctrl_msg.h" /* ivt_name_valid, IVT_NAME_MAX */

#define DAEMON_TEXT "ivtd"

int ivt_parse_canonical_u32(const char *s, size_t n, uint32_t *out)
{
	if (n == 0 || n > 10 || (s[0] == '0' && n > 1))
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int ivt_host_name_valid(const char *s, size_t n, size_t max)
{
	char name[IVT_NAME_MAX + 1];
	if (n == 0 || n > max || n > IVT_NAME_MAX)
		return 0;
	memcpy(name, s, n);
	name[n] = '\0';
	return ivt_name_valid(name);
}

struct ivt_identity ivt_identity_uid(uint32_t uid)
{
	return (struct ivt_identity){.kind = IVT_IDENTITY_UID, .id = uid};
}

struct ivt_identity ivt_identity_dom(uint32_t domid)
{
	return (struct ivt_identity){.kind = IVT_IDENTITY_DOM, .id = domid};
}

struct ivt_identity ivt_identity_daemon(void)
{
	return (struct ivt_identity){.kind = IVT_IDENTITY_DAEMON};
}

static int inner_ok(const struct ivt_identity *in)
{
	return in->kind == IVT_IDENTITY_UID || in->kind == IVT_IDENTITY_DOM ||
	       in->kind == IVT_IDENTITY_DAEMON;
}

int ivt_identity_remote(const char *host, const struct ivt_identity *inner,
			struct ivt_identity *out)
{
	memset(out, 0, sizeof(*out));
	if (!host || !inner || !inner_ok(inner) ||
	    !ivt_host_name_valid(host, strlen(host), IVT_IDENTITY_HOST_MAX))
		return -EINVAL;
	out->kind = IVT_IDENTITY_HOST;
	out->inner = inner->kind;
	out->id = inner->kind == IVT_IDENTITY_DAEMON ? 0 : inner->id;
	memcpy(out->host, host, strlen(host) + 1);
	return 0;
}

/* "uid:N", "dom:N" or "ivtd", exactly n chars. */
static int parse_simple(const char *s, size_t n, struct ivt_identity *out)
{
	if (n == strlen(DAEMON_TEXT) && !memcmp(s, DAEMON_TEXT, n)) {
		*out = ivt_identity_daemon();
		return 0;
	}
	if (n < 4)
		return -EINVAL;
	if (!memcmp(s, "uid:", 4))
		out->kind = IVT_IDENTITY_UID;
	else if (!memcmp(s, "dom:", 4))
		out->kind = IVT_IDENTITY_DOM;
	else
		return -EINVAL;
	return ivt_parse_canonical_u32(s + 4, n - 4, &out->id);
}

int ivt_identity_parse(const char *s, struct ivt_identity *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	size_t len = strnlen(s, IVT_IDENTITY_TEXT_MAX + 1);
	if (len > IVT_IDENTITY_TEXT_MAX)
		return -EINVAL;
	int rc;
	if (len >= 5 && !memcmp(s, "host:", 5)) {
		const char *name = s + 5, *slash = memchr(name, '/', len - 5);
		struct ivt_identity in;
		memset(&in, 0, sizeof(in));
		if (!slash)
			return -EINVAL;
		size_t n = (size_t)(slash - name);
		rc = parse_simple(slash + 1, len - 5 - n - 1, &in);
		if (rc == 0 && ivt_host_name_valid(name, n, IVT_IDENTITY_HOST_MAX)) {
			out->kind = IVT_IDENTITY_HOST;
			out->inner = in.kind;
			out->id = in.id;
			memcpy(out->host, name, n);
			out->host[n] = '\0';
			return 0;
		}
		rc = -EINVAL;
	} else {
		rc = parse_simple(s, len, out);
	}
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

static int format_simple(enum ivt_identity_kind kind, uint32_t id, char *buf, size_t cap)
{
	switch (kind) {
	case IVT_IDENTITY_UID:
		return snprintf(buf, cap, "uid:%u", (unsigned)id);
	case IVT_IDENTITY_DOM:
		return snprintf(buf, cap, "dom:%u", (unsigned)id);
	case IVT_IDENTITY_DAEMON:
		return snprintf(buf, cap, DAEMON_TEXT);
	default:
		return -EINVAL;
	}
}

int ivt_identity_format(const struct ivt_identity *id, char *buf, size_t cap)
{
	char tmp[IVT_IDENTITY_TEXT_MAX + 1];
	int n = -EINVAL;
	if (id && id->kind == IVT_IDENTITY_HOST) {
		size_t hn = strnlen(id->host, sizeof(id->host));
		if (hn < sizeof(id->host) && ivt_host_name_valid(id->host, hn, IVT_IDENTITY_HOST_MAX)) {
			char inner[16];
			if (format_simple(id->inner, id->id, inner, sizeof(inner)) > 0)
				n = snprintf(tmp, sizeof(tmp), "host:%s/%s", id->host, inner);
		}
	} else if (id) {
		n = format_simple(id->kind, id->id, tmp, sizeof(tmp));
	}
	if (n < 0) {
		if (cap)
			buf[0] = '\0';
		return -EINVAL;
	}
	if ((size_t)n >= cap) {
		if (cap)
			buf[0] = '\0';
		return -ENOSPC;
	}
	memcpy(buf, tmp, (size_t)n + 1);
	return n;
}

struct ivt_identity_text ivt_identity_text(const struct ivt_identity *id)
{
	struct ivt_identity_text t;
	if (ivt_identity_format(id, t.s, sizeof(t.s)) < 0)
		snprintf(t.s, sizeof(t.s), "-");
	return t;
}

int ivt_identity_equal(const struct ivt_identity *a, const struct ivt_identity *b)
{
	if (!a || !b || a->kind == IVT_IDENTITY_NONE || a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case IVT_IDENTITY_UID:
	case IVT_IDENTITY_DOM:
		return a->id == b->id;
	case IVT_IDENTITY_DAEMON:
		return 1;
	case IVT_IDENTITY_HOST:
		return a->inner == b->inner &&
		       (a->inner == IVT_IDENTITY_DAEMON || a->id == b->id) &&
		       !strncmp(a->host, b->host, sizeof(a->host));
	default:
		return 0;
	}
}

int ivt_identity_is_local(const struct ivt_identity *id)
{
	return id && (id->kind == IVT_IDENTITY_UID || id->kind == IVT_IDENTITY_DOM);
}
