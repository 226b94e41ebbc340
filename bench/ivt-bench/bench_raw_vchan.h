/* SPDX-License-Identifier: MIT */
/* ivt-bench --via-ivt --vs-vchan: one point of raw libxenvchan between the
 * channel's two domains, the baseline for ivt over vchan (bench_raw_vchan.c).
 * Same data and verification as bench_zc.h; MB/s at the reader, NAN if a
 * word differed, -1 if the point failed. ring: bytes per direction. */
#ifndef IVT_BENCH_RAW_VCHAN_H
#define IVT_BENCH_RAW_VCHAN_H

#include <stddef.h>
#include <stdint.h>

#include "ivt/ivt.h"

double raw_vchan_write_point(ivt_channel *ch, size_t ring, size_t wsize, uint64_t bytes,
			     uint8_t *buf);
double raw_vchan_read_point(ivt_channel *ch, size_t ring, size_t wsize, uint64_t bytes,
			    uint8_t *buf);

#endif
