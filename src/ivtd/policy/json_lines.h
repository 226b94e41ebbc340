/* SPDX-License-Identifier: MIT */
/*
 * Line numbers for JSON values, by path ("channels[1].ring_size").
 *
 * jansson reports lines only for syntax errors; semantic errors found
 * later would otherwise point nowhere. This scans the text once (parsed
 * already, or refused by jansson for a value such as a number out of
 * range) and remembers where each value's key or first character sits.
 */
#ifndef IVTD_JSON_LINES_H
#define IVTD_JSON_LINES_H

#include <stddef.h>

struct json_lines;

/* NULL on allocation failure; a malformed text just yields fewer entries. */
struct json_lines *json_lines_scan(const char *text, size_t len);
/* Line (1-based) of the value at path, or 0 if unknown. */
int json_lines_find(const struct json_lines *jl, const char *path);
/* Path of the value whose key (or first character) is the last to start
 * at or before byte offset `at`, NULL if none: where jansson's error at
 * `at` lies when the text is well-formed but a value is not (a number out
 * of range, a duplicate key). */
const char *json_lines_path_at(const struct json_lines *jl, size_t at);
void json_lines_free(struct json_lines *jl);

#endif
