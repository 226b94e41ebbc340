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

/* The rules of ctrl.h. 1: XenStore, 0: local, socket in *path; <0: error. */
static int pick(const char *socket_opt, const char **path)
{
	*path = IVT_DEFAULT_SOCKET;
	/* An explicit socket is the caller's choice. */
	if ((socket_opt && *socket_opt) || env("IVT_SOCKET")) {
		*path = ivt_ctrl_socket_path(socket_opt);
		return 0;
	}
	const char *reg = env("IVT_REGISTRY");
	if (reg && !strcmp(reg, "xenstore"))
		return 1;
	if (reg && strcmp(reg, "local")) {
		ivt_reason_set(-EINVAL, "IVT_REGISTRY is '%s', not 'local' or 'xenstore'", reg);
		return -EINVAL;
	}
	/* No ivtd socket here but XenStore may know our domain: a guest?
	 * (In dom0 ivtd's socket exists, so local processes stay local.) */
	return !reg && access(IVT_DEFAULT_SOCKET, F_OK) < 0 && errno == ENOENT ? 2 : 0;
}

/* guest_only: only XenStore will do; -EHOSTUNREACH instead of local. */
static int select_ctrl(struct ivt_ctrl *c, const char *socket_opt, int guest_only)
{
	const char *path;
	c->ops = NULL;
	c->impl = NULL;
	int how = pick(socket_opt, &path);
	if (how < 0)
		return how;
	int rc = how ? ivt_ctrl_xs_new(c) : -EHOSTUNREACH;
	if (rc == 0 || (how == 1 && !guest_only)) /* asked for XenStore: its error */
		return rc;
	ivt_reason_clear(); /* the local socket's error says it better */
	if (!guest_only)
		return ivt_ctrl_local_new(c, path);
	ivt_reason_set(-EHOSTUNREACH, "addresses of other hosts map to channels only in Xen "
				      "guests (XenStore), and this is not one");
	return -EHOSTUNREACH;
}

int ivt_ctrl_select(struct ivt_ctrl *c, const char *socket_opt)
{
	return select_ctrl(c, socket_opt, 0);
}

int ivt_ctrl_select_guest(struct ivt_ctrl *c, const char *socket_opt)
{
	return select_ctrl(c, socket_opt, 1);
}

void ivt_ctrl_close(struct ivt_ctrl *c, int graceful)
{
	if (c->ops)
		c->ops->close(c->impl, graceful);
	c->ops = NULL;
	c->impl = NULL;
}
