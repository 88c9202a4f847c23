/* OpenSSL contexts for phones (server side) and for a TLS backend (client
 * side): protocol policy, certificate sets, SNI and client verification.
 * Diagnostics are in tls_diag.c, session tickets in tls_tickets.c, and
 * certificate files, identities and expiry in tls_cert.c. */

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "log.h"
#include "tls.h"
#include "tls_int.h"

/* Any constant works. OpenSSL only requires some context to be set before
 * it resumes a session whose client certificate was verified. */
#define SESSION_ID_CONTEXT	"sipsgate"

/* The ex_data slot for struct tls_ctx_data, set by tls_global_init(). */
static int ctx_data_index = -1;

/* The versions, ciphers and groups a context allows. */
struct tls_policy {
	int		min_version;
	int		max_version;
	const char	*ciphers;
	const char	*ciphersuites;
	const char	*groups;
};

/* ---- context data ---- */

struct tls_shared *
tls_shared_new(void)
{
	struct tls_shared *shared = calloc(1, sizeof(*shared));

	if (shared == NULL)
		return NULL;
	shared->refs = 1;
	shared->debug = log_threshold >= LOGL_DEBUG;
	return shared;
}

void
tls_shared_unref(struct tls_shared *shared)
{
	int i;

	if (shared == NULL || --shared->refs > 0)
		return;
	OPENSSL_cleanse(&shared->current, sizeof(shared->current));
	OPENSSL_cleanse(&shared->previous, sizeof(shared->previous));
	sk_X509_NAME_pop_free(shared->intermediates, X509_NAME_free);
	for (i = 0; i < shared->nexpiry; i++)
		free(shared->expiry[i].file);
	free(shared->expiry);
	free(shared);
}

static void
ctx_data_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct tls_ctx_data *data = ptr;
	int i;

	if (data == NULL)
		return;
	for (i = 0; i < data->nsni; i++) {
		free(data->sni[i].name);
		SSL_CTX_free(data->sni[i].ctx);
	}
	free(data->sni);
	tls_shared_unref(data->shared);
	free(data);
}

int
tls_ctx_data_init(void)
{
	if (ctx_data_index >= 0)
		return 0;
	ctx_data_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    ctx_data_free);
	return ctx_data_index < 0 ? -1 : 0;
}

struct tls_ctx_data *
tls_ctx_data(const SSL_CTX *ctx)
{
	if (ctx == NULL || ctx_data_index < 0)
		return NULL;
	return SSL_CTX_get_ex_data(ctx, ctx_data_index);
}

/* Attaches a new data record holding one reference to shared. */
static int
ctx_data_attach(SSL_CTX *ctx, struct tls_shared *shared)
{
	struct tls_ctx_data *data;

	if (ctx_data_index < 0 || (data = calloc(1, sizeof(*data))) == NULL)
		return -1;
	if (!SSL_CTX_set_ex_data(ctx, ctx_data_index, data)) {
		free(data);
		return -1;
	}
	data->shared = shared;
	shared->refs++;
	return 0;
}

int
tls_global_init(void)
{
	if (tls_diag_init() == -1 || tls_ctx_data_init() == -1)
		return -1;
	return 0;
}

/* ---- errors naming the config line ---- */

/* Writes "file:line: key: message", or "file: [section] key: message"
 * for a default, then the OpenSSL error queue. */
void
tls_key_error(char *err, size_t errlen, const struct key_ref *ref,
    const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ref->line > 0)
		tls_set_error(err, errlen, "%s:%d: %s: %s", ref->cfg->path,
		    ref->line, ref->key, msg);
	else
		tls_set_error(err, errlen, "%s: [%s] %s: %s", ref->cfg->path,
		    ref->section, ref->key, msg);
}

struct key_ref
tls_key(const struct config *cfg, const char *key)
{
	struct key_ref ref = { cfg, "tls", key, config_line(cfg, "tls", key) };

	return ref;
}

/* ---- protocol policy ---- */

/*
 * Returns why a TLS 1.2 suite is rejected, or NULL when it has ephemeral
 * (EC)DH key exchange, RSA or ECDSA authentication and a cipher of at
 * least 128 bits other than RC4. CBC suites with these properties pass:
 * some phones offer nothing else, and an operator must list them.
 */
static const char *
cipher_weakness(const SSL_CIPHER *c, char *buf, size_t cap)
{
	int kx = SSL_CIPHER_get_kx_nid(c);
	int auth = SSL_CIPHER_get_auth_nid(c);
	int cipher = SSL_CIPHER_get_cipher_nid(c);
	int bits = SSL_CIPHER_get_bits(c, NULL);

	if (cipher == NID_undef)
		return "no encryption (NULL cipher)";
	if (cipher == NID_rc4)
		return "RC4";
	if (cipher == NID_des_ede3_cbc)
		return "3DES";
	if (cipher == NID_des_cbc)
		return "DES";
	if (bits < 128) {
		snprintf(buf, cap, "a %d-bit cipher", bits);
		return buf;
	}
	if (kx == NID_kx_rsa)
		return "static RSA key exchange (no forward secrecy)";
	if (kx != NID_kx_ecdhe && kx != NID_kx_dhe) {
		snprintf(buf, cap, "%s key exchange (expected ECDHE or DHE)",
		    OBJ_nid2sn(kx));
		return buf;
	}
	if (auth == NID_auth_null)
		return "no server authentication (anonymous)";
	if (auth != NID_auth_rsa && auth != NID_auth_ecdsa) {
		snprintf(buf, cap, "%s authentication (expected RSA or ECDSA)",
		    OBJ_nid2sn(auth));
		return buf;
	}
	return NULL;
}

/* Checks every suite the context ended up with and counts those of each
 * protocol generation. */
static int
check_cipher_list(SSL_CTX *ctx, const struct tls_policy *p,
    const struct key_ref *ciphers, const struct key_ref *suites, char *err,
    size_t errlen)
{
	STACK_OF(SSL_CIPHER) *list = SSL_CTX_get_ciphers(ctx);
	const char *weak;
	char buf[128];
	int i, n12 = 0, n13 = 0;

	for (i = 0; i < sk_SSL_CIPHER_num(list); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(list, i);

		/* TLS 1.3 suites leave the key exchange open. */
		if (SSL_CIPHER_get_kx_nid(c) == NID_kx_any) {
			n13++;
			continue;
		}
		n12++;
		if ((weak = cipher_weakness(c, buf, sizeof(buf))) != NULL) {
			tls_key_error(err, errlen, ciphers, "\"%s\" enables %s, "
			    "which has %s", p->ciphers, SSL_CIPHER_get_name(c),
			    weak);
			return -1;
		}
	}
	if (n12 == 0 && p->min_version <= TLS1_2_VERSION) {
		tls_key_error(err, errlen, ciphers, "\"%s\" selects no TLS 1.2 "
		    "cipher, but min_version allows TLS 1.2", p->ciphers);
		return -1;
	}
	if (n13 == 0 && p->max_version >= TLS1_3_VERSION) {
		tls_key_error(err, errlen, suites, "\"%s\" selects no TLS 1.3 "
		    "suite, but max_version allows TLS 1.3", p->ciphersuites);
		return -1;
	}
	return 0;
}

static int
ctx_set_ciphers(SSL_CTX *ctx, const struct tls_policy *p,
    const struct key_ref *ciphers, const struct key_ref *suites, char *err,
    size_t errlen)
{
	int level = SSL_CTX_get_security_level(ctx);

	/* Returns 0 when the list selects no cipher at all. */
	if (!SSL_CTX_set_cipher_list(ctx, p->ciphers)) {
		tls_key_error(err, errlen, ciphers, "\"%s\" selects no cipher",
		    p->ciphers);
		return -1;
	}
	if (SSL_CTX_get_security_level(ctx) < level) {
		tls_key_error(err, errlen, ciphers, "\"%s\" lowers the OpenSSL "
		    "security level from %d to %d", p->ciphers, level,
		    SSL_CTX_get_security_level(ctx));
		return -1;
	}
	if (!SSL_CTX_set_ciphersuites(ctx, p->ciphersuites)) {
		tls_key_error(err, errlen, suites, "\"%s\" is not a list of TLS "
		    "1.3 suites (such as TLS_AES_256_GCM_SHA384)",
		    p->ciphersuites);
		return -1;
	}
	return check_cipher_list(ctx, p, ciphers, suites, err, errlen);
}

/* The protocol, cipher and option policy; refs name the keys in errors. */
static int
ctx_set_policy(SSL_CTX *ctx, const struct tls_policy *p,
    const struct key_ref refs[5], char *err, size_t errlen)
{
	if (!SSL_CTX_set_min_proto_version(ctx, p->min_version)) {
		tls_key_error(err, errlen, &refs[0], "cannot set TLS version "
		    "0x%04x", (unsigned)p->min_version);
		return -1;
	}
	if (!SSL_CTX_set_max_proto_version(ctx, p->max_version)) {
		tls_key_error(err, errlen, &refs[1], "cannot set TLS version "
		    "0x%04x", (unsigned)p->max_version);
		return -1;
	}
	if (ctx_set_ciphers(ctx, p, &refs[2], &refs[3], err, errlen) == -1)
		return -1;
	if (!SSL_CTX_set1_groups_list(ctx, p->groups)) {
		tls_key_error(err, errlen, &refs[4], "\"%s\" names an unknown or "
		    "unsupported group (expected names such as X25519, P-256, "
		    "P-384, separated by ':')", p->groups);
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
server_set_policy(SSL_CTX *ctx, const struct config *cfg, char *err,
    size_t errlen)
{
	const struct tls_policy p = {
		cfg->tls.min_version, cfg->tls.max_version, cfg->tls.ciphers,
		cfg->tls.ciphersuites, cfg->tls.groups,
	};
	const struct key_ref refs[5] = {
		tls_key(cfg, "min_version"), tls_key(cfg, "max_version"),
		tls_key(cfg, "ciphers"), tls_key(cfg, "ciphersuites"),
		tls_key(cfg, "groups"),
	};

	if (ctx_set_policy(ctx, &p, refs, err, errlen) == -1)
		return -1;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	return 0;
}

/* ---- certificates and keys ---- */

static int
is_key_mismatch(unsigned long code)
{
	if (ERR_SYSTEM_ERROR(code) || ERR_GET_LIB(code) != ERR_LIB_X509)
		return 0;
	return ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH ||
	    ERR_GET_REASON(code) == X509_R_KEY_TYPE_MISMATCH;
}

/* Loads one certificate chain (leaf first) and its private key. */
static int
ctx_load_pair(SSL_CTX *ctx, const char *cert, const char *key,
    const struct key_ref *cref, const struct key_ref *kref, char *err,
    size_t errlen)
{
	if (!SSL_CTX_use_certificate_chain_file(ctx, cert)) {
		tls_key_error(err, errlen, cref, "%s: cannot load", cert);
		return -1;
	}
	/* OpenSSL compares the key with the certificate while loading it,
	 * so a mismatch usually shows up here and not in the check after. */
	if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM)) {
		if (is_key_mismatch(ERR_peek_last_error()))
			goto mismatch;
		tls_key_error(err, errlen, kref, "%s: cannot load", key);
		return -1;
	}
	if (!SSL_CTX_check_private_key(ctx))
		goto mismatch;
	return 0;

mismatch:
	ERR_clear_error();
	tls_key_error(err, errlen, kref, "%s does not match certificate %s", key,
	    cert);
	return -1;
}

/* The key type of the certificate loaded last, as an EVP_PKEY_* id. */
static int
current_key_type(SSL_CTX *ctx)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	EVP_PKEY *pkey = x != NULL ? X509_get0_pubkey(x) : NULL;

	return pkey != NULL ? EVP_PKEY_get_base_id(pkey) : NID_undef;
}

/*
 * Loads every pair of a set. OpenSSL keeps one certificate per key type
 * and picks among them per client (by the client's signature algorithms
 * and, for TLS 1.2, its cipher suites), so two of one type are refused:
 * the second would silently replace the first.
 */
static int
ctx_load_set(SSL_CTX *ctx, const struct config *cfg,
    const struct cert_set *set, const char *section, char *err,
    size_t errlen)
{
	struct key_ref cref = { cfg, section, "certificate",
	    set->certificate_line };
	struct key_ref kref = { cfg, section, "private_key",
	    set->private_key_line };
	int types[CONFIG_MAX_CERTS];
	int i, j;

	for (i = 0; i < set->ncertificate; i++) {
		if (ctx_load_pair(ctx, set->certificate[i],
		    set->private_key[i], &cref, &kref, err, errlen) == -1)
			return -1;
		types[i] = current_key_type(ctx);
		for (j = 0; j < i; j++) {
			if (types[j] != types[i])
				continue;
			tls_key_error(err, errlen, &cref, "%s and %s both have "
			    "an %s key (list one certificate per key type)",
			    set->certificate[j], set->certificate[i],
			    tls_key_type_name(types[i]));
			return -1;
		}
	}
	return 0;
}

/* ---- client verification ---- */

/* Shares the trust store (ca_file and crl_file, loaded once) and sends
 * the CA names in the CertificateRequest, so a phone with several
 * certificates can pick the one this server accepts. */
static int
server_set_verify(SSL_CTX *ctx, const struct config *cfg, X509_STORE *store,
    STACK_OF(X509_NAME) *ca_names, char *err, size_t errlen)
{
	STACK_OF(X509_NAME) *names;
	int mode;

	if (cfg->tls.verify_client == VERIFY_OFF) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_CTX_set1_cert_store(ctx, store);
	if ((names = SSL_dup_CA_list(ca_names)) == NULL) {
		tls_set_error(err, errlen, "out of memory");
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);

	mode = SSL_VERIFY_PEER;
	if (cfg->tls.verify_client == VERIFY_REQUIRE)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, tls_verify_callback);

	/* OpenSSL counts the depth in intermediate certificates, without the
	 * leaf and the trust anchor (test_tls_verify_depth checks this). */
	SSL_CTX_set_verify_depth(ctx, cfg->tls.verify_depth);
	return 0;
}

/* ---- server contexts ---- */

/* Session resumption with tickets only, for TLS 1.2 and 1.3 alike, so
 * the server keeps no per-session memory. */
static int
server_set_sessions(SSL_CTX *ctx, const struct config *cfg,
    struct tls_shared *shared, char *err, size_t errlen)
{
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (!SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)SESSION_ID_CONTEXT,
	    sizeof(SESSION_ID_CONTEXT) - 1)) {
		tls_set_error(err, errlen, "cannot set the session id context");
		return -1;
	}
	if (!cfg->tls.session_resumption) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		return 0;
	}
	if (tls_tickets_enable(ctx, shared, cfg->tls.ticket_key_rotation) ==
	    -1) {
		tls_set_error(err, errlen, "cannot set up session tickets");
		return -1;
	}
	return 0;
}

/* Builds one server context for a certificate set; all sets of a
 * configuration share store, CA names and shared. */
static SSL_CTX *
server_ctx_build(const struct config *cfg, const struct cert_set *set,
    const char *section, X509_STORE *store, STACK_OF(X509_NAME) *ca_names,
    struct tls_shared *shared, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_set_error(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	if (ctx_data_attach(ctx, shared) == -1) {
		tls_set_error(err, errlen, "out of memory");
		goto fail;
	}
	if (server_set_policy(ctx, cfg, err, errlen) == -1 ||
	    ctx_load_set(ctx, cfg, set, section, err, errlen) == -1 ||
	    server_set_verify(ctx, cfg, store, ca_names, err, errlen) == -1 ||
	    server_set_sessions(ctx, cfg, shared, err, errlen) == -1)
		goto fail;
	if (shared->debug) {
		SSL_CTX_set_client_hello_cb(ctx, tls_client_hello_callback,
		    NULL);
		SSL_CTX_set_info_callback(ctx, tls_info_callback);
	}
	return ctx;

fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* "*.example.org" matches "a.example.org" but neither "example.org" nor
 * "a.b.example.org"; other names match exactly. Both are lower case. */
static int
sni_name_matches(const char *pattern, const char *name)
{
	const char *dot;

	if (strncmp(pattern, "*.", 2) != 0)
		return strcmp(pattern, name) == 0;
	dot = strchr(name, '.');
	return dot != NULL && dot != name && strcmp(dot + 1, pattern + 2) == 0;
}

/* Moves a handshake to the context of the server name the client sent.
 * Unknown names and clients without SNI keep the default set. */
static int
servername_callback(SSL *ssl, int *alert, void *arg)
{
	const struct tls_ctx_data *data = arg;
	const char *sent = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	char name[256];
	size_t i, len;
	int j;

	if (sent == NULL || (len = strlen(sent)) >= sizeof(name))
		return SSL_TLSEXT_ERR_NOACK;
	for (i = 0; i <= len; i++)
		name[i] = (char)tolower((unsigned char)sent[i]);
	/* Exact names win over wildcards, whatever the file order. */
	for (j = 0; j < data->nsni; j++)
		if (strcmp(data->sni[j].name, name) == 0)
			goto found;
	for (j = 0; j < data->nsni; j++)
		if (sni_name_matches(data->sni[j].name, name))
			goto found;
	return SSL_TLSEXT_ERR_NOACK;

found:
	if (SSL_set_SSL_CTX(ssl, data->sni[j].ctx) == NULL) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

/* Builds a context per [sni:NAME] section and attaches them to the
 * default context. */
static int
server_add_sni(SSL_CTX *ctx, const struct config *cfg, X509_STORE *store,
    STACK_OF(X509_NAME) *ca_names, struct tls_shared *shared, char *err,
    size_t errlen)
{
	struct tls_ctx_data *data = tls_ctx_data(ctx);
	char section[300];
	SSL_CTX *sctx;
	int i;

	if (cfg->tls.nsni == 0)
		return 0;
	data->sni = calloc(cfg->tls.nsni, sizeof(*data->sni));
	if (data->sni == NULL) {
		tls_set_error(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < cfg->tls.nsni; i++) {
		const struct cert_set *set = &cfg->tls.sni[i];

		snprintf(section, sizeof(section), "sni:%s", set->server_name);
		sctx = server_ctx_build(cfg, set, section, store, ca_names,
		    shared, err, errlen);
		if (sctx == NULL)
			return -1;
		data->sni[i].ctx = sctx;
		data->nsni = i + 1;
		if ((data->sni[i].name = strdup(set->server_name)) == NULL) {
			tls_set_error(err, errlen, "out of memory");
			return -1;
		}
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, servername_callback);
	SSL_CTX_set_tlsext_servername_arg(ctx, data);
	return 0;
}

/* Records the files whose expiry tls_warn_expiry() reports and the CA
 * names that tell a missing intermediate from an unknown CA. */
static int
server_collect(struct tls_shared *shared, const struct config *cfg,
    char *err, size_t errlen)
{
	const struct cert_set *set;
	int i, j;

	for (i = -1; i < cfg->tls.nsni; i++) {
		set = i < 0 ? &cfg->tls.certs : &cfg->tls.sni[i];
		for (j = 0; j < set->ncertificate; j++) {
			if (tls_collect_expiry(shared, set->certificate[j], 0,
			    err, errlen) == -1 ||
			    tls_collect_intermediates(shared,
			    set->certificate[j]) == -1)
				return -1;
		}
	}
	if (cfg->tls.verify_client == VERIFY_OFF)
		return 0;
	if (tls_collect_expiry(shared, cfg->tls.ca_file, 0, err, errlen) == -1)
		return -1;
	if (cfg->tls.crl_file != NULL &&
	    (tls_collect_expiry(shared, cfg->tls.crl_file, 1, err, errlen) ==
	    -1 || tls_collect_intermediates(shared, cfg->tls.crl_file) == -1))
		return -1;
	return 0;
}

SSL_CTX *
tls_server_ctx_new(const struct config *cfg, char *err, size_t errlen)
{
	struct tls_shared *shared;
	X509_STORE *store = NULL;
	STACK_OF(X509_NAME) *ca_names = NULL;
	struct key_ref ca = tls_key(cfg, "ca_file");
	SSL_CTX *ctx = NULL;

	ERR_clear_error();
	if ((shared = tls_shared_new()) == NULL) {
		tls_set_error(err, errlen, "out of memory");
		return NULL;
	}
	if (cfg->tls.verify_client != VERIFY_OFF) {
		if ((store = tls_store_new(cfg, err, errlen)) == NULL)
			goto fail;
		ca_names = SSL_load_client_CA_file(cfg->tls.ca_file);
		if (ca_names == NULL) {
			tls_key_error(err, errlen, &ca, "%s: contains no "
			    "certificate", cfg->tls.ca_file);
			goto fail;
		}
	}
	ctx = server_ctx_build(cfg, &cfg->tls.certs, "tls", store, ca_names,
	    shared, err, errlen);
	if (ctx == NULL ||
	    server_add_sni(ctx, cfg, store, ca_names, shared, err, errlen) ==
	    -1 || server_collect(shared, cfg, err, errlen) == -1)
		goto fail;
	X509_STORE_free(store);
	sk_X509_NAME_pop_free(ca_names, X509_NAME_free);
	tls_shared_unref(shared);
	return ctx;

fail:
	SSL_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_NAME_pop_free(ca_names, X509_NAME_free);
	tls_shared_unref(shared);
	ERR_clear_error();
	return NULL;
}

/* ---- the backend context ---- */

SSL_CTX *
tls_backend_ctx_new(const struct config *cfg, char *err, size_t errlen)
{
	static const struct tls_policy policy = {
		TLS1_2_VERSION, TLS1_3_VERSION, CONFIG_DEFAULT_CIPHERS,
		CONFIG_DEFAULT_CIPHERSUITES, CONFIG_DEFAULT_GROUPS,
	};
	const struct key_ref builtin = { cfg, "backend", "(built-in TLS "
	    "policy)", 0 };
	const struct key_ref refs[5] = {
		builtin, builtin, builtin, builtin, builtin,
	};
	const char *ca = cfg->backend.ca_file;
	const char *cert = cfg->backend.certificate;
	const char *key = cfg->backend.private_key;
	struct key_ref caref = { cfg, "backend", "ca_file",
	    config_line(cfg, "backend", "ca_file") };
	struct key_ref cref = { cfg, "backend", "certificate",
	    config_line(cfg, "backend", "certificate") };
	struct key_ref kref = { cfg, "backend", "private_key",
	    config_line(cfg, "backend", "private_key") };
	struct tls_shared *shared;
	SSL_CTX *ctx;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		tls_set_error(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	if ((shared = tls_shared_new()) == NULL ||
	    ctx_data_attach(ctx, shared) == -1) {
		tls_set_error(err, errlen, "out of memory");
		goto fail;
	}
	if (ctx_set_policy(ctx, &policy, refs, err, errlen) == -1)
		goto fail;

	/* config.c requires ca_file for a TLS backend. Without one, the
	 * system trust store decides, and the host name check set by
	 * tls_client_ssl_new() still applies. */
	if (ca != NULL && !SSL_CTX_load_verify_locations(ctx, ca, NULL)) {
		tls_key_error(err, errlen, &caref, "%s: cannot load", ca);
		goto fail;
	}
	if (ca == NULL && !SSL_CTX_set_default_verify_paths(ctx)) {
		tls_set_error(err, errlen, "cannot load the system trust store");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_callback);

	if ((cert == NULL) != (key == NULL)) {
		tls_set_error(err, errlen, "[backend] certificate and "
		    "private_key must be set together");
		goto fail;
	}
	if (cert != NULL &&
	    ctx_load_pair(ctx, cert, key, &cref, &kref, err, errlen) == -1)
		goto fail;
	if ((cert != NULL && tls_collect_expiry(shared, cert, 0, err,
	    errlen) == -1) ||
	    (ca != NULL && tls_collect_expiry(shared, ca, 0, err, errlen) == -1))
		goto fail;
	tls_shared_unref(shared);
	return ctx;

fail:
	SSL_CTX_free(ctx);
	tls_shared_unref(shared);
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
	SSL_set_msg_callback(ssl, tls_first_record_callback);
	return ssl;
}

void
tls_ssl_set_serial(SSL *ssl, uint64_t serial)
{
	const struct tls_ctx_data *data = tls_ctx_data(SSL_get_SSL_CTX(ssl));
	struct tls_diag *d;

	/* Only debug lines use it: at info level a connection does not pay
	 * for the record. */
	if (data == NULL || !data->shared->debug)
		return;
	if ((d = tls_diag_get(ssl)) != NULL)
		d->serial = serial;
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
