/* SPDX-License-Identifier: MIT */
/* ivt-bench --via-ivt: the two halves of a bandwidth sweep through libivt
 * (ivt_open/ivt_send/ivt_recv), so ivtd and whatever backend the policy
 * picks are measured, in two processes that may sit in different domains
 * (vchan between Xen guests) or on one host (shm). */
#ifndef IVT_BENCH_VIA_IVT_H
#define IVT_BENCH_VIA_IVT_H

#include <stddef.h>
#include <stdint.h>

#define VIA_IVT_MAXPTS 8
#define VIA_IVT_MAXREPEAT 15

struct via_ivt_config {
	int listen;            /* --role listen: the writer, prints the verified table */
	const char *channel;   /* one channel "<channel>-<ring>" per ring size */
	const char *backend;   /* NULL: the policy decides */
	size_t rings[VIA_IVT_MAXPTS];
	int nrings;
	size_t writes[VIA_IVT_MAXPTS];
	uint64_t bytes[VIA_IVT_MAXPTS]; /* per write size */
	int nwrites;
	int timeout_s;         /* opening, and each point; then the run fails */
	int zc;                /* --zc: copy send vs reserve/commit per point (bench_zc.c) */
	int vs_vchan;          /* --vs-vchan (implies zc): raw libxenvchan per point too */
	int repeat;            /* --repeat: runs of each mode per point, median reported */
	int costs;             /* --costs: per point and mode, CPU time and sleeps per MB
				* on stderr (bench_cost.h) */
};

/* Runs this process's half. Returns 0 when every point completed (and,
 * on the writer, every checksum matched), 1 otherwise. */
int via_ivt_run(const struct via_ivt_config *c);

#endif
