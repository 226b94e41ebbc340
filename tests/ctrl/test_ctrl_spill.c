/* SPDX-License-Identifier: MIT */
/* OPEN_OK's appended spill_above_bytes: carried, and bounded on receipt. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/ctrl_msg.h"

static size_t open_ok_datagram(uint8_t *buf, uint64_t spill)
{
	struct ivt_ctrl_hdr h = {.magic = IVT_CTRL_MAGIC, .version = IVT_CTRL_VERSION,
				 .type = IVT_CTRL_OPEN_OK, .len = sizeof(struct ivt_ctrl_open_ok)};
	struct ivt_ctrl_open_ok ok;
	memset(&ok, 0, sizeof(ok));
	strcpy(ok.backend, "shm");
	ok.ring_size = 65536;
	ok.spill_above_bytes = spill;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &ok, sizeof(ok));
	return sizeof(h) + sizeof(ok);
}

static void test_spill_field(void **state)
{
	(void)state;
	static uint8_t buf[sizeof(struct ivt_ctrl_hdr) + sizeof(struct ivt_ctrl_open_ok)];
	struct ivt_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	size_t n = open_ok_datagram(buf, 4096);
	assert_int_equal(ivt_ctrl_parse(buf, n, &m), 0);
	assert_int_equal(m.u.open_ok.spill_above_bytes, 4096);
	n = open_ok_datagram(buf, 0);
	assert_int_equal(ivt_ctrl_parse(buf, n, &m), 0);
	n = open_ok_datagram(buf, IVT_CTRL_SPILL_ABOVE_MAX);
	assert_int_equal(ivt_ctrl_parse(buf, n, &m), 0);
	n = open_ok_datagram(buf, IVT_CTRL_SPILL_ABOVE_MAX + 1);
	assert_int_equal(ivt_ctrl_parse(buf, n, &m), -EPROTO);
	/* the old, shorter OPEN_OK is refused: both ends come from one build */
	struct ivt_ctrl_hdr h;
	memcpy(&h, buf, sizeof(h));
	h.len -= 8;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(ivt_ctrl_parse(buf, n - 8, &m), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_spill_field)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
