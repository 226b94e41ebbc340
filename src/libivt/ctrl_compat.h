/* SPDX-License-Identifier: MIT */
/*
 * A newer libivt against an older ivtd (docs/libivt.3.md, COMPATIBILITY):
 * an ivtd refuses OPEN flags it does not know ("invalid OPEN flags"), so
 * libivt asks once more without the optional ones (IVT_CTRL_OPEN_OPTIONAL)
 * and names the feature when a required one is missing.
 */
#ifndef IVT_LIBIVT_CTRL_COMPAT_H
#define IVT_LIBIVT_CTRL_COMPAT_H

#include <stdint.h>

#include "common/ctrl_proto.h"

/* For an ERROR answering an OPEN with flags `sent`: the flags ivtd knows
 * when it refused the OPEN for unknown flags, else 0. An ivtd too old to
 * say is taken to lack the newest optional flag sent, or, with none
 * sent, everything but IVT_LISTEN. */
uint32_t ivt_ctrl_compat_known(const struct ivt_ctrl_error *e, uint32_t sent);

/* The OPEN with `flags` was refused by an ivtd that knows `known`.
 * 0 and *out = flags without the unknown optional ones: ask again.
 * -EOPNOTSUPP (reason names the feature) when a required flag is
 * unknown; -EINVAL (reason kept) when nothing can be dropped. */
int ivt_ctrl_compat_flags(uint32_t flags, uint32_t known, const char *path, uint32_t *out);

/* ivt_ctrl_compat_flags on req->flags; a connector's name
 * tcp.<P>.<addr> whose IVT_CTRL_OPEN_TCP_DIAL goes becomes tcp.<P>, as
 * libivt named it before addresses. 0: ask again with *req. */
int ivt_ctrl_compat_open(struct ivt_ctrl_open *req, uint32_t known, const char *path);

#endif
