/* SPDX-License-Identifier: MIT */
/* ivtd's status text (ivt_broker_status and friends) as one JSON object,
 * for `ivtctl status --json`: scripts and monitoring read fields, not
 * columns. */
#ifndef IVT_TOOLS_STATUS_JSON_H
#define IVT_TOOLS_STATUS_JSON_H

/* A malloc'd JSON text (one object, newline-terminated), or NULL when out
 * of memory. Lines it does not recognise are kept, in order, in "more". */
char *ivt_status_to_json(const char *text);

#endif
