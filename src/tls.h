/* OpenSSL for both sides: the server SSL_CTX shared by every phone
 * connection, the client SSL_CTX for a TLS backend, verification
 * diagnostics and peer identity. All OpenSSL calls for connections stay
 * here (and in libevent's bufferevent_openssl glue). */
#ifndef SIPSGATE_TLS_H
#define SIPSGATE_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <openssl/ssl.h>

struct config;

/* Once at start-up: registers the ex_data indexes for diagnostics and
 * for the data sipsgate attaches to its contexts. */
int tls_global_init(void);

/*
 * Builds the phone-facing server context from [tls]: each certificate
 * chain and key pair (leaf first, then intermediates, one key type per
 * pair), a context per [sni:NAME] section switched to by server name,
 * ca_file and crl_file as the trust store for client certificates,
 * verify_client, verify_depth, min_version, max_version, ciphers,
 * ciphersuites and groups (refusing NULL, RC4, DES, 3DES, static RSA
 * and anonymous suites), session tickets with rotating keys unless
 * session_resumption = no, SSL_MODE_RELEASE_BUFFERS, no compression, no
 * renegotiation. Each call makes new ticket keys. Returns NULL and
 * writes one line into err, "file:line: key: reason" where a key of the
 * config is at fault.
 */
SSL_CTX *tls_server_ctx_new(const struct config *cfg, char *err, size_t errlen);

/*
 * Builds the backend client context from [backend]: ca_file trust store
 * (peer verification is always on), optional client certificate and key,
 * TLS 1.2 minimum and the default ciphers and groups of [tls]. Returns
 * NULL with err set.
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

/* "TLSv1.3 TLS_AES_256_GCM_SHA384 subject=\"CN=alice\" session=new" (or
 * session=resumed) for the info line of a completed handshake. */
void tls_describe_session(SSL *ssl, char *out, size_t cap);

/* Names the connection in the debug lines of its handshake steps. Does
 * nothing unless the context was built with debug logging on. */
void tls_ssl_set_serial(SSL *ssl, uint64_t serial);

/* Returns the identity list (see identity.h) of the verified client
 * certificate, malloc'd, or NULL when there is none or it has no
 * identity. Works for resumed sessions too. */
char *tls_peer_identities(SSL *ssl);

/* Logs a warning for each certificate or CRL that ctx was built from and
 * that expires (or needs its next CRL update) within 30 days of now, or
 * has already. Returns the number of warnings. */
int tls_warn_expiry(SSL_CTX *ctx, time_t now);

/*
 * sipsgate --check-cert: verifies the first certificate in file, with
 * the others in it as intermediates, as a phone's handshake would be
 * (ca_file, crl_file, crl_check, verify_depth), and writes the verdict,
 * the identities and what identity_check allows to out. Returns 0 when
 * accepted, 1 when rejected, 2 when the check could not run.
 */
int tls_check_cert(const struct config *cfg, const char *file, FILE *out);

#endif
