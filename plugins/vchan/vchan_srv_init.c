/* SPDX-License-Identifier: MIT */
/*
 * libxenvchan_server_init, guarded. libxenvchan 4.17 (tools/libs/vchan/
 * init.c) mallocs its control block and sets ctrl->xs_path only in its
 * last step (init_xs_srv). When an earlier step fails, libxenvchan_close()
 * runs close_xs_srv() on the uninitialized pointer: xs_rm of a garbage
 * path, then free() of it, a crash or a double free of whatever the block
 * held before. ivt gets there: a guest's gntalloc holds 1024 grant pages
 * and a 1 MiB ring takes 513, so a listener's second accepted connection
 * with 1 MiB rings fails with ENOSPC.
 *
 * We cannot set the field for the library, but we can choose what its
 * block held: glibc's malloc returns the block last freed into this
 * thread's tcache for that size (last in, first out; without a tcache
 * the fastbin does the same). A zeroed block freed there is what the
 * library gets, zero past the allocator's two link words: xs_path is
 * NULL and the close skips it. Other allocators (ASan, valgrind) keep
 * the library's behaviour.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libxenvchan.h>

#include "vchan.h"

_Static_assert(offsetof(struct libxenvchan, xs_path) >= 2 * sizeof(void *),
	       "xs_path must lie past the free-list links glibc writes into a freed block");

void vchan_zero_next_block(size_t size)
{
	/* Twice: a full tcache refuses the first free (the block goes to a
	 * fastbin), but then the second malloc takes from the tcache and
	 * its free goes back on top. */
	for (int i = 0; i < 2; i++) {
		void *b = malloc(size);
		/* not memset: the compiler would make malloc+memset a calloc,
		 * which glibc serves from elsewhere, or drop them as dead */
		if (b)
			explicit_bzero(b, size);
		free(b);
	}
}

struct libxenvchan *vchan_server_init(int domain, const char *xs_path, size_t left, size_t right)
{
	vchan_zero_next_block(sizeof(struct libxenvchan));
	return libxenvchan_server_init(vchan_xtl(), domain, xs_path, left, right);
}
