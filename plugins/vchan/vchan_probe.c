/* SPDX-License-Identifier: MIT */
/* Can libxenvchan work here? It needs the grant-alloc, grant-map and
 * event-channel devices (kernel modules xen-gntalloc, xen-gntdev,
 * xen-evtchn) and XenStore, which a plain Linux host has none of. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vchan.h"

static const struct {
	const char *path, *module;
} devices[] = {
	{"/dev/xen/gntalloc", "xen-gntalloc"},
	{"/dev/xen/gntdev", "xen-gntdev"},
	{"/dev/xen/evtchn", "xen-evtchn"},
};

static int check_device(const char *path, const char *module, char *why, size_t why_len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	int err = errno;
	if (err == ENOENT || err == ENODEV || err == ENXIO) {
		if (access("/proc/xen", F_OK) != 0 && access("/sys/hypervisor/type", F_OK) != 0)
			snprintf(why, why_len, "no %s: not running on Xen (load %s)", path, module);
		else
			snprintf(why, why_len, "no %s: load the %s kernel module", path, module);
		return -ENODEV;
	}
	snprintf(why, why_len, "cannot open %s: %s%s", path, strerror(err),
		 err == EACCES || err == EPERM ? " (needs root or a udev rule)" : "");
	return -err;
}

int vchan_probe(char *why, size_t why_len)
{
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		int rc = check_device(devices[i].path, devices[i].module, why, why_len);
		if (rc)
			return rc;
	}
	/* Guests reach XenStore through xenbus, dom0 through xenstored's socket. */
	if (access("/dev/xen/xenbus", R_OK | W_OK) != 0 &&
	    access("/var/run/xenstored/socket", R_OK | W_OK) != 0) {
		snprintf(why, why_len, "no XenStore access (/dev/xen/xenbus or xenstored socket)");
		return -ENODEV;
	}
	if (why_len)
		why[0] = '\0';
	return 0;
}
