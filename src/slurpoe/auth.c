/* SPDX-License-Identifier: MIT */
#include "auth.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "wire.h"

/* libsodium wants non-NULL message pointers even for zero-length ones. */
static unsigned char none[1];

static void nonce_of(uint32_t dir, uint64_t counter, uint8_t n[12])
{
	slp_put32(n, dir);
	slp_put64(n + 4, counter);
}

size_t slp_auth_seal(const uint8_t key[SLP_AUTH_KEY_LEN], uint32_t dir, uint64_t counter,
		     uint8_t *frame, size_t len)
{
	uint8_t n[12];
	nonce_of(dir, counter, n);
	slp_put64(frame + len, counter);
	unsigned long long maclen;
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(none, frame + len + 8, &maclen, none, 0,
							   frame, len + 8, NULL, n, key);
	return len + SLP_AUTH_TRAILER;
}

int slp_auth_check(const uint8_t key[SLP_AUTH_KEY_LEN], uint32_t dir, const uint8_t *frame,
		   size_t len)
{
	if (len < SLP_AUTH_TRAILER)
		return -EBADMSG;
	size_t body = len - SLP_AUTH_TRAILER;
	uint8_t n[12];
	nonce_of(dir, slp_get64(frame + body), n);
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(none, NULL, none, 0,
								  frame + body + 8, frame,
								  body + 8, n, key)
		       ? -EBADMSG
		       : 0;
}

void slp_auth_conn_key(const uint8_t psk[SLP_AUTH_KEY_LEN], const uint8_t client_mac[6],
		       const uint8_t server_mac[6], uint32_t client_ep, uint32_t server_ep,
		       uint32_t client_isn, uint32_t server_isn, uint8_t out[SLP_AUTH_KEY_LEN])
{
	uint8_t in[16 + 12 + 16];
	memcpy(in, "slurpoe conn v1", 16);
	memcpy(in + 16, client_mac, 6);
	memcpy(in + 22, server_mac, 6);
	slp_put32(in + 28, client_ep);
	slp_put32(in + 32, server_ep);
	slp_put32(in + 36, client_isn);
	slp_put32(in + 40, server_isn);
	crypto_generichash(out, SLP_AUTH_KEY_LEN, in, sizeof(in), psk, SLP_AUTH_KEY_LEN);
}

void slp_auth_enc_key(const uint8_t conn_key[SLP_AUTH_KEY_LEN], uint8_t out[SLP_AUTH_KEY_LEN])
{
	static const uint8_t label[16] = "slurpoe enc v1";
	crypto_generichash(out, SLP_AUTH_KEY_LEN, label, sizeof(label), conn_key,
			   SLP_AUTH_KEY_LEN);
}

void slp_auth_crypt(const uint8_t key[SLP_AUTH_KEY_LEN], uint32_t dir, uint64_t frame_no,
		    uint8_t *dst, const uint8_t *src, size_t len)
{
	uint8_t n[12];
	nonce_of(dir, frame_no, n);
	crypto_stream_chacha20_ietf_xor(dst, src, len, n, key);
}

uint64_t slp_auth_random64(void)
{
	uint64_t v;
	randombytes_buf(&v, sizeof(v));
	return v;
}
