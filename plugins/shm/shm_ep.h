/* SPDX-License-Identifier: MIT */
/* Internals shared by the shm plugin's files. */
#ifndef IVT_SHM_EP_H
#define IVT_SHM_EP_H

#include <stddef.h>
#include <stdint.h>

#include "common/ring.h"
#include "ivt/plugin.h"

/* The setup message the listening end sends through the oob channel,
 * together with the fds {memfd, eventfd to server, eventfd to client}.
 * Both ends run on one host, so native byte order and layout. */
#define SHM_SETUP_MAGIC 0x4d485349u /* "ISHM" */
#define SHM_SETUP_VERSION 1u
#define SHM_SETUP_NFDS 3
enum { SHM_FD_MEM = 0, SHM_FD_TO_SERVER = 1, SHM_FD_TO_CLIENT = 2 };

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
	int own_efd;  /* the peer kicks this; our poll_fd */
	int peer_efd; /* we kick this */
};

/* Logging through the host (set by init; silent before). */
void shm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ring kick callback: one eventfd write. */
int shm_kick(void *ctx);

/* Allocate an ep with no resources (fds -1). */
struct ivt_ep *shm_ep_new(void);
/* Release everything the ep holds (without the close handshake). */
void shm_ep_free(struct ivt_ep *ep);

int shm_listen(const struct ivt_ep_params *params, struct ivt_ep **out);
int shm_accept(struct ivt_ep *ep);
int shm_connect(const struct ivt_ep_params *params, struct ivt_ep **out);

#endif
