/* Handshake diagnostics: the verification record, the plain-words
 * description of a failed handshake, the info line of a completed one,
 * and the debug lines for each handshake step. */

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

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"
#include "tls_int.h"

#define ERRLIST_MAX		16

/* The ex_data slot for struct tls_diag, set by tls_diag_init(). */
static int diag_index = -1;

/* OpenSSL error codes in the order they were collected, without repeats. */
struct errlist {
	unsigned long	code[ERRLIST_MAX];
	int		n;
};

/* Appends to the NUL-terminated string in out, truncating at cap. */
void
tls_appendf(char *out, size_t cap, const char *fmt, ...)
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
diag_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	free(ptr);
}

int
tls_diag_init(void)
{
	if (diag_index >= 0)
		return 0;
	diag_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, diag_free);
	return diag_index < 0 ? -1 : 0;
}

struct tls_diag *
tls_diag_find(const SSL *ssl)
{
	if (diag_index < 0 || ssl == NULL)
		return NULL;
	return SSL_get_ex_data(ssl, diag_index);
}

/* Returns the record of ssl, allocating it on first use, or NULL when
 * there is no memory (the diagnostics are then simply less precise). */
struct tls_diag *
tls_diag_get(SSL *ssl)
{
	struct tls_diag *d;

	if ((d = tls_diag_find(ssl)) != NULL || diag_index < 0)
		return d;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (!SSL_set_ex_data(ssl, diag_index, d)) {
		free(d);
		return NULL;
	}
	return d;
}

static unsigned long long
diag_serial(const SSL *ssl)
{
	const struct tls_diag *d = tls_diag_find(ssl);

	return d != NULL ? (unsigned long long)d->serial : 0;
}

/*
 * Prints name as RFC 2253 text ("CN=alice,O=Example"). The flags escape
 * control characters and non-ASCII bytes, so a name taken from a peer's
 * certificate is safe to put between quotes in a log line.
 */
void
tls_name_print(const X509_NAME *name, char *out, size_t cap)
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

void
tls_time_print(const ASN1_TIME *t, char *out, size_t cap)
{
	struct tm tm;

	out[0] = '\0';
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return;
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
serial_print(X509 *cert, char *out, size_t cap)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(out, cap, "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

const char *
tls_version_name(int version, char *buf, size_t cap)
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

const char *
tls_key_type_name(int type)
{
	switch (type) {
	case EVP_PKEY_RSA:	return "RSA";
	case EVP_PKEY_RSA_PSS:	return "RSA-PSS";
	case EVP_PKEY_EC:	return "EC";
	case EVP_PKEY_ED25519:	return "Ed25519";
	case EVP_PKEY_ED448:	return "Ed448";
	}
	return OBJ_nid2sn(type);
}

/* ---- verification ---- */

static int
name_is_known(const STACK_OF(X509_NAME) *names, const X509_NAME *name)
{
	int i;

	for (i = 0; names != NULL && i < sk_X509_NAME_num(names); i++)
		if (X509_NAME_cmp(sk_X509_NAME_value(names, i), name) == 0)
			return 1;
	return 0;
}

/*
 * Records the first certificate problem of a verification. When the
 * issuer of the failing certificate cannot be found, it guesses why:
 * a failing CA certificate means its own issuer is not trusted, so the
 * CA is unknown. A failing leaf whose issuer name appears in this
 * server's own chains or as the issuer of a CRL in crl_file means the
 * phone left out that intermediate. Any other issuer is an unknown CA.
 */
void
tls_diag_record(struct tls_diag *d, X509_STORE_CTX *store,
    const struct tls_shared *shared)
{
	X509 *cert;

	d->verify_error = X509_STORE_CTX_get_error(store);
	d->depth = X509_STORE_CTX_get_error_depth(store);
	d->issuer_guess = ISSUER_UNKNOWN_CA;
	if ((cert = X509_STORE_CTX_get_current_cert(store)) == NULL)
		return;
	tls_name_print(X509_get_subject_name(cert), d->subject,
	    sizeof(d->subject));
	tls_name_print(X509_get_issuer_name(cert), d->issuer,
	    sizeof(d->issuer));
	serial_print(cert, d->serial_hex, sizeof(d->serial_hex));
	tls_time_print(X509_get0_notBefore(cert), d->not_before,
	    sizeof(d->not_before));
	tls_time_print(X509_get0_notAfter(cert), d->not_after,
	    sizeof(d->not_after));
	if (X509_check_ca(cert) == 0 && shared != NULL &&
	    name_is_known(shared->intermediates, X509_get_issuer_name(cert)))
		d->issuer_guess = ISSUER_MISSING_INTERMEDIATE;
}

static void
log_chain_cert(const SSL *ssl, int ok, X509_STORE_CTX *store)
{
	X509 *cert = X509_STORE_CTX_get_current_cert(store);
	char subject[NAME_MAX_TEXT], issuer[NAME_MAX_TEXT], until[32];

	if (cert == NULL)
		return;
	tls_name_print(X509_get_subject_name(cert), subject, sizeof(subject));
	tls_name_print(X509_get_issuer_name(cert), issuer, sizeof(issuer));
	tls_time_print(X509_get0_notAfter(cert), until, sizeof(until));
	log_debug("conn %llu: TLS peer certificate depth %d: subject \"%s\", "
	    "issuer \"%s\", notAfter %s: %s", diag_serial(ssl),
	    X509_STORE_CTX_get_error_depth(store), subject, issuer, until,
	    ok ? "ok" : X509_verify_cert_error_string(
	    X509_STORE_CTX_get_error(store)));
}

/*
 * Records the first certificate problem of a handshake for
 * tls_describe_failure(), and logs each chain certificate at debug
 * level. It never overrides OpenSSL's verdict: a chain that failed still
 * fails.
 */
int
tls_verify_callback(int ok, X509_STORE_CTX *store)
{
	const struct tls_ctx_data *data;
	struct tls_diag *d;
	SSL *ssl;

	ssl = X509_STORE_CTX_get_ex_data(store,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	if (ssl == NULL)
		return ok;
	data = tls_ctx_data(SSL_get_SSL_CTX(ssl));
	if (data != NULL && data->shared->debug)
		log_chain_cert(ssl, ok, store);
	if (ok)
		return 1;
	if ((d = tls_diag_get(ssl)) == NULL || d->verify_error != X509_V_OK)
		return 0;
	tls_diag_record(d, store, data != NULL ? data->shared : NULL);
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
void
tls_first_record_callback(int write_p, int version, int content_type,
    const void *buf, size_t len, SSL *ssl, void *arg)
{
	struct tls_diag *d;

	SSL_set_msg_callback(ssl, NULL);
	if (write_p || content_type != SSL3_RT_HEADER || len < 5)
		return;
	if (!is_text(buf, 5) || (d = tls_diag_get(ssl)) == NULL)
		return;
	d->plaintext = 1;
	memcpy(d->first_bytes, buf, 5);
	d->first_bytes[5] = '\0';
}

/* ---- debug lines for handshake steps ---- */

/* GREASE values (RFC 8701) are 0x?A?A and mean nothing. */
static int
is_grease(unsigned v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* Writes the versions of the supported_versions extension, or the
 * legacy ClientHello version when the client sent none. */
static void
hello_versions(SSL *ssl, char *out, size_t cap)
{
	const unsigned char *p;
	char buf[32];
	size_t len, i;

	out[0] = '\0';
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions,
	    &p, &len) || len < 1 || p[0] + 1u > len) {
		snprintf(out, cap, "%s (no supported_versions)",
		    tls_version_name((int)SSL_client_hello_get0_legacy_version(
		    ssl), buf, sizeof(buf)));
		return;
	}
	for (i = 1; i + 1 < (size_t)p[0] + 1; i += 2) {
		unsigned v = (unsigned)p[i] << 8 | p[i + 1];

		if (is_grease(v))
			continue;
		tls_appendf(out, cap, "%s%s", out[0] ? ", " : "",
		    tls_version_name((int)v, buf, sizeof(buf)));
	}
}

/* Copies the host_name from the server_name extension (RFC 6066 section
 * 3): list length (2), name type (1), name length (2), name. */
static void
hello_server_name(SSL *ssl, char *out, size_t cap)
{
	const unsigned char *p;
	size_t len, n;

	snprintf(out, cap, "(none)");
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p,
	    &len) || len < 5 || p[2] != TLSEXT_NAMETYPE_host_name)
		return;
	n = (size_t)p[3] << 8 | p[4];
	if (n > len - 5)
		return;
	log_sanitize(out, (const char *)p + 5, n, cap - 1);
}

int
tls_client_hello_callback(SSL *ssl, int *alert, void *arg)
{
	const unsigned char *ciphers;
	char versions[128], name[128];
	size_t n;

	if (log_threshold < LOGL_DEBUG)
		return SSL_CLIENT_HELLO_SUCCESS;
	hello_versions(ssl, versions, sizeof(versions));
	hello_server_name(ssl, name, sizeof(name));
	n = SSL_client_hello_get0_ciphers(ssl, &ciphers);
	log_debug("conn %llu: TLS ClientHello: versions %s, %zu cipher "
	    "suites, server name %s", diag_serial(ssl), versions, n / 2, name);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* Logs the chosen version, cipher and server certificate as the
 * ServerHello goes out, and the end of the handshake. */
void
tls_info_callback(const SSL *ssl, int where, int ret)
{
	char subject[NAME_MAX_TEXT];
	const SSL_CIPHER *cipher;
	X509 *cert;
	long verify;

	if (log_threshold < LOGL_DEBUG)
		return;
	if (where & SSL_CB_ALERT) {
		log_debug("conn %llu: TLS alert %s: %s", diag_serial(ssl),
		    (where & SSL_CB_READ) ? "received" : "sent",
		    SSL_alert_desc_string_long(ret));
		return;
	}
	if ((where & SSL_CB_LOOP) &&
	    SSL_get_state(ssl) == TLS_ST_SW_SRVR_HELLO) {
		cipher = SSL_get_pending_cipher(ssl);
		cert = SSL_get_certificate(ssl);
		if (SSL_session_reused(ssl) || cert == NULL) {
			log_debug("conn %llu: TLS ServerHello: %s %s, session "
			    "resumed, no certificate sent", diag_serial(ssl),
			    SSL_get_version(ssl), cipher != NULL ?
			    SSL_CIPHER_get_name(cipher) : "?");
			return;
		}
		tls_name_print(X509_get_subject_name(cert), subject,
		    sizeof(subject));
		log_debug("conn %llu: TLS ServerHello: %s %s, server "
		    "certificate \"%s\" (%s key)", diag_serial(ssl),
		    SSL_get_version(ssl),
		    cipher != NULL ? SSL_CIPHER_get_name(cipher) : "?",
		    subject, tls_key_type_name(EVP_PKEY_get_base_id(
		    X509_get0_pubkey(cert))));
		return;
	}
	if (where & SSL_CB_HANDSHAKE_DONE) {
		verify = SSL_get_verify_result(ssl);
		log_debug("conn %llu: TLS handshake finished: session %s, "
		    "client certificate %s", diag_serial(ssl),
		    SSL_session_reused(ssl) ? "resumed" : "new",
		    SSL_get0_peer_certificate(ssl) == NULL ? "none" :
		    verify == X509_V_OK ? "verified" :
		    X509_verify_cert_error_string(verify));
	}
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
		tls_appendf(out, cap, "%s%s", strlen(out) > start ? "; " : "",
		    reason);
	}
}

/* Writes the formatted message to err, then ": " and the reasons drained
 * from the OpenSSL error queue, if there are any. */
void
tls_set_error(char *err, size_t errlen, const char *fmt, ...)
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
		tls_appendf(err, errlen, ": ");
		errlist_join(&l, err, errlen);
	}
}

/* ---- describing failures ---- */

/* Adds what the operator can change for the common verification errors. */
static void
describe_verify_hint(int server, const struct tls_diag *d, char *out,
    size_t cap)
{
	const char *peer = server ? "the phone" : "the backend";
	const char *ca_file = server ? "ca_file" : "[backend] ca_file";

	switch (d->verify_error) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		if (d->issuer_guess == ISSUER_MISSING_INTERMEDIATE)
			tls_appendf(out, cap, ". Missing intermediate: %s "
			    "must send its intermediate certificate \"%s\", "
			    "or %s must contain it", peer, d->issuer, ca_file);
		else
			tls_appendf(out, cap, ". Unknown CA: %s has no "
			    "certificate \"%s\" (if that is an intermediate of "
			    "a trusted CA, %s must send it)", ca_file,
			    d->issuer, peer);
		break;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		tls_appendf(out, cap, ". Unknown CA: %s does not contain this "
		    "root", ca_file);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		tls_appendf(out, cap, ". Check the clocks of both hosts");
		break;
	case X509_V_ERR_CERT_REVOKED:
		tls_appendf(out, cap, ". crl_file lists its serial number as "
		    "revoked");
		break;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		tls_appendf(out, cap, ". crl_file has no CRL from \"%s\" "
		    "(with crl_check = chain, every CA in the chain needs "
		    "one)", d->issuer);
		break;
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
		tls_appendf(out, cap, ". The CRL from \"%s\" in crl_file is "
		    "out of date: install a current one and send SIGHUP",
		    d->issuer);
		break;
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
		if (server)
			tls_appendf(out, cap, ". Raise verify_depth");
		break;
	case X509_V_ERR_INVALID_PURPOSE:
		tls_appendf(out, cap, ". Its extendedKeyUsage must allow %s",
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
		tls_appendf(out, cap, "expected \"%s\"", host);
		return;
	}
	if ((ip = X509_VERIFY_PARAM_get1_ip_asc(param)) == NULL)
		return;
	/* OpenSSL writes IPv6 uncompressed ("0:0:0:0:0:0:0:1"). */
	if (inet_pton(AF_INET6, ip, addr) == 1 &&
	    inet_ntop(AF_INET6, addr, text, sizeof(text)) != NULL)
		tls_appendf(out, cap, "expected %s", text);
	else
		tls_appendf(out, cap, "expected %s", ip);
	OPENSSL_free(ip);
}

/* ssl may be NULL (sipsgate --check-cert). */
void
tls_diag_describe_verify(const struct tls_diag *d, int server, SSL *ssl,
    char *out, size_t cap)
{
	tls_appendf(out, cap, "%s certificate rejected: %s (",
	    server ? "client" : "server",
	    X509_verify_cert_error_string(d->verify_error));

	switch (d->verify_error) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		tls_appendf(out, cap, "subject \"%s\", notAfter %s", d->subject,
		    d->not_after);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		tls_appendf(out, cap, "subject \"%s\", notBefore %s",
		    d->subject, d->not_before);
		break;
	case X509_V_ERR_CERT_REVOKED:
		tls_appendf(out, cap, "subject \"%s\", serial %s, issuer "
		    "\"%s\"", d->subject, d->serial_hex, d->issuer);
		break;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		tls_appendf(out, cap, "subject \"%s\"", d->subject);
		if (ssl != NULL) {
			tls_appendf(out, cap, ", ");
			describe_expected_host(ssl, out, cap);
		}
		break;
	default:
		tls_appendf(out, cap, "subject \"%s\", issuer \"%s\", depth %d",
		    d->subject, d->issuer, d->depth);
		break;
	}
	tls_appendf(out, cap, ")");
	describe_verify_hint(server, d, out, cap);
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
	char b1[32], b2[32], b3[32];
	int offered = SSL_client_version(ssl);
	int min = SSL_get_min_proto_version(ssl);
	int max = SSL_get_max_proto_version(ssl);

	tls_appendf(out, cap, "no shared protocol version");
	if (!SSL_is_server(ssl))
		tls_appendf(out, cap, " (the backend rejected %s and newer)",
		    tls_version_name(min, b1, sizeof(b1)));
	else if (offered > 0 && offered < min)
		tls_appendf(out, cap, " (client offered only %s or older, the "
		    "minimum is %s)", tls_version_name(offered, b1, sizeof(b1)),
		    tls_version_name(min, b2, sizeof(b2)));
	else
		tls_appendf(out, cap, " (the client offered none of the "
		    "versions this server accepts: %s to %s)",
		    tls_version_name(min, b2, sizeof(b2)),
		    tls_version_name(max ? max : TLS1_3_VERSION, b3,
		    sizeof(b3)));
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

static int
is_group_error(const struct errlist *l)
{
	return errlist_has(l, ERR_LIB_SSL, SSL_R_NO_SUITABLE_KEY_SHARE) ||
	    errlist_has(l, ERR_LIB_SSL, SSL_R_NO_SHARED_GROUPS);
}

void
tls_describe_failure(SSL *ssl, const unsigned long *errs, int nerrs,
    char *out, size_t cap)
{
	const struct tls_diag *d = ssl != NULL ? tls_diag_find(ssl) : NULL;
	int server = ssl == NULL || SSL_is_server(ssl);
	struct errlist l;
	unsigned long alert;
	const char *reason;
	long verify;

	errlist_collect(&l, errs, nerrs);
	ERR_clear_error();
	if (cap == 0)
		return;
	out[0] = '\0';

	if (d != NULL && d->verify_error != X509_V_OK) {
		tls_diag_describe_verify(d, server, ssl, out, cap);
	} else if ((d != NULL && d->plaintext) ||
	    errlist_has(&l, ERR_LIB_SSL, SSL_R_HTTP_REQUEST) ||
	    errlist_has(&l, ERR_LIB_SSL, SSL_R_HTTPS_PROXY_REQUEST)) {
		tls_appendf(out, cap, "plaintext sent to the TLS port");
		if (d != NULL && d->plaintext)
			tls_appendf(out, cap, " (first bytes \"%s\")",
			    d->first_bytes);
	} else if (errlist_has(&l, ERR_LIB_SSL,
	    SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)) {
		tls_appendf(out, cap, "no client certificate sent");
	} else if (is_version_error(&l) && ssl != NULL) {
		describe_version(ssl, out, cap);
	} else if (errlist_has(&l, ERR_LIB_SSL, SSL_R_NO_SHARED_CIPHER)) {
		tls_appendf(out, cap, "no shared cipher (%s)", server ?
		    "the client offered none of [tls] ciphers and "
		    "ciphersuites" : "the backend accepted none of ours");
	} else if (is_group_error(&l)) {
		tls_appendf(out, cap, "no shared key exchange group (%s)",
		    server ? "the client offered none of [tls] groups" :
		    "the backend accepted none of ours");
	} else if (!server &&
	    errlist_has(&l, ERR_LIB_SSL, SSL_R_WRONG_VERSION_NUMBER)) {
		tls_appendf(out, cap, "wrong version number (the backend may "
		    "not speak TLS on this port)");
	} else if (find_peer_alert(&l, &alert)) {
		reason = ERR_reason_error_string(alert);
		tls_appendf(out, cap, "%s sent TLS alert \"%s\"",
		    server ? "client" : "backend",
		    reason != NULL ? reason : "unknown");
	} else if (ssl != NULL &&
	    (verify = SSL_get_verify_result(ssl)) != X509_V_OK) {
		/* Reached only without a diagnostics record: tls_global_init()
		 * was not called, or calloc() failed. */
		tls_appendf(out, cap, "certificate rejected: %s",
		    X509_verify_cert_error_string(verify));
	} else if (l.n > 0) {
		errlist_join(&l, out, cap);
	} else {
		/* Nothing went wrong inside TLS: the peer connected and
		 * closed, or sent part of a ClientHello and closed. */
		tls_appendf(out, cap, "connection closed by the peer during "
		    "the handshake");
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
		tls_name_print(X509_get_subject_name(peer), subject,
		    sizeof(subject));
		tls_appendf(out, cap, " subject=\"%s\"", subject);
	} else {
		tls_appendf(out, cap, " no %s certificate",
		    SSL_is_server(ssl) ? "client" : "server");
	}
	tls_appendf(out, cap, " session=%s",
	    SSL_session_reused(ssl) ? "resumed" : "new");
}
