/* SPDX-License-Identifier: MIT */
/*
 * Channel spill (policy "spill", docs/utmem.md): when the ring is full, a
 * sender parks what does not fit in a utmem spill queue (src/utmem/spill.h)
 * kept in ivtd's store over this channel's own ivt_store connection,
 * opened on first need.
 *
 * Ordering invariant: once anything is queued, every later byte goes
 * behind it; the queue drains into the ring (in order) before any newer
 * byte is written directly. One lock serialises the queue, the direct
 * writes and the drains; receive-side progress only ever TRIES it, so a
 * sender sleeping on a full ring never stalls the receiving thread.
 */
#ifndef IVT_LIBIVT_SPILL_TX_H
#define IVT_LIBIVT_SPILL_TX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ivt_channel;

/* At open: above_bytes from OPEN_OK (0: no spill, nothing allocated).
 * socket_opt: where the store is (the channel's own opts->socket_path). */
int chan_spill_init(struct ivt_channel *ch, uint64_t above_bytes, const char *socket_opt);
void chan_spill_free(struct ivt_channel *ch);

/* ivt_send for a spilling channel (peer state and accept already
 * checked). -ENOSYS: no spill here, send the ordinary way. */
ssize_t chan_spill_send(struct ivt_channel *ch, const void *buf, size_t len);

/* Move parked bytes into the ring if the queue is free; never waits for
 * room (from the receive and completion paths). */
void chan_spill_progress(struct ivt_channel *ch);

/* IVT_EV_SEND while parked bytes wait for room (and no sender is already
 * waiting for it), so a sleeping receiver also wakes to drain them. */
unsigned chan_spill_events(struct ivt_channel *ch);

/* ivt_close: deliver everything parked, waiting while the peer makes
 * progress; gives up after timeout_ms without any. 0 or -ETIMEDOUT/error. */
int chan_spill_close_flush(struct ivt_channel *ch, int timeout_ms);

#endif
