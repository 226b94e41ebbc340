/* SPDX-License-Identifier: MIT */
/* The one-sided-operation scenario every backend must pass, shared by the
 * shm e2e test (emulated RDMA) and the slurpoe test (native RDMA):
 * the target registers a 1 MiB read-write region and a read-only one and
 * sends their keys; the origin writes, reads back, and checks that forged
 * keys, missing access, beyond-the-end and wrapping offsets and a
 * deregistered key are refused in completions. */
#ifndef IVT_TEST_RDMA_SCENARIO_H
#define IVT_TEST_RDMA_SCENARIO_H

#include <stdint.h>

#include "ivt/ivt.h"

#define RDMA_SCENARIO_REGION_BYTES (1u << 20)

/* Origin side, in a child process: 0 when every check held, else 1 (the
 * failed check is printed). seed: pattern written into the region. */
int rdma_scenario_origin(ivt_channel *ch, uint64_t seed);

/* Target side, under cmocka: region has RDMA_SCENARIO_REGION_BYTES bytes
 * (the caller may put guard areas around it and check them afterwards). */
void rdma_scenario_target(ivt_channel *ch, uint8_t *region, uint64_t seed);

#endif
