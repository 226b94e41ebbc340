/* SPDX-License-Identifier: MIT */
#include "common/xs_paths.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/ctrl_msg.h"
#include "common/xs_request.h"

static int fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	return (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int ivt_xs_name_node(char *out, size_t len, const char *name)
{
	if (!ivt_name_valid(name))
		return -EINVAL;
	size_t n = strlen(name);
	if (n >= len)
		return -ENAMETOOLONG;
	for (size_t i = 0; i <= n; i++)
		out[i] = name[i] == '.' ? '@' : name[i];
	return 0;
}

int ivt_xs_node_name(char *out, size_t len, const char *node, size_t n)
{
	if (n == 0 || n >= len || n > IVT_NAME_MAX || memchr(node, '.', n))
		return -EINVAL; /* '.': not something ivt wrote (xenstored refuses it) */
	for (size_t i = 0; i < n; i++)
		out[i] = node[i] == '@' ? '.' : node[i];
	out[n] = '\0';
	if (!ivt_name_valid(out)) {
		out[0] = '\0';
		return -EINVAL;
	}
	return 0;
}

int ivt_xs_domain_path(char *buf, size_t len, uint32_t domid)
{
	if (domid >= IVT_XS_DOMID_LIMIT)
		return -EINVAL;
	return fmt(buf, len, "/local/domain/%u", domid);
}

int ivt_xs_ivt_dir(char *buf, size_t len, uint32_t domid)
{
	if (domid >= IVT_XS_DOMID_LIMIT)
		return -EINVAL;
	return fmt(buf, len, "/local/domain/%u/data/ivt", domid);
}

int ivt_xs_end_path(char *buf, size_t len, uint32_t domid, const char *name, const char *leaf)
{
	char node[IVT_NAME_MAX + 1];
	if (domid >= IVT_XS_DOMID_LIMIT || ivt_xs_name_node(node, sizeof(node), name))
		return -EINVAL;
	if (leaf)
		return fmt(buf, len, "/local/domain/%u/data/ivt/%s/%s", domid, node, leaf);
	return fmt(buf, len, "/local/domain/%u/data/ivt/%s", domid, node);
}

int ivt_xs_slot_path(char *buf, size_t len, uint32_t domid, const char *name, uint32_t slot,
		     const char *leaf)
{
	char node[IVT_NAME_MAX + 1];
	if (!slot)
		return ivt_xs_end_path(buf, len, domid, name, leaf);
	if (domid >= IVT_XS_DOMID_LIMIT || ivt_xs_name_node(node, sizeof(node), name))
		return -EINVAL;
	if (leaf)
		return fmt(buf, len, "/local/domain/%u/data/ivt/%s/%u/%s", domid, node, slot, leaf);
	return fmt(buf, len, "/local/domain/%u/data/ivt/%s/%u", domid, node, slot);
}

int ivt_xs_incoming_path(char *buf, size_t len, uint32_t domid, const char *name,
			 uint32_t ticket)
{
	char node[IVT_NAME_MAX + 1];
	if (domid >= IVT_XS_DOMID_LIMIT || ivt_xs_name_node(node, sizeof(node), name))
		return -EINVAL;
	if (ticket)
		return fmt(buf, len, "/local/domain/%u/data/ivt/%s/" IVT_XS_LEAF_INCOMING "/%u",
			   domid, node, ticket);
	return fmt(buf, len, "/local/domain/%u/data/ivt/%s/" IVT_XS_LEAF_INCOMING, domid, node);
}

int ivt_xs_vchan_path(char *buf, size_t len, uint32_t srv_domid, const char *name,
		      uint64_t chan_id)
{
	char tmp[IVT_XS_VCHAN_PATH_MAX + 1];
	int rc = name ? ivt_xs_end_path(tmp, sizeof(tmp), srv_domid, name, IVT_XS_LEAF_VCHAN)
		      : -ENAMETOOLONG;
	if (srv_domid >= IVT_XS_DOMID_LIMIT)
		return -EINVAL;
	if (rc == -ENAMETOOLONG)
		rc = fmt(tmp, sizeof(tmp), "/local/domain/%u/data/ivt/@v%llu", srv_domid,
			 (unsigned long long)chan_id);
	if (rc)
		return rc;
	return fmt(buf, len, "%s", tmp);
}

int ivt_xs_vchan_path_ok(const char *path, uint32_t domid)
{
	char dir[64];
	size_t n;
	if (!path || ivt_xs_ivt_dir(dir, sizeof(dir), domid))
		return 0;
	n = strlen(dir);
	if (strnlen(path, IVT_XS_VCHAN_PATH_MAX + 1) > IVT_XS_VCHAN_PATH_MAX)
		return 0;
	if (strncmp(path, dir, n) != 0 || path[n] != '/' || path[n + 1] == '\0')
		return 0;
	/* Each component below the ivt dir: [A-Za-z0-9._-@], not "." or "..". */
	for (const char *c = path + n + 1; *c;) {
		size_t seg = strcspn(c, "/");
		if (seg == 0 || (seg == 1 && c[0] == '.') || (seg == 2 && !strncmp(c, "..", 2)))
			return 0;
		for (size_t i = 0; i < seg; i++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@",
				    c[i]))
				return 0;
		c += seg;
		if (*c == '/' && *++c == '\0')
			return 0;
	}
	return 1;
}
