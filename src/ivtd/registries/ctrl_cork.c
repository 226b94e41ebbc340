/* SPDX-License-Identifier: MIT */
#include "ctrl_cork.h"

#include <string.h>

int ivt_ctrl_cork_hold(struct ivt_ctrl_cork *k, void *conn, int sock, uint16_t type,
		       uint32_t seq, const void *payload, uint32_t len)
{
	if (k->depth <= 0 || k->flushing || len > IVT_CORK_PAYLOAD_MAX)
		return 0;
	if (k->n == IVT_CTRL_BATCH_MAX)
		ivt_ctrl_cork_flush(k);
	struct ivt_ctrl_cork_msg *m = &k->m[k->n++];
	m->conn = conn;
	m->sock = sock;
	m->type = type;
	m->seq = seq;
	m->len = len;
	if (len)
		memcpy(m->payload, payload, len);
	return 1;
}

void ivt_ctrl_cork_flush(struct ivt_ctrl_cork *k)
{
	if (k->flushing || !k->n)
		return;
	k->flushing = 1;
	for (int i = 0; i < k->n; i++) {
		void *conn = k->m[i].conn;
		if (!conn)
			continue; /* sent with an earlier one's batch, or forgotten */
		struct ivt_ctrl_out out[IVT_CTRL_BATCH_MAX];
		int n = 0, sock = k->m[i].sock;
		for (int j = i; j < k->n; j++) {
			if (k->m[j].conn != conn)
				continue;
			out[n++] = (struct ivt_ctrl_out){.type = k->m[j].type, .seq = k->m[j].seq,
							 .payload = k->m[j].payload,
							 .len = k->m[j].len};
			k->m[j].conn = NULL;
		}
		int rc = ivt_ctrl_send_batch(sock, out, n);
		if (rc < 0 && k->failed)
			k->failed(conn, rc, k->arg);
	}
	k->n = 0;
	k->flushing = 0;
}

void ivt_ctrl_cork_forget(struct ivt_ctrl_cork *k, const void *conn)
{
	for (int i = 0; i < k->n; i++)
		if (k->m[i].conn == conn)
			k->m[i].conn = NULL;
}
