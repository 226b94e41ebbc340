/* SPDX-License-Identifier: MIT */
/*
 * The policy's "message" key through a real ivtd, libivt and shm: on a
 * "message": true channel two programs that never pass IVT_MESSAGE both
 * get message mode (whole messages, ivt_next_msg_size); on "message":
 * false, IVT_MESSAGE is refused with ivtd's reason (ivt_strerror).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e/e2e_util.h"

#define POLICY                                                                                \
	"{\"version\":1,\"channels\":["                                                      \
	"{\"name\":\"tm\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"                    \
	"\"backend\":\"shm\",\"ring_size\":65536,\"message\":true},"                          \
	"{\"name\":\"ts\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"                    \
	"\"backend\":\"shm\",\"message\":false}]}"

static int group_setup(void **state)
{
	(void)state;
	return e2e_group_start(POLICY);
}

static const size_t sizes[] = {1, 7, 300000, 2}; /* 300000: larger than the ring */

static int plain_peer(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	if (e2e_open("tm", 0, 10000, 0, &ch) < 0) /* no IVT_MESSAGE */
		return 10;
	uint8_t *buf = malloc(300000);
	for (size_t i = 0; i < 4; i++) {
		e2e_fill(buf, 40 + i, 0, sizes[i]);
		if (ivt_send(ch, buf, sizes[i]) != (ssize_t)sizes[i])
			return 12;
	}
	/* and one back: this end receives whole messages too (a byte stream
	 * would hand out 3 of its 5 bytes) */
	ssize_t small = ivt_recv(ch, buf, 3), size = ivt_next_msg_size(ch);
	ssize_t r = ivt_recv(ch, buf, 300000);
	free(buf);
	if (small != -EMSGSIZE || size != 5 || r != 5)
		return 13;
	return ivt_close(ch) < 0 ? 14 : 0;
}

static void test_message_true_without_flags(void **state)
{
	(void)state;
	pid_t child = e2e_fork(plain_peer, NULL);
	ivt_channel *ch;
	assert_int_equal(e2e_open("tm", IVT_LISTEN, -1, 0, &ch), 0); /* no IVT_MESSAGE */
	uint8_t *buf = malloc(300000);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(ivt_next_msg_size(ch), (ssize_t)sizes[i]);
		/* a buffer larger than the rest: still exactly one message */
		assert_int_equal(ivt_recv(ch, buf, 300000), (ssize_t)sizes[i]);
		assert_int_equal(e2e_mismatch(buf, 40 + i, 0, sizes[i]), -1);
	}
	assert_int_equal(ivt_send(ch, "hello", 5), 5);
	assert_int_equal(ivt_recv(ch, buf, 10), 0); /* end of stream */
	free(buf);
	assert_int_equal(ivt_close(ch), 0);
	assert_int_equal(e2e_wait(child), 0);
}

static int flag_peer(void *arg)
{
	(void)arg;
	ivt_channel *ch;
	int rc = e2e_open("ts", IVT_MESSAGE, 10000, 0, &ch);
	if (rc == 0) {
		ivt_close(ch);
		return 10;
	}
	if (rc != -EPROTOTYPE)
		return 11;
	/* ivtd's reason, not only the errno's text */
	return strstr(ivt_strerror(rc), "\"message\": false") ? 0 : 12;
}

static void test_message_false_refuses_flag(void **state)
{
	(void)state;
	ivt_channel *ch;
	int rc = e2e_open("ts", IVT_LISTEN | IVT_MESSAGE, 0, 0, &ch);
	assert_int_equal(rc, -EPROTOTYPE);
	assert_non_null(strstr(ivt_strerror(rc), "\"message\": false"));
	assert_int_equal(e2e_open("ts", IVT_LISTEN, 0, 0, &ch), 0);
	pid_t child = e2e_fork(flag_peer, NULL);
	assert_int_equal(e2e_wait(child), 0);
	assert_int_equal(ivt_next_msg_size(ch), -EINVAL); /* a byte stream */
	assert_int_equal(ivt_close(ch), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_true_without_flags),
		cmocka_unit_test(test_message_false_refuses_flag),
	};
	return cmocka_run_group_tests(tests, group_setup, e2e_group_teardown);
}
