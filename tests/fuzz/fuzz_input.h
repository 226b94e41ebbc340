/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the libFuzzer harnesses (see README.md here): a
 * reader that splits one fuzz input into choices and byte strings, and an
 * fd-leak check. Inline: each harness is one translation unit.
 */
#ifndef IVT_FUZZ_INPUT_H
#define IVT_FUZZ_INPUT_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fz {
	const uint8_t *p;
	size_t left;
};

static inline struct fz fz_init(const uint8_t *data, size_t size)
{
	return (struct fz){data, size};
}

/* Next byte, 0 once the input is used up (so every input is a valid script). */
static inline uint8_t fz_u8(struct fz *f)
{
	if (!f->left)
		return 0;
	f->left--;
	return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f) { return (uint16_t)(fz_u8(f) | fz_u8(f) << 8); }

static inline uint32_t fz_u32(struct fz *f)
{
	return (uint32_t)fz_u16(f) | (uint32_t)fz_u16(f) << 16;
}

/* Up to max bytes (the length comes from the input); *len is set. */
static inline const uint8_t *fz_bytes(struct fz *f, size_t max, size_t *len)
{
	size_t n = fz_u16(f);
	if (n > max)
		n = max;
	if (n > f->left)
		n = f->left;
	const uint8_t *p = f->p;
	f->p += n;
	f->left -= n;
	*len = n;
	return p;
}

/* The lowest free descriptor: unchanged after a run unless an fd leaked. */
static inline int fz_lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	return fd;
}

/* A failed property is a crash, so libFuzzer keeps the input. */
#define FZ_CHECK(cond)                                                                      \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                            \
		}                                                                           \
	} while (0)

#endif
