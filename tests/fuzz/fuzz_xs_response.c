/* SPDX-License-Identifier: MIT */
/*
 * ivtd's answers and events in XenStore as a guest (libivt) parses them
 * (src/common/xs_response.c): the guest must survive whatever dom0 or a
 * confused ivtd wrote. Accepted "ok" answers and events must survive
 * format -> parse unchanged.
 */
#include "common/xs_request.h"
#include "common/xs_response.h"
#include "fuzz_input.h"

static void response(const char *val, size_t len)
{
	struct ivt_xs_response r, again;
	char why[256], buf[IVT_XS_RESPONSE_MAX + 1];
	if (ivt_xs_parse_response(val, len, &r, why, sizeof(why)) != 0)
		return;
	FZ_CHECK(memchr(r.reason, '\0', sizeof(r.reason)) && memchr(r.path, '\0', sizeof(r.path)) &&
		 memchr(r.backend, '\0', sizeof(r.backend)));
	if (!r.ok) {
		FZ_CHECK(r.err > 0 && r.err <= 4095);
		return;
	}
	struct ivt_ctrl_open_ok ok = {.ring_size = r.ring_size, .peer_domid = r.peer_domid,
				      .chan_id = r.chan_id};
	memcpy(ok.backend, r.backend, sizeof(ok.backend));
	memcpy(ok.xs_path, r.path, sizeof(ok.xs_path));
	if (ivt_xs_format_ok(buf, sizeof(buf), &ok, r.has_seq, r.seq) != 0)
		return;
	FZ_CHECK(ivt_xs_parse_response(buf, strlen(buf), &again, why, sizeof(why)) == 0);
	FZ_CHECK(again.ok && again.ring_size == r.ring_size && again.peer_domid == r.peer_domid &&
		 again.chan_id == r.chan_id && again.has_seq == r.has_seq &&
		 (!r.has_seq || again.seq == r.seq) && !strcmp(again.backend, r.backend) &&
		 !strcmp(again.path, r.path));
}

static void event(const char *val, size_t len)
{
	struct ivt_xs_event ev, again;
	char why[256], buf[IVT_XS_RESPONSE_MAX + 1];
	if (ivt_xs_parse_event(val, len, &ev, why, sizeof(why)) != 0)
		return;
	FZ_CHECK(ivt_xs_format_event(buf, sizeof(buf), ev.event, ev.domid, ev.has_seq, ev.seq) == 0);
	FZ_CHECK(ivt_xs_parse_event(buf, strlen(buf), &again, why, sizeof(why)) == 0);
	FZ_CHECK(again.event == ev.event && again.domid == ev.domid &&
		 again.has_seq == ev.has_seq && (!ev.has_seq || again.seq == ev.seq));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		event((const char *)data + 1, size - 1);
	else
		response((const char *)data + 1, size - 1);
	return 0;
}
