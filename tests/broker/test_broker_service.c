/* SPDX-License-Identifier: MIT */
/*
 * The broker's hooks for the utmem work: a channel ivtd serves itself
 * (ivt_broker_set_service), and the policy's "spill" carried to both ends
 * in OPEN_OK. Driven through a minimal fake registry.
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

#include "common/ctrl_msg.h"
#include "ivtd/core/broker.h"

#include "fake_registry.h"

/* What the service saw. */
struct svc_log {
	int opens, gones, last_graceful, fail_with;
	char backend[16];
	uint64_t ring, quota;
	struct ivt_reg_end *end;
};

static int s_open(void *arg, struct ivt_reg_end *end, const char *backend, uint64_t ring,
		  const char *xs_path, const struct ivt_policy_decision *d, char *why, size_t len)
{
	(void)xs_path;
	struct svc_log *l = arg;
	l->opens++;
	snprintf(l->backend, sizeof(l->backend), "%s", backend);
	l->ring = ring;
	l->quota = d->quota_bytes;
	l->end = end;
	if (l->fail_with) {
		snprintf(why, len, "service says no");
		return l->fail_with;
	}
	return 0;
}

static void s_gone(void *arg, struct ivt_reg_end *end, int graceful)
{
	struct svc_log *l = arg;
	l->gones++;
	l->last_graceful = graceful;
	assert_ptr_equal(end, l->end);
}

struct fx {
	struct fake_broker fb;
	struct svc_log log;
};

static const char *policy_text =
	"{\"version\":1,\"channels\":[\n"
	"{\"name\":\"ivt.utmem\",\"listeners\":[\"*\"],\"connectors\":[\"uid:*\"],"
	"\"ring_size\":131072,\"max_ring_size\":1048576,\"quota_bytes\":4096},\n"
	"{\"name\":\"sp\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],"
	"\"spill\":{\"to\":\"utmem\",\"above_bytes\":777}},\n"
	"{\"name\":\"plain\",\"listeners\":[\"*\"],\"connectors\":[\"*\"]}\n"
	"]}";

static int setup_fx(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	if (!x || fake_broker_init(&x->fb, policy_text, "s.json") != 0) {
		free(x);
		return -1;
	}
	struct ivt_broker_service s = {.arg = &x->log, .open = s_open, .gone = s_gone};
	snprintf(s.name, sizeof(s.name), "ivt.utmem");
	ivt_broker_set_service(x->fb.b, &s);
	*state = x;
	return 0;
}

static int teardown_fx(void **state)
{
	struct fx *x = *state;
	fake_broker_fini(&x->fb);
	free(x);
	return 0;
}

static void mk_end(struct fx *x, struct fake_end *f, const char *identity)
{
	fake_end_init(&x->fb, f, identity);
}

static void request(struct fx *x, struct fake_end *f, const char *name, int listen, uint64_t ring)
{
	fake_request(&x->fb, f, name, listen, NULL, ring);
}

static void test_service_serves_connectors(void **state)
{
	struct fx *x = *state;
	struct fake_end c;
	mk_end(x, &c, "uid:1000");
	request(x, &c, "ivt.utmem", 0, 0);
	assert_int_equal(c.ok_count, 1);
	assert_int_equal(c.err_count, 0);
	assert_string_equal(c.last_ok.backend, "shm");
	assert_int_equal(c.last_ok.ring_size, 131072);
	assert_int_equal(c.last_ok.is_server, 0);
	assert_int_equal(c.last_ok.spill_above_bytes, 0);
	assert_int_equal(x->log.opens, 1);
	assert_string_equal(x->log.backend, "shm");
	assert_int_equal(x->log.ring, 131072);
	assert_int_equal(x->log.quota, 4096);
	/* a second request on the same end is refused; the end goes */
	request(x, &c, "ivt.utmem", 0, 0);
	assert_int_equal(c.last_err, EISCONN);
	x->fb.cb.gone(x->fb.cb.arg, &c.end, 0);
	assert_int_equal(x->log.gones, 1);
	assert_int_equal(x->log.last_graceful, 0);
	/* a valid requested ring is granted */
	struct fake_end d;
	mk_end(x, &d, "uid:1001");
	request(x, &d, "ivt.utmem", 0, 1048576);
	assert_int_equal(d.last_ok.ring_size, 1048576);
	x->fb.cb.gone(x->fb.cb.arg, &d.end, 1);
	assert_int_equal(x->log.gones, 2);
	assert_int_equal(x->log.last_graceful, 1);
}

static void test_service_refusals(void **state)
{
	struct fx *x = *state;
	struct fake_end l, g, f;
	mk_end(x, &l, "uid:0");
	request(x, &l, "ivt.utmem", 1, 0);
	assert_int_equal(l.err_count, 1);
	assert_int_equal(l.last_err, EACCES);
	assert_non_null(strstr(l.last_msg, "served by ivtd"));
	mk_end(x, &g, "dom:5"); /* the rule allows uid:* only */
	request(x, &g, "ivt.utmem", 0, 0);
	assert_int_equal(g.last_err, EACCES);
	assert_int_equal(x->log.opens, 0);
	/* the service fails: OPEN_OK went out, then the error */
	x->log.fail_with = -ENOMEM;
	mk_end(x, &f, "uid:7");
	request(x, &f, "ivt.utmem", 0, 0);
	assert_int_equal(f.ok_count, 1);
	assert_int_equal(f.err_count, 1);
	assert_int_equal(f.last_err, ENOMEM);
	assert_non_null(strstr(f.last_msg, "service says no"));
	x->fb.cb.gone(x->fb.cb.arg, &f.end, 1);
	assert_int_equal(x->log.gones, 0); /* open failed: not the service's */
	/* detached: the name is an ordinary channel again */
	ivt_broker_set_service(x->fb.b, NULL);
	request(x, &l, "ivt.utmem", 1, 0);
	assert_int_equal(l.ok_count, 1);
	x->fb.cb.gone(x->fb.cb.arg, &l.end, 1);
}

static void test_spill_reaches_both_ends(void **state)
{
	struct fx *x = *state;
	struct fake_end l, c, p;
	mk_end(x, &l, "uid:0");
	mk_end(x, &c, "uid:1000");
	request(x, &l, "sp", 1, 0);
	request(x, &c, "sp", 0, 0);
	assert_int_equal(l.last_ok.spill_above_bytes, 777);
	assert_int_equal(c.last_ok.spill_above_bytes, 777);
	x->fb.cb.gone(x->fb.cb.arg, &c.end, 1);
	x->fb.cb.gone(x->fb.cb.arg, &l.end, 1);
	mk_end(x, &p, "uid:0");
	request(x, &p, "plain", 1, 0);
	assert_int_equal(p.last_ok.spill_above_bytes, 0);
	x->fb.cb.gone(x->fb.cb.arg, &p.end, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_fx, teardown_fx)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_service_serves_connectors),
		T(test_service_refusals),
		T(test_spill_reaches_both_ends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
