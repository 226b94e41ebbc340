/* SPDX-License-Identifier: MIT */
/* Host-pair key files named by the policy's "hosts" (docs/remote.md):
 * 64 hex digits (32 bytes) on one line, readable by the owner only. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ivt_policy_read_key(const char *path, uint8_t key[IVT_HOST_KEY_LEN], char *why,
			size_t why_len)
{
	enum { HEX = 2 * IVT_HOST_KEY_LEN };
	/* O_NONBLOCK: a FIFO named here must not hang the daemon in open(). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		int err = -errno;
		snprintf(why, why_len, "cannot open key file %s: %s", path, strerror(-err));
		return err;
	}
	struct stat st;
	char buf[HEX + 2];
	ssize_t n = 0;
	int rc = -EINVAL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		snprintf(why, why_len, "key file %s is not a regular file", path);
	else if (st.st_mode & 077)
		snprintf(why, why_len, "key file %s is open to group or others (chmod 600)", path);
	else if ((n = read(fd, buf, sizeof(buf))) != HEX && !(n == HEX + 1 && buf[HEX] == '\n'))
		snprintf(why, why_len, "key file %s must hold exactly %d hex digits (one line)",
			 path, HEX);
	else
		rc = 0;
	close(fd);
	for (int i = 0; !rc && i < IVT_HOST_KEY_LEN; i++) {
		int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(why, why_len, "key file %s: not a hex digit near offset %d", path,
				 2 * i);
			rc = -EINVAL;
		} else {
			key[i] = (uint8_t)(hi << 4 | lo);
		}
	}
	explicit_bzero(buf, sizeof(buf));
	if (rc)
		explicit_bzero(key, IVT_HOST_KEY_LEN);
	return rc;
}
