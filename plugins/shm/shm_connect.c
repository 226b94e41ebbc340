/* SPDX-License-Identifier: MIT */
/* Connecting end: take the server's memfd and our end of the wake-up
 * socket pair from the oob channel. Everything in that message comes from
 * the other side and is checked before use. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm_ep.h"

static int sockopt(int fd, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);
	return getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0 ? -1 : v;
}

/* A connected AF_UNIX stream socket, and nothing else: poll on it and
 * send/recv with MSG_DONTWAIT never block, whatever its file flags say
 * (the creator may hold the same description; we never rely on them).
 * SO_TYPE fails on anything but a socket; getpeername fails on one that
 * is not connected (a listening one included) and names its family. It
 * came close-on-exec (struct ivt_oob). */
static int check_wake_socket(int fd)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	memset(&peer, 0, sizeof(peer));
	if (sockopt(fd, SO_TYPE) != SOCK_STREAM ||
	    getpeername(fd, (struct sockaddr *)&peer, &plen) < 0 ||
	    plen < sizeof(peer.ss_family) || peer.ss_family != AF_UNIX) {
		shm_log(IVT_LOG_WARN, "setup: wake-up fd is not a connected AF_UNIX stream socket");
		return -EPROTO;
	}
	return 0;
}

static int check_memfd(int fd, size_t want_size)
{
	/* Without F_SEAL_SHRINK the creator could truncate it under our
	 * mapping and turn our next ring access into SIGBUS. Seals only ever
	 * grow, so checking once before mapping is enough. The seal also
	 * proves the fd is a memfd, without a readlink of /proc/self/fd (a
	 * path lookup per connection): only memfd_create(MFD_ALLOW_SEALING)
	 * makes files that take F_SEAL_SHRINK; other files fail F_GET_SEALS
	 * or report F_SEAL_SEAL alone. */
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		shm_log(IVT_LOG_WARN, "setup: shared memory fd is not a memfd sealed against "
				      "shrinking");
		return -EPROTO;
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size != want_size) {
		shm_log(IVT_LOG_WARN, "setup: memfd is %lld bytes, layout needs %zu",
			(long long)st.st_size, want_size);
		return -EPROTO;
	}
	return 0; /* it came close-on-exec (struct ivt_oob) */
}

/* The blob: exact length, our magic and version, the ring size the policy
 * gave us, and the memory size the layout implies. */
static int check_blob(const struct ivt_ep_params *params, const void *buf, int len,
		      size_t *shm_size)
{
	struct shm_setup_blob blob;
	if (len != (int)sizeof(blob)) {
		shm_log(IVT_LOG_WARN, "setup: message is %d bytes, expected %zu", len, sizeof(blob));
		return -EPROTO;
	}
	memcpy(&blob, buf, sizeof(blob));
	if (blob.magic != SHM_SETUP_MAGIC || blob.version != SHM_SETUP_VERSION) {
		shm_log(IVT_LOG_WARN, "setup: bad magic %#x or version %u", blob.magic, blob.version);
		return -EPROTO;
	}
	size_t need = 0;
	if (blob.ring_size <= IVT_RING_MAX_SIZE)
		need = ivt_ring_shm_size((size_t)blob.ring_size);
	if (!need || blob.ring_size != params->ring_size || blob.shm_size != need) {
		shm_log(IVT_LOG_WARN,
			"setup: ring size %llu / memory %llu does not match the agreed %zu",
			(unsigned long long)blob.ring_size, (unsigned long long)blob.shm_size,
			params->ring_size);
		return -EPROTO;
	}
	*shm_size = need;
	return 0;
}

static int take_setup(const struct ivt_ep_params *params, struct ivt_ep *ep, int *fds,
		      int nfds, const void *buf, int len)
{
	size_t shm_size;
	int rc = check_blob(params, buf, len, &shm_size);
	if (rc < 0)
		return rc;
	if (nfds != SHM_SETUP_NFDS) {
		shm_log(IVT_LOG_WARN, "setup: got %d fds, expected %d", nfds, SHM_SETUP_NFDS);
		return -EPROTO;
	}
	if ((rc = check_memfd(fds[SHM_FD_MEM], shm_size)) < 0 ||
	    (rc = check_wake_socket(fds[SHM_FD_WAKE])) < 0)
		return rc;
	void *map = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[SHM_FD_MEM], 0);
	if (map == MAP_FAILED)
		return -errno;
	ep->map = map;
	ep->map_len = shm_size;
	/* The ep owns the socket from here; the memfd is not needed after mmap. */
	ep->wake = fds[SHM_FD_WAKE];
	fds[SHM_FD_WAKE] = -1;
	rc = ivt_ring_attach(&ep->ring, map, shm_size, params->ring_size, shm_kick, ep);
	if (rc < 0) {
		shm_log(IVT_LOG_WARN, "setup: shared ring header is invalid");
		return rc;
	}
	return 0;
}

int shm_connect(const struct ivt_ep_params *params, struct ivt_ep **out)
{
	if (!params || !out || !params->oob || !params->oob->recv)
		return -EINVAL;
	if (!ivt_ring_shm_size(params->ring_size))
		return -EINVAL;
	/* Aligned so check_blob may copy out any prefix. */
	_Alignas(8) unsigned char buf[IVT_OOB_BLOB_MAX];
	int fds[IVT_OOB_FDS_MAX], nfds = IVT_OOB_FDS_MAX;
	for (int i = 0; i < IVT_OOB_FDS_MAX; i++)
		fds[i] = -1;
	int len = params->oob->recv(params->oob->ctx, buf, sizeof(buf), fds, &nfds,
				    params->timeout_ms);
	if (len < 0)
		return len;
	if (nfds < 0 || nfds > IVT_OOB_FDS_MAX) { /* a broken oob layer; own nothing */
		shm_log(IVT_LOG_ERR, "setup: oob returned %d fds", nfds);
		return -EPROTO;
	}
	struct ivt_ep *ep = shm_ep_new();
	int rc = ep ? take_setup(params, ep, fds, nfds, buf, len) : -ENOMEM;
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (rc == 0)
		rc = ivt_ring_set_live(&ep->ring);
	if (rc < 0) {
		shm_ep_free(ep);
		return rc;
	}
	*out = ep;
	return 0;
}
