/* SPDX-License-Identifier: MIT */
#include "common/xs_response.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/xs_request.h"
#include "common/plugin_loader.h"

static int fits(int n, size_t len) { return n >= 0 && (size_t)n < len ? 0 : -ENAMETOOLONG; }

static void fmt_seq(char *kv, size_t len, int has_seq, uint32_t seq)
{
	if (has_seq)
		snprintf(kv, len, " seq=%u", seq);
	else
		kv[0] = '\0';
}

/* A path is one token: printable ASCII, no spaces. */
static int path_token_ok(const char *p)
{
	size_t n = strnlen(p, IVT_XS_PATH_MAX + 1);
	if (n > IVT_XS_PATH_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

int ivt_xs_format_ok(char *buf, size_t len, const struct ivt_ctrl_open_ok *ok, int has_seq,
		     uint32_t seq)
{
	char seq_kv[16], path_kv[IVT_XS_PATH_MAX + 8] = "";
	size_t blen = strnlen(ok->backend, sizeof(ok->backend));
	if (blen == sizeof(ok->backend) || !ivt_plugin_name_valid(ok->backend, blen) ||
	    !path_token_ok(ok->xs_path) || ok->peer_domid >= IVT_XS_DOMID_LIMIT)
		return -EINVAL;
	if (ok->xs_path[0])
		snprintf(path_kv, sizeof(path_kv), " path=%s", ok->xs_path);
	fmt_seq(seq_kv, sizeof(seq_kv), has_seq, seq);
	return fits(snprintf(buf, len, "ok backend=%s ring=%llu%s peer=%u chan=%llu%s%s%s",
			     ok->backend, (unsigned long long)ok->ring_size, path_kv,
			     ok->peer_domid, (unsigned long long)ok->chan_id,
			     (ok->flags & IVT_CTRL_OK_MESSAGE) ? " message=1" : "",
			     (ok->flags & IVT_CTRL_OK_HALFCLOSE) ? " halfclose=1" : "", seq_kv),
		    len);
}

int ivt_xs_format_error(char *buf, size_t len, int err, const char *reason, int has_seq,
			uint32_t seq)
{
	char seq_kv[16], clean[IVT_ERRMSG_MAX + 2];
	size_t n = 0;
	if (err < 0)
		err = -err;
	if (err == 0 || err > 4095)
		err = EIO;
	/* Keep the value one line of single-spaced printable text. */
	for (const char *r = reason ? reason : ""; *r && n < IVT_ERRMSG_MAX; r++) {
		char c = (*r == '\t' || *r == '\n' || *r == '\r') ? ' ' : *r;
		if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e)
			c = '?';
		if (c == ' ' && (n == 0 || clean[n - 1] == ' '))
			continue;
		clean[n++] = c;
	}
	while (n > 0 && clean[n - 1] == ' ')
		n--;
	clean[n] = '\0';
	fmt_seq(seq_kv, sizeof(seq_kv), has_seq, seq);
	/* The reason is a key like the rest: a bare reason that began with
	 * "seq=" was read as the seq when none was written (issue 9). */
	return fits(snprintf(buf, len, "error %d%s%s%s", err, seq_kv, n ? " reason=" : "", clean),
		    len);
}

static const char *const event_words[] = {
	[IVT_PEER_CONNECTED] = "connected",
	[IVT_PEER_CLOSED] = "closed",
	[IVT_PEER_DIED] = "died",
};

int ivt_xs_format_event(char *buf, size_t len, int event, uint32_t domid, int has_seq,
			uint32_t seq)
{
	char seq_kv[16];
	if (event < IVT_PEER_CONNECTED || event > IVT_PEER_DIED || domid >= IVT_XS_DOMID_LIMIT)
		return -EINVAL;
	fmt_seq(seq_kv, sizeof(seq_kv), has_seq, seq);
	return fits(snprintf(buf, len, "peer=%s domid=%u%s", event_words[event], domid, seq_kv),
		    len);
}

static int is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

static int bad(char *why, size_t why_len, const char *what)
{
	snprintf(why, why_len, "%s", what);
	return -EPROTO;
}

static int parse_seq(const char *v, size_t n, int *has_seq, uint32_t *seq)
{
	uint64_t x;
	if (*has_seq || ivt_xs_parse_u64(v, n, UINT32_MAX, &x))
		return -EPROTO;
	*has_seq = 1;
	*seq = (uint32_t)x;
	return 0;
}

static int parse_ok_kv(struct ivt_xs_response *r, const char *k, size_t kl, const char *v,
		       size_t vl, unsigned *seen, char *why, size_t why_len)
{
	enum { S_BACKEND = 1, S_RING = 2, S_PATH = 4, S_PEER = 8, S_CHAN = 16, S_MESSAGE = 32,
	       S_HALFCLOSE = 64 };
	uint64_t x;
	if (is(k, kl, "backend")) {
		if ((*seen & S_BACKEND) || !ivt_plugin_name_valid(v, vl))
			return bad(why, why_len, "bad or duplicate backend in response");
		memcpy(r->backend, v, vl);
		r->backend[vl] = '\0';
		*seen |= S_BACKEND;
	} else if (is(k, kl, "ring")) {
		if ((*seen & S_RING) || ivt_xs_parse_u64(v, vl, IVT_XS_RING_MAX, &r->ring_size))
			return bad(why, why_len, "bad or duplicate ring in response");
		*seen |= S_RING;
	} else if (is(k, kl, "path")) {
		if ((*seen & S_PATH) || vl > IVT_XS_PATH_MAX)
			return bad(why, why_len, "bad or duplicate path in response");
		memcpy(r->path, v, vl);
		r->path[vl] = '\0';
		*seen |= S_PATH;
	} else if (is(k, kl, "peer")) {
		if ((*seen & S_PEER) || ivt_xs_parse_domid(v, vl, &r->peer_domid))
			return bad(why, why_len, "bad or duplicate peer in response");
		*seen |= S_PEER;
	} else if (is(k, kl, "chan")) {
		if ((*seen & S_CHAN) || ivt_xs_parse_u64(v, vl, UINT64_MAX, &x))
			return bad(why, why_len, "bad or duplicate chan in response");
		r->chan_id = x;
		*seen |= S_CHAN;
	} else if (is(k, kl, "message")) {
		/* framing depends on it: anything but one "1" is refused */
		if ((*seen & S_MESSAGE) || !is(v, vl, "1"))
			return bad(why, why_len, "bad or duplicate message in response");
		r->message = 1;
		*seen |= S_MESSAGE;
	} else if (is(k, kl, "halfclose")) {
		if ((*seen & S_HALFCLOSE) || !is(v, vl, "1"))
			return bad(why, why_len, "bad or duplicate halfclose in response");
		r->halfclose = 1;
		*seen |= S_HALFCLOSE;
	} else if (is(k, kl, "seq")) {
		if (parse_seq(v, vl, &r->has_seq, &r->seq))
			return bad(why, why_len, "bad or duplicate seq in response");
	}
	/* other keys: newer ivtd, ignored */
	return 0;
}

static int parse_error(const char *val, size_t len, size_t pos, struct ivt_xs_response *r,
		       char *why, size_t why_len)
{
	const char *tok = NULL;
	size_t tl = 0;
	uint64_t e;
	if (!ivt_xs_next_token(val, len, &pos, &tok, &tl) || ivt_xs_parse_u64(tok, tl, 4095, &e) ||
	    e == 0)
		return bad(why, why_len, "error response without a valid errno");
	r->err = (int)e;
	size_t before = pos;
	if (ivt_xs_next_token(val, len, &pos, &tok, &tl) && tl > 4 && !memcmp(tok, "seq=", 4)) {
		if (parse_seq(tok + 4, tl - 4, &r->has_seq, &r->seq))
			return bad(why, why_len, "bad seq in error response");
	} else {
		pos = before;
	}
	/* "reason=" marks the text; an ivtd older than it wrote the bare text. */
	if (len - pos >= 7 && !memcmp(val + pos, "reason=", 7))
		pos += 7;
	size_t rl = len - pos;
	if (rl > IVT_ERRMSG_MAX)
		rl = IVT_ERRMSG_MAX;
	memcpy(r->reason, val + pos, rl);
	r->reason[rl] = '\0';
	return 0;
}

int ivt_xs_parse_response(const char *val, size_t len, struct ivt_xs_response *r, char *why,
			  size_t why_len)
{
	const char *tok = NULL, *k, *v;
	size_t tl = 0, kl, vl, pos = 0;
	unsigned seen = 0;
	memset(r, 0, sizeof(*r));
	if (ivt_xs_check_line(val, len, IVT_XS_RESPONSE_MAX, why, why_len))
		return -EPROTO;
	ivt_xs_next_token(val, len, &pos, &tok, &tl);
	if (is(tok, tl, "error"))
		return parse_error(val, len, pos, r, why, why_len);
	if (!is(tok, tl, "ok"))
		return bad(why, why_len, "response is neither 'ok' nor 'error'");
	r->ok = 1;
	while (ivt_xs_next_token(val, len, &pos, &tok, &tl)) {
		if (ivt_xs_split_kv(tok, tl, &k, &kl, &v, &vl))
			return bad(why, why_len, "response token is not key=value");
		int rc = parse_ok_kv(r, k, kl, v, vl, &seen, why, why_len);
		if (rc)
			return rc;
	}
	if ((seen & 11) != 11) /* backend, ring, peer */
		return bad(why, why_len, "ok response lacks backend, ring or peer");
	return 0;
}

int ivt_xs_parse_event(const char *val, size_t len, struct ivt_xs_event *out, char *why,
		       size_t why_len)
{
	const char *tok = NULL, *k, *v;
	size_t tl = 0, kl, vl, pos = 0;
	int have_domid = 0;
	memset(out, 0, sizeof(*out));
	if (ivt_xs_check_line(val, len, IVT_XS_RESPONSE_MAX, why, why_len))
		return -EPROTO;
	while (ivt_xs_next_token(val, len, &pos, &tok, &tl)) {
		if (ivt_xs_split_kv(tok, tl, &k, &kl, &v, &vl))
			return bad(why, why_len, "event token is not key=value");
		if (is(k, kl, "peer") && !out->event) {
			for (int e = IVT_PEER_CONNECTED; e <= IVT_PEER_DIED; e++)
				if (is(v, vl, event_words[e]))
					out->event = e;
			if (!out->event)
				return bad(why, why_len, "unknown peer event");
		} else if (is(k, kl, "domid") && !have_domid) {
			if (ivt_xs_parse_domid(v, vl, &out->domid))
				return bad(why, why_len, "bad domid in event");
			have_domid = 1;
		} else if (is(k, kl, "seq")) {
			if (parse_seq(v, vl, &out->has_seq, &out->seq))
				return bad(why, why_len, "bad or duplicate seq in event");
		} else if (is(k, kl, "peer") || is(k, kl, "domid")) {
			return bad(why, why_len, "duplicate key in event");
		}
	}
	if (!out->event || !have_domid)
		return bad(why, why_len, "event lacks peer= or domid=");
	return 0;
}
