/* SPDX-License-Identifier: MIT */
/*
 * This host's TCP addresses as channel names (common/tcp_map.h): what a
 * bound listener is called, which names are addresses (one name per
 * address), and the listener a dialled address reaches, as TCP picks it
 * (before: by port alone, so a client dialling 127.0.0.2 reached the
 * server bound to 127.0.0.1).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/tcp_map.h"

static struct ivt_ip ip(const char *text)
{
	struct ivt_ip a;
	assert_int_equal(ivt_ip_parse(text, strlen(text), 0, &a), 0);
	return a;
}

static void assert_bound(const char *addr, int v6only, const char *want)
{
	char name[64];
	struct ivt_ip a = ip(addr);
	assert_int_equal(ivt_tcp_name_bound(name, sizeof(name), 80, &a, v6only), 0);
	assert_string_equal(name, want);
}

static void test_bound_names(void **state)
{
	(void)state;
	assert_bound("127.0.0.2", 0, "tcp.80.127.0.0.2");
	assert_bound("::ffff:127.0.0.2", 0, "tcp.80.127.0.0.2"); /* v4-mapped: the v4 address */
	assert_bound("::1", 0, "tcp.80.--1");
	assert_bound("fe80::1:2", 1, "tcp.80.fe80--1-2");
	assert_bound("0.0.0.0", 0, "tcp.80.0.0.0.0"); /* any IPv4 address: not IPv6 */
	assert_bound("::", 0, "tcp.80");      /* "::" taking IPv4 too */
	assert_bound("::", 1, "tcp.80.--");   /* IPV6_V6ONLY */
	char name[64];
	assert_int_equal(ivt_tcp_name_bound(name, sizeof(name), 80, NULL, 0), 0);
	assert_string_equal(name, "tcp.80");
	assert_int_equal(ivt_tcp_name_bound(name, 12, 80, &(struct ivt_ip){0}, 0), -EINVAL);
	struct ivt_ip v6 = ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_int_equal(ivt_tcp_name_at(name, sizeof(name), 65535, &v6), 0);
	assert_true(strlen(name) <= 63); /* every address fits IVT_NAME_MAX */
	assert_int_equal(ivt_tcp_name_at(name, 20, 65535, &v6), -ENAMETOOLONG);
}

static void test_address_names_parse(void **state)
{
	(void)state;
	struct ivt_ip a;
	assert_int_equal(ivt_tcp_name_addr("tcp.80.127.0.0.2", &a), 80);
	assert_true(ivt_ip_equal(&a, &(struct ivt_ip){.family = AF_INET, .bytes = {127, 0, 0, 2}}));
	assert_int_equal(ivt_tcp_name_addr("tcp.65535.--1", &a), 65535);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(ivt_tcp_name_addr("tcp.80.--", &a), 80);
	/* not addresses, or not their one canonical name */
	const char *bad[] = {"tcp.80", "tcp.80.dom5", "tcp.80.", "tcp.080.1.2.3.4",
			     "tcp.0.1.2.3.4", "tcp.80.127.000.0.1", "tcp.80.--ffff-127.0.0.1",
			     "tcp.80.0--1", "tcp.80.::1", "tcp.80.1.2.3", "udp.80.1.2.3.4",
			     "tcp.80.1.2.3.4.5", "tcp.80.FE80--1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ivt_tcp_name_addr(bad[i], &a), 0);
	assert_int_equal(ivt_tcp_name_any_port("tcp.80"), 80);
	assert_int_equal(ivt_tcp_name_any_port("tcp.80.1.2.3.4"), 80);
	assert_int_equal(ivt_tcp_name_any_port("tcp.80.dom5"), 0);
}

/* a fake broker table: the names listening */
static int listening(void *arg, const char *name)
{
	for (const char **n = arg; *n; n++)
		if (!strcmp(*n, name))
			return 1;
	return 0;
}

static const char *pick(const char **table, const char *to)
{
	static char name[64];
	struct ivt_ip a = ip(to);
	assert_int_equal(ivt_tcp_pick(name, sizeof(name), 80, &a, listening, table), 0);
	return name;
}

static void test_pick_as_tcp(void **state)
{
	(void)state;
	/* A bound to 127.0.0.1, B to 127.0.0.2: each address its own server */
	const char *two[] = {"tcp.80.127.0.0.1", "tcp.80.127.0.0.2", NULL};
	assert_string_equal(pick(two, "127.0.0.1"), "tcp.80.127.0.0.1");
	assert_string_equal(pick(two, "127.0.0.2"), "tcp.80.127.0.0.2");
	assert_string_equal(pick(two, "::ffff:127.0.0.2"), "tcp.80.127.0.0.2");
	/* nobody bound to 127.0.0.3 and no wildcard: tcp.80, which nobody
	 * owns, so the broker refuses (ENOENT) and the kernel refuses too */
	assert_string_equal(pick(two, "127.0.0.3"), "tcp.80");
	/* a bound listener wins over the wildcard */
	const char *any[] = {"tcp.80", "tcp.80.192.0.2.2", NULL};
	assert_string_equal(pick(any, "192.0.2.2"), "tcp.80.192.0.2.2");
	assert_string_equal(pick(any, "127.0.0.1"), "tcp.80");
	assert_string_equal(pick(any, "::1"), "tcp.80");
	/* 0.0.0.0 and [::] IPv6-only side by side: by family */
	const char *fam[] = {"tcp.80.0.0.0.0", "tcp.80.--", NULL};
	assert_string_equal(pick(fam, "::1"), "tcp.80.--");
	assert_string_equal(pick(fam, "127.0.0.1"), "tcp.80.0.0.0.0");
	/* 0.0.0.0 alone: an IPv6 dial finds nobody, as TCP refuses it */
	const char *v4[] = {"tcp.80.0.0.0.0", NULL};
	assert_string_equal(pick(v4, "::1"), "tcp.80");
	assert_string_equal(pick(v4, "127.0.0.2"), "tcp.80.0.0.0.0");
	assert_string_equal(pick(v4, "::ffff:127.0.0.2"), "tcp.80.0.0.0.0");
	/* [::] IPv6-only alone: IPv4 finds no listener */
	const char *v6[] = {"tcp.80.--", "tcp.80.--1", NULL};
	assert_string_equal(pick(v6, "::1"), "tcp.80.--1");
	assert_string_equal(pick(v6, "127.0.0.1"), "tcp.80");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound_names),
		cmocka_unit_test(test_address_names_parse),
		cmocka_unit_test(test_pick_as_tcp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
