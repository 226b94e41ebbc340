/* SPDX-License-Identifier: MIT */
/* Finding an RDMA device, an active port and the GID to address it by.
 * $IVT_VERBS_DEVICE, $IVT_VERBS_PORT and $IVT_VERBS_GID_INDEX override the
 * automatic choice (e.g. when a host has several NICs). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verbs_internal.h"

static const char no_device_why[] = "no RDMA device (load rdma_rxe or an RDMA NIC driver)";

int verbs_probe(char *why, size_t why_len)
{
	struct verbs_dev d;
	int rc = verbs_dev_open(&d, why, why_len);
	if (rc)
		return rc;
	snprintf(why, why_len, "%s port %u (%s)", d.name, d.port,
		 d.link == VW_LINK_ETH ? "RoCE" : "InfiniBand");
	verbs_dev_close(&d);
	return 0;
}

static long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return dflt;
	char *end;
	long v = strtol(s, &end, 10);
	return *end ? dflt : v;
}

/* Rank a GID table entry: RoCE v2 over IPv4 is what rxe and most RoCE
 * fabrics route; v1 only works inside one L2 domain. 0 = unusable. */
static int gid_rank(const struct ibv_gid_entry *e)
{
	static const uint8_t v4map[12] = {[10] = 0xff, [11] = 0xff};
	if (!vw_gid_valid(e->gid.raw))
		return 0;
	switch (e->gid_type) {
	case IBV_GID_TYPE_ROCE_V2:
		return memcmp(e->gid.raw, v4map, 12) == 0 ? 4 : 3;
	case IBV_GID_TYPE_ROCE_V1:
		return 2;
	case IBV_GID_TYPE_IB:
		return 1;
	}
	return 0;
}

static int pick_gid(struct verbs_dev *d, int tbl_len, char *why, size_t why_len)
{
	long forced = env_long("IVT_VERBS_GID_INDEX", -1);
	int best = -1, best_rank = 0;
	for (int i = 0; i < tbl_len; i++) {
		struct ibv_gid_entry e;
		if (forced >= 0 && i != forced)
			continue;
		if (ibv_query_gid_ex(d->ctx, d->port, (uint32_t)i, &e, 0))
			continue; /* empty slot */
		int r = gid_rank(&e);
		if (r > best_rank) {
			best_rank = r;
			best = i;
			d->gid = e.gid;
		}
	}
	if (best < 0) {
		if (d->link == VW_LINK_IB) { /* LID routing, no GRH needed */
			d->gid_index = -1;
			memset(&d->gid, 0, sizeof(d->gid));
			return 0;
		}
		snprintf(why, why_len,
			 "RDMA device %s port %u has no usable RoCE GID (is the netdev up with an IP address?)",
			 d->name, d->port);
		return -EADDRNOTAVAIL;
	}
	d->gid_index = best;
	return 0;
}

/* Try one device: first active port (or the forced one), then its GID. */
static int try_device(struct verbs_dev *d, struct ibv_device *dev, char *why, size_t why_len)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", ibv_get_device_name(dev));
	d->ctx = ibv_open_device(dev);
	if (!d->ctx) {
		snprintf(why, why_len, "cannot open RDMA device %s: %s", d->name, strerror(errno));
		return -ENODEV;
	}
	if (ibv_query_device(d->ctx, &d->attr)) {
		snprintf(why, why_len, "cannot query RDMA device %s", d->name);
		goto fail;
	}
	long forced_port = env_long("IVT_VERBS_PORT", 0);
	for (unsigned p = 1; p <= d->attr.phys_port_cnt; p++) {
		struct ibv_port_attr pa;
		if (forced_port && (long)p != forced_port)
			continue;
		if (ibv_query_port(d->ctx, (uint8_t)p, &pa) || pa.state != IBV_PORT_ACTIVE)
			continue;
		d->port = (uint8_t)p;
		d->lid = pa.lid;
		d->mtu = pa.active_mtu;
		d->link = pa.link_layer == IBV_LINK_LAYER_ETHERNET ? VW_LINK_ETH : VW_LINK_IB;
		if (pick_gid(d, pa.gid_tbl_len, why, why_len) == 0)
			return 0;
	}
	if (!d->port)
		snprintf(why, why_len, "RDMA device %s has no active port", d->name);
fail:
	ibv_close_device(d->ctx);
	d->ctx = NULL;
	return -ENODEV;
}

int verbs_dev_open(struct verbs_dev *d, char *why, size_t why_len)
{
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	if (!list || n == 0) {
		/* ENOSYS: the kernel has no uverbs support at all; same advice. */
		if (list)
			ibv_free_device_list(list);
		snprintf(why, why_len, "%s", no_device_why);
		return -ENODEV;
	}
	const char *want = getenv("IVT_VERBS_DEVICE");
	int rc = -ENODEV;
	snprintf(why, why_len, "no RDMA device named '%s'", want ? want : "");
	for (int i = 0; i < n && rc; i++) {
		if (want && *want && strcmp(want, ibv_get_device_name(list[i])) != 0)
			continue;
		rc = try_device(d, list[i], why, why_len);
	}
	ibv_free_device_list(list);
	return rc;
}

void verbs_dev_close(struct verbs_dev *d)
{
	if (d->ctx)
		ibv_close_device(d->ctx);
	d->ctx = NULL;
}
