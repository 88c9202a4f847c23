/* OpenSSL contexts for phones (server side) and for a TLS backend (client
 * side), and the plain-words diagnostics for failed handshakes. */

/* For the GNU strerror_r, which returns the message pointer. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "tls.h"

/* TLS 1.2 suites: ephemeral ECDH for forward secrecy and AEAD ciphers only.
 * TLS 1.3 keeps OpenSSL's default suites, which all meet the same bar. */
#define TLS12_CIPHERS		"ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"
#define TLS_GROUPS		"X25519:P-256:P-384"

/* Any constant works. OpenSSL only requires some context to be set before
 * it resumes a session whose client certificate was verified. */
#define SESSION_ID_CONTEXT	"sipsgate"

#define NAME_MAX_TEXT		192
#define ERRLIST_MAX		16

/*
 * Diagnostics for one handshake. It is allocated on the first problem
 * worth reporting (a failed certificate check, or a first record that is
 * plain text) and freed with the SSL by the ex_data free callback, so a
 * clean handshake costs nothing.
 */
struct tls_failure {
	int		verify_error;	/* first X509_V_ERR_*, or X509_V_OK */
	int		depth;		/* chain depth of the failing certificate */
	char		subject[NAME_MAX_TEXT];
	char		issuer[NAME_MAX_TEXT];
	char		not_before[32];	/* "2020-01-01T00:00:00Z" */
	char		not_after[32];
	int		plaintext;	/* the first record header was text */
	char		first_bytes[6];	/* that header, NUL-terminated */
};

/* The ex_data slot for struct tls_failure, set by tls_global_init(). */
static int failure_index = -1;

/* OpenSSL error codes in the order they were collected, without repeats. */
struct errlist {
	unsigned long	code[ERRLIST_MAX];
	int		n;
};

static void
appendf(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends to the NUL-terminated string in out, truncating at cap. */
static void
appendf(char *out, size_t cap, const char *fmt, ...)
{
	size_t used = strlen(out);
	va_list ap;

	if (used + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(out + used, cap - used, fmt, ap);
	va_end(ap);
}

static void
failure_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	free(ptr);
}

int
tls_global_init(void)
{
	if (failure_index >= 0)
		return 0;
	failure_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, failure_free);
	return failure_index < 0 ? -1 : 0;
}

static struct tls_failure *
failure_find(const SSL *ssl)
{
	if (failure_index < 0)
		return NULL;
	return SSL_get_ex_data(ssl, failure_index);
}

/* Returns the record of ssl, allocating it on first use, or NULL when
 * there is no memory (the diagnostics are then simply less precise). */
static struct tls_failure *
failure_get(SSL *ssl)
{
	struct tls_failure *f;

	if ((f = failure_find(ssl)) != NULL || failure_index < 0)
		return f;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if (!SSL_set_ex_data(ssl, failure_index, f)) {
		free(f);
		return NULL;
	}
	return f;
}

/*
 * Prints name as RFC 2253 text ("CN=alice,O=Example"). The flags escape
 * control characters and non-ASCII bytes, so a name taken from a peer's
 * certificate is safe to put between quotes in a log line.
 */
static void
name_print(const X509_NAME *name, char *out, size_t cap)
{
	BIO *bio;
	char *data;
	long len;

	out[0] = '\0';
	if (name == NULL || (bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
		len = BIO_get_mem_data(bio, &data);
		if (len < 0)
			len = 0;
		if ((size_t)len >= cap)
			len = cap - 1;
		memcpy(out, data, len);
		out[len] = '\0';
	}
	BIO_free(bio);
}

static void
time_print(const ASN1_TIME *t, char *out, size_t cap)
{
	struct tm tm;

	out[0] = '\0';
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return;
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * Records the first certificate problem of a handshake for
 * tls_describe_failure(). It never overrides OpenSSL's verdict: a chain
 * that failed still fails.
 */
static int
verify_callback(int ok, X509_STORE_CTX *store)
{
	struct tls_failure *f;
	X509 *cert;
	SSL *ssl;

	if (ok)
		return 1;
	ssl = X509_STORE_CTX_get_ex_data(store,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	if (ssl == NULL || (f = failure_get(ssl)) == NULL)
		return 0;
	if (f->verify_error != X509_V_OK)
		return 0;

	f->verify_error = X509_STORE_CTX_get_error(store);
	f->depth = X509_STORE_CTX_get_error_depth(store);
	if ((cert = X509_STORE_CTX_get_current_cert(store)) != NULL) {
		name_print(X509_get_subject_name(cert), f->subject,
		    sizeof(f->subject));
		name_print(X509_get_issuer_name(cert), f->issuer,
		    sizeof(f->issuer));
		time_print(X509_get0_notBefore(cert), f->not_before,
		    sizeof(f->not_before));
		time_print(X509_get0_notAfter(cert), f->not_after,
		    sizeof(f->not_after));
	}
	return 0;
}

/* True when all of the bytes are printable ASCII, tab, CR or LF. Every TLS
 * record starts with a content type byte between 20 and 24, so a TLS
 * record header never passes. */
static int
is_text(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
			continue;
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	}
	return 1;
}

/*
 * Looks at the first record header a phone sends, to tell plain SIP sent
 * to the TLS port apart from a broken TLS client. OpenSSL 3.0 calls this
 * with the five header bytes before it checks them. The callback then
 * removes itself, so established connections pay nothing for it.
 */
static void
first_record_callback(int write_p, int version, int content_type,
    const void *buf, size_t len, SSL *ssl, void *arg)
{
	struct tls_failure *f;

	SSL_set_msg_callback(ssl, NULL);
	if (write_p || content_type != SSL3_RT_HEADER || len < 5)
		return;
	if (!is_text(buf, 5) || (f = failure_get(ssl)) == NULL)
		return;
	f->plaintext = 1;
	memcpy(f->first_bytes, buf, 5);
	f->first_bytes[5] = '\0';
}

/* ---- the OpenSSL error queue ---- */

static void
errlist_add(struct errlist *l, unsigned long code)
{
	int i;

	if (code == 0 || l->n == ERRLIST_MAX)
		return;
	for (i = 0; i < l->n; i++)
		if (l->code[i] == code)
			return;
	l->code[l->n++] = code;
}

/* Collects codes popped earlier by the caller, then drains this thread's
 * OpenSSL error queue completely, even past ERRLIST_MAX. */
static void
errlist_collect(struct errlist *l, const unsigned long *errs, int nerrs)
{
	unsigned long code;
	int i;

	l->n = 0;
	for (i = 0; errs != NULL && i < nerrs; i++)
		errlist_add(l, errs[i]);
	while ((code = ERR_get_error()) != 0)
		errlist_add(l, code);
}

static int
errlist_has(const struct errlist *l, int lib, int reason)
{
	int i;

	for (i = 0; i < l->n; i++) {
		if (ERR_SYSTEM_ERROR(l->code[i]))
			continue;
		if (ERR_GET_LIB(l->code[i]) == lib &&
		    ERR_GET_REASON(l->code[i]) == reason)
			return 1;
	}
	return 0;
}

static const char *
err_reason(unsigned long code, char *buf, size_t cap)
{
	const char *reason;

	/* OpenSSL 3.0 has no reason string for errno values. */
	if (ERR_SYSTEM_ERROR(code))
		return strerror_r(ERR_GET_REASON(code), buf, cap);
	if ((reason = ERR_reason_error_string(code)) != NULL)
		return reason;
	snprintf(buf, cap, "error %08lX", code);
	return buf;
}

/* Writes the reason strings of all codes, joined with "; ". Repeats are
 * left out: one failed fopen() queues "system lib" twice, for example. */
static void
errlist_join(const struct errlist *l, char *out, size_t cap)
{
	char buf[128], prev[128];
	const char *reason;
	size_t start = strlen(out);
	int i, j;

	for (i = 0; i < l->n; i++) {
		reason = err_reason(l->code[i], buf, sizeof(buf));
		for (j = 0; j < i; j++)
			if (strcmp(err_reason(l->code[j], prev, sizeof(prev)),
			    reason) == 0)
				break;
		if (j < i)
			continue;
		appendf(out, cap, "%s%s", strlen(out) > start ? "; " : "",
		    reason);
	}
}

/* Writes the formatted message to err, then ": " and the reasons drained
 * from the OpenSSL error queue, if there are any. */
static void
set_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_error(char *err, size_t errlen, const char *fmt, ...)
{
	struct errlist l;
	va_list ap;

	if (errlen == 0)
		return;
	err[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);

	errlist_collect(&l, NULL, 0);
	if (l.n > 0) {
		appendf(err, errlen, ": ");
		errlist_join(&l, err, errlen);
	}
}

/* ---- building contexts ---- */

/* The protocol, cipher and option policy both contexts share. */
static int
ctx_set_policy(SSL_CTX *ctx, int min_version, char *err, size_t errlen)
{
	if (min_version != TLS1_2_VERSION && min_version != TLS1_3_VERSION) {
		snprintf(err, errlen, "min_version 0x%04x: only TLS 1.2 "
		    "(0x%04x) and TLS 1.3 (0x%04x) are supported",
		    (unsigned)min_version, TLS1_2_VERSION, TLS1_3_VERSION);
		return -1;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, min_version)) {
		set_error(err, errlen, "cannot set the minimum TLS version");
		return -1;
	}

	/* SSL_CTX_set_cipher_list() returns 0 when the list selects no
	 * cipher at all. */
	if (!SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS)) {
		set_error(err, errlen, "cipher list \"%s\" selects no cipher",
		    TLS12_CIPHERS);
		return -1;
	}
	if (!SSL_CTX_set1_groups_list(ctx, TLS_GROUPS)) {
		set_error(err, errlen, "groups \"%s\" not supported",
		    TLS_GROUPS);
		return -1;
	}

	/* SIP frames by Content-Length, so a peer closing TCP without
	 * close_notify cannot truncate a message unnoticed; OpenSSL 3 would
	 * otherwise report that ordinary close as an error, which libevent
	 * 2.1 cannot tell from a real one. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Phones keep their connections open and mostly idle, so the read
	 * and write buffers are released between records. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

static int
is_key_mismatch(unsigned long code)
{
	if (ERR_SYSTEM_ERROR(code) || ERR_GET_LIB(code) != ERR_LIB_X509)
		return 0;
	return ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH ||
	    ERR_GET_REASON(code) == X509_R_KEY_TYPE_MISMATCH;
}

/* Loads a certificate chain (leaf first) and its private key. */
static int
ctx_load_identity(SSL_CTX *ctx, const char *cert, const char *key,
    char *err, size_t errlen)
{
	if (!SSL_CTX_use_certificate_chain_file(ctx, cert)) {
		set_error(err, errlen, "certificate %s: cannot load", cert);
		return -1;
	}
	/* OpenSSL compares the key with the certificate while loading it,
	 * so a mismatch usually shows up here and not in the check after. */
	if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM)) {
		if (is_key_mismatch(ERR_peek_last_error()))
			goto mismatch;
		set_error(err, errlen, "private key %s: cannot load", key);
		return -1;
	}
	if (!SSL_CTX_check_private_key(ctx))
		goto mismatch;
	return 0;

mismatch:
	ERR_clear_error();
	snprintf(err, errlen, "private key %s does not match certificate %s",
	    key, cert);
	return -1;
}

/* Sets ca_file as the trust store for phone certificates and as the list
 * of CA names sent in the CertificateRequest, so a phone with several
 * certificates can pick the one this server accepts. */
static int
server_set_verify(SSL_CTX *ctx, const struct config *cfg, char *err,
    size_t errlen)
{
	STACK_OF(X509_NAME) *names;
	int mode;

	if (cfg->tls.verify_client == VERIFY_OFF) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if (cfg->tls.ca_file == NULL) {
		snprintf(err, errlen, "ca_file is required unless "
		    "verify_client is off");
		return -1;
	}
	if (!SSL_CTX_load_verify_locations(ctx, cfg->tls.ca_file, NULL)) {
		set_error(err, errlen, "ca_file %s: cannot load",
		    cfg->tls.ca_file);
		return -1;
	}
	if ((names = SSL_load_client_CA_file(cfg->tls.ca_file)) == NULL) {
		set_error(err, errlen, "ca_file %s: contains no certificate",
		    cfg->tls.ca_file);
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);

	mode = SSL_VERIFY_PEER;
	if (cfg->tls.verify_client == VERIFY_REQUIRE)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, verify_callback);

	/* OpenSSL counts the depth in intermediate certificates, without the
	 * leaf and the trust anchor (test_tls_verify_depth checks this).
	 * Zero or less keeps OpenSSL's default of 100. */
	if (cfg->tls.verify_depth > 0)
		SSL_CTX_set_verify_depth(ctx, cfg->tls.verify_depth);
	return 0;
}

SSL_CTX *
tls_server_ctx_new(const struct config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		set_error(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	if (ctx_set_policy(ctx, cfg->tls.min_version, err, errlen) == -1)
		goto fail;
	if (ctx_load_identity(ctx, cfg->tls.certificate, cfg->tls.private_key,
	    err, errlen) == -1)
		goto fail;
	if (server_set_verify(ctx, cfg, err, errlen) == -1)
		goto fail;

	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);

	/* Resumption uses session tickets only, for TLS 1.2 and 1.3 alike,
	 * so the server keeps no per-session memory. A new context has new
	 * ticket keys, so after a reload phones do one full handshake. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (!SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)SESSION_ID_CONTEXT,
	    sizeof(SESSION_ID_CONTEXT) - 1)) {
		set_error(err, errlen, "cannot set the session id context");
		goto fail;
	}
	return ctx;

fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

SSL_CTX *
tls_backend_ctx_new(const struct config *cfg, char *err, size_t errlen)
{
	const char *ca = cfg->backend.ca_file;
	const char *cert = cfg->backend.certificate;
	const char *key = cfg->backend.private_key;
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		set_error(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	if (ctx_set_policy(ctx, TLS1_2_VERSION, err, errlen) == -1)
		goto fail;

	/* config.c requires ca_file for a TLS backend. Without one, the
	 * system trust store decides, and the host name check set by
	 * tls_client_ssl_new() still applies. */
	if (ca != NULL && !SSL_CTX_load_verify_locations(ctx, ca, NULL)) {
		set_error(err, errlen, "[backend] ca_file %s: cannot load", ca);
		goto fail;
	}
	if (ca == NULL && !SSL_CTX_set_default_verify_paths(ctx)) {
		set_error(err, errlen, "cannot load the system trust store");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_callback);

	if ((cert == NULL) != (key == NULL)) {
		snprintf(err, errlen, "[backend] certificate and private_key "
		    "must be set together");
		goto fail;
	}
	if (cert != NULL &&
	    ctx_load_identity(ctx, cert, key, err, errlen) == -1)
		goto fail;
	return ctx;

fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

/* ---- per-connection objects ---- */

SSL *
tls_server_ssl_new(SSL_CTX *ctx)
{
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL)
		return NULL;
	SSL_set_accept_state(ssl);
	SSL_set_msg_callback(ssl, first_record_callback);
	return ssl;
}

static int
is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

/* SNI carries DNS names only (RFC 6066, section 3), so an IP literal is
 * checked against the certificate's IP SANs and not sent. */
SSL *
tls_client_ssl_new(SSL_CTX *ctx, const char *host)
{
	SSL *ssl;

	if (host == NULL || host[0] == '\0')
		return NULL;
	if ((ssl = SSL_new(ctx)) == NULL)
		return NULL;
	SSL_set_connect_state(ssl);

	if (is_ip_literal(host)) {
		if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host))
			goto fail;
		return ssl;
	}
	if (!SSL_set_tlsext_host_name(ssl, host) || !SSL_set1_host(ssl, host))
		goto fail;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return ssl;

fail:
	SSL_free(ssl);
	return NULL;
}

/* ---- diagnostics ---- */

static const char *
version_name(int version, char *buf, size_t cap)
{
	switch (version) {
	case SSL3_VERSION:	return "SSL 3.0";
	case TLS1_VERSION:	return "TLS 1.0";
	case TLS1_1_VERSION:	return "TLS 1.1";
	case TLS1_2_VERSION:	return "TLS 1.2";
	case TLS1_3_VERSION:	return "TLS 1.3";
	}
	snprintf(buf, cap, "version 0x%04x", (unsigned)version);
	return buf;
}

/* Adds what the operator can change for the common verification errors. */
static void
describe_verify_hint(int server, const struct tls_failure *f, char *out,
    size_t cap)
{
	const char *peer = server ? "The phone" : "The backend";
	const char *ca_file = server ? "ca_file" : "[backend] ca_file";

	switch (f->verify_error) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		appendf(out, cap, ". %s may need to send its intermediate "
		    "certificate, or %s must contain it", peer, ca_file);
		break;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		appendf(out, cap, ". %s does not contain this root", ca_file);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		appendf(out, cap, ". Check the clocks of both hosts");
		break;
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
		if (server)
			appendf(out, cap, ". Raise verify_depth");
		break;
	case X509_V_ERR_INVALID_PURPOSE:
		appendf(out, cap, ". Its extendedKeyUsage must allow %s",
		    server ? "clientAuth" : "serverAuth");
		break;
	}
}

/* Names the host or address tls_client_ssl_new() asked to check. */
static void
describe_expected_host(SSL *ssl, char *out, size_t cap)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	unsigned char addr[sizeof(struct in6_addr)];
	char text[INET6_ADDRSTRLEN];
	const char *host;
	char *ip;

	if ((host = X509_VERIFY_PARAM_get0_host(param, 0)) != NULL) {
		appendf(out, cap, "expected \"%s\"", host);
		return;
	}
	if ((ip = X509_VERIFY_PARAM_get1_ip_asc(param)) == NULL)
		return;
	/* OpenSSL writes IPv6 uncompressed ("0:0:0:0:0:0:0:1"). */
	if (inet_pton(AF_INET6, ip, addr) == 1 &&
	    inet_ntop(AF_INET6, addr, text, sizeof(text)) != NULL)
		appendf(out, cap, "expected %s", text);
	else
		appendf(out, cap, "expected %s", ip);
	OPENSSL_free(ip);
}

static void
describe_verify(SSL *ssl, const struct tls_failure *f, char *out, size_t cap)
{
	int server = SSL_is_server(ssl);

	appendf(out, cap, "%s certificate rejected: %s (",
	    server ? "client" : "server",
	    X509_verify_cert_error_string(f->verify_error));

	switch (f->verify_error) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		appendf(out, cap, "subject \"%s\", notAfter %s", f->subject,
		    f->not_after);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		appendf(out, cap, "subject \"%s\", notBefore %s", f->subject,
		    f->not_before);
		break;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		appendf(out, cap, "subject \"%s\", ", f->subject);
		describe_expected_host(ssl, out, cap);
		break;
	default:
		appendf(out, cap, "subject \"%s\", issuer \"%s\", depth %d",
		    f->subject, f->issuer, f->depth);
		break;
	}
	appendf(out, cap, ")");
	describe_verify_hint(server, f, out, cap);
}

static int
is_version_error(const struct errlist *l)
{
	return errlist_has(l, ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL) ||
	    errlist_has(l, ERR_LIB_SSL, SSL_R_VERSION_TOO_LOW) ||
	    errlist_has(l, ERR_LIB_SSL, SSL_R_NO_PROTOCOLS_AVAILABLE) ||
	    errlist_has(l, ERR_LIB_SSL, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION);
}

static void
describe_version(SSL *ssl, char *out, size_t cap)
{
	char b1[32], b2[32];
	int offered = SSL_client_version(ssl);
	int min = SSL_get_min_proto_version(ssl);

	appendf(out, cap, "no shared protocol version");
	if (!SSL_is_server(ssl))
		appendf(out, cap, " (the backend rejected %s and newer)",
		    version_name(min, b1, sizeof(b1)));
	else if (offered > 0)
		appendf(out, cap, " (client offered only %s or older, the "
		    "minimum is %s)", version_name(offered, b1, sizeof(b1)),
		    version_name(min, b2, sizeof(b2)));
}

/* True for a TLS alert the peer sent: OpenSSL reports those as reason
 * SSL_AD_REASON_OFFSET plus the alert number. */
static int
find_peer_alert(const struct errlist *l, unsigned long *code)
{
	int i, reason;

	for (i = 0; i < l->n; i++) {
		if (ERR_SYSTEM_ERROR(l->code[i]) ||
		    ERR_GET_LIB(l->code[i]) != ERR_LIB_SSL)
			continue;
		reason = ERR_GET_REASON(l->code[i]);
		if (reason > SSL_AD_REASON_OFFSET &&
		    reason <= SSL_AD_REASON_OFFSET + 255) {
			*code = l->code[i];
			return 1;
		}
	}
	return 0;
}

void
tls_describe_failure(SSL *ssl, const unsigned long *errs, int nerrs,
    char *out, size_t cap)
{
	const struct tls_failure *f = ssl != NULL ? failure_find(ssl) : NULL;
	struct errlist l;
	unsigned long alert;
	const char *reason;
	long verify;

	errlist_collect(&l, errs, nerrs);
	ERR_clear_error();
	if (cap == 0)
		return;
	out[0] = '\0';

	if (f != NULL && f->verify_error != X509_V_OK) {
		describe_verify(ssl, f, out, cap);
	} else if ((f != NULL && f->plaintext) ||
	    errlist_has(&l, ERR_LIB_SSL, SSL_R_HTTP_REQUEST) ||
	    errlist_has(&l, ERR_LIB_SSL, SSL_R_HTTPS_PROXY_REQUEST)) {
		appendf(out, cap, "plaintext sent to the TLS port");
		if (f != NULL && f->plaintext)
			appendf(out, cap, " (first bytes \"%s\")",
			    f->first_bytes);
	} else if (errlist_has(&l, ERR_LIB_SSL,
	    SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)) {
		appendf(out, cap, "no client certificate sent");
	} else if (is_version_error(&l) && ssl != NULL) {
		describe_version(ssl, out, cap);
	} else if (errlist_has(&l, ERR_LIB_SSL, SSL_R_NO_SHARED_CIPHER)) {
		appendf(out, cap, "no shared cipher (TLS 1.2 requires ECDHE "
		    "with AES-GCM or ChaCha20-Poly1305)");
	} else if (ssl != NULL && !SSL_is_server(ssl) &&
	    errlist_has(&l, ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER)) {
		appendf(out, cap, "wrong version number (the backend may not "
		    "speak TLS on this port)");
	} else if (find_peer_alert(&l, &alert)) {
		reason = ERR_reason_error_string(alert);
		appendf(out, cap, "%s sent TLS alert \"%s\"",
		    ssl != NULL && !SSL_is_server(ssl) ? "backend" : "client",
		    reason != NULL ? reason : "unknown");
	} else if (ssl != NULL &&
	    (verify = SSL_get_verify_result(ssl)) != X509_V_OK) {
		/* Reached only without a failure record: tls_global_init()
		 * was not called, or calloc() failed. */
		appendf(out, cap, "certificate rejected: %s",
		    X509_verify_cert_error_string(verify));
	} else if (l.n > 0) {
		errlist_join(&l, out, cap);
	} else {
		appendf(out, cap, "no OpenSSL error recorded");
	}
}

void
tls_describe_session(SSL *ssl, char *out, size_t cap)
{
	char subject[NAME_MAX_TEXT];
	X509 *peer;

	if (cap == 0)
		return;
	snprintf(out, cap, "%s %s", SSL_get_version(ssl),
	    SSL_get_cipher_name(ssl));
	if ((peer = SSL_get0_peer_certificate(ssl)) != NULL) {
		name_print(X509_get_subject_name(peer), subject,
		    sizeof(subject));
		appendf(out, cap, " subject=\"%s\"", subject);
	} else {
		appendf(out, cap, " no %s certificate",
		    SSL_is_server(ssl) ? "client" : "server");
	}
	if (SSL_session_reused(ssl))
		appendf(out, cap, " resumed");
}
