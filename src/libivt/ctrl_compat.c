/* SPDX-License-Identifier: MIT */
#include "ctrl_compat.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/tcp_map.h"
#include "errors.h"

/* What an ivtd before known_flags answers to any flag it does not know. */
#define OLD_FLAGS_TEXT "invalid OPEN flags"

uint32_t ivt_ctrl_compat_known(const struct ivt_ctrl_error *e, uint32_t sent)
{
	if (e->err != EINVAL)
		return 0;
	if (e->known_flags)
		return e->known_flags;
	if (strcmp(e->msg, OLD_FLAGS_TEXT) != 0)
		return 0;
	/* It did not say: guess it lacks the newest optional flag sent (the
	 * next answer tells), and once none is left, all but the oldest. */
	uint32_t opt = sent & IVT_CTRL_OPEN_OPTIONAL;
	if (!opt)
		return IVT_LISTEN;
	uint32_t newest = 1u << (31 - __builtin_clz(opt));
	return IVT_CTRL_OPEN_FLAGS & ~newest;
}

/* The features behind required flags, for the error text. */
static void name_features(uint32_t fl, char *buf, size_t cap)
{
	static const struct {
		uint32_t flag;
		const char *what;
	} features[] = {
		{IVT_CTRL_OPEN_MULTI, "listeners that accept many connections (ivt_listen)"},
		{IVT_CTRL_OPEN_ACCEPT, "accepting connections (ivt_accept)"},
		{IVT_MESSAGE, "message mode (IVT_MESSAGE)"},
	};
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		if (!(fl & features[i].flag))
			continue;
		int w = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", features[i].what);
		if (w < 0 || (size_t)w >= cap - n)
			return;
		n += (size_t)w;
		fl &= ~features[i].flag;
	}
	if (fl)
		snprintf(buf + n, cap - n, "%sOPEN flags 0x%x", n ? ", " : "", fl);
}

int ivt_ctrl_compat_flags(uint32_t flags, uint32_t known, const char *path, uint32_t *out)
{
	/* Hints are optional too: daemons from before hints refuse them. */
	uint32_t unknown = flags & ~known;
	uint32_t required = unknown & ~(uint32_t)(IVT_CTRL_OPEN_OPTIONAL | IVT_CTRL_OPEN_HINTS);
	if (required) {
		char what[160];
		name_features(required, what, sizeof(what));
		ivt_reason_set(-EOPNOTSUPP, "ivtd at %s is older than this libivt and does not "
					    "know %s; upgrade ivtd", path, what);
		return -EOPNOTSUPP;
	}
	if (!unknown)
		return -EINVAL; /* refused for another reason: its text stays */
	IVT_DEBUG("libivt", "ivtd at %s does not know OPEN flags 0x%x: opening without them "
			    "(no peer identity, no re-attach to a restarted ivtd)", path, unknown);
	*out = flags & ~unknown;
	return 0;
}

int ivt_ctrl_compat_open(struct ivt_ctrl_open *req, uint32_t known, const char *path)
{
	uint32_t fl;
	int rc = ivt_ctrl_compat_flags(req->flags, known, path, &fl);
	if (rc < 0)
		return rc;
	unsigned port = ivt_tcp_name_any_port(req->name);
	if ((req->flags & ~fl & IVT_CTRL_OPEN_TCP_DIAL) && port) {
		/* an ivtd before addresses: tcp.<P>, matched by port alone */
		IVT_DEBUG("libivt", "ivtd at %s does not pick TCP listeners by address: opening "
				    "tcp.%u for %s", path, port, req->name);
		ivt_tcp_name(req->name, sizeof(req->name), port);
	}
	req->flags = fl;
	return 0;
}
