/* SPDX-License-Identifier: MIT */
#include "xsk.h"

#include <bpf/bpf.h>
#include <dlfcn.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_xdp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include "wire.h"

#define NFRAMES 4096u                      /* half for receiving, half for sending */
#define FRAME XSK_UMEM__DEFAULT_FRAME_SIZE /* 4096: one page per frame */
#define RING 2048u
#define NTX (NFRAMES / 2)

/* libbpf and libxdp are loaded when first needed: ivtd and the plugin
 * get no hard dependency on them, and without them (or this kernel's
 * support) the raw socket keeps AF_PACKET. The ring accessors are inline
 * in <xdp/xsk.h>. */
static struct {
	int (*map_create)(enum bpf_map_type, const char *, __u32, __u32, __u32,
			  const struct bpf_map_create_opts *);
	int (*prog_load)(enum bpf_prog_type, const char *, const char *, const struct bpf_insn *,
			 size_t, struct bpf_prog_load_opts *);
	int (*link_create)(int, int, enum bpf_attach_type, const struct bpf_link_create_opts *);
	int (*map_update)(int, const void *, const void *, __u64);
	int (*umem_create)(struct xsk_umem **, void *, __u64, struct xsk_ring_prod *,
			   struct xsk_ring_cons *, const struct xsk_umem_config *);
	int (*socket_create)(struct xsk_socket **, const char *, __u32, struct xsk_umem *,
			     struct xsk_ring_cons *, struct xsk_ring_prod *,
			     const struct xsk_socket_config *);
	int (*socket_fd)(const struct xsk_socket *);
	void (*socket_delete)(struct xsk_socket *);
	int (*umem_delete)(struct xsk_umem *);
	const char *missing;
} lib;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void *sym(void *h, const char *name)
{
	void *p = h ? dlsym(h, name) : NULL;
	if (!p && !lib.missing)
		lib.missing = name;
	return p;
}

static void lib_load(void)
{
	void *b = dlopen("libbpf.so.1", RTLD_NOW | RTLD_LOCAL);
	void *x = dlopen("libxdp.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!b || !x) {
		lib.missing = !b ? "libbpf.so.1" : "libxdp.so.1";
		return;
	}
	*(void **)&lib.map_create = sym(b, "bpf_map_create");
	*(void **)&lib.prog_load = sym(b, "bpf_prog_load");
	*(void **)&lib.link_create = sym(b, "bpf_link_create");
	*(void **)&lib.map_update = sym(b, "bpf_map_update_elem");
	*(void **)&lib.umem_create = sym(x, "xsk_umem__create");
	*(void **)&lib.socket_create = sym(x, "xsk_socket__create");
	*(void **)&lib.socket_fd = sym(x, "xsk_socket__fd");
	*(void **)&lib.socket_delete = sym(x, "xsk_socket__delete");
	*(void **)&lib.umem_delete = sym(x, "xsk_umem__delete");
}

struct slp_xsk {
	struct xsk_umem *umem;
	struct xsk_socket *sock;
	struct xsk_ring_prod fq, tx;
	struct xsk_ring_cons cq, rx;
	uint8_t *area;
	int ifindex, prog_fd, map_fd, link_fd, fd;
	uint32_t attach_flags;
	uint64_t free_tx[NTX]; /* UMEM addresses of idle TX frames */
	uint32_t nfree, queued;
};

static int failf(char *why, size_t n, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return err;
}

/* The XDP program: SLURPoE frames to the socket in the XSKMAP slot of
 * their receive queue (XDP_PASS when there is none), everything else to
 * the stack. Hand-written instructions: no BPF compiler at build time. */
static int load_prog(int map_fd, char *log, size_t log_len)
{
	const struct bpf_insn insns[] = {
		/* r2 = ctx->data, r3 = ctx->data_end */
		{.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 1, .off = 0},
		{.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 3, .src_reg = 1, .off = 4},
		/* if (data + 14 > data_end) pass */
		{.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 4, .src_reg = 2},
		{.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 4, .imm = SLP_ETH_HLEN},
		{.code = BPF_JMP | BPF_JGT | BPF_X, .dst_reg = 4, .src_reg = 3, .off = 8},
		/* if (eth->h_proto != htons(0x88B5)) pass */
		{.code = BPF_LDX | BPF_MEM | BPF_H, .dst_reg = 5, .src_reg = 2, .off = 12},
		{.code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 5, .off = 6,
		 .imm = (SLP_ETHERTYPE >> 8) | ((SLP_ETHERTYPE & 0xff) << 8)},
		/* return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS) */
		{.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 1, .off = 16},
		{.code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD,
		 .imm = map_fd},
		{.imm = 0},
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 3, .imm = XDP_PASS},
		{.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_redirect_map},
		{.code = BPF_JMP | BPF_EXIT},
		/* pass: */
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS},
		{.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = (uint32_t)log_len,
		    .log_level = 0);
	return lib.prog_load(BPF_PROG_TYPE_XDP, "slurpoe_xsk", "Dual MIT/GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), &o);
}

/* Only queue 0 is served: a device with more receive queues would spread
 * frames over sockets we do not have. -1 when the device does not say. */
static int rx_queues(const char *ifname)
{
	struct ethtool_channels ch = {.cmd = ETHTOOL_GCHANNELS};
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ch;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = fd >= 0 ? ioctl(fd, SIOCETHTOOL, &ifr) : -1;
	if (fd >= 0)
		close(fd);
	if (rc)
		return -1;
	return (int)(ch.rx_count + ch.combined_count);
}

void slp_xsk_close(struct slp_xsk *x)
{
	if (!x)
		return;
	if (x->sock)
		lib.socket_delete(x->sock);
	if (x->umem)
		lib.umem_delete(x->umem);
	if (x->link_fd >= 0) /* the program leaves the interface with its link */
		close(x->link_fd);
	if (x->prog_fd >= 0)
		close(x->prog_fd);
	if (x->map_fd >= 0)
		close(x->map_fd);
	free(x->area);
	free(x);
}

int slp_xsk_open(const char *ifname, int ifindex, int mtu, struct slp_xsk **out, char *why,
		 size_t why_len)
{
	if (mtu + SLP_ETH_HLEN > FRAME - XSK_UMEM__DEFAULT_FRAME_HEADROOM - 256)
		return failf(why, why_len, -EMSGSIZE, "MTU %d: AF_XDP frames are one page here",
			     mtu);
	pthread_once(&lib_once, lib_load);
	if (lib.missing)
		return failf(why, why_len, -ENOSYS, "%s not available", lib.missing);
	int nq = rx_queues(ifname);
	if (nq != 1)
		return failf(why, why_len, -EOPNOTSUPP,
			     "%s has %d receive queues, the AF_XDP path serves one", ifname, nq);
	struct slp_xsk *x = calloc(1, sizeof(*x));
	if (!x)
		return failf(why, why_len, -ENOMEM, "out of memory");
	x->ifindex = ifindex;
	x->prog_fd = x->map_fd = x->link_fd = -1;
	int err = -EOPNOTSUPP;
	x->map_fd = lib.map_create(BPF_MAP_TYPE_XSKMAP, "slurpoe_xsks", 4, 4, 1, NULL);
	if (x->map_fd < 0) {
		err = failf(why, why_len, -errno, "XSKMAP: %s", strerror(errno));
		goto fail;
	}
	char log[512] = "";
	x->prog_fd = load_prog(x->map_fd, log, sizeof(log));
	if (x->prog_fd < 0) {
		err = failf(why, why_len, -errno, "loading the XDP program: %s %s", strerror(errno),
			    log);
		goto fail;
	}
	/* Native first (frames never become skbs), then generic. A link,
	 * not a netlink attachment: it never replaces someone else's program,
	 * and it goes with our process, however that ends. */
	static const uint32_t modes[] = {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
	for (int i = 0; i < 2 && !x->attach_flags; i++) {
		LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = modes[i]);
		x->link_fd = lib.link_create(x->prog_fd, ifindex, BPF_XDP, &lo);
		if (x->link_fd >= 0)
			x->attach_flags = modes[i];
		else
			err = -errno;
	}
	if (!x->attach_flags) {
		err = failf(why, why_len, err, "attaching XDP to %s: %s", ifname, strerror(-err));
		goto fail;
	}
	if (posix_memalign((void **)&x->area, (size_t)getpagesize(), (size_t)NFRAMES * FRAME)) {
		err = failf(why, why_len, -ENOMEM, "out of memory");
		goto fail;
	}
	struct xsk_umem_config uc = {.fill_size = RING, .comp_size = RING, .frame_size = FRAME,
				     .frame_headroom = XSK_UMEM__DEFAULT_FRAME_HEADROOM};
	err = lib.umem_create(&x->umem, x->area, (uint64_t)NFRAMES * FRAME, &x->fq, &x->cq, &uc);
	if (err) {
		err = failf(why, why_len, err, "UMEM: %s", strerror(-err));
		goto fail;
	}
	struct xsk_socket_config sc = {.rx_size = RING, .tx_size = RING,
				       .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
				       .xdp_flags = x->attach_flags, .bind_flags = XDP_COPY};
	err = lib.socket_create(&x->sock, ifname, 0, x->umem, &x->rx, &x->tx, &sc);
	if (err) {
		err = failf(why, why_len, err, "AF_XDP socket: %s", strerror(-err));
		goto fail;
	}
	uint32_t key = 0;
	x->fd = lib.socket_fd(x->sock);
	if (lib.map_update(x->map_fd, &key, &x->fd, 0)) {
		err = failf(why, why_len, -errno, "XSKMAP update: %s", strerror(errno));
		goto fail;
	}
	/* First half of the UMEM receives, second half sends. */
	uint32_t idx;
	if (xsk_ring_prod__reserve(&x->fq, NFRAMES / 2, &idx) != NFRAMES / 2) {
		err = failf(why, why_len, -ENOMEM, "fill ring");
		goto fail;
	}
	for (uint32_t i = 0; i < NFRAMES / 2; i++)
		*xsk_ring_prod__fill_addr(&x->fq, idx + i) = (uint64_t)i * FRAME;
	xsk_ring_prod__submit(&x->fq, NFRAMES / 2);
	for (uint32_t i = 0; i < NTX; i++)
		x->free_tx[x->nfree++] = (uint64_t)(NFRAMES / 2 + i) * FRAME;
	*out = x;
	return 0;
fail:
	slp_xsk_close(x);
	return err;
}

int slp_xsk_fd(const struct slp_xsk *x) { return x->fd; }

const char *slp_xsk_mode(const struct slp_xsk *x)
{
	return x->attach_flags == XDP_FLAGS_DRV_MODE ? "native" : "generic";
}

int slp_xsk_rx(struct slp_xsk *x, void (*cb)(void *arg, const void *frame, size_t len),
	       void *arg, int max)
{
	uint32_t idx, fidx;
	uint32_t n = xsk_ring_cons__peek(&x->rx, (uint32_t)max, &idx);
	if (!n)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
		cb(arg, xsk_umem__get_data(x->area, d->addr), d->len);
	}
	/* The frames go back to the kernel for the next arrivals; the fill
	 * ring has room for all of them (it never holds more than half). */
	while (xsk_ring_prod__reserve(&x->fq, n, &fidx) != n)
		;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = xsk_ring_cons__rx_desc(&x->rx, idx + i)->addr;
		*xsk_ring_prod__fill_addr(&x->fq, fidx + i) = xsk_umem__extract_addr(a);
	}
	xsk_ring_prod__submit(&x->fq, n);
	xsk_ring_cons__release(&x->rx, n);
	return (int)n;
}

/* TX frames the kernel has sent are ours again. */
static void reap(struct slp_xsk *x)
{
	uint32_t idx, n = xsk_ring_cons__peek(&x->cq, RING, &idx);
	for (uint32_t i = 0; i < n; i++)
		x->free_tx[x->nfree++] = *xsk_ring_cons__comp_addr(&x->cq, idx + i);
	xsk_ring_cons__release(&x->cq, n);
}

void slp_xsk_kick(struct slp_xsk *x)
{
	if (x->queued) {
		x->queued = 0;
		sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
	}
	reap(x);
}

int slp_xsk_tx(struct slp_xsk *x, const void *frame, size_t len)
{
	uint32_t idx;
	if (len > FRAME - XSK_UMEM__DEFAULT_FRAME_HEADROOM)
		return -EMSGSIZE;
	if (!x->nfree)
		reap(x);
	if (!x->nfree) {
		slp_xsk_kick(x);
		if (!x->nfree)
			return -ENOBUFS;
	}
	if (xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1) {
		slp_xsk_kick(x);
		if (xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1)
			return -ENOBUFS;
	}
	uint64_t a = x->free_tx[--x->nfree];
	memcpy(xsk_umem__get_data(x->area, a), frame, len);
	struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx);
	d->addr = a;
	d->len = (uint32_t)len;
	xsk_ring_prod__submit(&x->tx, 1);
	if (++x->queued >= 64)
		slp_xsk_kick(x);
	return 0;
}
