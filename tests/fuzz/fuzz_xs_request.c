/* SPDX-License-Identifier: MIT */
/*
 * What guests write into XenStore, as ivtd parses it
 * (src/common/xs_request.c): request values and watch paths. An accepted
 * request must survive format -> parse unchanged.
 */
#include <errno.h>

#include "common/xs_request.h"
#include "fuzz_input.h"

static void request(const char *val, size_t len)
{
	struct ivt_xs_request rq, again;
	char why[256], buf[IVT_XS_REQUEST_MAX + 1];
	if (ivt_xs_parse_request(val, len, &rq, why, sizeof(why)) != 0) {
		FZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL);
		return;
	}
	FZ_CHECK(memchr(rq.backend, '\0', sizeof(rq.backend)) != NULL);
	FZ_CHECK(!rq.has_peer || rq.peer_domid < IVT_XS_DOMID_LIMIT);
	const char *backend = strcmp(rq.backend, "auto") ? rq.backend : NULL;
	int rc = ivt_xs_format_request(buf, sizeof(buf), rq.listen, backend, rq.ring_size,
				       rq.has_peer ? (int64_t)rq.peer_domid : -1, rq.seq);
	if (rc != 0 || !rq.has_seq)
		return; /* the formatter always writes a seq */
	FZ_CHECK(ivt_xs_parse_request(buf, strlen(buf), &again, why, sizeof(why)) == 0);
	FZ_CHECK(again.listen == rq.listen && again.ring_size == rq.ring_size &&
		 again.has_peer == rq.has_peer && again.peer_domid == rq.peer_domid &&
		 again.seq == rq.seq && !strcmp(again.backend, rq.backend));
}

static void watch_path(const uint8_t *data, size_t size)
{
	char path[IVT_XS_WATCH_PATH_MAX + 64];
	if (size >= sizeof(path))
		size = sizeof(path) - 1;
	memcpy(path, data, size);
	path[size] = '\0';
	struct ivt_xs_path_info info;
	enum ivt_xs_path_kind k = ivt_xs_classify_path(path, &info);
	if (k == IVT_XS_PATH_IGNORE)
		return;
	FZ_CHECK(info.domid < IVT_XS_DOMID_LIMIT);
	if (k == IVT_XS_PATH_REQUEST)
		FZ_CHECK(info.name[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		watch_path(data + 1, size - 1);
	else
		request((const char *)data + 1, size - 1);
	return 0;
}
