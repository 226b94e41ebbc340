/* SPDX-License-Identifier: MIT */
/* ivt_policy_each_shadowed: rules an earlier rule makes dead code
 * (ivtctl check-policy warns, ivtd logs), and none that can still apply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ivtd/policy/policy.h"

struct seen {
	char text[512];
	int n;
};

static void note(void *arg, const struct ivt_policy_channel *shadowed,
		 const struct ivt_policy_channel *by)
{
	struct seen *s = arg;
	size_t len = strlen(s->text);
	snprintf(s->text + len, sizeof(s->text) - len, "%s<%s ", shadowed->pattern, by->pattern);
	s->n++;
}

/* The rules' names in order, each open to everyone. */
static struct seen shadowed_of(const char *const *names, int n)
{
	char json[2048] = "{\"version\": 1, \"channels\": [";
	for (int i = 0; i < n; i++) {
		size_t len = strlen(json);
		snprintf(json + len, sizeof(json) - len,
			 "%s{\"name\": \"%s\", \"listeners\": [\"*\"], \"connectors\": [\"*\"]}",
			 i ? "," : "", names[i]);
	}
	strcat(json, "]}");
	char err[256];
	struct ivt_policy *p = ivt_policy_load_string(json, "t.json", err, sizeof(err));
	if (!p)
		fail_msg("%s", err);
	struct seen s = {.n = 0};
	ivt_policy_each_shadowed(p, note, &s);
	ivt_policy_free(p);
	return s;
}

static void test_dead_rules_found(void **state)
{
	(void)state;
	const char *a[] = {"*", "secret", "svc.*"};
	struct seen s = shadowed_of(a, 3);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.text, "secret<* svc.*<* ");
	const char *b[] = {"svc.*", "svc.db", "svc.db.*", "svc?x"};
	s = shadowed_of(b, 4);
	assert_int_equal(s.n, 2); /* "svc?x" may match names "svc.*" does not */
	assert_string_equal(s.text, "svc.db<svc.* svc.db.*<svc.* ");
	const char *c[] = {"demo", "de?o", "d*o"};
	s = shadowed_of(c, 3); /* a duplicate name is refused by the loader */
	assert_int_equal(s.n, 0); /* neither glob is covered for certain */
}

static void test_live_rules_not_reported(void **state)
{
	(void)state;
	/* narrower first: every rule applies to some name */
	const char *a[] = {"secret", "svc.db", "svc.*", "tcp.80", "*"};
	struct seen s = shadowed_of(a, 5);
	assert_int_equal(s.n, 0);
	const char *b[] = {"a*", "b*", "ab"}; /* "ab" is taken by "a*": dead */
	s = shadowed_of(b, 3);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.text, "ab<a* ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dead_rules_found),
		cmocka_unit_test(test_live_rules_not_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
