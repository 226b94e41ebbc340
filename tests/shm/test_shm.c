/* SPDX-License-Identifier: MIT */
/* The shm plugin loaded like the host does: transfers between threads and
 * between processes, end-of-stream, and hostile setup messages. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/plugin_loader.h"
#include "testsupport/ep_io.h"
#include "testsupport/oob_pair.h"
#include "shm_ep.h" /* the setup message format, to forge it */

#define RING (64u * 1024)
#define BIG (64u << 20)
#define TMO 30000

static const struct ivt_plugin_ops *ops;

static int load_plugin(void **state)
{
	char why[512];
	ops = ivt_plugin_load(NULL, "shm", why, sizeof(why));
	if (!ops) {
		fprintf(stderr, "%s (IVT_PLUGIN_DIR=%s)\n", why, ivt_plugin_dir());
		return -1;
	}
	return 0;
}

static struct ivt_ep_params params_for(struct oob_end *e, int is_server)
{
	return (struct ivt_ep_params){
		.channel = "test",
		.is_server = is_server,
		.ring_size = RING,
		.oob = &e->oob,
		.timeout_ms = TMO,
	};
}

/* Byte i of the stream: deterministic, not periodic in any ring size. */
static uint8_t stream_byte(uint64_t i)
{
	uint64_t z = (i >> 3) + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (uint8_t)(z >> (8 * (i & 7)));
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

/* Sends BIG bytes, then expects the peer's checksum back. 0 or -errno/-1. */
static int stream_sender(struct ivt_ep *ep)
{
	size_t chunk = (1u << 20) + 13;
	uint8_t *buf = malloc(chunk);
	uint64_t sent = 0, h = FNV_INIT, theirs = 0;
	int rc = 0;
	while (rc == 0 && sent < BIG) {
		size_t n = BIG - sent < chunk ? BIG - sent : chunk;
		for (size_t i = 0; i < n; i++)
			buf[i] = stream_byte(sent + i);
		h = fnv1a(h, buf, n);
		ssize_t w = ep_send_all(ops, ep, buf, n, TMO);
		rc = w == (ssize_t)n ? 0 : (w < 0 ? (int)w : -1);
		sent += n;
	}
	if (rc == 0 && ep_recv_all(ops, ep, &theirs, sizeof(theirs), TMO) != sizeof(theirs))
		rc = -2;
	if (rc == 0 && theirs != h)
		rc = -3;
	free(buf);
	return rc;
}

/* Receives BIG bytes in odd pieces checking each, echoes the checksum,
 * then expects end-of-stream. 0 or a negative code. */
static int stream_receiver(struct ivt_ep *ep)
{
	size_t piece = 100003;
	uint8_t *buf = malloc(piece);
	uint64_t got = 0, h = FNV_INIT;
	int rc = 0;
	while (rc == 0 && got < BIG) {
		ssize_t n = ep_recv_some(ops, ep, buf, piece, TMO);
		if (n <= 0) {
			rc = n < 0 ? (int)n : -10;
			break;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != stream_byte(got + (uint64_t)i)) {
				fprintf(stderr, "byte %llu differs\n", (unsigned long long)(got + i));
				rc = -11;
				break;
			}
		h = fnv1a(h, buf, (size_t)n);
		got += (uint64_t)n;
	}
	if (rc == 0 && ep_send_all(ops, ep, &h, sizeof(h), TMO) != sizeof(h))
		rc = -12;
	/* The sender closes after reading the checksum: then EOF, nothing more. */
	if (rc == 0 && ep_recv_some(ops, ep, buf, piece, TMO) != 0)
		rc = -13;
	if (rc == 0 && ops->send(ep, buf, 1) != -EPIPE)
		rc = -14;
	free(buf);
	return rc;
}

struct server_arg {
	struct oob_end *oob;
	int rc;
};

static int run_server(struct oob_end *oob)
{
	struct ivt_ep_params p = params_for(oob, 1);
	struct ivt_ep *ep = NULL;
	int rc = ops->listen(&p, &ep);
	if (rc < 0)
		return rc;
	rc = ep_accept_wait(ops, ep, TMO);
	if (rc == 0)
		rc = stream_sender(ep);
	struct ivt_ep_stats st;
	if (rc == 0 && (ops->stats(ep, &st) < 0 || st.bytes_sent != BIG || st.protocol_errors))
		rc = -4;
	ops->close(ep);
	return rc;
}

static int run_client(struct oob_end *oob)
{
	struct ivt_ep_params p = params_for(oob, 0);
	struct ivt_ep *ep = NULL;
	int rc = ops->connect(&p, &ep);
	if (rc < 0)
		return rc;
	rc = stream_receiver(ep);
	ops->close(ep);
	return rc;
}

static void *server_thread(void *v)
{
	struct server_arg *a = v;
	a->rc = run_server(a->oob);
	return NULL;
}

static void test_threads_64mib(void **state)
{
	struct oob_end a, b;
	assert_int_equal(oob_pair_open(&a, &b), 0);
	struct server_arg arg = {.oob = &a};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, server_thread, &arg), 0);
	int crc = run_client(&b);
	pthread_join(t, NULL);
	assert_int_equal(crc, 0);
	assert_int_equal(arg.rc, 0);
	oob_end_close(&a);
	oob_end_close(&b);
}

static void test_processes_64mib(void **state)
{
	struct oob_end a, b;
	assert_int_equal(oob_pair_open(&a, &b), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		oob_end_close(&a);
		int rc = run_client(&b);
		if (rc)
			fprintf(stderr, "client process: %d\n", rc);
		_exit(rc == 0 ? 0 : 1);
	}
	oob_end_close(&b);
	int rc = run_server(&a);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(rc, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	oob_end_close(&a);
}

/* Data written before close is delivered, then 0; the closer's peer gets
 * -EPIPE on send. Also: the server may write before the client attached. */
static void test_close_after_data(void **state)
{
	struct oob_end a, b;
	assert_int_equal(oob_pair_open(&a, &b), 0);
	struct ivt_ep_params ps = params_for(&a, 1), pc = params_for(&b, 0);
	struct ivt_ep *srv = NULL, *cli = NULL;
	assert_int_equal(ops->listen(&ps, &srv), 0);
	assert_int_equal(ops->accept(srv), -EAGAIN);
	assert_int_equal(ops->send(srv, "early", 5), 5);
	assert_int_equal(ops->connect(&pc, &cli), 0);
	assert_int_equal(ep_accept_wait(ops, srv, TMO), 0);
	assert_int_equal(ops->send(srv, "-late", 5), 5);
	ops->close(srv);
	char buf[32] = {0};
	assert_int_equal(ep_recv_all(ops, cli, buf, sizeof(buf), TMO), 10);
	assert_string_equal(buf, "early-late");
	assert_int_equal(ops->recv(cli, buf, sizeof(buf)), 0);
	assert_int_equal(ops->arm(cli, IVT_EV_RECV | IVT_EV_SEND), IVT_EV_RECV | IVT_EV_SEND);
	assert_int_equal(ops->send(cli, "x", 1), -EPIPE);
	ops->close(cli);
	oob_end_close(&a);
	oob_end_close(&b);
}

static void test_probe_and_timeout(void **state)
{
	char why[128] = "";
	assert_int_equal(ops->probe(why, sizeof(why)), 0);
	struct oob_end a, b;
	assert_int_equal(oob_pair_open(&a, &b), 0);
	struct ivt_ep_params pc = params_for(&b, 0);
	pc.timeout_ms = 50;
	struct ivt_ep *cli = NULL;
	assert_int_equal(ops->connect(&pc, &cli), -ETIMEDOUT);
	oob_end_close(&a);
	pc.timeout_ms = TMO;
	assert_int_equal(ops->connect(&pc, &cli), -ECONNRESET);
	oob_end_close(&b);
	/* Bad local parameters are refused before anything is created. */
	struct ivt_ep_params bad = params_for(&a, 1);
	bad.ring_size = 5000;
	assert_int_equal(ops->listen(&bad, &cli), -EINVAL);
}

/* ---- hostile setup messages ---------------------------------------- */

/* What a forged setup looks like; start from a valid one and break a part. */
struct forge {
	struct shm_setup_blob blob;
	size_t blob_len;
	off_t memfd_size;
	unsigned seals;
	int valid_header;
	int nfds;
	int mem_kind, efd_kind; /* 0 memfd/socket pair, 1 eventfd, 2 pipe, 3 tmpfile,
				   4 unconnected socket, 5 datagram pair,
				   6 listening stream socket, 7 TCP connection */
};

static struct forge valid_forge(void)
{
	return (struct forge){
		.blob = {SHM_SETUP_MAGIC, SHM_SETUP_VERSION, RING, 0},
		.blob_len = sizeof(struct shm_setup_blob),
		.memfd_size = (off_t)ivt_ring_shm_size(RING),
		.seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL,
		.valid_header = 1,
		.nfds = 2,
	};
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int make_fd(int kind, int *extra)
{
	int p[2];
	switch (kind) {
	case 1:
		return eventfd(0, EFD_CLOEXEC);
	case 2:
		assert_int_equal(pipe(p), 0);
		*extra = p[1];
		return p[0];
	case 3:
		return open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	case 4:
		return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	case 6: { /* abstract address: nothing to clean up */
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "ivt-test-shm-%d", (int)getpid());
		assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(s, 1), 0);
		return s;
	}
	case 7: { /* a stream socket of another family, connected over loopback */
		int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(sa);
		assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(l, 1), 0);
		assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
		*extra = l;
		return c;
	}
	case 5:
	case 0:
		assert_int_equal(socketpair(AF_UNIX, (kind ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
					    0, p), 0);
		*extra = p[0];
		return p[1];
	default:
		return -1;
	}
}

/* Send the forged setup and return what connect says. Checks that a
 * refused setup leaks no fds. */
static int connect_forged(struct forge fg)
{
	struct oob_end a, b;
	assert_int_equal(oob_pair_open(&a, &b), 0);
	if (!fg.blob.shm_size)
		fg.blob.shm_size = ivt_ring_shm_size(RING);
	int extra = -1, fds[5], mem;
	if (fg.mem_kind == 0) {
		mem = memfd_create("forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		assert_true(mem >= 0);
		assert_int_equal(ftruncate(mem, fg.memfd_size), 0);
		if (fg.valid_header) {
			void *m = mmap(NULL, (size_t)fg.memfd_size, PROT_READ | PROT_WRITE,
				       MAP_SHARED, mem, 0);
			assert_true(m != MAP_FAILED);
			struct ivt_ring r;
			assert_int_equal(ivt_ring_create(&r, m, (size_t)fg.memfd_size, RING, NULL,
							 NULL), 0);
			munmap(m, (size_t)fg.memfd_size);
		}
		if (fg.seals)
			assert_int_equal(fcntl(mem, F_ADD_SEALS, fg.seals), 0);
	} else {
		mem = make_fd(fg.mem_kind, &extra);
		assert_true(mem >= 0);
	}
	fds[0] = mem;
	int extra2 = -1;
	fds[1] = make_fd(fg.efd_kind, &extra2);
	fds[2] = eventfd(0, EFD_CLOEXEC);
	fds[3] = eventfd(0, EFD_CLOEXEC);
	unsigned char msg[IVT_OOB_BLOB_MAX] = {0}; /* room for "trailing junk" */
	memcpy(msg, &fg.blob, sizeof(fg.blob));
	assert_int_equal(oob_pair_send(&a, msg, fg.blob_len, fds, fg.nfds), 0);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	if (extra >= 0)
		close(extra);
	if (extra2 >= 0)
		close(extra2);

	int before = count_fds();
	struct ivt_ep_params pc = params_for(&b, 0);
	struct ivt_ep *cli = NULL;
	int rc = ops->connect(&pc, &cli);
	if (rc == 0)
		ops->close(cli);
	assert_int_equal(count_fds(), before);
	oob_end_close(&a);
	oob_end_close(&b);
	return rc;
}

static void test_forged_valid_control(void **state)
{
	/* The forging itself is right: unbroken, it connects. */
	assert_int_equal(connect_forged(valid_forge()), 0);
}

static void test_forged_blob(void **state)
{
	struct forge f;
	f = valid_forge(), f.blob.magic ^= 1;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.blob.version = 1; /* the eventfd layout */
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.blob_len -= 1; /* truncated */
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.blob_len = 0;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.blob_len = 100; /* trailing junk */
	assert_int_equal(connect_forged(f), -EPROTO);
}

static void test_forged_sizes(void **state)
{
	struct forge f;
	f = valid_forge(), f.blob.ring_size = 2 * RING; /* not what we agreed */
	f.blob.shm_size = ivt_ring_shm_size(2 * RING);
	f.memfd_size = (off_t)f.blob.shm_size;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.blob.ring_size = RING + 1;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.blob.ring_size = 1ull << 40;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.blob.shm_size = 1ull << 40;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.memfd_size -= 4096; /* smaller than the layout */
	f.valid_header = 0;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.memfd_size += 4096;
	assert_int_equal(connect_forged(f), -EPROTO);
}

static void test_forged_seals(void **state)
{
	struct forge f;
	f = valid_forge(), f.seals = 0; /* could be truncated under us */
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.seals = F_SEAL_GROW | F_SEAL_SEAL;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.seals = F_SEAL_SHRINK; /* enough for safety */
	assert_int_equal(connect_forged(f), 0);
}

static void test_forged_fds(void **state)
{
	struct forge f;
	f = valid_forge(), f.nfds = 1;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.nfds = 3;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.nfds = 4;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.nfds = 0;
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.mem_kind = 1; /* eventfd as memory */
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.mem_kind = 3; /* a plain tmpfs file */
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.efd_kind = 2; /* pipe as wake-up fd */
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.efd_kind = 1; /* eventfd: a description both ends share */
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.efd_kind = 4; /* not connected to anything */
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.efd_kind = 5; /* datagrams */
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.efd_kind = 6; /* listening, not connected */
	assert_int_equal(connect_forged(f), -EPROTO);
	f = valid_forge(), f.efd_kind = 7; /* TCP, not AF_UNIX */
	assert_int_equal(connect_forged(f), -EPROTO);
}

static void test_forged_ring_header(void **state)
{
	struct forge f = valid_forge();
	f.valid_header = 0; /* right size and seals, zeroed header */
	assert_int_equal(connect_forged(f), -EPROTO);
}

/* ---- the peer holds what it was passed (issue 9, items 1 and 9) ------ */

/* Issue 9 item 1: the listener's setup passes through a hostile hand that
 * keeps a copy of every fd, clears O_NONBLOCK on each after the client
 * attached and saturates what it can. Neither end may block: the
 * listener's ack with nothing pending, the client's kicks. Old code (shared
 * eventfds) blocked in ack's read(); alarm() turns that hang into a
 * failure. */
static void test_peer_clears_nonblock(void **state)
{
	struct oob_end a, b, c, d;
	assert_int_equal(oob_pair_open(&a, &b), 0);
	assert_int_equal(oob_pair_open(&c, &d), 0);
	struct ivt_ep_params ps = params_for(&a, 1), pc = params_for(&d, 0);
	struct ivt_ep *srv = NULL, *cli = NULL;
	assert_int_equal(ops->listen(&ps, &srv), 0);
	_Alignas(8) unsigned char blob[IVT_OOB_BLOB_MAX];
	int fds[IVT_OOB_FDS_MAX], nfds = IVT_OOB_FDS_MAX, keep[IVT_OOB_FDS_MAX];
	int len = oob_pair_recv(&b, blob, sizeof(blob), fds, &nfds, TMO);
	assert_true(len > 0 && nfds > 0);
	for (int i = 0; i < nfds; i++)
		keep[i] = dup(fds[i]);
	assert_int_equal(oob_pair_send(&c, blob, (size_t)len, fds, nfds), 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	assert_int_equal(ops->connect(&pc, &cli), 0);
	assert_int_equal(ep_accept_wait(ops, srv, TMO), 0);

	for (int i = 0; i < nfds; i++) {
		int fl = fcntl(keep[i], F_GETFL);
		assert_true(fl >= 0);
		assert_int_equal(fcntl(keep[i], F_SETFL, fl & ~O_NONBLOCK), 0);
		uint64_t max = 0xfffffffffffffffeull; /* an eventfd's ceiling */
		if (i != SHM_FD_MEM && write(keep[i], &max, sizeof(max)) < 0) {
			/* not an eventfd, or one that is full already */
		}
	}
	alarm(20);
	for (int i = 0; i < 3; i++) /* nothing pending after the first */
		ops->ack(srv);
	for (int i = 0; i < 3; i++)
		ops->ack(cli);
	/* The server sleeps for data: the client's kick must not block either. */
	assert_int_equal(ops->arm(srv, IVT_EV_RECV), 0);
	assert_int_equal(ops->send(cli, "ok", 2), 2);
	char buf[4];
	assert_int_equal(ep_recv_all(ops, srv, buf, 2, TMO), 2);
	assert_memory_equal(buf, "ok", 2);
	assert_int_equal(ops->arm(cli, IVT_EV_RECV), 0);
	assert_int_equal(ops->send(srv, "ko", 2), 2);
	assert_int_equal(ep_recv_all(ops, cli, buf, 2, TMO), 2);
	alarm(0);
	for (int i = 0; i < nfds; i++)
		close(keep[i]);
	ops->close(cli);
	ops->close(srv);
	oob_end_close(&a);
	oob_end_close(&b);
	oob_end_close(&c);
	oob_end_close(&d);
}

/* Fork a client that connects, sends "abc" and then either closes
 * (graceful) or exits without a word (dies). */
static pid_t client_that_leaves(struct oob_end *a, struct oob_end *b, int graceful)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		oob_end_close(a);
		struct ivt_ep_params pc = params_for(b, 0);
		struct ivt_ep *cli = NULL;
		if (ops->connect(&pc, &cli) < 0 || ep_send_all(ops, cli, "abc", 3, TMO) != 3)
			_exit(1);
		if (graceful)
			ops->close(cli);
		_exit(0);
	}
	oob_end_close(b);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return pid;
}

/* Issue 9 item 9: the peer's fate is known without ivtd. Its data is
 * delivered, then 0 after a close, -ECONNRESET after a death (old code: an
 * endless -EAGAIN and a poll that never fired); a sleeper is woken. */
static void test_peer_death_without_daemon(void **state)
{
	for (int graceful = 0; graceful < 2; graceful++) {
		struct oob_end a, b;
		assert_int_equal(oob_pair_open(&a, &b), 0);
		struct ivt_ep_params ps = params_for(&a, 1);
		struct ivt_ep *srv = NULL;
		assert_int_equal(ops->listen(&ps, &srv), 0);
		client_that_leaves(&a, &b, graceful);
		assert_int_equal(ep_accept_wait(ops, srv, TMO), 0);
		char buf[8];
		assert_int_equal(ep_recv_all(ops, srv, buf, 3, TMO), 3);
		assert_memory_equal(buf, "abc", 3);
		assert_int_equal(ep_recv_some(ops, srv, buf, sizeof(buf), TMO),
				 graceful ? 0 : -ECONNRESET);
		assert_int_equal(ops->send(srv, "x", 1), graceful ? -EPIPE : -ECONNRESET);
		assert_int_equal(ops->arm(srv, IVT_EV_RECV | IVT_EV_SEND), IVT_EV_RECV | IVT_EV_SEND);
		ops->close(srv);
		oob_end_close(&a);
	}
}

/* A client that took the setup and vanished before attaching ends the
 * listener's wait (old code: -EAGAIN forever). */
static void test_listener_sees_vanished_client(void **state)
{
	struct oob_end a, b;
	assert_int_equal(oob_pair_open(&a, &b), 0);
	struct ivt_ep_params ps = params_for(&a, 1);
	struct ivt_ep *srv = NULL;
	assert_int_equal(ops->listen(&ps, &srv), 0);
	_Alignas(8) unsigned char blob[IVT_OOB_BLOB_MAX];
	int fds[IVT_OOB_FDS_MAX], nfds = IVT_OOB_FDS_MAX;
	assert_true(oob_pair_recv(&b, blob, sizeof(blob), fds, &nfds, TMO) > 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	assert_int_equal(ep_accept_wait(ops, srv, 10000), -ECONNRESET);
	ops->close(srv);
	oob_end_close(&a);
	oob_end_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_and_timeout),
		cmocka_unit_test(test_close_after_data),
		cmocka_unit_test(test_threads_64mib),
		cmocka_unit_test(test_processes_64mib),
		cmocka_unit_test(test_forged_valid_control),
		cmocka_unit_test(test_forged_blob),
		cmocka_unit_test(test_forged_sizes),
		cmocka_unit_test(test_forged_seals),
		cmocka_unit_test(test_forged_fds),
		cmocka_unit_test(test_forged_ring_header),
		cmocka_unit_test(test_peer_clears_nonblock),
		cmocka_unit_test(test_peer_death_without_daemon),
		cmocka_unit_test(test_listener_sees_vanished_client),
	};
	return cmocka_run_group_tests(tests, load_plugin, NULL);
}
