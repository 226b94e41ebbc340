/* SPDX-License-Identifier: MIT */
/* Policy files: loading, error messages that point at the mistake, and
 * the decisions made from a loaded policy. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ivtd/policy/policy.h"

#include "policy/all_backends.h"
#include "testsupport/id_text.h"

static char err[IVT_POLICY_ERR_MAX];

static struct ivt_policy *load(const char *text)
{
	err[0] = '\0';
	return ivt_policy_load_string(text, "t.json", err, sizeof(err));
}

/* Expect a load failure whose message contains every given fragment. */
static void expect_error(const char *text, const char *frag1, const char *frag2)
{
	struct ivt_policy *p = load(text);
	if (p) {
		ivt_policy_free(p);
		fail_msg("policy loaded but should fail:\n%s", text);
	}
	if (!strstr(err, frag1) || (frag2 && !strstr(err, frag2)))
		fail_msg("error \"%s\" lacks \"%s\"/\"%s\"", err, frag1, frag2 ? frag2 : "");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_shipped_policies_load(void **state)
{
	(void)state;
	const char *src = getenv("IVT_SOURCE_DIR");
	if (!src)
		skip();
	const char *files[] = {"conf/policy.json", "conf/policy-remote.json"};
	for (size_t i = 0; i < 2; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", src, files[i]);
		struct ivt_policy *p = ivt_policy_load_file(path, err, sizeof(err));
		if (!p)
			fail_msg("%s", err);
		ivt_policy_free(p);
	}
}

static void test_valid_policy(void **state)
{
	(void)state;
	struct ivt_policy *p = load("{\"version\":1,\n"
				    " \"defaults\":{\"backend\":\"auto\",\"ring_size\":8192,"
				    "\"max_ring_size\":65536},\n"
				    " \"channels\":[\n"
				    "  {\"name\":\"demo\",\"listeners\":[\"*\"],\"connectors\":[\"*\"]},\n"
				    "  {\"name\":\"s*\",\"listeners\":[\"uid:1000\"],"
				    "\"connectors\":[\"dom:*\"],\"backend\":\"shm\",\"ring_size\":4096,"
				    "\"quota_bytes\":100,\"spill\":{\"to\":\"utmem\",\"above_bytes\":50},"
				    "\"peers_denied\":[[\"*\",\"dom:9\"]]}],\n"
				    " \"hosts\":[{\"name\":\"hostB\",\"ifname\":\"veth0\","
				    "\"mac\":\"02:00:00:00:00:0b\"}]}\n");
	if (!p)
		fail_msg("%s", err);
	assert_int_equal(p->n_channels, 2);
	assert_int_equal(p->channels[0].ring_size, 8192);
	assert_int_equal(p->channels[0].max_ring_size, 65536);
	assert_int_equal(p->channels[0].line, 4);
	assert_string_equal(p->channels[1].backend, "shm");
	assert_int_equal(p->channels[1].quota_bytes, 100);
	assert_true(p->channels[1].has_spill);
	assert_int_equal(p->channels[1].spill_above_bytes, 50);
	assert_int_equal(p->channels[1].n_peers_denied, 1);
	const struct ivt_policy_host *h = ivt_policy_find_host(p, "hostB");
	assert_non_null(h);
	assert_int_equal(h->mac[5], 0x0b);
	assert_string_equal(h->ifname, "veth0");
	assert_null(ivt_policy_find_host(p, "hostC"));
	ivt_policy_free(p);
}

static void test_syntax_error_has_line(void **state)
{
	(void)state;
	expect_error("{\"version\":1,\n\"channels\":[\n{\"name\":\"demo\",,}\n]}", "t.json:3:", NULL);
	expect_error("", "t.json:", NULL);
	/* duplicate keys could silently override a restriction */
	expect_error("{\"version\":1,\n\"version\":1}", "t.json:2:", "duplicate");
	/* a NUL escape: said plainly, not by the JSON library's flag name */
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\\u0000b\"}]}", "t.json:1:",
		     "NUL character");
}

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_error("{\"version\":1,\"chanels\":[]}", "chanels: unknown key", NULL);
	expect_error("{\"version\":1,\n\"channels\":[{\"name\":\"a\",\"listeners\":[],"
		     "\"connectors\":[],\n\"listener\":[\"*\"]}]}",
		     "t.json:3: channels[0].listener: unknown key", NULL);
	expect_error("{\"version\":1,\"defaults\":{\"ring\":4096}}", "defaults.ring: unknown key",
		     NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[],"
		     "\"connectors\":[],\"spill\":{\"to\":\"utmem\",\"above_bytes\":1,\"x\":1}}]}",
		     "channels[0].spill.x: unknown key", NULL);
	expect_error("{\"version\":1,\"hosts\":[{\"name\":\"h\",\"ifname\":\"e\","
		     "\"mac\":\"02:00:00:00:00:01\",\"port\":1}]}",
		     "hosts[0].port: unknown key", NULL);
}

static void test_bad_ring_sizes(void **state)
{
	(void)state;
	const char *pre = "{\"version\":1,\n\"channels\":[\n"
			  "{\"name\":\"a\",\"listeners\":[],\"connectors\":[]},\n"
			  "{\"name\":\"b\",\"listeners\":[],\"connectors\":[],\n\"ring_size\":";
	const char *bad[] = {"12345", "2048", "2147483648", "0", "-4096", "65536.0", "\"65536\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "%s%s}]}", pre, bad[i]);
		expect_error(text, "t.json:5: channels[1].ring_size:", NULL);
	}
	char text[512];
	snprintf(text, sizeof(text), "%s%s}]}", pre, "12345");
	expect_error(text, "must be a power of two between 4096 and 1073741824", NULL);
	/* ring_size above the rule's max */
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[],"
		     "\"connectors\":[],\"ring_size\":65536,\"max_ring_size\":8192}]}",
		     "channels[0].ring_size: 65536 is larger than max_ring_size 8192", NULL);
	expect_error("{\"version\":1,\"defaults\":{\"max_ring_size\":3}}",
		     "defaults.max_ring_size", "power of two");
}

/* A rule's ring_size it inherits is above its own max_ring_size: the
 * error points at the value the file has and says where the other came
 * from (the inherited one has no line). */
static void test_inherited_ring_size(void **state)
{
	(void)state;
	const char *rule = "{\"name\":\"a\",\"listeners\":[],\"connectors\":[]";
	char text[512];
	snprintf(text, sizeof(text), "{\"version\":1,\n\"channels\":[\n%s,\n\"max_ring_size\":8192}]}",
		 rule);
	expect_error(text, "t.json:4: channels[0].max_ring_size: 8192 is smaller than ring_size "
			   "65536 (the built-in default)", NULL);
	snprintf(text, sizeof(text), "{\"version\":1,\"defaults\":{\"ring_size\":16384},\n"
		 "\"channels\":[%s,\n\"max_ring_size\":8192}]}", rule);
	expect_error(text, "t.json:3: channels[0].max_ring_size: 8192 is smaller than ring_size "
			   "16384 (from defaults.ring_size)", NULL);
	snprintf(text, sizeof(text), "{\"version\":1,\"defaults\":{\"max_ring_size\":131072},\n"
		 "\"channels\":[%s,\n\"ring_size\":262144}]}", rule);
	expect_error(text, "t.json:3: channels[0].ring_size: 262144 is larger than max_ring_size "
			   "131072 (from defaults.max_ring_size)", NULL);
	expect_error("{\"version\":1,\n\"defaults\":{\n\"max_ring_size\":8192}}",
		     "t.json:3: defaults.max_ring_size: 8192 is smaller than ring_size 65536 (the "
		     "built-in default)", NULL);
	expect_error("{\"version\":1,\n\"defaults\":{\n\"ring_size\":8388608}}",
		     "t.json:3: defaults.ring_size: 8388608 is larger than max_ring_size 4194304 "
		     "(the built-in default)", NULL);
}

/* Numbers jansson cannot hold, and other values it refuses in
 * well-formed text, are named by their path like every other error. */
static void test_refused_values_have_paths(void **state)
{
	(void)state;
	const char *pre = "{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[],"
			  "\"connectors\":[],\n";
	const struct {
		const char *member, *frag;
	} cases[] = {
		{"\"ring_size\":99999999999999999999",
		 "t.json:2: channels[0].ring_size: 99999999999999999999 is out of range"},
		{"\"quota_bytes\": -99999999999999999999",
		 "t.json:2: channels[0].quota_bytes: -99999999999999999999 is out of range"},
		{"\"backlog\":1e999", "t.json:2: channels[0].backlog: 1e999 is out of range"},
		{"\"backlog\":4294967297", "t.json:2: channels[0].backlog: must be between 1 and"},
		{"\"peers_denied\":[[\"*\", 99999999999999999999]]",
		 "t.json:2: channels[0].peers_denied[0][1]: 99999999999999999999 is out of range"},
		{"\"ring_size\":4096,\"ring_size\":8192",
		 "t.json:2: channels[0].ring_size: duplicate object key"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "%s%s}]}", pre, cases[i].member);
		expect_error(text, cases[i].frag, NULL);
	}
	expect_error("{\"version\":99999999999999999999}", "t.json:1: version: ", "out of range");
	expect_error("{\"version\":1,\"limits\":{\"root_reserve\":18446744073709551616}}",
		     "t.json:1: limits.root_reserve: 18446744073709551616 is out of range", NULL);
}

/* The 1 MiB limit on a policy file: the error says the limit and the size. */
static void test_file_too_large(void **state)
{
	(void)state;
	char path[] = "/tmp/ivt-policy-big-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("{\"version\":1}", f);
	for (int i = 0; i < (1 << 20); i++)
		fputc(' ', f);
	fclose(f);
	assert_null(ivt_policy_load_file(path, err, sizeof(err)));
	char want[128];
	snprintf(want, sizeof(want), "%s: %d bytes; a policy file may have at most 1048576 bytes "
		 "(1 MiB)", path, (1 << 20) + 13);
	assert_string_equal(err, want);
	unlink(path);
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_error("[]", "must be a JSON object", NULL);
	expect_error("{\"channels\":[]}", "missing required key \"version\"", NULL);
	expect_error("{\"version\":2}", "version: unsupported policy version 2", NULL);
	expect_error("{\"version\":\"1\"}", "version: must be a non-negative integer", NULL);
	expect_error("{\"version\":1,\"channels\":{}}", "channels: must be an array", NULL);
	expect_error("{\"version\":1,\"channels\":[\"demo\"]}", "channels[0]: must be an object",
		     NULL);
	expect_error("{\"version\":1,\"channels\":[{\"listeners\":[],\"connectors\":[]}]}",
		     "channels[0]: missing required key \"name\"", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"connectors\":[]}]}",
		     "missing required key \"listeners\"", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":\"*\","
		     "\"connectors\":[]}]}",
		     "channels[0].listeners: must be an array", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[\"uid:x\"],"
		     "\"connectors\":[]}]}",
		     "channels[0].listeners[0]: \"uid:x\" is not an identity pattern", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[1],"
		     "\"connectors\":[]}]}",
		     "channels[0].listeners[0]: must be a string", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[],"
		     "\"connectors\":[\"uid:99999999999\"]}]}",
		     "channels[0].connectors[0]", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a/b\",\"listeners\":[],"
		     "\"connectors\":[]}]}",
		     "channels[0].name: \"a/b\" is not a channel name", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[],"
		     "\"connectors\":[],\"backend\":\"TCP/IP\"}]}",
		     "channels[0].backend: \"TCP/IP\" is not a backend name", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[],"
		     "\"connectors\":[]},{\"name\":\"a\",\"listeners\":[],\"connectors\":[]}]}",
		     "channels[1].name: \"a\" already has a rule at channels[0]", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[],"
		     "\"connectors\":[],\"spill\":{\"to\":\"disk\",\"above_bytes\":1}}]}",
		     "channels[0].spill.to", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[],"
		     "\"connectors\":[],\"peers_denied\":[[\"*\"]]}]}",
		     "channels[0].peers_denied[0]: must be a pair", NULL);
	expect_error("{\"version\":1,\"hosts\":[{\"name\":\"h\",\"ifname\":\"e\","
		     "\"mac\":\"02:00:00:00:00\"}]}",
		     "hosts[0].mac", NULL);
	expect_error("{\"version\":1,\"hosts\":[{\"name\":\"h\",\"ifname\":\"e\","
		     "\"mac\":\"01:00:00:00:00:01\"}]}",
		     "hosts[0].mac", "unicast");
	expect_error("{\"version\":1,\"hosts\":[{\"name\":\"h\",\"ifname\":\"a/b\","
		     "\"mac\":\"02:00:00:00:00:01\"}]}",
		     "hosts[0].ifname", NULL);
	expect_error("{\"version\":1,\"hosts\":[{\"name\":\"h\",\"ifname\":\"e0\","
		     "\"mac\":\"02:00:00:00:00:01\"},{\"name\":\"h\",\"ifname\":\"e1\","
		     "\"mac\":\"02:00:00:00:00:02\"}]}",
		     "hosts[1].name", "already defined");
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\\u0000b\",\"listeners\":[],"
		     "\"connectors\":[]}]}",
		     "NUL", NULL);
}

static void test_principals(void **state)
{
	(void)state;
	struct ivt_principal pr;
	assert_int_equal(ivt_principal_parse("*", &pr), 0);
	assert_true(ivt_principal_match(&pr, ID("uid:5")));
	assert_int_equal(ivt_principal_parse("dom:*", &pr), 0);
	assert_true(ivt_principal_match(&pr, ID("dom:3")));
	assert_false(ivt_principal_match(&pr, ID("uid:3")));
	assert_false(ivt_principal_match(&pr, ID("dom:*"))); /* identities are never wildcards */
	assert_int_equal(ivt_principal_parse("uid:1000", &pr), 0);
	assert_true(ivt_principal_match(&pr, ID("uid:1000")));
	assert_false(ivt_principal_match(&pr, ID("uid:10000")));
	assert_false(ivt_principal_match(&pr, ID("uid:1000x")));
	assert_false(ivt_principal_match(&pr, ID(NULL)));
	assert_int_equal(ivt_principal_parse("uid:", &pr), -EINVAL);
	assert_int_equal(ivt_principal_parse("uid:-1", &pr), -EINVAL);
	assert_int_equal(ivt_principal_parse("uid:4294967296", &pr), -EINVAL);
	/* One spelling per identity: no leading zeros (but uid 0 is "uid:0"). */
	assert_int_equal(ivt_principal_parse("uid:01000", &pr), -EINVAL);
	assert_int_equal(ivt_principal_parse("dom:00", &pr), -EINVAL);
	assert_int_equal(ivt_principal_parse("uid:1000", &pr), 0);
	assert_false(ivt_principal_match(&pr, ID("uid:01000")));
	assert_int_equal(ivt_principal_parse("uid:0", &pr), 0);
	assert_false(ivt_principal_match(&pr, ID("uid:00")));
	assert_int_equal(ivt_principal_parse("gid:1", &pr), -EINVAL);
	assert_int_equal(ivt_principal_parse("dom:1*", &pr), -EINVAL);
}

/* Ends bridged from other hosts: "host:NAME/<local>" identities. */
static void test_host_principals(void **state)
{
	(void)state;
	struct ivt_principal pr;
	assert_int_equal(ivt_principal_parse("host:*", &pr), 0);
	assert_true(ivt_principal_match(&pr, ID("host:hostB/uid:1000")));
	assert_true(ivt_principal_match(&pr, ID("host:a.b-c_d/dom:3")));
	assert_false(ivt_principal_match(&pr, ID("uid:1000")));
	assert_int_equal(ivt_principal_parse("host:hostB", &pr), 0);
	assert_true(ivt_principal_match(&pr, ID("host:hostB/uid:1")));
	assert_false(ivt_principal_match(&pr, ID("host:hostC/uid:1")));
	assert_false(ivt_principal_match(&pr, ID("host:hostBB/uid:1")));
	assert_int_equal(ivt_principal_parse("host:hostA/uid:*", &pr), 0);
	assert_true(ivt_principal_match(&pr, ID("host:hostA/uid:0")));
	assert_false(ivt_principal_match(&pr, ID("host:hostA/dom:0")));
	assert_false(ivt_principal_match(&pr, ID("host:hostB/uid:0")));
	assert_int_equal(ivt_principal_parse("host:*/uid:1000", &pr), 0);
	assert_true(ivt_principal_match(&pr, ID("host:x/uid:1000")));
	assert_false(ivt_principal_match(&pr, ID("host:x/uid:1001")));
	assert_int_equal(ivt_principal_parse("host:hostA/*", &pr), 0);
	assert_true(ivt_principal_match(&pr, ID("host:hostA/dom:9")));
	/* local patterns never match remote ends, and the other way round */
	assert_int_equal(ivt_principal_parse("uid:*", &pr), 0);
	assert_false(ivt_principal_match(&pr, ID("host:hostA/uid:0")));
	/* identities are concrete: no wildcard in host or local part */
	assert_int_equal(ivt_principal_parse("host:*", &pr), 0);
	assert_false(ivt_principal_match(&pr, ID("host:*/uid:1")));
	assert_false(ivt_principal_match(&pr, ID("host:a/uid:*")));
	assert_false(ivt_principal_match(&pr, ID("host:a/*")));
	assert_false(ivt_principal_match(&pr, ID("host:a")));
	/* malformed */
	const char *bad[] = {"host:", "host:/uid:1", "host:a/", "host:a/uid:", "host:a/gid:1",
			     "host:.a/uid:1", "host:a b/uid:1", "host:a/uid:1/x", "host:a//uid:1",
			     "host:a/host:b/uid:1", "host:a*/uid:1", "HOST:a/uid:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ivt_principal_parse(bad[i], &pr) != -EINVAL)
			fail_msg("\"%s\" parsed", bad[i]);
	assert_true(ivt_identity_is_local(ID("uid:5")));
	assert_true(ivt_identity_is_local(ID("dom:5")));
	assert_false(ivt_identity_is_local(ID("uid:*")));
	assert_false(ivt_identity_is_local(ID("*")));
	assert_false(ivt_identity_is_local(ID("host:a/uid:5")));
	assert_false(ivt_identity_is_local(NULL));
}

/* "host" in a channel rule: where the listener lives. */
static void test_channel_host_key(void **state)
{
	(void)state;
	struct ivt_policy *p = load(
		"{\"version\":1,\"channels\":[{\"name\":\"bulk\",\"host\":\"hostA\","
		"\"listeners\":[\"uid:*\"],\"connectors\":[\"host:hostB/uid:*\"]},"
		"{\"name\":\"x\",\"listeners\":[],\"connectors\":[]}],"
		"\"hosts\":[{\"name\":\"hostB\",\"ifname\":\"eth1\","
		"\"mac\":\"02:00:00:00:00:0b\"}]}");
	assert_non_null(p);
	assert_string_equal(p->channels[0].host, "hostA");
	assert_string_equal(p->channels[1].host, "");
	struct ivt_policy_query q = {.channel = "bulk", .identity = ID("host:hostB/uid:7"),
				     .is_listener = 0, .colocated = 1, ALL_BACKENDS,
				     .granted_backend = "shm", .granted_ring_size = 65536};
	struct ivt_policy_decision d;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	q.identity = ID("host:hostC/uid:7");
	assert_int_equal(ivt_policy_decide(p, &q, &d), -EACCES);
	q.identity = ID("uid:7");
	assert_int_equal(ivt_policy_decide(p, &q, &d), -EACCES);
	ivt_policy_free(p);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"host\":\"bad host\","
		     "\"listeners\":[],\"connectors\":[]}]}",
		     "channels[0].host", "not a host name");
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"host\":\"\","
		     "\"listeners\":[],\"connectors\":[]}]}",
		     "channels[0].host", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\","
		     "\"host\":\"a-host-name-that-is-far-too-long\","
		     "\"listeners\":[],\"connectors\":[]}]}",
		     "channels[0].host", NULL);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"host\":7,"
		     "\"listeners\":[],\"connectors\":[]}]}",
		     "channels[0].host", "string");
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\","
		     "\"listeners\":[\"host:a/gid:1\"],\"connectors\":[]}]}",
		     "channels[0].listeners[0]", "host:");
}

static const char *decide_policy =
	"{\"version\":1,\"defaults\":{\"ring_size\":65536,\"max_ring_size\":1048576},\n"
	"\"channels\":[\n"
	"{\"name\":\"demo\",\"listeners\":[\"*\"],\"connectors\":[\"*\"]},\n"
	"{\"name\":\"sens?r.*\",\"listeners\":[\"uid:0\"],\"connectors\":[\"dom:*\"],"
	"\"peers_denied\":[[\"uid:0\",\"dom:7\"]]},\n"
	"{\"name\":\"pinned\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],\"backend\":\"shm\"},\n"
	"{\"name\":\"*\",\"listeners\":[\"uid:0\"],\"connectors\":[]}\n"
	"]}";

static struct ivt_policy_query query(const char *chan, const char *who, int listener)
{
	return (struct ivt_policy_query){.channel = chan, .identity = ID(who), .is_listener = listener,
					 .colocated = 1, ALL_BACKENDS};
}

static void test_glob_matching(void **state)
{
	(void)state;
	struct ivt_policy *p = load(decide_policy);
	if (!p)
		fail_msg("%s", err);
	assert_string_equal(ivt_policy_find_channel(p, "demo")->pattern, "demo");
	assert_string_equal(ivt_policy_find_channel(p, "sensor.temp")->pattern, "sens?r.*");
	assert_string_equal(ivt_policy_find_channel(p, "sensxr.a")->pattern, "sens?r.*");
	/* first match wins: "demo2" falls through to the catch-all */
	assert_string_equal(ivt_policy_find_channel(p, "demo2")->pattern, "*");
	ivt_policy_free(p);

	p = load("{\"version\":1,\"channels\":[{\"name\":\"x*\",\"listeners\":[],"
		 "\"connectors\":[]}]}");
	assert_non_null(p);
	assert_null(ivt_policy_find_channel(p, "yz"));
	ivt_policy_free(p);
}

/* tcp.<P>.<addr> is port P on one address: a rule for tcp.<P> covers it
 * (before, "tcp.80" for root only did not, and "tcp.*" let anyone claim
 * port 80 on 127.0.0.2); a rule naming the address narrows it. */
static void test_tcp_address_names(void **state)
{
	(void)state;
	struct ivt_policy *p = load(
		"{\"version\":1,\"channels\":["
		"{\"name\":\"tcp.81.127.0.0.2\",\"listeners\":[],\"connectors\":[]},"
		"{\"name\":\"tcp.80\",\"listeners\":[\"uid:0\"],\"connectors\":[\"*\"]},"
		"{\"name\":\"tcp.*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"]}]}");
	if (!p)
		fail_msg("%s", err);
	assert_string_equal(ivt_policy_find_channel(p, "tcp.80.127.0.0.2")->pattern, "tcp.80");
	assert_string_equal(ivt_policy_find_channel(p, "tcp.80.--1")->pattern, "tcp.80");
	assert_string_equal(ivt_policy_find_channel(p, "tcp.80")->pattern, "tcp.80");
	assert_string_equal(ivt_policy_find_channel(p, "tcp.81.127.0.0.2")->pattern,
			    "tcp.81.127.0.0.2");
	assert_string_equal(ivt_policy_find_channel(p, "tcp.81.127.0.0.1")->pattern, "tcp.*");
	/* not an address: only the full name */
	assert_string_equal(ivt_policy_find_channel(p, "tcp.80.dom5")->pattern, "tcp.*");
	assert_string_equal(ivt_policy_find_channel(p, "tcp.800.127.0.0.2")->pattern, "tcp.*");
	ivt_policy_free(p);
}

static void test_decide_allow_deny(void **state)
{
	(void)state;
	struct ivt_policy *p = load(decide_policy);
	assert_non_null(p);
	struct ivt_policy_decision d;
	struct ivt_policy_query q = query("demo", "uid:1000", 1);
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "shm");
	assert_int_equal(d.ring_size, 65536);
	assert_false(d.ring_adjusted);

	/* two guests on one host: vchan */
	q = query("demo", "dom:3", 1);
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "vchan");
	/* a guest and a local process: shm */
	q = query("demo", "uid:0", 1);
	q.peer_identity = ID("dom:3");
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "shm");
	/* remote: slurpoe, never verbs unless asked */
	q = query("demo", "dom:3", 1);
	q.colocated = 0;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "slurpoe");
	q.backend = "verbs";
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "verbs");

	/* listener not allowed */
	q = query("sensor.temp", "uid:1000", 1);
	assert_int_equal(ivt_policy_decide(p, &q, &d), -EACCES);
	assert_non_null(strstr(d.reason, "uid:1000 may not listen on channel 'sensor.temp'"));
	assert_non_null(strstr(d.reason, "channels[1] 'sens?r.*' (t.json:4)"));
	/* connector allowed / denied by kind / denied by pair */
	q = query("sensor.temp", "dom:3", 0);
	q.peer_identity = ID("uid:0");
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	q.identity = ID("uid:0");
	assert_int_equal(ivt_policy_decide(p, &q, &d), -EACCES);
	assert_non_null(strstr(d.reason, "not in connectors"));
	q.identity = ID("dom:7");
	assert_int_equal(ivt_policy_decide(p, &q, &d), -EACCES);
	assert_non_null(strstr(d.reason, "peers_denied[0]"));

	/* empty connectors list: nobody */
	q = query("other", "uid:0", 0);
	assert_int_equal(ivt_policy_decide(p, &q, &d), -EACCES);
	ivt_policy_free(p);

	/* no rule at all */
	p = load("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[\"*\"],"
		 "\"connectors\":[\"*\"]}]}");
	q = query("b", "uid:0", 1);
	assert_int_equal(ivt_policy_decide(p, &q, &d), -ENOENT);
	assert_non_null(strstr(d.reason, "no rule in t.json matches channel 'b'"));
	assert_int_equal(ivt_policy_decide(NULL, &q, &d), -ENOENT);
	ivt_policy_free(p);
}

static void test_decide_backends(void **state)
{
	(void)state;
	struct ivt_policy *p = load(decide_policy);
	assert_non_null(p);
	struct ivt_policy_decision d;
	/* rule pins shm: vchan request refused, auto gets shm even for guests */
	struct ivt_policy_query q = query("pinned", "dom:3", 1);
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "shm");
	q.backend = "vchan";
	assert_int_equal(ivt_policy_decide(p, &q, &d), -EACCES);
	assert_non_null(strstr(d.reason, "allows only backend shm"));
	q.backend = "carrier-pigeon";
	assert_int_equal(ivt_policy_decide(p, &q, &d), -ENOTSUP);
	/* unavailable backend, with the probe's reason */
	struct ivt_backend_info some[2] = {all_backends[0], all_backends[2]};
	some[1].available = 0;
	snprintf(some[1].why, sizeof(some[1].why), "no /dev/xen/gntalloc");
	q = query("demo", "dom:3", 1);
	q.backends = some;
	q.n_backends = 2;
	assert_int_equal(ivt_policy_decide(p, &q, &d), -ENOTSUP);
	assert_string_equal(d.reason, "no backend available for two Xen domains on this host "
				      "(vchan: no /dev/xen/gntalloc)");
	q.backend = "vchan";
	assert_int_equal(ivt_policy_decide(p, &q, &d), -ENOTSUP);
	assert_string_equal(d.reason,
			    "backend vchan not available on this host: no /dev/xen/gntalloc");
	q.backend = "verbs";
	assert_int_equal(ivt_policy_decide(p, &q, &d), -ENOTSUP);
	assert_string_equal(d.reason, "unknown backend 'verbs' (this host has: shm; not usable here: vchan)");
	/* connector follows the listener's grant */
	q = query("demo", "uid:5", 0);
	q.peer_identity = ID("uid:6");
	q.granted_backend = "shm";
	q.granted_ring_size = 8192;
	q.ring_size = 1 << 20;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "shm");
	assert_int_equal(d.ring_size, 8192);
	q.backend = "vchan";
	assert_int_equal(ivt_policy_decide(p, &q, &d), -ENOTSUP);
	assert_non_null(strstr(d.reason, "runs over backend shm"));
	ivt_policy_free(p);
}

/* auto ranks the backends by capability, then the policy's "prefer". */
static void test_decide_by_capability(void **state)
{
	(void)state;
	struct ivt_policy *p = load(decide_policy);
	assert_non_null(p);
	struct ivt_policy_decision d;
	struct ivt_backend_info t[] = {
		{.name = "aaa", .caps = IVT_CAP_COLOCATED, .available = 1},
		all_backends[0], all_backends[1], all_backends[3],
		{.name = "xgrant", .caps = IVT_CAP_COLOCATED | IVT_CAP_NEEDS_XEN, .available = 1},
	};
	struct ivt_policy_query q = query("demo", "uid:1", 1);
	q.backends = t;
	q.n_backends = 5;
	/* without a preference: table order among those that fit */
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "aaa");
	q.identity = ID("dom:3"); /* only a Xen transport crosses domains */
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "xgrant");
	q.colocated = 0; /* remote: verbs is opt-in */
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "slurpoe");
	t[2].available = 0;
	assert_int_equal(ivt_policy_decide(p, &q, &d), -ENOTSUP);
	assert_non_null(strstr(d.reason, "ends on different hosts (slurpoe: unavailable)"));
	ivt_policy_free(p);

	p = load("{\"version\":1,\"defaults\":{\"prefer\":[\"verbs\",\"shm\"]},"
		 "\"channels\":[{\"name\":\"*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"]}]}");
	assert_non_null(p);
	q = query("x", "uid:1", 1);
	q.backends = t;
	q.n_backends = 5;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "shm");
	q.colocated = 0; /* named in "prefer": opted in */
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_string_equal(d.backend, "verbs");
	ivt_policy_free(p);

	p = load("{\"version\":1,\"channels\":[{\"name\":\"*\",\"listeners\":[\"*\"],"
		 "\"connectors\":[\"*\"]}]}");
	q = query("x", "uid:1", 1);
	q.backends = t + 4; /* a Xen transport alone serves no processes */
	q.n_backends = 1;
	assert_int_equal(ivt_policy_decide(p, &q, &d), -ENOTSUP);
	assert_string_equal(d.reason, "no backend available for two processes on this host: no "
				      "plugin declares the capabilities it needs");
	ivt_policy_free(p);

	expect_error("{\"version\":1,\"defaults\":{\"prefer\":\"shm\"},\"channels\":[]}",
		     "defaults.prefer", "array");
	expect_error("{\"version\":1,\"defaults\":{\"prefer\":[\"shm\",\"Shm\"]},\"channels\":[]}",
		     "defaults.prefer[1]", "backend name");
	expect_error("{\"version\":1,\"defaults\":{\"prefer\":[\"shm\",\"shm\"]},\"channels\":[]}",
		     "defaults.prefer[1]", "twice");
	expect_error("{\"version\":1,\"defaults\":{\"prefer\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\","
		     "\"g\",\"h\",\"i\"]},\"channels\":[]}",
		     "defaults.prefer", "more than 8");
}

static void test_decide_ring_clamp(void **state)
{
	(void)state;
	struct ivt_policy *p = load(decide_policy);
	assert_non_null(p);
	struct ivt_policy_decision d;
	struct ivt_policy_query q = query("demo", "uid:1", 1);
	q.ring_size = 1ull << 40; /* above max_ring_size: lowered, not refused */
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_int_equal(d.ring_size, 1048576);
	assert_true(d.ring_adjusted);
	assert_non_null(strstr(d.reason, "max_ring_size"));
	q.ring_size = 100;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_int_equal(d.ring_size, 4096);
	q.ring_size = 5000;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_int_equal(d.ring_size, 8192);
	assert_true(d.ring_adjusted);
	q.ring_size = 16384;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_int_equal(d.ring_size, 16384);
	assert_false(d.ring_adjusted);
	q.ring_size = UINT64_MAX;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_int_equal(d.ring_size, 1048576);
	ivt_policy_free(p);
}

static void test_reload_keeps_old_on_error(void **state)
{
	(void)state;
	char path[] = "/tmp/ivt-policy-test-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_file(path, "{\"version\":1,\"channels\":[{\"name\":\"one\",\"listeners\":[\"*\"],"
			 "\"connectors\":[\"*\"]}]}");
	struct ivt_policy *cur = ivt_policy_load_file(path, err, sizeof(err));
	assert_non_null(cur);

	write_file(path, "{\"version\":1,\n\"channels\":[{\"name\":\"two\",\"listeners\":[\"*\"],"
			 "\"connectors\":[\"*\"],\n\"ring_size\":3}]}");
	struct ivt_policy *before = cur;
	assert_int_equal(ivt_policy_reload(&cur, path, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(cur, before);
	assert_non_null(ivt_policy_find_channel(cur, "one"));
	assert_non_null(strstr(err, ":3: channels[0].ring_size"));
	assert_non_null(strstr(err, path));

	write_file(path, "{\"version\":1,\"channels\":[{\"name\":\"two\",\"listeners\":[\"*\"],"
			 "\"connectors\":[\"*\"]}]}");
	assert_int_equal(ivt_policy_reload(&cur, path, err, sizeof(err)), 0);
	assert_null(ivt_policy_find_channel(cur, "one"));
	assert_non_null(ivt_policy_find_channel(cur, "two"));

	unlink(path);
	assert_int_equal(ivt_policy_reload(&cur, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cannot open"));
	assert_non_null(ivt_policy_find_channel(cur, "two"));
	ivt_policy_free(cur);
}

static void key_policy(char *out, size_t n, const char *key_file, const char *more_hosts)
{
	snprintf(out, n,
		 "{\"version\":1,\"hosts\":[{\"name\":\"hostB\",\"ifname\":\"veth0\","
		 "\"mac\":\"02:00:00:00:00:0b\",\"key_file\":\"%s\"}%s]}",
		 key_file, more_hosts);
}

/* "key_file": 64 hex digits, owner-only, never blocking, all-or-none per
 * interface (docs/remote.md, trust model). */
static void test_host_key_files(void **state)
{
	(void)state;
	char dir[] = "/tmp/ivt-keytest-XXXXXX", good[64], open_f[64], shrt[64], fifo[64];
	char text[1024];
	assert_non_null(mkdtemp(dir));
	snprintf(good, sizeof(good), "%s/good", dir);
	snprintf(open_f, sizeof(open_f), "%s/open", dir);
	snprintf(shrt, sizeof(shrt), "%s/short", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	const char *hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n";
	write_file(good, hex);
	write_file(open_f, hex);
	write_file(shrt, "0011\n");
	assert_int_equal(chmod(good, 0600), 0);
	assert_int_equal(chmod(open_f, 0644), 0);
	assert_int_equal(chmod(shrt, 0600), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	key_policy(text, sizeof(text), good, "");
	struct ivt_policy *p = load(text);
	assert_non_null(p);
	assert_true(p->hosts[0].has_key);
	assert_int_equal(p->hosts[0].key[0], 0x00);
	assert_int_equal(p->hosts[0].key[31], 0xff);
	ivt_policy_free(p);
	key_policy(text, sizeof(text), open_f, "");
	expect_error(text, "hosts[0].key_file", "chmod 600");
	key_policy(text, sizeof(text), shrt, "");
	expect_error(text, "hosts[0].key_file", "exactly 64 hex digits");
	key_policy(text, sizeof(text), fifo, ""); /* must not block */
	expect_error(text, "hosts[0].key_file", "not a regular file");
	key_policy(text, sizeof(text), "/nonexistent/key", "");
	expect_error(text, "hosts[0].key_file", "cannot open");
	key_policy(text, sizeof(text), good,
		 ",{\"name\":\"hostC\",\"ifname\":\"veth0\",\"mac\":\"02:00:00:00:00:0c\"}");
	expect_error(text, "hosts[1]", "must all have a");
	/* "encrypt": a boolean, and only with a key. */
	snprintf(text, sizeof(text),
		 "{\"version\":1,\"hosts\":[{\"name\":\"hostB\",\"ifname\":\"veth0\","
		 "\"mac\":\"02:00:00:00:00:0b\",\"key_file\":\"%s\",\"encrypt\":true}]}",
		 good);
	p = load(text);
	assert_non_null(p);
	assert_true(p->hosts[0].encrypt);
	ivt_policy_free(p);
	expect_error("{\"version\":1,\"hosts\":[{\"name\":\"hostB\",\"ifname\":\"veth0\","
		     "\"mac\":\"02:00:00:00:00:0b\",\"encrypt\":true}]}",
		     "hosts[0].encrypt", "needs a \"key_file\"");
	expect_error("{\"version\":1,\"hosts\":[{\"name\":\"hostB\",\"ifname\":\"veth0\","
		     "\"mac\":\"02:00:00:00:00:0b\",\"encrypt\":\"yes\"}]}",
		     "hosts[0].encrypt", "true or false");
	unlink(good);
	unlink(open_f);
	unlink(shrt);
	unlink(fifo);
	rmdir(dir);
}

/* "message": a boolean per rule, absent = the listener decides. */
/* "carrier": "auto" (default), "raw" (or "ethernet"), "udp", mixed on one
 * interface; "ip" a unicast IPv4 address, unique per interface. */
#define H(n, m, extra) "{\"name\":\"" n "\",\"ifname\":\"veth0\",\"mac\":\"02:00:00:00:00:" m "\"" extra "}"
static void test_host_carrier(void **state)
{
	(void)state;
	struct ivt_policy *p = load("{\"version\":1,\"hosts\":["
				    H("hostB", "0b", ",\"carrier\":\"udp\"") ","
				    H("hostC", "0c", ",\"ip\":\"10.0.0.3\"") ","
				    H("hostD", "0d", ",\"carrier\":\"ethernet\"") ","
				    H("hostE", "0e", ",\"carrier\":\"raw\",\"ip\":\"10.0.0.5\"") "]}");
	assert_non_null(p);
	assert_int_equal(p->hosts[0].carrier, IVT_CARRIER_UDP);
	assert_false(p->hosts[0].has_ip);
	assert_int_equal(p->hosts[1].carrier, IVT_CARRIER_AUTO);
	assert_true(p->hosts[1].has_ip);
	assert_int_equal(ntohl(p->hosts[1].ip), 0x0a000003);
	assert_int_equal(p->hosts[2].carrier, IVT_CARRIER_RAW);
	assert_int_equal(p->hosts[3].carrier, IVT_CARRIER_RAW);
	ivt_policy_free(p);
	expect_error("{\"version\":1,\"hosts\":[" H("hostB", "0b", ",\"carrier\":\"tcp\"") "]}",
		     "hosts[0].carrier", "is not \"auto\", \"raw\" or \"udp\"");
	const char *bad[] = {"10.0.0", "300.0.0.1", "127.0.0.1", "224.0.0.1", "255.255.255.255",
			     "0.0.0.0", "::1", "10.0.0.1 "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[256];
		snprintf(json, sizeof(json), "{\"version\":1,\"hosts\":[" H("hostB", "0b", ",\"ip\":\"%s\"") "]}",
			 bad[i]);
		expect_error(json, "hosts[0].ip", "is not a unicast IPv4 address");
	}
	expect_error("{\"version\":1,\"hosts\":[" H("hostB", "0b", ",\"ip\":\"10.0.0.2\"") ","
		     H("hostC", "0c", ",\"ip\":\"10.0.0.2\"") "]}",
		     "hosts[1].ip", "hosts[0] has the same address on veth0");
}
#undef H

static void test_message_key(void **state)
{
	(void)state;
	struct ivt_policy *p = load("{\"version\":1,\"channels\":["
				    "{\"name\":\"m\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"
				    "\"message\":true},"
				    "{\"name\":\"s\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"
				    "\"message\":false},"
				    "{\"name\":\"*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"]}]}");
	if (!p)
		fail_msg("%s", err);
	assert_int_equal(ivt_policy_find_channel(p, "m")->message, IVT_MODE_MESSAGE);
	assert_int_equal(ivt_policy_find_channel(p, "s")->message, IVT_MODE_STREAM);
	assert_int_equal(ivt_policy_find_channel(p, "x")->message, IVT_MODE_LISTENER);
	struct ivt_policy_query q = {.channel = "m", .identity = ID("uid:1"), .is_listener = 1,
				     .colocated = 1, ALL_BACKENDS};
	struct ivt_policy_decision d;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_int_equal(d.message, IVT_MODE_MESSAGE);
	ivt_policy_free(p);
	const char *bad[] = {"\"yes\"", "1", "null", "[]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text),
			 "{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[],"
			 "\"connectors\":[],\"message\":%s}]}", bad[i]);
		expect_error(text, "channels[0].message", "true (message mode) or false");
	}
}

/* backlog_per_identity: 1..4096, absent 0 (the broker takes half the
 * backlog); the decision carries it. */
static void test_backlog_per_identity_key(void **state)
{
	(void)state;
	struct ivt_policy *p = load("{\"version\":1,\"channels\":["
				    "{\"name\":\"f\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"
				    "\"backlog\":8,\"backlog_per_identity\":3},"
				    "{\"name\":\"*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"]}]}");
	if (!p)
		fail_msg("%s", err);
	assert_int_equal(ivt_policy_find_channel(p, "f")->backlog_per_identity, 3);
	assert_int_equal(ivt_policy_find_channel(p, "x")->backlog_per_identity, 0);
	struct ivt_policy_query q = {.channel = "f", .identity = ID("uid:1"), .is_listener = 1,
				     .colocated = 1, ALL_BACKENDS};
	struct ivt_policy_decision d;
	assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
	assert_int_equal(d.backlog, 8);
	assert_int_equal(d.backlog_per_identity, 3);
	ivt_policy_free(p);
	const char *bad[] = {"0", "4097", "-1", "\"2\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text),
			 "{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[],"
			 "\"connectors\":[],\"backlog_per_identity\":%s}]}", bad[i]);
		expect_error(text, "channels[0].backlog_per_identity", NULL);
	}
}

/* lines: true (the default) or false, per rule; the decision says it. */
static void test_lines_key(void **state)
{
	(void)state;
	struct ivt_policy *p = load("{\"version\":1,\"channels\":["
				    "{\"name\":\"f\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"
				    "\"lines\":false},"
				    "{\"name\":\"t\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"
				    "\"lines\":true},"
				    "{\"name\":\"m\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"
				    "\"max_connections\":8},"
				    "{\"name\":\"b\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"
				    "\"backlog\":4},"
				    "{\"name\":\"mt\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"
				    "\"max_connections\":8,\"lines\":true},"
				    "{\"name\":\"*\",\"listeners\":[\"*\"],\"connectors\":[\"*\"]}]}");
	if (!p)
		fail_msg("%s", err);
	/* a rule with a connection limit of its own has no lines unless it
	 * asks for them: ivtd counts only what it sees */
	const char *names[] = {"f", "t", "x", "m", "b", "mt"};
	const int no_lines[] = {1, 0, 0, 1, 1, 0};
	for (int i = 0; i < 6; i++) {
		struct ivt_policy_query q = {.channel = names[i], .identity = ID("uid:1"),
					     .is_listener = 1, .colocated = 1, ALL_BACKENDS};
		struct ivt_policy_decision d;
		assert_int_equal(ivt_policy_decide(p, &q, &d), 0);
		assert_int_equal(d.no_lines, no_lines[i]);
	}
	ivt_policy_free(p);
	expect_error("{\"version\":1,\"channels\":[{\"name\":\"a\",\"listeners\":[],"
		     "\"connectors\":[],\"lines\":1}]}", "channels[0].lines", "true");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_policies_load),
		cmocka_unit_test(test_backlog_per_identity_key),
		cmocka_unit_test(test_lines_key),
		cmocka_unit_test(test_valid_policy),
		cmocka_unit_test(test_syntax_error_has_line),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_bad_ring_sizes),
		cmocka_unit_test(test_inherited_ring_size),
		cmocka_unit_test(test_refused_values_have_paths),
		cmocka_unit_test(test_file_too_large),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_principals),
		cmocka_unit_test(test_host_principals),
		cmocka_unit_test(test_channel_host_key),
		cmocka_unit_test(test_glob_matching),
		cmocka_unit_test(test_tcp_address_names),
		cmocka_unit_test(test_decide_allow_deny),
		cmocka_unit_test(test_decide_backends),
		cmocka_unit_test(test_decide_by_capability),
		cmocka_unit_test(test_decide_ring_clamp),
		cmocka_unit_test(test_reload_keeps_old_on_error),
		cmocka_unit_test(test_host_key_files),
		cmocka_unit_test(test_message_key),
		cmocka_unit_test(test_host_carrier),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
