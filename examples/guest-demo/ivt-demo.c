/* SPDX-License-Identifier: MIT */
/*
 * ivt-demo: the smallest complete libivt program. One end listens, the
 * other connects and sends N bytes of a deterministic pattern; the
 * listener checks every byte and a running checksum, and answers with its
 * checksum so the sender knows the data arrived intact.
 *
 * Stream layout: header {magic, byte count} (16 bytes), the pattern, then
 * the sender's checksum (8 bytes). The listener replies with its own.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ivt/ivt.h"

#define DEMO_MAGIC 0x314f4d4544545649ull /* "IVTDEMO1" */
#define BLOCK (1u << 20)
#define DEFAULT_BYTES (64ull << 20)

static void usage(FILE *f)
{
	fprintf(f,
"NAME\n"
"    ivt-demo - send a verified byte stream through an ivt channel\n"
"\n"
"SYNOPSIS\n"
"    ivt-demo listen NAME [OPTIONS]\n"
"    ivt-demo connect NAME [OPTIONS]\n"
"    ivt-demo --help\n"
"\n"
"DESCRIPTION\n"
"    Opens channel NAME through ivtd. The connecting end sends N bytes of a\n"
"    deterministic pattern; the listening end receives them, checks every\n"
"    byte against the pattern and a running checksum, and sends its\n"
"    checksum back. Both ends print the throughput they saw. The listening\n"
"    end prints \"OK: N bytes, checksum X\" when everything matched.\n"
"\n"
"    Start the listener first; a connector that finds no listener yet\n"
"    keeps retrying until its timeout.\n"
"\n"
"OPTIONS\n"
"    --bytes N      bytes to send (connect) or to expect (listen; default:\n"
"                   whatever the sender announces). Suffixes K, M, G are\n"
"                   powers of 1024. Default 64M.\n"
"    --ring N       ring size per direction to ask for (policy may cap it)\n"
"    --backend B    ask for backend B (shm, vchan, ...); default: policy\n"
"    --socket PATH  ivtd's control socket (default $IVT_SOCKET or\n"
"                   " IVT_DEFAULT_SOCKET ")\n"
"    --timeout MS   how long to wait for ivtd and the peer; -1 forever\n"
"                   (default: listen -1, connect 10000)\n"
"    -h, --help     this text\n"
"\n"
"EXIT STATUS\n"
"    0 the data arrived intact, 1 it did not or the channel failed,\n"
"    2 usage error.\n"
"\n"
"ENVIRONMENT\n"
"    IVT_SOCKET, IVT_PLUGIN_DIR, IVT_LOG_LEVEL (see libivt).\n"
"\n"
"EXAMPLE\n"
"    ivt-demo listen demo & ivt-demo connect demo --bytes 1G\n");
}

/* splitmix64: the pattern's 64-bit word number i. */
static uint64_t pattern_word(uint64_t i)
{
	uint64_t z = i + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Pattern bytes [off, off + len); off is a multiple of 8. */
static void fill_pattern(uint8_t *buf, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t w = pattern_word((off + i) / 8);
		memcpy(buf + i, &w, len - i < 8 ? len - i : 8);
	}
}

/* Running checksum over the stream's bytes, 8 at a time (the tail padded
 * with zeros), order-sensitive. */
static uint64_t checksum_update(uint64_t h, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t w = 0;
		memcpy(&w, buf + i, len - i < 8 ? len - i : 8);
		h = ((h << 5) | (h >> 59)) ^ w;
		h *= 0x9e3779b97f4a7c15ull;
	}
	return h;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	int shift = 0;
	switch (*end) {
	case 'G': case 'g': shift = 30; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'K': case 'k': shift = 10; end++; break;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "ivt-demo: %s: %s\n", what, ivt_strerror(err));
	return 1;
}

static void report(const char *verb, uint64_t bytes, double secs, uint64_t sum)
{
	double mbs = secs > 0 ? (double)bytes / 1e6 / secs : 0;
	printf("%s %" PRIu64 " bytes in %.3f s: %.1f MB/s, checksum %016" PRIx64 "\n", verb, bytes,
	       secs, mbs, sum);
}

static int run_sender(ivt_channel *ch, uint64_t bytes)
{
	uint8_t *buf = malloc(BLOCK);
	if (!buf)
		return fail("malloc", -ENOMEM);
	uint64_t hdr[2] = {DEMO_MAGIC, bytes}, sum = 0;
	ssize_t n = ivt_send(ch, hdr, sizeof(hdr));
	if (n < 0) {
		free(buf);
		return fail("send", (int)n);
	}
	double t0 = now_s();
	for (uint64_t off = 0; off < bytes;) {
		size_t len = bytes - off < BLOCK ? (size_t)(bytes - off) : BLOCK;
		fill_pattern(buf, off, len);
		sum = checksum_update(sum, buf, len);
		n = ivt_send(ch, buf, len);
		if (n < 0) {
			free(buf);
			return fail("send", (int)n);
		}
		off += len;
	}
	free(buf);
	if ((n = ivt_send(ch, &sum, sizeof(sum))) < 0)
		return fail("send", (int)n);
	uint64_t theirs;
	n = ivt_recv_all(ch, &theirs, sizeof(theirs));
	double secs = now_s() - t0;
	if (n != (ssize_t)sizeof(theirs))
		return fail("waiting for the listener's checksum", n < 0 ? (int)n : -ECONNRESET);
	report("sent", bytes, secs, sum);
	if (theirs != sum) {
		fprintf(stderr, "FAIL: listener's checksum %016" PRIx64 " differs\n", theirs);
		return 1;
	}
	printf("OK: listener confirmed %" PRIu64 " bytes\n", bytes);
	return 0;
}

static int run_receiver(ivt_channel *ch, uint64_t expect, int expect_set)
{
	uint64_t hdr[2];
	ssize_t n = ivt_recv_all(ch, hdr, sizeof(hdr));
	if (n != (ssize_t)sizeof(hdr))
		return fail("receiving the header", n < 0 ? (int)n : -ECONNRESET);
	if (hdr[0] != DEMO_MAGIC) {
		fprintf(stderr, "FAIL: the sender is not ivt-demo (magic %016" PRIx64 ")\n", hdr[0]);
		return 1;
	}
	uint64_t bytes = hdr[1];
	if (expect_set && bytes != expect) {
		fprintf(stderr, "FAIL: sender announces %" PRIu64 " bytes, expected %" PRIu64 "\n",
			bytes, expect);
		return 1;
	}
	uint8_t *buf = malloc(BLOCK), *want = malloc(BLOCK);
	if (!buf || !want) {
		free(buf);
		free(want);
		return fail("malloc", -ENOMEM);
	}
	uint64_t sum = 0;
	int rc = 0;
	double t0 = now_s();
	for (uint64_t off = 0; off < bytes && rc == 0;) {
		size_t len = bytes - off < BLOCK ? (size_t)(bytes - off) : BLOCK;
		n = ivt_recv_all(ch, buf, len);
		if (n != (ssize_t)len) {
			rc = fail("receiving", n < 0 ? (int)n : -ECONNRESET);
			break;
		}
		fill_pattern(want, off, len);
		if (memcmp(buf, want, len) != 0) {
			size_t i = 0;
			while (buf[i] == want[i])
				i++;
			fprintf(stderr, "FAIL: byte %" PRIu64 " is %02x, expected %02x\n", off + i,
				buf[i], want[i]);
			rc = 1;
			break;
		}
		sum = checksum_update(sum, buf, len);
		off += len;
	}
	double secs = now_s() - t0;
	free(buf);
	free(want);
	if (rc)
		return rc;
	uint64_t theirs;
	n = ivt_recv_all(ch, &theirs, sizeof(theirs));
	if (n != (ssize_t)sizeof(theirs))
		return fail("receiving the checksum", n < 0 ? (int)n : -ECONNRESET);
	if ((n = ivt_send(ch, &sum, sizeof(sum))) < 0)
		return fail("sending the checksum back", (int)n);
	report("received", bytes, secs, sum);
	if (theirs != sum) {
		fprintf(stderr, "FAIL: checksum %016" PRIx64 ", sender says %016" PRIx64 "\n", sum,
			theirs);
		return 1;
	}
	/* the sender closes after reading our checksum: expect a clean end */
	char extra;
	n = ivt_recv(ch, &extra, 1);
	if (n != 0)
		fprintf(stderr, "ivt-demo: note: stream did not end cleanly after the data (%s)\n",
			n > 0 ? "extra bytes" : ivt_strerror((int)n));
	printf("OK: %" PRIu64 " bytes, checksum %016" PRIx64 "\n", bytes, sum);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"bytes", required_argument, NULL, 'b'},   {"ring", required_argument, NULL, 'r'},
		{"backend", required_argument, NULL, 'B'}, {"socket", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t bytes = DEFAULT_BYTES, ring = 0;
	int bytes_set = 0, timeout_set = 0, timeout = 0;
	struct ivt_open_opts opts = {.struct_size = sizeof(opts)};
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_size(optarg, &bytes) < 0) {
				fprintf(stderr, "ivt-demo: bad --bytes '%s'\n", optarg);
				return 2;
			}
			bytes_set = 1;
			break;
		case 'r':
			if (parse_size(optarg, &ring) < 0) {
				fprintf(stderr, "ivt-demo: bad --ring '%s'\n", optarg);
				return 2;
			}
			break;
		case 'B': opts.backend = optarg; break;
		case 's': opts.socket_path = optarg; break;
		case 't':
			timeout = atoi(optarg);
			timeout_set = 1;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2 || (strcmp(argv[optind], "listen") && strcmp(argv[optind], "connect"))) {
		usage(stderr);
		return 2;
	}
	int listen = !strcmp(argv[optind], "listen");
	const char *name = argv[optind + 1];
	opts.ring_size = (size_t)ring;
	opts.timeout_ms = timeout_set ? timeout : listen ? -1 : 10000;

	ivt_channel *ch;
	int rc = ivt_open(name, listen ? IVT_LISTEN : 0, &opts, &ch);
	if (rc < 0)
		return fail(listen ? "listening" : "connecting", rc);
	fprintf(stderr, "ivt-demo: channel '%s' open (%s backend)\n", name, ivt_backend_name(ch));
	rc = listen ? run_receiver(ch, bytes, bytes_set) : run_sender(ch, bytes);
	int crc = ivt_close(ch);
	if (crc < 0 && rc == 0)
		rc = fail("close", crc);
	return rc;
}
