/* SPDX-License-Identifier: MIT */
/*
 * XenStore paths of the ivt protocol (docs/xenstore.md), built in one place:
 *
 * (<name> as its node: '.' written '@', ivt_xs_name_node)
 *   /local/domain/<d>/data/ivt/<name>/request    guest -> ivtd
 *   /local/domain/<d>/data/ivt/<name>/response   ivtd -> guest (read-only)
 *   /local/domain/<d>/data/ivt/<name>/event      ivtd -> guest (read-only)
 *   /local/domain/<srv>/data/ivt/<name>/vchan    libxenvchan's ring-ref and
 *                                                event-channel (server writes)
 *   /local/domain/<d>/data/ivt/<name>/<slot>/... one more end of the same
 *                                                name (slot: nonzero decimal)
 *   /local/domain/<d>/data/ivt/<name>/in/<t>     ivtd -> a listener: connector
 *                                                <t> waits to be accepted
 *
 * All builders return 0, or -ENAMETOOLONG / -EINVAL (bad name or domid)
 * and never write past len.
 */
#ifndef IVT_COMMON_XS_PATHS_H
#define IVT_COMMON_XS_PATHS_H

#include <stddef.h>
#include <stdint.h>

/* Longest vchan base path libxenvchan 4.17 handles: it builds
 * "<path>/event-channel" in a 64-byte buffer and silently truncates
 * longer ones (tools/libs/vchan/init.c), which would make the server
 * write outside its node. 64 - 1 - strlen("/event-channel") = 49. */
#define IVT_XS_VCHAN_PATH_MAX 49

/* Leaves under a channel node. */
#define IVT_XS_LEAF_REQUEST "request"
#define IVT_XS_LEAF_RESPONSE "response"
#define IVT_XS_LEAF_EVENT "event"
#define IVT_XS_LEAF_VCHAN "vchan"
#define IVT_XS_LEAF_INCOMING "in"

/* A channel name's node under data/ivt: the name with each '.' as '@'.
 * XenStore paths take only [A-Za-z0-9-/_@] (a real xenstored refuses '.'
 * with EINVAL) and '@' is never in a name, so the two are one-to-one,
 * and a name's node never starts with '@' (names never start with '.'),
 * which keeps it apart from the @v<chan> rings. -EINVAL: not a valid
 * name; -ENAMETOOLONG: out too small. */
int ivt_xs_name_node(char *out, size_t len, const char *name);
/* The reverse for the n bytes at node (a directory entry or a path
 * component): -EINVAL unless they are a name's node. */
int ivt_xs_node_name(char *out, size_t len, const char *node, size_t n);

/* /local/domain/<domid> */
int ivt_xs_domain_path(char *buf, size_t len, uint32_t domid);
/* /local/domain/<domid>/data/ivt: the subtree ivtd watches per domain */
int ivt_xs_ivt_dir(char *buf, size_t len, uint32_t domid);
/* /local/domain/<domid>/data/ivt/<name>[/<leaf>] (leaf NULL: the node) */
int ivt_xs_end_path(char *buf, size_t len, uint32_t domid, const char *name, const char *leaf);

/* The same for an end in a slot: slot 0 is the name's own end (as
 * ivt_xs_end_path), else /local/domain/<domid>/data/ivt/<name>/<slot>[/<leaf>]. */
int ivt_xs_slot_path(char *buf, size_t len, uint32_t domid, const char *name, uint32_t slot,
		     const char *leaf);
/* /local/domain/<domid>/data/ivt/<name>/in[/<ticket>] (ticket 0: the dir) */
int ivt_xs_incoming_path(char *buf, size_t len, uint32_t domid, const char *name,
			 uint32_t ticket);

/* The vchan base path the broker assigns to a channel whose server end is
 * in srv_domid: /local/domain/<srv>/data/ivt/<name>/vchan when that fits
 * IVT_XS_VCHAN_PATH_MAX, else /local/domain/<srv>/data/ivt/@v<chan_id>
 * ('@' can never be in a channel name, so it cannot collide; XenStore
 * takes only [A-Za-z0-9-/_@] in paths, so not '.', which a real
 * xenstored refuses with EINVAL).
 * name NULL: always the @v<chan_id> form (connections a listener accepted
 * share their name, so the name cannot tell their rings apart). */
int ivt_xs_vchan_path(char *buf, size_t len, uint32_t srv_domid, const char *name,
		      uint64_t chan_id);

/* Is path a vchan base path that ivtd may remove for a server end in
 * domid: under /local/domain/<domid>/data/ivt/, no "..", <= the limit. */
int ivt_xs_vchan_path_ok(const char *path, uint32_t domid);

#endif /* IVT_COMMON_XS_PATHS_H */
