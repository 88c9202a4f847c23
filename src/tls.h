/* OpenSSL for both sides: the server SSL_CTX shared by every phone
 * connection, the client SSL_CTX for a TLS backend, verification
 * diagnostics and peer identity. All OpenSSL calls for connections stay
 * here (and in libevent's bufferevent_openssl glue). */
#ifndef SIPSGATE_TLS_H
#define SIPSGATE_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

struct config;

/* Once at start-up: registers the ex_data index used for diagnostics. */
int tls_global_init(void);

/*
 * Builds the phone-facing server context from [tls]: chain and key
 * (leaf first, then intermediates, from one PEM file), ca_file as the
 * trust store for client certificates, verify_client, verify_depth,
 * min_version, TLS 1.2 ciphers restricted to ECDHE with AEAD, TLS 1.3
 * allowed, SSL_MODE_RELEASE_BUFFERS, no compression, no renegotiation.
 * Returns NULL and writes a one-line reason naming the file into err.
 */
SSL_CTX *tls_server_ctx_new(const struct config *cfg, char *err, size_t errlen);

/*
 * Builds the backend client context from [backend]: ca_file trust store
 * (peer verification is always on), optional client certificate and key,
 * TLS 1.2 minimum. Returns NULL with err set.
 */
SSL_CTX *tls_backend_ctx_new(const struct config *cfg, char *err, size_t errlen);

/* A new SSL for an accepted phone connection, or for a backend connection
 * (client mode, SNI and host name check set to host). NULL on failure. */
SSL *tls_server_ssl_new(SSL_CTX *ctx);
SSL *tls_client_ssl_new(SSL_CTX *ctx, const char *host);

/*
 * Describes why a handshake failed in plain words, for example
 * "client certificate rejected: unable to get local issuer certificate
 * (issuer "CN=Phones Intermediate CA")", "no client certificate sent",
 * "no shared protocol version (client offered only TLS 1.1 or older)",
 * "plaintext sent to the TLS port". Uses the verification result stored
 * by the verify callback and drains the whole OpenSSL error queue
 * (including errors libevent collected, passed as errs[0..nerrs)).
 */
void tls_describe_failure(SSL *ssl, const unsigned long *errs, int nerrs,
    char *out, size_t cap);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384 subject=\"CN=alice\"" for the info line
 * of a completed handshake. */
void tls_describe_session(SSL *ssl, char *out, size_t cap);

#endif
