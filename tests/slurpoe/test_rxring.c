/* SPDX-License-Identifier: MIT */
/* The TPACKET_V2 ring reader (rxring.c) over memory laid out as the kernel
 * lays out the ring: frames are handed over in order, each slot goes back
 * to the kernel, and a slot header whose offsets or lengths point outside
 * the slot, a truncated frame, or our own outgoing frame is skipped, never
 * followed (ASan/valgrind see a read outside the slot). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/if_packet.h>

#include "slurpoe/rxring.h"

#define SLOT 2048u
#define NSLOTS 8u
#define MACOFF 66u

struct seen {
	int n;
	size_t len[NSLOTS * 2];
	uint8_t first[NSLOTS * 2];
};

static void cb(void *arg, const void *frame, size_t len)
{
	struct seen *s = arg;
	s->len[s->n] = len;
	s->first[s->n] = *(const uint8_t *)frame;
	/* Touch every byte: ASan/valgrind catch a frame past the slot. */
	volatile uint8_t x = 0;
	for (size_t i = 0; i < len; i++)
		x ^= ((const uint8_t *)frame)[i];
	(void)x;
	s->n++;
}

static struct tpacket2_hdr *slot(uint8_t *map, unsigned i)
{
	return (struct tpacket2_hdr *)(map + (size_t)i * SLOT);
}

/* A frame of len bytes starting with tag, published to user space. */
static void put(uint8_t *map, unsigned i, uint32_t len, uint8_t tag)
{
	struct tpacket2_hdr *h = slot(map, i);
	memset(h, 0, SLOT);
	h->tp_len = h->tp_snaplen = len;
	h->tp_mac = MACOFF;
	memset((uint8_t *)h + MACOFF, tag, len);
	struct sockaddr_ll *sll = (void *)((uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
	sll->sll_pkttype = PACKET_HOST;
	h->tp_status = TP_STATUS_USER;
}

static void in_order_and_returned(void **state)
{
	(void)state;
	uint8_t *map = calloc(NSLOTS, SLOT);
	assert_non_null(map);
	struct slp_rxring *r = slp_rxring_over(map, SLOT, NSLOTS);
	assert_non_null(r);
	struct seen s = {0};
	uint64_t drops = 0;
	assert_int_equal(slp_rxring_ready(r), 0);
	assert_int_equal(slp_rxring_rx(r, cb, &s, 16, &drops), 0);
	/* Twice round the ring, 3 frames at a time, max honoured. */
	unsigned next = 0;
	for (int round = 0; round < 6; round++) {
		for (int k = 0; k < 3; k++, next++)
			put(map, next % NSLOTS, 60 + next, (uint8_t)next);
		assert_int_equal(slp_rxring_ready(r), 1);
		s.n = 0;
		assert_int_equal(slp_rxring_rx(r, cb, &s, 2, &drops), 2);
		assert_int_equal(slp_rxring_rx(r, cb, &s, 16, &drops), 1);
		for (int k = 0; k < 3; k++) {
			unsigned want = next - 3 + (unsigned)k;
			assert_int_equal(s.len[k], 60 + want);
			assert_int_equal(s.first[k], (uint8_t)want);
		}
		for (unsigned i = 0; i < NSLOTS; i++)
			assert_int_equal(slot(map, i)->tp_status, TP_STATUS_KERNEL);
	}
	/* The kernel's "frames were lost" mark is counted. */
	put(map, next % NSLOTS, 100, 1);
	slot(map, next % NSLOTS)->tp_status |= TP_STATUS_LOSING;
	s.n = 0;
	assert_int_equal(slp_rxring_rx(r, cb, &s, 16, &drops), 1);
	assert_int_equal(drops, 1);
	slp_rxring_close(r);
	free(map);
}

static void bad_headers_skipped(void **state)
{
	(void)state;
	uint8_t *map = calloc(NSLOTS, SLOT);
	assert_non_null(map);
	struct slp_rxring *r = slp_rxring_over(map, SLOT, NSLOTS);
	assert_non_null(r);
	for (unsigned i = 0; i < NSLOTS; i++)
		put(map, i, 100, (uint8_t)i);
	slot(map, 0)->tp_snaplen = slot(map, 0)->tp_len = SLOT; /* runs past the slot */
	slot(map, 1)->tp_mac = SLOT - 10;                       /* starts near its end */
	slot(map, 2)->tp_mac = 0xFFF0;                          /* far outside */
	slot(map, 3)->tp_snaplen = 0xFFFFFFFFu;
	slot(map, 4)->tp_len = 1500;                            /* truncated frame */
	slot(map, 5)->tp_mac = 4;                               /* inside the header */
	((struct sockaddr_ll *)((uint8_t *)slot(map, 6) + TPACKET_ALIGN(sizeof(struct tpacket2_hdr))))
		->sll_pkttype = PACKET_OUTGOING;                /* our own */
	struct seen s = {0};
	uint64_t drops = 0;
	/* Slots 0-6 are passed over, slot 7 delivered; all go back. */
	assert_int_equal(slp_rxring_rx(r, cb, &s, 16, &drops), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.first[0], 7);
	assert_int_equal(s.len[0], 100);
	for (unsigned i = 0; i < NSLOTS; i++)
		assert_int_equal(slot(map, i)->tp_status, TP_STATUS_KERNEL);
	/* A flood of bad slots costs at most max looks per call. */
	for (unsigned i = 0; i < NSLOTS; i++) {
		put(map, i, 100, 0);
		slot(map, i)->tp_mac = SLOT;
	}
	assert_int_equal(slp_rxring_rx(r, cb, &s, 3, &drops), 0);
	assert_int_equal(slp_rxring_ready(r), 1);
	slp_rxring_close(r);
	free(map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(in_order_and_returned),
		cmocka_unit_test(bad_headers_skipped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
