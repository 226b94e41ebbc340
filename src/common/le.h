/* SPDX-License-Identifier: MIT */
/* Little-endian fields in wire formats (remote daemon protocol, utmem):
 * the one set of helpers, byte by byte, so alignment and host order never
 * matter. (SLURPoE frames are big-endian: src/slurpoe/wire.h.) */
#ifndef IVT_COMMON_LE_H
#define IVT_COMMON_LE_H

#include <stdint.h>

/* n-byte (1..8) fields. */
static inline void ivt_put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t ivt_get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void ivt_put_le16(uint8_t *p, uint16_t v) { ivt_put_le(p, v, 2); }
static inline void ivt_put_le32(uint8_t *p, uint32_t v) { ivt_put_le(p, v, 4); }
static inline void ivt_put_le64(uint8_t *p, uint64_t v) { ivt_put_le(p, v, 8); }
static inline uint16_t ivt_get_le16(const uint8_t *p) { return (uint16_t)ivt_get_le(p, 2); }
static inline uint32_t ivt_get_le32(const uint8_t *p) { return (uint32_t)ivt_get_le(p, 4); }
static inline uint64_t ivt_get_le64(const uint8_t *p) { return ivt_get_le(p, 8); }

#endif
