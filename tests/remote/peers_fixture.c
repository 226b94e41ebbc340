/* SPDX-License-Identifier: MIT */
#include "peers_fixture.h"

#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ivtd/core/broker.h"
#include "ivtd/policy/policy.h"
#include "ivtd/remote/peers.h"

void peers_fixture_open(struct peers_fixture *pf, const char *policy_json)
{
	char err[256];
	struct ivt_policy *p = ivt_policy_load_string(policy_json, "test", err, sizeof(err));
	assert_non_null(p);
	pf->base = event_base_new();
	pf->b = ivt_broker_new(p);
	ivt_broker_set_host_name(pf->b, "hostA");
	struct ivt_peers_cfg cfg = {.base = pf->base, .broker = pf->b};
	pf->P = ivt_peers_new(&cfg);
	assert_non_null(pf->P);
}

void peers_fixture_close(struct peers_fixture *pf)
{
	ivt_peers_free(pf->P);
	ivt_broker_free(pf->b);
	event_base_free(pf->base);
}
