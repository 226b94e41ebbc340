/* SPDX-License-Identifier: MIT */
/*
 * The utmem wire protocol: requests and replies over any reliable, ordered
 * byte stream (an ivt channel, a Unix or TCP socket).
 *
 * Every message is a fixed 40-byte little-endian header followed by exactly
 * hdr.len payload bytes:
 *
 *   off size field
 *     0   4  magic    UTMEM_PROTO_MAGIC ("UTM1")
 *     4   1  version  UTMEM_PROTO_VERSION
 *     5   1  op       enum utmem_op (same in request and reply)
 *     6   2  flags    UTMEM_HDR_REPLY in replies; GET: enum utmem_get_flags
 *     8   4  req_id   chosen by the client, echoed in the reply
 *    12   4  status   replies: 0 or a negative errno; requests: 0
 *    16   4  pool
 *    20   4  index
 *    24   8  oid
 *    32   4  len      payload bytes that follow
 *    36   4  aux      GET request: largest value the client accepts
 *
 * Requests (payload)                 Reply (payload)
 *   HELLO        -                     16: u64 max_value, u32 domid, u32 0
 *   POOL_CREATE  20: u32 flags, uuid   -        (hdr.pool = new pool id)
 *   POOL_DESTROY -  (hdr.pool)         -
 *   PUT          1..max_value value    -
 *   GET          -  (key, aux, flags)  0..aux   the value
 *   INVAL_PAGE   -  (key)              -
 *   INVAL_OBJECT -  (pool, oid)        -
 *   SET_QUOTA    16: u32 domid, u32 0, u64 bytes   -   (admin sessions only)
 *   STATS        -                     80: enum-ordered u64 domain stats
 *
 * A reply with status < 0 has no payload. Both sides validate everything:
 * the server answers a malformed request (bad magic/version/op/flags/len)
 * with an error reply and then drops the connection, since it can no
 * longer trust the framing; the client treats any malformed reply as
 * -EPROTO and refuses further use of the connection.
 * One request is outstanding at a time per connection.
 */
#ifndef UTMEM_PROTO_H
#define UTMEM_PROTO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/le.h"
#include "utmem/store.h"
#include "utmem/tier.h"

#define UTMEM_PROTO_MAGIC 0x314d5455u /* "UTM1" little-endian */
#define UTMEM_PROTO_VERSION 1
#define UTMEM_HDR_SIZE 40
#define UTMEM_HDR_REPLY 0x8000u
#define UTMEM_HELLO_REPLY_LEN 16
#define UTMEM_POOL_CREATE_LEN (4 + UTMEM_UUID_LEN)
#define UTMEM_SET_QUOTA_LEN 16
#define UTMEM_STATS_REPLY_LEN 80

enum utmem_op {
	UTMEM_OP_HELLO = 1,
	UTMEM_OP_POOL_CREATE = 2,
	UTMEM_OP_POOL_DESTROY = 3,
	UTMEM_OP_PUT = 4,
	UTMEM_OP_GET = 5,
	UTMEM_OP_INVAL_PAGE = 6,
	UTMEM_OP_INVAL_OBJECT = 7,
	UTMEM_OP_SET_QUOTA = 8,
	UTMEM_OP_STATS = 9,
	UTMEM_OP_MAX
};

struct utmem_hdr {
	uint32_t magic;
	uint8_t version;
	uint8_t op;
	uint16_t flags;
	uint32_t req_id;
	int32_t status;
	uint32_t pool;
	uint32_t index;
	uint64_t oid;
	uint32_t len;
	uint32_t aux;
};

/* ---- encoding and validation (proto.c) ---------------------------------- */

void utmem_hdr_encode(const struct utmem_hdr *h, uint8_t out[UTMEM_HDR_SIZE]);
/* Decode without judging; then use the checks below. */
void utmem_hdr_decode(const uint8_t in[UTMEM_HDR_SIZE], struct utmem_hdr *h);

/* Is this a well-formed request for a server whose values are at most
 * max_value bytes? 0, or the negative errno to answer with: -EPROTO bad
 * magic/version/flags/status, -EOPNOTSUPP unknown op, -EMSGSIZE payload
 * length wrong for the op, -E2BIG PUT longer than max_value. */
int utmem_check_request(const struct utmem_hdr *h, size_t max_value);

/* Is `reply` a well-formed answer to `req`? 0 or -EPROTO. */
int utmem_check_reply(const struct utmem_hdr *reply, const struct utmem_hdr *req);

/* ---- byte streams ------------------------------------------------------- */

/* A reliable byte stream. read: >0 bytes, 0 end of stream, negative errno.
 * write: >0 bytes written (maybe fewer than len), negative errno. Both may
 * block; -EINTR is retried by the callers. */
struct utmem_io {
	void *ctx;
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	ssize_t (*write)(void *ctx, const void *buf, size_t len);
};

/* A blocking file descriptor (socket, pipe) as a byte stream. */
struct utmem_io utmem_io_fd(int fd);

/* Loop until all len bytes moved. 0, -ECONNRESET on early end of stream,
 * or the stream's error. */
int utmem_io_read_full(const struct utmem_io *io, void *buf, size_t len);
int utmem_io_write_full(const struct utmem_io *io, const void *buf, size_t len);

/* ---- server (proto_server.c) -------------------------------------------- */

struct utmem_server_opts {
	uint32_t domid;            /* who the peer is (reported in HELLO, STATS) */
	struct utmem_store *store; /* for STATS and SET_QUOTA; NULL: -EOPNOTSUPP */
	int allow_admin;           /* SET_QUOTA allowed: trusted peers only */
	/* Optional: a request's payload is charged before a byte of it is
	 * buffered (the header alone may announce max_value). charge returns
	 * 0, or a negative errno that refuses the request: its payload is
	 * read and dropped, and the reply carries the errno. Each successful
	 * charge is uncharged once the request ran or the session ended. */
	int (*charge)(void *ctx, size_t bytes);
	void (*uncharge)(void *ctx, size_t bytes);
	void *charge_ctx;
};

struct utmem_session;

/* A server session for one connection, serving `tier` (typically
 * utmem_store_tier(store, peer_domid)). The tier must outlive it. */
struct utmem_session *utmem_session_new(struct utmem_tier *tier,
					const struct utmem_server_opts *opts);
void utmem_session_free(struct utmem_session *s);

/* Push-style input, for event loops: feed whatever bytes arrived (any
 * split). Each complete request is executed and its reply written through
 * out->write (which must take everything, e.g. append to an evbuffer).
 * Returns 0 to keep going, or a negative errno after which the caller must
 * close the connection: -EPROTO (malformed request; an error reply was
 * written first) or out's error. */
int utmem_session_input(struct utmem_session *s, const void *data, size_t len,
			const struct utmem_io *out);

/* Answering later. A tier served by an event-loop session may return
 * UTMEM_DEFERRED from put, get, invalidate_page or invalidate_object when
 * the answer needs another round trip (ivtd's remote lower tier). The
 * session then writes no reply and the caller must feed it no input until
 * it has called utmem_session_complete() with the result: status as the
 * tier op would have returned it (for GET: >0 with value/len holding the
 * value, or a negative errno). 0, -EINVAL when nothing is deferred, or
 * out's error (then close the connection). Values passed to a deferring
 * op are only valid during the call: copy what is needed later. Never
 * defer under utmem_serve() or a stack. */
#define UTMEM_DEFERRED (-EINPROGRESS)
int utmem_session_complete(struct utmem_session *s, int status, const void *value, size_t len,
			   const struct utmem_io *out);
int utmem_session_deferred(const struct utmem_session *s);

/* Blocking server loop over io: returns 0 when the peer ends the stream
 * cleanly between requests, else a negative errno as above. */
int utmem_serve(struct utmem_tier *tier, const struct utmem_io *io,
		const struct utmem_server_opts *opts);

/* ---- client (proto_client.c) -------------------------------------------- */

struct utmem_client;

/* Connect over a blocking byte stream: sends HELLO and learns max_value.
 * io is copied; its ctx must outlive the client. */
int utmem_client_open(const struct utmem_io *io, struct utmem_client **out);
void utmem_client_free(struct utmem_client *c);

int utmem_client_pool_create(struct utmem_client *c, uint32_t flags,
			     const uint8_t uuid[UTMEM_UUID_LEN], uint32_t *pool_out);
int utmem_client_pool_destroy(struct utmem_client *c, uint32_t pool);
int utmem_client_put(struct utmem_client *c, const struct utmem_key *key, const void *buf,
		     size_t len);
ssize_t utmem_client_get(struct utmem_client *c, const struct utmem_key *key, void *buf,
			 size_t cap, unsigned flags);
int utmem_client_invalidate_page(struct utmem_client *c, const struct utmem_key *key);
int utmem_client_invalidate_object(struct utmem_client *c, uint32_t pool, uint64_t oid);
int utmem_client_set_quota(struct utmem_client *c, uint32_t domid, uint64_t bytes);
int utmem_client_stats(struct utmem_client *c, struct utmem_domain_stats *out);
size_t utmem_client_max_value(const struct utmem_client *c);
uint32_t utmem_client_domid(const struct utmem_client *c);

/* The client as a tier (for stacking). Part of the client: valid while the
 * client lives; utmem_tier_destroy() on it does nothing. */
struct utmem_tier *utmem_client_tier(struct utmem_client *c);

#endif /* UTMEM_PROTO_H */
