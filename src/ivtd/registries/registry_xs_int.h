/* SPDX-License-Identifier: MIT */
/* registry_xs.c's state, shared with registry_xs_adopt.c (taking over
 * what a previous ivtd left in XenStore). */
#ifndef IVTD_REGISTRY_XS_INT_H
#define IVTD_REGISTRY_XS_INT_H

#include <stdint.h>

#include <event2/event.h>
#include <xenstore.h>

#include "common/ctrl_msg.h"
#include "common/xs_paths.h"
#include "common/xs_request.h"
#include "common/xs_response.h"
#include "registry.h"

#define WHO "xenstore"
#define TOKEN_DOMAIN "ivt:dom"
#define TOKEN_INTRO "ivt:introduce"
#define TOKEN_RELEASE "ivt:release"
/* Bounds on what one guest can make ivtd hold and do. */
#define MAX_ENDS_PER_DOMAIN 256
#define MAX_NAMES_SCANNED 256
#define MAX_EVENTS_PER_WAKEUP 256

struct xs_end {
	struct ivt_reg_end base; /* first: the broker sees &base */
	struct xs_end *next;
	char name[IVT_NAME_MAX + 1];
	uint32_t slot;                        /* 0: <name>/request, else <name>/<slot>/request */
	char request[IVT_XS_REQUEST_MAX + 1]; /* raw value, to spot rewrites */
	struct ivt_xs_request req;
	struct ivt_end_request open;          /* what the broker was asked */
	char vchan_path[IVT_XS_PATH_MAX + 1]; /* server ends: removed when it goes */
	int peer_halfclose; /* peer_info said the other end takes half-close */
};

struct xs_domain {
	struct xs_domain *next;
	uint32_t domid;
};

struct xs_registry {
	struct ivt_registry base; /* first */
	struct xs_handle *xs;
	struct event *ev;
	struct xs_end *ends;
	struct xs_domain *doms;
};

static inline struct xs_registry *reg_of(struct ivt_registry *r)
{
	return (struct xs_registry *)r;
}
static inline struct xs_end *end_of(struct ivt_reg_end *e) { return (struct xs_end *)e; }

struct xs_end *xs_find_end(struct xs_registry *r, uint32_t domid, const char *name,
			   uint32_t slot);
int xs_count_ends(struct xs_registry *r, uint32_t domid);
/* A new end in the table, not yet reported; NULL with the guest refused
 * (EMFILE, ENOMEM). raw_len <= IVT_XS_REQUEST_MAX. */
struct xs_end *xs_end_new(struct xs_registry *r, uint32_t domid, const char *name, uint32_t slot,
			  const char *raw, size_t raw_len, const struct ivt_xs_request *req);
/* The entries of dir, at most MAX_NAMES_SCANNED (NULL: none). */
char **xs_list_dir(struct xs_registry *r, uint32_t domid, const char *dir, unsigned *n);

/* registry_xs_tcp.c (docs/xenstore.md, "TCP ports of guests"). The guest
 * whose vif the toolstack gave ip: 0 with *owner, or -EHOSTUNREACH (none,
 * or its domain is gone), -ENOTUNIQ (several), with a reason in why. */
int xs_addr_owner(struct xs_registry *r, const struct ivt_ip *ip, uint32_t *owner, char *why,
		  size_t why_len);
/* The broker's name for domid's request of name into out: tcp.<P> becomes
 * tcp.<P>.dom<owner> (owner: domid for listeners and plain connectors, the
 * address's guest for addr=, which also sets req's peer); any other name
 * stays. 0 or a negative errno with why. */
int xs_tcp_scope(struct xs_registry *r, uint32_t domid, const char *name,
		 struct ivt_xs_request *req, char *out, size_t out_len, char *why, size_t why_len);

/* registry_xs_adopt.c: at start, before any request is handled, take
 * over the ends a previous ivtd answered (docs/xenstore.md). */
void xs_adopt_all(struct xs_registry *r);

#endif /* IVTD_REGISTRY_XS_INT_H */
