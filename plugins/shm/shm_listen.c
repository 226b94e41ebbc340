/* SPDX-License-Identifier: MIT */
/* Listening end: create the memfd rings and the wake-up socket pair,
 * publish them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fd_stdio.h"
#include "shm_ep.h"

static int make_memfd(const char *channel, size_t size)
{
	char name[64];
	snprintf(name, sizeof(name), "ivt-shm:%.48s", channel ? channel : "");
	int fd = ivt_fd_off_stdio(memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
	if (fd < 0)
		return -errno;
	/* Sealed so the client can rely on the size: a shrink would SIGBUS it. */
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int shm_listen(const struct ivt_ep_params *params, struct ivt_ep **out)
{
	if (!params || !out || !params->oob || !params->oob->send)
		return -EINVAL;
	size_t shm_size = ivt_ring_shm_size(params->ring_size);
	if (!shm_size) {
		shm_log(IVT_LOG_ERR, "ring size %zu is not a power of two in [%u, %u]",
			params->ring_size, IVT_RING_MIN_SIZE, IVT_RING_MAX_SIZE);
		return -EINVAL;
	}
	struct ivt_ep *ep = shm_ep_new();
	if (!ep)
		return -ENOMEM;
	int rc, memfd = make_memfd(params->channel, shm_size), sv[2] = {-1, -1};
	if (memfd < 0) {
		rc = memfd;
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		goto fail;
	}
	ep->wake = ivt_fd_off_stdio(sv[0]);
	ep->map = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (ep->map == MAP_FAILED) {
		ep->map = NULL;
		rc = -errno;
		goto fail;
	}
	ep->map_len = shm_size;
	rc = ivt_ring_create(&ep->ring, ep->map, shm_size, params->ring_size, shm_kick, ep);
	if (rc < 0)
		goto fail;

	struct shm_setup_blob blob = {
		.magic = SHM_SETUP_MAGIC,
		.version = SHM_SETUP_VERSION,
		.ring_size = params->ring_size,
		.shm_size = shm_size,
	};
	int fds[SHM_SETUP_NFDS];
	fds[SHM_FD_MEM] = memfd;
	fds[SHM_FD_WAKE] = sv[1];
	rc = params->oob->send(params->oob->ctx, &blob, sizeof(blob), fds, SHM_SETUP_NFDS);
	if (rc < 0) {
		/* a direct line full or gone: the caller opens through ivtd */
		int quiet = rc == -EAGAIN || rc == -EPIPE || rc == -ECONNRESET ||
			    rc == -ECONNREFUSED;
		shm_log(quiet ? IVT_LOG_DEBUG : IVT_LOG_ERR, "channel '%s': sending setup: %s",
			params->channel ? params->channel : "", strerror(-rc));
		goto fail;
	}
	/* The oob transport duplicated them; the mapping keeps the memory. We
	 * keep no copy of the client's end, so its closing reaches us as EOF. */
	close(memfd);
	close(sv[1]);
	*out = ep;
	return 0;
fail:
	if (memfd >= 0)
		close(memfd);
	if (sv[1] >= 0)
		close(sv[1]);
	shm_ep_free(ep); /* closes sv[0] */
	return rc;
}

int shm_accept(struct ivt_ep *ep)
{
	if (ep->ring.broken)
		return -EPROTO;
	if (ivt_ring_peer_attached(&ep->ring))
		return 0;
	/* The client's end was closed before it attached: nobody will. */
	return __atomic_load_n(&ep->peer_gone, __ATOMIC_ACQUIRE) ? -ECONNRESET : -EAGAIN;
}
