/* SPDX-License-Identifier: MIT */
#include "json_lines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 256
#define DEPTH_MAX 32 /* policies are shallow; deeper values get no line */

struct json_line_entry {
	char *path;
	int line;
	size_t at; /* byte offset of its key or first character */
};

struct json_lines {
	struct json_line_entry *v;
	size_t n, cap;
};

struct scanner {
	const char *s;
	size_t len, pos;
	int line;
	struct json_lines *out;
	int failed;
};

static void record(struct scanner *sc, const char *path, int line, size_t at)
{
	struct json_lines *jl = sc->out;
	if (jl->n == jl->cap) {
		size_t cap = jl->cap ? jl->cap * 2 : 32;
		struct json_line_entry *v = realloc(jl->v, cap * sizeof(*v));
		if (!v) {
			sc->failed = 1;
			return;
		}
		jl->v = v;
		jl->cap = cap;
	}
	char *p = strdup(path);
	if (!p) {
		sc->failed = 1;
		return;
	}
	jl->v[jl->n++] = (struct json_line_entry){p, line, at};
}

static int peek(struct scanner *sc)
{
	return sc->pos < sc->len ? (unsigned char)sc->s[sc->pos] : -1;
}

static void skip_ws(struct scanner *sc)
{
	for (int c; (c = peek(sc)) == ' ' || c == '\t' || c == '\n' || c == '\r'; sc->pos++)
		if (c == '\n')
			sc->line++;
}

/* Skip a string starting at '"'; copy its raw contents into buf if given. */
static int skip_string(struct scanner *sc, char *buf, size_t cap)
{
	size_t n = 0;
	sc->pos++; /* opening quote */
	for (;;) {
		int c = peek(sc);
		if (c < 0)
			return -1;
		sc->pos++;
		if (c == '"')
			break;
		if (c == '\\') {
			c = peek(sc);
			if (c < 0)
				return -1;
			sc->pos++;
			if (c == 'u' && buf && n + 1 < cap)
				buf[n++] = '\\'; /* a path shows "\u0000" as written */
		}
		if (buf && n + 1 < cap)
			buf[n++] = (char)c;
	}
	if (buf)
		buf[n] = '\0';
	return 0;
}

static int scan_value(struct scanner *sc, char *path, size_t plen, int depth);

static int scan_container(struct scanner *sc, char *path, size_t plen, int depth, int is_object)
{
	char close = is_object ? '}' : ']';
	sc->pos++;
	skip_ws(sc);
	if (peek(sc) == close) {
		sc->pos++;
		return 0;
	}
	for (unsigned idx = 0;; idx++) {
		skip_ws(sc);
		size_t at = strlen(path);
		if (is_object) {
			if (peek(sc) != '"')
				return -1;
			char key[128];
			int line = sc->line;
			size_t key_at = sc->pos;
			if (skip_string(sc, key, sizeof(key)) != 0)
				return -1;
			/* Truncated paths are still recorded; they simply won't match lookups. */
			snprintf(path + at, plen - at, "%s%s", at ? "." : "", key);
			record(sc, path, line, key_at);
			skip_ws(sc);
			if (peek(sc) != ':')
				return -1;
			sc->pos++;
		} else {
			snprintf(path + at, plen - at, "[%u]", idx);
			skip_ws(sc);
			record(sc, path, sc->line, sc->pos);
		}
		int rc = scan_value(sc, path, plen, depth + 1);
		path[at] = '\0';
		if (rc != 0)
			return rc;
		skip_ws(sc);
		int c = peek(sc);
		sc->pos++;
		if (c == close)
			return 0;
		if (c != ',')
			return -1;
	}
}

static int scan_value(struct scanner *sc, char *path, size_t plen, int depth)
{
	if (depth > DEPTH_MAX)
		return -1;
	skip_ws(sc);
	int c = peek(sc);
	if (c == '{' || c == '[')
		return scan_container(sc, path, plen, depth, c == '{');
	if (c == '"')
		return skip_string(sc, NULL, 0);
	/* number, true, false, null */
	while ((c = peek(sc)) >= 0 && c != ',' && c != '}' && c != ']' && c != ' ' && c != '\n' &&
	       c != '\t' && c != '\r')
		sc->pos++;
	return 0;
}

struct json_lines *json_lines_scan(const char *text, size_t len)
{
	struct json_lines *jl = calloc(1, sizeof(*jl));
	if (!jl)
		return NULL;
	struct scanner sc = {.s = text, .len = len, .line = 1, .out = jl};
	char path[PATH_MAX_LEN] = "";
	skip_ws(&sc);
	record(&sc, "", sc.line, sc.pos);
	(void)scan_value(&sc, path, sizeof(path), 0);
	if (sc.failed) {
		json_lines_free(jl);
		return NULL;
	}
	return jl;
}

int json_lines_find(const struct json_lines *jl, const char *path)
{
	if (!jl || !path)
		return 0;
	for (size_t i = 0; i < jl->n; i++)
		if (!strcmp(jl->v[i].path, path))
			return jl->v[i].line;
	return 0;
}

const char *json_lines_path_at(const struct json_lines *jl, size_t at)
{
	const char *path = NULL;
	/* recorded in text order: the last one that starts by `at` */
	for (size_t i = 0; jl && i < jl->n && jl->v[i].at <= at; i++)
		path = jl->v[i].path;
	return path;
}

void json_lines_free(struct json_lines *jl)
{
	if (!jl)
		return;
	for (size_t i = 0; i < jl->n; i++)
		free(jl->v[i].path);
	free(jl->v);
	free(jl);
}
