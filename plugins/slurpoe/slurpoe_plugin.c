/* SPDX-License-Identifier: MIT */
/*
 * ivt plugin "slurpoe": a channel end is one SLURPoE connection over raw
 * Ethernet (src/slurpoe). Stand-alone mode: every endpoint owns a raw
 * socket and an engine on the interface named by $IVT_SLURPOE_IF, read at
 * listen/connect time. (ivtd will instead drive one shared engine per
 * host from libevent; see docs/slurpoe.md.)
 *
 * Setup: the listener picks a random endpoint id and publishes
 * "slurpoe1 mac=XX:XX:XX:XX:XX:XX ep=N" through the oob channel, followed
 * by " udp=A.B.C.D:PORT" when it also listens on the UDP carrier; the
 * connector validates that text strictly and connects.
 *
 * Carriers (docs/slurpoe.md, "Over UDP"): as ivtd, the listener listens
 * on raw frames and, where the interface has an IPv4 address, on UDP (a
 * port of the kernel's choosing per endpoint: ivtd holds 34997); the
 * connector uses UDP when the blob names an address it can reach, raw
 * frames otherwise ($IVT_SLURPOE_CARRIER: auto, the default; raw; udp),
 * by src/slurpoe/carrier.c's rule, and logs which and why.
 *
 * Waiting: poll_fd() is an epoll fd holding the raw socket and a timerfd
 * armed at the engine's next deadline, so retransmissions happen while the
 * host sleeps in poll().
 *
 * One-sided ops are native: rdma_write/rdma_read/poll_completions are the
 * engine's slp_rdma_write/slp_rdma_read/slp_poll_cq on the connection.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "common/plugin_log.h"
#include "ivt/plugin.h"
#include "slurpoe/carrier.h"
#include "slurpoe/loop.h"

#define WHO "slurpoe"
#define BLOB_MAGIC "slurpoe1"
/* Largest one-sided op slp_rdma_write/read take (engine.h: "-EMSGSIZE
 * beyond 1 GiB"); libivt splits larger ones. */
#define RDMA_MAX_LEN (1u << 30)

struct ivt_ep {
	/* The engine is not thread-safe, and plugin.h lets a sender, a
	 * receiver and their waiters call in at once: every op but close
	 * holds this. */
	pthread_mutex_t lock;
	struct slp_loop lp[2]; /* [0] raw frames, [1] UDP; either may be unopened */
	struct slp_loop *act;  /* the one carrying conn (a listener's: raw until it accepts) */
	struct slp_conn *conn;
	int epfd, tfd;
	uint32_t ep;
	int cq_ready; /* the engine said SLP_EV_COMPLETION; cleared when the CQ was drained */
};

static const struct ivt_plugin_host *host;

static void slurpoe_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void slurpoe_log(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ivt_plugin_vlog(host, WHO, level, fmt, ap);
	va_end(ap);
}
#define LOG slurpoe_log

static int plugin_init(const struct ivt_plugin_host *h)
{
	host = h;
	return 0;
}

static const char *iface(void)
{
	const char *i = getenv("IVT_SLURPOE_IF");
	return i && *i ? i : NULL;
}

/* $IVT_SLURPOE_CARRIER: "auto" (default), "raw" or "udp"; -1 otherwise. */
static int carrier_mode(void)
{
	const char *c = getenv("IVT_SLURPOE_CARRIER");
	if (!c || !*c || !strcmp(c, "auto"))
		return SLP_CARRIER_AUTO;
	return !strcmp(c, "raw") ? SLP_CARRIER_RAW : !strcmp(c, "udp") ? SLP_CARRIER_UDP : -1;
}

static int plugin_probe(char *why, size_t why_len)
{
	if (carrier_mode() < 0) {
		snprintf(why, why_len, "$IVT_SLURPOE_CARRIER is not auto, raw or udp");
		return -EINVAL;
	}
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int err = errno;
		snprintf(why, why_len, "raw sockets unavailable (needs CAP_NET_RAW): %s",
			 strerror(err));
		return -err;
	}
	close(fd);
	const char *i = iface();
	if (!i) {
		/* ivtd's own bridging between hosts does not need this backend
		 * ("hosts" in the policy): say so, it reads as a failure */
		snprintf(why, why_len, "no interface configured ($IVT_SLURPOE_IF; only for "
				       "channels on this backend: bridging to other hosts is "
				       "configured by the policy's \"hosts\")");
		return -ENODEV;
	}
	if (!if_nametoindex(i)) {
		snprintf(why, why_len, "interface '%s' not found", i);
		return -ENODEV;
	}
	return 0;
}

/* Sleep until the engine's next deadline (or never). */
static void arm_timer(struct ivt_ep *e)
{
	struct itimerspec its = {0};
	uint64_t d = UINT64_MAX;
	for (int i = 0; i < 2; i++)
		if (e->lp[i].engine && slp_loop_deadline(&e->lp[i]) < d)
			d = slp_loop_deadline(&e->lp[i]);
	if (d != UINT64_MAX) {
		uint64_t now = slp_clock_us();
		uint64_t in = d > now ? d - now : 1;
		its.it_value.tv_sec = (time_t)(in / 1000000);
		its.it_value.tv_nsec = (long)(in % 1000000) * 1000;
	}
	timerfd_settime(e->tfd, 0, &its, NULL);
}

static void progress(struct ivt_ep *e)
{
	for (int i = 0; i < 2; i++) {
		struct slp_loop *l = &e->lp[i];
		if (!l->engine)
			continue;
		slp_loop_process(l);
		unsigned ev;
		struct slp_conn *c;
		while ((c = slp_engine_next_event(l->engine, &ev))) {
			if ((ev & SLP_EV_ACCEPTED) && !e->conn) {
				e->conn = c;
				e->act = l;
				LOG(IVT_LOG_DEBUG, "accepted over the %s carrier",
				    slp_carrier_name(i ? SLP_CARRIER_IS_UDP : SLP_CARRIER_IS_RAW));
			} else if ((ev & SLP_EV_ACCEPTED) && c != e->conn) {
				slp_conn_free(c); /* one peer per channel end */
			}
			if (c == e->conn && (ev & SLP_EV_COMPLETION))
				e->cq_ready = 1;
		}
	}
	arm_timer(e);
}

static void close_loop(struct ivt_ep *e, int i)
{
	if (!e->lp[i].engine)
		return;
	if (e->epfd >= 0)
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, slp_loop_fd(&e->lp[i]), NULL);
	slp_loop_close(&e->lp[i]);
	memset(&e->lp[i], 0, sizeof(e->lp[i]));
	if (e->act == &e->lp[i])
		e->act = NULL;
}

static void ep_free(struct ivt_ep *e)
{
	close_loop(e, 0);
	close_loop(e, 1);
	if (e->epfd >= 0)
		close(e->epfd);
	if (e->tfd >= 0)
		close(e->tfd);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

/* An endpoint without engines yet (open_loop adds them). */
static int ep_new(struct ivt_ep **out)
{
	if (!iface())
		return -ENODEV;
	struct ivt_ep *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	e->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct epoll_event b = {.events = EPOLLIN};
	if (e->epfd < 0 || e->tfd < 0 || epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->tfd, &b)) {
		int err = -errno;
		ep_free(e);
		return err;
	}
	*out = e;
	return 0;
}

/* Engine i (0 raw frames, 1 UDP on a port of its own) on the interface.
 * 0, or -errno with the reason in why. */
static int open_loop(struct ivt_ep *e, int i, char *why, size_t why_len)
{
	struct slp_loop_opts o = {.ifname = iface(), .impair = getenv("IVT_SLURPOE_IMPAIR"),
				  .rawsock_flags = i ? SLP_RS_UDP | SLP_RS_UDP_EPHEMERAL : 0,
				  .why = why, .why_len = why_len};
	int err = slp_loop_open(&e->lp[i], &o);
	if (err) {
		memset(&e->lp[i], 0, sizeof(e->lp[i]));
		return err;
	}
	/* Several endpoints may share the interface in one host: never
	 * answer frames for endpoints we don't know with RESET. */
	slp_engine_set_no_reset(e->lp[i].engine, 1);
	struct epoll_event a = {.events = EPOLLIN};
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, slp_loop_fd(&e->lp[i]), &a)) {
		err = -errno;
		snprintf(why, why_len, "epoll: %s", strerror(-err));
		slp_loop_close(&e->lp[i]);
		memset(&e->lp[i], 0, sizeof(e->lp[i]));
		return err;
	}
	if (!e->act)
		e->act = &e->lp[i];
	return 0;
}

static int plugin_listen(const struct ivt_ep_params *p, struct ivt_ep **out)
{
	if (!p || !p->oob)
		return -EINVAL;
	int mode = carrier_mode();
	if (mode < 0)
		return -EINVAL;
	struct ivt_ep *e;
	int err = ep_new(&e);
	if (err)
		return err;
	/* Both carriers (as ivtd): the connector picks. Raw frames are
	 * needed unless UDP is forced; UDP is optional unless forced. */
	char why[200];
	if (mode != SLP_CARRIER_UDP && (err = open_loop(e, 0, why, sizeof(why)))) {
		ep_free(e);
		return err;
	}
	if (mode != SLP_CARRIER_RAW && (err = open_loop(e, 1, why, sizeof(why)))) {
		if (mode == SLP_CARRIER_UDP) {
			LOG(IVT_LOG_WARN, "$IVT_SLURPOE_CARRIER says udp: %s", why);
			ep_free(e);
			return err;
		}
		LOG(IVT_LOG_DEBUG, "listening on raw frames only: %s", why);
		err = 0;
	}
	do {
		if (getrandom(&e->ep, sizeof(e->ep), 0) != sizeof(e->ep)) {
			ep_free(e);
			return -EIO;
		}
	} while (!e->ep);
	for (int i = 0; i < 2 && !err; i++)
		if (e->lp[i].engine)
			err = slp_listen(e->lp[i].engine, e->ep, NULL);
	const uint8_t *m = slp_rawsock_mac(e->act->rs);
	char blob[128], ip[INET_ADDRSTRLEN] = "";
	int n = snprintf(blob, sizeof(blob), BLOB_MAGIC " mac=%02x:%02x:%02x:%02x:%02x:%02x ep=%u",
			 m[0], m[1], m[2], m[3], m[4], m[5], e->ep);
	uint32_t a;
	uint16_t port;
	if (e->lp[1].engine && !slp_rawsock_udp_local(e->lp[1].rs, &a, &port) &&
	    inet_ntop(AF_INET, &a, ip, sizeof(ip)))
		n += snprintf(blob + n, sizeof(blob) - (size_t)n, " udp=%s:%u", ip, ntohs(port));
	if (!err)
		err = p->oob->send(p->oob->ctx, blob, (size_t)n, NULL, 0);
	if (err) {
		ep_free(e);
		return err < 0 ? err : -EIO;
	}
	arm_timer(e);
	*out = e;
	return 0;
}

static int accept_unlocked(struct ivt_ep *e)
{
	progress(e);
	return e->conn && slp_conn_state(e->conn) == SLP_ST_OPEN ? 0 : -EAGAIN;
}

/* Parse the listener's blob; it comes from the other side: strict. The
 * UDP address is optional (*ip 0 when absent). */
static int parse_blob(const char *b, size_t len, uint8_t mac[6], uint32_t *ep, uint32_t *ip,
		      uint16_t *port)
{
	char s[128];
	if (len == 0 || len >= sizeof(s) || memchr(b, 0, len))
		return -EPROTO;
	memcpy(s, b, len);
	s[len] = 0;
	unsigned v[6];
	unsigned long e;
	int used = 0;
	if (sscanf(s, BLOB_MAGIC " mac=%2x:%2x:%2x:%2x:%2x:%2x ep=%lu%n", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &e, &used) != 7 ||
	    e == 0 || e > UINT32_MAX || (v[0] & 1))
		return -EPROTO;
	*ip = 0;
	*port = 0;
	if ((size_t)used != len) {
		char a[16];
		unsigned p;
		int more = 0;
		struct in_addr in;
		if (sscanf(s + used, " udp=%15[0-9.]:%5u%n", a, &p, &more) != 2 ||
		    (size_t)(used + more) != len || s[used] != ' ' || s[used + 1] != 'u' ||
		    inet_pton(AF_INET, a, &in) != 1 || !in.s_addr || p == 0 || p > 65535)
			return -EPROTO;
		*ip = in.s_addr;
		*port = htons((uint16_t)p);
	}
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	*ep = (uint32_t)e;
	return 0;
}

/* The connector's engine: UDP when the listener named an address we can
 * use (carrier.h), raw frames otherwise. 0 with e->act set, or -errno. */
static int connect_carrier(struct ivt_ep *e, int mode, const uint8_t mac[6], uint32_t ip,
			   uint16_t port)
{
	char ipt[INET_ADDRSTRLEN] = "", no_udp[200] = "", pin_err[160] = "", why[400];
	if (ip)
		inet_ntop(AF_INET, &ip, ipt, sizeof(ipt));
	int have_udp = 0, pinned = 0;
	if (mode != SLP_CARRIER_RAW && ip && !open_loop(e, 1, no_udp, sizeof(no_udp))) {
		have_udp = 1;
		pinned = !slp_rawsock_udp_pin(e->lp[1].rs, mac, ip, port, pin_err, sizeof(pin_err));
	} else if (mode != SLP_CARRIER_RAW && ip) {
		/* no_udp says why */
	} else if (mode == SLP_CARRIER_UDP) {
		snprintf(no_udp, sizeof(no_udp), "the listener has no UDP carrier");
	}
	struct slp_carrier_ask a = {
		.mode = (enum slp_carrier_mode)mode,
		.mode_src = "$IVT_SLURPOE_CARRIER says",
		.ifname = iface(),
		.addr = ip ? ipt : NULL,
		.addr_src = "the listener's UDP address",
		.no_addr = "the listener has no UDP carrier",
		.no_udp = have_udp || !no_udp[0] ? NULL : no_udp,
		.pin_err = have_udp && !pinned ? pin_err : NULL,
	};
	int c = slp_carrier_pick(&a, why, sizeof(why));
	if (c < 0) {
		LOG(IVT_LOG_WARN, "cannot connect: %s", why);
		return c;
	}
	if (c == SLP_CARRIER_IS_UDP) {
		e->act = &e->lp[1];
	} else {
		close_loop(e, 1);
		char rwhy[200];
		int err = open_loop(e, 0, rwhy, sizeof(rwhy));
		if (err)
			return err;
		e->act = &e->lp[0];
	}
	LOG(IVT_LOG_INFO, "connecting over the %s carrier: %s", slp_carrier_name((enum slp_carrier)c),
	    why);
	return 0;
}

static int plugin_connect(const struct ivt_ep_params *p, struct ivt_ep **out)
{
	if (!p || !p->oob)
		return -EINVAL;
	char blob[IVT_OOB_BLOB_MAX];
	int fds[IVT_OOB_FDS_MAX], nfds = 0;
	int n = p->oob->recv(p->oob->ctx, blob, sizeof(blob), fds, &nfds, p->timeout_ms);
	for (int i = 0; i < nfds; i++)
		close(fds[i]); /* we expect none */
	if (n < 0)
		return n;
	uint8_t mac[6];
	uint32_t ep, ip;
	uint16_t port;
	if (parse_blob(blob, (size_t)n, mac, &ep, &ip, &port)) {
		LOG(IVT_LOG_WARN, "malformed setup blob from the peer");
		return -EPROTO;
	}
	int mode = carrier_mode();
	if (mode < 0)
		return -EINVAL;
	struct ivt_ep *e;
	int err = ep_new(&e);
	if (err)
		return err;
	if ((err = connect_carrier(e, mode, mac, ip, port))) {
		ep_free(e);
		return err;
	}
	err = slp_connect(e->act->engine, mac, ep, 0, NULL, &e->conn);
	if (err) {
		ep_free(e);
		return err;
	}
	progress(e);
	*out = e;
	return 0;
}

static ssize_t send_unlocked(struct ivt_ep *e, const void *buf, size_t len)
{
	progress(e);
	if (!e->conn)
		return -EAGAIN;
	/* A plugin endpoint closes both ways at once (plugin.h): the peer
	 * will never read what we would send now. */
	if (slp_conn_peer_closed(e->conn)) /* (a RESET may follow its CLOSE) */
		return -EPIPE;
	ssize_t r = slp_send(e->conn, buf, len);
	if (r == -ETIMEDOUT)
		r = -ECONNRESET; /* the ABI's word for a dead peer */
	arm_timer(e);
	return r;
}

static ssize_t recv_unlocked(struct ivt_ep *e, void *buf, size_t len)
{
	progress(e);
	if (!e->conn)
		return -EAGAIN;
	ssize_t r = slp_recv(e->conn, buf, len);
	if (r == -ETIMEDOUT)
		r = -ECONNRESET;
	arm_timer(e);
	return r;
}

static int arm_unlocked(struct ivt_ep *e, unsigned events)
{
	progress(e);
	if (!e->conn)
		return 0;
	unsigned ready = 0;
	enum slp_state st = slp_conn_state(e->conn);
	int dead = st == SLP_ST_FAILED || st == SLP_ST_CLOSED;
	if ((events & IVT_EV_RECV) && (dead || slp_conn_readable(e->conn)))
		ready |= IVT_EV_RECV;
	if ((events & IVT_EV_SEND) &&
	    (dead || slp_conn_peer_closed(e->conn) || slp_send_space(e->conn) > 0))
		ready |= IVT_EV_SEND;
	if ((events & IVT_EV_COMPLETION) && (dead || e->cq_ready))
		ready |= IVT_EV_COMPLETION;
	return (int)ready;
}

static int plugin_poll_fd(struct ivt_ep *e) { return e->epfd; }

static void ack_unlocked(struct ivt_ep *e)
{
	uint64_t expirations;
	while (read(e->tfd, &expirations, sizeof(expirations)) > 0)
		;
	progress(e);
}

static int register_unlocked(struct ivt_ep *e, void *addr, size_t len, unsigned access,
			   uint64_t *key)
{
	if (!e->conn)
		return -ENOTCONN;
	/* IVT_ACCESS_REMOTE_WRITE/READ have the engine's values. */
	return slp_register_region(e->conn, addr, len, access, key);
}

static int deregister_unlocked(struct ivt_ep *e, uint64_t key)
{
	return e->conn ? slp_deregister_region(e->conn, key) : -ENOENT;
}

/* The engine's refusals in the ABI's words. */
static int post_error(const struct ivt_ep *e, int err)
{
	if (err == -ETIMEDOUT)
		return -ECONNRESET;
	if (err == -ENOTCONN) /* not open: still connecting (wait) or closed */
		return slp_conn_state(e->conn) == SLP_ST_CONNECTING ? -EAGAIN : -EPIPE;
	return err;
}

static int rdma_write_unlocked(struct ivt_ep *e, const void *buf, size_t len, uint64_t key,
			     uint64_t offset, uint64_t wr_id)
{
	progress(e);
	if (!e->conn)
		return -ENOTCONN;
	if (!buf || !len) /* the engine would take an empty write; the ABI does not */
		return -EINVAL;
	int err = slp_rdma_write(e->conn, buf, len, key, offset, wr_id);
	arm_timer(e);
	return err ? post_error(e, err) : 0;
}

static int rdma_read_unlocked(struct ivt_ep *e, void *buf, size_t len, uint64_t key,
			    uint64_t offset, uint64_t wr_id)
{
	progress(e);
	if (!e->conn)
		return -ENOTCONN;
	int err = slp_rdma_read(e->conn, buf, len, key, offset, wr_id);
	arm_timer(e);
	return err ? post_error(e, err) : 0;
}

static int poll_completions_unlocked(struct ivt_ep *e, struct ivt_ep_completion *out, int max)
{
	progress(e);
	if (!e->conn || max <= 0)
		return 0;
	struct slp_completion c[32];
	int n = 0;
	while (n < max) {
		int want = max - n < 32 ? max - n : 32;
		int got = slp_poll_cq(e->conn, c, want);
		for (int i = 0; i < got; i++)
			out[n + i] = (struct ivt_ep_completion){
				.wr_id = c[i].wr_id,
				.status = c[i].status == -ETIMEDOUT ? -ECONNRESET : c[i].status,
				.opcode = c[i].opcode,
				.len = c[i].len,
			};
		n += got;
		if (got < want) {
			e->cq_ready = 0;
			break;
		}
	}
	/* A failed connection completed every op it had (with the error) when
	 * it failed; once those are reaped, say it is dead. */
	if (n == 0 && slp_conn_state(e->conn) == SLP_ST_FAILED)
		return post_error(e, slp_conn_error(e->conn));
	return n;
}

static void plugin_close(struct ivt_ep *e)
{
	if (!e)
		return;
	if (e->conn && slp_conn_state(e->conn) == SLP_ST_OPEN) {
		/* Give the peer our data and CLOSE, bounded: a dead peer must not
		 * keep us here. */
		slp_close(e->conn);
		uint64_t end = slp_clock_us() + 2000000;
		while (slp_conn_state(e->conn) == SLP_ST_OPEN && slp_clock_us() < end &&
		       !slp_conn_tx_idle(e->conn))
			slp_loop_run_once(e->act, 10);
	}
	ep_free(e);
}

static int stats_unlocked(struct ivt_ep *e, struct ivt_ep_stats *st)
{
	memset(st, 0, sizeof(*st));
	const struct slp_stats *s = slp_engine_stats(e->act->engine);
	for (int i = 0; i < 8; i++)
		st->protocol_errors += s->rx_bad[i];
	st->protocol_errors += s->rx_proto_error + s->rx_out_of_window;
	st->notifies_sent = s->tx_frames;
	if (e->conn) {
		struct slp_conn_stats cs;
		slp_conn_stats(e->conn, &cs);
		st->bytes_sent = cs.bytes_sent;
		st->bytes_received = cs.bytes_received;
	}
	return 0;
}

/* ---- the ops, each under the endpoint's lock ---------------------------- */

#define LOCKED(type, name, params, args)                                                    \
	static type plugin_##name params                                                    \
	{                                                                                   \
		pthread_mutex_lock(&e->lock);                                               \
		type r = name##_unlocked args;                                              \
		pthread_mutex_unlock(&e->lock);                                             \
		return r;                                                                   \
	}
LOCKED(int, accept, (struct ivt_ep *e), (e))
LOCKED(ssize_t, send, (struct ivt_ep *e, const void *buf, size_t len), (e, buf, len))
LOCKED(ssize_t, recv, (struct ivt_ep *e, void *buf, size_t len), (e, buf, len))
LOCKED(int, arm, (struct ivt_ep *e, unsigned events), (e, events))
LOCKED(int, register, (struct ivt_ep *e, void *addr, size_t len, unsigned access, uint64_t *key),
       (e, addr, len, access, key))
LOCKED(int, deregister, (struct ivt_ep *e, uint64_t key), (e, key))
LOCKED(int, rdma_write,
       (struct ivt_ep *e, const void *buf, size_t len, uint64_t key, uint64_t offset,
	uint64_t wr_id),
       (e, buf, len, key, offset, wr_id))
LOCKED(int, rdma_read,
       (struct ivt_ep *e, void *buf, size_t len, uint64_t key, uint64_t offset, uint64_t wr_id),
       (e, buf, len, key, offset, wr_id))
LOCKED(int, poll_completions, (struct ivt_ep *e, struct ivt_ep_completion *out, int max),
       (e, out, max))
LOCKED(int, stats, (struct ivt_ep *e, struct ivt_ep_stats *st), (e, st))
#undef LOCKED

static void plugin_ack(struct ivt_ep *e)
{
	pthread_mutex_lock(&e->lock);
	ack_unlocked(e);
	pthread_mutex_unlock(&e->lock);
}

static const struct ivt_plugin_ops ops = {
	.abi_version = IVT_PLUGIN_ABI_VERSION,
	.ops_size = sizeof(struct ivt_plugin_ops),
	.name = "slurpoe",
	.description = "reliable streams and RDMA over raw Ethernet (Ethertype 0x88B5) or UDP",
	.caps = IVT_CAP_REMOTE | IVT_CAP_RDMA,
	.init = plugin_init,
	.probe = plugin_probe,
	.listen = plugin_listen,
	.accept = plugin_accept,
	.connect = plugin_connect,
	.send = plugin_send,
	.recv = plugin_recv,
	.arm = plugin_arm,
	.poll_fd = plugin_poll_fd,
	.ack = plugin_ack,
	.register_region = plugin_register,
	.deregister_region = plugin_deregister,
	.close = plugin_close,
	.stats = plugin_stats,
	.rdma_write = plugin_rdma_write,
	.rdma_read = plugin_rdma_read,
	.poll_completions = plugin_poll_completions,
	.max_rdma_len = RDMA_MAX_LEN,
};

__attribute__((visibility("default"))) const struct ivt_plugin_ops *
ivt_plugin_entry(uint32_t host_abi)
{
	(void)host_abi;
	return &ops;
}
