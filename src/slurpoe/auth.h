/* SPDX-License-Identifier: MIT */
/*
 * Keyed integrity for SLURPoE frames (docs/remote.md, "Trust model"), with
 * libsodium's ChaCha20-Poly1305 (IETF) used as a MAC: the whole frame is
 * associated data, nothing is encrypted, and the 24-byte trailer is
 *   u64 counter (big-endian) | 16-byte Poly1305 tag.
 * The nonce is (u32 direction, u64 counter): per-connection keys with a
 * counter per direction for connection frames, the host pair's key with a
 * random counter for CONNECT/ACCEPT/RESET.
 */
#ifndef SLURPOE_AUTH_H
#define SLURPOE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define SLP_AUTH_KEY_LEN 32
#define SLP_AUTH_TRAILER 24

enum slp_auth_dir {
	SLP_AUTH_FROM_CLIENT = 0, /* connection frames sent by the connecting side */
	SLP_AUTH_FROM_SERVER = 1, /* ... by the accepting side */
	SLP_AUTH_HOST_PAIR = 2,   /* CONNECT/ACCEPT/RESET under the host pair's key */
};

/* Append the trailer after frame[0..len) (room for SLP_AUTH_TRAILER bytes
 * must follow); returns the new length. */
size_t slp_auth_seal(const uint8_t key[SLP_AUTH_KEY_LEN], uint32_t dir, uint64_t counter,
		     uint8_t *frame, size_t len);
/* len includes the trailer. 0 if the tag is right, -EBADMSG if not. */
int slp_auth_check(const uint8_t key[SLP_AUTH_KEY_LEN], uint32_t dir, const uint8_t *frame,
		   size_t len);
/* A connection's key from the host pair's: bound to both addresses, both
 * endpoints and both initial sequence numbers (the accepting side's is
 * random, so an old connection's frames never verify in a new one). */
void slp_auth_conn_key(const uint8_t psk[SLP_AUTH_KEY_LEN], const uint8_t client_mac[6],
		       const uint8_t server_mac[6], uint32_t client_ep, uint32_t server_ep,
		       uint32_t client_isn, uint32_t server_isn, uint8_t out[SLP_AUTH_KEY_LEN]);
/* Confidentiality (optional): payloads are encrypted with ChaCha20 under
 * a key of their own derived from the connection's, nonce (direction,
 * 64-bit frame number from the initial sequence number), once when the
 * frame is cut; the tag then covers the ciphertext (encrypt-then-MAC).
 * Decryption is the same call. */
void slp_auth_enc_key(const uint8_t conn_key[SLP_AUTH_KEY_LEN], uint8_t out[SLP_AUTH_KEY_LEN]);
void slp_auth_crypt(const uint8_t key[SLP_AUTH_KEY_LEN], uint32_t dir, uint64_t frame_no,
		    uint8_t *dst, const uint8_t *src, size_t len);
/* A random counter for host-pair frames. */
uint64_t slp_auth_random64(void);

#endif
