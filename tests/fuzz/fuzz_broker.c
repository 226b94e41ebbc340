/* SPDX-License-Identifier: MIT */
/*
 * The broker's state machine under hostile local clients: up to 8 ends
 * (uid:0, uid:1000, uid:1001, dom:5) open, listen, listen for many,
 * accept real or made-up tickets, connect with any wait, send setups with
 * descriptors, re-attach with cookies they were given or made up, and go
 * away, in any order, through the fake registry of tests/broker (which
 * records every answer). The registry's own rule is kept: ATTACH only as
 * a connection's first request. Checks: no crash or sanitizer report, no
 * descriptor handed to the broker leaks once every end is gone, and the
 * status text stays a string.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "broker/fake_registry.h"
#include "common/ctrl_proto.h"
#include "fuzz_input.h"
#include "ivtd/core/broker.h"

#define SLOTS 8

static const char *policy_text =
	"{\"version\":1,\"channels\":["
	"{\"name\":\"svc\",\"listeners\":[\"uid:0\",\"uid:1000\"],\"connectors\":[\"*\"],"
	"\"backlog\":2,\"max_connections\":3},"
	"{\"name\":\"msg\",\"listeners\":[\"*\"],\"connectors\":[\"*\"],\"message\":true},"
	"{\"name\":\"one\",\"listeners\":[\"*\"],\"connectors\":[\"uid:*\"],"
	"\"peers_denied\":[[\"uid:0\",\"uid:1001\"]]}"
	"]}";

static const char *const names[] = {"svc", "msg", "one", "none"};
static const char *const ids[] = {"uid:0", "uid:1000", "uid:1001", "dom:5"};
static const char *const peers[] = {"uid:0", "uid:1000", "dom:5", "junk"};
static const uint64_t rings[] = {0, 4096, 1u << 20, ~0ull};
static const uint32_t waits[] = {0, 50, IVT_CTRL_WAIT_FOREVER, 1};

struct slot {
	struct fake_end *f;
	int opened;
};

static void gone(struct fake_broker *fb, struct slot *s, int graceful)
{
	if (!s->f)
		return;
	fake_end_gone(fb, s->f, graceful);
	s->f = NULL;
	s->opened = 0;
}

/* A ticket some listener was offered, or one made up. */
static uint32_t pick_ticket(struct fz *in, struct slot *slots)
{
	uint8_t b = fz_u8(in);
	struct fake_end *f = slots[b % SLOTS].f;
	if ((b & 0x80) || !f || !f->n_tickets)
		return fz_u8(in);
	return f->tickets[(b >> 3) % f->n_tickets];
}

static void request(struct fz *in, struct fake_broker *fb, struct slot *slots, struct slot *s)
{
	uint8_t b = fz_u8(in);
	struct ivt_end_request r;
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", names[b % 4]);
	r.listen = (b >> 2) & 1;
	r.multi = r.listen && ((b >> 3) & 1);
	r.ticket = r.listen && !r.multi && ((b >> 4) & 1) ? pick_ticket(in, slots) : 0;
	r.wait_ms = r.listen ? 0 : waits[(b >> 5) & 3];
	r.message = (b >> 7) & 1;
	r.ring_size = rings[fz_u8(in) & 3];
	s->opened = 1;
	fb->cb.request(fb->cb.arg, &s->f->end, &r);
}

static void setup(struct fz *in, struct fake_broker *fb, struct slot *s)
{
	uint8_t b = fz_u8(in);
	int fds[IVT_OOB_FDS_MAX], nfds = b % 3;
	for (int i = 0; i < nfds; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	size_t len;
	const uint8_t *blob = fz_bytes(in, IVT_OOB_BLOB_MAX, &len);
	s->f->relay_rc = (b & 0x80) ? -EPIPE : 0; /* the peer's socket may fail */
	fb->cb.setup(fb->cb.arg, &s->f->end, blob, len, fds, nfds); /* the broker's now */
}

static void attach(struct fz *in, struct fake_broker *fb, struct slot *slots, struct slot *s)
{
	uint8_t b = fz_u8(in);
	uint8_t cookie[IVT_CTRL_COOKIE_LEN];
	struct fake_end *from = slots[fz_u8(in) % SLOTS].f;
	if ((b & 1) && from && from->cookies)
		memcpy(cookie, from->cookie, sizeof(cookie));
	else
		for (size_t i = 0; i < sizeof(cookie); i++)
			cookie[i] = fz_u8(in);
	s->opened = 1;
	fake_attach(fb, s->f, cookie, names[(b >> 1) & 3], (b >> 3) & 1, peers[(b >> 4) & 3],
		    rings[(b >> 6) & 3]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake_broker fb;
	int low = fz_lowest_free_fd();
	if (fake_broker_init(&fb, policy_text, "fuzz.json") != 0)
		abort();
	struct slot slots[SLOTS] = {{0}};
	struct fz in = fz_init(data, size);
	for (int steps = 0; in.left && steps < 256; steps++) {
		uint8_t op = fz_u8(&in);
		struct slot *s = &slots[(op >> 3) % SLOTS];
		switch (op & 7) {
		case 0:
			gone(&fb, s, 0);
			s->f = fake_end_new(&fb, ids[fz_u8(&in) & 3]);
			break;
		case 1:
			if (s->f)
				request(&in, &fb, slots, s);
			break;
		case 2:
			if (s->f)
				setup(&in, &fb, s);
			break;
		case 3:
			gone(&fb, s, fz_u8(&in) & 1);
			break;
		case 4:
			if (s->f && !s->opened)
				attach(&in, &fb, slots, s);
			break;
		case 5:
			ivt_broker_tick(fb.b);
			break;
		default: {
			char buf[512];
			size_t n = ivt_broker_status(fb.b, buf, sizeof(buf));
			FZ_CHECK(n < sizeof(buf) && memchr(buf, '\0', sizeof(buf)));
			break;
		}
		}
	}
	for (int i = 0; i < SLOTS; i++)
		gone(&fb, &slots[i], 0);
	fake_broker_fini(&fb);
	FZ_CHECK(fz_lowest_free_fd() == low); /* every setup fd closed */
	return 0;
}
