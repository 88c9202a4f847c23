/*
 * Session ticket keys (RFC 5077, and TLS 1.3 resumption), generated with
 * RAND_bytes and rotated every [tls] ticket_key_rotation seconds. A key
 * encrypts new tickets for one rotation period, then decrypts for one
 * more, so a ticket stays usable for at least one period after it was
 * issued. Tickets that old are refused anyway: the session lifetime is
 * set to the same period. Rotation happens lazily when a ticket is issued
 * or presented, so no timer is needed. A reload builds new contexts with
 * new keys, which also retires tickets of phones that a new crl_file
 * revokes.
 */
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "tls_int.h"

/* Seconds on CLOCK_MONOTONIC, so that setting the wall clock neither
 * ages keys at once nor keeps them forever. */
static time_t
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
key_wipe(struct ticket_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

static int
key_generate(struct ticket_key *k, time_t now)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 ||
	    RAND_priv_bytes(k->aes_key, sizeof(k->aes_key)) != 1 ||
	    RAND_priv_bytes(k->hmac_key, sizeof(k->hmac_key)) != 1) {
		key_wipe(k);
		return -1;
	}
	k->created = now;
	k->valid = 1;
	return 0;
}

/* Makes the current key one younger than the rotation period, keeping
 * the key it replaces while that may still decrypt. */
static int
keys_refresh(struct tls_shared *s, time_t now)
{
	time_t period = s->rotation;

	if (s->previous.valid && now - s->previous.created >= 2 * period)
		key_wipe(&s->previous);
	if (s->current.valid && now - s->current.created < period)
		return 0;
	if (s->current.valid && now - s->current.created < 2 * period)
		s->previous = s->current;
	else
		key_wipe(&s->previous);
	return key_generate(&s->current, now);
}

static int
mac_set_key(EVP_MAC_CTX *mac, struct ticket_key *k)
{
	static char digest[] = "SHA256";
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    k->hmac_key, sizeof(k->hmac_key));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[2] = OSSL_PARAM_construct_end();
	return EVP_MAC_CTX_set_params(mac, params);
}

/*
 * Called by OpenSSL to encrypt a new ticket (enc = 1) or to find the key
 * of a presented one (enc = 0). Returns 1 on success, 2 for a ticket
 * under the previous key (OpenSSL then issues a fresh one), 0 for "no
 * ticket" or "unknown key" (a full handshake follows).
 */
static int
ticket_callback(SSL *ssl, unsigned char name[16],
    unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *cipher,
    EVP_MAC_CTX *mac, int enc)
{
	const struct tls_ctx_data *data = tls_ctx_data(SSL_get_SSL_CTX(ssl));
	struct tls_shared *s = data != NULL ? data->shared : NULL;
	struct ticket_key *k;
	const int iv_len = EVP_CIPHER_get_iv_length(EVP_aes_256_cbc());

	if (s == NULL || keys_refresh(s, s->clock()) == -1)
		return 0;
	if (enc) {
		k = &s->current;
		if (RAND_bytes(iv, iv_len) != 1)
			return 0;
		memcpy(name, k->name, sizeof(k->name));
		if (!EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), NULL,
		    k->aes_key, iv) || !mac_set_key(mac, k))
			return -1;
		return 1;
	}
	if (memcmp(name, s->current.name, sizeof(s->current.name)) == 0)
		k = &s->current;
	else if (s->previous.valid &&
	    memcmp(name, s->previous.name, sizeof(s->previous.name)) == 0)
		k = &s->previous;
	else
		return 0;
	if (!mac_set_key(mac, k) ||
	    !EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, k->aes_key,
	    iv))
		return -1;
	return k == &s->previous ? 2 : 1;
}

int
tls_tickets_enable(SSL_CTX *ctx, struct tls_shared *shared, int rotation)
{
	shared->rotation = rotation;
	if (shared->clock == NULL)
		shared->clock = monotonic_seconds;
	if (!SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_callback))
		return -1;
	/* The lifetime hint and the server-side age check. */
	SSL_CTX_set_timeout(ctx, rotation);
	/* One ticket per connection: a phone reconnects over one at a time,
	 * and each ticket costs an encryption. */
	SSL_CTX_set_num_tickets(ctx, 1);
	return 0;
}

void
tls_tickets_set_clock(SSL_CTX *ctx, time_t (*clock)(void))
{
	struct tls_ctx_data *data = tls_ctx_data(ctx);

	if (data == NULL)
		return;
	data->shared->clock = clock;
	key_wipe(&data->shared->current);
	key_wipe(&data->shared->previous);
}
