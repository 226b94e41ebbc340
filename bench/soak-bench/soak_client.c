/* SPDX-License-Identifier: MIT */
#include "soak_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivt/ivt.h"

#define OPEN_TIMEOUT_MS 5000
#define REPLY_LEN 64

static uint8_t byte_at(uint64_t seed, uint64_t i)
{
	uint64_t z = (i / 8) * 0x9E3779B97F4A7C15ull ^ seed;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	return (uint8_t)(z >> (8 * (i % 8)));
}

/* What an error means for this end: the peer going away is expected. */
static int verdict(ssize_t rc, const char *what, const char *name)
{
	if (rc == -ECONNRESET || rc == -EPIPE)
		return SOAK_PEER_GONE;
	fprintf(stderr, "soak %s: %s: %s\n", name, what, ivt_strerror((int)rc));
	return SOAK_FAILED;
}

/* 0, or the exit code: a killed peer shows up as a timeout (it never
 * came) or a reset (it left during setup). */
static int open_end(const char *name, unsigned flags, ivt_channel **ch)
{
	struct ivt_open_opts o = {.struct_size = sizeof(o), .timeout_ms = OPEN_TIMEOUT_MS};
	int rc = ivt_open(name, flags, &o, ch);
	if (rc == -ETIMEDOUT || rc == -ECONNRESET || rc == -ENOENT)
		return SOAK_NO_PEER;
	if (rc < 0) {
		fprintf(stderr, "soak %s: open (%s): %s\n", name, flags ? "listen" : "connect",
			ivt_strerror(rc));
		return SOAK_FAILED;
	}
	return 0;
}

int soak_listener(const char *name, uint64_t bytes, uint64_t seed)
{
	ivt_channel *ch;
	int rc = open_end(name, IVT_LISTEN, &ch);
	if (rc)
		return rc;
	uint8_t buf[16384];
	uint64_t got = 0;
	int res = SOAK_OK;
	while (res == SOAK_OK && got < bytes) {
		size_t want = bytes - got < sizeof(buf) ? (size_t)(bytes - got) : sizeof(buf);
		ssize_t n = ivt_recv(ch, buf, want);
		if (n <= 0) {
			res = n == 0 ? SOAK_PEER_GONE : verdict(n, "recv", name);
			break;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != byte_at(seed, got + (uint64_t)i)) {
				fprintf(stderr, "soak %s: wrong byte at %llu\n", name,
					(unsigned long long)(got + (uint64_t)i));
				res = SOAK_FAILED;
				break;
			}
		got += (uint64_t)n;
	}
	if (res == SOAK_OK) { /* answer, then wait for the connector's close */
		memset(buf, 0x55, REPLY_LEN);
		ssize_t n = ivt_send(ch, buf, REPLY_LEN);
		if (n < 0)
			res = verdict(n, "send reply", name);
		else if ((n = ivt_recv(ch, buf, 1)) != 0)
			res = n < 0 ? verdict(n, "wait for close", name) : SOAK_FAILED;
	}
	ivt_close(ch);
	return res;
}

int soak_connector(const char *name, uint64_t bytes, uint64_t seed)
{
	ivt_channel *ch;
	int rc = open_end(name, 0, &ch);
	if (rc)
		return rc;
	uint8_t buf[16384];
	uint64_t sent = 0;
	uint64_t piece = 1 + seed % sizeof(buf);
	while (sent < bytes) {
		size_t n = (size_t)(bytes - sent < piece ? bytes - sent : piece);
		for (size_t i = 0; i < n; i++)
			buf[i] = byte_at(seed, sent + i);
		ssize_t w = ivt_send(ch, buf, n);
		if (w < 0) {
			int res = verdict(w, "send", name);
			ivt_close(ch);
			return res;
		}
		sent += (uint64_t)w;
	}
	/* The listener knows the byte count, answers, then waits for our close. */
	ssize_t r = ivt_recv_all(ch, buf, REPLY_LEN);
	int res = r == REPLY_LEN ? SOAK_OK : r == 0 ? SOAK_PEER_GONE : verdict(r, "reply", name);
	ivt_close(ch);
	return res;
}
