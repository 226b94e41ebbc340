/* SPDX-License-Identifier: MIT */
/*
 * Guests' TCP ports (docs/xenstore.md, "TCP ports of guests"): a guest's
 * tcp.<P> is its own, tcp.<P>.dom<d> for the broker, and a connector that
 * names the IP address it dialled (addr=) reaches the guest the toolstack
 * gave that address.
 *
 * Trust: addresses come only from dom0's vif backend directories,
 * /local/domain/0/backend/vif/<domid>/<devid>/ip, which libxl writes from
 * the guest's config and no guest can write. What a guest writes about
 * itself (its frontend device/vif/<n>/..., data/...) is never read here,
 * so no guest can claim another's address.
 *
 * Cost: read on demand, per connector that carries addr=: one listing of
 * the backend directory, one per guest with a vif, one read per vif. No
 * watch, no node, no transaction; bounded by MAX_NAMES_SCANNED at each
 * level.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/tcp_map.h"
#include "registry_xs_int.h"
#include "xs_store.h"

#define VIF_BACKEND "/local/domain/0/backend/vif"
#define IP_VALUE_MAX 512 /* libxl's "ip" is a space-separated list */

/* Does the vif's ip value (space-separated, "/prefix" allowed) hold ip? */
static int value_has(const char *v, size_t len, const struct ivt_ip *ip)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && v[i] == ' ')
			i++;
		size_t s = i;
		while (i < len && v[i] != ' ')
			i++;
		struct ivt_ip a;
		if (i > s && ivt_ip_parse(v + s, i - s, 1, &a) == 0 && ivt_ip_equal(&a, ip))
			return 1;
	}
	return 0;
}

/* Does any vif of domid (listed under dir) carry ip? */
static int domain_has(struct xs_registry *r, uint32_t domid, const char *dir,
		      const struct ivt_ip *ip)
{
	unsigned n = 0;
	int hit = 0;
	char **vifs = xs_list_dir(r, domid, dir, &n);
	for (unsigned i = 0; vifs && i < n && !hit; i++) {
		char path[IVT_XS_WATCH_PATH_MAX], v[IP_VALUE_MAX];
		size_t len;
		if (snprintf(path, sizeof(path), "%s/%s/ip", dir, vifs[i]) < (int)sizeof(path) &&
		    ivt_xs_read_value(r->xs, XBT_NULL, path, v, sizeof(v), &len) == 0)
			hit = value_has(v, len, ip);
	}
	free(vifs);
	return hit;
}

int xs_addr_owner(struct xs_registry *r, const struct ivt_ip *ip, uint32_t *owner, char *why,
		  size_t why_len)
{
	char text[IVT_IP_TEXT_MAX + 1] = "?";
	unsigned n = 0, hits = 0;
	uint32_t who = 0;
	ivt_ip_format(ip, text, sizeof(text));
	char **doms = xs_list_dir(r, 0, VIF_BACKEND, &n);
	for (unsigned i = 0; doms && i < n; i++) {
		uint32_t d;
		char dir[96];
		if (ivt_xs_parse_domid(doms[i], strlen(doms[i]), &d) ||
		    snprintf(dir, sizeof(dir), VIF_BACKEND "/%u", d) >= (int)sizeof(dir) ||
		    !domain_has(r, d, dir, ip) || (hits && who == d))
			continue;
		hits++;
		who = d;
	}
	free(doms);
	if (hits == 0) {
		snprintf(why, why_len, "no guest on this host has address %s", text);
		return -EHOSTUNREACH;
	}
	if (hits > 1) {
		snprintf(why, why_len, "address %s is configured for more than one guest", text);
		return -ENOTUNIQ;
	}
	if (!ivt_xs_domain_alive(r->xs, who)) {
		snprintf(why, why_len, "address %s belongs to dom%u, which is gone", text, who);
		return -EHOSTUNREACH;
	}
	*owner = who;
	return 0;
}

static int is_wildcard(const struct ivt_ip *a)
{
	static const uint8_t zero[16];
	return !memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16);
}

static int is_loopback(const struct ivt_ip *a)
{
	static const uint8_t v6lo[16] = {[15] = 1};
	return a->family == AF_INET ? a->bytes[0] == 127 : !memcmp(a->bytes, v6lo, 16);
}

/* TCP's rule for another guest's connector dialling `to`: the owner's
 * listener must be bound to any address or to `to` (so never loopback).
 * What the listener says of itself only narrows who reaches it. A
 * listener not there yet: the broker answers for it. */
static int reachable(struct xs_registry *r, uint32_t owner, const char *name,
		     const struct ivt_ip *to, char *why, size_t why_len)
{
	struct xs_end *l = xs_find_end(r, owner, name, 0);
	if (!l || !l->req.listen || !l->req.has_addr || is_wildcard(&l->req.addr) ||
	    ivt_ip_equal(&l->req.addr, to))
		return 0;
	char text[IVT_IP_TEXT_MAX + 1] = "?";
	ivt_ip_format(&l->req.addr, text, sizeof(text));
	snprintf(why, why_len, "dom%u's %s listens on %s%s only", owner, name, text,
		 is_loopback(&l->req.addr) ? " (loopback)" : "");
	return -ECONNREFUSED;
}

int xs_tcp_scope(struct xs_registry *r, uint32_t domid, const char *name,
		 struct ivt_xs_request *req, char *out, size_t out_len, char *why, size_t why_len)
{
	unsigned port = ivt_tcp_name_port(name);
	uint32_t owner = domid; /* listeners, and tcp.<P> inside the guest */
	struct ivt_ip host_addr;
	if (!port && ivt_tcp_name_addr(name, &host_addr)) {
		snprintf(why, why_len, "'%s' is a TCP port on an address of ivtd's host, not "
				       "a guest's", name);
		return -EACCES;
	}
	if (!port) {
		if (req->has_addr) {
			snprintf(why, why_len, "addr= is only for channels tcp.<port>");
			return -EINVAL;
		}
		snprintf(out, out_len, "%s", name);
		return 0;
	}
	if (!req->listen && req->has_addr) {
		int rc = xs_addr_owner(r, &req->addr, &owner, why, why_len);
		if (rc)
			return rc;
		if (req->has_peer && req->peer_domid != owner) {
			snprintf(why, why_len, "the address is dom%u's, the request asked for dom%u",
				 owner, req->peer_domid);
			return -ECONNREFUSED;
		}
		if (owner != domid && (rc = reachable(r, owner, name, &req->addr, why, why_len)))
			return rc;
		req->has_peer = 1; /* xs_reply_ok checks the broker's match */
		req->peer_domid = owner;
	} else if (!req->listen && req->has_peer) {
		owner = req->peer_domid;
	}
	return ivt_tcp_name_scoped(out, out_len, port, owner) ? -ENAMETOOLONG : 0;
}
