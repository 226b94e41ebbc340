/* SPDX-License-Identifier: MIT */
/*
 * SLURPoE frames from the wire (src/slurpoe/wire.c). Input: one byte of
 * choices, then the frame. With bit 0 set the harness writes the right
 * CRC32C first, so the fuzzer gets past the checksum into the per-type
 * checks. Accepted frames must point inside themselves.
 */
#include "fuzz_input.h"
#include "slurpoe_crc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t len = size - 1;
	uint8_t *frame = malloc(len ? len : 1); /* exact size: ASan sees any overread */
	memcpy(frame, data + 1, len);
	if (data[0] & 1)
		fz_slp_fix_crc(frame, len);
	struct slp_pkt pkt;
	if (slp_parse(frame, len, &pkt) == SLP_OK) {
		FZ_CHECK(pkt.payload >= frame && pkt.payload + pkt.payload_len <= frame + len);
		if (pkt.type == SLP_ACK)
			FZ_CHECK(pkt.u.ack_ext.nsack <= SLP_MAX_SACK);
	}
	free(frame);
	return 0;
}
