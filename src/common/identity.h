/* SPDX-License-Identifier: MIT */
/* Who a channel end is, as ivtd's policy, status and logs see it
 * (conf/README.md "Identities"). Inside ivtd an identity is this struct
 * and is compared field by field; text exists only on the wire (control
 * socket PEER_INFO / INCOMING, the peer daemons' OPEN), in logs and in
 * status. The text has exactly one spelling per identity:
 *
 *   uid:N            a local process (SO_PEERCRED uid)
 *   dom:N            a Xen domain
 *   ivtd             a daemon's own connector (utmem lower tier)
 *   host:NAME/X      an end bridged from host NAME's ivtd, X one of the
 *                    three above (never another host:)
 *
 * N is canonical decimal (no sign, no leading zero: "uid:01000" is
 * refused, so text compared anywhere agrees with the fields), at most
 * UINT32_MAX; NAME is a channel-name-like host name of at most
 * IVT_IDENTITY_HOST_MAX characters. */
#ifndef IVT_COMMON_IDENTITY_H
#define IVT_COMMON_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

enum ivt_identity_kind {
	IVT_IDENTITY_NONE = 0, /* not known (yet): matches only the "*" pattern */
	IVT_IDENTITY_UID,
	IVT_IDENTITY_DOM,
	IVT_IDENTITY_DAEMON,
	IVT_IDENTITY_HOST,
};

/* "host:" NAME "/uid:4294967295" fits IVT_IDENTITY_TEXT_MAX. */
#define IVT_IDENTITY_HOST_MAX 27
#define IVT_IDENTITY_TEXT_MAX 47

struct ivt_identity {
	enum ivt_identity_kind kind;
	enum ivt_identity_kind inner; /* HOST: UID, DOM or DAEMON; else NONE */
	uint32_t id;                  /* UID / DOM (or HOST's inner UID / DOM); else 0 */
	char host[IVT_IDENTITY_HOST_MAX + 1]; /* HOST only; else "" */
};

/* Text for printf ("%s", ivt_identity_text(&id).s): lives until the end of
 * the full expression that called it (C11 6.2.4p8). "-" for NONE. */
struct ivt_identity_text {
	char s[IVT_IDENTITY_TEXT_MAX + 1];
};

struct ivt_identity ivt_identity_uid(uint32_t uid);
struct ivt_identity ivt_identity_dom(uint32_t domid);
struct ivt_identity ivt_identity_daemon(void);
/* inner's end as seen through host's ivtd. 0, or -EINVAL when inner is
 * not UID / DOM / DAEMON or host is not a valid host name (*out NONE). */
int ivt_identity_remote(const char *host, const struct ivt_identity *inner,
			struct ivt_identity *out);

/* The one parser: canonical text only, the whole string. 0 or -EINVAL
 * (then *out is NONE). */
int ivt_identity_parse(const char *s, struct ivt_identity *out);
/* The one formatter. Length written (without NUL), -EINVAL for NONE or a
 * malformed struct, -ENOSPC when cap is too small (buf then ""). */
int ivt_identity_format(const struct ivt_identity *id, char *buf, size_t cap);
struct ivt_identity_text ivt_identity_text(const struct ivt_identity *id);
/* Shorthand for log and status arguments. */
#define IVT_ID_S(idp) (ivt_identity_text(idp).s)

/* Same identity (NONE equals nothing, not even NONE). */
int ivt_identity_equal(const struct ivt_identity *a, const struct ivt_identity *b);
/* UID or DOM: an end on this host (what may be bridged to another host). */
int ivt_identity_is_local(const struct ivt_identity *id);

/* Strict canonical decimal uint32 of exactly n chars: digits only, no
 * sign, no leading zero, no overflow. 0 or -EINVAL. Also the policy's. */
int ivt_parse_canonical_u32(const char *s, size_t n, uint32_t *out);
/* A host name in identities and policy patterns: ivt_name_valid's
 * characters, n chars (not NUL-terminated), 1..max. */
int ivt_host_name_valid(const char *s, size_t n, size_t max);

#endif /* IVT_COMMON_IDENTITY_H */
