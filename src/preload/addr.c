/* SPDX-License-Identifier: MIT */
/* Which TCP addresses are this host's own, and the tcp.P hello. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>

#include "preload.h"

/* Is addr (len bytes, family fam) on one of this host's interfaces? Asked
 * each time: addresses change. */
static int ifaddr_has(int fam, const void *addr, size_t len)
{
	struct ifaddrs *ifs, *i;
	int hit = 0;
	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && !hit; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != fam)
			continue;
		const void *a = fam == AF_INET
					? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
					: (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		hit = !memcmp(a, addr, len);
	}
	freeifaddrs(ifs);
	return hit;
}

static int v4_is_local(const struct in_addr *a)
{
	uint32_t h = ntohl(a->s_addr);
	if ((h >> 24) == 127 || h == INADDR_ANY)
		return 1;
	return ifaddr_has(AF_INET, a, sizeof(*a));
}

static int v6_is_local(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a))
		return 1;
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		struct in_addr v4;
		memcpy(&v4, &a->s6_addr[12], 4);
		return v4_is_local(&v4);
	}
	return ifaddr_has(AF_INET6, a, sizeof(*a));
}

int addr_is_local(const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return v4_is_local(&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return v6_is_local(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

int addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

void addr_ip(const struct sockaddr *sa, char *ip, size_t len)
{
	snprintf(ip, len, "?");
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip,
			  (socklen_t)len);
}

void addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	addr_ip(sa, ip, sizeof(ip));
	snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, addr_port(sa));
}

void channel_name(char *buf, size_t len, int port) { snprintf(buf, len, "tcp.%d", port); }

/*
 * Hello, 64 bytes: "IVTP" | version 1 | family (4 or 6) | 2 zero bytes |
 * src port (2, network order) | dst port (2) | 4 zero bytes |
 * src address (16) | dst address (16) | 16 zero bytes. IPv4 addresses use
 * the first 4 bytes of their 16.
 */
#define HELLO_MAGIC "IVTP"

static void put_addr(uint8_t *port, uint8_t *ip, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;
		memcpy(port, &s->sin_port, 2);
		memcpy(ip, &s->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *s = (const void *)ss;
		memcpy(port, &s->sin6_port, 2);
		memcpy(ip, &s->sin6_addr, 16);
	}
}

static socklen_t get_addr(const uint8_t *port, const uint8_t *ip, int fam,
			  struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (fam == AF_INET) {
		struct sockaddr_in *s = (void *)ss;
		s->sin_family = AF_INET;
		memcpy(&s->sin_port, port, 2);
		memcpy(&s->sin_addr, ip, 4);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s = (void *)ss;
	s->sin6_family = AF_INET6;
	memcpy(&s->sin6_port, port, 2);
	memcpy(&s->sin6_addr, ip, 16);
	return sizeof(*s);
}

void hello_encode(uint8_t out[HELLO_SIZE], const struct sockaddr_storage *src,
		  const struct sockaddr_storage *dst)
{
	memset(out, 0, HELLO_SIZE);
	memcpy(out, HELLO_MAGIC, 4);
	out[4] = 1;
	out[5] = src->ss_family == AF_INET6 ? 6 : 4;
	put_addr(out + 8, out + 16, src);
	put_addr(out + 10, out + 32, dst);
}

/* The peer is untrusted: anything but a well-formed hello is refused. */
int hello_decode(const uint8_t in[HELLO_SIZE], struct sockaddr_storage *src, socklen_t *slen,
		 struct sockaddr_storage *dst, socklen_t *dlen)
{
	if (memcmp(in, HELLO_MAGIC, 4) != 0 || in[4] != 1 || (in[5] != 4 && in[5] != 6))
		return -1;
	int fam = in[5] == 6 ? AF_INET6 : AF_INET;
	*slen = get_addr(in + 8, in + 16, fam, src);
	*dlen = get_addr(in + 10, in + 32, fam, dst);
	return 0;
}
