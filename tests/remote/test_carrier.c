/* SPDX-License-Identifier: MIT */
/* Which carrier ivtd dials a peer with (carrier.h): UDP by default when
 * the peer's "ip" is known and usable, raw frames otherwise with the
 * reason; a forced carrier is kept or refused, never silently swapped. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ivtd/remote/carrier.h"

static char why[400];

static struct ivt_policy_host host(enum ivt_policy_carrier c, const char *ip)
{
	struct ivt_policy_host h;
	memset(&h, 0, sizeof(h));
	strcpy(h.name, "hostB");
	strcpy(h.ifname, "veth0");
	h.carrier = c;
	if (ip) {
		assert_int_equal(inet_pton(AF_INET, ip, &h.ip), 1);
		h.has_ip = 1;
	}
	return h;
}

static void expect(const struct ivt_policy_host *h, const char *no_udp, const char *pin_err,
		   int want, const char *frag)
{
	int c = ivt_carrier_pick(h, no_udp, pin_err, why, sizeof(why));
	if (c != want || !strstr(why, frag))
		fail_msg("got %d \"%s\", want %d with \"%s\"", c, why, want, frag);
}

static void test_auto(void **state)
{
	(void)state;
	struct ivt_policy_host h = host(IVT_CARRIER_AUTO, "10.0.0.2");
	expect(&h, NULL, NULL, IVT_CARRIER_IS_UDP, "its \"ip\" 10.0.0.2 is known");
	expect(&h, "no IPv4 address on veth0", NULL, IVT_CARRIER_IS_RAW,
	       "veth0 has no UDP carrier: no IPv4 address on veth0");
	expect(&h, NULL, "10.0.0.2 is not a host address in the interface's subnet",
	       IVT_CARRIER_IS_RAW, "cannot be used: 10.0.0.2 is not");
	h = host(IVT_CARRIER_AUTO, NULL);
	expect(&h, NULL, NULL, IVT_CARRIER_IS_RAW, "no \"ip\" in its hosts entry");
	expect(&h, "no IPv4 address", NULL, IVT_CARRIER_IS_RAW, "no \"ip\"");
}

static void test_forced(void **state)
{
	(void)state;
	struct ivt_policy_host h = host(IVT_CARRIER_RAW, "10.0.0.2");
	expect(&h, NULL, NULL, IVT_CARRIER_IS_RAW, "\"carrier\": \"raw\"");
	h = host(IVT_CARRIER_UDP, NULL);
	expect(&h, NULL, NULL, IVT_CARRIER_IS_UDP, "learnt from its datagrams");
	expect(&h, "no IPv4 address on veth0", NULL, -ENOTSUP, "no UDP carrier: no IPv4");
	h = host(IVT_CARRIER_UDP, "10.0.0.2");
	expect(&h, NULL, NULL, IVT_CARRIER_IS_UDP, "(at 10.0.0.2)");
	expect(&h, NULL, "outside", -ENOTSUP, "cannot be used: outside");
	assert_string_equal(ivt_carrier_name(IVT_CARRIER_IS_UDP), "udp");
	assert_string_equal(ivt_carrier_name(IVT_CARRIER_IS_RAW), "raw");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto),
		cmocka_unit_test(test_forced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
