/* SPDX-License-Identifier: MIT */
/* The SLURPoE harnesses write a frame's correct CRC32C on request, so the
 * fuzzer gets past the checksum into the checks behind it. */
#ifndef IVT_FUZZ_SLURPOE_CRC_H
#define IVT_FUZZ_SLURPOE_CRC_H

#include "crc32c.h"
#include "wire.h"

/* The CRC covers the frame up to the declared length with the crc field
 * taken as zero (wire.c). */
static inline void fz_slp_fix_crc(uint8_t *f, size_t len)
{
	if (len < SLP_ETH_HLEN + SLP_HDR_LEN)
		return;
	uint8_t *h = f + SLP_ETH_HLEN;
	size_t body = slp_get16(h + 26);
	if (body > len - SLP_ETH_HLEN - SLP_HDR_LEN)
		body = len - SLP_ETH_HLEN - SLP_HDR_LEN;
	slp_put32(h + 28, 0);
	slp_put32(h + 28, slp_crc32c(0, f, SLP_ETH_HLEN + SLP_HDR_LEN + body));
}

#endif
