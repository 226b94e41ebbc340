/* SPDX-License-Identifier: MIT */
#include "rxring.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define SLOT_MIN 2048u
#define RING_MAX (16u << 20)
#define SLOTS_MAX 2048u
#define BLOCK_MIN (64u << 10)

struct slp_rxring {
	uint8_t *map;
	size_t map_len;
	uint32_t slot, nslots, next;
	int mapped; /* ours to munmap */
};

/* The kernel puts the frame at TPACKET_ALIGN(header + sockaddr_ll + 16)
 * - 14 or so; a slot holds that, an MTU-sized frame and a VLAN tag. */
static uint32_t slot_size(int mtu)
{
	uint32_t need = (uint32_t)TPACKET_ALIGN(TPACKET2_HDRLEN + 16) + (uint32_t)mtu + 14 + 4, s = SLOT_MIN;
	while (s < need)
		s <<= 1;
	return s;
}

int slp_rxring_open(int fd, int mtu, struct slp_rxring **out, char *why, size_t why_len)
{
	struct slp_rxring *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	r->slot = slot_size(mtu);
	r->nslots = RING_MAX / r->slot < SLOTS_MAX ? RING_MAX / r->slot : SLOTS_MAX;
	uint32_t block = r->slot > BLOCK_MIN ? r->slot : BLOCK_MIN; /* page multiple */
	struct tpacket_req req = {
		.tp_block_size = block,
		.tp_block_nr = r->nslots / (block / r->slot),
		.tp_frame_size = r->slot,
		.tp_frame_nr = r->nslots,
	};
	int v = TPACKET_V2, err;
	const char *what = "PACKET_VERSION TPACKET_V2";
	if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)))
		goto fail_errno;
	what = "PACKET_RX_RING";
	if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)))
		goto fail_errno;
	what = "mmap";
	r->map_len = (size_t)block * req.tp_block_nr;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->map == MAP_FAILED)
		goto fail_errno;
	r->mapped = 1;
	*out = r;
	return 0;
fail_errno:
	err = -errno;
	snprintf(why, why_len, "%s: %s", what, strerror(errno));
	free(r);
	return err;
}

struct slp_rxring *slp_rxring_over(void *map, uint32_t slot, uint32_t nslots)
{
	struct slp_rxring *r = calloc(1, sizeof(*r));
	if (r)
		*r = (struct slp_rxring){.map = map, .slot = slot, .nslots = nslots};
	return r;
}

void slp_rxring_close(struct slp_rxring *r)
{
	if (!r)
		return;
	if (r->mapped)
		munmap(r->map, r->map_len);
	free(r);
}

static struct tpacket2_hdr *slot_at(const struct slp_rxring *r, uint32_t i)
{
	return (struct tpacket2_hdr *)(r->map + (size_t)i * r->slot); /* blocks hold whole slots */
}

int slp_rxring_ready(const struct slp_rxring *r)
{
	return !!(__atomic_load_n(&slot_at(r, r->next)->tp_status, __ATOMIC_ACQUIRE) &
		  TP_STATUS_USER);
}

int slp_rxring_rx(struct slp_rxring *r, void (*cb)(void *arg, const void *frame, size_t len),
		  void *arg, int max, uint64_t *drops)
{
	const size_t first = TPACKET_ALIGN(sizeof(struct tpacket2_hdr));
	int got = 0;
	for (int seen = 0; seen < max; seen++) { /* malformed slots count too */
		struct tpacket2_hdr *h = slot_at(r, r->next);
		/* Acquire: the frame and the header fields below were written
		 * before the kernel published the status. */
		uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		if (!(st & TP_STATUS_USER))
			break;
		uint32_t mac = h->tp_mac, snap = h->tp_snaplen;
		const struct sockaddr_ll *sll = (const void *)((uint8_t *)h + first);
		/* A frame the slot truncated (snaplen < len) or a header
		 * pointing outside its slot is dropped, never followed. */
		if (mac >= first + sizeof(*sll) && snap <= r->slot && mac <= r->slot - snap &&
		    snap == h->tp_len && sll->sll_pkttype != PACKET_OUTGOING) {
			cb(arg, (uint8_t *)h + mac, snap);
			got++;
		}
		if (st & TP_STATUS_LOSING)
			(*drops)++;
		/* Release: we are done reading the slot before the kernel may
		 * write it again. */
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		r->next = r->next + 1 == r->nslots ? 0 : r->next + 1;
	}
	return got;
}
