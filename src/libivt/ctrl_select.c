/* SPDX-License-Identifier: MIT */
/* Which control transport an ivt_open() uses (rules in ctrl.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctrl.h"
#include "ctrl_conn.h"
#include "errors.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

int ivt_ctrl_select(struct ivt_ctrl *c, const char *socket_opt)
{
	c->ops = NULL;
	c->impl = NULL;
	/* An explicit socket is the caller's choice. */
	if ((socket_opt && *socket_opt) || env("IVT_SOCKET"))
		return ivt_ctrl_local_new(c, ivt_ctrl_socket_path(socket_opt));
	const char *reg = env("IVT_REGISTRY");
	if (reg && !strcmp(reg, "xenstore"))
		return ivt_ctrl_xs_new(c);
	if (reg && strcmp(reg, "local")) {
		ivt_reason_set(-EINVAL, "IVT_REGISTRY is '%s', not 'local' or 'xenstore'", reg);
		return -EINVAL;
	}
	/* No ivtd socket here but XenStore knows our domain: we are a guest.
	 * (In dom0 ivtd's socket exists, so local processes stay local.) */
	if (!reg && access(IVT_DEFAULT_SOCKET, F_OK) < 0 && errno == ENOENT) {
		if (ivt_ctrl_xs_new(c) == 0)
			return 0;
		ivt_reason_clear(); /* the local socket's error says it better */
	}
	return ivt_ctrl_local_new(c, IVT_DEFAULT_SOCKET);
}

void ivt_ctrl_close(struct ivt_ctrl *c, int graceful)
{
	if (c->ops)
		c->ops->close(c->impl, graceful);
	c->ops = NULL;
	c->impl = NULL;
}
