/* SPDX-License-Identifier: MIT */
/* Parsing ivtd's status text into JSON. The text's lines are produced by
 * src/ivtd/core/main.c (daemon line) and ivt_broker_status (policy, backends,
 * counters, channel table); test_status_json ties the two together. */
#include "status_json.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int daemon_line(json_t *o, const char *l)
{
	char ver[64], regs[200];
	long pid, up;
	if (sscanf(l, "ivtd %63[^,], pid %ld, up %lds, registries: %199[^\n]", ver, &pid, &up,
		   regs) != 4)
		return 0;
	json_object_set_new(o, "daemon", json_pack("{s:s,s:I,s:I,s:s}", "version", ver, "pid",
						    (json_int_t)pid, "uptime_s", (json_int_t)up,
						    "registries", regs));
	return 1;
}

static int policy_line(json_t *o, const char *l)
{
	char src[300];
	unsigned long n;
	if (strncmp(l, "policy: ", 8) != 0)
		return 0;
	const char *open = strrchr(l, '(');
	if (!open || open - (l + 8) < 1 || (size_t)(open - (l + 8)) >= sizeof(src) ||
	    sscanf(open, "(%lu rules)", &n) != 1)
		return 0;
	memcpy(src, l + 8, (size_t)(open - (l + 8)) - 1);
	src[open - (l + 8) - 1] = '\0';
	json_object_set_new(o, "policy", json_pack("{s:s,s:I}", "source", src, "rules",
						    (json_int_t)n));
	return 1;
}

static int backends_line(json_t *o, const char *l)
{
	if (strncmp(l, "backends:", 9) != 0)
		return 0;
	json_t *b = json_object();
	char name[64], yes[8];
	int used = 0;
	for (const char *p = l + 9; sscanf(p, " %63[^=]=%7s%n", name, yes, &used) == 2; p += used)
		json_object_set_new(b, name, json_boolean(!strcmp(yes, "yes")));
	json_object_set_new(o, "backends", b);
	return 1;
}

static int counters_line(json_t *o, const char *l)
{
	uint64_t v[5];
	if (sscanf(l, "requests %" SCNu64 ", granted %" SCNu64 ", refused %" SCNu64
		      ", setups relayed %" SCNu64 ", ends died %" SCNu64,
		   &v[0], &v[1], &v[2], &v[3], &v[4]) != 5)
		return 0;
	json_t *c = json_pack("{s:I,s:I,s:I,s:I,s:I}", "requests", (json_int_t)v[0], "granted",
			      (json_int_t)v[1], "refused", (json_int_t)v[2], "setups_relayed",
			      (json_int_t)v[3], "ends_died", (json_int_t)v[4]);
	/* appended later: an older ivtd's line has no retries */
	const char *r = strstr(l, ", retries ");
	uint64_t retries;
	if (c && r && sscanf(r, ", retries %" SCNu64, &retries) == 1)
		json_object_set_new(c, "retries", json_integer((json_int_t)retries));
	json_object_set_new(o, "counters", c);
	return 1;
}

/* A row under the "CHANNEL BACKEND RING ..." header; an indented one is a
 * connection queued or accepted on the listener listed last, which it
 * names as accepted_on. */
static int channel_row(json_t *chans, const char *l)
{
	char name[128], be[32], lis[64], cli[64], state[32];
	unsigned long long ring;
	long age;
	if (sscanf(l, "%127s %31s %llu %63s %63s %31s %lds", name, be, &ring, lis, cli, state,
		   &age) != 7)
		return 0;
	json_t *c = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:I}", "name", name, "backend", be,
			      "ring", (json_int_t)ring, "listener", lis, "client",
			      strcmp(cli, "-") ? cli : "", "state", state, "age_s", (json_int_t)age);
	if (!c)
		return 0;
	for (size_t i = json_array_size(chans); l[0] == ' ' && i-- > 0;) {
		json_t *up = json_array_get(chans, i);
		if (!json_object_get(up, "accepted_on")) {
			json_object_set(c, "accepted_on", json_object_get(up, "name"));
			break;
		}
	}
	json_array_append_new(chans, c);
	return 1;
}

/* Under a listener's row: its counts, then (when connectors wait to be
 * accepted) each identity's share of its backlog; added to that row. */
static int listener_lines(json_t *chans, const char *l)
{
	json_t *lis = json_array_get(chans, json_array_size(chans) - 1);
	unsigned v[4], share;
	int used = 0;
	if (!lis)
		return 0;
	if (sscanf(l, " %u connected (max %u), %u queued (backlog %u)", &v[0], &v[1], &v[2],
		   &v[3]) == 4) {
		json_object_set_new(lis, "connected", json_integer(v[0]));
		json_object_set_new(lis, "max_connections", json_integer(v[1]));
		json_object_set_new(lis, "queued", json_integer(v[2]));
		json_object_set_new(lis, "backlog", json_integer(v[3]));
		return 1;
	}
	unsigned long long g, a, h = 0, d;
	/* an ivtd before "held" said "... over them and R offers dropped" */
	if (sscanf(l, " lines: %llu granted, %llu connections accepted over them (%llu held) "
		      "and %llu offers dropped", &g, &a, &h, &d) == 4 ||
	    sscanf(l, " lines: %llu granted, %llu connections accepted over them and %llu "
		      "offers dropped", &g, &a, &d) == 3) {
		/* direct lines (docs/conn-setup.md): ivtd's count, the listener's word */
		json_object_set_new(lis, "lines_granted", json_integer((json_int_t)g));
		json_object_set_new(lis, "line_accepts", json_integer((json_int_t)a));
		json_object_set_new(lis, "line_held", json_integer((json_int_t)h));
		json_object_set_new(lis, "line_offers_dropped", json_integer((json_int_t)d));
		return 1;
	}
	if (sscanf(l, " per identity (share %u):%n", &share, &used) != 1 || !used)
		return 0;
	json_t *ids = json_array();
	char who[80];
	unsigned q, w;
	int n = 0;
	for (const char *p = l + used;
	     sscanf(p, " %79[^ ,] %u queued %u waiting%n", who, &q, &w, &n) == 3; p += n) {
		json_array_append_new(ids, json_pack("{s:s,s:I,s:I}", "identity", who, "queued",
						     (json_int_t)q, "waiting", (json_int_t)w));
		if (p[n] == ',')
			n++;
	}
	json_object_set_new(lis, "share_per_identity", json_integer(share));
	json_object_set_new(lis, "per_identity", ids);
	return 1;
}

char *ivt_status_to_json(const char *text)
{
	json_t *o = json_object(), *chans = json_array(), *more = json_array();
	char *copy = strdup(text ? text : "");
	if (!o || !chans || !more || !copy)
		goto out;
	int in_table = 0;
	unsigned long hidden;
	for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "CHANNEL ", 8)) {
			in_table = 1;
			continue;
		}
		if (sscanf(l, "... and %lu more channels", &hidden) == 1) {
			json_object_set_new(o, "channels_not_shown", json_integer((json_int_t)hidden));
			continue;
		}
		if (in_table && (listener_lines(chans, l) || channel_row(chans, l)))
			continue;
		in_table = 0;
		if (!daemon_line(o, l) && !policy_line(o, l) && !backends_line(o, l) &&
		    !counters_line(o, l))
			json_array_append_new(more, json_string(l));
	}
	json_object_set(o, "channels", chans);
	json_object_set(o, "more", more);
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *res = s ? malloc(strlen(s) + 2) : NULL;
	if (res)
		sprintf(res, "%s\n", s);
	free(s);
	json_decref(chans);
	json_decref(more);
	json_decref(o);
	free(copy);
	return res;
out:
	json_decref(chans);
	json_decref(more);
	json_decref(o);
	free(copy);
	return NULL;
}
