/* SPDX-License-Identifier: MIT */
/* systemd's readiness protocol, without libsystemd: one datagram of
 * "KEY=VALUE\n..." to $NOTIFY_SOCKET ("/path" or "@abstract"). */
#ifndef IVTD_SD_NOTIFY_H
#define IVTD_SD_NOTIFY_H

/* 1 sent, 0 not running under a notify-aware manager, negative errno on failure. */
int ivt_sd_notify(const char *state);

#endif
