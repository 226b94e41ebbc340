/* SPDX-License-Identifier: MIT */
/* Claiming a network interface for this ivtd: if_claim.h. */
#include "if_claim.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BACKLOG 8 /* ivtds asking at once; each is drained on the next loop turn */

static socklen_t claim_addr(const char *ifname, struct sockaddr_un *sa, char *shown, size_t cap)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* sun_path[0] = 0: abstract; the name is not NUL-terminated */
	int n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "ivtd/if/%s", ifname);
	snprintf(shown, cap, "@%s", sa->sun_path + 1);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* Who holds the claim: an ivtd as trusted as this one is -EADDRINUSE;
 * anyone else's socket under the name does not stop us. */
static int holder(const struct sockaddr_un *sa, socklen_t sl, const char *shown,
		  const char *ifname, char *why, size_t why_len)
{
	struct ucred uc;
	socklen_t ul = sizeof(uc);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc = fd < 0 ? -errno : 0;
	if (!rc && connect(fd, (const struct sockaddr *)sa, sl) != 0)
		rc = -errno;
	if (!rc && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) != 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc) {
		snprintf(why, why_len, "cannot tell who holds %s: %s", shown, strerror(-rc));
		return rc;
	}
	if (uc.uid == 0 || uc.uid == geteuid()) {
		snprintf(why, why_len, "another ivtd (pid %d) already serves %s in this network "
			 "namespace", (int)uc.pid, ifname);
		return -EADDRINUSE;
	}
	snprintf(why, why_len, "%s is held by uid %u (pid %d), not by an ivtd", shown,
		 (unsigned)uc.uid, (int)uc.pid);
	return -EPERM;
}

int ivt_if_claim(const char *ifname, char *why, size_t why_len)
{
	struct sockaddr_un sa;
	char shown[sizeof(sa.sun_path) + 1];
	socklen_t sl = claim_addr(ifname, &sa, shown, sizeof(shown));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int err = errno;
		snprintf(why, why_len, "cannot claim %s: %s", shown, strerror(err));
		return -err;
	}
	if (bind(fd, (struct sockaddr *)&sa, sl) == 0 && listen(fd, BACKLOG) == 0)
		return fd;
	int err = errno;
	close(fd);
	if (err == EADDRINUSE)
		return holder(&sa, sl, shown, ifname, why, why_len);
	snprintf(why, why_len, "cannot claim %s: %s", shown, strerror(err));
	return -err;
}

void ivt_if_claim_drain(int fd)
{
	int c;
	while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(c);
}
