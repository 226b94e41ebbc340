/* SPDX-License-Identifier: MIT */
/*
 * Parsing what guests write into XenStore (see docs/xenstore.md).
 *
 * Both sides use this file: ivtd parses, libivt (the guest) formats.
 * Everything here is a pure function over bytes that came from a guest:
 * no XenStore access, no allocation, so the hostile cases are unit-tested
 * (tests/xs). A value is accepted only if it matches the grammar exactly;
 * anything else is refused with a one-line reason for the guest's
 * response node and ivtd's log.
 *
 * Request value grammar (one line, no trailing newline):
 *   request = verb *( SP key "=" value )
 *   verb    = "listen" | "connect"
 *   keys    = backend (name or "auto"), ring (decimal bytes, power of two
 *             or 0), peer (connect only: domid the guest insists on),
 *             seq (decimal u32 chosen by the guest, echoed in answers),
 *             multi (listen only: "1", a listener that accepts many),
 *             ticket (listen only: nonzero u32, accept that connection),
 *             message ("1": IVT_MESSAGE, the end wants message mode),
 *             addr (the TCP address: a connector's dialled, whose guest
 *             ivtd finds; a listener's bound, which limits who reaches it),
 *             halfclose ("1": the end's libivt takes half-close)
 * Single spaces only, printable ASCII only, each key at most once.
 */
#ifndef IVT_COMMON_XS_REQUEST_H
#define IVT_COMMON_XS_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctrl_proto.h"
#include "common/tcp_map.h"

/* Longest request value accepted (bytes, without NUL). */
#define IVT_XS_REQUEST_MAX 192
/* Longest watch path considered at all. */
#define IVT_XS_WATCH_PATH_MAX 256
/* Domain ids at and above this are reserved (DOMID_FIRST_RESERVED). */
#define IVT_XS_DOMID_LIMIT 0x7FF0u
/* Largest ring a request may ask for; policy and backend clamp further. */
#define IVT_XS_RING_MAX (1ull << 30)
#define IVT_XS_RING_MIN 1024u

/* A parsed request. The channel name is not in the value: ivtd takes it
 * (and the domain) from the node's path. */
struct ivt_xs_request {
	int listen;                             /* 1 = listen, 0 = connect */
	char backend[IVT_BACKEND_NAME_MAX + 1]; /* "auto" unless given */
	uint64_t ring_size;                     /* 0 = policy default */
	int has_peer;
	uint32_t peer_domid; /* connect only: the server domain the guest expects */
	int has_seq;
	uint32_t seq;        /* guest's nonce for this open, echoed back */
	int multi;           /* listen only: "multi=1", a listener that accepts many */
	uint32_t ticket;     /* listen only: nonzero = accept that connection */
	int message;         /* "message=1": the end opened with IVT_MESSAGE */
	int halfclose;       /* "halfclose=1": its libivt takes FIN frames */
	int has_addr;
	struct ivt_ip addr;  /* tcp.<P>: dialled / bound to (docs/xenstore.md) */
};

/* Parse a request value of len bytes (as returned by xs_read: may contain
 * NULs, need not be terminated). 0 or -EINVAL with a reason in why. */
int ivt_xs_parse_request(const char *val, size_t len, struct ivt_xs_request *out, char *why,
			 size_t why_len);

/* What a watch event path means to ivtd. */
enum ivt_xs_path_kind {
	IVT_XS_PATH_IGNORE = 0,  /* not ours, or malformed: drop silently */
	IVT_XS_PATH_REQUEST,     /* /local/domain/<d>/data/ivt/<name>[/<slot>]/request */
	IVT_XS_PATH_ANCESTOR,    /* /local/domain/<d>[/data[/ivt[/<name>]]]: maybe a
				  * subtree removal; re-check known ends under it */
};

struct ivt_xs_path_info {
	uint32_t domid;
	char name[IVT_NAME_MAX + 1]; /* "" for ancestors above the name level */
	/* 0: the name's own end; else the decimal slot below the name (an
	 * accepted connection, or one more connector of the same guest) */
	uint32_t slot;
};

/* Classify a watch event path. Never fails; anything not exactly one of
 * the shapes above is IVT_XS_PATH_IGNORE. */
enum ivt_xs_path_kind ivt_xs_classify_path(const char *path, struct ivt_xs_path_info *out);

/* Building blocks, exposed for tests and for xs_response.c. */

/* Decimal without sign or leading zeros ("0" alone is fine), <= max.
 * 0 or -EINVAL (not a number) / -ERANGE (too big). */
int ivt_xs_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out);
/* A domain id: decimal < IVT_XS_DOMID_LIMIT. 0 or negative errno. */
int ivt_xs_parse_domid(const char *s, size_t len, uint32_t *out);

/* Check a one-line value: 1..max bytes, printable ASCII, single spaces
 * between tokens, no leading/trailing space, no NUL. 0 or -EINVAL. */
int ivt_xs_check_line(const char *val, size_t len, size_t max, char *why, size_t why_len);

/* Split the next space-separated token off *pos (inside val[0..len)).
 * Returns 1 with tok/tok_len set, 0 at the end. Call after check_line. */
int ivt_xs_next_token(const char *val, size_t len, size_t *pos, const char **tok,
		      size_t *tok_len);


/* Format a request value (the guest side). backend NULL = "auto";
 * peer < 0 = none. 0, -EINVAL or -ENAMETOOLONG. */
int ivt_xs_format_request(char *buf, size_t len, int listen, const char *backend,
			  uint64_t ring_size, int64_t peer, uint32_t seq);

/* Format any request (the guest side); r->backend "" = "auto". The
 * request's own checks apply (peer only with connect, multi and ticket
 * only with listen). 0, -EINVAL or -ENAMETOOLONG. */
int ivt_xs_format_req(char *buf, size_t len, const struct ivt_xs_request *r);

/* Split "key=value": 0, or -EINVAL if there is no '=' or either side is
 * empty. */
int ivt_xs_split_kv(const char *tok, size_t tok_len, const char **key, size_t *key_len,
		    const char **val, size_t *val_len);

#endif /* IVT_COMMON_XS_REQUEST_H */
