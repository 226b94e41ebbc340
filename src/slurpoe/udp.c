/* SPDX-License-Identifier: MIT */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wire.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define PEERS 64
#define RX_DGRAMS 16
#define DGRAM_CAP 65536
#define MAX_DGRAM 65507 /* IPv4 total length 65535 - IP and UDP headers */
#define MAX_SEGS 64     /* UDP_MAX_SEGMENTS on every kernel with UDP_SEGMENT */
#define TX_RUNS 64

struct peer {
	uint8_t mac[6];
	struct sockaddr_in addr;
};

struct pin {
	uint8_t mac[6];
	uint16_t port; /* network order */
	uint32_t ip;   /* network order */
};

struct slp_udp {
	int fd, gso; /* gso: UDP_SEGMENT works on this route (cleared on -EIO) */
	int any_port; /* ephemeral: peers send from ports of their own */
	struct sockaddr_in self, bcast;
	uint32_t net, mask; /* our subnet, network order */
	struct peer peers[PEERS];
	unsigned npeers, next_evict;
	struct pin pins[SLP_UDP_PINS];
	unsigned npins;
	uint64_t refused;
	/* TX: one message per run of frames */
	struct mmsghdr tmsg[TX_RUNS];
	struct sockaddr_in taddr[TX_RUNS];
	char tcmsg[TX_RUNS][CMSG_SPACE(sizeof(uint16_t))];
	/* RX */
	uint8_t *rbuf;
	struct mmsghdr rmsg[RX_DGRAMS];
	struct iovec riov[RX_DGRAMS];
	struct sockaddr_in raddr[RX_DGRAMS];
	char rcmsg[RX_DGRAMS][CMSG_SPACE(sizeof(int))];
};

static int if_addr(int fd, const char *ifname, unsigned long req, struct sockaddr_in *out)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, req, &ifr))
		return -errno;
	memcpy(out, &ifr.ifr_addr, sizeof(*out));
	return 0;
}

int slp_udp_open(const char *ifname, int ephemeral, struct slp_udp **out, char *why,
		 size_t why_len)
{
	struct slp_udp *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->rbuf = malloc((size_t)RX_DGRAMS * DGRAM_CAP);
	u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err, one = 1, zero = 0, buf = 8 << 20;
	struct sockaddr_in self;
	if (!u->rbuf || u->fd < 0) {
		err = u->rbuf ? -errno : -ENOMEM;
		snprintf(why, why_len, "UDP socket: %s", strerror(-err));
		goto fail;
	}
	if ((err = if_addr(u->fd, ifname, SIOCGIFADDR, &self))) {
		snprintf(why, why_len, "no IPv4 address on %s", ifname);
		goto fail;
	}
	/* The subnet's broadcast address (addr | ~mask: "ip addr add" sets
	 * no broadcast address unless told "brd +"). */
	struct sockaddr_in mask;
	if ((err = if_addr(u->fd, ifname, SIOCGIFNETMASK, &mask)) ||
	    mask.sin_addr.s_addr == INADDR_NONE) {
		err = -EADDRNOTAVAIL;
		snprintf(why, why_len, "no IPv4 subnet on %s (a /32 has no broadcast)", ifname);
		goto fail;
	}
	u->mask = mask.sin_addr.s_addr;
	u->net = self.sin_addr.s_addr & u->mask;
	u->bcast = self;
	u->bcast.sin_addr.s_addr = self.sin_addr.s_addr | ~mask.sin_addr.s_addr;
	u->bcast.sin_port = htons(SLP_UDP_PORT);
	/* Any address on this device: unicast and the broadcasts that find a
	 * peer whose address is not learnt yet. */
	struct sockaddr_in any = {.sin_family = AF_INET,
				  .sin_port = ephemeral ? 0 : htons(SLP_UDP_PORT)};
	socklen_t alen = sizeof(u->self);
	if (setsockopt(u->fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) ||
	    setsockopt(u->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) ||
	    setsockopt(u->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof(zero)) ||
	    bind(u->fd, (struct sockaddr *)&any, sizeof(any)) ||
	    getsockname(u->fd, (struct sockaddr *)&u->self, &alen)) {
		err = -errno;
		if (err == -EADDRINUSE && !ephemeral) /* only a peer engine binds it */
			snprintf(why, why_len, "UDP port %d on %s is taken: another ivtd probably "
				 "serves %s", SLP_UDP_PORT, ifname, ifname);
		else
			snprintf(why, why_len, "UDP port %d on %s: %s", ephemeral ? 0 : SLP_UDP_PORT,
				 ifname, strerror(-err));
		goto fail;
	}
	u->self.sin_addr = self.sin_addr;
	u->any_port = ephemeral;
	if (setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		(void)setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(u->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		(void)setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	/* Without GRO the kernel hands us the segments one by one: slower,
	 * not wrong. */
	(void)setsockopt(u->fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one));
	u->gso = 1;
	for (int i = 0; i < RX_DGRAMS; i++) {
		u->riov[i].iov_base = u->rbuf + (size_t)i * DGRAM_CAP;
		u->riov[i].iov_len = DGRAM_CAP;
	}
	*out = u;
	return 0;
fail:
	slp_udp_close(u);
	return err;
}

void slp_udp_close(struct slp_udp *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	free(u->rbuf);
	free(u);
}

int slp_udp_fd(const struct slp_udp *u) { return u->fd; }

void slp_udp_local(const struct slp_udp *u, uint32_t *ip, uint16_t *port)
{
	*ip = u->self.sin_addr.s_addr;
	*port = u->self.sin_port;
}

static const struct pin *pinned(const struct slp_udp *u, const uint8_t *mac)
{
	for (unsigned i = 0; i < u->npins; i++)
		if (!memcmp(u->pins[i].mac, mac, 6))
			return &u->pins[i];
	return NULL;
}

int slp_udp_pin(struct slp_udp *u, const uint8_t mac[6], uint32_t ip, uint16_t port, char *why,
		size_t why_len)
{
	char a[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &ip, a, sizeof(a));
	if ((ip & u->mask) != u->net || ip == u->net || ip == u->bcast.sin_addr.s_addr) {
		snprintf(why, why_len, "%s is not a host address in the interface's subnet", a);
		return -EADDRNOTAVAIL;
	}
	struct pin *p = (struct pin *)pinned(u, mac);
	if (!p && u->npins == SLP_UDP_PINS) {
		snprintf(why, why_len, "more than %d peers with an address on one interface",
			 SLP_UDP_PINS);
		return -ENOSPC;
	}
	if (!p) {
		p = &u->pins[u->npins++];
		memcpy(p->mac, mac, 6);
	}
	p->ip = ip;
	p->port = port ? port : htons(SLP_UDP_PORT);
	return 0;
}

void slp_udp_unpin_all(struct slp_udp *u) { u->npins = 0; }

uint64_t slp_udp_refused(const struct slp_udp *u) { return u->refused; }

/* Where a frame for mac goes: its pinned address, the one it was learnt
 * at, or the broadcast address. */
static struct sockaddr_in peer_addr(const struct slp_udp *u, const uint8_t *mac)
{
	const struct pin *p = pinned(u, mac);
	if (p) {
		struct sockaddr_in a = u->bcast;
		a.sin_addr.s_addr = p->ip;
		a.sin_port = p->port;
		return a;
	}
	for (unsigned i = 0; i < u->npeers; i++)
		if (!memcmp(u->peers[i].mac, mac, 6))
			return u->peers[i].addr;
	return u->bcast;
}

/* Does this frame come from where its source MAC may? A pinned MAC only
 * from its address; any other is learnt where it came from. Checked per
 * frame: a GRO read may join several. */
static int frame_from_ok(struct slp_udp *u, const uint8_t *frame, size_t len,
			 const struct sockaddr_in *from)
{
	if (len < SLP_ETH_HLEN)
		return 1; /* the engine drops it */
	const struct pin *p = pinned(u, frame + 6);
	if (p)
		return p->ip == from->sin_addr.s_addr && p->port == from->sin_port;
	if (frame[6] & 1) /* a multicast source is no one's */
		return 1;
	for (unsigned i = 0; i < u->npeers; i++)
		if (!memcmp(u->peers[i].mac, frame + 6, 6)) {
			u->peers[i].addr = *from;
			return 1;
		}
	struct peer *q = u->npeers < PEERS ? &u->peers[u->npeers++]
					    : &u->peers[u->next_evict++ % PEERS];
	memcpy(q->mac, frame + 6, 6);
	q->addr = *from;
	return 1;
}

/* Frames [i, i+k) that can leave as one datagram: same peer, same length
 * (the last may be shorter), within the GSO limits. */
static int run_len(const struct slp_udp *u, const struct iovec *f, int i, int n)
{
	size_t seg = f[i].iov_len, total = seg;
	int k = 1;
	if (!u->gso)
		return 1;
	while (i + k < n && k < MAX_SEGS && f[i + k].iov_len <= seg &&
	       total + f[i + k].iov_len <= MAX_DGRAM &&
	       !memcmp(f[i + k].iov_base, f[i].iov_base, 6)) {
		total += f[i + k].iov_len;
		if (f[i + k++].iov_len < seg)
			break;
	}
	return k;
}

int slp_udp_send(struct slp_udp *u, const struct iovec *frames, int n, uint64_t *dropped)
{
	int calls = 0, i = 0;
	while (i < n) {
		int nm = 0, first[TX_RUNS], count[TX_RUNS];
		for (int j = i; j < n && nm < TX_RUNS; nm++) {
			int k = run_len(u, frames, j, n);
			struct msghdr *m = &u->tmsg[nm].msg_hdr;
			memset(m, 0, sizeof(*m));
			u->taddr[nm] = peer_addr(u, frames[j].iov_base);
			m->msg_name = &u->taddr[nm];
			m->msg_namelen = sizeof(u->taddr[nm]);
			m->msg_iov = (struct iovec *)&frames[j]; /* sendmsg only reads it */
			m->msg_iovlen = (size_t)k;
			if (k > 1) {
				m->msg_control = u->tcmsg[nm];
				m->msg_controllen = sizeof(u->tcmsg[nm]);
				struct cmsghdr *c = CMSG_FIRSTHDR(m);
				c->cmsg_level = SOL_UDP;
				c->cmsg_type = UDP_SEGMENT;
				c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
				uint16_t seg = (uint16_t)frames[j].iov_len;
				memcpy(CMSG_DATA(c), &seg, sizeof(seg));
			}
			first[nm] = j;
			count[nm] = k;
			j += k;
		}
		int done = 0, end = first[nm - 1] + count[nm - 1];
		while (done < nm) {
			int r = sendmmsg(u->fd, u->tmsg + done, (unsigned)(nm - done), 0);
			calls++;
			if (r > 0) {
				done += r;
				continue;
			}
			if (errno == EINTR)
				continue;
			if (count[done] > 1 && (errno == EIO || errno == EINVAL)) {
				/* No checksum offload on the route (EIO) or
				 * an older kernel: frame by frame from now on,
				 * starting again at this run. */
				u->gso = 0;
				break;
			}
			/* A full queue: lost like on a wire; retransmitted. */
			*dropped += (uint64_t)count[done];
			done++;
		}
		i = done < nm ? first[done] : end;
	}
	return calls;
}

int slp_udp_rx(struct slp_udp *u, void (*cb)(void *arg, const void *frame, size_t len),
	       void *arg, int max, uint64_t *calls)
{
	int got = 0;
	while (got < max) {
		for (int i = 0; i < RX_DGRAMS; i++) {
			struct msghdr *m = &u->rmsg[i].msg_hdr;
			memset(m, 0, sizeof(*m));
			m->msg_iov = &u->riov[i];
			m->msg_iovlen = 1;
			m->msg_name = &u->raddr[i];
			m->msg_namelen = sizeof(u->raddr[i]);
			m->msg_control = u->rcmsg[i];
			m->msg_controllen = sizeof(u->rcmsg[i]);
		}
		int r = recvmmsg(u->fd, u->rmsg, RX_DGRAMS, MSG_DONTWAIT, NULL);
		(*calls)++;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return got ? got : -errno;
		}
		for (int i = 0; i < r; i++) {
			struct msghdr *m = &u->rmsg[i].msg_hdr;
			size_t len = u->rmsg[i].msg_len, seg = len;
			const uint8_t *p = u->riov[i].iov_base;
			/* The segment only, as with Ethernet frames: a router
			 * would carry UDP here from anywhere. And only from
			 * the port a peer engine binds. */
			const struct sockaddr_in *from = &u->raddr[i];
			if ((m->msg_flags & MSG_TRUNC) || (from->sin_addr.s_addr & u->mask) != u->net ||
			    (!u->any_port && from->sin_port != htons(SLP_UDP_PORT))) {
				u->refused++;
				continue;
			}
			for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
				if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
					int g;
					memcpy(&g, CMSG_DATA(c), sizeof(g));
					if (g > 0)
						seg = (size_t)g;
				}
			/* GRO joined datagrams of seg bytes (the last may be
			 * shorter): one frame each. */
			for (size_t off = 0; off < len; off += seg) {
				size_t n = len - off < seg ? len - off : seg;
				if (!frame_from_ok(u, p + off, n, from)) {
					u->refused++;
					continue;
				}
				cb(arg, p + off, n);
				got++;
			}
		}
		if (r < RX_DGRAMS)
			break;
	}
	return got;
}
