/* SPDX-License-Identifier: MIT */
/*
 * ivtd's XenStore registry (src/ivtd/registries/registry_xs.c) with the real
 * libxenstore against the fake xenstored of tests/xs: the input is what
 * guests (dom3..dom5) write and remove under their own
 * /local/domain/<d>/data/ivt, including names and paths of any shape,
 * slots (<name>/<n>/request) and listeners that accept many (multi=1:
 * the fake broker offers and withdraws tickets), and when they die. The fake broker answers every request it is handed
 * (ok, error or a peer event, picked by the input), so the answer paths
 * run on guest-chosen values too. After each input everything is
 * removed, and a sentinel request from dom6 must still be served: the
 * registry never stops answering, and every end it reported is reported
 * gone.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <event2/event.h>

#include "common/log.h"
#include "fake_xenstored.h"
#include "fuzz_input.h"
#include "ivtd/registries/registry.h"

#define SENTINEL_DOM 6

static struct event_base *base;
static struct ivt_registry *reg;
static struct {
	struct fz *in;
	int live;              /* ends reported and not yet gone */
	int sentinel_seen, sentinel_gone;
	char sentinel[32];
} st;

static void on_request(void *arg, struct ivt_reg_end *end, const struct ivt_end_request *req)
{
	st.live++;
	FZ_CHECK(end->domid >= 3 && end->domid <= SENTINEL_DOM);
	FZ_CHECK(memchr(req->name, '\0', sizeof(req->name)) && req->name[0]);
	if (!strcmp(req->name, st.sentinel)) {
		st.sentinel_seen = 1;
		return;
	}
	uint8_t how = st.in ? fz_u8(st.in) : 0;
	struct ivt_ctrl_open_ok ok = {.chan_id = how, .ring_size = req->ring_size,
				      .is_server = (uint32_t)req->listen, .local_domid = end->domid,
				      .peer_domid = how & 1 ? 3 : end->domid};
	snprintf(ok.backend, sizeof(ok.backend), "vchan");
	snprintf(ok.xs_path, sizeof(ok.xs_path), "/local/domain/%u/data/ivt/%s/vchan",
		 req->listen ? end->domid : ok.peer_domid, req->name);
	if (req->multi) { /* a listener: offer a connector, maybe take it back */
		(void)reg->ops->incoming(end, 1u + how, "dom:4", 4);
		if (how & 2)
			reg->ops->withdrawn(end, 1u + how);
	}
	switch (how % 4) {
	case 0: (void)reg->ops->reply_ok(end, &ok); break;
	case 1: (void)reg->ops->reply_error(end, -EACCES, "fuzz says no"); break;
	case 2: (void)reg->ops->notify_peer(end, 1 + (how >> 2) % 3, how >> 4); break;
	default: break; /* no answer yet */
	}
}

static void on_gone(void *arg, struct ivt_reg_end *end, int graceful)
{
	st.live--;
	FZ_CHECK(st.live >= 0);
	if (end->domid == SENTINEL_DOM)
		st.sentinel_gone = 1;
}

/* Run the loop until *flag is set. A registry that stops serving is a bug:
 * give up loudly after a while. */
static void pump_until(const int *flag)
{
	time_t give_up = time(NULL) + 20;
	struct timeval tick = {0, 2000};
	while (!*flag) {
		FZ_CHECK(time(NULL) < give_up);
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char why[256] = "";
	ivt_log_set_level(IVT_LOG_ERR - 1); /* refusals are expected; keep the output readable */
	if (fx_start())
		abort();
	fx_write("/local/domain/0/name", "Domain-0");
	for (int d = 3; d <= SENTINEL_DOM; d++) {
		char p[64];
		snprintf(p, sizeof(p), "/local/domain/%d/name", d);
		fx_write(p, "guest");
		fx_set_introduced((uint32_t)d, 1);
	}
	base = event_base_new();
	struct ivt_broker_cb cb = {.request = on_request, .gone = on_gone};
	reg = ivt_registry_xs_new(base, &cb, why, sizeof(why));
	if (!reg) {
		fprintf(stderr, "registry: %s\n", why);
		abort();
	}
	return 0;
}

/* A C string of up to max bytes from the input (NULs end it early). */
static void take_str(struct fz *f, char *out, size_t max)
{
	size_t n;
	const uint8_t *p = fz_bytes(f, max, &n);
	memcpy(out, p, n);
	out[n] = '\0';
}

static void one_op(struct fz *f)
{
	static const char *const names[] = {"a", "demo", "x.y", "-"};
	char name[80], value[300], path[512], slot[16] = "";
	uint8_t op = fz_u8(f);
	if (op & 0x80) /* one more end of the name: <name>/<slot> */
		snprintf(slot, sizeof(slot), "/%u", fz_u8(f));
	unsigned dom = 3 + (op >> 2) % 3;
	if (op & 0x40)
		take_str(f, name, 72);
	else
		snprintf(name, sizeof(name), "%s", names[(op >> 4) & 3]);
	switch (op & 3) {
	case 0: /* a guest writes a request */
		take_str(f, value, 260);
		snprintf(path, sizeof(path), "/local/domain/%u/data/ivt/%s%s/request", dom, name,
			 slot);
		fx_write(path, value);
		break;
	case 1: /* a guest closes: removes its node */
		snprintf(path, sizeof(path), "/local/domain/%u/data/ivt/%s%s", dom, name, slot);
		fx_rm(path);
		break;
	case 2: /* any other node under the guest's subtree */
		take_str(f, value, 40);
		snprintf(path, sizeof(path), "/local/domain/%u/data/%s", dom, name);
		fx_write(path, value);
		break;
	default: /* the domain dies and comes back */
		fx_set_introduced(dom, 0);
		fx_fire("@releaseDomain");
		fx_set_introduced(dom, 1);
		fx_fire("@introduceDomain");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned round;
	struct fz f = fz_init(data, size);
	st.in = &f;
	for (int i = 0; i < 24 && f.left; i++) {
		one_op(&f);
		event_base_loop(base, EVLOOP_NONBLOCK); /* serve what already arrived */
	}
	/* Everyone leaves; then the sentinel must be served and see its end go. */
	for (int d = 3; d <= 5; d++) {
		char p[64];
		snprintf(p, sizeof(p), "/local/domain/%d/data", d);
		fx_rm(p);
	}
	snprintf(st.sentinel, sizeof(st.sentinel), "sentinel%u", ++round);
	char path[128];
	snprintf(path, sizeof(path), "/local/domain/%d/data/ivt/%s/request", SENTINEL_DOM,
		 st.sentinel);
	st.sentinel_seen = st.sentinel_gone = 0;
	fx_write(path, "listen seq=1");
	pump_until(&st.sentinel_seen);
	snprintf(path, sizeof(path), "/local/domain/%d/data/ivt/%s", SENTINEL_DOM, st.sentinel);
	fx_rm(path);
	pump_until(&st.sentinel_gone);
	FZ_CHECK(st.live == 0);
	st.in = NULL;
	return 0;
}
