/* SPDX-License-Identifier: MIT */
/* src/common/identity.c: the one parser (canonical text only, hostile
 * input refused), the one formatter, and field comparisons. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/identity.h"

/* Parses, and formats back to exactly the same text. */
static void round_trip(const char *text, enum ivt_identity_kind kind)
{
	struct ivt_identity id;
	char out[IVT_IDENTITY_TEXT_MAX + 1];
	if (ivt_identity_parse(text, &id) != 0)
		fail_msg("refused \"%s\"", text);
	assert_int_equal(id.kind, kind);
	assert_int_equal(ivt_identity_format(&id, out, sizeof(out)), (int)strlen(text));
	assert_string_equal(out, text);
	assert_string_equal(IVT_ID_S(&id), text);
}

static void test_valid(void **state)
{
	(void)state;
	round_trip("uid:0", IVT_IDENTITY_UID);
	round_trip("uid:1000", IVT_IDENTITY_UID);
	round_trip("uid:4294967295", IVT_IDENTITY_UID);
	round_trip("dom:0", IVT_IDENTITY_DOM);
	round_trip("dom:32767", IVT_IDENTITY_DOM);
	round_trip("ivtd", IVT_IDENTITY_DAEMON);
	round_trip("host:hostB/uid:1000", IVT_IDENTITY_HOST);
	round_trip("host:a.b-c_d/dom:3", IVT_IDENTITY_HOST);
	round_trip("host:hostA/ivtd", IVT_IDENTITY_HOST);
	/* the longest: 27-character host, 10-digit id = 47 characters */
	round_trip("host:abcdefghijklmnopqrstuvwxyz0/uid:4294967295", IVT_IDENTITY_HOST);

	struct ivt_identity id;
	assert_int_equal(ivt_identity_parse("host:hostB/dom:7", &id), 0);
	assert_int_equal(id.inner, IVT_IDENTITY_DOM);
	assert_int_equal(id.id, 7);
	assert_string_equal(id.host, "hostB");
}

static void test_hostile(void **state)
{
	(void)state;
	const char *bad[] = {
		"", "uid:", "dom:", "uid:01000", "uid:00", "dom:007", "uid:-1", "uid:+1",
		"uid: 1", "uid:1 ", " uid:1", "uid:1\n", "uid:4294967296", "uid:99999999999",
		"uid:18446744073709551617", "uid:*", "dom:*", "*", "UID:1", "uid=1", "gid:1",
		"uid:1x", "uid:0x10", "ivtd2", "ivt", "IVTD", "ivtd/", "host:", "host:a",
		"host:a/", "host:/uid:1", "host:*/uid:1", "host:a/*", "host:a/uid:*",
		"host:a/uid:01", "host:a/host:b/uid:1", "host:.a/uid:1", "host:a b/uid:1",
		"host:a/b/uid:1", "host:a:b/uid:1", "host:a%s/uid:1",
		/* a 28-character host name: one too long */
		"host:abcdefghijklmnopqrstuvwxyz01/uid:1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ivt_identity id;
		memset(&id, 0xa5, sizeof(id));
		if (ivt_identity_parse(bad[i], &id) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(id.kind, IVT_IDENTITY_NONE); /* never half-filled */
		assert_string_equal(id.host, "");
	}
	struct ivt_identity id;
	assert_int_equal(ivt_identity_parse(NULL, &id), -EINVAL);
	/* longer than any identity, with no NUL for a long way */
	char big[4096];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "uid:", 4);
	assert_int_equal(ivt_identity_parse(big, &id), -EINVAL);
	/* embedded control bytes and high bytes */
	assert_int_equal(ivt_identity_parse("host:h\xc3\xa9/uid:1", &id), -EINVAL);
	assert_int_equal(ivt_identity_parse("host:h\x01/uid:1", &id), -EINVAL);
}

static void test_format(void **state)
{
	(void)state;
	char buf[IVT_IDENTITY_TEXT_MAX + 1];
	struct ivt_identity none;
	memset(&none, 0, sizeof(none));
	assert_int_equal(ivt_identity_format(&none, buf, sizeof(buf)), -EINVAL);
	assert_string_equal(buf, "");
	assert_string_equal(IVT_ID_S(&none), "-");
	assert_string_equal(IVT_ID_S(NULL), "-");

	struct ivt_identity u = ivt_identity_uid(1000);
	assert_int_equal(ivt_identity_format(&u, buf, 9), 8);
	assert_string_equal(buf, "uid:1000");
	assert_int_equal(ivt_identity_format(&u, buf, 8), -ENOSPC); /* no room for NUL */
	assert_string_equal(buf, "");

	/* a malformed struct is refused, never printed half */
	struct ivt_identity h;
	memset(&h, 0, sizeof(h));
	h.kind = IVT_IDENTITY_HOST;
	h.inner = IVT_IDENTITY_HOST;
	strcpy(h.host, "a");
	assert_int_equal(ivt_identity_format(&h, buf, sizeof(buf)), -EINVAL);
	h.inner = IVT_IDENTITY_UID;
	memset(h.host, 'x', sizeof(h.host)); /* no NUL */
	assert_int_equal(ivt_identity_format(&h, buf, sizeof(buf)), -EINVAL);
	strcpy(h.host, "bad/name");
	assert_int_equal(ivt_identity_format(&h, buf, sizeof(buf)), -EINVAL);
	struct ivt_identity k = {.kind = (enum ivt_identity_kind)77};
	assert_int_equal(ivt_identity_format(&k, buf, sizeof(buf)), -EINVAL);
}

static void test_remote_and_equal(void **state)
{
	(void)state;
	struct ivt_identity u = ivt_identity_uid(7), d = ivt_identity_dom(7), r, r2, x;
	assert_false(ivt_identity_equal(&u, &d)); /* same number, other kind */
	assert_true(ivt_identity_equal(&u, &u));
	assert_int_equal(ivt_identity_remote("hostB", &u, &r), 0);
	assert_string_equal(IVT_ID_S(&r), "host:hostB/uid:7");
	assert_int_equal(ivt_identity_parse("host:hostB/uid:7", &r2), 0);
	assert_true(ivt_identity_equal(&r, &r2));
	assert_int_equal(ivt_identity_remote("hostC", &u, &r2), 0);
	assert_false(ivt_identity_equal(&r, &r2));
	assert_false(ivt_identity_equal(&r, &u));
	struct ivt_identity dm = ivt_identity_daemon();
	assert_int_equal(ivt_identity_remote("hostB", &dm, &r2), 0);
	assert_string_equal(IVT_ID_S(&r2), "host:hostB/ivtd");
	/* no host of a host, no unknown inner, no bad names */
	assert_int_equal(ivt_identity_remote("hostA", &r, &x), -EINVAL);
	assert_int_equal(x.kind, IVT_IDENTITY_NONE);
	struct ivt_identity none;
	memset(&none, 0, sizeof(none));
	assert_int_equal(ivt_identity_remote("hostA", &none, &x), -EINVAL);
	assert_int_equal(ivt_identity_remote("", &u, &x), -EINVAL);
	assert_int_equal(ivt_identity_remote("a/b", &u, &x), -EINVAL);
	assert_int_equal(ivt_identity_remote("abcdefghijklmnopqrstuvwxyz01", &u, &x), -EINVAL);
	/* NONE equals nothing: an unknown end is never "the same" as another */
	assert_false(ivt_identity_equal(&none, &none));
	assert_true(ivt_identity_is_local(&u));
	assert_true(ivt_identity_is_local(&d));
	assert_false(ivt_identity_is_local(&dm));
	assert_false(ivt_identity_is_local(&r));
	assert_false(ivt_identity_is_local(&none));
	assert_false(ivt_identity_is_local(NULL));
}

/* Every string the parser takes formats back to itself: one spelling per
 * identity, so text compared anywhere agrees with the fields. */
static void test_mutations_round_trip(void **state)
{
	(void)state;
	const char *seeds[] = {"uid:1000", "dom:3", "ivtd", "host:hostB/uid:42",
			       "host:h/ivtd"};
	const char alphabet[] = "0123456789:/uidomhst*.-_ v\x01\xff";
	uint64_t x = 88172645463325252ull;
	unsigned accepted = 0;
	for (int iter = 0; iter < 200000; iter++) {
		char s[64];
		snprintf(s, sizeof(s), "%s", seeds[iter % 5]);
		size_t n = strlen(s);
		for (int k = 0; k < 1 + iter % 3; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t at = (size_t)(x >> 8) % (n + 1);
			char c = alphabet[(x >> 32) % (sizeof(alphabet) - 1)];
			if ((x >> 48) % 3 == 0 && n + 1 < sizeof(s)) { /* insert */
				memmove(s + at + 1, s + at, n - at + 1);
				s[at] = c;
				n++;
			} else if ((x >> 48) % 3 == 1 && at < n) { /* delete */
				memmove(s + at, s + at + 1, n - at);
				n--;
			} else if (at < n) {
				s[at] = c;
			}
		}
		struct ivt_identity id;
		if (ivt_identity_parse(s, &id) == 0) {
			accepted++;
			char out[IVT_IDENTITY_TEXT_MAX + 1];
			assert_true(ivt_identity_format(&id, out, sizeof(out)) > 0);
			assert_string_equal(out, s);
		}
	}
	assert_true(accepted > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_remote_and_equal),
		cmocka_unit_test(test_mutations_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
