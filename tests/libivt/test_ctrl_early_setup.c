/* SPDX-License-Identifier: MIT */
/* A direct queue pair's connector blob (docs/remote.md, "Direct queue
 * pairs") reaches the listening end as a SETUP after PEER CONNECTED, when
 * libivt may be draining its control socket for peer events rather than
 * waiting in the plugin's oob recv. The drain must keep it for the next
 * oob recv (before: it was dropped as "ignored", and the listener's
 * accept never completed). A fake ivtd on a socket in a temp directory. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ctrl_msg.h"
#include "ctrl_conn.h"

static char dir[32], path[64];
static int lsock;

/* ivtd: OPEN_OK, then PEER CONNECTED and the peer's SETUP, then waits
 * for the client to hang up. */
static void *fake_ivtd(void *arg)
{
	(void)arg;
	int s = accept(lsock, NULL, NULL);
	assert_true(s >= 0);
	struct ivt_ctrl_msg m;
	assert_int_equal(ivt_ctrl_recv(s, &m, 5000), 0);
	assert_int_equal(m.hdr.type, IVT_CTRL_OPEN);
	struct ivt_ctrl_open_ok ok;
	memset(&ok, 0, sizeof(ok));
	snprintf(ok.backend, sizeof(ok.backend), "verbs");
	ok.ring_size = 1u << 20;
	ok.is_server = 1;
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_OPEN_OK, 1, &ok, sizeof(ok), NULL, 0), 0);
	struct ivt_ctrl_peer p = {.event = IVT_PEER_CONNECTED};
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_PEER, 2, &p, sizeof(p), NULL, 0), 0);
	struct ivt_ctrl_setup st;
	memset(&st, 0, sizeof(st));
	st.blob_len = 72;
	memset(st.blob, 0xab, 72);
	assert_int_equal(ivt_ctrl_send(s, IVT_CTRL_SETUP, 3, &st, sizeof(st), NULL, 0), 0);
	char c;
	while (read(s, &c, 1) > 0)
		;
	close(s);
	return NULL;
}

static void test_setup_kept_across_drain(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ivt-early-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	lsock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(lsock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lsock, 1), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fake_ivtd, NULL), 0);

	struct ivt_ctrl_conn cc;
	struct ivt_ctrl_open req;
	memset(&req, 0, sizeof(req));
	snprintf(req.name, sizeof(req.name), "direct");
	req.flags = IVT_LISTEN;
	struct ivt_ctrl_open_ok ok;
	assert_int_equal(ivt_ctrl_conn_open(&cc, path, &req, &ok, 5000), 0);
	/* What wait_for_peer does between accept attempts: drain for PEER
	 * events, until CONNECTED and the SETUP behind it have been read. */
	for (int i = 0; i < 500 && !cc.has_early; i++) {
		assert_int_equal(ivt_ctrl_conn_drain(&cc), 0);
		usleep(1000);
	}
	assert_int_equal(atomic_load(&cc.peer_event), IVT_PEER_CONNECTED);
	uint8_t blob[IVT_OOB_BLOB_MAX];
	int fds[IVT_OOB_FDS_MAX], nfds = IVT_OOB_FDS_MAX;
	int n = cc.oob.recv(cc.oob.ctx, blob, sizeof(blob), fds, &nfds, 0);
	assert_int_equal(n, 72);
	assert_int_equal(nfds, 0);
	for (int i = 0; i < 72; i++)
		assert_int_equal(blob[i], 0xab);
	/* taken once */
	assert_int_equal(cc.oob.recv(cc.oob.ctx, blob, sizeof(blob), fds, &nfds, 0), -ETIMEDOUT);

	close(cc.sock);
	pthread_join(t, NULL);
	close(lsock);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setup_kept_across_drain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
