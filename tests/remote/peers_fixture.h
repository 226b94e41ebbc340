/* SPDX-License-Identifier: MIT */
/* Unit tests of the bridge: hostA's ivtd without a network, i.e. a broker
 * with a policy and the peers module on an event base, no interfaces. */
#ifndef IVT_TESTS_REMOTE_PEERS_FIXTURE_H
#define IVT_TESTS_REMOTE_PEERS_FIXTURE_H

struct peers_fixture {
	struct event_base *base;
	struct ivt_broker *b;
	struct ivt_peers *P;
};

/* Fails the test (cmocka) when the policy or anything else is refused. */
void peers_fixture_open(struct peers_fixture *pf, const char *policy_json);
void peers_fixture_close(struct peers_fixture *pf);

#endif
