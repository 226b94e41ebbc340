/* SPDX-License-Identifier: MIT */
/* The per-thread "last reason" that ivt_strerror() appends to its text. */
#ifndef IVT_LIBIVT_ERRORS_H
#define IVT_LIBIVT_ERRORS_H

/* Remember why err (a negative errno) happened on this thread. */
void ivt_reason_set(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ivt_reason_clear(void);
/* An API call's bad argument: -EINVAL with fn's name as the reason, so that
 * no earlier call's reason for -EINVAL is shown with it. */
int ivt_einval(const char *fn) __attribute__((cold));
/* Is a reason recorded for err on this thread? */
int ivt_reason_is_set(int err);

#endif
