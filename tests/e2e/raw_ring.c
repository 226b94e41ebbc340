/* SPDX-License-Identifier: MIT */
#include "e2e/raw_ring.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static int no_kick(void *ctx)
{
	(void)ctx;
	return 0;
}

void raw_ring_make(struct raw_ring *r)
{
	size_t need = ivt_ring_shm_size(RAW_RING);
	r->memfd = memfd_create("connring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(r->memfd >= 0);
	assert_int_equal(ftruncate(r->memfd, (off_t)need), 0);
	assert_int_equal(fcntl(r->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	r->map = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
	assert_true(r->map != MAP_FAILED);
	assert_int_equal(ivt_ring_create(&r->ring, r->map, need, RAW_RING, no_kick, NULL), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->wake), 0);
}

int raw_other_memfd(size_t size, int seal)
{
	int fd = memfd_create("connring-bad", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seal)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	return fd;
}

void raw_ring_free(struct raw_ring *r)
{
	munmap(r->map, ivt_ring_shm_size(RAW_RING));
	close(r->memfd);
	close(r->wake[0]);
	if (r->wake[1] >= 0)
		close(r->wake[1]);
}

struct ivt_ctrl_setup raw_shm_setup(void)
{
	struct ivt_ctrl_setup setup;
	memset(&setup, 0, sizeof(setup));
	struct shm_blob b = {.magic = 0x4d485349u, .version = 2, .ring_size = RAW_RING,
			     .shm_size = ivt_ring_shm_size(RAW_RING)};
	memcpy(setup.blob, &b, sizeof(b));
	setup.blob_len = sizeof(b);
	setup.nfds = 2;
	return setup;
}
