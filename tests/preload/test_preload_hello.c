/* SPDX-License-Identifier: MIT */
/* The tcp.P hello comes from the peer: only well-formed ones are taken. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "preload/preload.h"

static void v4(struct sockaddr_storage *ss, const char *ip, int port)
{
	struct sockaddr_in *s = (void *)ss;
	memset(ss, 0, sizeof(*ss));
	s->sin_family = AF_INET;
	s->sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip, &s->sin_addr);
}

static void test_roundtrip_v4(void **state)
{
	struct sockaddr_storage a, b, c, d;
	socklen_t cl, dl;
	uint8_t h[HELLO_SIZE];
	v4(&a, "127.0.0.1", 40001);
	v4(&b, "127.0.0.2", 6379);
	hello_encode(h, &a, &b);
	assert_int_equal(hello_decode(h, &c, &cl, &d, &dl), 0);
	assert_int_equal(cl, sizeof(struct sockaddr_in));
	assert_memory_equal(&a, &c, sizeof(struct sockaddr_in));
	assert_memory_equal(&b, &d, sizeof(struct sockaddr_in));
}

static void test_roundtrip_v6(void **state)
{
	struct sockaddr_storage a, b, c, d;
	socklen_t cl, dl;
	memset(&a, 0, sizeof(a));
	struct sockaddr_in6 *s = (void *)&a;
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(1234);
	s->sin6_addr = in6addr_loopback;
	b = a;
	uint8_t h[HELLO_SIZE];
	hello_encode(h, &a, &b);
	assert_int_equal(hello_decode(h, &c, &cl, &d, &dl), 0);
	assert_int_equal(dl, sizeof(struct sockaddr_in6));
	assert_memory_equal(&a, &c, sizeof(struct sockaddr_in6));
}

static void test_hostile(void **state)
{
	struct sockaddr_storage a, b, c, d;
	socklen_t cl, dl;
	uint8_t h[HELLO_SIZE], bad[HELLO_SIZE];
	v4(&a, "127.0.0.1", 1);
	v4(&b, "127.0.0.1", 2);
	hello_encode(h, &a, &b);
	memcpy(bad, h, sizeof(bad));
	bad[0] = 'X'; /* magic */
	assert_int_equal(hello_decode(bad, &c, &cl, &d, &dl), -1);
	memcpy(bad, h, sizeof(bad));
	bad[4] = 2; /* version */
	assert_int_equal(hello_decode(bad, &c, &cl, &d, &dl), -1);
	memcpy(bad, h, sizeof(bad));
	bad[5] = 5; /* family */
	assert_int_equal(hello_decode(bad, &c, &cl, &d, &dl), -1);
	memset(bad, 0, sizeof(bad)); /* plain application bytes */
	assert_int_equal(hello_decode(bad, &c, &cl, &d, &dl), -1);
}

static void test_local_addresses(void **state)
{
	struct sockaddr_storage a;
	v4(&a, "127.3.2.1", 1);
	assert_true(addr_is_local((struct sockaddr *)&a, sizeof(struct sockaddr_in)));
	v4(&a, "0.0.0.0", 1);
	assert_true(addr_is_local((struct sockaddr *)&a, sizeof(struct sockaddr_in)));
	v4(&a, "192.0.2.77", 1); /* TEST-NET-1: never ours */
	assert_false(addr_is_local((struct sockaddr *)&a, sizeof(struct sockaddr_in)));
	assert_false(addr_is_local((struct sockaddr *)&a, 4)); /* short */
	char name[IVT_NAME_MAX + 1];
	channel_name(name, sizeof(name), 6379);
	assert_string_equal(name, "tcp.6379");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_v4),
		cmocka_unit_test(test_roundtrip_v6),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_local_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
