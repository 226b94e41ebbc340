/* SPDX-License-Identifier: MIT */
/* TCP ports and addresses as ivt names (tcp_map.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/tcp_map.h"

/* A canonical decimal (no sign, no leading zero) in [lo, hi] at s, up to
 * a character not a digit; *end past it. 0 or -1. */
static int dec(const char *s, unsigned long lo, unsigned long hi, unsigned long *out,
	       const char **end)
{
	unsigned long v = 0;
	const char *p = s;
	if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > hi)
			return -1;
	}
	if (v < lo)
		return -1;
	*out = v;
	*end = p;
	return 0;
}

int ivt_tcp_name(char *buf, size_t len, unsigned port)
{
	int n = snprintf(buf, len, "tcp.%u", port);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

unsigned ivt_tcp_name_port(const char *name)
{
	unsigned long p;
	const char *end;
	if (strncmp(name, "tcp.", 4) || dec(name + 4, 1, 65535, &p, &end) || *end)
		return 0;
	return (unsigned)p;
}

int ivt_tcp_name_scoped(char *buf, size_t len, unsigned port, uint32_t domid)
{
	int n = snprintf(buf, len, "tcp.%u.dom%u", port, domid);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int ivt_tcp_name_owner(const char *name, uint32_t *domid)
{
	unsigned long p, d;
	const char *end;
	if (strncmp(name, "tcp.", 4) || dec(name + 4, 1, 65535, &p, &end) ||
	    strncmp(end, ".dom", 4) || dec(end + 4, 0, 0x7FEF, &d, &end) || *end)
		return 0;
	*domid = (uint32_t)d;
	return 1;
}

int ivt_ip_parse(const char *s, size_t len, int allow_prefix, struct ivt_ip *out)
{
	char text[IVT_IP_TEXT_MAX + 1];
	const char *slash = memchr(s, '/', len);
	if (slash && allow_prefix)
		len = (size_t)(slash - s);
	if (len == 0 || len > IVT_IP_TEXT_MAX || memchr(s, '\0', len))
		return -EINVAL;
	memcpy(text, s, len);
	text[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	struct in6_addr a;
	if (inet_pton(AF_INET6, text, &a) != 1)
		return -EINVAL;
	if (IN6_IS_ADDR_V4MAPPED(&a)) {
		out->family = AF_INET;
		memcpy(out->bytes, &a.s6_addr[12], 4);
	} else {
		out->family = AF_INET6;
		memcpy(out->bytes, &a, 16);
	}
	return 0;
}

int ivt_ip_format(const struct ivt_ip *ip, char *buf, size_t len)
{
	if ((ip->family != AF_INET && ip->family != AF_INET6) ||
	    !inet_ntop(ip->family, ip->bytes, buf, (socklen_t)len))
		return -EINVAL;
	return 0;
}

int ivt_ip_equal(const struct ivt_ip *a, const struct ivt_ip *b)
{
	return a->family == b->family &&
	       !memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
}

int ivt_tcp_name_at(char *buf, size_t len, unsigned port, const struct ivt_ip *addr)
{
	char text[IVT_IP_TEXT_MAX + 1];
	if (!addr)
		return ivt_tcp_name(buf, len, port);
	if (ivt_ip_format(addr, text, sizeof(text)))
		return -EINVAL;
	for (char *c = text; *c; c++)
		if (*c == ':')
			*c = '-'; /* names have no ':' (XenStore paths, file names) */
	int n = snprintf(buf, len, "tcp.%u.%s", port, text);
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

static int is_any(const struct ivt_ip *a)
{
	static const uint8_t zero[16];
	return !memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16);
}

int ivt_tcp_name_bound(char *buf, size_t len, unsigned port, const struct ivt_ip *addr,
		       int v6only)
{
	if (addr && addr->family != AF_INET && addr->family != AF_INET6)
		return -EINVAL;
	/* "::" without IPV6_V6ONLY takes both families: tcp.<P>. 0.0.0.0
	 * keeps its address (tcp.<P>.0.0.0.0): IPv6 dials must not reach it */
	if (!addr || (is_any(addr) && addr->family == AF_INET6 && !v6only))
		return ivt_tcp_name(buf, len, port);
	return ivt_tcp_name_at(buf, len, port, addr);
}

unsigned ivt_tcp_name_addr(const char *name, struct ivt_ip *addr)
{
	unsigned long p;
	const char *end;
	char text[IVT_IP_TEXT_MAX + 1], back[64];
	if (strncmp(name, "tcp.", 4) || dec(name + 4, 1, 65535, &p, &end) || *end != '.')
		return 0;
	size_t n = strlen(end + 1);
	if (n == 0 || n > IVT_IP_TEXT_MAX)
		return 0;
	memcpy(text, end + 1, n + 1);
	for (char *c = text; *c; c++) {
		if (*c == ':')
			return 0;
		if (*c == '-')
			*c = ':';
	}
	/* one name per address: only the canonical text */
	if (ivt_ip_parse(text, n, 0, addr) || ivt_tcp_name_at(back, sizeof(back), (unsigned)p, addr) ||
	    strcmp(back, name))
		return 0;
	return (unsigned)p;
}

unsigned ivt_tcp_name_any_port(const char *name)
{
	struct ivt_ip a;
	unsigned p = ivt_tcp_name_port(name);
	return p ? p : ivt_tcp_name_addr(name, &a);
}

int ivt_tcp_pick(char *out, size_t len, unsigned port, const struct ivt_ip *to,
		 ivt_tcp_listening_fn listening, void *arg)
{
	int rc = ivt_tcp_name_at(out, len, port, to);
	if (rc || listening(arg, out))
		return rc; /* bound to exactly that address: TCP's first choice */
	/* then the wildcard of its own family: 0.0.0.0, or "::" IPv6-only */
	struct ivt_ip any = {.family = to->family};
	if ((rc = ivt_tcp_name_at(out, len, port, &any)) || listening(arg, out))
		return rc;
	return ivt_tcp_name(out, len, port); /* "::" of both families, or nobody */
}
