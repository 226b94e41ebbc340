/* SPDX-License-Identifier: MIT */
/* libivt.so is built with hidden visibility; only the ivt.h API is exported. */
#ifndef IVT_LIBIVT_EXPORT_H
#define IVT_LIBIVT_EXPORT_H

#define IVT_EXPORT __attribute__((visibility("default")))

#endif
