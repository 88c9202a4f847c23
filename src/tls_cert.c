/* Certificate files and what is read from certificates: the trust store
 * for phones (ca_file and crl_file), expiry warnings, known intermediate
 * CA names, identities of a verified phone, and sipsgate --check-cert. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "identity.h"
#include "log.h"
#include "tls.h"
#include "tls_int.h"

/* Certificates and CRLs are announced this long before they run out. */
#define EXPIRY_WARN_DAYS	30
#define DAY_SECONDS		86400

/* ---- reading PEM files ---- */

/* Returns every certificate and CRL in a PEM file, or NULL. */
static STACK_OF(X509_INFO) *
read_pem(const char *file)
{
	STACK_OF(X509_INFO) *infos;
	BIO *bio;

	if ((bio = BIO_new_file(file, "r")) == NULL)
		return NULL;
	infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return infos;
}

/* ---- the trust store for phones ---- */

static int
count_certificates(X509_STORE *store)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	int i, n = 0;

	for (i = 0; i < sk_X509_OBJECT_num(objs); i++)
		if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) ==
		    X509_LU_X509)
			n++;
	return n;
}

/*
 * Builds the store that verifies phone certificates: ca_file and, when
 * set, every CRL in crl_file with the checks of crl_check. One store is
 * shared by the default and the per-name contexts.
 */
X509_STORE *
tls_store_new(const struct config *cfg, char *err, size_t errlen)
{
	struct key_ref ca = tls_key(cfg, "ca_file");
	struct key_ref crl = tls_key(cfg, "crl_file");
	X509_LOOKUP *lookup;
	X509_STORE *store;
	unsigned long flags;

	if ((store = X509_STORE_new()) == NULL) {
		tls_set_error(err, errlen, "out of memory");
		return NULL;
	}
	if (!X509_STORE_load_file(store, cfg->tls.ca_file)) {
		tls_key_error(err, errlen, &ca, "%s: cannot load",
		    cfg->tls.ca_file);
		goto fail;
	}
	if (count_certificates(store) == 0) {
		tls_key_error(err, errlen, &ca, "%s: contains no certificate",
		    cfg->tls.ca_file);
		goto fail;
	}
	if (cfg->tls.crl_file == NULL)
		return store;

	lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
	if (lookup == NULL || X509_load_crl_file(lookup, cfg->tls.crl_file,
	    X509_FILETYPE_PEM) <= 0) {
		tls_key_error(err, errlen, &crl, "%s: contains no CRL that "
		    "can be loaded", cfg->tls.crl_file);
		goto fail;
	}
	/* With CRL_CHECK, the phone certificate's issuer must have a CRL;
	 * CRL_CHECK_ALL extends that to every CA in the chain. */
	flags = X509_V_FLAG_CRL_CHECK;
	if (cfg->tls.crl_check == CRL_CHECK_CHAIN)
		flags |= X509_V_FLAG_CRL_CHECK_ALL;
	X509_STORE_set_flags(store, flags);
	return store;

fail:
	X509_STORE_free(store);
	return NULL;
}

/* ---- expiry ---- */

static time_t
asn1_to_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

static int
expiry_add(struct tls_shared *shared, const char *file, const char *what,
    const X509_NAME *name, const ASN1_TIME *until)
{
	struct expiry_entry *grown, *e;
	char text[NAME_MAX_TEXT];

	if (until == NULL)
		return 0;
	grown = realloc(shared->expiry, (shared->nexpiry + 1) *
	    sizeof(*grown));
	if (grown == NULL)
		return -1;
	shared->expiry = grown;
	e = &grown[shared->nexpiry];
	if ((e->file = strdup(file)) == NULL)
		return -1;
	tls_name_print(name, text, sizeof(text));
	snprintf(e->what, sizeof(e->what), "%s \"%s\"", what, text);
	e->not_after = asn1_to_time(until);
	shared->nexpiry++;
	return 0;
}

/* Records the notAfter of every certificate in file and, with crls set,
 * the nextUpdate of every CRL, for tls_warn_expiry(). */
int
tls_collect_expiry(struct tls_shared *shared, const char *file, int crls,
    char *err, size_t errlen)
{
	STACK_OF(X509_INFO) *infos = read_pem(file);
	int i, rc = 0;

	if (infos == NULL) {
		tls_set_error(err, errlen, "%s: cannot read", file);
		return -1;
	}
	for (i = 0; i < sk_X509_INFO_num(infos) && rc == 0; i++) {
		X509_INFO *info = sk_X509_INFO_value(infos, i);

		if (info->x509 != NULL)
			rc = expiry_add(shared, file, "certificate",
			    X509_get_subject_name(info->x509),
			    X509_get0_notAfter(info->x509));
		if (rc == 0 && crls && info->crl != NULL)
			rc = expiry_add(shared, file, "CRL from",
			    X509_CRL_get_issuer(info->crl),
			    X509_CRL_get0_nextUpdate(info->crl));
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (rc == -1)
		tls_set_error(err, errlen, "out of memory");
	return rc;
}

int
tls_warn_expiry(SSL_CTX *ctx, time_t now)
{
	const struct tls_ctx_data *data = tls_ctx_data(ctx);
	const struct expiry_entry *e;
	char date[32];
	struct tm tm;
	long days;
	int i, n = 0;

	if (data == NULL)
		return 0;
	for (i = 0; i < data->shared->nexpiry; i++) {
		e = &data->shared->expiry[i];
		if (e->not_after - now > (time_t)EXPIRY_WARN_DAYS * DAY_SECONDS)
			continue;
		gmtime_r(&e->not_after, &tm);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
		days = (long)((e->not_after - now) / DAY_SECONDS);
		if (e->not_after <= now)
			log_warning("%s: %s expired on %s", e->file, e->what,
			    date);
		else if (strncmp(e->what, "CRL", 3) == 0)
			log_warning("%s: %s needs its next update by %s (in "
			    "%ld days): install a new one and send SIGHUP",
			    e->file, e->what, date, days);
		else
			log_warning("%s: %s expires on %s (in %ld days)",
			    e->file, e->what, date, days);
		n++;
	}
	return n;
}

/* ---- known intermediate CA names ---- */

static int
push_name(struct tls_shared *shared, const X509_NAME *name)
{
	X509_NAME *copy;

	if (shared->intermediates == NULL &&
	    (shared->intermediates = sk_X509_NAME_new_null()) == NULL)
		return -1;
	if ((copy = X509_NAME_dup(name)) == NULL)
		return -1;
	if (!sk_X509_NAME_push(shared->intermediates, copy)) {
		X509_NAME_free(copy);
		return -1;
	}
	return 0;
}

/* Records the subjects of the CA certificates in file that are not
 * roots, and the issuers of its CRLs: names of CAs that a phone must
 * send, not of ones that are unknown. */
int
tls_collect_intermediates(struct tls_shared *shared, const char *file)
{
	STACK_OF(X509_INFO) *infos = read_pem(file);
	int i, rc = 0;

	if (infos == NULL)
		return -1;
	for (i = 0; i < sk_X509_INFO_num(infos) && rc == 0; i++) {
		X509_INFO *info = sk_X509_INFO_value(infos, i);
		X509 *x = info->x509;

		if (x != NULL && X509_check_ca(x) > 0 &&
		    X509_NAME_cmp(X509_get_subject_name(x),
		    X509_get_issuer_name(x)) != 0)
			rc = push_name(shared, X509_get_subject_name(x));
		if (rc == 0 && info->crl != NULL)
			rc = push_name(shared, X509_CRL_get_issuer(info->crl));
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	return rc;
}

/* ---- identities ---- */

static void
add_string(struct identity_builder *b, enum identity_kind kind,
    const ASN1_STRING *s)
{
	identity_builder_add(b, kind, (const char *)ASN1_STRING_get0_data(s),
	    (size_t)ASN1_STRING_length(s));
}

static int
is_sip_uri(const ASN1_STRING *s)
{
	const char *p = (const char *)ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s);

	return (len > 4 && strncasecmp(p, "sip:", 4) == 0) ||
	    (len > 5 && strncasecmp(p, "sips:", 5) == 0);
}

static void
add_common_names(struct identity_builder *b, const X509_NAME *subject)
{
	unsigned char *utf8;
	int i = -1, len;

	while ((i = X509_NAME_get_index_by_NID(subject, NID_commonName,
	    i)) >= 0) {
		len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
		    X509_NAME_get_entry(subject, i)));
		if (len < 0)
			continue;
		identity_builder_add(b, ID_CN, (const char *)utf8,
		    (size_t)len);
		OPENSSL_free(utf8);
	}
}

/* Takes the identities in the order of RFC 5922 section 7.1: SIP URIs
 * in subjectAltName, then its DNS names, and the common names only when
 * the certificate has no subjectAltName. The subject comes last. */
static char *
identities_of(X509 *cert)
{
	struct identity_builder b;
	GENERAL_NAMES *sans;
	char subject[NAME_MAX_TEXT];
	int i, pass;

	identity_builder_init(&b);
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (pass = 0; sans != NULL && pass < 2; pass++) {
		for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
			const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

			if (pass == 0 && gn->type == GEN_URI &&
			    is_sip_uri(gn->d.uniformResourceIdentifier))
				add_string(&b, ID_URI,
				    gn->d.uniformResourceIdentifier);
			if (pass == 1 && gn->type == GEN_DNS)
				add_string(&b, ID_DNS, gn->d.dNSName);
		}
	}
	if (sans == NULL)
		add_common_names(&b, X509_get_subject_name(cert));
	GENERAL_NAMES_free(sans);
	tls_name_print(X509_get_subject_name(cert), subject, sizeof(subject));
	identity_builder_add(&b, ID_SUBJECT, subject, strlen(subject));
	return identity_builder_finish(&b);
}

char *
tls_peer_identities(SSL *ssl)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);

	/* A resumed session carries the certificate and the verification
	 * result of its full handshake. */
	if (peer == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	return identities_of(peer);
}

/* ---- sipsgate --check-cert ---- */

struct check {
	struct tls_diag	diag;
	struct tls_shared *shared;	/* known intermediates */
};

static int
check_verify_callback(int ok, X509_STORE_CTX *store)
{
	struct check *c = X509_STORE_CTX_get_app_data(store);

	if (!ok && c->diag.verify_error == X509_V_OK)
		tls_diag_record(&c->diag, store, c->shared);
	return ok;
}

/* Collects the names the daemon uses to tell a missing intermediate
 * from an unknown CA. */
static int
check_collect(struct tls_shared *shared, const struct config *cfg)
{
	int i, j;

	for (i = -1; i < cfg->tls.nsni; i++) {
		const struct cert_set *set = i < 0 ? &cfg->tls.certs :
		    &cfg->tls.sni[i];

		for (j = 0; j < set->ncertificate; j++)
			if (tls_collect_intermediates(shared,
			    set->certificate[j]) == -1)
				return -1;
	}
	if (cfg->tls.crl_file != NULL &&
	    tls_collect_intermediates(shared, cfg->tls.crl_file) == -1)
		return -1;
	return 0;
}

/* Returns the OpenSSL security level a server context built from cfg
 * has: the system default, or what @SECLEVEL in ciphers sets. */
static int
security_level(const struct config *cfg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int level = 1;

	if (ctx != NULL) {
		SSL_CTX_set_cipher_list(ctx, cfg->tls.ciphers);
		level = SSL_CTX_get_security_level(ctx);
		SSL_CTX_free(ctx);
	}
	ERR_clear_error();
	return level;
}

/* Runs the verification the handshake runs: same store, purpose
 * (sslclient), depth and minimum key strength (OpenSSL's security
 * level). Returns 1 when the chain is accepted. */
static int
check_verify(const struct config *cfg, X509_STORE *store,
    STACK_OF(X509_INFO) *infos, struct check *c)
{
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	X509 *leaf = NULL;
	int i, rc = -1;

	if (untrusted == NULL || sctx == NULL)
		goto done;
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509 *x = sk_X509_INFO_value(infos, i)->x509;

		if (x == NULL)
			continue;
		if (leaf == NULL)
			leaf = x;
		else if (!sk_X509_push(untrusted, x))
			goto done;
	}
	if (!X509_STORE_CTX_init(sctx, store, leaf, untrusted) ||
	    !X509_STORE_CTX_set_default(sctx, "ssl_client"))
		goto done;
	X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(sctx),
	    cfg->tls.verify_depth);
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(sctx),
	    security_level(cfg));
	X509_STORE_CTX_set_app_data(sctx, c);
	X509_STORE_CTX_set_verify_cb(sctx, check_verify_callback);
	rc = X509_verify_cert(sctx) == 1;
	if (!rc && c->diag.verify_error == X509_V_OK)
		c->diag.verify_error = X509_STORE_CTX_get_error(sctx);
done:
	X509_STORE_CTX_free(sctx);
	sk_X509_free(untrusted);
	return rc;
}

static X509 *
first_certificate(STACK_OF(X509_INFO) *infos)
{
	int i;

	for (i = 0; i < sk_X509_INFO_num(infos); i++)
		if (sk_X509_INFO_value(infos, i)->x509 != NULL)
			return sk_X509_INFO_value(infos, i)->x509;
	return NULL;
}

/* Prints which From and To URIs identity_check would let through. */
static void
print_policy(const struct config *cfg, const char *ids, FILE *out)
{
	char text[512];

	identity_format(ids, text, sizeof(text));
	switch (cfg->tls.identity_check) {
	case IDENTITY_OFF:
		fprintf(out, "identity_check = off: From and To are not "
		    "checked\n");
		break;
	case IDENTITY_USER:
		fprintf(out, "identity_check = user: the From of each request "
		    "and the To of REGISTER must be one of: %s\n", text);
		break;
	case IDENTITY_DOMAIN:
		fprintf(out, "identity_check = domain: the From of each "
		    "request and the To of REGISTER must be in the domain of "
		    "one of: %s\n", text);
		break;
	}
}

static void
print_accepted(X509 *leaf, FILE *out)
{
	char subject[NAME_MAX_TEXT], issuer[NAME_MAX_TEXT], until[32];

	tls_name_print(X509_get_subject_name(leaf), subject, sizeof(subject));
	tls_name_print(X509_get_issuer_name(leaf), issuer, sizeof(issuer));
	tls_time_print(X509_get0_notAfter(leaf), until, sizeof(until));
	fprintf(out, "accepted: subject \"%s\", issuer \"%s\", notAfter %s\n",
	    subject, issuer, until);
}

int
tls_check_cert(const struct config *cfg, const char *file, FILE *out)
{
	STACK_OF(X509_INFO) *infos;
	X509_STORE *store = NULL;
	struct check c;
	char err[1024], ids_text[512];
	char *ids = NULL;
	X509 *leaf;
	int rc = 2, ok;

	memset(&c, 0, sizeof(c));
	if ((infos = read_pem(file)) == NULL ||
	    (leaf = first_certificate(infos)) == NULL) {
		tls_set_error(err, sizeof(err), "%s: contains no PEM "
		    "certificate", file);
		fprintf(out, "cannot check: %s\n", err);
		goto done;
	}
	if (cfg->tls.verify_client == VERIFY_OFF) {
		fprintf(out, "accepted: verify_client = off, so sipsgate asks "
		    "phones for no certificate\n");
		rc = 0;
		goto done;
	}
	if ((c.shared = tls_shared_new()) == NULL ||
	    check_collect(c.shared, cfg) == -1 ||
	    (store = tls_store_new(cfg, err, sizeof(err))) == NULL) {
		fprintf(out, "cannot check: %s\n", c.shared == NULL ?
		    "out of memory" : err);
		goto done;
	}
	ok = check_verify(cfg, store, infos, &c);
	if (ok == -1) {
		fprintf(out, "cannot check: out of memory\n");
		goto done;
	}
	ids = identities_of(leaf);
	identity_format(ids, ids_text, sizeof(ids_text));
	if (ok) {
		print_accepted(leaf, out);
	} else {
		err[0] = '\0';
		tls_diag_describe_verify(&c.diag, 1, NULL, err, sizeof(err));
		fprintf(out, "rejected: %s\n", err);
	}
	fprintf(out, "identities: %s\n", ids_text);
	if (ok)
		print_policy(cfg, ids, out);
	rc = ok ? 0 : 1;
done:
	free(ids);
	X509_STORE_free(store);
	tls_shared_unref(c.shared);
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	ERR_clear_error();
	return rc;
}
