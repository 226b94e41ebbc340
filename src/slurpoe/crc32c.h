/* SPDX-License-Identifier: MIT */
/* CRC32C (Castagnoli), the checksum every SLURPoE frame carries. Uses the
 * SSE4.2 crc32 instruction when the CPU has it, else a table. */
#ifndef SLURPOE_CRC32C_H
#define SLURPOE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0; returns the final (inverted) value. */
uint32_t slp_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
