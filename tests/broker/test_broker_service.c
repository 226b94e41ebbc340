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
#include "ivtd/broker.h"

struct fake_end {
	struct ivt_reg_end end;
	int oks, errs, last_err, peer_events;
	struct ivt_ctrl_open_ok ok;
	char msg[IVT_ERRMSG_MAX + 1];
};

static struct fake_end *fe(struct ivt_reg_end *e) { return (struct fake_end *)e; }

static int f_ok(struct ivt_reg_end *e, const struct ivt_ctrl_open_ok *ok)
{
	fe(e)->oks++;
	fe(e)->ok = *ok;
	return 0;
}

static int f_err(struct ivt_reg_end *e, int err, const char *msg)
{
	fe(e)->errs++;
	fe(e)->last_err = err;
	snprintf(fe(e)->msg, sizeof(fe(e)->msg), "%s", msg);
	return 0;
}

static int f_relay(struct ivt_reg_end *e, const void *b, size_t l, const int *fds, int n)
{
	(void)e, (void)b, (void)l, (void)fds, (void)n;
	return 0;
}

static int f_notify(struct ivt_reg_end *e, int ev, uint32_t d)
{
	(void)ev, (void)d;
	fe(e)->peer_events++;
	return 0;
}

static const struct ivt_registry_ops fake_ops = {
	.name = "fake", .reply_ok = f_ok, .reply_error = f_err, .relay_setup = f_relay,
	.notify_peer = f_notify,
};

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
	struct ivt_registry reg;
	struct ivt_broker *b;
	struct ivt_broker_cb cb;
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
	char err[IVT_POLICY_ERR_MAX];
	struct ivt_policy *p = ivt_policy_load_string(policy_text, "s.json", err, sizeof(err));
	if (!x || !p)
		return -1;
	x->b = ivt_broker_new(p);
	ivt_broker_set_backend(x->b, IVT_BACKEND_SHM, 1, NULL);
	x->cb = ivt_broker_callbacks(x->b);
	x->reg.ops = &fake_ops;
	x->reg.cb = x->cb;
	struct ivt_broker_service s = {.arg = &x->log, .open = s_open, .gone = s_gone};
	snprintf(s.name, sizeof(s.name), "ivt.utmem");
	ivt_broker_set_service(x->b, &s);
	*state = x;
	return 0;
}

static int teardown_fx(void **state)
{
	struct fx *x = *state;
	ivt_broker_free(x->b);
	free(x);
	return 0;
}

static void mk_end(struct fx *x, struct fake_end *f, const char *identity)
{
	memset(f, 0, sizeof(*f));
	f->end.reg = &x->reg;
	snprintf(f->end.identity, sizeof(f->end.identity), "%s", identity);
}

static void request(struct fx *x, struct fake_end *f, const char *name, int listen, uint64_t ring)
{
	struct ivt_end_request r = {.listen = listen, .ring_size = ring};
	snprintf(r.name, sizeof(r.name), "%s", name);
	x->cb.request(x->cb.arg, &f->end, &r);
}

static void test_service_serves_connectors(void **state)
{
	struct fx *x = *state;
	struct fake_end c;
	mk_end(x, &c, "uid:1000");
	request(x, &c, "ivt.utmem", 0, 0);
	assert_int_equal(c.oks, 1);
	assert_int_equal(c.errs, 0);
	assert_string_equal(c.ok.backend, "shm");
	assert_int_equal(c.ok.ring_size, 131072);
	assert_int_equal(c.ok.is_server, 0);
	assert_int_equal(c.ok.spill_above_bytes, 0);
	assert_int_equal(x->log.opens, 1);
	assert_string_equal(x->log.backend, "shm");
	assert_int_equal(x->log.ring, 131072);
	assert_int_equal(x->log.quota, 4096);
	/* a second request on the same end is refused; the end goes */
	request(x, &c, "ivt.utmem", 0, 0);
	assert_int_equal(c.last_err, EISCONN);
	x->cb.gone(x->cb.arg, &c.end, 0);
	assert_int_equal(x->log.gones, 1);
	assert_int_equal(x->log.last_graceful, 0);
	/* a valid requested ring is granted */
	struct fake_end d;
	mk_end(x, &d, "uid:1001");
	request(x, &d, "ivt.utmem", 0, 1048576);
	assert_int_equal(d.ok.ring_size, 1048576);
	x->cb.gone(x->cb.arg, &d.end, 1);
	assert_int_equal(x->log.gones, 2);
	assert_int_equal(x->log.last_graceful, 1);
}

static void test_service_refusals(void **state)
{
	struct fx *x = *state;
	struct fake_end l, g, f;
	mk_end(x, &l, "uid:0");
	request(x, &l, "ivt.utmem", 1, 0);
	assert_int_equal(l.errs, 1);
	assert_int_equal(l.last_err, EACCES);
	assert_non_null(strstr(l.msg, "served by ivtd"));
	mk_end(x, &g, "dom:5"); /* the rule allows uid:* only */
	request(x, &g, "ivt.utmem", 0, 0);
	assert_int_equal(g.last_err, EACCES);
	assert_int_equal(x->log.opens, 0);
	/* the service fails: OPEN_OK went out, then the error */
	x->log.fail_with = -ENOMEM;
	mk_end(x, &f, "uid:7");
	request(x, &f, "ivt.utmem", 0, 0);
	assert_int_equal(f.oks, 1);
	assert_int_equal(f.errs, 1);
	assert_int_equal(f.last_err, ENOMEM);
	assert_non_null(strstr(f.msg, "service says no"));
	x->cb.gone(x->cb.arg, &f.end, 1);
	assert_int_equal(x->log.gones, 0); /* open failed: not the service's */
	/* detached: the name is an ordinary channel again */
	ivt_broker_set_service(x->b, NULL);
	request(x, &l, "ivt.utmem", 1, 0);
	assert_int_equal(l.oks, 1);
	x->cb.gone(x->cb.arg, &l.end, 1);
}

static void test_spill_reaches_both_ends(void **state)
{
	struct fx *x = *state;
	struct fake_end l, c, p;
	mk_end(x, &l, "uid:0");
	mk_end(x, &c, "uid:1000");
	request(x, &l, "sp", 1, 0);
	request(x, &c, "sp", 0, 0);
	assert_int_equal(l.ok.spill_above_bytes, 777);
	assert_int_equal(c.ok.spill_above_bytes, 777);
	x->cb.gone(x->cb.arg, &c.end, 1);
	x->cb.gone(x->cb.arg, &l.end, 1);
	mk_end(x, &p, "uid:0");
	request(x, &p, "plain", 1, 0);
	assert_int_equal(p.ok.spill_above_bytes, 0);
	x->cb.gone(x->cb.arg, &p.end, 1);
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
