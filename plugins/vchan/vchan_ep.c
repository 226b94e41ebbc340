/* SPDX-License-Identifier: MIT */
/*
 * A vchan endpoint: one libxenvchan in non-blocking mode.
 *
 * Wake-ups: libxenvchan asks the peer for a notification whenever a read
 * or write cannot be satisfied (and libxenvchan_data_ready /
 * buffer_space ask unconditionally), then the peer's next write/read
 * fires the event channel, which makes poll_fd() readable. So arm() only
 * has to ask those two functions: they post the request before looking
 * at the indices, so "0 now" followed by poll() cannot miss an update.
 * ack() consumes the event (libxenvchan_wait) and unmasks the port; the
 * fd is non-blocking, so with no event pending that returns at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxenvchan.h>

#include "vchan.h"

size_t vchan_ring_request(size_t asked)
{
	size_t r = asked ? asked : VCHAN_RING_DEFAULT;
	if (r > VCHAN_RING_MAX) {
		vchan_log(IVT_LOG_WARN,
			  "ring of %zu bytes per direction clamped to %u: libxenvchan maps at most "
			  "2^20 bytes (256 grant pages) per direction",
			  r, VCHAN_RING_MAX);
		r = VCHAN_RING_MAX;
	}
	if (r < VCHAN_RING_MIN)
		r = VCHAN_RING_MIN;
	size_t p = VCHAN_RING_MIN;
	while (p < r)
		p <<= 1;
	return p;
}

int vchan_path_check(const char *path, long domid, char *why, size_t why_len)
{
	char prefix[40];
	size_t n;
	if (!path) {
		snprintf(why, why_len, "no XenStore path given for the vchan");
		return -EINVAL;
	}
	n = strnlen(path, VCHAN_XS_PATH_MAX + 1);
	if (n > VCHAN_XS_PATH_MAX) {
		snprintf(why, why_len, "vchan path longer than %d bytes (libxenvchan limit)",
			 VCHAN_XS_PATH_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = path[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/' ||
			 c == '@';
		if (!ok || (c == '/' && (path[i + 1] == '/' || path[i + 1] == '\0')) ||
		    (c == '/' && path[i + 1] == '.' &&
		     (path[i + 2] == '/' || path[i + 2] == '\0' ||
		      (path[i + 2] == '.' && (path[i + 3] == '/' || path[i + 3] == '\0'))))) {
			snprintf(why, why_len, "vchan path is malformed: want /-separated "
						 "[A-Za-z0-9._-@] components, none empty, '.' or '..'");
			return -EINVAL;
		}
	}
	/* Safe to print from here on. */
	if (domid >= 0)
		snprintf(prefix, sizeof(prefix), "/local/domain/%ld/", domid);
	else
		snprintf(prefix, sizeof(prefix), "/local/domain/");
	if (strncmp(path, prefix, strlen(prefix)) != 0) {
		snprintf(why, why_len, "vchan path '%s' is not under %s", path, prefix);
		return -EINVAL;
	}
	return 0;
}

/* A failed libxenvchan init: errno from the Xen libraries, ENOENT when the
 * devices or nodes are missing. */
static int init_failed(const char *what, const struct ivt_ep_params *p)
{
	int err = errno ? errno : EIO;
	vchan_log(IVT_LOG_ERR, "%s %s with dom%u failed: %s", what, p->xs_path, p->peer_domid,
		  strerror(err));
	return err == ENOENT ? -ENODEV : -err;
}

static int check_params(const struct ivt_ep_params *p, long path_domid)
{
	char why[160];
	if (p->peer_domid >= 0x7FF0) {
		vchan_log(IVT_LOG_ERR, "peer domain %u is reserved", p->peer_domid);
		return -EINVAL;
	}
	if (vchan_path_check(p->xs_path, path_domid, why, sizeof(why))) {
		vchan_log(IVT_LOG_ERR, "%s", why);
		return -EINVAL;
	}
	return 0;
}

static struct ivt_ep *ep_new(struct libxenvchan *ctrl, const struct ivt_ep_params *p)
{
	struct ivt_ep *ep = calloc(1, sizeof(*ep));
	if (!ep) {
		libxenvchan_close(ctrl);
		return NULL;
	}
	ctrl->blocking = 0;
	/* ack reads the pending port whether or not one is there (and two
	 * threads may both have seen it readable): a read with none must
	 * return EAGAIN instead of sleeping until the next event (the fd is
	 * our own evtchn handle's, the peer does not share it). */
	int fd = libxenvchan_fd_for_select(ctrl);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		vchan_log(IVT_LOG_ERR, "event channel fd: %s", strerror(errno));
		libxenvchan_close(ctrl);
		free(ep);
		return NULL;
	}
	ep->ctrl = ctrl;
	ep->is_server = p->is_server;
	ep->peer_domid = p->peer_domid;
	ep->st.ring_size = 1u << ctrl->write.order;
	ivt_spin_init(&ep->spin);
	return ep;
}

int vchan_listen(const struct ivt_ep_params *p, struct ivt_ep **out)
{
	if (!p || !out)
		return -EINVAL;
	int rc = check_params(p, -1);
	if (rc)
		return rc;
	size_t ring = vchan_ring_request(p->ring_size);
	errno = 0;
	struct libxenvchan *c =
		vchan_server_init((int)p->peer_domid, p->xs_path, ring, ring);
	if (!c)
		return init_failed("listen on", p);
	*out = ep_new(c, p);
	if (!*out)
		return -ENOMEM;
	vchan_log(IVT_LOG_DEBUG, "listening on %s for dom%u, rings %u/%u bytes", p->xs_path,
		  p->peer_domid, 1u << c->read.order, 1u << c->write.order);
	return 0;
}

int vchan_accept(struct ivt_ep *ep)
{
	/* 2: no client yet; 1: connected; 0: came and already left (its data
	 * is still readable, recv reports the end). */
	return libxenvchan_is_open(ep->ctrl) == 2 ? -EAGAIN : 0;
}

int vchan_connect(const struct ivt_ep_params *p, struct ivt_ep **out)
{
	if (!p || !out)
		return -EINVAL;
	/* The server's nodes live in the server's (the peer's) subtree. */
	int rc = check_params(p, (long)p->peer_domid);
	if (rc)
		return rc;
	rc = vchan_wait_server(p->xs_path, p->timeout_ms);
	if (rc) {
		vchan_log(IVT_LOG_ERR, "server of %s did not publish its ring: %s", p->xs_path,
			  strerror(-rc));
		return rc;
	}
	errno = 0;
	struct libxenvchan *c = libxenvchan_client_init(vchan_xtl(), (int)p->peer_domid, p->xs_path);
	if (!c)
		return init_failed("connect to", p);
	*out = ep_new(c, p);
	return *out ? 0 : -ENOMEM;
}

/* The peer owns half of each index pair; an honest peer keeps
 * prod - cons within the ring. libxenvchan just stalls on bad indices, we
 * report them. */
int vchan_rings_corrupt(struct libxenvchan *c)
{
	volatile struct ring_shared *rd = c->read.shr, *wr = c->write.shr;
	uint32_t rd_used = rd->prod - rd->cons, wr_used = wr->prod - wr->cons;
	return rd_used > (1u << c->read.order) || wr_used > (1u << c->write.order);
}

int vchan_peer_wants(struct libxenvchan *c, uint8_t bit)
{
	volatile uint8_t *n = c->is_server ? &c->ring->srv_notify : &c->ring->cli_notify;
	return (*n & bit) != 0;
}

ssize_t vchan_send(struct ivt_ep *ep, const void *buf, size_t len)
{
	struct libxenvchan *c = ep->ctrl;
	if (len == 0)
		return -EINVAL;
	if (!libxenvchan_is_open(c))
		return -EPIPE;
	/* One call writes as much as fits; the int return caps a single call. */
	if (len > INT_MAX)
		len = INT_MAX;
	int notify = vchan_peer_wants(c, VCHAN_NOTIFY_WRITE);
	int n = libxenvchan_write(c, buf, len);
	if (n > 0) {
		__atomic_store_n(&ep->send_want, 0, __ATOMIC_RELAXED); /* any room will do */
		ep->st.bytes_sent += (uint64_t)n;
		ep->st.notifies_sent += notify;
		return n;
	}
	if (n < 0)
		return libxenvchan_is_open(c) ? -EIO : -EPIPE;
	if (vchan_rings_corrupt(c)) {
		ep->st.protocol_errors++;
		return -EPROTO;
	}
	return -EAGAIN;
}

ssize_t vchan_recv(struct ivt_ep *ep, void *buf, size_t len)
{
	struct libxenvchan *c = ep->ctrl;
	if (len == 0)
		return -EINVAL;
	if (len > INT_MAX)
		len = INT_MAX;
	int notify = vchan_peer_wants(c, VCHAN_NOTIFY_READ);
	int n = libxenvchan_read(c, buf, len);
	if (n > 0) {
		ep->st.bytes_received += (uint64_t)n;
		ep->st.notifies_sent += notify;
		return n;
	}
	if (vchan_rings_corrupt(c)) {
		ep->st.protocol_errors++;
		return -EPROTO;
	}
	if (n < 0) /* nothing left and the peer is gone: end of stream */
		return libxenvchan_is_open(c) ? -EIO : 0;
	return -EAGAIN;
}

/* The room a sender waits for: what the last reserve wanted, or any. */
static uint32_t send_room(struct ivt_ep *ep)
{
	uint32_t want = __atomic_load_n(&ep->send_want, __ATOMIC_RELAXED);
	return want ? want : 1;
}

/* Before asking the peer for a kick, watch its index for a while
 * (src/common/spin.h): a peer that is running publishes soon, and then
 * neither side pays for an event-channel notify (a hypercall) plus a
 * sleep and a wake-up through the hypervisor. Plain loads of the peer's
 * words, only compared with what we saw; what changed is read again and
 * checked by the calls after the spin. 1: something changed. */
static int spin_for_peer(struct ivt_ep *ep, unsigned events)
{
	struct libxenvchan *c = ep->ctrl;
	volatile struct ring_shared *rd = c->read.shr, *wr = c->write.shr;
	volatile uint8_t *live = c->is_server ? &c->ring->cli_live : &c->ring->srv_live;
	struct ivt_spin_watch w = {.b = live, .old_b = *live};
	if (events & IVT_EV_RECV) {
		w.w[0] = &rd->prod;
		w.old[0] = rd->prod;
		if (w.old[0] != rd->cons)
			return 1; /* bytes there already */
	}
	if (events & IVT_EV_SEND) {
		w.w[1] = &wr->cons;
		w.old[1] = wr->cons;
		if ((1u << c->write.order) - (wr->prod - w.old[1]) >= send_room(ep))
			return 1; /* room there already (or a corrupt index) */
	}
	return ivt_spin_until_changed(&ep->spin, &w);
}

int vchan_arm(struct ivt_ep *ep, unsigned events)
{
	struct libxenvchan *c = ep->ctrl;
	int ready = 0;
	if (libxenvchan_is_open(c))
		(void)spin_for_peer(ep, events);
	/* These calls also ask the peer to notify us on the next change. */
	if ((events & IVT_EV_RECV) && libxenvchan_data_ready(c) > 0)
		ready |= IVT_EV_RECV;
	if ((events & IVT_EV_SEND) && libxenvchan_buffer_space(c) >= (int)send_room(ep))
		ready |= IVT_EV_SEND;
	/* A closed peer or a corrupt ring: the next call reports it now. */
	if (!libxenvchan_is_open(c) || vchan_rings_corrupt(c))
		ready |= (int)(events & (IVT_EV_RECV | IVT_EV_SEND));
	return ready;
}

int vchan_poll_fd(struct ivt_ep *ep) { return libxenvchan_fd_for_select(ep->ctrl); }

void vchan_ack(struct ivt_ep *ep)
{
	/* One pending port per handle. The fd is non-blocking (ep_new), so
	 * libxenvchan_wait reads the port and unmasks it, or fails with
	 * EAGAIN when none is pending: one read (and one unmask), no poll
	 * before or after. An event that comes after the read leaves the fd
	 * readable, so the next poll returns at once: nothing is lost. */
	(void)libxenvchan_wait(ep->ctrl);
}

void vchan_close(struct ivt_ep *ep)
{
	if (!ep)
		return;
	/* Marks our side dead and notifies; the peer reads what is left, then
	 * sees the end. A server also removes its XenStore nodes. */
	libxenvchan_close(ep->ctrl);
	free(ep);
}

int vchan_stats(struct ivt_ep *ep, struct ivt_ep_stats *st)
{
	*st = ep->st;
	return 0;
}
