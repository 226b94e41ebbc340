/* SPDX-License-Identifier: MIT */
/* Text tables and the CSV file of ivt-bench. */
#ifndef IVT_BENCH_REPORT_H
#define IVT_BENCH_REPORT_H

#include <stddef.h>
#include <stdint.h>

/* "64", "4K", "1M" */
const char *fmt_size(size_t n, char *buf, size_t len);
/* Parse "65536", "64K", "16M", "1G"; 0 on error. */
uint64_t parse_size(const char *s);

/* A table: nrows x ncols values (row-major), NaN prints as "-". */
struct table {
	const char *title;
	const char *corner;           /* header of the row-label column */
	const char *const *row_names;
	int nrows;
	const char *const *col_names;
	int ncols;
	const double *vals;
	int decimals;                 /* digits after the point */
};
void table_print(const struct table *t);

/* CSV: one row per measurement. */
int csv_open(const char *path);
void csv_row(const char *test, const char *transport, size_t ring_size, size_t msg_size,
	     uint64_t bytes, double seconds, double mb_per_s, double rtt_us, double vs_memcpy,
	     double vs_tcp);
void csv_close(void);

#endif
