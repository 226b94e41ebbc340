/* SPDX-License-Identifier: MIT */
/* Encoding and strict parsing of daemon-to-daemon messages. */
#include "remote_proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/plugin_loader.h"
#include "common/ctrl_msg.h"
#include "common/le.h"
#include "ivtd/policy/policy.h"

#define HELLO_LEN (IVT_RMSG_HOST_MAX + 1 + 4)
#define OPEN_LEN (IVT_NAME_MAX + 1 + IVT_RMSG_ID_MAX + 1 + IVT_BACKEND_NAME_MAX + 1 + 8 + 4)
#define OPEN_OK_LEN (8 + 4)
#define ERROR_LEN (4 + IVT_ERRMSG_MAX + 1)
#define OFFER_LEN (IVT_BACKEND_NAME_MAX + 1)
#define SETUP_LEN (4 + IVT_RMSG_BLOB_MAX)
_Static_assert(IVT_RMSG_HDR_LEN + SETUP_LEN <= IVT_RMSG_MAX, "IVT_RMSG_MAX too small");
_Static_assert(IVT_IDENTITY_TEXT_MAX <= IVT_RMSG_ID_MAX, "identity text must fit OPEN");
_Static_assert(IVT_RMSG_HDR_LEN + ERROR_LEN <= IVT_RMSG_MAX, "IVT_RMSG_MAX too small");
_Static_assert(IVT_RMSG_HDR_LEN + OPEN_LEN <= IVT_RMSG_MAX, "IVT_RMSG_MAX too small");

size_t ivt_rmsg_payload_len(uint16_t type)
{
	switch (type) {
	case IVT_RMSG_HELLO: return HELLO_LEN;
	case IVT_RMSG_OPEN: return OPEN_LEN;
	case IVT_RMSG_OPEN_OK: return OPEN_OK_LEN;
	case IVT_RMSG_OPEN_DIRECT: return OPEN_OK_LEN;
	case IVT_RMSG_ERROR: return ERROR_LEN;
	case IVT_RMSG_RESULT: return ERROR_LEN;
	case IVT_RMSG_OFFER: return OFFER_LEN;
	case IVT_RMSG_DIRECT: return OFFER_LEN;
	case IVT_RMSG_SETUP: return SETUP_LEN;
	default: return 0;
	}
}

static void put_str(uint8_t *p, const char *s, size_t field)
{
	memset(p, 0, field);
	size_t n = s ? strnlen(s, field - 1) : 0;
	memcpy(p, s, n);
}

/* Copy a fixed field out; -EPROTO unless NUL-terminated inside it. */
static int get_str(const uint8_t *p, size_t field, char *out)
{
	const uint8_t *nul = memchr(p, '\0', field);
	if (!nul)
		return -EPROTO;
	memcpy(out, p, (size_t)(nul - p) + 1);
	return 0;
}

__attribute__((format(printf, 3, 4))) static int bad(char *why, size_t why_len, const char *fmt,
						      ...)
{
	if (why && why_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return -EPROTO;
}

/* ---- encode ---------------------------------------------------------- */

int ivt_rmsg_encode(const struct ivt_rmsg *m, uint8_t *out, size_t cap)
{
	size_t len = ivt_rmsg_payload_len(m->type);
	if (!len || cap < IVT_RMSG_HDR_LEN + len)
		return -EINVAL;
	ivt_put_le(out, IVT_RMSG_MAGIC, 4);
	ivt_put_le(out + 4, IVT_RMSG_VERSION, 2);
	ivt_put_le(out + 6, m->type, 2);
	ivt_put_le(out + 8, len, 4);
	uint8_t *p = out + IVT_RMSG_HDR_LEN;
	switch (m->type) {
	case IVT_RMSG_HELLO:
		put_str(p, m->u.hello.host, IVT_RMSG_HOST_MAX + 1);
		ivt_put_le(p + IVT_RMSG_HOST_MAX + 1, m->u.hello.sw_version, 4);
		break;
	case IVT_RMSG_OPEN:
		put_str(p, m->u.open.channel, IVT_NAME_MAX + 1);
		p += IVT_NAME_MAX + 1;
		{
			char id[IVT_RMSG_ID_MAX + 1];
			ivt_identity_format(&m->u.open.identity, id, sizeof(id)); /* "" if NONE */
			put_str(p, id, IVT_RMSG_ID_MAX + 1);
		}
		p += IVT_RMSG_ID_MAX + 1;
		put_str(p, m->u.open.backend, IVT_BACKEND_NAME_MAX + 1);
		p += IVT_BACKEND_NAME_MAX + 1;
		ivt_put_le(p, m->u.open.ring_size, 8);
		ivt_put_le(p + 8, m->u.open.flags, 4);
		break;
	case IVT_RMSG_OPEN_OK:
	case IVT_RMSG_OPEN_DIRECT:
		ivt_put_le(p, m->u.open_ok.ring_size, 8);
		ivt_put_le(p + 8, m->u.open_ok.flags, 4);
		break;
	case IVT_RMSG_ERROR:
	case IVT_RMSG_RESULT:
		ivt_put_le(p, (uint32_t)m->u.error.err, 4);
		put_str(p + 4, m->u.error.msg, IVT_ERRMSG_MAX + 1);
		break;
	case IVT_RMSG_OFFER:
	case IVT_RMSG_DIRECT:
		put_str(p, m->u.offer.backend, IVT_BACKEND_NAME_MAX + 1);
		break;
	case IVT_RMSG_SETUP:
		if (m->u.setup.len > IVT_RMSG_BLOB_MAX)
			return -EINVAL;
		ivt_put_le(p, m->u.setup.len, 4);
		memset(p + 4, 0, IVT_RMSG_BLOB_MAX);
		memcpy(p + 4, m->u.setup.blob, m->u.setup.len);
		break;
	}
	return (int)(IVT_RMSG_HDR_LEN + len);
}

/* ---- parse ----------------------------------------------------------- */

int ivt_rmsg_parse_hdr(const uint8_t *hdr, uint16_t *type, char *why, size_t why_len)
{
	uint32_t magic = (uint32_t)ivt_get_le(hdr, 4);
	uint16_t version = (uint16_t)ivt_get_le(hdr + 4, 2);
	uint16_t t = (uint16_t)ivt_get_le(hdr + 6, 2);
	uint32_t len = (uint32_t)ivt_get_le(hdr + 8, 4);
	if (magic != IVT_RMSG_MAGIC)
		return bad(why, why_len, "not an ivtd peer message (magic %#x)", magic);
	if (version != IVT_RMSG_VERSION)
		return bad(why, why_len, "peer speaks protocol version %u, this ivtd %u", version,
			   IVT_RMSG_VERSION);
	size_t want = ivt_rmsg_payload_len(t);
	if (!want)
		return bad(why, why_len, "unknown message type %u", t);
	if (len != want)
		return bad(why, why_len, "message type %u has %u payload bytes, expected %zu", t,
			   len, want);
	*type = t;
	return (int)want;
}

static int is_pow2_ring(uint64_t v)
{
	return v >= IVT_POLICY_RING_MIN && v <= IVT_POLICY_RING_MAX && (v & (v - 1)) == 0;
}

static int parse_open(const uint8_t *p, struct ivt_rmsg *m, char *why, size_t why_len)
{
	if (get_str(p, IVT_NAME_MAX + 1, m->u.open.channel) ||
	    !ivt_name_valid(m->u.open.channel))
		return bad(why, why_len, "OPEN: invalid channel name");
	p += IVT_NAME_MAX + 1;
	/* "ivtd": the peer daemon itself (its utmem lower tier). */
	char id[IVT_RMSG_ID_MAX + 1];
	if (get_str(p, IVT_RMSG_ID_MAX + 1, id) || ivt_identity_parse(id, &m->u.open.identity) ||
	    !(ivt_identity_is_local(&m->u.open.identity) ||
	      m->u.open.identity.kind == IVT_IDENTITY_DAEMON))
		return bad(why, why_len, "OPEN: identity is not \"uid:N\", \"dom:N\" or \"ivtd\"");
	p += IVT_RMSG_ID_MAX + 1;
	const char *b = m->u.open.backend;
	if (get_str(p, IVT_BACKEND_NAME_MAX + 1, m->u.open.backend) ||
	    (*b && strcmp(b, "auto") != 0 && !ivt_plugin_name_valid(b, strlen(b))))
		return bad(why, why_len, "OPEN: invalid backend name");
	p += IVT_BACKEND_NAME_MAX + 1;
	m->u.open.ring_size = ivt_get_le(p, 8);
	m->u.open.flags = (uint32_t)ivt_get_le(p + 8, 4);
	if (m->u.open.flags & ~IVT_RMSG_MESSAGE)
		return bad(why, why_len, "OPEN: unknown flags %#x", m->u.open.flags);
	return 0;
}

int ivt_rmsg_parse(const uint8_t *buf, size_t n, struct ivt_rmsg *m, char *why, size_t why_len)
{
	memset(m, 0, sizeof(*m));
	if (!buf || n < IVT_RMSG_HDR_LEN)
		return bad(why, why_len, "message shorter than its header");
	int len = ivt_rmsg_parse_hdr(buf, &m->type, why, why_len);
	if (len < 0)
		return len;
	if (n != IVT_RMSG_HDR_LEN + (size_t)len)
		return bad(why, why_len, "message is %zu bytes, header says %d", n,
			   IVT_RMSG_HDR_LEN + len);
	const uint8_t *p = buf + IVT_RMSG_HDR_LEN;
	switch (m->type) {
	case IVT_RMSG_HELLO:
		if (get_str(p, IVT_RMSG_HOST_MAX + 1, m->u.hello.host) ||
		    !ivt_name_valid(m->u.hello.host))
			return bad(why, why_len, "HELLO: invalid host name");
		m->u.hello.sw_version = (uint32_t)ivt_get_le(p + IVT_RMSG_HOST_MAX + 1, 4);
		return 0;
	case IVT_RMSG_OPEN:
		return parse_open(p, m, why, why_len);
	case IVT_RMSG_OPEN_OK:
	case IVT_RMSG_OPEN_DIRECT:
		m->u.open_ok.ring_size = ivt_get_le(p, 8);
		if (!is_pow2_ring(m->u.open_ok.ring_size))
			return bad(why, why_len, "%s: ring size %llu is not a power of two in "
						 "[4096, 1 GiB]",
				   m->type == IVT_RMSG_OPEN_OK ? "OPEN_OK" : "OPEN_DIRECT",
				   (unsigned long long)m->u.open_ok.ring_size);
		m->u.open_ok.flags = (uint32_t)ivt_get_le(p + 8, 4);
		if (m->u.open_ok.flags & ~(IVT_RMSG_MESSAGE | IVT_RMSG_HALFCLOSE))
			return bad(why, why_len, "OPEN_OK: unknown flags %#x", m->u.open_ok.flags);
		return 0;
	case IVT_RMSG_OFFER:
	case IVT_RMSG_DIRECT: {
		const char *b = m->u.offer.backend;
		if (get_str(p, IVT_BACKEND_NAME_MAX + 1, m->u.offer.backend) ||
		    !ivt_plugin_name_valid(b, strlen(b)))
			return bad(why, why_len, "%s: invalid backend name",
				   m->type == IVT_RMSG_OFFER ? "OFFER" : "DIRECT");
		return 0;
	}
	case IVT_RMSG_SETUP: {
		uint32_t l = (uint32_t)ivt_get_le(p, 4);
		if (l == 0 || l > IVT_RMSG_BLOB_MAX)
			return bad(why, why_len, "SETUP: blob length %u not in 1..%d", l,
				   IVT_RMSG_BLOB_MAX);
		for (size_t i = 4 + l; i < SETUP_LEN; i++)
			if (p[i])
				return bad(why, why_len, "SETUP: padding not zero");
		m->u.setup.len = l;
		memcpy(m->u.setup.blob, p + 4, l);
		return 0;
	}
	case IVT_RMSG_ERROR:
	case IVT_RMSG_RESULT: {
		uint32_t e = (uint32_t)ivt_get_le(p, 4);
		if ((e == 0 && m->type == IVT_RMSG_ERROR) || e >= 4096)
			return bad(why, why_len, "%s: errno %u out of range",
				   m->type == IVT_RMSG_ERROR ? "ERROR" : "RESULT", e);
		m->u.error.err = (int32_t)e;
		if (get_str(p + 4, IVT_ERRMSG_MAX + 1, m->u.error.msg))
			return bad(why, why_len, "%s: message not terminated",
				   m->type == IVT_RMSG_ERROR ? "ERROR" : "RESULT");
		/* It ends up in our logs and the client's ivt_strerror. */
		for (char *c = m->u.error.msg; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		return 0;
	}
	}
	return bad(why, why_len, "unknown message type %u", m->type);
}
