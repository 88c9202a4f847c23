/*
 * Flow tokens: base64url(id || HMAC-SHA256(key, id)[0..10)), where id is
 * the connection id as 8 big-endian bytes. 18 bytes encode to exactly 24
 * characters with no padding and no spare bits, so every 24-character
 * string over the alphabet decodes to one distinct byte string and a
 * changed character always changes the bytes that are checked.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "flow.h"

#define ID_LEN		8
#define TAG_LEN		10	/* truncated MAC: 80 bits */
#define RAW_LEN		(ID_LEN + TAG_LEN)

#if RAW_LEN % 3 != 0 || RAW_LEN / 3 * 4 != FLOW_TOKEN_LEN
#error "FLOW_TOKEN_LEN must be the unpadded base64 length of RAW_LEN bytes"
#endif

struct flow_signer {
	/* Keyed once and never updated, so it can be duplicated per token
	 * from several threads. */
	EVP_MAC_CTX *keyed;
};

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct flow_signer *
flow_signer_new(const unsigned char *key, size_t keylen)
{
	unsigned char random_key[FLOW_KEY_LEN];
	struct flow_signer *s = NULL;
	EVP_MAC *mac = NULL;
	OSSL_PARAM params[2];

	if (key == NULL) {
		if (RAND_bytes(random_key, sizeof(random_key)) != 1)
			goto fail;
		key = random_key;
		keylen = sizeof(random_key);
	}
	if (keylen == 0)
		goto fail;

	s = OPENSSL_zalloc(sizeof(*s));
	if (s == NULL)
		goto fail;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		goto fail;
	/* The context holds its own reference to mac. */
	s->keyed = EVP_MAC_CTX_new(mac);
	if (s->keyed == NULL)
		goto fail;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(s->keyed, key, keylen, params) != 1)
		goto fail;

	EVP_MAC_free(mac);
	OPENSSL_cleanse(random_key, sizeof(random_key));
	return s;

fail:
	EVP_MAC_free(mac);
	flow_signer_free(s);
	OPENSSL_cleanse(random_key, sizeof(random_key));
	return NULL;
}

void
flow_signer_free(struct flow_signer *s)
{
	if (s == NULL)
		return;
	EVP_MAC_CTX_free(s->keyed);
	OPENSSL_free(s);
}

/* Computes the truncated MAC of id into tag. Returns 0, or -1. */
static int
flow_tag(struct flow_signer *s, const unsigned char id[ID_LEN],
    unsigned char tag[TAG_LEN])
{
	unsigned char full[EVP_MAX_MD_SIZE];
	size_t full_len = 0;
	EVP_MAC_CTX *ctx;
	int rc = -1;

	ctx = EVP_MAC_CTX_dup(s->keyed);
	if (ctx == NULL)
		return -1;
	if (EVP_MAC_update(ctx, id, ID_LEN) != 1 ||
	    EVP_MAC_final(ctx, full, &full_len, sizeof(full)) != 1 ||
	    full_len < TAG_LEN)
		goto done;
	memcpy(tag, full, TAG_LEN);
	rc = 0;
done:
	EVP_MAC_CTX_free(ctx);
	OPENSSL_cleanse(full, sizeof(full));
	return rc;
}

static void
put_be64(unsigned char out[ID_LEN], uint64_t v)
{
	for (int i = ID_LEN - 1; i >= 0; i--) {
		out[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
get_be64(const unsigned char in[ID_LEN])
{
	uint64_t v = 0;

	for (int i = 0; i < ID_LEN; i++)
		v = (v << 8) | in[i];
	return v;
}

/* Returns the 6-bit value of a base64url character, or -1. */
static int
b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
flow_token_encode(struct flow_signer *s, uint64_t conn_id,
    char out[FLOW_TOKEN_LEN + 1])
{
	unsigned char raw[RAW_LEN];
	char *p = out;

	put_be64(raw, conn_id);
	if (flow_tag(s, raw, raw + ID_LEN) != 0)
		return -1;

	for (size_t i = 0; i < RAW_LEN; i += 3) {
		uint32_t group = (uint32_t)raw[i] << 16 |
		    (uint32_t)raw[i + 1] << 8 | raw[i + 2];

		*p++ = b64url[(group >> 18) & 0x3f];
		*p++ = b64url[(group >> 12) & 0x3f];
		*p++ = b64url[(group >> 6) & 0x3f];
		*p++ = b64url[group & 0x3f];
	}
	*p = '\0';
	return 0;
}

static int
b64url_decode_token(const char *tok, unsigned char raw[RAW_LEN])
{
	unsigned char *p = raw;

	for (size_t i = 0; i < FLOW_TOKEN_LEN; i += 4) {
		uint32_t group = 0;

		for (size_t j = 0; j < 4; j++) {
			int v = b64url_value(tok[i + j]);

			if (v < 0)
				return -1;
			group = group << 6 | (uint32_t)v;
		}
		*p++ = (unsigned char)(group >> 16);
		*p++ = (unsigned char)(group >> 8);
		*p++ = (unsigned char)group;
	}
	return 0;
}

int
flow_token_peek(const char *tok, size_t len, uint64_t *conn_id)
{
	unsigned char raw[RAW_LEN];

	if (len != FLOW_TOKEN_LEN || b64url_decode_token(tok, raw) == -1)
		return -1;
	*conn_id = get_be64(raw);
	return 0;
}

int
flow_token_decode(struct flow_signer *s, const char *tok, size_t len,
    uint64_t *conn_id)
{
	unsigned char raw[RAW_LEN], tag[TAG_LEN];
	unsigned char *p = raw;

	if (len != FLOW_TOKEN_LEN)
		return -1;

	for (size_t i = 0; i < FLOW_TOKEN_LEN; i += 4) {
		uint32_t group = 0;

		for (size_t j = 0; j < 4; j++) {
			int v = b64url_value(tok[i + j]);

			if (v < 0)
				return -1;
			group = group << 6 | (uint32_t)v;
		}
		*p++ = (unsigned char)(group >> 16);
		*p++ = (unsigned char)(group >> 8);
		*p++ = (unsigned char)group;
	}

	if (flow_tag(s, raw, tag) != 0)
		return -1;
	if (CRYPTO_memcmp(tag, raw + ID_LEN, TAG_LEN) != 0)
		return -1;
	*conn_id = get_be64(raw);
	return 0;
}
