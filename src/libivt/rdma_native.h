/* SPDX-License-Identifier: MIT */
/*
 * One-sided ops done by the plugin itself: a plugin with IVT_CAP_RDMA and
 * the native ops (rdma_write, rdma_read, poll_completions in plugin.h)
 * moves them; the frame layer's emulation is not used for the channel.
 *
 * An op larger than the plugin's max_rdma_len goes out in pieces and
 * completes once, for the caller's wr_id, when every piece finished, with
 * the first error any piece had. So that a refused op never touches the
 * target's memory, the last piece of a split op goes first and the rest
 * only after it succeeded (its range ends where the op ends: if it passes
 * the bounds check, every piece does). Pieces the plugin cannot take yet
 * (-EAGAIN) wait here and go out, in posting order, as completions free
 * room: a later op never overtakes an earlier one's pieces.
 *
 * Nothing here blocks or knows the channel: rdma_api.c waits, the unit
 * tests drive it over a fake plugin. One lock serialises all calls.
 */
#ifndef IVT_LIBIVT_RDMA_NATIVE_H
#define IVT_LIBIVT_RDMA_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#include "ivt/ivt.h"
#include "ivt/plugin.h"

struct ivt_native;

/* Does this plugin do one-sided ops itself (caps, ops_size and ops say so)? */
int ivt_native_usable(const struct ivt_plugin_ops *ops);

/* NULL if out of memory. The ep stays the caller's. */
struct ivt_native *ivt_native_new(const struct ivt_plugin_ops *ops, struct ivt_ep *ep);
void ivt_native_free(struct ivt_native *n);

/* ivt_register_region / ivt_deregister_region through the plugin. */
int ivt_native_register(struct ivt_native *n, void *addr, size_t len, unsigned access,
			uint64_t *key_out);
int ivt_native_deregister(struct ivt_native *n, uint64_t key);

/* Post an op (IVT_OP_RDMA_WRITE/READ). 0: accepted, exactly one completion
 * for wr_id follows, *tag_out names the op here. An op the target's
 * memory refuses (-EACCES, -ERANGE; also offset + len wrapping), even if
 * the plugin knows at once, is accepted and completes with that status,
 * as in the emulation. -EAGAIN: nothing taken (the plugin is full, or
 * earlier ops still wait); retry when completions came. -EINVAL, or the
 * plugin's other refusals of the first piece (-ECONNRESET, -EPIPE,
 * -ENOMEM...): nothing posted, no completion.
 * A write whose rest cannot go out yet keeps a private copy of it when
 * copy_rest; otherwise it keeps reading buf, and the caller must keep buf
 * until ivt_native_all_posted(tag) or call ivt_native_abandon(tag). */
int ivt_native_post(struct ivt_native *n, uint32_t opcode, void *buf, size_t len, uint64_t key,
		    uint64_t offset, uint64_t wr_id, int copy_rest, uint64_t *tag_out);

/* Reap the plugin's completions and post waiting pieces. 1 when op tag has
 * nothing left to hand to the plugin (or is finished), else 0. */
int ivt_native_all_posted(struct ivt_native *n, uint64_t tag);
/* Give up on the unposted rest of op tag: it completes with status err
 * once its posted pieces finished. */
void ivt_native_abandon(struct ivt_native *n, uint64_t tag, int err);

/* Make progress (as above) and reap up to max merged completions. */
int ivt_native_poll(struct ivt_native *n, struct ivt_completion *out, int max);
/* Are completions waiting in libivt to be reaped? */
int ivt_native_pending(struct ivt_native *n);

#endif
