/* SPDX-License-Identifier: MIT */
#include "bench_report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *csv;

const char *fmt_size(size_t n, char *buf, size_t len)
{
	if (n >= (1u << 30) && n % (1u << 30) == 0)
		snprintf(buf, len, "%zuG", n >> 30);
	else if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(buf, len, "%zuM", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, len, "%zuK", n >> 10);
	else
		snprintf(buf, len, "%zu", n);
	return buf;
}

uint64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0)
		return 0;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end || v > (UINT64_MAX >> shift))
		return 0;
	return (uint64_t)v << shift;
}

void table_print(const struct table *t)
{
	int w = 10;
	printf("\n%s\n%-*s", t->title, w, t->corner);
	for (int c = 0; c < t->ncols; c++)
		printf(" %*s", w, t->col_names[c]);
	printf("\n");
	for (int r = 0; r < t->nrows; r++) {
		printf("%-*s", w, t->row_names[r]);
		for (int c = 0; c < t->ncols; c++) {
			double v = t->vals[r * t->ncols + c];
			char cell[32];
			if (isnan(v))
				snprintf(cell, sizeof(cell), "-");
			else
				snprintf(cell, sizeof(cell), "%.*f", t->decimals, v);
			printf(" %*s", w, cell);
		}
		printf("\n");
	}
	fflush(stdout);
}

int csv_open(const char *path)
{
	csv = fopen(path, "w");
	if (!csv)
		return -errno;
	fprintf(csv, "test,transport,ring_size,msg_size,bytes,seconds,mb_per_s,rtt_us,"
		     "ratio_vs_memcpy,ratio_vs_tcp\n");
	return 0;
}

static void num(double v)
{
	if (isnan(v))
		fprintf(csv, ",");
	else
		fprintf(csv, ",%.6g", v);
}

void csv_row(const char *test, const char *transport, size_t ring_size, size_t msg_size,
	     uint64_t bytes, double seconds, double mb_per_s, double rtt_us, double vs_memcpy,
	     double vs_tcp)
{
	if (!csv)
		return;
	fprintf(csv, "%s,%s,%zu,%zu,%llu", test, transport, ring_size, msg_size,
		(unsigned long long)bytes);
	num(seconds);
	num(mb_per_s);
	num(rtt_us);
	num(vs_memcpy);
	num(vs_tcp);
	fprintf(csv, "\n");
}

void csv_close(void)
{
	if (csv)
		fclose(csv);
	csv = NULL;
}
