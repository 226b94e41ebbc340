/* SPDX-License-Identifier: MIT */
/*
 * The identity parser (src/common/identity.c) on arbitrary bytes: a peer
 * daemon's OPEN carries one as text. What it accepts must format back to
 * exactly the same text (one spelling per identity) and compare equal to
 * itself; what it refuses leaves the struct NONE.
 */
#include "common/identity.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct ivt_identity id, again;
	if (ivt_identity_parse(text, &id) == 0) {
		char out[IVT_IDENTITY_TEXT_MAX + 1];
		int n = ivt_identity_format(&id, out, sizeof(out));
		FZ_CHECK(n > 0 && (size_t)n == strlen(text) && !strcmp(out, text));
		FZ_CHECK(ivt_identity_parse(out, &again) == 0 && ivt_identity_equal(&id, &again));
		FZ_CHECK(id.kind != IVT_IDENTITY_HOST || id.inner != IVT_IDENTITY_HOST);
	} else {
		FZ_CHECK(id.kind == IVT_IDENTITY_NONE && !id.host[0]);
	}
	free(text);
	return 0;
}
