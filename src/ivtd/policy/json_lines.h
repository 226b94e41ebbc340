/* SPDX-License-Identifier: MIT */
/*
 * Line numbers for JSON values, by path ("channels[1].ring_size").
 *
 * jansson reports lines only for syntax errors; semantic errors found
 * later would otherwise point nowhere. This scans the (already parsed,
 * hence well-formed) text once and remembers where each value's key or
 * first character sits.
 */
#ifndef IVTD_JSON_LINES_H
#define IVTD_JSON_LINES_H

#include <stddef.h>

struct json_lines;

/* NULL on allocation failure; a malformed text just yields fewer entries. */
struct json_lines *json_lines_scan(const char *text, size_t len);
/* Line (1-based) of the value at path, or 0 if unknown. */
int json_lines_find(const struct json_lines *jl, const char *path);
void json_lines_free(struct json_lines *jl);

#endif
