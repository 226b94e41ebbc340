/* SPDX-License-Identifier: MIT */
/*
 * libivt frames from the peer (src/libivt/frame.c): the input is the byte
 * pipe, decoded frame after frame the way rx.c walks it. Accepted headers
 * must bound their payload, and re-encode to the same bytes.
 */
#include "fuzz_input.h"
#include "libivt/frame.h"

static void check_frame(const uint8_t *in, const struct ivt_frame_hdr *h,
			const struct ivt_frame_ext *ext)
{
	size_t es = ivt_frame_ext_size(h->type);
	FZ_CHECK(es <= IVT_FRAME_EXT_MAX && h->len >= es);
	FZ_CHECK(ivt_frame_payload_len(h) <= IVT_FRAME_PAYLOAD_MAX);
	uint8_t out[IVT_FRAME_HEAD_MAX];
	size_t n = ivt_frame_encode(out, h->type, h->tag, ext, ivt_frame_payload_len(h));
	FZ_CHECK(n == IVT_FRAME_HDR_SIZE + es && !memcmp(out, in, n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0;
	while (size - pos >= IVT_FRAME_HDR_SIZE) {
		struct ivt_frame_hdr h;
		struct ivt_frame_ext ext = {0};
		if (ivt_frame_decode_hdr(data + pos, &h) != 0)
			return 0;
		size_t es = ivt_frame_ext_size(h.type);
		if (size - pos - IVT_FRAME_HDR_SIZE < es)
			return 0;
		if (ivt_frame_decode_ext(h.type, data + pos + IVT_FRAME_HDR_SIZE, &ext) != 0)
			return 0;
		check_frame(data + pos, &h, &ext);
		if (size - pos - IVT_FRAME_HDR_SIZE < h.len)
			return 0;
		pos += IVT_FRAME_HDR_SIZE + h.len;
	}
	return 0;
}
