/* SPDX-License-Identifier: MIT */
/*
 * A tiny in-process xenstored for tests: serves the XenStore wire protocol
 * (xen/io/xs_wire.h) on a unix socket so the real libxenstore, pointed at
 * it with $XENSTORED_PATH, can be used without Xen.
 *
 * Supported: READ, WRITE, MKDIR, RM, DIRECTORY, GET/SET_PERMS, WATCH,
 * UNWATCH (watches fire once on registration, like xenstored), transaction
 * start/end (applied immediately: fine for one client; fx_fail_next_commit
 * makes the next commit fail with EAGAIN to exercise retries),
 * IS_DOMAIN_INTRODUCED, and a domain's destruction (fx_release_domain).
 * Anything else gets ENOSYS.
 */
#ifndef FAKE_XENSTORED_H
#define FAKE_XENSTORED_H

#include <stdint.h>

/* Start serving on a fresh socket and set $XENSTORED_PATH to it. */
int fx_start(void);
void fx_stop(void);

/* The test acting as a guest or the toolstack (fires watches). */
void fx_write(const char *path, const char *value);
void fx_rm(const char *path);
/* Copy of a node's value, or NULL (caller frees). */
char *fx_read(const char *path);
/* Watches registered now (all clients). */
int fx_watch_count(void);
/* The name of one child of dir other than skip (NULL: any), or NULL
 * (caller frees). */
char *fx_child(const char *dir, const char *skip);
/* Permissions as xenstored prints them, e.g. "n0,r3", or NULL. */
char *fx_perms(const char *path);
void fx_set_introduced(uint32_t domid, int introduced);
/* Fire a special watch: "@introduceDomain" or "@releaseDomain". */
void fx_fire(const char *special);
/* Set a node's permissions as its writer would (xs_set_permissions). */
void fx_set_perms(const char *path, const char *perms);
/* xl destroy as seen in XenStore (oxenstored 4.17 in the Xen bed): the
 * toolstack removes /local/domain/<d> (watches fire); xenstored forgets
 * the domain, deletes every node it still owns elsewhere, subtree and
 * all, without firing watches (XSA-419), drops it from every other
 * node's ACL ("n3,r7" becomes "n3", XSA-322), then fires @releaseDomain. */
void fx_release_domain(uint32_t domid);
void fx_fail_next_commit(void);
/* Number of commits that failed on purpose and were retried. */
int fx_failed_commits(void);

#endif
