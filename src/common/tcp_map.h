/* SPDX-License-Identifier: MIT */
/*
 * How TCP ports and addresses map onto ivt channel names (docs/preload.md,
 * docs/xenstore.md "TCP ports of guests"): the preload's listener of TCP
 * port P offers channel tcp.<P>. On the local control socket that name is
 * the host's. A Xen guest's tcp.<P> is scoped to the guest: ivtd's
 * XenStore registry hands it to the broker and the policy as
 * tcp.<P>.dom<d>, d being the domain that listens there, and only dom:<d>
 * may listen on such a name (the broker checks, whatever the registry).
 * Pure functions, no allocation: both sides and the tests share them.
 */
#ifndef IVT_COMMON_TCP_MAP_H
#define IVT_COMMON_TCP_MAP_H

#include <stddef.h>
#include <stdint.h>

/* "tcp.<port>" into buf; 0 or -ENAMETOOLONG. port 1..65535. */
int ivt_tcp_name(char *buf, size_t len, unsigned port);
/* The port if name is exactly tcp.<P> (decimal 1..65535, no leading
 * zeros), else 0. */
unsigned ivt_tcp_name_port(const char *name);
/* "tcp.<port>.dom<domid>": the broker's name of guest domid's tcp.<port>. */
int ivt_tcp_name_scoped(char *buf, size_t len, unsigned port, uint32_t domid);
/* 1 with *domid if name is tcp.<P>.dom<d> (both canonical decimals), else 0. */
int ivt_tcp_name_owner(const char *name, uint32_t *domid);

/* An IP address, IPv4 or IPv6 (IPv4-mapped IPv6 is kept as IPv4). */
struct ivt_ip {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t bytes[16]; /* IPv4 in the first 4 */
};
/* Longest text of an address (INET6_ADDRSTRLEN without the NUL). */
#define IVT_IP_TEXT_MAX 45
/* Parse len bytes of text (no NUL needed) as an address; a "/prefix" tail
 * is ignored when allow_prefix (toolstack values may carry one).
 * 0 or -EINVAL. */
int ivt_ip_parse(const char *s, size_t len, int allow_prefix, struct ivt_ip *out);
/* Canonical text (inet_ntop); 0 or -EINVAL. */
int ivt_ip_format(const struct ivt_ip *ip, char *buf, size_t len);
int ivt_ip_equal(const struct ivt_ip *a, const struct ivt_ip *b);

/*
 * This host's TCP addresses (docs/preload.md, "Addresses"): over ivtd's
 * control socket a listener bound to one address is tcp.<P>.<addr>, addr
 * the address's canonical text with each ':' written '-' (127.0.0.2,
 * --1 for ::1, 0.0.0.0, -- for "::" with IPV6_V6ONLY); one bound to "::"
 * taking IPv4 too stays tcp.<P>. A connector names
 * the address it dialled the same way, and ivtd picks the listener TCP
 * would (ivt_tcp_pick).
 */
/* tcp.<port>.<addr> into buf, or tcp.<port> when addr is NULL. 0 or
 * -ENAMETOOLONG / -EINVAL. */
int ivt_tcp_name_at(char *buf, size_t len, unsigned port, const struct ivt_ip *addr);
/* The name a listener of port bound to addr (NULL: any) gets; v6only:
 * its socket has IPV6_V6ONLY (only "::" makes a difference). */
int ivt_tcp_name_bound(char *buf, size_t len, unsigned port, const struct ivt_ip *addr,
		       int v6only);
/* The port if name is tcp.<P>.<addr> (addr canonical, as above) with
 * *addr filled, else 0. */
unsigned ivt_tcp_name_addr(const char *name, struct ivt_ip *addr);
/* The port of tcp.<P> or tcp.<P>.<addr>, else 0: the name the policy
 * matches besides the full one. */
unsigned ivt_tcp_name_any_port(const char *name);
/* Does a listener named `name` exist? (the broker's table) */
typedef int (*ivt_tcp_listening_fn)(void *arg, const char *name);
/* The name of the listener TCP hands a connection to `to`:port: the one
 * bound to `to`; else the wildcard of `to`'s family (0.0.0.0, or "::"
 * with IPV6_V6ONLY); else tcp.<port> ("::" of both families, or nobody:
 * the broker says).
 * `to` should be what the kernel connects to (0.0.0.0 is 127.0.0.1).
 * 0 or -ENAMETOOLONG. */
int ivt_tcp_pick(char *out, size_t len, unsigned port, const struct ivt_ip *to,
		 ivt_tcp_listening_fn listening, void *arg);

#endif /* IVT_COMMON_TCP_MAP_H */
