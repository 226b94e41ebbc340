/* SPDX-License-Identifier: MIT */
/*
 * Reading a policy file into struct ivt_policy. Everything is checked;
 * unknown keys are errors, since a misspelt key would otherwise silently
 * leave a channel less restricted than its author meant.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/ctrl_msg.h"
#include "common/plugin_loader.h"
#include "json_lines.h"
#include "policy.h"

#define POLICY_FILE_MAX (1u << 20) /* 1 MiB, read whole (conf/README.md, ivtd(8)) */
#define DEFAULT_RING_SIZE 65536ull
#define DEFAULT_MAX_RING_SIZE 4194304ull

struct loader {
	const char *source;
	struct json_lines *lines;
	char *err;
	size_t err_len;
	/* "defaults" sets them: where a rule's inherited ring sizes come from */
	int default_ring_given, default_max_given;
};

/* snprintf through a function: cut paths and messages are acceptable,
 * and this keeps -Wformat-truncation from second-guessing each call. */
__attribute__((format(printf, 3, 4))) static void bprintf(char *buf, size_t cap, const char *fmt,
							   ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

/* Format "source:line: path: message" and return -EINVAL. */
__attribute__((format(printf, 3, 4))) static int fail(struct loader *L, const char *path,
							const char *fmt, ...)
{
	char what[IVT_POLICY_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	int line = json_lines_find(L->lines, path);
	const char *shown = *path ? path : "(top level)";
	if (line > 0)
		bprintf(L->err, L->err_len, "%s:%d: %s: %s", L->source, line, shown, what);
	else
		bprintf(L->err, L->err_len, "%s: %s: %s", L->source, shown, what);
	return -EINVAL;
}

static void join(char *out, size_t cap, const char *base, const char *key)
{
	bprintf(out, cap, "%s%s%s", base, *base ? "." : "", key);
}

static void join_index(char *out, size_t cap, const char *base, size_t i)
{
	bprintf(out, cap, "%s[%zu]", base, i);
}

static int check_keys(struct loader *L, json_t *obj, const char *path, const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		int ok = 0;
		for (size_t i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				ok = 1;
		if (!ok) {
			char list[256] = "";
			for (size_t i = 0; allowed[i]; i++) {
				size_t at = strlen(list);
				bprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "", allowed[i]);
			}
			char p[256];
			join(p, sizeof(p), path, key);
			return fail(L, p, "unknown key (allowed here: %s)", list);
		}
	}
	return 0;
}

/* Object member: -ENOENT if absent and optional, error if absent and required. */
static int member(struct loader *L, json_t *obj, const char *path, const char *key, int required,
		  json_t **out, char *p, size_t pcap)
{
	join(p, pcap, path, key);
	*out = json_object_get(obj, key);
	if (*out)
		return 0;
	if (required)
		return fail(L, path, "missing required key \"%s\"", key);
	return -ENOENT;
}

static int get_uint(struct loader *L, json_t *obj, const char *path, const char *key, int required,
		    uint64_t *out)
{
	char p[256];
	json_t *v;
	int rc = member(L, obj, path, key, required, &v, p, sizeof(p));
	if (rc)
		return rc;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return fail(L, p, "must be a non-negative integer");
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* An optional count 1..max; def when absent. */
static int get_count(struct loader *L, json_t *obj, const char *path, const char *key,
		     uint32_t def, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int rc = get_uint(L, obj, path, key, 0, &v);
	if (rc == -ENOENT) {
		*out = def;
		return 0;
	}
	if (rc)
		return rc;
	if (v < 1 || v > max) {
		char p[256];
		join(p, sizeof(p), path, key);
		return fail(L, p, "must be between 1 and %u", (unsigned)max);
	}
	*out = (uint32_t)v;
	return 0;
}

static int is_ring_size(uint64_t v)
{
	return v >= IVT_POLICY_RING_MIN && v <= IVT_POLICY_RING_MAX && (v & (v - 1)) == 0;
}

static int get_ring(struct loader *L, json_t *obj, const char *path, const char *key,
		    uint64_t *out)
{
	uint64_t v;
	int rc = get_uint(L, obj, path, key, 0, &v);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!is_ring_size(v)) {
		char p[256];
		join(p, sizeof(p), path, key);
		return fail(L, p, "must be a power of two between %llu and %llu",
			    IVT_POLICY_RING_MIN, IVT_POLICY_RING_MAX);
	}
	*out = v;
	return 0;
}

/* ring_size above max_ring_size in the object at path. The error names
 * a value the file has (an inherited one has no line to point at) and
 * says where the other one comes from: NULL = this object, else e.g.
 * "defaults.ring_size" or "the built-in default". */
static int ring_over_max(struct loader *L, const char *path, uint64_t ring,
			 const char *ring_from, uint64_t max, const char *max_from)
{
	char p[256];
	if (!ring_from) {
		join(p, sizeof(p), path, "ring_size");
		return fail(L, p, "%llu is larger than max_ring_size %llu%s%s%s",
			    (unsigned long long)ring, (unsigned long long)max,
			    max_from ? " (" : "", max_from ? max_from : "", max_from ? ")" : "");
	}
	join(p, sizeof(p), path, "max_ring_size");
	return fail(L, p, "%llu is smaller than ring_size %llu (%s); set a ring_size here too",
		    (unsigned long long)max, (unsigned long long)ring, ring_from);
}

static int get_string(struct loader *L, json_t *obj, const char *path, const char *key,
		      int required, char *buf, size_t cap)
{
	char p[256];
	json_t *v;
	int rc = member(L, obj, path, key, required, &v, p, sizeof(p));
	if (rc)
		return rc;
	if (!json_is_string(v))
		return fail(L, p, "must be a string");
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return fail(L, p, "must not contain NUL characters");
	if (strlen(s) >= cap)
		return fail(L, p, "longer than %zu characters", cap - 1);
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

static int get_backend(struct loader *L, json_t *obj, const char *path, char *buf, size_t cap)
{
	int rc = get_string(L, obj, path, "backend", 0, buf, cap);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (strcmp(buf, "auto") != 0 && !ivt_plugin_name_valid(buf, strlen(buf))) {
		char p[256];
		join(p, sizeof(p), path, "backend");
		return fail(L, p, "\"%s\" is not a backend name (use auto or a plugin's name, "
			    "1..%d of a-z 0-9 _)", buf, IVT_BACKEND_NAME_MAX);
	}
	return 0;
}

/* "defaults"."prefer": ["vchan", "shm"], backend names auto tries first. */
static int get_prefer(struct loader *L, json_t *d, struct ivt_policy *pol)
{
	json_t *arr;
	char p[64], pi[80];
	int rc = member(L, d, "defaults", "prefer", 0, &arr, p, sizeof(p));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!json_is_array(arr))
		return fail(L, p, "must be an array of backend names");
	if (json_array_size(arr) > IVT_POLICY_PREFER_MAX)
		return fail(L, p, "more than %d entries", IVT_POLICY_PREFER_MAX);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);
		join_index(pi, sizeof(pi), p, i);
		const char *name = json_is_string(v) ? json_string_value(v) : NULL;
		if (!name || strlen(name) != json_string_length(v) ||
		    !ivt_plugin_name_valid(name, strlen(name)))
			return fail(L, pi, "must be a backend name (1..%d of a-z 0-9 _)",
				    IVT_BACKEND_NAME_MAX);
		for (size_t k = 0; k < pol->n_prefer; k++)
			if (!strcmp(pol->prefer[k], name))
				return fail(L, pi, "\"%s\" is listed twice", name);
		snprintf(pol->prefer[pol->n_prefer++], sizeof(pol->prefer[0]), "%s", name);
	}
	return 0;
}

/* Channel patterns: channel-name characters plus the globs '*' and '?'. */
static int pattern_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > IVT_NAME_MAX || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '*' || c == '?'))
			return 0;
	}
	return 1;
}

static int principal_value(struct loader *L, json_t *v, const char *p, struct ivt_principal *out)
{
	if (!json_is_string(v))
		return fail(L, p, "must be a string such as \"*\", \"uid:1000\" or \"dom:3\"");
	if (ivt_principal_parse(json_string_value(v), out) != 0)
		return fail(L, p,
			    "\"%s\" is not an identity pattern (use \"*\", \"uid:N\", \"uid:*\", "
			    "\"dom:N\", \"dom:*\", \"host:NAME\", \"host:NAME/*\", "
			    "\"host:NAME/uid:N\", \"host:NAME/ivtd\", \"host:*\" or "
			    "\"host:*/uid:N\"; numbers without leading zeros)",
			    json_string_value(v));
	return 0;
}

static int principal_list(struct loader *L, json_t *obj, const char *path, const char *key,
			  struct ivt_principal **out, size_t *n)
{
	char p[256];
	json_t *arr;
	int rc = member(L, obj, path, key, 1, &arr, p, sizeof(p));
	if (rc)
		return rc;
	if (!json_is_array(arr))
		return fail(L, p, "must be an array of identity patterns");
	size_t count = json_array_size(arr);
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out)
		return fail(L, p, "out of memory");
	*n = count;
	for (size_t i = 0; i < count; i++) {
		char pi[256];
		join_index(pi, sizeof(pi), p, i);
		rc = principal_value(L, json_array_get(arr, i), pi, &(*out)[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_peers_denied(struct loader *L, json_t *obj, const char *path,
			      struct ivt_policy_channel *c)
{
	char p[256];
	json_t *arr;
	int rc = member(L, obj, path, "peers_denied", 0, &arr, p, sizeof(p));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!json_is_array(arr))
		return fail(L, p, "must be an array of [listener, connector] pairs");
	size_t count = json_array_size(arr);
	c->peers_denied = calloc(count ? count : 1, sizeof(*c->peers_denied));
	if (!c->peers_denied)
		return fail(L, p, "out of memory");
	c->n_peers_denied = count;
	for (size_t i = 0; i < count; i++) {
		char pi[256], pj[300];
		join_index(pi, sizeof(pi), p, i);
		json_t *pair = json_array_get(arr, i);
		if (!json_is_array(pair) || json_array_size(pair) != 2)
			return fail(L, pi, "must be a pair [listener pattern, connector pattern]");
		bprintf(pj, sizeof(pj), "%s[0]", pi);
		if ((rc = principal_value(L, json_array_get(pair, 0), pj,
					  &c->peers_denied[i].listener)))
			return rc;
		bprintf(pj, sizeof(pj), "%s[1]", pi);
		if ((rc = principal_value(L, json_array_get(pair, 1), pj,
					  &c->peers_denied[i].connector)))
			return rc;
	}
	return 0;
}

static int parse_spill(struct loader *L, json_t *obj, const char *path,
		       struct ivt_policy_channel *c)
{
	static const char *const keys[] = {"to", "above_bytes", NULL};
	char p[256];
	json_t *sp;
	int rc = member(L, obj, path, "spill", 0, &sp, p, sizeof(p));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!json_is_object(sp))
		return fail(L, p, "must be an object {\"to\": \"utmem\", \"above_bytes\": N}");
	if ((rc = check_keys(L, sp, p, keys)))
		return rc;
	if ((rc = get_string(L, sp, p, "to", 1, c->spill_to, sizeof(c->spill_to))))
		return rc;
	if (strcmp(c->spill_to, "utmem") != 0) {
		char pt[300];
		join(pt, sizeof(pt), p, "to");
		return fail(L, pt, "unknown spill store \"%s\" (only \"utmem\")", c->spill_to);
	}
	if ((rc = get_uint(L, sp, p, "above_bytes", 1, &c->spill_above_bytes)))
		return rc;
	if (c->spill_above_bytes == 0) {
		char pa[300];
		join(pa, sizeof(pa), p, "above_bytes");
		return fail(L, pa, "must be greater than 0");
	}
	c->has_spill = 1;
	return 0;
}

/* "host": where the listener lives. Checked against "hosts" at use, not
 * here: a host names itself in the same file without listing itself. */
static int parse_channel_host(struct loader *L, json_t *obj, const char *path,
			      struct ivt_policy_channel *c)
{
	int rc = get_string(L, obj, path, "host", 0, c->host, sizeof(c->host));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!ivt_name_valid(c->host) || strlen(c->host) > IVT_REMOTE_HOST_NAME_MAX) {
		char p[256];
		join(p, sizeof(p), path, "host");
		return fail(L, p, "\"%s\" is not a host name (1..%d of A-Z a-z 0-9 . _ -)",
			    c->host, IVT_REMOTE_HOST_NAME_MAX);
	}
	return 0;
}

/* "message": true / false; absent, the listener chooses. */
static int parse_message(struct loader *L, json_t *obj, const char *path,
			 struct ivt_policy_channel *c)
{
	char p[256];
	json_t *v;
	int rc = member(L, obj, path, "message", 0, &v, p, sizeof(p));
	c->message = IVT_MODE_LISTENER;
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!json_is_boolean(v))
		return fail(L, p, "must be true (message mode) or false (byte stream)");
	c->message = json_is_true(v) ? IVT_MODE_MESSAGE : IVT_MODE_STREAM;
	return 0;
}

/* "lines": true / false: direct lines for ivt_listen listeners of this
 * rule (docs/conn-setup.md). Default true, except for a rule that sets a
 * connection limit of its own ("max_connections", "backlog",
 * "backlog_per_identity"): ivtd counts only the connections it sees, and
 * a limit someone wrote down must hold for every connection. Listeners
 * hold max_connections over lines themselves (docs/conn-setup.md), but
 * the backlogs are not counted there and older listeners hold nothing,
 * so such a rule says "lines": true when that is what it means. */
static int parse_lines(struct loader *L, json_t *obj, const char *path,
		       struct ivt_policy_channel *c)
{
	char p[256];
	json_t *v;
	int rc = member(L, obj, path, "lines", 0, &v, p, sizeof(p));
	c->no_lines = 0;
	if (rc == -ENOENT) {
		c->no_lines = json_object_get(obj, "max_connections") ||
			      json_object_get(obj, "backlog") ||
			      json_object_get(obj, "backlog_per_identity");
		return 0;
	}
	if (rc)
		return rc;
	if (!json_is_boolean(v))
		return fail(L, p, "must be true (direct lines, the default) or false");
	c->no_lines = !json_is_true(v);
	return 0;
}

static int parse_channel(struct loader *L, struct ivt_policy *pol, json_t *obj, const char *path,
			 struct ivt_policy_channel *c)
{
	static const char *const keys[] = {"name",	    "listeners",    "connectors", "backend",
					   "ring_size",	    "max_ring_size", "quota_bytes", "spill",
					   "peers_denied", "host",	     "backlog",   "max_connections",
					   "message",	    "backlog_per_identity", "lines", NULL};
	int rc;
	if (!json_is_object(obj))
		return fail(L, path, "must be an object");
	if ((rc = check_keys(L, obj, path, keys)))
		return rc;
	c->line = json_lines_find(L->lines, path);
	if ((rc = get_string(L, obj, path, "name", 1, c->pattern, sizeof(c->pattern))))
		return rc;
	if (!pattern_valid(c->pattern)) {
		char p[256];
		join(p, sizeof(p), path, "name");
		return fail(L, p,
			    "\"%s\" is not a channel name or glob (1..%d of A-Z a-z 0-9 . _ - * ?, "
			    "not starting with '.')",
			    c->pattern, IVT_NAME_MAX);
	}
	if ((rc = principal_list(L, obj, path, "listeners", &c->listeners, &c->n_listeners)))
		return rc;
	if ((rc = principal_list(L, obj, path, "connectors", &c->connectors, &c->n_connectors)))
		return rc;
	bprintf(c->backend, sizeof(c->backend), "%s", pol->default_backend);
	c->ring_size = pol->default_ring_size;
	c->max_ring_size = pol->default_max_ring_size;
	if ((rc = get_backend(L, obj, path, c->backend, sizeof(c->backend))))
		return rc;
	if ((rc = get_ring(L, obj, path, "ring_size", &c->ring_size)))
		return rc;
	if ((rc = get_ring(L, obj, path, "max_ring_size", &c->max_ring_size)))
		return rc;
	if (c->ring_size > c->max_ring_size)
		return ring_over_max(L, path, c->ring_size,
				     json_object_get(obj, "ring_size") ? NULL
				     : L->default_ring_given ? "from defaults.ring_size"
							     : "the built-in default",
				     c->max_ring_size,
				     json_object_get(obj, "max_ring_size") ? NULL
				     : L->default_max_given ? "from defaults.max_ring_size"
							    : "the built-in default");
	rc = get_uint(L, obj, path, "quota_bytes", 0, &c->quota_bytes);
	if (rc && rc != -ENOENT)
		return rc;
	if ((rc = parse_spill(L, obj, path, c)))
		return rc;
	if ((rc = parse_channel_host(L, obj, path, c)))
		return rc;
	if ((rc = get_count(L, obj, path, "backlog", IVT_POLICY_BACKLOG_DEFAULT,
			    IVT_POLICY_BACKLOG_MAX, &c->backlog)) ||
	    (rc = get_count(L, obj, path, "max_connections", IVT_POLICY_MAX_CONNECTIONS_DEFAULT,
			    IVT_POLICY_MAX_CONNECTIONS_MAX, &c->max_connections)) ||
	    (rc = get_count(L, obj, path, "backlog_per_identity", 0, IVT_POLICY_BACKLOG_MAX,
			    &c->backlog_per_identity)))
		return rc;
	if ((rc = parse_message(L, obj, path, c)) || (rc = parse_lines(L, obj, path, c)))
		return rc;
	return parse_peers_denied(L, obj, path, c);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (s[i * 3] == ' ' || s[i * 3 + 1] == ' ' || s[i * 3] == '+' || s[i * 3] == '-')
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

/* An optional string member that is one of two words: *out = 0 for the
 * first (the default when absent), 1 for the second. */
static int get_choice(struct loader *L, json_t *obj, const char *path, const char *key,
		      const char *w0, const char *w1, int *out)
{
	char v[16], p[256];
	snprintf(v, sizeof(v), "%s", w0);
	int rc = get_string(L, obj, path, key, 0, v, sizeof(v));
	if (rc && rc != -ENOENT)
		return rc;
	if (strcmp(v, w0) != 0 && strcmp(v, w1) != 0) {
		join(p, sizeof(p), path, key);
		return fail(L, p, "\"%s\" is not \"%s\" or \"%s\"", v, w1, w0);
	}
	*out = !strcmp(v, w1);
	return 0;
}

/* "carrier" ("auto", "raw" or its older name "ethernet", "udp") and
 * "ip" (a dotted IPv4 host address). */
static int get_carrier(struct loader *L, json_t *obj, const char *path, struct ivt_policy_host *h)
{
	char v[16] = "auto", p[256];
	int rc = get_string(L, obj, path, "carrier", 0, v, sizeof(v));
	if (rc && rc != -ENOENT)
		return rc;
	if (!strcmp(v, "auto"))
		h->carrier = IVT_CARRIER_AUTO;
	else if (!strcmp(v, "raw") || !strcmp(v, "ethernet"))
		h->carrier = IVT_CARRIER_RAW;
	else if (!strcmp(v, "udp"))
		h->carrier = IVT_CARRIER_UDP;
	else {
		join(p, sizeof(p), path, "carrier");
		return fail(L, p, "\"%s\" is not \"auto\", \"raw\" or \"udp\"", v);
	}
	char ip[32];
	rc = get_string(L, obj, path, "ip", 0, ip, sizeof(ip));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	struct in_addr a;
	uint32_t hl;
	if (inet_pton(AF_INET, ip, &a) != 1 || !(hl = ntohl(a.s_addr)) || hl == 0xffffffffu ||
	    (hl >> 28) == 14 || (hl >> 24) == 127) {
		join(p, sizeof(p), path, "ip");
		return fail(L, p, "\"%s\" is not a unicast IPv4 address like \"10.0.0.2\"", ip);
	}
	h->ip = a.s_addr;
	h->has_ip = 1;
	return 0;
}

static int parse_host(struct loader *L, json_t *obj, const char *path, struct ivt_policy_host *h)
{
	static const char *const keys[] = {"name", "ifname", "mac", "ivtd", "key_file", "encrypt",
					   "rdma", "carrier", "ip", NULL};
	int rc;
	char p[256], mac[32];
	if (!json_is_object(obj))
		return fail(L, path, "must be an object");
	if ((rc = check_keys(L, obj, path, keys)))
		return rc;
	h->line = json_lines_find(L->lines, path);
	if ((rc = get_string(L, obj, path, "name", 1, h->name, sizeof(h->name))))
		return rc;
	if (!ivt_name_valid(h->name)) {
		join(p, sizeof(p), path, "name");
		return fail(L, p, "\"%s\" is not a valid host name (A-Z a-z 0-9 . _ -)", h->name);
	}
	if ((rc = get_string(L, obj, path, "ifname", 1, h->ifname, sizeof(h->ifname))))
		return rc;
	if (!h->ifname[0] || strpbrk(h->ifname, "/ \t\n:") || !strcmp(h->ifname, ".") ||
	    !strcmp(h->ifname, "..")) {
		join(p, sizeof(p), path, "ifname");
		return fail(L, p, "\"%s\" is not a network interface name", h->ifname);
	}
	if ((rc = get_string(L, obj, path, "mac", 1, mac, sizeof(mac))))
		return rc;
	if (parse_mac(mac, h->mac) != 0 || (h->mac[0] & 1) ||
	    !(h->mac[0] | h->mac[1] | h->mac[2] | h->mac[3] | h->mac[4] | h->mac[5])) {
		join(p, sizeof(p), path, "mac");
		return fail(L, p, "\"%s\" is not a unicast MAC address like \"02:00:00:00:00:01\"",
			    mac);
	}
	rc = get_string(L, obj, path, "ivtd", 0, h->ivtd, sizeof(h->ivtd));
	if (rc && rc != -ENOENT)
		return rc;
	if ((rc = get_choice(L, obj, path, "rdma", "off", "auto", &h->rdma)) ||
	    (rc = get_carrier(L, obj, path, h)))
		return rc;
	json_t *enc = json_object_get(obj, "encrypt");
	if (enc && !json_is_boolean(enc)) {
		join(p, sizeof(p), path, "encrypt");
		return fail(L, p, "must be true or false");
	}
	h->encrypt = enc && json_is_true(enc);
	rc = get_string(L, obj, path, "key_file", 0, h->key_file, sizeof(h->key_file));
	if (rc == -ENOENT && h->encrypt) {
		join(p, sizeof(p), path, "encrypt");
		return fail(L, p, "needs a \"key_file\" (the encryption key derives from it)");
	}
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	char why[400];
	if (ivt_policy_read_key(h->key_file, h->key, why, sizeof(why))) {
		join(p, sizeof(p), path, "key_file");
		return fail(L, p, "%s", why);
	}
	h->has_key = 1;
	return 0;
}

static int parse_defaults(struct loader *L, struct ivt_policy *pol, json_t *root)
{
	static const char *const keys[] = {"backend", "prefer", "ring_size", "max_ring_size", NULL};
	json_t *d;
	char p[64];
	int rc = member(L, root, "", "defaults", 0, &d, p, sizeof(p));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!json_is_object(d))
		return fail(L, "defaults", "must be an object");
	if ((rc = check_keys(L, d, "defaults", keys)) ||
	    (rc = get_backend(L, d, "defaults", pol->default_backend,
			      sizeof(pol->default_backend))) ||
	    (rc = get_prefer(L, d, pol)) ||
	    (rc = get_ring(L, d, "defaults", "ring_size", &pol->default_ring_size)) ||
	    (rc = get_ring(L, d, "defaults", "max_ring_size", &pol->default_max_ring_size)))
		return rc;
	L->default_ring_given = json_object_get(d, "ring_size") != NULL;
	L->default_max_given = json_object_get(d, "max_ring_size") != NULL;
	if (pol->default_ring_size > pol->default_max_ring_size)
		return ring_over_max(L, "defaults", pol->default_ring_size,
				     L->default_ring_given ? NULL : "the built-in default",
				     pol->default_max_ring_size,
				     L->default_max_given ? NULL : "the built-in default");
	return 0;
}

/* "utmem": {"capacity_bytes": N, "max_value_bytes": N, "lower_tier": HOST}
 * (docs/utmem.md). */
static int parse_utmem(struct loader *L, struct ivt_policy *pol, json_t *root)
{
	static const char *const keys[] = {"capacity_bytes", "max_value_bytes", "lower_tier",
					   NULL};
	json_t *u;
	char p[64];
	int rc = member(L, root, "", "utmem", 0, &u, p, sizeof(p));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!json_is_object(u))
		return fail(L, "utmem", "must be an object {\"capacity_bytes\": N, "
					"\"max_value_bytes\": N}");
	if ((rc = check_keys(L, u, "utmem", keys)))
		return rc;
	rc = get_uint(L, u, "utmem", "capacity_bytes", 0, &pol->utmem_capacity_bytes);
	if (rc && rc != -ENOENT)
		return rc;
	rc = get_uint(L, u, "utmem", "max_value_bytes", 0, &pol->utmem_max_value_bytes);
	if (rc && rc != -ENOENT)
		return rc;
	uint64_t mv = pol->utmem_max_value_bytes;
	if (mv == 0 || mv > IVT_POLICY_UTMEM_MAX_VALUE_LIMIT)
		return fail(L, "utmem.max_value_bytes", "must be 1..%llu",
			    (unsigned long long)IVT_POLICY_UTMEM_MAX_VALUE_LIMIT);
	/* "lower_tier": another host's ivtd store; "hosts" is parsed first. */
	rc = get_string(L, u, "utmem", "lower_tier", 0, pol->utmem_lower_tier,
			sizeof(pol->utmem_lower_tier));
	if (rc && rc != -ENOENT)
		return rc;
	if (rc == 0 && !ivt_policy_find_host(pol, pol->utmem_lower_tier))
		return fail(L, "utmem.lower_tier", "host \"%s\" is not in \"hosts\"",
			    pol->utmem_lower_tier);
	if (rc == 0 && strlen(pol->utmem_lower_tier) > IVT_REMOTE_HOST_NAME_MAX)
		return fail(L, "utmem.lower_tier", "host name longer than %d characters cannot "
			    "carry remote identities", IVT_REMOTE_HOST_NAME_MAX);
	return 0;
}

/* "limits": {"connections": N, "channels": N, "bytes_in_flight": N,
 * "root_reserve": N, "detach_above": N}, per identity but the last two
 * (conf/README.md). After "utmem". */
static int parse_limits(struct loader *L, struct ivt_policy *pol, json_t *root)
{
	static const char *const keys[] = {"connections", "channels", "bytes_in_flight",
					   "root_reserve", "detach_above", NULL};
	struct ivt_policy_limits *l = &pol->limits;
	l->connections = IVT_POLICY_LIMIT_CONNECTIONS_DEFAULT;
	l->channels = IVT_POLICY_LIMIT_CHANNELS_DEFAULT;
	l->root_reserve = IVT_POLICY_LIMIT_ROOT_RESERVE_DEFAULT;
	l->detach_above = IVT_POLICY_LIMIT_DETACH_HALF;
	l->bytes_in_flight = IVT_POLICY_LIMIT_IN_FLIGHT_VALUES * pol->utmem_max_value_bytes;
	json_t *o;
	char p[64];
	int rc = member(L, root, "", "limits", 0, &o, p, sizeof(p));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!json_is_object(o))
		return fail(L, "limits", "must be an object {\"connections\": N, \"channels\": N, "
					 "\"bytes_in_flight\": N, \"root_reserve\": N, \"detach_above\": N}");
	if ((rc = check_keys(L, o, "limits", keys)))
		return rc;
	uint64_t *const dst[] = {&l->connections, &l->channels, &l->bytes_in_flight,
				 &l->root_reserve, &l->detach_above};
	for (int i = 0; i < 5; i++) {
		rc = get_uint(L, o, "limits", keys[i], 0, dst[i]);
		if (rc && rc != -ENOENT)
			return rc;
		char path[64];
		join(path, sizeof(path), "limits", keys[i]);
		if (rc == 0 && *dst[i] == 0 && dst[i] != &l->root_reserve &&
		    dst[i] != &l->detach_above)
			return fail(L, path, "must be at least 1 (0 would refuse everyone)");
	}
	if (json_object_get(o, "root_reserve")) /* cut to half the table: said at use */
		pol->root_reserve_line = json_lines_find(L->lines, "limits.root_reserve");
	if (l->bytes_in_flight < pol->utmem_max_value_bytes)
		return fail(L, "limits.bytes_in_flight",
			    "must be at least utmem.max_value_bytes (%llu), or no value fits",
			    (unsigned long long)pol->utmem_max_value_bytes);
	return 0;
}

static int parse_channels(struct loader *L, struct ivt_policy *pol, json_t *root)
{
	json_t *arr;
	char p[64];
	int rc = member(L, root, "", "channels", 0, &arr, p, sizeof(p));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!json_is_array(arr))
		return fail(L, "channels", "must be an array");
	size_t n = json_array_size(arr);
	pol->channels = calloc(n ? n : 1, sizeof(*pol->channels));
	if (!pol->channels)
		return fail(L, "channels", "out of memory");
	for (size_t i = 0; i < n; i++) {
		char path[64];
		join_index(path, sizeof(path), "channels", i);
		struct ivt_policy_channel *c = &pol->channels[i];
		c->index = (int)i;
		pol->n_channels = i + 1; /* so free() sees partially built entries */
		if ((rc = parse_channel(L, pol, json_array_get(arr, i), path, c)))
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(pol->channels[j].pattern, c->pattern)) {
				char pn[80];
				join(pn, sizeof(pn), path, "name");
				return fail(L, pn, "\"%s\" already has a rule at channels[%zu]",
					    c->pattern, j);
			}
	}
	return 0;
}

static int parse_hosts(struct loader *L, struct ivt_policy *pol, json_t *root)
{
	json_t *arr;
	char p[64];
	int rc = member(L, root, "", "hosts", 0, &arr, p, sizeof(p));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!json_is_array(arr))
		return fail(L, "hosts", "must be an array");
	size_t n = json_array_size(arr);
	pol->hosts = calloc(n ? n : 1, sizeof(*pol->hosts));
	if (!pol->hosts)
		return fail(L, "hosts", "out of memory");
	pol->n_hosts = n;
	for (size_t i = 0; i < n; i++) {
		char path[64];
		join_index(path, sizeof(path), "hosts", i);
		if ((rc = parse_host(L, json_array_get(arr, i), path, &pol->hosts[i])))
			return rc;
		for (size_t j = 0; j < i; j++) {
			/* Authentication is per interface (one engine): all or none. */
			if (!strcmp(pol->hosts[j].ifname, pol->hosts[i].ifname) &&
			    pol->hosts[j].has_key != pol->hosts[i].has_key)
				return fail(L, path, "hosts on %s must all have a \"key_file\" or "
						     "none (hosts[%zu] %s)",
					    pol->hosts[i].ifname, j,
					    pol->hosts[j].has_key ? "has one" : "has none");
			if (pol->hosts[i].has_ip && pol->hosts[j].has_ip &&
			    pol->hosts[i].ip == pol->hosts[j].ip &&
			    !strcmp(pol->hosts[j].ifname, pol->hosts[i].ifname)) {
				char pn[80];
				join(pn, sizeof(pn), path, "ip");
				return fail(L, pn, "hosts[%zu] has the same address on %s", j,
					    pol->hosts[i].ifname);
			}
			if (!strcmp(pol->hosts[j].name, pol->hosts[i].name)) {
				char pn[80];
				join(pn, sizeof(pn), path, "name");
				return fail(L, pn, "host \"%s\" is already defined at hosts[%zu]",
					    pol->hosts[i].name, j);
			}
		}
	}
	return 0;
}

static int parse_root(struct loader *L, struct ivt_policy *pol, json_t *root)
{
	static const char *const keys[] = {"version", "defaults", "channels", "hosts", "utmem",
					   "limits", NULL};
	int rc;
	if (!json_is_object(root))
		return fail(L, "", "the policy must be a JSON object");
	if ((rc = check_keys(L, root, "", keys)))
		return rc;
	uint64_t version;
	if ((rc = get_uint(L, root, "", "version", 1, &version)))
		return rc;
	if (version != 1)
		return fail(L, "version", "unsupported policy version %llu (this ivtd reads 1)",
			    (unsigned long long)version);
	if ((rc = parse_defaults(L, pol, root)) || (rc = parse_channels(L, pol, root)) ||
	    (rc = parse_hosts(L, pol, root)) || (rc = parse_utmem(L, pol, root)) ||
	    (rc = parse_limits(L, pol, root)))
		return rc;
	return 0;
}

/* jansson refused the text. Where a value is at fault in well-formed JSON
 * (a number beyond 64 bits, a duplicate key, a NUL escape), the error
 * names its path as every other policy error does. */
static void refused_value(const char *text, size_t len, const char *source,
			  const json_error_t *je, char *err, size_t err_len)
{
	enum json_error_code code = json_error_code(je);
	const char *why = je->text;
	char num[160];
	if (code == json_error_null_character || code == json_error_null_byte_in_key) {
		/* jansson names its own flag; say it plainly */
		why = "\\u0000 (a NUL character) is not allowed in a policy";
	} else if (code == json_error_numeric_overflow) {
		size_t end = je->position > 0 && (size_t)je->position <= len ? (size_t)je->position
									     : 0;
		size_t at = end;
		while (at > 0 && strchr("0123456789+-.eE", text[at - 1]))
			at--;
		bprintf(num, sizeof(num), "%.*s%s is out of range (a policy's numbers lie between "
			"-9223372036854775808 and 9223372036854775807)",
			(int)(end - at < 40 ? end - at : 40), text + at, end - at > 40 ? "..." : "");
		why = num;
	} else if (code != json_error_duplicate_key && code != json_error_invalid_utf8) {
		bprintf(err, err_len, "%s:%d: %s", source, je->line, why); /* a syntax error */
		return;
	}
	struct json_lines *jl = json_lines_scan(text, len);
	const char *path = je->position > 0 ? json_lines_path_at(jl, (size_t)je->position) : NULL;
	if (path && *path)
		bprintf(err, err_len, "%s:%d: %s: %s", source, je->line, path, why);
	else
		bprintf(err, err_len, "%s:%d: %s", source, je->line, why);
	json_lines_free(jl);
}

struct ivt_policy *ivt_policy_load_string(const char *text, const char *source, char *err,
					  size_t err_len)
{
	char dummy[8];
	if (!err || !err_len) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	err[0] = '\0';
	if (!source)
		source = "(policy)";
	json_error_t je;
	size_t len = strlen(text);
	/* Duplicate keys are rejected: with "last one wins" a second
	 * "listeners" could silently override the first. */
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		refused_value(text, len, source, &je, err, err_len);
		return NULL;
	}
	struct ivt_policy *pol = calloc(1, sizeof(*pol));
	struct loader L = {.source = source, .lines = json_lines_scan(text, len), .err = err,
			   .err_len = err_len};
	if (!pol || !L.lines) {
		bprintf(err, err_len, "%s: out of memory", source);
		goto fail;
	}
	bprintf(pol->source, sizeof(pol->source), "%s", source);
	bprintf(pol->default_backend, sizeof(pol->default_backend), "auto");
	pol->default_ring_size = DEFAULT_RING_SIZE;
	pol->default_max_ring_size = DEFAULT_MAX_RING_SIZE;
	pol->utmem_max_value_bytes = IVT_POLICY_UTMEM_MAX_VALUE_DEFAULT;
	if (parse_root(&L, pol, root) != 0)
		goto fail;
	json_lines_free(L.lines);
	json_decref(root);
	return pol;
fail:
	json_lines_free(L.lines);
	json_decref(root);
	ivt_policy_free(pol);
	return NULL;
}

struct ivt_policy *ivt_policy_load_file(const char *path, char *err, size_t err_len)
{
	char dummy[8];
	if (!err || !err_len) {
		err = dummy;
		err_len = sizeof(dummy);
	}
	FILE *f = fopen(path, "re");
	if (!f) {
		bprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	char *text = malloc(POLICY_FILE_MAX + 1);
	if (!text) {
		fclose(f);
		bprintf(err, err_len, "%s: out of memory", path);
		return NULL;
	}
	size_t n = fread(text, 1, POLICY_FILE_MAX + 1, f);
	int read_err = ferror(f) ? errno : 0;
	struct stat st;
	long long size = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size
									  : -1;
	fclose(f);
	struct ivt_policy *pol = NULL;
	if (read_err)
		bprintf(err, err_len, "%s: cannot read: %s", path, strerror(read_err));
	else if (n > POLICY_FILE_MAX && size > POLICY_FILE_MAX)
		bprintf(err, err_len, "%s: %lld bytes; a policy file may have at most %u bytes (1 MiB)",
			path, size, POLICY_FILE_MAX);
	else if (n > POLICY_FILE_MAX)
		bprintf(err, err_len, "%s: more than %u bytes; a policy file may have at most %u "
			"bytes (1 MiB)", path, POLICY_FILE_MAX, POLICY_FILE_MAX);
	else if (memchr(text, '\0', n))
		bprintf(err, err_len, "%s: contains a NUL byte; not a JSON text file", path);
	else {
		text[n] = '\0';
		pol = ivt_policy_load_string(text, path, err, err_len);
	}
	free(text);
	return pol;
}

void ivt_policy_free(struct ivt_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_channels; i++) {
		free(p->channels[i].listeners);
		free(p->channels[i].connectors);
		free(p->channels[i].peers_denied);
	}
	free(p->channels);
	if (p->hosts)
		explicit_bzero(p->hosts, p->n_hosts * sizeof(*p->hosts)); /* keys */
	free(p->hosts);
	free(p);
}

int ivt_policy_reload(struct ivt_policy **cur, const char *path, char *err, size_t err_len)
{
	struct ivt_policy *fresh = ivt_policy_load_file(path, err, err_len);
	if (!fresh)
		return -EINVAL;
	ivt_policy_free(*cur);
	*cur = fresh;
	return 0;
}
