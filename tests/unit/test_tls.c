/* tls.c against real certificates from tests/e2e/pki.sh: in-memory
 * handshakes over BIO pairs, one per case, checking both the outcome and
 * the diagnostic line. Run from the repository root, or set PKI_SH to the
 * script's path. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "identity.h"
#include "tls.h"
#include "tls_int.h"

#define MAX_HANDSHAKE_STEPS	32

static char pki_dir[] = "/tmp/sipsgate-test-tls-XXXXXX";

/* A config with only the fields tls.c reads, and room for the paths. */
struct test_config {
	struct config	cfg;
	char		cert[PATH_MAX];
	char		key[PATH_MAX];
	char		cert2[PATH_MAX];	/* second pair, when set */
	char		key2[PATH_MAX];
	char		ca[PATH_MAX];
	char		crl[PATH_MAX];
	char		sni_cert[PATH_MAX];	/* for the [sni:NAME] set */
	char		sni_key[PATH_MAX];
	struct cert_set	sni;
	char		backend_cert[PATH_MAX];
	char		backend_key[PATH_MAX];
	char		backend_ca[PATH_MAX];
};

/* One handshake between a server SSL and a client SSL. rc is 1 when the
 * side finished, -1 when it failed (why then contains its diagnostic),
 * 0 while it is still waiting. */
struct handshake {
	SSL	*server;
	SSL	*client;
	BIO	*client_end;	/* raw bytes written here reach the server */
	int	server_rc;
	int	client_rc;
	char	server_why[512];
	char	client_why[512];
};

static void
pki_path(char *out, const char *name)
{
	if (name == NULL) {
		out[0] = '\0';
		return;
	}
	snprintf(out, PATH_MAX, "%s/%s", pki_dir, name);
}

static int
setup_pki(void **state)
{
	const char *script = getenv("PKI_SH");
	char cmd[PATH_MAX + 64];

	if (script == NULL)
		script = "tests/e2e/pki.sh";
	if (mkdtemp(pki_dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s %s", script, pki_dir);
	if (system(cmd) != 0)
		return -1;
	return tls_global_init();
}

static int
teardown_pki(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf -- %s", pki_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Fills the [tls] part: the server chain for phones, ca as their trust
 * store (NULL for none). */
static void
server_config(struct test_config *tc, const char *ca, enum verify_client vc)
{
	memset(tc, 0, sizeof(*tc));
	pki_path(tc->cert, "server-chain.pem");
	pki_path(tc->key, "server.key");
	pki_path(tc->ca, ca);
	tc->cfg.path = "test.ini";
	tc->cfg.tls.certs.certificate[0] = tc->cert;
	tc->cfg.tls.certs.private_key[0] = tc->key;
	tc->cfg.tls.certs.ncertificate = 1;
	tc->cfg.tls.certs.nprivate_key = 1;
	tc->cfg.tls.ca_file = ca != NULL ? tc->ca : NULL;
	tc->cfg.tls.verify_client = vc;
	tc->cfg.tls.verify_depth = 4;
	tc->cfg.tls.min_version = TLS1_2_VERSION;
	tc->cfg.tls.max_version = TLS1_3_VERSION;
	tc->cfg.tls.ciphers = CONFIG_DEFAULT_CIPHERS;
	tc->cfg.tls.ciphersuites = CONFIG_DEFAULT_CIPHERSUITES;
	tc->cfg.tls.groups = CONFIG_DEFAULT_GROUPS;
	tc->cfg.tls.session_resumption = 1;
	tc->cfg.tls.ticket_key_rotation = 3600;
}

/* Adds crl_file with crl_check. */
static void
config_add_crl(struct test_config *tc, const char *crl, enum crl_check check)
{
	pki_path(tc->crl, crl);
	tc->cfg.tls.crl_file = tc->crl;
	tc->cfg.tls.crl_check = check;
}

/* Adds a second certificate and key pair to the default set. */
static void
config_add_pair(struct test_config *tc, const char *cert, const char *key)
{
	pki_path(tc->cert2, cert);
	pki_path(tc->key2, key);
	tc->cfg.tls.certs.certificate[1] = tc->cert2;
	tc->cfg.tls.certs.private_key[1] = tc->key2;
	tc->cfg.tls.certs.ncertificate = 2;
	tc->cfg.tls.certs.nprivate_key = 2;
}

/* Adds one [sni:NAME] set with sni-chain.pem. */
static void
config_add_sni(struct test_config *tc, char *name)
{
	memset(&tc->sni, 0, sizeof(tc->sni));
	pki_path(tc->sni_cert, "sni-chain.pem");
	pki_path(tc->sni_key, "sni.key");
	tc->sni.server_name = name;
	tc->sni.certificate[0] = tc->sni_cert;
	tc->sni.private_key[0] = tc->sni_key;
	tc->sni.ncertificate = 1;
	tc->sni.nprivate_key = 1;
	tc->cfg.tls.sni = &tc->sni;
	tc->cfg.tls.nsni = 1;
}

static SSL_CTX *
server_ctx(struct test_config *tc)
{
	char err[512] = "";
	SSL_CTX *ctx;

	ctx = tls_server_ctx_new(&tc->cfg, err, sizeof(err));
	if (ctx == NULL)
		print_error("tls_server_ctx_new: %s\n", err);
	assert_non_null(ctx);
	return ctx;
}

/* A phone: client certificate chain from the PKI (NULL for none), and the
 * server checked against the root like a provisioned phone would. */
static SSL_CTX *
phone_ctx(const char *cert, const char *key)
{
	char path[PATH_MAX];
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(ctx);
	if (cert != NULL) {
		pki_path(path, cert);
		assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, path),
		    1);
		pki_path(path, key);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, path,
		    SSL_FILETYPE_PEM), 1);
	}
	pki_path(path, "root.pem");
	assert_int_equal(SSL_CTX_load_verify_locations(ctx, path, NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

static void
handshake_init(struct handshake *h, SSL *server, SSL *client)
{
	BIO *server_end, *client_end;

	memset(h, 0, sizeof(*h));
	assert_int_equal(BIO_new_bio_pair(&server_end, 0, &client_end, 0), 1);
	h->server = server;
	h->client = client;
	h->client_end = client_end;
	SSL_set_bio(server, server_end, server_end);
	if (client != NULL)
		SSL_set_bio(client, client_end, client_end);
}

static void
handshake_step(SSL *ssl, int *rc, char *why, size_t cap)
{
	int r, e;

	if (ssl == NULL || *rc != 0)
		return;
	r = SSL_do_handshake(ssl);
	if (r == 1) {
		*rc = 1;
		return;
	}
	e = SSL_get_error(ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return;
	*rc = -1;
	tls_describe_failure(ssl, NULL, 0, why, cap);
}

/* Alternates both sides until the server finishes or fails. With TLS 1.3
 * the client finishes first and learns of a rejected certificate only
 * later, so the server's result is the one that counts. */
static void
handshake_run(struct handshake *h)
{
	int i;

	for (i = 0; i < MAX_HANDSHAKE_STEPS && h->server_rc == 0; i++) {
		handshake_step(h->client, &h->client_rc, h->client_why,
		    sizeof(h->client_why));
		handshake_step(h->server, &h->server_rc, h->server_why,
		    sizeof(h->server_why));
	}
}

static void
handshake_free(struct handshake *h)
{
	SSL_free(h->server);
	if (h->client != NULL)
		SSL_free(h->client);
	else
		BIO_free(h->client_end);
}

/* Runs one phone against one server configuration. */
static void
phone_handshake(struct handshake *h, const char *ca, enum verify_client vc,
    const char *cert, const char *key)
{
	struct test_config tc;
	SSL_CTX *sctx, *cctx;
	SSL *client;

	server_config(&tc, ca, vc);
	sctx = server_ctx(&tc);
	cctx = phone_ctx(cert, key);
	client = SSL_new(cctx);
	assert_non_null(client);
	assert_int_equal(SSL_set1_host(client, "sips.example.com"), 1);
	SSL_set_connect_state(client);

	handshake_init(h, tls_server_ssl_new(sctx), client);
	assert_non_null(h->server);
	handshake_run(h);

	/* Each SSL holds a reference to its context. */
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
assert_contains(const char *text, const char *part)
{
	if (strstr(text, part) == NULL)
		print_error("\"%s\" does not contain \"%s\"\n", text, part);
	assert_non_null(strstr(text, part));
}

static void
test_tls_chain_accepted(void **state)
{
	struct handshake h;
	char line[256];

	phone_handshake(&h, "phones-ca.pem", VERIFY_REQUIRE,
	    "alice-chain.pem", "alice.key");
	assert_int_equal(h.server_rc, 1);
	assert_int_equal(h.client_rc, 1);

	tls_describe_session(h.server, line, sizeof(line));
	assert_contains(line, "TLSv1.3 ");
	assert_contains(line, "subject=\"CN=alice\"");
	assert_contains(line, " session=new");
	handshake_free(&h);
}

static void
test_tls_leaf_missing_intermediate(void **state)
{
	struct handshake h;

	phone_handshake(&h, "phones-ca.pem", VERIFY_REQUIRE,
	    "alice.pem", "alice.key");
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "client certificate rejected: ");
	assert_contains(h.server_why, "unable to get local issuer certificate");
	assert_contains(h.server_why, "issuer \"CN=Phones Intermediate CA\"");
	assert_contains(h.server_why, "Missing intermediate: the phone must "
	    "send its intermediate certificate");
	handshake_free(&h);
}

static void
test_tls_leaf_with_full_ca(void **state)
{
	struct handshake h;

	phone_handshake(&h, "phones-ca-full.pem", VERIFY_REQUIRE,
	    "alice.pem", "alice.key");
	assert_int_equal(h.server_rc, 1);
	handshake_free(&h);
}

static void
test_tls_untrusted_ca(void **state)
{
	struct handshake h;

	phone_handshake(&h, "phones-ca.pem", VERIFY_REQUIRE,
	    "mallory.pem", "mallory.key");
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "unable to get local issuer certificate");
	assert_contains(h.server_why, "issuer \"CN=Rogue CA\"");
	assert_contains(h.server_why, "Unknown CA: ca_file has no certificate "
	    "\"CN=Rogue CA\"");
	handshake_free(&h);
}

static void
test_tls_untrusted_root_sent(void **state)
{
	struct handshake h;

	phone_handshake(&h, "phones-ca.pem", VERIFY_REQUIRE,
	    "mallory-chain.pem", "mallory.key");
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "self-signed certificate in certificate chain");
	assert_contains(h.server_why, "subject \"CN=Rogue CA\"");
	assert_contains(h.server_why, "Unknown CA: ca_file does not contain "
	    "this root");
	handshake_free(&h);
}

static void
test_tls_expired(void **state)
{
	struct handshake h;

	phone_handshake(&h, "phones-ca.pem", VERIFY_REQUIRE,
	    "expired-chain.pem", "expired.key");
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "certificate has expired");
	assert_contains(h.server_why, "subject \"CN=expired\"");
	assert_contains(h.server_why, "notAfter 2020-02-01T00:00:00Z");
	handshake_free(&h);
}

static void
test_tls_no_cert_required(void **state)
{
	struct handshake h;

	phone_handshake(&h, "phones-ca.pem", VERIFY_REQUIRE, NULL, NULL);
	assert_int_equal(h.server_rc, -1);
	assert_string_equal(h.server_why, "no client certificate sent");
	handshake_free(&h);
}

static void
test_tls_no_cert_optional(void **state)
{
	struct handshake h;
	char line[256];

	phone_handshake(&h, "phones-ca.pem", VERIFY_OPTIONAL, NULL, NULL);
	assert_int_equal(h.server_rc, 1);
	tls_describe_session(h.server, line, sizeof(line));
	assert_contains(line, "no client certificate");
	handshake_free(&h);
}

static void
test_tls_bad_cert_optional(void **state)
{
	struct handshake h;

	/* Optional means a phone may send nothing, not anything. */
	phone_handshake(&h, "phones-ca.pem", VERIFY_OPTIONAL,
	    "mallory.pem", "mallory.key");
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "client certificate rejected: ");
	handshake_free(&h);
}

static void
test_tls_verify_off(void **state)
{
	struct handshake h;

	phone_handshake(&h, NULL, VERIFY_OFF, "mallory.pem", "mallory.key");
	assert_int_equal(h.server_rc, 1);
	handshake_free(&h);
}

/* Runs alice's chain (leaf, intermediate, then the root in ca_file)
 * against verify_depth; ssl_depth >= 0 overrides it on the SSL. */
static void
depth_handshake(struct handshake *h, int depth, int ssl_depth)
{
	struct test_config tc;
	SSL_CTX *sctx, *cctx;

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	tc.cfg.tls.verify_depth = depth;
	sctx = server_ctx(&tc);
	cctx = phone_ctx("alice-chain.pem", "alice.key");
	handshake_init(h, tls_server_ssl_new(sctx), SSL_new(cctx));
	SSL_set_connect_state(h->client);
	if (ssl_depth >= 0)
		SSL_set_verify_depth(h->server, ssl_depth);
	handshake_run(h);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* OpenSSL counts the depth in intermediate certificates, without the leaf
 * and the trust anchor, so depth 1 is enough for alice. */
static void
test_tls_verify_depth(void **state)
{
	struct handshake h;

	depth_handshake(&h, 1, -1);
	assert_int_equal(h.server_rc, 1);
	handshake_free(&h);

	depth_handshake(&h, 2, -1);
	assert_int_equal(h.server_rc, 1);
	handshake_free(&h);

	/* config.c refuses a verify_depth of 0, so set it on the SSL. */
	depth_handshake(&h, 1, 0);
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "certificate chain too long");
	assert_contains(h.server_why, "Raise verify_depth");
	handshake_free(&h);
}

/* Resumption works with tickets only (the server has no session cache)
 * for both protocol versions, and keeps the verified client identity. */
static void
test_tls_resumption(void **state)
{
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };
	struct test_config tc;
	struct handshake h;
	SSL_SESSION *session;
	SSL_CTX *sctx, *cctx;
	char line[256];
	char byte;
	size_t i;

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
		sctx = server_ctx(&tc);
		cctx = phone_ctx("alice-chain.pem", "alice.key");
		assert_int_equal(SSL_CTX_set_max_proto_version(cctx,
		    versions[i]), 1);

		handshake_init(&h, tls_server_ssl_new(sctx), SSL_new(cctx));
		SSL_set_connect_state(h.client);
		handshake_run(&h);
		assert_int_equal(h.server_rc, 1);
		/* TLS 1.3 tickets arrive after the handshake: a read
		 * processes them and then finds no application data. */
		assert_true(SSL_read(h.client, &byte, 1) <= 0);
		session = SSL_get1_session(h.client);
		assert_non_null(session);
		assert_int_equal(SSL_SESSION_is_resumable(session), 1);
		/* Freeing an SSL without close_notify marks its session as
		 * not resumable, so close the first connection properly. */
		SSL_shutdown(h.client);
		handshake_free(&h);

		handshake_init(&h, tls_server_ssl_new(sctx), SSL_new(cctx));
		SSL_set_connect_state(h.client);
		assert_int_equal(SSL_set_session(h.client, session), 1);
		handshake_run(&h);
		assert_int_equal(h.server_rc, 1);
		assert_int_equal(SSL_version(h.server), versions[i]);
		tls_describe_session(h.server, line, sizeof(line));
		assert_contains(line, "subject=\"CN=alice\"");
		assert_contains(line, " session=resumed");
		handshake_free(&h);

		SSL_SESSION_free(session);
		SSL_CTX_free(sctx);
		SSL_CTX_free(cctx);
		ERR_clear_error();
	}
}

/* Runs a phone limited to old versions or ciphers. Security level 0 is
 * what lets OpenSSL 3.0 build a TLS 1.0 or 1.1 ClientHello at all. */
static void
old_client_handshake(struct handshake *h, int server_min, int client_max,
    const char *ciphers)
{
	struct test_config tc;
	SSL_CTX *sctx, *cctx;

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	tc.cfg.tls.min_version = server_min;
	sctx = server_ctx(&tc);
	cctx = phone_ctx("alice-chain.pem", "alice.key");
	SSL_CTX_set_security_level(cctx, 0);
	assert_int_equal(SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, client_max), 1);
	assert_int_equal(SSL_CTX_set_cipher_list(cctx, ciphers), 1);

	handshake_init(h, tls_server_ssl_new(sctx), SSL_new(cctx));
	SSL_set_connect_state(h->client);
	handshake_run(h);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
test_tls_client_tls11(void **state)
{
	struct handshake h;

	old_client_handshake(&h, TLS1_2_VERSION, TLS1_1_VERSION,
	    "DEFAULT:@SECLEVEL=0");
	assert_int_equal(h.server_rc, -1);
	assert_string_equal(h.server_why, "no shared protocol version "
	    "(client offered only TLS 1.1 or older, the minimum is TLS 1.2)");
	handshake_free(&h);
}

static void
test_tls_client_tls12_min13(void **state)
{
	struct handshake h;

	old_client_handshake(&h, TLS1_3_VERSION, TLS1_2_VERSION, "DEFAULT");
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "no shared protocol version");
	assert_contains(h.server_why, "TLS 1.2 or older");
	handshake_free(&h);
}

static void
test_tls_no_shared_cipher(void **state)
{
	struct handshake h;

	/* RSA key exchange without forward secrecy is outside the policy. */
	old_client_handshake(&h, TLS1_2_VERSION, TLS1_2_VERSION,
	    "AES128-GCM-SHA256");
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "no shared cipher");
	handshake_free(&h);
}

static void
plaintext_handshake(struct handshake *h, const char *bytes, int len)
{
	struct test_config tc;
	SSL_CTX *sctx;

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	sctx = server_ctx(&tc);
	handshake_init(h, tls_server_ssl_new(sctx), NULL);
	assert_int_equal(BIO_write(h->client_end, bytes, len), len);
	handshake_run(h);
	SSL_CTX_free(sctx);
}

static void
test_tls_plaintext_sip(void **state)
{
	struct handshake h;

	static const char sip[] = "OPTIONS sip:x SIP/2.0\r\n"
	    "Via: SIP/2.0/TCP 127.0.0.1:5555;branch=z9hG4bK1\r\n"
	    "Content-Length: 0\r\n\r\n";

	plaintext_handshake(&h, sip, sizeof(sip) - 1);
	assert_int_equal(h.server_rc, -1);
	assert_string_equal(h.server_why,
	    "plaintext sent to the TLS port (first bytes \"OPTIO\")");
	handshake_free(&h);
}

static void
test_tls_plaintext_http(void **state)
{
	struct handshake h;

	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	plaintext_handshake(&h, http, sizeof(http) - 1);
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "plaintext sent to the TLS port");
	handshake_free(&h);
}

static void
test_tls_garbage_not_plaintext(void **state)
{
	struct handshake h;

	/* A record header with a bad version: binary, so not plaintext. */
	static const char junk[] = "\x16\x09\x09\x00\x05hello";

	plaintext_handshake(&h, junk, sizeof(junk) - 1);
	assert_int_equal(h.server_rc, -1);
	assert_string_equal(h.server_why, "wrong version number");
	handshake_free(&h);
}

static void
test_tls_libevent_errors(void **state)
{
	unsigned long errs[1];
	char why[256];

	/* Codes popped earlier by libevent count like queued ones. */
	errs[0] = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_NO_SHARED_CIPHER);
	tls_describe_failure(NULL, errs, 1, why, sizeof(why));
	assert_contains(why, "no shared cipher");

	errs[0] = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_BAD_LENGTH);
	ERR_raise(ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING);
	tls_describe_failure(NULL, errs, 1, why, sizeof(why));
	assert_string_equal(why, "bad length; unexpected eof while reading");
	assert_int_equal(ERR_peek_error(), 0);

	tls_describe_failure(NULL, NULL, 0, why, sizeof(why));
	assert_string_equal(why,
	    "connection closed by the peer during the handshake");
}

static void
test_tls_missing_certificate(void **state)
{
	struct test_config tc;
	char err[512] = "";
	char expect[PATH_MAX + 64];

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	pki_path(tc.cert, "nonexistent.pem");
	assert_null(tls_server_ctx_new(&tc.cfg, err, sizeof(err)));
	snprintf(expect, sizeof(expect), "test.ini: [tls] certificate: %s: "
	    "cannot load: ", tc.cert);
	assert_contains(err, expect);
	assert_contains(err, "No such file or directory; system lib");
	assert_null(strstr(err, "system lib; system lib"));
	assert_int_equal(ERR_peek_error(), 0);
}

static void
test_tls_key_mismatch(void **state)
{
	struct test_config tc;
	char err[512] = "";
	char expect[3 * PATH_MAX];

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	pki_path(tc.key, "alice.key");
	assert_null(tls_server_ctx_new(&tc.cfg, err, sizeof(err)));
	snprintf(expect, sizeof(expect), "test.ini: [tls] private_key: %s "
	    "does not match certificate %s", tc.key, tc.cert);
	assert_string_equal(err, expect);
}

static void
test_tls_bad_ca_file(void **state)
{
	struct test_config tc;
	char err[512] = "";

	/* A key file contains no certificate to trust. */
	server_config(&tc, "alice.key", VERIFY_REQUIRE);
	assert_null(tls_server_ctx_new(&tc.cfg, err, sizeof(err)));
	assert_contains(err, "test.ini: [tls] ca_file: ");
	assert_contains(err, "alice.key: cannot load");
}

/* sipsgate as a TLS client of a backend that presents backend-chain.pem
 * (CN=127.0.0.1, SAN IP:127.0.0.1 and DNS:localhost) and requires a
 * client certificate. */
static void
backend_handshake(struct handshake *h, const char *host, const char *ca)
{
	struct test_config tc;
	char err[512] = "";
	SSL_CTX *sctx, *cctx;

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	pki_path(tc.cert, "backend-chain.pem");
	pki_path(tc.key, "backend.key");
	sctx = server_ctx(&tc);

	pki_path(tc.backend_ca, ca);
	pki_path(tc.backend_cert, "server-chain.pem");
	pki_path(tc.backend_key, "server.key");
	tc.cfg.backend.ca_file = tc.backend_ca;
	tc.cfg.backend.certificate = tc.backend_cert;
	tc.cfg.backend.private_key = tc.backend_key;
	cctx = tls_backend_ctx_new(&tc.cfg, err, sizeof(err));
	if (cctx == NULL)
		print_error("tls_backend_ctx_new: %s\n", err);
	assert_non_null(cctx);

	handshake_init(h, tls_server_ssl_new(sctx),
	    tls_client_ssl_new(cctx, host));
	assert_non_null(h->client);
	handshake_run(h);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
test_tls_backend_hosts(void **state)
{
	static const char *hosts[] = { "127.0.0.1", "localhost" };
	struct handshake h;
	char line[256];
	size_t i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		backend_handshake(&h, hosts[i], "backend-ca.pem");
		assert_int_equal(h.client_rc, 1);
		assert_int_equal(h.server_rc, 1);
		tls_describe_session(h.client, line, sizeof(line));
		assert_contains(line, "subject=\"CN=127.0.0.1\"");
		tls_describe_session(h.server, line, sizeof(line));
		assert_contains(line, "subject=\"CN=sips.example.com\"");
		handshake_free(&h);
	}
}

static void
test_tls_backend_sni(void **state)
{
	struct handshake h;

	backend_handshake(&h, "localhost", "backend-ca.pem");
	assert_string_equal(SSL_get_servername(h.server,
	    TLSEXT_NAMETYPE_host_name), "localhost");
	handshake_free(&h);

	backend_handshake(&h, "127.0.0.1", "backend-ca.pem");
	assert_null(SSL_get_servername(h.server, TLSEXT_NAMETYPE_host_name));
	handshake_free(&h);
}

static void
test_tls_backend_name_mismatch(void **state)
{
	struct handshake h;

	backend_handshake(&h, "wrong.example.com", "backend-ca.pem");
	assert_int_equal(h.client_rc, -1);
	assert_contains(h.client_why, "server certificate rejected: ");
	assert_contains(h.client_why, "hostname mismatch");
	assert_contains(h.client_why, "expected \"wrong.example.com\"");
	/* The backend's side of the same handshake: it got our alert. */
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "client sent TLS alert");
	handshake_free(&h);

	backend_handshake(&h, "::1", "backend-ca.pem");
	assert_int_equal(h.client_rc, -1);
	assert_contains(h.client_why, "IP address mismatch");
	assert_contains(h.client_why, "expected ::1");
	handshake_free(&h);
}

static void
test_tls_backend_untrusted(void **state)
{
	struct handshake h;

	backend_handshake(&h, "127.0.0.1", "rogue.pem");
	assert_int_equal(h.client_rc, -1);
	assert_contains(h.client_why, "server certificate rejected: ");
	assert_contains(h.client_why, "unable to get local issuer certificate");
	assert_contains(h.client_why, "Unknown CA: [backend] ca_file has no "
	    "certificate \"CN=Sipsgate Test Root CA\"");
	handshake_free(&h);
}

static void
test_tls_client_ssl_no_host(void **state)
{
	struct test_config tc;
	char err[512] = "";
	SSL_CTX *cctx;

	memset(&tc, 0, sizeof(tc));
	pki_path(tc.backend_ca, "backend-ca.pem");
	tc.cfg.backend.ca_file = tc.backend_ca;
	cctx = tls_backend_ctx_new(&tc.cfg, err, sizeof(err));
	assert_non_null(cctx);
	assert_null(tls_client_ssl_new(cctx, NULL));
	assert_null(tls_client_ssl_new(cctx, ""));
	SSL_CTX_free(cctx);
}

/* ---- revocation ---- */

static void
crl_handshake(struct handshake *h, const char *crl, enum crl_check check,
    const char *cert, const char *key)
{
	struct test_config tc;
	SSL_CTX *sctx, *cctx;

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	config_add_crl(&tc, crl, check);
	sctx = server_ctx(&tc);
	cctx = phone_ctx(cert, key);
	handshake_init(h, tls_server_ssl_new(sctx), SSL_new(cctx));
	SSL_set_connect_state(h->client);
	handshake_run(h);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
test_tls_crl_revoked(void **state)
{
	struct handshake h;

	crl_handshake(&h, "inter.crl", CRL_CHECK_LEAF, "carol-chain.pem",
	    "carol.key");
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "client certificate rejected: "
	    "certificate revoked (subject \"CN=carol\", serial ");
	assert_contains(h.server_why, "issuer \"CN=Phones Intermediate CA\"");
	assert_contains(h.server_why, "crl_file lists its serial number as "
	    "revoked");
	handshake_free(&h);

	crl_handshake(&h, "inter.crl", CRL_CHECK_LEAF, "alice-chain.pem",
	    "alice.key");
	assert_int_equal(h.server_rc, 1);
	handshake_free(&h);
}

/* With crl_check = chain the intermediate needs the root's CRL too. */
static void
test_tls_crl_chain(void **state)
{
	struct handshake h;

	crl_handshake(&h, "inter.crl", CRL_CHECK_CHAIN, "alice-chain.pem",
	    "alice.key");
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "unable to get certificate CRL");
	assert_contains(h.server_why, "crl_file has no CRL from "
	    "\"CN=Sipsgate Test Root CA\"");
	handshake_free(&h);

	crl_handshake(&h, "crls.pem", CRL_CHECK_CHAIN, "alice-chain.pem",
	    "alice.key");
	assert_int_equal(h.server_rc, 1);
	handshake_free(&h);

	crl_handshake(&h, "crls.pem", CRL_CHECK_CHAIN, "carol-chain.pem",
	    "carol.key");
	assert_int_equal(h.server_rc, -1);
	assert_contains(h.server_why, "certificate revoked");
	handshake_free(&h);
}

static void
test_tls_crl_file_invalid(void **state)
{
	struct test_config tc;
	char err[512] = "";

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	config_add_crl(&tc, "alice.pem", CRL_CHECK_LEAF);
	assert_null(tls_server_ctx_new(&tc.cfg, err, sizeof(err)));
	assert_contains(err, "test.ini: [tls] crl_file: ");
	assert_contains(err, "alice.pem: contains no CRL");
}

/* ---- protocol policy ---- */

/* expect may list alternatives separated by '|': OpenSSL builds differ
 * in which weak suites they know, and a suite a build lacks makes the
 * list select nothing, which is an error too. */
struct policy_case {
	const char *key;
	const char *value;
	const char *expect;	/* part of the error, NULL: accepted */
};

static void
assert_contains_any(const char *text, const char *alternatives)
{
	char copy[128], *part, *save = NULL;

	snprintf(copy, sizeof(copy), "%s", alternatives);
	for (part = strtok_r(copy, "|", &save); part != NULL;
	    part = strtok_r(NULL, "|", &save))
		if (strstr(text, part) != NULL)
			return;
	print_error("\"%s\" contains none of \"%s\"\n", text, alternatives);
	fail();
}

static void
policy_set(struct test_config *tc, const struct policy_case *pc)
{
	if (strcmp(pc->key, "ciphers") == 0)
		tc->cfg.tls.ciphers = (char *)pc->value;
	else if (strcmp(pc->key, "ciphersuites") == 0)
		tc->cfg.tls.ciphersuites = (char *)pc->value;
	else
		tc->cfg.tls.groups = (char *)pc->value;
}

static void
test_tls_policy_checked(void **state)
{
	static const struct policy_case cases[] = {
		{ "ciphers", "eNULL", "NULL cipher" },
		{ "ciphers", "ECDHE-RSA-DES-CBC3-SHA", "3DES|selects no cipher" },
		{ "ciphers", "DES-CBC3-SHA", "3DES|selects no cipher" },
		{ "ciphers", "AES128-GCM-SHA256", "static RSA key exchange" },
		{ "ciphers", "ECDHE+AESGCM:AES256-SHA", "static RSA" },
		{ "ciphers", "AECDH-AES128-SHA", "anonymous|selects no cipher" },
		{ "ciphers", "PSK-AES128-GCM-SHA256", "key exchange" },
		{ "ciphers", "RC4-SHA", "RC4|selects no cipher" },
		{ "ciphers", "ECDHE+AESGCM:@SECLEVEL=0", "security level" },
		{ "ciphers", "NO-SUCH-CIPHER", "selects no cipher" },
		{ "ciphersuites", "TLS_NO_SUCH_SUITE", "TLS 1.3 suites" },
		{ "groups", "P-999", "unknown or unsupported group" },
		{ "ciphers", "ECDHE-ECDSA-AES128-SHA", NULL },
		{ "ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305", NULL },
		{ "ciphersuites", "TLS_CHACHA20_POLY1305_SHA256", NULL },
		{ "groups", "P-384", NULL },
	};
	struct test_config tc;
	char err[512], expect[64];
	SSL_CTX *ctx;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
		policy_set(&tc, &cases[i]);
		err[0] = '\0';
		ctx = tls_server_ctx_new(&tc.cfg, err, sizeof(err));
		if (cases[i].expect == NULL) {
			if (ctx == NULL)
				print_error("%s = %s: %s\n", cases[i].key,
				    cases[i].value, err);
			assert_non_null(ctx);
			SSL_CTX_free(ctx);
			continue;
		}
		if (ctx != NULL)
			print_error("%s = %s accepted\n", cases[i].key,
			    cases[i].value);
		assert_null(ctx);
		snprintf(expect, sizeof(expect), "[tls] %s: ", cases[i].key);
		assert_contains(err, expect);
		assert_contains_any(err, cases[i].expect);
	}
}

/* A TLS 1.2 list without a TLS 1.2 suite only passes with TLS 1.3 as
 * the minimum. */
static void
test_tls_policy_versions(void **state)
{
	struct test_config tc;
	char err[512] = "";
	SSL_CTX *ctx;

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	tc.cfg.tls.max_version = TLS1_2_VERSION;
	tc.cfg.tls.ciphersuites = "";
	ctx = tls_server_ctx_new(&tc.cfg, err, sizeof(err));
	assert_non_null(ctx);
	SSL_CTX_free(ctx);

	tc.cfg.tls.max_version = TLS1_3_VERSION;
	assert_null(tls_server_ctx_new(&tc.cfg, err, sizeof(err)));
	assert_contains(err, "ciphersuites: \"\" selects no TLS 1.3 suite");
}

/* ---- session tickets ---- */

static time_t fake_now;

static time_t
fake_clock(void)
{
	return fake_now;
}

/* Connects alice over version, offering session when not NULL. Returns
 * the new session, and whether the server resumed. */
static SSL_SESSION *
alice_connect(SSL_CTX *sctx, int version, SSL_SESSION *session,
    int *reused)
{
	struct handshake h;
	SSL_SESSION *out;
	SSL_CTX *cctx;
	char byte;

	cctx = phone_ctx("alice-chain.pem", "alice.key");
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, version), 1);
	handshake_init(&h, tls_server_ssl_new(sctx), SSL_new(cctx));
	SSL_set_connect_state(h.client);
	if (session != NULL)
		assert_int_equal(SSL_set_session(h.client, session), 1);
	handshake_run(&h);
	assert_int_equal(h.server_rc, 1);
	/* TLS 1.3 tickets arrive after the handshake. */
	assert_true(SSL_read(h.client, &byte, 1) <= 0);
	*reused = SSL_session_reused(h.server);
	out = SSL_get1_session(h.client);
	SSL_shutdown(h.client);
	handshake_free(&h);
	SSL_CTX_free(cctx);
	ERR_clear_error();
	return out;
}

/* A ticket key encrypts for one rotation period and decrypts for one
 * more; after that its tickets start full handshakes. */
static void
test_tls_ticket_rotation(void **state)
{
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };
	struct test_config tc;
	SSL_SESSION *first, *next;
	SSL_CTX *sctx;
	int reused;
	size_t i;

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
		sctx = server_ctx(&tc);
		tls_tickets_set_clock(sctx, fake_clock);
		fake_now = 1000000;
		first = alice_connect(sctx, versions[i], NULL, &reused);
		assert_int_equal(reused, 0);

		fake_now += 3599;
		next = alice_connect(sctx, versions[i], first, &reused);
		assert_int_equal(reused, 1);
		SSL_SESSION_free(next);

		/* Rotated: the first key is now the previous one. */
		fake_now += 2;
		next = alice_connect(sctx, versions[i], first, &reused);
		assert_int_equal(reused, 1);
		SSL_SESSION_free(next);

		fake_now += 3600;
		next = alice_connect(sctx, versions[i], first, &reused);
		assert_int_equal(reused, 0);
		SSL_SESSION_free(next);

		SSL_SESSION_free(first);
		SSL_CTX_free(sctx);
	}
}

static void
test_tls_resumption_off(void **state)
{
	struct test_config tc;
	SSL_SESSION *first, *next;
	SSL_CTX *sctx;
	int reused;

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	tc.cfg.tls.session_resumption = 0;
	sctx = server_ctx(&tc);
	first = alice_connect(sctx, TLS1_2_VERSION, NULL, &reused);
	next = alice_connect(sctx, TLS1_2_VERSION, first, &reused);
	assert_int_equal(reused, 0);
	SSL_SESSION_free(next);
	SSL_SESSION_free(first);
	first = alice_connect(sctx, TLS1_3_VERSION, NULL, &reused);
	if (first != NULL) {
		next = alice_connect(sctx, TLS1_3_VERSION, first, &reused);
		assert_int_equal(reused, 0);
		SSL_SESSION_free(next);
		SSL_SESSION_free(first);
	}
	SSL_CTX_free(sctx);
}

/* ---- identities ---- */

static void
test_tls_peer_identities(void **state)
{
	struct handshake h;
	char *ids;

	phone_handshake(&h, "phones-ca.pem", VERIFY_REQUIRE,
	    "alice-chain.pem", "alice.key");
	assert_int_equal(h.server_rc, 1);
	ids = tls_peer_identities(h.server);
	assert_non_null(ids);
	assert_string_equal(identity_first(ids, ID_URI),
	    "sip:alice@example.com");
	assert_null(identity_first(ids, ID_DNS));
	assert_null(identity_first(ids, ID_CN));
	assert_string_equal(identity_first(ids, ID_SUBJECT), "CN=alice");
	free(ids);
	handshake_free(&h);

	phone_handshake(&h, "phones-ca.pem", VERIFY_OPTIONAL, NULL, NULL);
	assert_int_equal(h.server_rc, 1);
	assert_null(tls_peer_identities(h.server));
	handshake_free(&h);
}

/* ---- certificate sets and SNI ---- */

/* Returns the key type of the certificate the server presented. */
static int
peer_key_type(const struct handshake *h)
{
	X509 *peer = SSL_get0_peer_certificate(h->client);

	assert_non_null(peer);
	return EVP_PKEY_get_base_id(X509_get0_pubkey(peer));
}

static void
pair_handshake(struct handshake *h, const char *client_ciphers)
{
	struct test_config tc;
	SSL_CTX *sctx, *cctx;

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	config_add_pair(&tc, "server-rsa-chain.pem", "server-rsa.key");
	sctx = server_ctx(&tc);
	cctx = phone_ctx("alice-chain.pem", "alice.key");
	if (client_ciphers != NULL) {
		assert_int_equal(SSL_CTX_set_max_proto_version(cctx,
		    TLS1_2_VERSION), 1);
		assert_int_equal(SSL_CTX_set_cipher_list(cctx,
		    client_ciphers), 1);
	}
	handshake_init(h, tls_server_ssl_new(sctx), SSL_new(cctx));
	SSL_set_connect_state(h->client);
	handshake_run(h);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
test_tls_rsa_and_ecdsa(void **state)
{
	struct handshake h;

	pair_handshake(&h, NULL);
	assert_int_equal(h.server_rc, 1);
	assert_int_equal(peer_key_type(&h), EVP_PKEY_EC);
	handshake_free(&h);

	pair_handshake(&h, "ECDHE-RSA-AES128-GCM-SHA256");
	assert_int_equal(h.server_rc, 1);
	assert_int_equal(peer_key_type(&h), EVP_PKEY_RSA);
	handshake_free(&h);
}

static void
test_tls_same_key_type(void **state)
{
	struct test_config tc;
	char err[512] = "";

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	config_add_pair(&tc, "server-next-chain.pem", "server-next.key");
	assert_null(tls_server_ctx_new(&tc.cfg, err, sizeof(err)));
	assert_contains(err, "[tls] certificate: ");
	assert_contains(err, "both have an EC key");
}

/* Returns the subject of the certificate the server presented for
 * server name sni (NULL: none sent). */
static void
sni_handshake(char *pattern, const char *sni, char *subject, size_t cap)
{
	struct test_config tc;
	struct handshake h;
	SSL_CTX *sctx, *cctx;
	X509 *peer;

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	config_add_sni(&tc, pattern);
	sctx = server_ctx(&tc);
	cctx = phone_ctx("alice-chain.pem", "alice.key");
	handshake_init(&h, tls_server_ssl_new(sctx), SSL_new(cctx));
	SSL_set_connect_state(h.client);
	if (sni != NULL)
		assert_int_equal(SSL_set_tlsext_host_name(h.client, sni), 1);
	handshake_run(&h);
	assert_int_equal(h.server_rc, 1);
	peer = SSL_get0_peer_certificate(h.client);
	assert_non_null(peer);
	X509_NAME_oneline(X509_get_subject_name(peer), subject, (int)cap);
	handshake_free(&h);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void
test_tls_sni(void **state)
{
	char subject[256];

	sni_handshake("phones.example.org", "phones.example.org", subject,
	    sizeof(subject));
	assert_string_equal(subject, "/CN=phones.example.org");
	sni_handshake("phones.example.org", "PHONES.example.ORG", subject,
	    sizeof(subject));
	assert_string_equal(subject, "/CN=phones.example.org");
	sni_handshake("phones.example.org", "other.example.org", subject,
	    sizeof(subject));
	assert_string_equal(subject, "/CN=sips.example.com");
	sni_handshake("phones.example.org", NULL, subject, sizeof(subject));
	assert_string_equal(subject, "/CN=sips.example.com");
	sni_handshake("*.example.org", "a.example.org", subject,
	    sizeof(subject));
	assert_string_equal(subject, "/CN=phones.example.org");
	sni_handshake("*.example.org", "a.b.example.org", subject,
	    sizeof(subject));
	assert_string_equal(subject, "/CN=sips.example.com");
}

/* ---- expiry and --check-cert ---- */

static void
test_tls_expiry_warning(void **state)
{
	struct test_config tc;
	SSL_CTX *ctx;
	time_t now = time(NULL);

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	pki_path(tc.cert, "server-short-chain.pem");
	pki_path(tc.key, "server-short.key");
	ctx = server_ctx(&tc);
	/* Only the leaf is valid for less than 30 days. */
	assert_int_equal(tls_warn_expiry(ctx, now), 1);
	assert_int_equal(tls_warn_expiry(ctx, now - 30 * 86400), 0);
	SSL_CTX_free(ctx);

	server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
	ctx = server_ctx(&tc);
	assert_int_equal(tls_warn_expiry(ctx, now), 0);
	SSL_CTX_free(ctx);
}

struct check_case {
	const char *file;
	int crl;		/* with crl_file = inter.crl */
	int rc;
	const char *expect;
};

static void
test_tls_check_cert(void **state)
{
	static const struct check_case cases[] = {
		{ "alice-chain.pem", 1, 0, "accepted: subject \"CN=alice\"" },
		{ "alice-chain.pem", 1, 0, "identities: sip:alice@example.com" },
		{ "alice.pem", 0, 1, "Missing intermediate" },
		{ "carol-chain.pem", 1, 1, "certificate revoked" },
		{ "carol-chain.pem", 0, 0, "accepted" },
		{ "expired-chain.pem", 0, 1, "certificate has expired" },
		{ "mallory.pem", 0, 1, "Unknown CA" },
		{ "alice.key", 0, 2, "contains no PEM certificate" },
	};
	struct test_config tc;
	char path[PATH_MAX];
	char *text;
	size_t len, i;
	FILE *out;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		server_config(&tc, "phones-ca.pem", VERIFY_REQUIRE);
		if (cases[i].crl)
			config_add_crl(&tc, "inter.crl", CRL_CHECK_LEAF);
		pki_path(path, cases[i].file);
		out = open_memstream(&text, &len);
		assert_non_null(out);
		rc = tls_check_cert(&tc.cfg, path, out);
		fclose(out);
		if (rc != cases[i].rc || strstr(text, cases[i].expect) == NULL)
			print_error("%s: rc %d:\n%s", cases[i].file, rc, text);
		assert_int_equal(rc, cases[i].rc);
		assert_contains(text, cases[i].expect);
		free(text);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_chain_accepted),
		cmocka_unit_test(test_tls_leaf_missing_intermediate),
		cmocka_unit_test(test_tls_leaf_with_full_ca),
		cmocka_unit_test(test_tls_untrusted_ca),
		cmocka_unit_test(test_tls_untrusted_root_sent),
		cmocka_unit_test(test_tls_expired),
		cmocka_unit_test(test_tls_no_cert_required),
		cmocka_unit_test(test_tls_no_cert_optional),
		cmocka_unit_test(test_tls_bad_cert_optional),
		cmocka_unit_test(test_tls_verify_off),
		cmocka_unit_test(test_tls_verify_depth),
		cmocka_unit_test(test_tls_resumption),
		cmocka_unit_test(test_tls_client_tls11),
		cmocka_unit_test(test_tls_client_tls12_min13),
		cmocka_unit_test(test_tls_no_shared_cipher),
		cmocka_unit_test(test_tls_plaintext_sip),
		cmocka_unit_test(test_tls_plaintext_http),
		cmocka_unit_test(test_tls_garbage_not_plaintext),
		cmocka_unit_test(test_tls_libevent_errors),
		cmocka_unit_test(test_tls_missing_certificate),
		cmocka_unit_test(test_tls_key_mismatch),
		cmocka_unit_test(test_tls_bad_ca_file),
		cmocka_unit_test(test_tls_backend_hosts),
		cmocka_unit_test(test_tls_backend_sni),
		cmocka_unit_test(test_tls_backend_name_mismatch),
		cmocka_unit_test(test_tls_backend_untrusted),
		cmocka_unit_test(test_tls_client_ssl_no_host),
		cmocka_unit_test(test_tls_crl_revoked),
		cmocka_unit_test(test_tls_crl_chain),
		cmocka_unit_test(test_tls_crl_file_invalid),
		cmocka_unit_test(test_tls_policy_checked),
		cmocka_unit_test(test_tls_policy_versions),
		cmocka_unit_test(test_tls_ticket_rotation),
		cmocka_unit_test(test_tls_resumption_off),
		cmocka_unit_test(test_tls_peer_identities),
		cmocka_unit_test(test_tls_rsa_and_ecdsa),
		cmocka_unit_test(test_tls_same_key_type),
		cmocka_unit_test(test_tls_sni),
		cmocka_unit_test(test_tls_expiry_warning),
		cmocka_unit_test(test_tls_check_cert),
	};

	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
