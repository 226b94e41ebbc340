/* SPDX-License-Identifier: MIT */
#include "wire.h"

#include <string.h>

#include "crc32c.h"

#define OFF_TYPE (SLP_ETH_HLEN + 1)
#define OFF_FLAGS (SLP_ETH_HLEN + 2)
#define OFF_SEQ (SLP_ETH_HLEN + 12)
#define OFF_ACK (SLP_ETH_HLEN + 16)
#define OFF_TXNEXT (SLP_ETH_HLEN + 20)
#define OFF_WINDOW (SLP_ETH_HLEN + 24)
#define OFF_LEN (SLP_ETH_HLEN + 26)
#define OFF_CRC (SLP_ETH_HLEN + 28)

const char *slp_type_name(unsigned t)
{
	static const char *const names[] = {"?", "CONNECT", "ACCEPT", "DATA", "RDMA_WRITE",
					    "RDMA_READ_REQ", "RDMA_READ_RESP", "ACK", "NACK",
					    "CLOSE", "RESET"};
	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

uint32_t slp_body_crc(const void *frame, size_t len)
{
	return slp_crc32c(0, (const uint8_t *)frame + OFF_CRC + 4, len - OFF_CRC - 4);
}

/* CRC over the body (extension + payload) first, then the addresses and
 * header with the crc field taken as zero: a retransmission with fresh
 * ack/window fields re-covers 46 bytes, not the payload. */
static uint32_t head_crc(const uint8_t *f, uint32_t body_crc)
{
	static const uint8_t zero[4];
	return slp_crc32c(slp_crc32c(body_crc, f, OFF_CRC), zero, 4);
}

static uint32_t frame_crc(const uint8_t *f, size_t len)
{
	return head_crc(f, slp_body_crc(f, len));
}

/* Fixed extension length per type; the ACK's depends on its SACK count. */
int slp_ext_len(unsigned type)
{
	switch (type) {
	case SLP_CONNECT:
	case SLP_ACCEPT: return SLP_EXT_CONNECT;
	case SLP_RDMA_WRITE: return SLP_EXT_WRITE;
	case SLP_RDMA_READ_REQ: return SLP_EXT_READ_REQ;
	case SLP_RDMA_READ_RESP: return SLP_EXT_READ_RESP;
	case SLP_NACK: return SLP_EXT_NACK;
	case SLP_ACK: return SLP_EXT_ACK_BASE;
	default: return 0;
	}
}

/* Types that may carry payload bytes after the extension. */
int slp_type_has_payload(unsigned type)
{
	return type == SLP_DATA || type == SLP_RDMA_WRITE || type == SLP_RDMA_READ_RESP;
}

static enum slp_parse_err parse_ext(struct slp_pkt *p, const uint8_t *x, size_t body)
{
	size_t el = (size_t)slp_ext_len(p->type);
	switch (p->type) {
	case SLP_CONNECT:
	case SLP_ACCEPT:
		p->u.conn.mtu = slp_get16(x);
		p->u.conn.window = slp_get16(x + 2);
		p->u.conn.flags = slp_get32(x + 4);
		if ((p->u.conn.flags & ~SLP_CONN_F_ALL) || p->u.conn.mtu < 256 ||
		    p->u.conn.window == 0)
			return SLP_ERR_FIELD;
		break;
	case SLP_RDMA_WRITE:
		p->u.write.key = slp_get64(x);
		p->u.write.base = slp_get64(x + 8);
		p->u.write.msg_id = slp_get32(x + 16);
		p->u.write.total = slp_get32(x + 20);
		p->u.write.frag_off = slp_get32(x + 24);
		if (slp_get32(x + 28))
			return SLP_ERR_FIELD;
		/* The fragment must lie inside its message (64-bit math: no wrap). */
		if ((uint64_t)p->u.write.frag_off + (body - el) > p->u.write.total)
			return SLP_ERR_FIELD;
		break;
	case SLP_RDMA_READ_REQ:
		p->u.read_req.key = slp_get64(x);
		p->u.read_req.offset = slp_get64(x + 8);
		p->u.read_req.msg_id = slp_get32(x + 16);
		p->u.read_req.len = slp_get32(x + 20);
		break;
	case SLP_RDMA_READ_RESP:
		p->u.read_resp.msg_id = slp_get32(x);
		p->u.read_resp.frag_off = slp_get32(x + 4);
		break;
	case SLP_NACK:
		p->u.nack.msg_id = slp_get32(x);
		p->u.nack.op = slp_get16(x + 4);
		p->u.nack.err = slp_get16(x + 6);
		if ((p->u.nack.op != SLP_RDMA_WRITE && p->u.nack.op != SLP_RDMA_READ_REQ) ||
		    p->u.nack.err == 0)
			return SLP_ERR_FIELD;
		break;
	case SLP_ACK: {
		uint32_t n = slp_get32(x);
		if (n > SLP_MAX_SACK || body != el + 8 * (size_t)n)
			return SLP_ERR_LENGTH;
		p->u.ack_ext.nsack = n;
		for (uint32_t i = 0; i < n; i++) {
			p->u.ack_ext.sack[i].start = slp_get32(x + 4 + 8 * i);
			p->u.ack_ext.sack[i].end = slp_get32(x + 8 + 8 * i);
			if (!slp_seq_lt(p->u.ack_ext.sack[i].start, p->u.ack_ext.sack[i].end))
				return SLP_ERR_FIELD;
		}
		break;
	}
	default: break;
	}
	return SLP_OK;
}

enum slp_parse_err slp_parse(const void *frame, size_t len, struct slp_pkt *p)
{
	return slp_parse_trailer(frame, len, 0, p);
}

enum slp_parse_err slp_parse_trailer(const void *frame, size_t len, size_t trailer,
				     struct slp_pkt *p)
{
	const uint8_t *f = frame;
	if (len < SLP_ETH_HLEN + SLP_HDR_LEN)
		return SLP_ERR_SHORT;
	if (slp_get16(f + 12) != SLP_ETHERTYPE)
		return SLP_ERR_ETHERTYPE;
	const uint8_t *h = f + SLP_ETH_HLEN;
	if (h[0] != SLP_VERSION)
		return SLP_ERR_VERSION;
	p->type = h[1];
	if (p->type < SLP_CONNECT || p->type > SLP_RESET)
		return SLP_ERR_TYPE;
	size_t body = slp_get16(f + OFF_LEN);
	size_t declared = SLP_ETH_HLEN + SLP_HDR_LEN + body;
	/* Exact length, except that NICs pad runt frames up to 60 bytes. */
	if (trailer) { /* authenticated frames are never runts: exact */
		if (declared + trailer != len)
			return SLP_ERR_LENGTH;
	} else if (declared > len || (declared < len && len > SLP_MIN_ETH_FRAME)) {
		return SLP_ERR_LENGTH;
	}
	size_t el = (size_t)slp_ext_len(p->type);
	if (body < el || (!slp_type_has_payload(p->type) && p->type != SLP_ACK && body != el))
		return SLP_ERR_LENGTH;
	p->flags = slp_get16(f + OFF_FLAGS);
	if (p->flags & SLP_F_NOCRC) {
		/* Handshakes and RESETs are checked whatever the carrier. */
		if (slp_get32(f + OFF_CRC) || p->type == SLP_CONNECT || p->type == SLP_ACCEPT ||
		    p->type == SLP_RESET)
			return SLP_ERR_FIELD;
	} else if (slp_get32(f + OFF_CRC) != frame_crc(f, declared)) {
		return SLP_ERR_CRC;
	}
	p->dst_mac = f;
	p->src_mac = f + 6;
	p->src_ep = slp_get32(h + 4);
	p->dst_ep = slp_get32(h + 8);
	p->seq = slp_get32(f + OFF_SEQ);
	p->ack = slp_get32(f + OFF_ACK);
	p->tx_next = slp_get32(f + OFF_TXNEXT);
	p->window = slp_get16(f + OFF_WINDOW);
	if ((p->flags & ~SLP_F_ALL) || ((p->flags & SLP_F_STATELESS) && p->type != SLP_RESET))
		return SLP_ERR_FIELD;
	/* Everything but CONNECT acknowledges something. */
	if (!(p->flags & SLP_F_ACK) != (p->type == SLP_CONNECT))
		return SLP_ERR_FIELD;
	if (p->src_mac[0] & 1) /* a multicast source address is always forged */
		return SLP_ERR_FIELD;
	const uint8_t *x = f + SLP_ETH_HLEN + SLP_HDR_LEN;
	p->payload = x + el;
	p->payload_len = (uint16_t)(body - el);
	if (slp_type_has_payload(p->type) && p->payload_len == 0 && p->type != SLP_RDMA_WRITE)
		return SLP_ERR_LENGTH;
	return parse_ext(p, x, body);
}

size_t slp_build(uint8_t *buf, const struct slp_out *o, size_t body_len)
{
	return slp_build_crc(buf, o, body_len, NULL);
}

size_t slp_build_crc(uint8_t *buf, const struct slp_out *o, size_t body_len, uint32_t *body_crc)
{
	memcpy(buf, o->dst_mac, 6);
	memcpy(buf + 6, o->src_mac, 6);
	slp_put16(buf + 12, SLP_ETHERTYPE);
	uint8_t *h = buf + SLP_ETH_HLEN;
	h[0] = SLP_VERSION;
	h[1] = o->type;
	slp_put32(h + 4, o->src_ep);
	slp_put32(h + 8, o->dst_ep);
	slp_put32(h + 12, o->seq);
	slp_put16(h + 26, (uint16_t)body_len);
	size_t len = SLP_ETH_HLEN + SLP_HDR_LEN + body_len;
	uint32_t bc = o->flags & SLP_F_NOCRC ? 0 : slp_body_crc(buf, len);
	if (body_crc)
		*body_crc = bc;
	slp_refresh_crc(buf, o->flags, o->ack, o->tx_next, o->window, bc);
	return len;
}

void slp_refresh(uint8_t *f, size_t len, uint16_t flags, uint32_t ack, uint32_t tx_next,
		 uint16_t window)
{
	slp_refresh_crc(f, flags, ack, tx_next, window,
			flags & SLP_F_NOCRC ? 0 : slp_body_crc(f, len));
}

void slp_refresh_crc(uint8_t *f, uint16_t flags, uint32_t ack, uint32_t tx_next, uint16_t window,
		     uint32_t body_crc)
{
	slp_put16(f + OFF_FLAGS, flags);
	slp_put32(f + OFF_ACK, ack);
	slp_put32(f + OFF_TXNEXT, tx_next);
	slp_put16(f + OFF_WINDOW, window);
	slp_put32(f + OFF_CRC, flags & SLP_F_NOCRC ? 0 : head_crc(f, body_crc));
}
