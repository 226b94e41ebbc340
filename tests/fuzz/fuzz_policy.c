/* SPDX-License-Identifier: MIT */
/*
 * The policy loader (src/ivtd/policy/policy_load.c) on arbitrary text: ivtd
 * loads it at start and on every reload, so a bad file must be refused
 * with a message, never crash. A policy that loads is then asked a few
 * questions (src/ivtd/policy/policy.c).
 */
#include "fuzz_input.h"
#include "ivtd/policy/policy.h"
#include "testsupport/id_text.h"

/* The plugins the tree ships, with the capabilities they declare. */
static const struct ivt_backend_info backends[] = {
	{.name = "shm", .caps = IVT_CAP_COLOCATED, .available = 1},
	{.name = "slurpoe", .caps = IVT_CAP_REMOTE | IVT_CAP_RDMA, .available = 1},
	{.name = "vchan",
	 .caps = IVT_CAP_COLOCATED | IVT_CAP_NEEDS_XEN | IVT_CAP_PEER_BOUND | IVT_CAP_XS_PATH,
	 .available = 1},
	{.name = "verbs", .caps = IVT_CAP_REMOTE | IVT_CAP_RDMA | IVT_CAP_OPT_IN, .available = 0,
	 .why = "no RDMA device"},
};

static void ask(const struct ivt_policy *p, const char *channel, const char *who, int listener)
{
	struct ivt_policy_query q = {
		.channel = channel, .identity = ID(who), .is_listener = listener,
		.colocated = 1, .backends = backends, .n_backends = 4,
		.peer_identity = listener ? NULL : ID("uid:0"),
		.granted_backend = listener ? NULL : "shm",
		.granted_ring_size = listener ? 0 : 65536,
	};
	struct ivt_policy_decision d;
	(void)ivt_policy_decide(p, &q, &d);
	FZ_CHECK(memchr(d.reason, '\0', sizeof(d.reason)) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[512];
	memcpy(text, data, size);
	text[size] = '\0';
	struct ivt_policy *p = ivt_policy_load_string(text, "fuzz.json", err, sizeof(err));
	if (p) {
		for (size_t i = 0; i < p->n_channels && i < 4; i++) {
			ask(p, p->channels[i].pattern, "uid:1000", 1);
			ask(p, p->channels[i].pattern, "dom:3", 0);
		}
		ask(p, "ivt.utmem", "uid:1000", 0);
		char note[512];
		int cut = ivt_policy_root_reserve_text(p, 114, "a table", note, sizeof(note));
		FZ_CHECK(cut == (ivt_policy_root_reserve(&p->limits, 114) != p->limits.root_reserve &&
				 p->root_reserve_line > 0));
		ivt_policy_free(p);
	} else {
		FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0]);
	}
	free(text);
	return 0;
}
