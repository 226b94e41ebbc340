/* SPDX-License-Identifier: MIT */
/* The environments plugins need, and opening a pair of ends. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/xs_paths.h"
#include "conformance.h"
#include "testsupport/ep_io.h"
#include "testsupport/plugin_find.h"

const struct ivt_plugin_ops *conf_ops;
const char *conf_plugin;

/* slurpoe: one veth pair in a private network namespace, one end each. */
static int enter_veth(char *why, size_t why_len)
{
	if (unshare(CLONE_NEWNET) != 0) {
		snprintf(why, why_len, "cannot create a network namespace (%s): run as root",
			 strerror(errno));
		return 1;
	}
	if (system("ip link add ca type veth peer name cb && ip link set ca up && "
		   "ip link set cb up") != 0) {
		snprintf(why, why_len, "cannot create the veth pair");
		return -1;
	}
	return 0;
}

static void side_veth(int is_server) { setenv("IVT_SLURPOE_IF", is_server ? "ca" : "cb", 1); }

/* verbs: the RDMA device tests/verbs/rxe-test.sh set up. */
static int enter_rdma_dev(char *why, size_t why_len)
{
	if (!getenv("IVT_VERBS_DEVICE")) {
		snprintf(why, why_len, "IVT_VERBS_DEVICE unset (tests/verbs/rxe-test.sh sets it up)");
		return 1;
	}
	return 0;
}

/* vchan: a Xen domain (both ends in it); IVT_CONF_DOMID names it. */
static int enter_xen(char *why, size_t why_len)
{
	if (access("/dev/xen/gntalloc", F_OK) != 0) {
		snprintf(why, why_len, "not a Xen domain (no /dev/xen/gntalloc)");
		return 1;
	}
	return 0;
}

static const struct env {
	const char *plugin;
	int (*enter)(char *why, size_t why_len);
	void (*side)(int is_server);
} envs[] = {
	{"slurpoe", enter_veth, side_veth},
	{"verbs", enter_rdma_dev, NULL},
	{"vchan", enter_xen, NULL},
	/* anything else (shm, a new plugin): nothing to prepare */
};

static const struct env *env;

int conf_env_enter(const char *plugin, char *why, size_t why_len)
{
	conf_plugin = plugin;
	for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++)
		if (!strcmp(envs[i].plugin, plugin))
			env = &envs[i];
	int rc = env && env->enter ? env->enter(why, why_len) : 0;
	if (rc != 0)
		return rc;
	conf_ops = ts_plugin_load(plugin, why, why_len);
	if (!conf_ops)
		return -1;
	char pwhy[256] = "";
	conf_env_side(1);
	if (conf_ops->probe(pwhy, sizeof(pwhy)) != 0) {
		snprintf(why, why_len, "probe: %s", pwhy);
		conf_ops = NULL;
		return 1;
	}
	return 0;
}

void conf_env_side(int is_server)
{
	if (env && env->side)
		env->side(is_server);
}

static uint32_t own_domid(void)
{
	const char *d = getenv("IVT_CONF_DOMID");
	return d ? (uint32_t)strtoul(d, NULL, 10) : 0;
}

struct ivt_ep_params conf_params(const char *chan, int is_server, size_t ring,
				 const struct ivt_oob *oob, int timeout_ms)
{
	static char xs_path[IVT_XS_VCHAN_PATH_MAX + 1];
	static unsigned serial;
	struct ivt_ep_params p = {.channel = chan, .is_server = is_server,
				  .local_domid = own_domid(), .peer_domid = own_domid(),
				  .ring_size = ring, .oob = oob, .timeout_ms = timeout_ms};
	if (conf_ops->caps & IVT_CAP_XS_PATH) {
		/* The listener gets a fresh path; its connector the same one. */
		if (is_server && ivt_xs_vchan_path(xs_path, sizeof(xs_path), p.local_domid, chan,
						   ++serial) != 0)
			xs_path[0] = '\0';
		p.xs_path = xs_path;
	}
	return p;
}

struct connector {
	struct conf_pair *p;
	size_t ring;
	int rc;
};

static void *connect_thread(void *arg)
{
	struct connector *c = arg;
	struct ivt_ep_params prm = conf_params("conf", 0, c->ring, &c->p->ob.oob, CONF_TMO);
	c->rc = conf_ops->connect(&prm, &c->p->cli);
	return NULL;
}

void conf_pair_open(struct conf_pair *p, size_t ring)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(oob_pair_open(&p->oa, &p->ob), 0);
	conf_env_side(1);
	struct ivt_ep_params prm = conf_params("conf", 1, ring, &p->oa.oob, CONF_TMO);
	assert_int_equal(conf_ops->listen(&prm, &p->srv), 0);
	/* connect may wait for the listener's side: give it a thread */
	conf_env_side(0);
	struct connector c = {.p = p, .ring = ring};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, connect_thread, &c), 0);
	int rc = ep_accept_wait(conf_ops, p->srv, CONF_TMO);
	pthread_join(t, NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(rc, 0);
	/* One byte each way: both ends have heard each other (a connector
	 * may still be completing its handshake when connect returns). */
	uint8_t b = 0x5a;
	assert_int_equal(ep_send_all(conf_ops, p->srv, &b, 1, CONF_TMO), 1);
	assert_int_equal(ep_recv_all(conf_ops, p->cli, &b, 1, CONF_TMO), 1);
	assert_int_equal(ep_send_all(conf_ops, p->cli, &b, 1, CONF_TMO), 1);
	assert_int_equal(ep_recv_all(conf_ops, p->srv, &b, 1, CONF_TMO), 1);
	assert_int_equal(b, 0x5a);
}

void conf_pair_close(struct conf_pair *p)
{
	if (p->cli)
		conf_ops->close(p->cli);
	if (p->srv)
		conf_ops->close(p->srv);
	p->cli = p->srv = NULL;
	oob_end_close(&p->oa);
	oob_end_close(&p->ob);
}

uint8_t conf_stream_byte(uint64_t i)
{
	uint64_t z = (i >> 3) + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (uint8_t)(z >> (8 * (i & 7)));
}

void conf_drive(struct ivt_ep *a, struct ivt_ep *b, int ms)
{
	struct pollfd p[2] = {{.fd = conf_ops->poll_fd(a), .events = POLLIN},
			      {.fd = conf_ops->poll_fd(b), .events = POLLIN}};
	conf_ops->arm(a, IVT_EV_RECV | IVT_EV_COMPLETION);
	conf_ops->arm(b, IVT_EV_RECV | IVT_EV_COMPLETION);
	poll(p, 2, ms);
	conf_ops->ack(a);
	conf_ops->ack(b);
}
