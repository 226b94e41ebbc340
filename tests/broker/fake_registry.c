/* SPDX-License-Identifier: MIT */
#include "fake_registry.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fake_end *fe(struct ivt_reg_end *e) { return (struct fake_end *)e; }

static int f_reply_ok(struct ivt_reg_end *e, const struct ivt_ctrl_open_ok *ok)
{
	fe(e)->ok_count++;
	fe(e)->last_ok = *ok;
	return 0;
}

static int f_reply_error(struct ivt_reg_end *e, int err, const char *msg)
{
	fe(e)->err_count++;
	fe(e)->last_err = err;
	snprintf(fe(e)->last_msg, sizeof(fe(e)->last_msg), "%s", msg);
	return 0;
}

static int f_relay(struct ivt_reg_end *e, const void *blob, size_t len, const int *fds, int nfds)
{
	struct fake_end *f = fe(e);
	f->setups++;
	memcpy(f->setup_blob, blob, len);
	f->setup_len = len;
	f->setup_nfds = nfds;
	f->setup_fds_valid = 1;
	for (int i = 0; i < nfds; i++)
		if (fcntl(fds[i], F_GETFD) < 0)
			f->setup_fds_valid = 0;
	return f->relay_rc;
}

static int f_notify(struct ivt_reg_end *e, int event, uint32_t peer_domid)
{
	(void)peer_domid;
	struct fake_end *f = fe(e);
	if (f->n_peer_events < 8)
		f->peer_events[f->n_peer_events++] = event;
	return 0;
}

static int f_incoming(struct ivt_reg_end *e, uint32_t ticket, const struct ivt_identity *who,
		      uint32_t peer_domid)
{
	(void)peer_domid;
	struct fake_end *f = fe(e);
	if (f->n_tickets < 16) {
		f->tickets[f->n_tickets] = ticket;
		/* as registry_local.c puts it on the wire */
		ivt_identity_format(who, f->ticket_ids[f->n_tickets], sizeof(f->ticket_ids[0]));
		f->n_tickets++;
	}
	return 0;
}

static int f_peer_info(struct ivt_reg_end *e, const struct ivt_identity *who, uint32_t peer_domid,
		       uint32_t flags)
{
	(void)peer_domid;
	(void)flags;
	ivt_identity_format(who, fe(e)->peer_identity, sizeof(fe(e)->peer_identity));
	return 0;
}

static int f_attach_info(struct ivt_reg_end *e, const uint8_t cookie[IVT_CTRL_COOKIE_LEN])
{
	memcpy(fe(e)->cookie, cookie, IVT_CTRL_COOKIE_LEN);
	fe(e)->cookies++;
	return 0;
}

static int f_attach_ok(struct ivt_reg_end *e, uint64_t chan_id, int paired)
{
	fe(e)->attach_oks++;
	fe(e)->attach_chan_id = chan_id;
	fe(e)->last_paired = paired;
	return 0;
}

static const struct ivt_registry_ops fake_ops = {
	.name = "fake", .reply_ok = f_reply_ok, .reply_error = f_reply_error,
	.relay_setup = f_relay, .notify_peer = f_notify, .incoming = f_incoming,
	.peer_info = f_peer_info, .attach_info = f_attach_info, .attach_ok = f_attach_ok,
};

void fake_attach(struct fake_broker *fb, struct fake_end *f, const uint8_t *cookie,
		 const char *name, int is_server, const char *peer_identity, uint64_t ring)
{
	struct ivt_attach_request r;
	memset(&r, 0, sizeof(r));
	memcpy(r.cookie, cookie, sizeof(r.cookie));
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.backend, sizeof(r.backend), "shm");
	if (ivt_identity_parse(peer_identity, &r.peer) != 0)
		r.peer.kind = IVT_IDENTITY_NONE;
	r.ring_size = ring;
	r.is_server = is_server;
	fb->cb.attach(fb->cb.arg, &f->end, &r);
}

int fake_broker_init(struct fake_broker *fb, const char *policy_json, const char *source)
{
	memset(fb, 0, sizeof(*fb));
	char err[IVT_POLICY_ERR_MAX];
	struct ivt_policy *p = ivt_policy_load_string(policy_json, source, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	fb->b = ivt_broker_new(p);
	if (!fb->b) {
		ivt_policy_free(p);
		return -1;
	}
	ivt_broker_set_backend(fb->b, "shm", IVT_CAP_COLOCATED, 1, NULL);
	fb->cb = ivt_broker_callbacks(fb->b);
	fb->reg.ops = &fake_ops;
	fb->reg.cb = fb->cb;
	return 0;
}

void fake_broker_fini(struct fake_broker *fb)
{
	ivt_broker_free(fb->b);
	fb->b = NULL;
}

int fake_broker_setup(void **state, const char *policy_json, const char *source)
{
	struct fake_broker *x = calloc(1, sizeof(*x));
	if (!x || fake_broker_init(x, policy_json, source) != 0) {
		free(x);
		return -1;
	}
	*state = x;
	return 0;
}

int fake_broker_teardown(void **state)
{
	struct fake_broker *x = *state;
	fake_broker_fini(x);
	free(x);
	return 0;
}

void fake_end_init(struct fake_broker *fb, struct fake_end *f, const char *identity)
{
	memset(f, 0, sizeof(*f));
	f->end.reg = &fb->reg;
	if (ivt_identity_parse(identity, &f->end.who) != 0)
		abort(); /* the test wrote a non-identity */
}

struct fake_end *fake_end_new(struct fake_broker *fb, const char *identity)
{
	struct fake_end *f = calloc(1, sizeof(*f));
	if (!f)
		abort();
	fake_end_init(fb, f, identity);
	if (f->end.who.kind == IVT_IDENTITY_DOM) {
		f->end.domid = f->end.who.id;
		f->end.pid = -1;
	} else {
		f->end.uid = f->end.who.id;
		f->end.pid = 1234;
	}
	return f;
}

void fake_end_gone(struct fake_broker *fb, struct fake_end *f, int graceful)
{
	fb->cb.gone(fb->cb.arg, &f->end, graceful);
	free(f);
}

void fake_request(struct fake_broker *fb, struct fake_end *f, const char *name, int listen,
		  const char *backend, uint64_t ring)
{
	struct ivt_end_request r;
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.backend, sizeof(r.backend), "%s", backend ? backend : "");
	r.listen = listen;
	r.ring_size = ring;
	fb->cb.request(fb->cb.arg, &f->end, &r);
}

void fake_request_msg(struct fake_broker *fb, struct fake_end *f, const char *name, int listen,
		      int multi, uint32_t ticket, uint32_t wait_ms, int message)
{
	struct ivt_end_request r;
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	r.listen = listen;
	r.multi = multi;
	r.ticket = ticket;
	r.wait_ms = wait_ms;
	r.message = message;
	fb->cb.request(fb->cb.arg, &f->end, &r);
}

void fake_request_ex(struct fake_broker *fb, struct fake_end *f, const char *name, int listen,
		     int multi, uint32_t ticket, uint32_t wait_ms)
{
	fake_request_msg(fb, f, name, listen, multi, ticket, wait_ms, 0);
}
