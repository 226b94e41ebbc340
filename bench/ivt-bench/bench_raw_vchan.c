/* SPDX-License-Identifier: MIT */
/*
 * ivt-bench --via-ivt --vs-vchan: the baseline for ivt over vchan, raw
 * libxenvchan between the same two domains, in the same run, carrying
 * the same data verified the same way as bench_zc.c's points: the writer
 * builds each write in its buffer (zc_produce) and libxenvchan_write()s
 * it, the reader reads the write size at a time and checks every 8-byte
 * word (zc_check), its clock runs from the writer's start mark (one byte
 * right before the data, as ivt's point header is) to the last byte.
 *
 * The ivt channel of the ring size carries the coordination (XenStore
 * ends do not learn their peer's identity): the reader sends its domain
 * id, the writer offers a fresh vchan in its own XenStore subtree to
 * that domain and sends the path and its own id; the reader connects,
 * says hello over the vchan (so setup is not timed), reads, closes, and
 * answers {first bad word + 1, nanoseconds} over the ivt channel.
 */
#include "bench_raw_vchan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxenvchan.h>
#include <xenstore.h>

#include "bench_zc.h"

#define RAW_MAGIC 0x3157524254424649ull /* "IFTBBRW1" */
#define RAW_PATH_MAX 48                /* libxenvchan 4.17: base paths <= 49 bytes */

struct raw_hello {
	uint64_t magic, domid;
};
struct raw_hdr {
	uint64_t magic, wsize, bytes, ring, domid;
	char path[RAW_PATH_MAX];
};
struct raw_reply {
	uint64_t bad_word, nanos; /* bad_word: first wrong word + 1; UINT64_MAX: no vchan */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fail(const char *what, const char *why)
{
	fprintf(stderr, "ivt-bench --vs-vchan: %s: %s\n", what, why);
	return -1;
}

static int own_domid(void)
{
	struct xs_handle *xs = xs_open(0);
	unsigned len;
	if (!xs)
		return -1;
	char *v = xs_read(xs, XBT_NULL, "domid", &len);
	xs_close(xs);
	int d = v ? atoi(v) : -1;
	free(v);
	return d;
}

double raw_vchan_write_point(ivt_channel *ch, size_t ring, size_t wsize, uint64_t bytes,
			     uint8_t *buf)
{
	static unsigned serial;
	struct raw_hello hello_in;
	if (ivt_recv_all(ch, &hello_in, sizeof(hello_in)) != (ssize_t)sizeof(hello_in) ||
	    hello_in.magic != RAW_MAGIC)
		return fail("the reader's domain id", "not received");
	int peer = (int)hello_in.domid, me = own_domid();
	if (me < 0)
		return fail("domid", "this domain's id is not in XenStore (not a Xen domain?)");
	if (hello_in.domid >= 0x7FF0)
		return fail("the reader's domain id", "out of range");
	struct raw_hdr hdr = {RAW_MAGIC, wsize, bytes, ring, (uint64_t)me, ""};
	snprintf(hdr.path, sizeof(hdr.path), "/local/domain/%d/data/ivt-bench/r%u", me, ++serial);
	/* The data direction gets the ring size; the reader's one-byte hello
	 * the smallest ring (inside the shared page, no grants): a guest's
	 * gntalloc grants 1024 pages in all, and the channel of this ring
	 * size already holds 2 x 256 + 1 of them at 1 MiB. */
	struct libxenvchan *vc = libxenvchan_server_init(NULL, peer, hdr.path, 1024, ring);
	if (!vc)
		return fail(hdr.path, strerror(errno));
	vc->blocking = 1;
	double res = -1;
	uint8_t hello;
	if (ivt_send(ch, &hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr)) {
		fail("sending the point header", "ivt_send failed");
		goto out;
	}
	if (libxenvchan_recv(vc, &hello, 1) != 1) {
		fail("raw vchan", "no hello from the reader");
		goto out;
	}
	/* a start mark right before the data, as ivt's point header is: the
	 * reader's clock starts on it, so neither side counts the hello */
	if (libxenvchan_write(vc, &hello, 1) != 1) {
		fail("raw vchan", "write failed");
		goto out;
	}
	for (uint64_t off = 0; off < bytes;) {
		size_t n = bytes - off < wsize ? (size_t)(bytes - off) : wsize;
		zc_produce((uint64_t *)buf, off / 8, n / 8);
		if (libxenvchan_write(vc, buf, n) != (int)n) {
			fail("raw vchan", "write failed");
			goto out;
		}
		off += n;
	}
	struct raw_reply rep;
	if (ivt_recv_all(ch, &rep, sizeof(rep)) != (ssize_t)sizeof(rep)) {
		fail("the reader's verdict", "not received");
		goto out;
	}
	if (rep.bad_word) {
		fprintf(stderr, "ivt-bench --vs-vchan: write size %zu: word %llu differs\n", wsize,
			(unsigned long long)rep.bad_word - 1);
		res = NAN;
	} else {
		res = rep.nanos ? bytes / (rep.nanos * 1e-9) / 1e6 : NAN;
	}
out:
	libxenvchan_close(vc);
	return res;
}

double raw_vchan_read_point(ivt_channel *ch, size_t ring, size_t wsize, uint64_t bytes,
			    uint8_t *buf)
{
	int me = own_domid();
	if (me < 0)
		return fail("domid", "this domain's id is not in XenStore (not a Xen domain?)");
	struct raw_hello hi = {RAW_MAGIC, (uint64_t)me};
	if (ivt_send(ch, &hi, sizeof(hi)) != (ssize_t)sizeof(hi))
		return fail("sending the domain id", "ivt_send failed");
	struct raw_hdr hdr;
	if (ivt_recv_all(ch, &hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
		return fail("the point header", "not received");
	hdr.path[sizeof(hdr.path) - 1] = '\0';
	if (hdr.magic != RAW_MAGIC || hdr.wsize != wsize || hdr.bytes != bytes || hdr.ring != ring)
		return fail("the point header", "the writer runs another sweep: use the same "
						"options on both ends");
	int peer = hdr.domid < 0x7FF0 ? (int)hdr.domid : -1;
	struct libxenvchan *vc = NULL;
	/* the writer published its nodes before it sent the header */
	for (int i = 0; i < 50 && peer >= 0 && !vc; i++)
		if (!(vc = libxenvchan_client_init(NULL, peer, hdr.path)))
			usleep(20 * 1000);
	struct raw_reply rep = {UINT64_MAX, 0};
	uint8_t hello = 1;
	double res = -1;
	if (!vc) {
		fail(hdr.path, "cannot connect to the writer's vchan");
	} else {
		vc->blocking = 1;
		double t0 = 0;
		uint64_t got = 0;
		if (libxenvchan_send(vc, &hello, 1) == 1 && libxenvchan_recv(vc, &hello, 1) == 1)
			rep.bad_word = 0;
		t0 = now(); /* the writer's start mark arrived: data follows */
		while (!rep.bad_word && got < bytes) {
			size_t want = bytes - got < wsize ? (size_t)(bytes - got) : wsize;
			for (size_t have = 0; have < want;) { /* as ivt_recv_all: the whole write */
				int n = libxenvchan_read(vc, buf + have, want - have);
				if (n <= 0) {
					rep.bad_word = UINT64_MAX;
					break;
				}
				have += (size_t)n;
			}
			if (rep.bad_word)
				break;
			rep.bad_word = zc_check((const uint64_t *)buf, got / 8, want / 8);
			got += want;
		}
		rep.nanos = (uint64_t)((now() - t0) * 1e9);
		libxenvchan_close(vc);
		if (!rep.bad_word)
			res = rep.nanos ? bytes / (rep.nanos * 1e-9) / 1e6 : NAN;
	}
	if (ivt_send(ch, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		return fail("sending the verdict", "ivt_send failed");
	return res;
}
