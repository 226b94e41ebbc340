/* SPDX-License-Identifier: MIT */
#include "xs_store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/xs_paths.h"

#define TXN_RETRIES 32

int ivt_xs_txn(struct xs_handle *xs, ivt_xs_txn_fn fn, void *arg)
{
	for (int i = 0; i < TXN_RETRIES; i++) {
		xs_transaction_t t = xs_transaction_start(xs);
		if (t == XBT_NULL)
			return -(errno ? errno : EIO);
		int rc = fn(xs, t, arg);
		if (rc) {
			xs_transaction_end(xs, t, true);
			return rc;
		}
		if (xs_transaction_end(xs, t, false))
			return 0;
		if (errno != EAGAIN)
			return -(errno ? errno : EIO);
	}
	return -EAGAIN;
}

int ivt_xs_read_value(struct xs_handle *xs, xs_transaction_t t, const char *path, char *buf,
		      size_t cap, size_t *len)
{
	unsigned n = 0;
	char *v = xs_read(xs, t, path, &n);
	if (!v)
		return -(errno ? errno : EIO);
	if (n >= cap) {
		free(v);
		return -EFBIG;
	}
	memcpy(buf, v, n);
	buf[n] = '\0';
	*len = n;
	free(v);
	return 0;
}

struct answer {
	const char *guard, *path, *value;
	uint32_t domid;
};

static int write_answer_txn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	const struct answer *a = arg;
	/* Owner dom0 with no access for others; the guest gets read. For
	 * dom0's own ends the owner entry says it all. */
	struct xs_permissions perms[2] = {
		{.id = 0, .perms = XS_PERM_NONE},
		{.id = a->domid, .perms = XS_PERM_READ},
	};
	if (a->guard) {
		unsigned n;
		char *v = xs_read(xs, t, a->guard, &n);
		if (!v)
			return -ENOENT;
		free(v);
	}
	if (!xs_write(xs, t, a->path, a->value, strlen(a->value)))
		return -(errno ? errno : EIO);
	if (!xs_set_permissions(xs, t, a->path, perms, a->domid ? 2 : 1))
		return -(errno ? errno : EIO);
	return 0;
}

int ivt_xs_write_answer(struct xs_handle *xs, const char *guard, const char *path,
			const char *value, uint32_t domid)
{
	struct answer a = {.guard = guard, .path = path, .value = value, .domid = domid};
	return ivt_xs_txn(xs, write_answer_txn, &a);
}

int ivt_xs_domain_alive(struct xs_handle *xs, uint32_t domid)
{
	char path[64];
	unsigned n;
	if (ivt_xs_domain_path(path, sizeof(path), domid))
		return 0;
	if (!xs_is_domain_introduced(xs, domid))
		return 0;
	char **d = xs_directory(xs, XBT_NULL, path, &n);
	if (!d)
		return errno != ENOENT; /* unsure (e.g. EIO): don't declare it dead */
	free(d);
	return 1;
}
