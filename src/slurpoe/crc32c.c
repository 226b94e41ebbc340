/* SPDX-License-Identifier: MIT */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[0][i] = c;
	}
	for (int t = 1; t < 8; t++)
		for (int i = 0; i < 256; i++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

/* Slicing-by-8: portable fallback. */
static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n)
{
	pthread_once(&table_once, table_init);
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		v ^= c; /* little-endian hosts only reach here in practice */
		c = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^ table[5][(v >> 16) & 0xff] ^
		    table[4][(v >> 24) & 0xff] ^ table[3][(v >> 32) & 0xff] ^
		    table[2][(v >> 40) & 0xff] ^ table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
	return c;
}

#if defined(__x86_64__)
/* The crc32 instruction has a latency of 3 cycles and a throughput of 1:
 * one chain uses a third of it. Three chains over adjacent blocks run in
 * parallel and are joined by "shifting" a CRC over a block of zeros,
 * which is linear and so a table lookup per byte (zeros[] below, as in
 * Mark Adler's crc32c.c). */
/* Block sizes, largest first: a buffer takes as many 3-block rounds of
 * each as fit, so only its last < 192 bytes run on one chain (a third of
 * the speed). 480: one round covers 1440 bytes, nearly all of an MTU-1500
 * frame's body. A 1448-byte CRC: 98 -> 54 ns (with {2048, 256}, 768 bytes
 * ran 3-way and 680 on one chain). */
static const size_t blocks[] = {2048, 512, 480, 256, 128, 64};
#define NBLOCKS (sizeof(blocks) / sizeof(blocks[0]))

static uint32_t zeros[NBLOCKS][4][256];

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;
	for (; vec; vec >>= 1, mat++)
		if (vec & 1)
			sum ^= *mat;
	return sum;
}

static void gf2_square(uint32_t *sq, const uint32_t *mat)
{
	for (int n = 0; n < 32; n++)
		sq[n] = gf2_times(mat, mat[n]);
}

/* The operator that appends len zero bytes to a CRC register, len a
 * power of two. */
static void zeros_op(uint32_t *even, size_t len)
{
	uint32_t odd[32];
	uint32_t row = 1;
	odd[0] = POLY; /* one zero bit */
	for (int n = 1; n < 32; n++, row <<= 1)
		odd[n] = row;
	gf2_square(even, odd); /* two zero bits */
	gf2_square(odd, even); /* four */
	do {
		gf2_square(even, odd);
		len >>= 1;
		if (!len)
			return;
		gf2_square(odd, even);
		len >>= 1;
	} while (len);
	for (int n = 0; n < 32; n++)
		even[n] = odd[n];
}

/* zeros_op() squares its way to one power of two; 480 is 256 + 128 + 64
 * + 32: the operator of a sum of lengths is the product of theirs. */
static void zeros_op_any(uint32_t *op, size_t len)
{
	for (int n = 0; n < 32; n++)
		op[n] = 1u << n;
	for (size_t bit = 1; bit <= len; bit <<= 1) {
		uint32_t p[32];
		if (!(len & bit))
			continue;
		zeros_op(p, bit);
		for (int n = 0; n < 32; n++)
			op[n] = gf2_times(p, op[n]);
	}
}

static void zeros_table(uint32_t zt[][256], size_t len)
{
	uint32_t op[32];
	zeros_op_any(op, len);
	for (uint32_t n = 0; n < 256; n++) {
		zt[0][n] = gf2_times(op, n);
		zt[1][n] = gf2_times(op, n << 8);
		zt[2][n] = gf2_times(op, n << 16);
		zt[3][n] = gf2_times(op, n << 24);
	}
}

static void hw_init(void)
{
	for (size_t i = 0; i < NBLOCKS; i++)
		zeros_table(zeros[i], blocks[i]);
}

static uint32_t shift(uint32_t zt[][256], uint32_t crc)
{
	return zt[0][crc & 0xff] ^ zt[1][(crc >> 8) & 0xff] ^
	       zt[2][(crc >> 16) & 0xff] ^ zt[3][crc >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t crc_3way(uint32_t zt[][256], size_t block,
							   uint64_t c0, const uint8_t **pp,
							   size_t *np)
{
	const uint8_t *p = *pp;
	size_t n = *np;
	while (n >= 3 * block) {
		uint64_t c1 = 0, c2 = 0;
		for (const uint8_t *end = p + block; p < end; p += 8) {
			uint64_t a, b, c;
			memcpy(&a, p, 8);
			memcpy(&b, p + block, 8);
			memcpy(&c, p + 2 * block, 8);
			c0 = __builtin_ia32_crc32di(c0, a);
			c1 = __builtin_ia32_crc32di(c1, b);
			c2 = __builtin_ia32_crc32di(c2, c);
		}
		c0 = shift(zt, (uint32_t)c0) ^ (uint32_t)c1;
		c0 = shift(zt, (uint32_t)c0) ^ (uint32_t)c2;
		p += 2 * block;
		n -= 3 * block;
	}
	*pp = p;
	*np = n;
	return (uint32_t)c0;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	if (n >= 3 * blocks[NBLOCKS - 1]) {
		pthread_once(&once, hw_init);
		for (size_t i = 0; i < NBLOCKS; i++)
			c = crc_3way(zeros[i], blocks[i], c, &p, &n);
	}
	uint64_t c64 = c;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c64 = __builtin_ia32_crc32di(c64, v);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

uint32_t slp_crc32c(uint32_t crc, const void *buf, size_t len)
{
	uint32_t c = ~crc;
#if defined(__x86_64__)
	static int have_hw = -1;
	if (have_hw < 0)
		have_hw = __builtin_cpu_supports("sse4.2");
	if (have_hw)
		return ~crc_hw(c, buf, len);
#endif
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	{
		const uint8_t *p = buf;
		pthread_once(&table_once, table_init);
		while (len--)
			c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
		return ~c;
	}
#endif
	return ~crc_sw(c, buf, len);
}
