/* SPDX-License-Identifier: MIT */
/* Between store_api.c and the channel spill (spill_tx.c). */
#ifndef IVT_LIBIVT_STORE_H
#define IVT_LIBIVT_STORE_H

#include "ivt/ivt.h"
#include "utmem/tier.h"

/* The store connection as a utmem tier (valid while st is open). Not
 * serialised by st's lock: only for a store nobody else uses. */
struct utmem_tier *ivt_store_tier(ivt_store *st);

#endif
