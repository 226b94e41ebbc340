/* SPDX-License-Identifier: MIT */
/*
 * ivtd's answers in XenStore (docs/xenstore.md): formatting (ivtd) and
 * parsing (the guest side: libivt's xs_conn.c).
 *
 *   response = "ok" SP "backend=" b SP "ring=" n [SP "path=" p] SP "peer=" d
 *                   SP "chan=" id [SP "message=1"] [SP "halfclose=1"] [SP "seq=" s]
 *            | "error" SP errno [SP "seq=" s] [SP "reason=" reason-text]
 *   event    = "peer=" ("connected" | "closed" | "died") SP "domid=" d [SP "seq=" s]
 *
 * Guests parse strictly but ignore unknown keys in "ok" answers, so ivtd
 * can add keys later.
 */
#ifndef IVT_COMMON_XS_RESPONSE_H
#define IVT_COMMON_XS_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "common/ctrl_proto.h"

/* Longest answer value ivtd writes (and a guest accepts). */
#define IVT_XS_RESPONSE_MAX 512

struct ivt_xs_response {
	int ok;                            /* 1: fields below; 0: err + reason */
	int err;                           /* positive errno */
	char reason[IVT_ERRMSG_MAX + 1];
	char backend[IVT_BACKEND_NAME_MAX + 1];
	uint64_t ring_size;
	char path[IVT_XS_PATH_MAX + 1];    /* "" unless the backend uses one */
	uint32_t peer_domid;
	uint64_t chan_id;
	int message; /* "message=1": the channel is in message mode */
	int halfclose; /* "halfclose=1": both ends take half-close (FIN frames) */
	int has_seq;
	uint32_t seq;
};

struct ivt_xs_event {
	int event; /* enum ivt_peer_event */
	uint32_t domid;
	int has_seq;
	uint32_t seq;
};

/* Formatters: 0 or -EINVAL (bad field, e.g. a path with spaces) /
 * -ENAMETOOLONG. seq is echoed when has_seq; ok->flags'
 * IVT_CTRL_OK_MESSAGE becomes "message=1", IVT_CTRL_OK_HALFCLOSE
 * "halfclose=1". */
int ivt_xs_format_ok(char *buf, size_t len, const struct ivt_ctrl_open_ok *ok, int has_seq,
		     uint32_t seq);
/* err: positive or negative errno. The reason is sanitized: non-printable
 * bytes become '?', runs of spaces collapse, truncated to IVT_ERRMSG_MAX. */
int ivt_xs_format_error(char *buf, size_t len, int err, const char *reason, int has_seq,
			uint32_t seq);
int ivt_xs_format_event(char *buf, size_t len, int event, uint32_t domid, int has_seq,
			uint32_t seq);

/* Parsers for the guest side: 0 or -EINVAL/-EPROTO with a reason. */
int ivt_xs_parse_response(const char *val, size_t len, struct ivt_xs_response *out, char *why,
			  size_t why_len);
int ivt_xs_parse_event(const char *val, size_t len, struct ivt_xs_event *out, char *why,
		       size_t why_len);

#endif /* IVT_COMMON_XS_RESPONSE_H */
