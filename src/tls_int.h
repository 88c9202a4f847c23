/* Shared between the tls*.c files only: the per-handshake diagnostics
 * record, the data attached to each SSL_CTX, and helpers. */
#ifndef SIPSGATE_TLS_INT_H
#define SIPSGATE_TLS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

struct config;

#define NAME_MAX_TEXT		192

/* The likely cause of a failed issuer lookup (see tls_diag_record). */
enum issuer_guess {
	ISSUER_UNKNOWN_CA,		/* no CA of that name is known here */
	ISSUER_MISSING_INTERMEDIATE,	/* a known intermediate was not sent */
};

/*
 * Diagnostics for one handshake. It is allocated on the first problem
 * worth reporting (a failed certificate check, or a first record that is
 * plain text), or up front at debug level. The ex_data free callback
 * frees it with the SSL, so a clean handshake at info level costs nothing.
 */
struct tls_diag {
	uint64_t	serial;		/* connection number for debug lines, 0: none */
	int		verify_error;	/* first X509_V_ERR_*, or X509_V_OK */
	int		depth;		/* chain depth of the failing certificate */
	enum issuer_guess issuer_guess;
	char		subject[NAME_MAX_TEXT];
	char		issuer[NAME_MAX_TEXT];
	char		serial_hex[48];	/* of the failing certificate */
	char		not_before[32];	/* "2020-01-01T00:00:00Z" */
	char		not_after[32];
	int		plaintext;	/* the first record header was text */
	char		first_bytes[6];	/* that header, NUL-terminated */
};

/* Session ticket keys: the one that encrypts new tickets and the one
 * before it, which still decrypts. */
struct ticket_key {
	unsigned char	name[16];
	unsigned char	aes_key[32];
	unsigned char	hmac_key[32];
	time_t		created;	/* on the tickets' clock */
	int		valid;
};

struct expiry_entry {
	char		*file;
	char		what[NAME_MAX_TEXT + 32];	/* "certificate \"CN=x\"" */
	time_t		not_after;	/* or a CRL's nextUpdate */
};

/*
 * State shared by all contexts of one build: the default server context
 * and its per-name (SNI) contexts, or the backend context. Those contexts
 * count their references, because connections keep contexts alive after
 * a reload. All of sipsgate's OpenSSL work runs on the event loop thread,
 * so the count needs no lock.
 */
struct tls_shared {
	int		refs;
	int		rotation;		/* ticket key lifetime, seconds */
	time_t		(*clock)(void);		/* tickets' time source */
	struct ticket_key current, previous;
	STACK_OF(X509_NAME) *intermediates;	/* CA names known not to be roots */
	struct expiry_entry *expiry;
	int		nexpiry;
	int		debug;			/* handshake steps are logged */
};

struct sni_entry {
	char		*name;		/* lower case, may start with "*." */
	SSL_CTX		*ctx;		/* one reference */
};

/* Attached to every context sipsgate builds. */
struct tls_ctx_data {
	struct tls_shared *shared;	/* one reference */
	struct sni_entry *sni;		/* default server context only */
	int		nsni;
};

/* tls_diag.c */
int tls_diag_init(void);
struct tls_diag *tls_diag_find(const SSL *ssl);
struct tls_diag *tls_diag_get(SSL *ssl);
void tls_diag_record(struct tls_diag *d, X509_STORE_CTX *store,
    const struct tls_shared *shared);
void tls_diag_describe_verify(const struct tls_diag *d, int server,
    SSL *ssl, char *out, size_t cap);
int tls_verify_callback(int ok, X509_STORE_CTX *store);
void tls_first_record_callback(int write_p, int version, int content_type,
    const void *buf, size_t len, SSL *ssl, void *arg);
int tls_client_hello_callback(SSL *ssl, int *alert, void *arg);
void tls_info_callback(const SSL *ssl, int where, int ret);
void tls_set_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tls_appendf(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tls_name_print(const X509_NAME *name, char *out, size_t cap);
void tls_time_print(const ASN1_TIME *t, char *out, size_t cap);
const char *tls_version_name(int version, char *buf, size_t cap);
/* "RSA", "EC", "Ed25519"... for an EVP_PKEY_* id. */
const char *tls_key_type_name(int type);

/* The origin of a config value, for "file:line: key: message" errors. */
struct key_ref {
	const struct config *cfg;
	const char	*section;	/* "tls", "backend" or "sni:NAME" */
	const char	*key;
	int		line;		/* 0 when the default applies */
};

/* tls.c */
struct key_ref tls_key(const struct config *cfg, const char *key);
void tls_key_error(char *err, size_t errlen, const struct key_ref *ref,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int tls_ctx_data_init(void);
struct tls_ctx_data *tls_ctx_data(const SSL_CTX *ctx);
struct tls_shared *tls_shared_new(void);
void tls_shared_unref(struct tls_shared *shared);

/* tls_tickets.c */
int tls_tickets_enable(SSL_CTX *ctx, struct tls_shared *shared,
    int rotation);
/* Replaces the tickets' clock, for tests that move time forward. */
void tls_tickets_set_clock(SSL_CTX *ctx, time_t (*clock)(void));

/* tls_cert.c */
int tls_collect_expiry(struct tls_shared *shared, const char *file,
    int crls, char *err, size_t errlen);
int tls_collect_intermediates(struct tls_shared *shared, const char *file);
X509_STORE *tls_store_new(const struct config *cfg, char *err,
    size_t errlen);

#endif
