/* SPDX-License-Identifier: MIT */
/* Identities written as text in tests: ID("uid:1000") is a pointer to
 * the parsed identity, or to a NONE one when the text is not a canonical
 * identity ("uid:01000", "dom:*", NULL), which only "*" matches. The
 * pointers stay valid for the next 63 calls in the same file. */
#ifndef IVT_TESTSUPPORT_ID_TEXT_H
#define IVT_TESTSUPPORT_ID_TEXT_H

#include "common/identity.h"

static inline const struct ivt_identity *ivt_test_id(const char *text)
{
	static struct ivt_identity ring[64];
	static unsigned next;
	struct ivt_identity *id = &ring[next++ % 64];
	(void)ivt_identity_parse(text, id);
	return id;
}
#define ID(text) ivt_test_id(text)

#endif /* IVT_TESTSUPPORT_ID_TEXT_H */
