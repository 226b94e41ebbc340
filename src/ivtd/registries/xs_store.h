/* SPDX-License-Identifier: MIT */
/* Small libxenstore helpers for registry_xs.c: transactions with retry,
 * answers the guest may read but not write, domain liveness. */
#ifndef IVTD_XS_STORE_H
#define IVTD_XS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <xenstore.h>

/* Run fn inside a transaction; retry the whole thing while xenstored says
 * EAGAIN (a concurrent writer touched the same nodes). fn returns 0 to
 * commit, a negative errno to abort. Returns 0 or a negative errno. */
typedef int (*ivt_xs_txn_fn)(struct xs_handle *xs, xs_transaction_t t, void *arg);
int ivt_xs_txn(struct xs_handle *xs, ivt_xs_txn_fn fn, void *arg);

/* Read a value of at most cap-1 bytes into buf (NUL-terminated; *len is
 * the exact length xenstored reported, which may include NULs). Returns 0,
 * -ENOENT if the node does not exist, -EFBIG if it is longer than cap-1
 * (the caller refuses it), or another negative errno. */
int ivt_xs_read_value(struct xs_handle *xs, xs_transaction_t t, const char *path, char *buf,
		      size_t cap, size_t *len);

/* In one transaction: unless `guard` is NULL, check that node exists
 * (-ENOENT otherwise: the guest withdrew, don't leave litter); write
 * path = value; make it owned by dom0 and readable (only) by domid. */
int ivt_xs_write_answer(struct xs_handle *xs, const char *guard, const char *path,
			const char *value, uint32_t domid);

/* Does domid still exist: XenStore knows the domain and its
 * /local/domain/<domid> directory is there (libxl removes it on destroy;
 * the guest itself cannot). */
int ivt_xs_domain_alive(struct xs_handle *xs, uint32_t domid);

#endif /* IVTD_XS_STORE_H */
