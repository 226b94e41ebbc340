/* SPDX-License-Identifier: MIT */
/* ivt-bench --via-ivt --zc: one point of copy send or reserve/commit send
 * (writer) and its verifying reader (bench_zc.c). Write sizes and bytes
 * must be multiples of 8. MB/s at the reader; NAN if a word differed, -1
 * if the channel failed. */
#ifndef IVT_BENCH_ZC_H
#define IVT_BENCH_ZC_H

#include <stddef.h>
#include <stdint.h>

#include "ivt/ivt.h"

double zc_write_point(ivt_channel *ch, size_t wsize, uint64_t bytes, uint8_t *buf, int reserve);
double zc_read_point(ivt_channel *ch, size_t wsize, uint64_t bytes, uint8_t *buf);

/* The data both modes (and --vs-vchan's raw libxenvchan points) carry:
 * words [first, first+words) of the stream into dst; zc_check returns the
 * index + 1 of the first wrong word, or 0. */
void zc_produce(uint64_t *dst, uint64_t first, size_t words);
uint64_t zc_check(const uint64_t *w, uint64_t first, size_t words);

#endif
