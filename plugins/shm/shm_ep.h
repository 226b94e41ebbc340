/* SPDX-License-Identifier: MIT */
/* Internals shared by the shm plugin's files. */
#ifndef IVT_SHM_EP_H
#define IVT_SHM_EP_H

#include <stddef.h>
#include <stdint.h>

#include "common/ring.h"
#include "ivt/plugin.h"

/* The setup message the listening end sends through the oob channel,
 * together with the fds {memfd, the client's end of the wake-up socket
 * pair}. Both ends run on one host, so native byte order and layout.
 *
 * Wake-ups travel over an AF_UNIX stream socketpair, not eventfds: a
 * passed eventfd is one open file description shared by both ends, and
 * the peer could clear its O_NONBLOCK and make our read or write block
 * (issue 9, item 1). Each end here owns a different socket, and every
 * send/recv on it says MSG_DONTWAIT anyway. The pair also tells each side
 * when the other process is gone (EOF), without ivtd. */
#define SHM_SETUP_MAGIC 0x4d485349u /* "ISHM" */
#define SHM_SETUP_VERSION 2u
#define SHM_SETUP_NFDS 2
enum { SHM_FD_MEM = 0, SHM_FD_WAKE = 1 };

struct shm_setup_blob {
	uint32_t magic;
	uint32_t version;
	uint64_t ring_size; /* bytes per direction */
	uint64_t shm_size;  /* memfd size = ivt_ring_shm_size(ring_size) */
};

struct ivt_ep {
	struct ivt_ring ring;
	void *map;
	size_t map_len;
	int wake;      /* our end of the wake-up socket pair; our poll_fd */
	int peer_gone; /* the pair said EOF: the peer process let go of its end */
};

/* Logging through the host (set by init; silent before). */
void shm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ring kick callback: one byte on the wake-up socket, never blocking. */
int shm_kick(void *ctx);
/* Consume pending wake-ups; notes the peer's end closing (peer_gone). */
void shm_drain_wake(struct ivt_ep *ep);

/* Allocate an ep with no resources (fds -1). */
struct ivt_ep *shm_ep_new(void);
/* Release everything the ep holds (without the close handshake). */
void shm_ep_free(struct ivt_ep *ep);

int shm_listen(const struct ivt_ep_params *params, struct ivt_ep **out);
int shm_accept(struct ivt_ep *ep);
int shm_connect(const struct ivt_ep_params *params, struct ivt_ep **out);
/* Rings kept for reuse (shm_reuse.c; plugin.h's park, peer_done, renew). */
int shm_park(struct ivt_ep *ep);
int shm_peer_done(struct ivt_ep *ep);
int shm_renew(struct ivt_ep *ep);

#endif
