/* SPDX-License-Identifier: MIT */
/* Strict parsing of guest-written XenStore values and watch paths. */
#include "common/xs_request.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/ctrl_msg.h"
#include "common/plugin_loader.h"
#include "common/xs_paths.h"

#define DOMAIN_PREFIX "/local/domain/"

int ivt_xs_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 20)
		return len ? -ERANGE : -EINVAL;
	if (len > 1 && s[0] == '0')
		return -EINVAL; /* no leading zeros: one spelling per number */
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int ivt_xs_parse_domid(const char *s, size_t len, uint32_t *out)
{
	uint64_t v;
	int rc = ivt_xs_parse_u64(s, len, IVT_XS_DOMID_LIMIT - 1, &v);
	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

int ivt_xs_check_line(const char *val, size_t len, size_t max, char *why, size_t why_len)
{
	if (!val || len == 0) {
		snprintf(why, why_len, "empty value");
		return -EINVAL;
	}
	if (len > max) {
		snprintf(why, why_len, "value too long (%zu bytes, limit %zu)", len, max);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)val[i];
		if (c == ' ') {
			if (i == 0 || i == len - 1 || val[i - 1] == ' ') {
				snprintf(why, why_len, "stray space at offset %zu", i);
				return -EINVAL;
			}
		} else if (c < 0x21 || c > 0x7e) {
			snprintf(why, why_len, "byte 0x%02x at offset %zu is not printable ASCII", c, i);
			return -EINVAL;
		}
	}
	return 0;
}

int ivt_xs_next_token(const char *val, size_t len, size_t *pos, const char **tok,
		      size_t *tok_len)
{
	size_t p = *pos;
	if (p >= len)
		return 0;
	size_t end = p;
	while (end < len && val[end] != ' ')
		end++;
	*tok = val + p;
	*tok_len = end - p;
	*pos = end < len ? end + 1 : end;
	return 1;
}

int ivt_xs_split_kv(const char *tok, size_t tok_len, const char **key, size_t *key_len,
		    const char **val, size_t *val_len)
{
	const char *eq = memchr(tok, '=', tok_len);
	if (!eq || eq == tok || eq == tok + tok_len - 1)
		return -EINVAL;
	*key = tok;
	*key_len = (size_t)(eq - tok);
	*val = eq + 1;
	*val_len = tok_len - *key_len - 1;
	return 0;
}

static int token_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(tok, word, len) == 0;
}

/* One key=value of a request. seen: bit per key, for duplicates. */
static int parse_request_kv(const char *key, size_t klen, const char *v, size_t vlen,
			    struct ivt_xs_request *out, unsigned *seen, char *why, size_t why_len)
{
	enum { K_BACKEND = 1, K_RING = 2, K_PEER = 4, K_SEQ = 8, K_MULTI = 16, K_TICKET = 32,
	       K_MESSAGE = 64, K_ADDR = 128, K_HALFCLOSE = 256 };
	unsigned bit;
	uint64_t n;
	int rc;

	if (token_is(key, klen, "backend"))
		bit = K_BACKEND;
	else if (token_is(key, klen, "ring"))
		bit = K_RING;
	else if (token_is(key, klen, "peer"))
		bit = K_PEER;
	else if (token_is(key, klen, "seq"))
		bit = K_SEQ;
	else if (token_is(key, klen, "multi"))
		bit = K_MULTI;
	else if (token_is(key, klen, "ticket"))
		bit = K_TICKET;
	else if (token_is(key, klen, "message"))
		bit = K_MESSAGE;
	else if (token_is(key, klen, "addr"))
		bit = K_ADDR;
	else if (token_is(key, klen, "halfclose"))
		bit = K_HALFCLOSE;
	else {
		snprintf(why, why_len, "unknown key '%.*s'", (int)(klen > 32 ? 32 : klen), key);
		return -EINVAL;
	}
	if (*seen & bit) {
		snprintf(why, why_len, "duplicate key '%.*s'", (int)klen, key);
		return -EINVAL;
	}
	*seen |= bit;

	switch (bit) {
	case K_BACKEND:
		if (!ivt_plugin_name_valid(v, vlen)) {
			snprintf(why, why_len, "backend must be 1..%d chars of [a-z0-9_]",
				 IVT_BACKEND_NAME_MAX);
			return -EINVAL;
		}
		memcpy(out->backend, v, vlen);
		out->backend[vlen] = '\0';
		return 0;
	case K_RING:
		rc = ivt_xs_parse_u64(v, vlen, IVT_XS_RING_MAX, &n);
		if (rc == -ERANGE) {
			snprintf(why, why_len, "ring too large (limit %llu)",
				 (unsigned long long)IVT_XS_RING_MAX);
			return -EINVAL;
		}
		if (rc) {
			snprintf(why, why_len, "ring is not a decimal number");
			return -EINVAL;
		}
		if (n != 0 && (n < IVT_XS_RING_MIN || (n & (n - 1)))) {
			snprintf(why, why_len, "ring must be 0 or a power of two >= %u",
				 IVT_XS_RING_MIN);
			return -EINVAL;
		}
		out->ring_size = n;
		return 0;
	case K_PEER:
		if (out->listen) {
			snprintf(why, why_len, "peer= is only valid with connect");
			return -EINVAL;
		}
		if (ivt_xs_parse_domid(v, vlen, &out->peer_domid)) {
			snprintf(why, why_len, "peer must be a domain id below %u",
				 IVT_XS_DOMID_LIMIT);
			return -EINVAL;
		}
		out->has_peer = 1;
		return 0;
	case K_MULTI:
		if (!out->listen || !token_is(v, vlen, "1")) {
			snprintf(why, why_len, "multi=1 is only valid with listen");
			return -EINVAL;
		}
		out->multi = 1;
		return 0;
	case K_ADDR:
		if (ivt_ip_parse(v, vlen, 0, &out->addr)) {
			snprintf(why, why_len, "addr must be an IPv4 or IPv6 address");
			return -EINVAL;
		}
		out->has_addr = 1;
		return 0;
	case K_MESSAGE:
		if (!token_is(v, vlen, "1")) {
			snprintf(why, why_len, "message must be 1 (or absent: the listener decides)");
			return -EINVAL;
		}
		out->message = 1;
		return 0;
	case K_HALFCLOSE:
		if (!token_is(v, vlen, "1")) {
			snprintf(why, why_len, "halfclose must be 1 (or absent)");
			return -EINVAL;
		}
		out->halfclose = 1;
		return 0;
	case K_TICKET:
		if (!out->listen || ivt_xs_parse_u64(v, vlen, UINT32_MAX, &n) || n == 0) {
			snprintf(why, why_len, "ticket must be a nonzero decimal below 2^32, with listen");
			return -EINVAL;
		}
		out->ticket = (uint32_t)n;
		return 0;
	default: /* K_SEQ */
		if (ivt_xs_parse_u64(v, vlen, UINT32_MAX, &n)) {
			snprintf(why, why_len, "seq must be a decimal number below 2^32");
			return -EINVAL;
		}
		out->seq = (uint32_t)n;
		out->has_seq = 1;
		return 0;
	}
}

int ivt_xs_parse_request(const char *val, size_t len, struct ivt_xs_request *out, char *why,
			 size_t why_len)
{
	const char *tok = NULL;
	size_t tlen = 0, pos = 0;
	unsigned seen = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ivt_xs_check_line(val, len, IVT_XS_REQUEST_MAX, why, why_len);
	if (rc)
		return rc;

	ivt_xs_next_token(val, len, &pos, &tok, &tlen);
	if (token_is(tok, tlen, "listen"))
		out->listen = 1;
	else if (!token_is(tok, tlen, "connect")) {
		snprintf(why, why_len, "request must start with 'listen' or 'connect'");
		return -EINVAL;
	}
	strcpy(out->backend, "auto");

	while (ivt_xs_next_token(val, len, &pos, &tok, &tlen)) {
		const char *k, *v;
		size_t klen, vlen;
		if (ivt_xs_split_kv(tok, tlen, &k, &klen, &v, &vlen)) {
			snprintf(why, why_len, "expected key=value, got '%.*s'",
				 (int)(tlen > 32 ? 32 : tlen), tok);
			return -EINVAL;
		}
		rc = parse_request_kv(k, klen, v, vlen, out, &seen, why, why_len);
		if (rc)
			return rc;
	}
	if (out->multi && out->ticket) {
		snprintf(why, why_len, "multi=1 and ticket= exclude each other");
		return -EINVAL;
	}
	return 0;
}

int ivt_xs_format_req(char *buf, size_t len, const struct ivt_xs_request *r)
{
	char extra[40] = "";
	const char *backend = r->backend[0] ? r->backend : "auto";
	int n;
	if (!ivt_plugin_name_valid(backend, strlen(backend)) || r->ring_size > IVT_XS_RING_MAX ||
	    ((r->multi || r->ticket) && !r->listen) || (r->multi && r->ticket))
		return -EINVAL;
	if (r->has_peer) {
		if (r->listen || r->peer_domid >= IVT_XS_DOMID_LIMIT)
			return -EINVAL;
		snprintf(extra, sizeof(extra), " peer=%u", r->peer_domid);
	} else if (r->multi) {
		snprintf(extra, sizeof(extra), " multi=1");
	} else if (r->ticket) {
		snprintf(extra, sizeof(extra), " ticket=%u", r->ticket);
	}
	char addr[IVT_IP_TEXT_MAX + 7] = "";
	if (r->has_addr) {
		if (ivt_ip_format(&r->addr, addr + 6, sizeof(addr) - 6))
			return -EINVAL;
		memcpy(addr, " addr=", 6);
	}
	n = snprintf(buf, len, "%s backend=%s ring=%llu%s%s%s%s seq=%u",
		     r->listen ? "listen" : "connect", backend, (unsigned long long)r->ring_size,
		     extra, addr, r->message ? " message=1" : "",
		     r->halfclose ? " halfclose=1" : "", r->seq);
	return n >= 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int ivt_xs_format_request(char *buf, size_t len, int listen, const char *backend,
			  uint64_t ring_size, int64_t peer, uint32_t seq)
{
	struct ivt_xs_request r = {.listen = listen, .ring_size = ring_size, .seq = seq};
	if (backend && strlen(backend) >= sizeof(r.backend))
		return -EINVAL;
	snprintf(r.backend, sizeof(r.backend), "%s", backend ? backend : "");
	if (peer >= 0) {
		if (peer >= IVT_XS_DOMID_LIMIT)
			return -EINVAL;
		r.has_peer = 1;
		r.peer_domid = (uint32_t)peer;
	}
	return ivt_xs_format_req(buf, len, &r);
}

/* Match a literal at *p; advance on success. */
static int eat(const char **p, const char *lit)
{
	size_t n = strlen(lit);
	if (strncmp(*p, lit, n) != 0)
		return 0;
	*p += n;
	return 1;
}

enum ivt_xs_path_kind ivt_xs_classify_path(const char *path, struct ivt_xs_path_info *out)
{
	const char *p = path, *seg;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!path || strnlen(path, IVT_XS_WATCH_PATH_MAX + 1) > IVT_XS_WATCH_PATH_MAX)
		return IVT_XS_PATH_IGNORE;
	if (!eat(&p, DOMAIN_PREFIX))
		return IVT_XS_PATH_IGNORE;
	n = strcspn(p, "/");
	if (ivt_xs_parse_domid(p, n, &out->domid))
		return IVT_XS_PATH_IGNORE;
	p += n;
	if (*p == '\0')
		return IVT_XS_PATH_ANCESTOR;
	if (!eat(&p, "/data"))
		return IVT_XS_PATH_IGNORE;
	if (*p == '\0')
		return IVT_XS_PATH_ANCESTOR;
	if (!eat(&p, "/ivt"))
		return IVT_XS_PATH_IGNORE;
	if (*p == '\0')
		return IVT_XS_PATH_ANCESTOR;
	if (*p++ != '/')
		return IVT_XS_PATH_IGNORE;
	seg = p;
	n = strcspn(p, "/");
	if (ivt_xs_node_name(out->name, sizeof(out->name), seg, n))
		return IVT_XS_PATH_IGNORE;
	p += n;
	if (*p == '\0')
		return IVT_XS_PATH_ANCESTOR;
	if (strcmp(p, "/request") == 0)
		return IVT_XS_PATH_REQUEST;
	/* <name>/<slot>[/request]: a slot is a nonzero decimal, so it never
	 * meets "vchan", "in" or the leaves */
	n = strcspn(++p, "/");
	uint64_t slot;
	if (ivt_xs_parse_u64(p, n, UINT32_MAX, &slot) || slot == 0)
		return IVT_XS_PATH_IGNORE;
	out->slot = (uint32_t)slot;
	p += n;
	if (*p == '\0')
		return IVT_XS_PATH_ANCESTOR;
	if (strcmp(p, "/request") == 0)
		return IVT_XS_PATH_REQUEST;
	out->slot = 0;
	return IVT_XS_PATH_IGNORE;
}
