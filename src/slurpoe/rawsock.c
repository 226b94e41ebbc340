/* SPDX-License-Identifier: MIT */
#include "rawsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rxring.h"
#include "wire.h"
#include "udp.h"
#include "xsk.h"

#define TX_BATCH 64
#define RX_BATCH 64
#define FRAME_CAP 9216 /* jumbo frames + Ethernet header */
#define RING_BLOCK (1u << 18)
#define RING_BLOCKS 64
#define RING_FRAME 2048

struct held { /* impairment delay line */
	uint64_t due;
	uint16_t len;
	uint8_t *data;
};

struct slp_rawsock {
	int fd, ifindex, mtu;
	uint8_t mac[6];
	/* TX batch */
	uint8_t *txbuf;
	struct mmsghdr txmsg[TX_BATCH];
	struct iovec txiov[TX_BATCH];
	int ntx, batching;
	/* RX */
	uint8_t *ring;
	size_t ring_len;
	unsigned ring_idx;
	uint8_t *rxbuf;
	struct mmsghdr rxmsg[RX_BATCH];
	struct iovec rxiov[RX_BATCH];
	struct sockaddr_ll rxaddr[RX_BATCH];
	/* impairment */
	int impair;
	double loss, dup, reorder;
	uint64_t delay_us, rng;
	struct held *q;
	size_t qhead, qlen, qcap;
	struct slp_rawsock_stats st;
	struct slp_xsk *xsk; /* SLP_RS_XDP, when it could be had */
	struct slp_udp *udp; /* SLP_RS_UDP */
	struct slp_rxring *rxring; /* SLP_RS_RX_SPIN, when it could be had */
	char path[200];
};

uint64_t slp_clock_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int setup_ring(struct slp_rawsock *rs)
{
	int v = TPACKET_V3;
	if (setsockopt(rs->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)))
		return -errno;
	struct tpacket_req3 req = {
		.tp_block_size = RING_BLOCK,
		.tp_block_nr = RING_BLOCKS,
		.tp_frame_size = RING_FRAME,
		.tp_frame_nr = RING_BLOCK / RING_FRAME * RING_BLOCKS,
		.tp_retire_blk_tov = 1, /* ms: hand over a partly filled block soon */
	};
	if (setsockopt(rs->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)))
		return -errno;
	rs->ring_len = (size_t)RING_BLOCK * RING_BLOCKS;
	rs->ring = mmap(NULL, rs->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, rs->fd, 0);
	if (rs->ring == MAP_FAILED) {
		rs->ring = NULL;
		return -errno;
	}
	return 0;
}

int slp_rawsock_open(const char *ifname, unsigned flags, struct slp_rawsock **out)
{
	char why[200] = "";
	int err = slp_rawsock_open_why(ifname, flags, out, why, sizeof(why));
	if (err && (flags & SLP_RS_UDP) && why[0]) /* as before: say why not UDP */
		fprintf(stderr, "slurpoe: %s\n", why);
	return err;
}

int slp_rawsock_open_why(const char *ifname, unsigned flags, struct slp_rawsock **out,
			 char *why, size_t why_len)
{
	if (why_len)
		why[0] = 0;
	if (!ifname || strlen(ifname) >= IFNAMSIZ) {
		snprintf(why, why_len, "no interface name");
		return -EINVAL;
	}
	struct slp_rawsock *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	int err;
	/* Over UDP the packet socket only answers the ioctls: protocol 0,
	 * never bound, it receives nothing. */
	int udp = !!(flags & SLP_RS_UDP);
	rs->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			udp ? 0 : htons(SLP_ETHERTYPE));
	if (rs->fd < 0) {
		err = -errno;
		snprintf(why, why_len, "raw socket: %s", strerror(-err));
		free(rs);
		return err;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(rs->fd, SIOCGIFINDEX, &ifr))
		goto fail_errno;
	rs->ifindex = ifr.ifr_ifindex;
	if (ioctl(rs->fd, SIOCGIFHWADDR, &ifr))
		goto fail_errno;
	memcpy(rs->mac, ifr.ifr_hwaddr.sa_data, 6);
	if (ioctl(rs->fd, SIOCGIFMTU, &ifr))
		goto fail_errno;
	/* Over UDP the whole frame, Ethernet header too, is the payload. */
	rs->mtu = ifr.ifr_mtu - (udp ? SLP_UDP_HDRS + SLP_ETH_HLEN : 0);
	if (rs->mtu > FRAME_CAP - SLP_ETH_HLEN)
		rs->mtu = FRAME_CAP - SLP_ETH_HLEN;
	if (udp) {
		char uwhy[160];
		if ((err = slp_udp_open(ifname, !!(flags & SLP_RS_UDP_EPHEMERAL), &rs->udp, uwhy,
					 sizeof(uwhy)))) {
			snprintf(why, why_len, "no SLURPoE over UDP: %s", uwhy);
			goto fail;
		}
		snprintf(rs->path, sizeof(rs->path), "UDP port %d (GSO/GRO)", SLP_UDP_PORT);
	}
	int one = 1, buf = 8 << 20;
	/* Our own transmissions would come back to us on the tap otherwise. */
	(void)setsockopt(rs->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (setsockopt(rs->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		(void)setsockopt(rs->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(rs->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		(void)setsockopt(rs->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (!udp && (flags & SLP_RS_RX_RING) && (err = setup_ring(rs)))
		goto fail;
	char rwhy[120] = "";
	if (!udp && (flags & SLP_RS_RX_SPIN) && !(flags & (SLP_RS_RX_RING | SLP_RS_XDP))) {
		if (slp_rxring_open(rs->fd, rs->mtu, &rs->rxring, rwhy, sizeof(rwhy)))
			rs->rxring = NULL; /* recvmmsg, as without the flag */
	}
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(SLP_ETHERTYPE),
				  .sll_ifindex = rs->ifindex};
	if (!udp && bind(rs->fd, (struct sockaddr *)&sll, sizeof(sll)))
		goto fail_errno;
	rs->txbuf = malloc((size_t)TX_BATCH * FRAME_CAP);
	int mmsg = !rs->ring && !rs->rxring && !udp;
	rs->rxbuf = mmsg ? malloc((size_t)RX_BATCH * FRAME_CAP) : NULL;
	if (!rs->txbuf || (mmsg && !rs->rxbuf)) {
		err = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < TX_BATCH; i++) {
		rs->txiov[i].iov_base = rs->txbuf + (size_t)i * FRAME_CAP;
		rs->txmsg[i].msg_hdr.msg_iov = &rs->txiov[i];
		rs->txmsg[i].msg_hdr.msg_iovlen = 1;
	}
	if (!udp && rs->rxring)
		snprintf(rs->path, sizeof(rs->path), "AF_PACKET (TPACKET_V2 ring)");
	else if (!udp && rwhy[0])
		snprintf(rs->path, sizeof(rs->path), "AF_PACKET (no TPACKET_V2 ring: %s; recvmmsg)",
			 rwhy);
	else if (!udp)
		snprintf(rs->path, sizeof(rs->path), "AF_PACKET");
	if ((flags & SLP_RS_XDP) && !udp) {
		char xwhy[160];
		if (slp_xsk_open(ifname, rs->ifindex, rs->mtu, &rs->xsk, xwhy, sizeof(xwhy)))
			snprintf(rs->path, sizeof(rs->path), "AF_PACKET (no AF_XDP: %s)", xwhy);
		else
			snprintf(rs->path, sizeof(rs->path), "AF_XDP (%s)", slp_xsk_mode(rs->xsk));
	}
	*out = rs;
	return 0;
fail_errno:
	err = -errno;
fail:
	if (why_len && !why[0])
		snprintf(why, why_len, "%s: %s", ifname, strerror(-err));
	slp_rawsock_close(rs);
	return err;
}

int slp_rawsock_udp_pin(struct slp_rawsock *rs, const uint8_t mac[6], uint32_t ip, uint16_t port,
			char *why, size_t why_len)
{
	if (!rs->udp) {
		snprintf(why, why_len, "not the UDP carrier");
		return -ENOTSUP;
	}
	return slp_udp_pin(rs->udp, mac, ip, port, why, why_len);
}

int slp_rawsock_udp_local(const struct slp_rawsock *rs, uint32_t *ip, uint16_t *port)
{
	if (!rs->udp)
		return -ENOTSUP;
	slp_udp_local(rs->udp, ip, port);
	return 0;
}

void slp_rawsock_udp_unpin_all(struct slp_rawsock *rs)
{
	if (rs->udp)
		slp_udp_unpin_all(rs->udp);
}

void slp_rawsock_close(struct slp_rawsock *rs)
{
	if (!rs)
		return;
	slp_xsk_close(rs->xsk);
	slp_udp_close(rs->udp);
	slp_rxring_close(rs->rxring);
	if (rs->ring)
		munmap(rs->ring, rs->ring_len);
	if (rs->fd >= 0)
		close(rs->fd);
	for (size_t i = 0; i < rs->qlen; i++)
		free(rs->q[(rs->qhead + i) % rs->qcap].data);
	free(rs->q);
	free(rs->txbuf);
	free(rs->rxbuf);
	free(rs);
}

int slp_rawsock_fd(const struct slp_rawsock *rs)
{
	return rs->xsk ? slp_xsk_fd(rs->xsk) : rs->udp ? slp_udp_fd(rs->udp) : rs->fd;
}
const char *slp_rawsock_path(const struct slp_rawsock *rs) { return rs->path; }
int slp_rawsock_checksums(const struct slp_rawsock *rs) { return rs->udp != NULL; }
const uint8_t *slp_rawsock_mac(const struct slp_rawsock *rs) { return rs->mac; }
int slp_rawsock_mtu(const struct slp_rawsock *rs) { return rs->mtu; }

static void send_batch(struct slp_rawsock *rs)
{
	int done = 0;
	if (rs->xsk) { /* queue_tx handed them over already */
		rs->st.tx_calls++;
		slp_xsk_kick(rs->xsk);
		rs->ntx = 0;
		return;
	}
	if (rs->udp) {
		uint64_t dropped = 0;
		rs->st.tx_calls += (uint64_t)slp_udp_send(rs->udp, rs->txiov, rs->ntx, &dropped);
		rs->st.tx_dropped += dropped;
		rs->st.tx_frames += (uint64_t)rs->ntx - dropped;
		rs->ntx = 0;
		return;
	}
	while (done < rs->ntx) {
		int n = sendmmsg(rs->fd, rs->txmsg + done, (unsigned)(rs->ntx - done), 0);
		rs->st.tx_calls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Full queue or a transient device error: the frame is
			 * lost like on a wire; the protocol retransmits. */
			rs->st.tx_dropped++;
			done++;
			continue;
		}
		rs->st.tx_frames += (uint64_t)n;
		done += n;
	}
	rs->ntx = 0;
}

static void queue_tx(struct slp_rawsock *rs, const void *frame, size_t len)
{
	if (len > FRAME_CAP)
		return;
	if (rs->ntx == TX_BATCH)
		send_batch(rs);
	if (rs->xsk) {
		if (slp_xsk_tx(rs->xsk, frame, len))
			rs->st.tx_dropped++;
		else
			rs->st.tx_frames++;
		rs->ntx++;
		return;
	}
	rs->txiov[rs->ntx].iov_base = rs->txbuf + (size_t)rs->ntx * FRAME_CAP;
	memcpy(rs->txiov[rs->ntx].iov_base, frame, len);
	rs->txiov[rs->ntx].iov_len = len;
	rs->ntx++;
}

void slp_rawsock_tx_ref(void *ctx, const void *frame, size_t len)
{
	struct slp_rawsock *rs = ctx;
	if (rs->impair || !rs->batching || len > FRAME_CAP || rs->xsk) {
		slp_rawsock_tx(rs, frame, len);
		return;
	}
	if (rs->ntx == TX_BATCH)
		send_batch(rs);
	rs->txiov[rs->ntx].iov_base = (void *)frame; /* sendmmsg only reads it */
	rs->txiov[rs->ntx].iov_len = len;
	rs->ntx++;
}

void slp_rawsock_send_queued(void *ctx)
{
	struct slp_rawsock *rs = ctx;
	if (rs->ntx)
		send_batch(rs);
}

static double chance(struct slp_rawsock *rs)
{
	rs->rng = rs->rng * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(rs->rng >> 11) / 9007199254740992.0;
}

static void hold(struct slp_rawsock *rs, const void *frame, size_t len)
{
	if (rs->qlen == rs->qcap) {
		size_t ncap = rs->qcap ? rs->qcap * 2 : 256;
		struct held *nq = malloc(ncap * sizeof(*nq));
		if (!nq)
			return;
		for (size_t i = 0; i < rs->qlen; i++)
			nq[i] = rs->q[(rs->qhead + i) % rs->qcap];
		free(rs->q);
		rs->q = nq;
		rs->qcap = ncap;
		rs->qhead = 0;
	}
	struct held *h = &rs->q[(rs->qhead + rs->qlen) % rs->qcap];
	h->data = malloc(len);
	if (!h->data)
		return;
	memcpy(h->data, frame, len);
	h->len = (uint16_t)len;
	h->due = slp_clock_us() + rs->delay_us;
	rs->qlen++;
}

void slp_rawsock_tx(void *ctx, const void *frame, size_t len)
{
	struct slp_rawsock *rs = ctx;
	if (!rs->impair) {
		queue_tx(rs, frame, len);
		if (!rs->batching)
			send_batch(rs);
		return;
	}
	if (chance(rs) < rs->loss) {
		rs->st.impair_dropped++;
		return;
	}
	int copies = chance(rs) < rs->dup ? 2 : 1;
	rs->st.impair_duplicated += (uint64_t)(copies - 1);
	for (int i = 0; i < copies; i++) {
		if (rs->delay_us && chance(rs) >= rs->reorder) {
			hold(rs, frame, len);
		} else {
			if (rs->delay_us)
				rs->st.impair_reordered++;
			queue_tx(rs, frame, len);
		}
	}
	if (!rs->batching && rs->ntx)
		send_batch(rs);
}

void slp_rawsock_batch_begin(struct slp_rawsock *rs) { rs->batching = 1; }

void slp_rawsock_flush(struct slp_rawsock *rs)
{
	if (rs->qlen) {
		uint64_t now = slp_clock_us();
		while (rs->qlen && rs->q[rs->qhead].due <= now) {
			struct held *h = &rs->q[rs->qhead];
			queue_tx(rs, h->data, h->len);
			free(h->data);
			rs->qhead = (rs->qhead + 1) % rs->qcap;
			rs->qlen--;
		}
	}
	if (rs->ntx)
		send_batch(rs);
	rs->batching = 0;
}

uint64_t slp_rawsock_next_deadline(const struct slp_rawsock *rs)
{
	return rs->qlen ? rs->q[rs->qhead].due : UINT64_MAX;
}

static int rx_ring(struct slp_rawsock *rs, void (*cb)(void *, const void *, size_t), void *arg,
		   int max)
{
	int got = 0;
	while (got < max) {
		struct tpacket_block_desc *bd =
			(void *)(rs->ring + (size_t)rs->ring_idx * RING_BLOCK);
		if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		uint32_t n = bd->hdr.bh1.num_pkts;
		uint32_t off = bd->hdr.bh1.offset_to_first_pkt;
		for (uint32_t i = 0; i < n && off + sizeof(struct tpacket3_hdr) <= RING_BLOCK; i++) {
			struct tpacket3_hdr *h = (void *)((uint8_t *)bd + off);
			if (h->tp_mac + (size_t)h->tp_snaplen <= RING_BLOCK - off &&
			    h->tp_snaplen == h->tp_len) {
				const struct sockaddr_ll *sll =
					(const void *)((uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
				if (sll->sll_pkttype != PACKET_OUTGOING) {
					cb(arg, (uint8_t *)h + h->tp_mac, h->tp_snaplen);
					got++;
				}
			}
			if (!h->tp_next_offset)
				break;
			off += h->tp_next_offset;
		}
		if (bd->hdr.bh1.block_status & TP_STATUS_LOSING)
			rs->st.rx_ring_drops++;
		__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		rs->ring_idx = (rs->ring_idx + 1) % RING_BLOCKS;
	}
	rs->st.rx_frames += (uint64_t)got;
	return got;
}

static int rx_mmsg(struct slp_rawsock *rs, void (*cb)(void *, const void *, size_t), void *arg,
		   int max)
{
	int got = 0;
	while (got < max) {
		int want = max - got < RX_BATCH ? max - got : RX_BATCH;
		for (int i = 0; i < want; i++) {
			rs->rxiov[i].iov_base = rs->rxbuf + (size_t)i * FRAME_CAP;
			rs->rxiov[i].iov_len = FRAME_CAP;
			memset(&rs->rxmsg[i].msg_hdr, 0, sizeof(rs->rxmsg[i].msg_hdr));
			rs->rxmsg[i].msg_hdr.msg_iov = &rs->rxiov[i];
			rs->rxmsg[i].msg_hdr.msg_iovlen = 1;
			rs->rxmsg[i].msg_hdr.msg_name = &rs->rxaddr[i];
			rs->rxmsg[i].msg_hdr.msg_namelen = sizeof(rs->rxaddr[i]);
		}
		int n = recvmmsg(rs->fd, rs->rxmsg, (unsigned)want, MSG_DONTWAIT, NULL);
		rs->st.rx_calls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return got ? got : -errno;
		}
		for (int i = 0; i < n; i++) {
			if (rs->rxaddr[i].sll_pkttype == PACKET_OUTGOING ||
			    (rs->rxmsg[i].msg_hdr.msg_flags & MSG_TRUNC))
				continue;
			cb(arg, rs->rxiov[i].iov_base, rs->rxmsg[i].msg_len);
		}
		got += n;
		rs->st.rx_frames += (uint64_t)n;
		if (n < want)
			break;
	}
	return got;
}

int slp_rawsock_rx(struct slp_rawsock *rs, void (*cb)(void *arg, const void *frame, size_t len),
		   void *arg, int max)
{
	if (rs->xsk) {
		int n = slp_xsk_rx(rs->xsk, cb, arg, max);
		rs->st.rx_calls++;
		rs->st.rx_frames += (uint64_t)n;
		return n;
	}
	if (rs->udp) {
		int n = slp_udp_rx(rs->udp, cb, arg, max, &rs->st.rx_calls);
		if (n > 0)
			rs->st.rx_frames += (uint64_t)n;
		return n;
	}
	if (rs->rxring) { /* no system call: rx_calls stays */
		int n = slp_rxring_rx(rs->rxring, cb, arg, max, &rs->st.rx_ring_drops);
		rs->st.rx_frames += (uint64_t)n;
		return n;
	}
	return rs->ring ? rx_ring(rs, cb, arg, max) : rx_mmsg(rs, cb, arg, max);
}

int slp_rawsock_rx_ready(const struct slp_rawsock *rs)
{
	return rs->rxring && !rs->xsk ? slp_rxring_ready(rs->rxring) : -1;
}

int slp_rawsock_impair(struct slp_rawsock *rs, const char *spec, uint64_t seed)
{
	double loss = 0, dup = 0, reorder = 0;
	unsigned long delay = 0;
	char *copy = strdup(spec ? spec : ""), *save = NULL;
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		if (!strncmp(tok, "loss=", 5))
			loss = strtod(tok + 5, &end) / 100;
		else if (!strncmp(tok, "dup=", 4))
			dup = strtod(tok + 4, &end) / 100;
		else if (!strncmp(tok, "reorder=", 8))
			reorder = strtod(tok + 8, &end) / 100;
		else if (!strncmp(tok, "delay_us=", 9))
			delay = strtoul(tok + 9, &end, 10);
		else
			end = tok;
		if (*end || end == tok) {
			free(copy);
			return -EINVAL;
		}
	}
	free(copy);
	if (loss < 0 || loss > 1 || dup < 0 || dup > 1 || reorder < 0 || reorder > 1 ||
	    delay > 1000000)
		return -EINVAL;
	rs->loss = loss;
	rs->dup = dup;
	rs->reorder = reorder;
	rs->delay_us = delay;
	rs->rng = seed;
	rs->impair = loss > 0 || dup > 0 || delay > 0;
	return 0;
}

void slp_rawsock_stats(const struct slp_rawsock *rs, struct slp_rawsock_stats *st)
{
	*st = rs->st;
	st->rx_refused = rs->udp ? slp_udp_refused(rs->udp) : 0;
}
