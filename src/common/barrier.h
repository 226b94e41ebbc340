/* SPDX-License-Identifier: MIT */
/*
 * Barriers for rings shared with another process or domain, one spelling
 * for ring.c and the vchan plugin. Write each one with its order in words
 * where it stands ("read indexes /then/ write data"), as libxenvchan's
 * io.c does, and say which barrier on the other side it pairs with.
 *
 *   ivt_mb()       full: earlier loads and stores before later loads and
 *                  stores. The only one that orders a store before a
 *                  later load ("publish the index /then/ look at the
 *                  peer's notify request"): libxenvchan's xen_mb().
 *   ivt_acquire()  earlier loads before later loads and stores ("read the
 *                  peer's index /then/ read or overwrite the data").
 *   ivt_release()  earlier loads and stores before later stores ("write
 *                  or read the data /then/ publish our index").
 *
 * On x86-64 acquire and release cost nothing but the compiler's ordering
 * (the hardware keeps loads before later stores, and stores in order);
 * the full barrier is a locked add to the stack, cheaper than mfence and
 * what Linux uses for smp_mb().
 */
#ifndef IVT_COMMON_BARRIER_H
#define IVT_COMMON_BARRIER_H

#if defined(__x86_64__)
#define ivt_mb() __asm__ volatile("lock; addl $0,-4(%%rsp)" ::: "memory", "cc")
#else
#define ivt_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#define ivt_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define ivt_release() __atomic_thread_fence(__ATOMIC_RELEASE)

#endif
