/* SPDX-License-Identifier: MIT */
/*
 * Messages from a peer ivtd on another host (src/ivtd/remote/remote_proto.c).
 * Accepted messages must re-encode to bytes that parse to the same thing.
 */
#include "fuzz_input.h"
#include "ivtd/remote/remote_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	uint16_t type;
	if (size >= IVT_RMSG_HDR_LEN) {
		int plen = ivt_rmsg_parse_hdr(data, &type, why, sizeof(why));
		FZ_CHECK(plen < 0 || (size_t)plen + IVT_RMSG_HDR_LEN <= IVT_RMSG_MAX);
	}
	struct ivt_rmsg m, again;
	if (ivt_rmsg_parse(data, size, &m, why, sizeof(why)) != 0)
		return 0;
	uint8_t b1[IVT_RMSG_MAX], b2[IVT_RMSG_MAX];
	int n1 = ivt_rmsg_encode(&m, b1, sizeof(b1));
	FZ_CHECK(n1 > 0 && (size_t)n1 == size);
	FZ_CHECK(ivt_rmsg_parse(b1, (size_t)n1, &again, why, sizeof(why)) == 0);
	int n2 = ivt_rmsg_encode(&again, b2, sizeof(b2));
	FZ_CHECK(n2 == n1 && !memcmp(b1, b2, (size_t)n1));
	return 0;
}
