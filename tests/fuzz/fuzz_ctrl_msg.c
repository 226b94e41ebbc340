/* SPDX-License-Identifier: MIT */
/*
 * Control-socket messages with passed descriptors (src/common/ctrl_msg.c).
 * Input: one byte of choices, then the datagram. Bit 7 set: the datagram
 * goes through a real SOCK_SEQPACKET pair with (low bits) descriptors
 * attached and ivt_ctrl_recv() takes it; clear: ivt_ctrl_parse() sees it
 * with that many descriptors already "received". Either way no descriptor
 * may leak, whatever the verdict.
 */
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "common/ctrl_msg.h"
#include "common/fd_send.h"
#include "fuzz_input.h"

static void check_accepted(const struct ivt_ctrl_msg *m)
{
	FZ_CHECK(m->nfds >= 0 && m->nfds <= IVT_OOB_FDS_MAX);
	if (m->hdr.type == IVT_CTRL_SETUP) {
		FZ_CHECK(m->u.setup.blob_len <= IVT_OOB_BLOB_MAX);
		FZ_CHECK((int)m->u.setup.nfds == m->nfds);
	} else {
		FZ_CHECK(m->nfds == 0);
	}
}

static void through_socket(const uint8_t *dgram, size_t len, int nfds)
{
	int sv[2], fds[IVT_SEND_FDS_MAX];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		abort();
	for (int i = 0; i < nfds; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	ssize_t sent = ivt_send_with_fds(sv[1], dgram, len, fds, nfds);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (sent >= 0) {
		struct ivt_ctrl_msg m;
		memset(&m, 0xA5, sizeof(m)); /* the receiver must not trust old contents */
		if (ivt_ctrl_recv(sv[0], &m, 0) == 0) {
			check_accepted(&m);
			ivt_ctrl_msg_close_fds(&m);
		}
	}
	close(sv[0]);
	close(sv[1]);
}

static void parse_only(const uint8_t *dgram, size_t len, int nfds)
{
	struct ivt_ctrl_msg m;
	memset(&m, 0, sizeof(m));
	m.nfds = nfds;
	for (int i = 0; i < IVT_OOB_FDS_MAX; i++)
		m.fds[i] = -1;
	if (ivt_ctrl_parse(dgram, len, &m) == 0)
		check_accepted(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int before = fz_lowest_free_fd();
	uint8_t how = data[0];
	if (how & 0x80)
		through_socket(data + 1, size - 1, (how & 0x7f) % (IVT_SEND_FDS_MAX + 1));
	else
		parse_only(data + 1, size - 1, (how & 0x7f) % (IVT_OOB_FDS_MAX + 2));
	FZ_CHECK(fz_lowest_free_fd() == before);
	return 0;
}
