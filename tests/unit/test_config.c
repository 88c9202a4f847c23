/* Unit tests for config.c: each test writes an ini file and empty
 * certificate files into a fresh temporary folder and loads it.
 * Run from the repository root: config_sample_file reads
 * conf/sipsgate.ini. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/tls1.h>

#include "config.h"
#include "log.h"

struct fixture {
	char dir[64];		/* temporary folder, removed by teardown */
	char ini[128];		/* dir/sipsgate.ini */
	struct config *cfg;	/* result of the last load */
	char *errs;		/* error output of the last load */
	size_t errs_len;
};

/* The four sections every valid file needs; MINIMAL_LINES lines long, so
 * a test that appends to it knows its line numbers. */
#define MINIMAL							\
	"[tls]\n"						\
	"certificate = server-chain.pem\n"			\
	"private_key = server.key\n"				\
	"ca_file = phones-ca.pem\n"				\
	"[backend]\n"						\
	"uri = sip:127.0.0.1:5060\n"				\
	"[proxy]\n"						\
	"public_host = sips.example.com\n"
#define MINIMAL_LINES	8

/* An empty file is enough: config.c checks only that it can be read. */
static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		fail_msg("cannot create %s", path);
	fputs(text, fp);
	fclose(fp);
}

static void
create_in_dir(const struct fixture *f, const char *name, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	write_file(path, text);
}

static int
setup(void **state)
{
	static const char *const files[] = {
		"server-chain.pem", "server.key", "phones-ca.pem",
		"backend-ca.pem", "client.pem", "client.key",
	};
	struct fixture *f = calloc(1, sizeof(*f));
	size_t i;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->ini, sizeof(f->ini), "%s/sipsgate.ini", f->dir);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		create_in_dir(f, files[i], "");
	*state = f;
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	config_free(f->cfg);
	free(f->errs);
	nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Loads path and keeps both the result and the error output. */
static struct config *
load_path(struct fixture *f, const char *path)
{
	FILE *errs;

	config_free(f->cfg);
	free(f->errs);
	f->errs = NULL;
	errs = open_memstream(&f->errs, &f->errs_len);
	assert_non_null(errs);
	f->cfg = config_load(path, errs);
	fclose(errs);
	return f->cfg;
}

static struct config *
load(struct fixture *f, const char *text)
{
	write_file(f->ini, text);
	return load_path(f, f->ini);
}

static int
count_errors(const struct fixture *f)
{
	const char *p;
	int n = 0;

	for (p = f->errs; *p != '\0'; p++)
		if (*p == '\n')
			n++;
	return n;
}

static int
has_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return 1;
		p += len;
	}
	return 0;
}

/* Fails unless the output has the whole line "ini:line: message". */
static void
expect_error(const struct fixture *f, int line, const char *fmt, ...)
{
	char msg[1024], want[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(want, sizeof(want), "%s:%d: %s", f->ini, line, msg);
	if (!has_line(f->errs, want))
		fail_msg("expected the line\n  %s\nin the errors\n%s", want,
		    f->errs);
}

/* Fails unless loading text gives exactly one error, on that line. */
static void
expect_only_error(struct fixture *f, const char *text, int line,
    const char *msg)
{
	if (load(f, text) != NULL)
		fail_msg("loaded without errors:\n%s", text);
	expect_error(f, line, "%s", msg);
	if (count_errors(f) != 1)
		fail_msg("expected one error, got:\n%s", f->errs);
}

static void
expect_loaded(struct fixture *f, const char *text)
{
	if (load(f, text) == NULL)
		fail_msg("load failed:\n%s", f->errs);
}

/* ---- valid files ---- */

static void
config_minimal_defaults(void **state)
{
	struct fixture *f = *state;
	const struct sockaddr_in *sin;
	char path[PATH_MAX + 32];
	struct config *cfg;

	expect_loaded(f, MINIMAL);
	cfg = f->cfg;

	assert_string_equal(cfg->path, f->ini);
	assert_int_equal(cfg->tls.nlisten, 1);
	assert_string_equal(cfg->tls.listen[0].text, "0.0.0.0:5061");
	assert_string_equal(cfg->tls.listen[0].host, "0.0.0.0");
	assert_int_equal(cfg->tls.listen[0].port, 5061);
	assert_int_equal(cfg->tls.listen[0].ss.ss_family, AF_INET);
	assert_int_equal(cfg->tls.listen[0].len, sizeof(struct sockaddr_in));
	snprintf(path, sizeof(path), "%s/server-chain.pem", f->dir);
	assert_int_equal(cfg->tls.certs.ncertificate, 1);
	assert_string_equal(cfg->tls.certs.certificate[0], path);
	snprintf(path, sizeof(path), "%s/server.key", f->dir);
	assert_int_equal(cfg->tls.certs.nprivate_key, 1);
	assert_string_equal(cfg->tls.certs.private_key[0], path);
	assert_null(cfg->tls.certs.server_name);
	assert_int_equal(cfg->tls.nsni, 0);
	snprintf(path, sizeof(path), "%s/phones-ca.pem", f->dir);
	assert_string_equal(cfg->tls.ca_file, path);
	assert_null(cfg->tls.crl_file);
	assert_int_equal(cfg->tls.crl_check, CRL_CHECK_LEAF);
	assert_int_equal(cfg->tls.verify_client, VERIFY_REQUIRE);
	assert_int_equal(cfg->tls.verify_depth, 4);
	assert_int_equal(cfg->tls.min_version, TLS1_2_VERSION);
	assert_int_equal(cfg->tls.max_version, TLS1_3_VERSION);
	assert_string_equal(cfg->tls.ciphers, CONFIG_DEFAULT_CIPHERS);
	assert_string_equal(cfg->tls.ciphersuites,
	    CONFIG_DEFAULT_CIPHERSUITES);
	assert_string_equal(cfg->tls.groups, CONFIG_DEFAULT_GROUPS);
	assert_int_equal(cfg->tls.session_resumption, 1);
	assert_int_equal(cfg->tls.ticket_key_rotation, 3600);
	assert_int_equal(cfg->tls.identity_check, IDENTITY_OFF);
	assert_int_equal(cfg->tls.ntrusted_headers, 2);
	assert_string_equal(cfg->tls.trusted_headers[0],
	    "P-Asserted-Identity");
	assert_string_equal(cfg->tls.trusted_headers[1],
	    "X-Sipsgate-Client-Identity");

	assert_string_equal(cfg->backend.uri, "sip:127.0.0.1:5060");
	assert_int_equal(cfg->backend.transport, TRANSPORT_UDP);
	assert_int_equal(cfg->backend.sips, 0);
	assert_string_equal(cfg->backend.host, "127.0.0.1");
	assert_int_equal(cfg->backend.port, 5060);
	sin = (const struct sockaddr_in *)&cfg->backend.addr;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 5060);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(cfg->backend.addrlen, sizeof(struct sockaddr_in));
	assert_string_equal(cfg->backend.listen.text, "127.0.0.1:5070");
	assert_int_equal(cfg->backend.listen.port, 5070);
	assert_null(cfg->backend.ca_file);
	assert_null(cfg->backend.certificate);
	assert_null(cfg->backend.private_key);

	assert_string_equal(cfg->proxy.public_host, "sips.example.com");
	assert_int_equal(cfg->proxy.public_port, 5061);
	assert_int_equal(cfg->proxy.sips_plain_backend, SIPS_REJECT);

	assert_int_equal(cfg->limits.max_message_size, 65535);
	assert_int_equal(cfg->limits.max_headers, 100);
	assert_int_equal(cfg->limits.max_line_length, 8192);
	assert_int_equal(cfg->limits.max_via, 70);
	assert_int_equal(cfg->limits.max_connections, 10000);
	assert_int_equal(cfg->limits.max_connections_per_ip, 100);
	assert_int_equal(cfg->limits.handshake_timeout, 10);
	assert_int_equal(cfg->limits.idle_timeout, 300);
	assert_int_equal(cfg->limits.header_timeout, 30);
	assert_int_equal(cfg->limits.output_high_water, 1048576);

	assert_int_equal(cfg->log_level, LOGL_INFO);
	assert_int_equal(count_errors(f), 0);
}

static void
config_all_keys_set(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];
	struct config *cfg;

	expect_loaded(f,
	    "; every key, none at its default\n"
	    "[tls]\n"
	    "listen = 127.0.0.1:5071, [::1]:5072\n"
	    "certificate = server-chain.pem, client.pem\n"
	    "private_key = server.key,client.key\n"
	    "ca_file = phones-ca.pem\n"
	    "crl_file = backend-ca.pem\n"
	    "crl_check = chain\n"
	    "verify_client = optional\n"
	    "verify_depth = 2\n"
	    "min_version = 1.3\n"
	    "max_version = 1.3\n"
	    "ciphers = ECDHE+AESGCM\n"
	    "ciphersuites = TLS_AES_128_GCM_SHA256\n"
	    "groups = P-384\n"
	    "session_resumption = no\n"
	    "ticket_key_rotation = 600\n"
	    "identity_check = user\n"
	    "trusted_headers = X-Asserted\n"
	    "[sni:Phones.Example.ORG]\n"
	    "certificate = client.pem\n"
	    "private_key = client.key\n"
	    "[backend]\n"
	    "uri = sips:127.0.0.1:5081\n"
	    "listen = 127.0.0.2:5090\n"
	    "ca_file = backend-ca.pem\n"
	    "certificate = client.pem\n"
	    "private_key = client.key\n"
	    "[proxy]\n"
	    "public_host = [::1]\n"
	    "sips_plain_backend = relay\n"
	    "[limits]\n"
	    "max_message_size = 4096\n"
	    "max_headers = 64\n"
	    "max_line_length = 1024\n"
	    "max_via = 8\n"
	    "max_connections = 50\n"
	    "max_connections_per_ip = 5\n"
	    "handshake_timeout = 3\n"
	    "idle_timeout = 120\n"
	    "header_timeout = 7\n"
	    "[log]\n"
	    "level = debug\n");
	cfg = f->cfg;

	assert_int_equal(cfg->tls.nlisten, 2);
	assert_string_equal(cfg->tls.listen[0].text, "127.0.0.1:5071");
	assert_string_equal(cfg->tls.listen[1].text, "[::1]:5072");
	assert_int_equal(cfg->tls.verify_client, VERIFY_OPTIONAL);
	assert_int_equal(cfg->tls.verify_depth, 2);
	assert_int_equal(cfg->tls.min_version, TLS1_3_VERSION);
	assert_int_equal(cfg->tls.certs.ncertificate, 2);
	assert_int_equal(cfg->tls.certs.nprivate_key, 2);
	snprintf(path, sizeof(path), "%s/client.pem", f->dir);
	assert_string_equal(cfg->tls.certs.certificate[1], path);
	snprintf(path, sizeof(path), "%s/client.key", f->dir);
	assert_string_equal(cfg->tls.certs.private_key[1], path);
	snprintf(path, sizeof(path), "%s/backend-ca.pem", f->dir);
	assert_string_equal(cfg->tls.crl_file, path);
	assert_int_equal(cfg->tls.crl_check, CRL_CHECK_CHAIN);
	assert_int_equal(cfg->tls.max_version, TLS1_3_VERSION);
	assert_string_equal(cfg->tls.ciphers, "ECDHE+AESGCM");
	assert_string_equal(cfg->tls.ciphersuites, "TLS_AES_128_GCM_SHA256");
	assert_string_equal(cfg->tls.groups, "P-384");
	assert_int_equal(cfg->tls.session_resumption, 0);
	assert_int_equal(cfg->tls.ticket_key_rotation, 600);
	assert_int_equal(cfg->tls.identity_check, IDENTITY_USER);
	assert_int_equal(cfg->tls.ntrusted_headers, 1);
	assert_string_equal(cfg->tls.trusted_headers[0], "X-Asserted");
	assert_int_equal(cfg->tls.nsni, 1);
	assert_string_equal(cfg->tls.sni[0].server_name, "phones.example.org");
	assert_int_equal(cfg->tls.sni[0].ncertificate, 1);
	snprintf(path, sizeof(path), "%s/client.key", f->dir);
	assert_string_equal(cfg->tls.sni[0].private_key[0], path);
	assert_int_equal(cfg->tls.sni[0].certificate_line, 21);
	assert_int_equal(config_line(cfg, "tls", "groups"), 15);
	assert_int_equal(config_line(cfg, "proxy", "max_message_size"), 0);
	assert_int_equal(config_line(cfg, "tls", "no_such_key"), 0);

	assert_int_equal(cfg->backend.transport, TRANSPORT_TLS);
	assert_int_equal(cfg->backend.sips, 1);
	assert_int_equal(cfg->backend.port, 5081);
	assert_string_equal(cfg->backend.listen.text, "127.0.0.2:5090");
	snprintf(path, sizeof(path), "%s/backend-ca.pem", f->dir);
	assert_string_equal(cfg->backend.ca_file, path);
	snprintf(path, sizeof(path), "%s/client.pem", f->dir);
	assert_string_equal(cfg->backend.certificate, path);
	snprintf(path, sizeof(path), "%s/client.key", f->dir);
	assert_string_equal(cfg->backend.private_key, path);

	assert_string_equal(cfg->proxy.public_host, "[::1]");
	assert_int_equal(cfg->proxy.public_port, 5071);
	assert_int_equal(cfg->proxy.sips_plain_backend, SIPS_RELAY);

	assert_int_equal(cfg->limits.max_message_size, 4096);
	assert_int_equal(cfg->limits.max_headers, 64);
	assert_int_equal(cfg->limits.max_line_length, 1024);
	assert_int_equal(cfg->limits.max_via, 8);
	assert_int_equal(cfg->limits.max_connections, 50);
	assert_int_equal(cfg->limits.max_connections_per_ip, 5);
	assert_int_equal(cfg->limits.handshake_timeout, 3);
	assert_int_equal(cfg->limits.idle_timeout, 120);
	assert_int_equal(cfg->limits.header_timeout, 7);
	assert_int_equal(cfg->log_level, LOGL_DEBUG);
}

static void
config_log_levels(void **state)
{
	static const struct {
		const char *name;
		int level;
	} cases[] = {
		{ "error", LOGL_ERROR },
		{ "warning", LOGL_WARNING },
		{ "notice", LOGL_NOTICE },
		{ "info", LOGL_INFO },
		{ "debug", LOGL_DEBUG },
	};
	struct fixture *f = *state;
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), MINIMAL "[log]\nlevel = %s\n",
		    cases[i].name);
		expect_loaded(f, text);
		assert_int_equal(f->cfg->log_level, cases[i].level);
	}
}

static void
config_ca_file_optional_when_verify_off(void **state)
{
	struct fixture *f = *state;

	/* Value names compare case-insensitively, as log levels do. */
	expect_loaded(f,
	    "[tls]\n"
	    "certificate = server-chain.pem\n"
	    "private_key = server.key\n"
	    "verify_client = Off\n"
	    "[backend]\n"
	    "uri = sip:127.0.0.1\n"
	    "[proxy]\n"
	    "public_host = 127.0.0.1\n");
	assert_null(f->cfg->tls.ca_file);
	assert_int_equal(f->cfg->tls.verify_client, VERIFY_OFF);
}

static void
config_indented_key_is_not_continuation(void **state)
{
	struct fixture *f = *state;

	/* Without the reader's blank stripping, inih would append the
	 * indented line to the value of public_host. */
	expect_loaded(f, MINIMAL "\n    sips_plain_backend = relay\n"
	    "[limits]\n  max_via = 9\n");
	assert_string_equal(f->cfg->proxy.public_host, "sips.example.com");
	assert_int_equal(f->cfg->proxy.sips_plain_backend, SIPS_RELAY);
	assert_int_equal(f->cfg->limits.max_via, 9);
}

static void
config_comments_and_crlf(void **state)
{
	struct fixture *f = *state;

	expect_loaded(f,
	    "# hash comment\r\n"
	    "[tls]\r\n"
	    "certificate = server-chain.pem ; inline comment\r\n"
	    "private_key = server.key\r\n"
	    "ca_file = phones-ca.pem\r\n"
	    "[backend]\r\n"
	    "uri = sip:127.0.0.1:5060;transport=tcp\r\n"
	    "[proxy]\r\n"
	    "public_host = sips.example.com\r\n");
	assert_int_equal(f->cfg->backend.transport, TRANSPORT_TCP);
	assert_string_equal(f->cfg->backend.uri,
	    "sip:127.0.0.1:5060;transport=tcp");
}

/* ---- errors in keys and sections ---- */

static void
config_unknown_key(void **state)
{
	expect_only_error(*state, MINIMAL "[tls]\nverify = off\n",
	    MINIMAL_LINES + 2, "verify: unknown key in [tls]");
}

static void
config_unknown_section(void **state)
{
	/* Reported once, at the first key, not once per key. */
	expect_only_error(*state, MINIMAL "[server]\nport = 1\nhost = x\n",
	    MINIMAL_LINES + 2, "port: unknown section [server] (expected "
	    "general, tls, backend, proxy, limits, log or sni:NAME)");
}

static void
config_key_outside_section(void **state)
{
	expect_only_error(*state, "level = debug\n" MINIMAL, 1,
	    "level: key outside any section (expected a [section] line "
	    "above it)");
}

static void
config_repeated_key(void **state)
{
	expect_only_error(*state,
	    MINIMAL "[limits]\nmax_via = 3\n[tls]\n[limits]\nmax_via = 4\n",
	    MINIMAL_LINES + 5, "max_via: key set twice, first at line 10");
}

static void
config_bad_enum(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "[tls]\nverify_client = maybe\n",
		  "verify_client: invalid value \"maybe\" (expected require, "
		  "optional or off)" },
		{ "[tls]\nverify_client = required\n",
		  "verify_client: invalid value \"required\" (expected "
		  "require, optional or off)" },
		{ "[tls]\nmin_version = 1.1\n",
		  "min_version: invalid value \"1.1\" (expected 1.2 or 1.3)" },
		{ "[proxy]\nsips_plain_backend = allow\n",
		  "sips_plain_backend: invalid value \"allow\" (expected "
		  "reject or relay)" },
		{ "[log]\nlevel = loud\n",
		  "level: invalid value \"loud\" (expected error, warning, "
		  "notice, info or debug)" },
	};
	struct fixture *f = *state;
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", MINIMAL, cases[i].text);
		expect_only_error(f, text, MINIMAL_LINES + 2, cases[i].msg);
	}
}

static void
config_number_out_of_range(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "[tls]\nverify_depth = 0\n",
		  "verify_depth: value 0 out of range (expected 1 to 10)" },
		{ "[tls]\nverify_depth = 11\n",
		  "verify_depth: value 11 out of range (expected 1 to 10)" },
		{ "[limits]\nmax_message_size = 1499\n",
		  "max_message_size: value 1499 out of range (expected 1500 "
		  "to 1048576)" },
		{ "[limits]\nmax_headers = 257\n",
		  "max_headers: value 257 out of range (expected 16 to "
		  "256)" },
		{ "[limits]\nidle_timeout = 86401\n",
		  "idle_timeout: value 86401 out of range (expected 1 to "
		  "86400)" },
		{ "[limits]\nmax_connections = 99999999999999999999999\n",
		  "max_connections: value 99999999999999999999999 out of "
		  "range (expected 1 to 1000000)" },
	};
	struct fixture *f = *state;
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", MINIMAL, cases[i].text);
		expect_only_error(f, text, MINIMAL_LINES + 2, cases[i].msg);
	}
}

static void
config_number_not_decimal(void **state)
{
	static const char *const values[] = {
		"0x10", "-1", "+5", "1e3", "5s", "", "4 5",
	};
	struct fixture *f = *state;
	char text[1024], msg[256];
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(text, sizeof(text), MINIMAL "[limits]\n"
		    "header_timeout = %s\n", values[i]);
		snprintf(msg, sizeof(msg), "header_timeout: invalid value "
		    "\"%s\" (expected a decimal number from 1 to 86400)",
		    values[i]);
		expect_only_error(f, text, MINIMAL_LINES + 2, msg);
	}
}

static void
config_missing_required(void **state)
{
	struct fixture *f = *state;

	assert_null(load(f, "; nothing but a comment\n"));
	expect_error(f, 0, "certificate: missing required key in [tls]");
	expect_error(f, 0, "private_key: missing required key in [tls]");
	expect_error(f, 0, "ca_file: missing in [tls] (required unless "
	    "verify_client = off)");
	expect_error(f, 0, "uri: missing required key in [backend]");
	expect_error(f, 0, "public_host: missing required key in [proxy]");
	assert_int_equal(count_errors(f), 5);
}

static void
config_empty_required_path(void **state)
{
	expect_only_error(*state,
	    "[tls]\n"
	    "certificate =\n"
	    "private_key = server.key\n"
	    "ca_file = phones-ca.pem\n"
	    "[backend]\n"
	    "uri = sip:127.0.0.1\n"
	    "[proxy]\n"
	    "public_host = sips.example.com\n",
	    2, "certificate: empty value (expected a file name)");
}

static void
config_empty_ca_file(void **state)
{
	expect_only_error(*state,
	    "[tls]\n"
	    "certificate = server-chain.pem\n"
	    "private_key = server.key\n"
	    "ca_file =\n"
	    "[backend]\n"
	    "uri = sip:127.0.0.1\n"
	    "[proxy]\n"
	    "public_host = sips.example.com\n",
	    4, "ca_file: empty value in [tls] (required unless "
	    "verify_client = off)");
}

static void
config_unreadable_file(void **state)
{
	struct fixture *f = *state;
	char msg[PATH_MAX + 128];

	snprintf(msg, sizeof(msg), "private_key: cannot read %s/missing.key: "
	    "No such file or directory", f->dir);
	expect_only_error(f,
	    "[tls]\n"
	    "certificate = server-chain.pem\n"
	    "private_key = missing.key\n"
	    "ca_file = phones-ca.pem\n"
	    "[backend]\n"
	    "uri = sip:127.0.0.1\n"
	    "[proxy]\n"
	    "public_host = sips.example.com\n",
	    3, msg);
}

static void
config_path_is_directory(void **state)
{
	struct fixture *f = *state;
	char msg[PATH_MAX + 128];

	char text[PATH_MAX + 512];

	snprintf(msg, sizeof(msg), "ca_file: cannot read %s: Is a directory",
	    f->dir);
	snprintf(text, sizeof(text),
	    "[tls]\n"
	    "certificate = server-chain.pem\n"
	    "private_key = server.key\n"
	    "ca_file = %s\n"
	    "[backend]\n"
	    "uri = sip:127.0.0.1\n"
	    "[proxy]\n"
	    "public_host = sips.example.com\n", f->dir);
	expect_only_error(f, text, 4, msg);
}

static void
config_open_failure(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32], want[2 * PATH_MAX];

	snprintf(path, sizeof(path), "%s/absent.ini", f->dir);
	assert_null(load_path(f, path));
	snprintf(want, sizeof(want), "%s:0: cannot open: No such file or "
	    "directory", path);
	if (!has_line(f->errs, want))
		fail_msg("expected\n  %s\ngot\n%s", want, f->errs);
	assert_int_equal(count_errors(f), 1);
}

static void
config_relative_paths(void **state)
{
	struct fixture *f = *state;
	char sub[PATH_MAX + 16], path[PATH_MAX + 64], real[PATH_MAX];
	int cwd;

	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub/certs", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	create_in_dir(f, "sub/certs/a.pem", "");
	create_in_dir(f, "sub/certs/a.key", "");
	create_in_dir(f, "sub/sipsgate.ini",
	    "[tls]\n"
	    "certificate = certs/a.pem\n"
	    "private_key = ./certs/a.key\n"
	    "ca_file = ../phones-ca.pem\n"
	    "[backend]\n"
	    "uri = sip:127.0.0.1\n"
	    "[proxy]\n"
	    "public_host = sips.example.com\n");

	/* Load through a relative path from another working directory: the
	 * names must still resolve against the file's own folder. */
	cwd = open(".", O_RDONLY | O_DIRECTORY);
	assert_true(cwd >= 0);
	assert_int_equal(chdir(f->dir), 0);
	load_path(f, "sub/sipsgate.ini");
	assert_int_equal(fchdir(cwd), 0);
	close(cwd);

	if (f->cfg == NULL)
		fail_msg("load failed:\n%s", f->errs);
	assert_non_null(realpath(sub, real));
	snprintf(path, sizeof(path), "%s/certs/a.pem", real);
	assert_string_equal(f->cfg->tls.certs.certificate[0], path);
	snprintf(path, sizeof(path), "%s/./certs/a.key", real);
	assert_string_equal(f->cfg->tls.certs.private_key[0], path);
	snprintf(path, sizeof(path), "%s/../phones-ca.pem", real);
	assert_string_equal(f->cfg->tls.ca_file, path);
	assert_true(f->cfg->tls.certs.certificate[0][0] == '/');
}

/* ---- syntax ---- */

static void
config_syntax_errors_all_reported(void **state)
{
	struct fixture *f = *state;

	assert_null(load(f, MINIMAL
	    "[limits]\n"
	    "max_via 3\n"
	    "[log\n"
	    "level = debug\n"
	    "just words\n"));
	expect_error(f, MINIMAL_LINES + 2, "syntax error (expected key = "
	    "value, [section], or a comment starting with ; or #)");
	expect_error(f, MINIMAL_LINES + 3, "syntax error (missing ] at the "
	    "end of the section name)");
	/* inih ignores the broken section line, so the key after it still
	 * belongs to [limits]. */
	expect_error(f, MINIMAL_LINES + 4, "level: unknown key in [limits]");
	expect_error(f, MINIMAL_LINES + 5, "syntax error (expected key = "
	    "value, [section], or a comment starting with ; or #)");
	assert_int_equal(count_errors(f), 4);
}

static void
config_long_line(void **state)
{
	struct fixture *f = *state;
	char text[2048], value[256];

	memset(value, 'a', 240);
	value[240] = '\0';
	snprintf(text, sizeof(text), MINIMAL "[proxy]\n; %s\n"
	    "[limits]\nmax_via = 0\n", value);
	assert_null(load(f, text));
	expect_error(f, MINIMAL_LINES + 2, "line too long (242 characters, "
	    "the maximum is 197 because of the inih line buffer)");
	/* The long line counts as one line, so later numbers stay right. */
	expect_error(f, MINIMAL_LINES + 4, "max_via: value 0 out of range "
	    "(expected 1 to 256)");
	assert_int_equal(count_errors(f), 2);
}

static void
config_line_at_limit(void **state)
{
	struct fixture *f = *state;
	char text[2048], value[256];

	/* "; " plus 195 characters is 197, the longest line accepted. */
	memset(value, 'a', 195);
	value[195] = '\0';
	snprintf(text, sizeof(text), MINIMAL "; %s\n", value);
	expect_loaded(f, text);
}

static void
config_several_errors_reported(void **state)
{
	struct fixture *f = *state;
	const char *first, *second;

	assert_null(load(f,
	    "[tls]\n"
	    "certificate = server-chain.pem\n"
	    "private_key = server.key\n"
	    "verify_client = sometimes\n"
	    "verify_depth = 99\n"
	    "[backend]\n"
	    "uri = http://127.0.0.1\n"
	    "[proxy]\n"
	    "public_host = sips.example.com\n"
	    "colour = blue\n"));
	expect_error(f, 4, "verify_client: invalid value \"sometimes\" "
	    "(expected require, optional or off)");
	expect_error(f, 5, "verify_depth: value 99 out of range (expected 1 "
	    "to 10)");
	expect_error(f, 7, "uri: invalid URI \"http://127.0.0.1\" (expected "
	    "sip:host[:port][;transport=udp|tcp|tls] or sips:host[:port])");
	expect_error(f, 10, "colour: unknown key in [proxy]");
	assert_int_equal(count_errors(f), 4);

	/* Sorted by line. */
	first = strstr(f->errs, ":4: verify_client");
	second = strstr(f->errs, ":5: verify_depth");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
}

static void
config_errors_sorted_missing_last(void **state)
{
	struct fixture *f = *state;
	const char *syntax, *missing;

	/* inih reports the syntax error only after reading the whole file.
	 * It must still come before the later key error. */
	assert_null(load(f, "[tls]\nbogus\nverify_depth = 0\n"));
	syntax = strstr(f->errs, ":2: syntax error");
	assert_non_null(syntax);
	assert_non_null(strstr(f->errs, ":3: verify_depth"));
	assert_true(syntax < strstr(f->errs, ":3: verify_depth"));
	missing = strstr(f->errs, ":0: certificate");
	assert_non_null(missing);
	assert_true(strstr(f->errs, ":3: verify_depth") < missing);
}

/* ---- [tls] listen ---- */

static void
config_listen_ipv6(void **state)
{
	struct fixture *f = *state;
	const struct sockaddr_in6 *sin6;
	struct config *cfg;

	expect_loaded(f, MINIMAL "[tls]\n"
	    "listen = [::1]:5063 , 127.0.0.1,[::]\n");
	cfg = f->cfg;
	assert_int_equal(cfg->tls.nlisten, 3);
	assert_string_equal(cfg->tls.listen[0].text, "[::1]:5063");
	assert_string_equal(cfg->tls.listen[0].host, "::1");
	assert_int_equal(cfg->tls.listen[0].port, 5063);
	assert_int_equal(cfg->tls.listen[0].len, sizeof(struct sockaddr_in6));
	sin6 = (const struct sockaddr_in6 *)&cfg->tls.listen[0].ss;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 5063);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_string_equal(cfg->tls.listen[1].text, "127.0.0.1:5061");
	assert_string_equal(cfg->tls.listen[2].text, "[::]:5061");
	assert_int_equal(cfg->proxy.public_port, 5063);
}

static void
config_bad_listen(void **state)
{
	static const struct {
		const char *value;
		const char *msg;
	} cases[] = {
		{ "localhost:5061",
		  "listen: invalid address \"localhost:5061\" (expected a "
		  "numeric IPv4 address or an IPv6 address in brackets, "
		  "optionally followed by :port)" },
		{ "::1",
		  "listen: invalid address \"::1\" (an IPv6 address needs "
		  "brackets, as in [::1]:5061)" },
		{ "[::1",
		  "listen: invalid address \"[::1\" (expected a numeric IPv4 "
		  "address or an IPv6 address in brackets, optionally "
		  "followed by :port)" },
		{ "[::1]5061",
		  "listen: invalid address \"[::1]5061\" (expected a numeric "
		  "IPv4 address or an IPv6 address in brackets, optionally "
		  "followed by :port)" },
		{ "127.0.0.1:0",
		  "listen: invalid port in \"127.0.0.1:0\" (expected a number "
		  "from 1 to 65535)" },
		{ "127.0.0.1:65536",
		  "listen: invalid port in \"127.0.0.1:65536\" (expected a "
		  "number from 1 to 65535)" },
		{ "127.0.0.1:",
		  "listen: invalid port in \"127.0.0.1:\" (expected a number "
		  "from 1 to 65535)" },
		{ "127.0.0.1:5061,",
		  "listen: empty address in \"127.0.0.1:5061,\"" },
		{ "127.0.0.1:5061, 127.0.0.1",
		  "listen: address 127.0.0.1:5061 is listed twice" },
		{ "[::1]:5061,[0:0::1]:5061",
		  "listen: address [::1]:5061 is listed twice" },
	};
	struct fixture *f = *state;
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), MINIMAL "[tls]\nlisten = %s\n",
		    cases[i].value);
		expect_only_error(f, text, MINIMAL_LINES + 2, cases[i].msg);
	}
}

static void
config_too_many_listen(void **state)
{
	struct fixture *f = *state;
	char text[2048], list[512] = "";
	char msg[128];
	int i;

	/* CONFIG_MAX_LISTEN + 1 short addresses still fit in one line of
	 * at most 197 characters. */
	for (i = 0; i <= CONFIG_MAX_LISTEN; i++) {
		char item[16];

		snprintf(item, sizeof(item), "%s127.0.0.%d", i ? "," : "",
		    i + 1);
		strcat(list, item);
	}
	assert_true(strlen(list) < 190);
	snprintf(text, sizeof(text), MINIMAL "[tls]\nlisten = %s\n", list);
	snprintf(msg, sizeof(msg), "listen: too many addresses (maximum %d)",
	    CONFIG_MAX_LISTEN);
	expect_only_error(f, text, MINIMAL_LINES + 2, msg);
}

static void
config_parse_addr_forms(void **state)
{
	struct listen_addr a;
	char err[256];

	assert_int_equal(config_parse_addr("127.0.0.1", 5061, &a, err,
	    sizeof(err)), 0);
	assert_string_equal(a.text, "127.0.0.1:5061");
	assert_int_equal(a.port, 5061);

	assert_int_equal(config_parse_addr("[::1]", 5070, &a, err,
	    sizeof(err)), 0);
	assert_string_equal(a.text, "[::1]:5070");
	assert_string_equal(a.host, "::1");

	/* The stored text is the canonical form. */
	assert_int_equal(config_parse_addr("[0:0:0:0:0:0:0:1]:99", 5061, &a,
	    err, sizeof(err)), 0);
	assert_string_equal(a.text, "[::1]:99");
	assert_int_equal(a.port, 99);

	assert_int_equal(config_parse_addr("127.1", 5061, &a, err,
	    sizeof(err)), -1);
	assert_int_equal(config_parse_addr("", 5061, &a, err, sizeof(err)),
	    -1);
	assert_int_equal(config_parse_addr("127.0.0.1:5061x", 5061, &a, err,
	    sizeof(err)), -1);
	assert_int_equal(config_parse_addr(" 127.0.0.1", 5061, &a, err,
	    sizeof(err)), -1);
}

/* ---- [backend] ---- */

static void
config_backend_uri_forms(void **state)
{
	static const struct {
		const char *uri;
		const char *extra;	/* more [backend] lines */
		enum transport transport;
		int sips;
		const char *host;
		uint16_t port;
	} cases[] = {
		{ "sip:127.0.0.1", "", TRANSPORT_UDP, 0, "127.0.0.1", 5060 },
		{ "SIP:127.0.0.1:5080;TRANSPORT=TCP", "", TRANSPORT_TCP, 0,
		  "127.0.0.1", 5080 },
		{ "sip:127.0.0.1;transport=udp", "", TRANSPORT_UDP, 0,
		  "127.0.0.1", 5060 },
		{ "sip:127.0.0.1;transport=tls", "ca_file = backend-ca.pem\n",
		  TRANSPORT_TLS, 0, "127.0.0.1", 5061 },
		{ "sips:127.0.0.1", "ca_file = backend-ca.pem\n",
		  TRANSPORT_TLS, 1, "127.0.0.1", 5061 },
		{ "sips:127.0.0.1:5099;transport=tls",
		  "ca_file = backend-ca.pem\n", TRANSPORT_TLS, 1, "127.0.0.1",
		  5099 },
		{ "sip:[::1]:5062;transport=tcp", "listen = [::1]:5070\n",
		  TRANSPORT_TCP, 0, "::1", 5062 },
		{ "sip:[::1]", "listen = [::1]\n", TRANSPORT_UDP, 0, "::1",
		  5060 },
		/* Resolved through /etc/hosts; no DNS query leaves the host. */
		{ "sip:localhost:5088", "", TRANSPORT_UDP, 0, "localhost",
		  5088 },
	};
	struct fixture *f = *state;
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct config *cfg;

		snprintf(text, sizeof(text),
		    "[tls]\n"
		    "certificate = server-chain.pem\n"
		    "private_key = server.key\n"
		    "ca_file = phones-ca.pem\n"
		    "[backend]\n"
		    "uri = %s\n"
		    "%s"
		    "[proxy]\n"
		    "public_host = sips.example.com\n",
		    cases[i].uri, cases[i].extra);
		expect_loaded(f, text);
		cfg = f->cfg;
		assert_string_equal(cfg->backend.uri, cases[i].uri);
		assert_int_equal(cfg->backend.transport, cases[i].transport);
		assert_int_equal(cfg->backend.sips, cases[i].sips);
		assert_string_equal(cfg->backend.host, cases[i].host);
		assert_int_equal(cfg->backend.port, cases[i].port);
		assert_int_equal(cfg->backend.addr.ss_family,
		    cfg->backend.listen.ss.ss_family);
		assert_true(cfg->backend.addrlen > 0);
	}
}

static void
config_backend_uri_errors(void **state)
{
	static const struct {
		const char *uri;
		const char *msg;
	} cases[] = {
		{ "127.0.0.1:5060",
		  "uri: invalid URI \"127.0.0.1:5060\" (expected "
		  "sip:host[:port][;transport=udp|tcp|tls] or "
		  "sips:host[:port])" },
		{ "sip:::1",
		  "uri: invalid URI \"sip:::1\" (an IPv6 address needs "
		  "brackets, as in sip:[::1]:5060)" },
		{ "sip:",
		  "uri: invalid host \"\" (expected an IPv4 address, an IPv6 "
		  "address in brackets or a DNS name)" },
		{ "sip:kamailio@127.0.0.1",
		  "uri: invalid URI \"sip:kamailio@127.0.0.1\" (a user part "
		  "is not allowed, only host and port)" },
		{ "sip:300.1.1.1",
		  "uri: invalid host \"300.1.1.1\" (expected an IPv4 "
		  "address, an IPv6 address in brackets or a DNS name)" },
		{ "sip:bad_name.example",
		  "uri: invalid host \"bad_name.example\" (expected an IPv4 "
		  "address, an IPv6 address in brackets or a DNS name)" },
		{ "sip:[::1",
		  "uri: invalid host \"[::1\" (expected an IPv4 address, an "
		  "IPv6 address in brackets or a DNS name)" },
		{ "sip:127.0.0.1:0",
		  "uri: invalid port in \"sip:127.0.0.1:0\" (expected a "
		  "number from 1 to 65535)" },
		{ "sip:127.0.0.1:70000;transport=tcp",
		  "uri: invalid port in \"sip:127.0.0.1:70000;transport=tcp\" "
		  "(expected a number from 1 to 65535)" },
		{ "sip:127.0.0.1;transport=sctp",
		  "uri: invalid transport \"sctp\" in "
		  "\"sip:127.0.0.1;transport=sctp\" (expected udp, tcp or "
		  "tls)" },
		{ "sip:127.0.0.1;lr",
		  "uri: unsupported parameter \"lr\" in \"sip:127.0.0.1;lr\" "
		  "(only transport=udp, tcp or tls is allowed)" },
		{ "sip:127.0.0.1;transport=udp;transport=tcp",
		  "uri: transport given twice in "
		  "\"sip:127.0.0.1;transport=udp;transport=tcp\"" },
		{ "sip:127.0.0.1?subject=x",
		  "uri: invalid host \"127.0.0.1?subject=x\" (expected an "
		  "IPv4 address, an IPv6 address in brackets or a DNS "
		  "name)" },
		{ "sip:[::1]:5060",
		  "uri: host ::1 is not an IPv4 address like [backend] "
		  "listen 127.0.0.1:5070 (both must be of one family)" },
	};
	struct fixture *f = *state;
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
		    "[tls]\n"
		    "certificate = server-chain.pem\n"
		    "private_key = server.key\n"
		    "ca_file = phones-ca.pem\n"
		    "[backend]\n"
		    "uri = %s\n"
		    "[proxy]\n"
		    "public_host = sips.example.com\n", cases[i].uri);
		expect_only_error(f, text, 6, cases[i].msg);
	}
}

static void
config_sips_with_udp(void **state)
{
	expect_only_error(*state,
	    "[tls]\n"
	    "certificate = server-chain.pem\n"
	    "private_key = server.key\n"
	    "ca_file = phones-ca.pem\n"
	    "[backend]\n"
	    "uri = sips:127.0.0.1;transport=udp\n"
	    "[proxy]\n"
	    "public_host = sips.example.com\n",
	    6, "uri: invalid URI \"sips:127.0.0.1;transport=udp\" (sips: "
	    "requires transport tls, so use sip: for udp or tcp)");
}

static void
config_tls_backend_without_ca(void **state)
{
	struct fixture *f = *state;

	expect_only_error(f,
	    "[tls]\n"
	    "certificate = server-chain.pem\n"
	    "private_key = server.key\n"
	    "ca_file = phones-ca.pem\n"
	    "[backend]\n"
	    "uri = sips:127.0.0.1\n"
	    "[proxy]\n"
	    "public_host = sips.example.com\n", 0,
	    "ca_file: missing in [backend] (required because [backend] uri "
	    "uses TLS, line 6)");
	expect_only_error(f,
	    "[tls]\n"
	    "certificate = server-chain.pem\n"
	    "private_key = server.key\n"
	    "ca_file = phones-ca.pem\n"
	    "[backend]\n"
	    "uri = sips:127.0.0.1\n"
	    "ca_file =\n"
	    "[proxy]\n"
	    "public_host = sips.example.com\n", 7,
	    "ca_file: empty value in [backend] (required because [backend] "
	    "uri uses TLS, line 6)");
}

static void
config_backend_tls_keys_with_udp(void **state)
{
	expect_only_error(*state, MINIMAL "[backend]\n"
	    "ca_file = backend-ca.pem\n", MINIMAL_LINES + 2,
	    "ca_file: only used with a TLS backend, but [backend] uri uses "
	    "udp (line 6)");
}

static void
config_backend_certificate_without_key(void **state)
{
	expect_only_error(*state,
	    "[tls]\n"
	    "certificate = server-chain.pem\n"
	    "private_key = server.key\n"
	    "ca_file = phones-ca.pem\n"
	    "[backend]\n"
	    "uri = sips:127.0.0.1\n"
	    "ca_file = backend-ca.pem\n"
	    "certificate = client.pem\n"
	    "[proxy]\n"
	    "public_host = sips.example.com\n",
	    8, "certificate: set without private_key in [backend] (set both "
	    "or neither)");
}

static void
config_backend_listen_errors(void **state)
{
	struct fixture *f = *state;

	expect_only_error(f, MINIMAL "[backend]\nlisten = 0.0.0.0:5070\n",
	    MINIMAL_LINES + 2, "listen: wildcard address 0.0.0.0:5070 cannot "
	    "appear in Via or Record-Route (expected the address the backend "
	    "sends to)");
	expect_only_error(f, MINIMAL "[backend]\nlisten = [::]\n",
	    MINIMAL_LINES + 2, "listen: wildcard address [::]:5070 cannot "
	    "appear in Via or Record-Route (expected the address the backend "
	    "sends to)");
	expect_only_error(f, MINIMAL "[backend]\nlisten = [::1]:5070\n", 6,
	    "uri: host 127.0.0.1 is not an IPv6 address like [backend] "
	    "listen [::1]:5070 (both must be of one family)");
}

/* ---- [proxy] ---- */

static void
config_public_host_forms(void **state)
{
	static const char *const valid[] = {
		"sips.example.com", "127.0.0.1", "[::1]", "edge-1.example",
	};
	static const struct {
		const char *value;
		const char *reason;
	} invalid[] = {
		{ "::1", "an IPv6 address needs brackets, as in [::1]" },
		{ "-edge.example", "expected an IPv4 address, an IPv6 address "
		  "in brackets or a DNS name" },
		{ "edge..example", "expected an IPv4 address, an IPv6 address "
		  "in brackets or a DNS name" },
		{ "edge.example.", "expected an IPv4 address, an IPv6 address "
		  "in brackets or a DNS name" },
		{ "sips.example.com:5061", "a port is not allowed here, because "
		  "the port is that of the first [tls] listen address" },
	};
	struct fixture *f = *state;
	char text[1024];
	size_t i;

	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		snprintf(text, sizeof(text), "[tls]\n"
		    "certificate = server-chain.pem\n"
		    "private_key = server.key\n"
		    "ca_file = phones-ca.pem\n"
		    "[backend]\n"
		    "uri = sip:127.0.0.1\n"
		    "[proxy]\n"
		    "public_host = %s\n", valid[i]);
		expect_loaded(f, text);
		assert_string_equal(f->cfg->proxy.public_host, valid[i]);
	}
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		snprintf(text, sizeof(text), "[tls]\n"
		    "certificate = server-chain.pem\n"
		    "private_key = server.key\n"
		    "ca_file = phones-ca.pem\n"
		    "[backend]\n"
		    "uri = sip:127.0.0.1\n"
		    "[proxy]\n"
		    "public_host = %s\n", invalid[i].value);
		assert_null(load(f, text));
		expect_error(f, 8, "public_host: invalid host \"%s\" (%s)",
		    invalid[i].value, invalid[i].reason);
		assert_int_equal(count_errors(f), 1);
	}
}

static void
config_max_message_size_alias(void **state)
{
	struct fixture *f = *state;

	expect_loaded(f, MINIMAL "max_message_size = 2000\n");
	assert_int_equal(f->cfg->limits.max_message_size, 2000);

	expect_only_error(f, MINIMAL "max_message_size = 2000\n"
	    "[limits]\nmax_message_size = 3000\n", MINIMAL_LINES + 3,
	    "max_message_size: also set in [proxy] at line 9 (set it in one "
	    "section only)");
}

/* ---- [general] and [log] output ---- */

static void
config_general_defaults(void **state)
{
	struct fixture *f = *state;

	expect_loaded(f, MINIMAL);
	assert_null(f->cfg->general.user);
	assert_null(f->cfg->general.group);
	assert_int_equal(f->cfg->general.shutdown_timeout, 5);
	assert_int_equal(f->cfg->log_syslog, 0);
	assert_int_equal(f->cfg->log_facility, LOG_DAEMON);
}

static void
config_general_keys_set(void **state)
{
	struct fixture *f = *state;

	expect_loaded(f, "[general]\n"
	    "user = sipsgate\n"
	    "group = ssl-cert_2.x\n"
	    "shutdown_timeout = 0\n"
	    MINIMAL
	    "[log]\n"
	    "syslog = yes\n"
	    "facility = local5\n");
	assert_string_equal(f->cfg->general.user, "sipsgate");
	assert_string_equal(f->cfg->general.group, "ssl-cert_2.x");
	assert_int_equal(f->cfg->general.shutdown_timeout, 0);
	assert_int_equal(f->cfg->log_syslog, 1);
	assert_int_equal(f->cfg->log_facility, LOG_LOCAL5);
}

static void
config_general_empty_user(void **state)
{
	struct fixture *f = *state;

	expect_loaded(f, "[general]\nuser =\ngroup =\n" MINIMAL);
	assert_null(f->cfg->general.user);
	assert_null(f->cfg->general.group);
}

static void
config_general_bad_values(void **state)
{
	struct fixture *f = *state;

	expect_only_error(f, MINIMAL "[general]\nuser = a:b\n",
	    MINIMAL_LINES + 2, "user: invalid name \"a:b\" (expected at "
	    "most 32 letters, digits, '.', '_' or '-', not starting with "
	    "'-')");
	expect_only_error(f, MINIMAL "[general]\ngroup = -x\n",
	    MINIMAL_LINES + 2, "group: invalid name \"-x\" (expected at "
	    "most 32 letters, digits, '.', '_' or '-', not starting with "
	    "'-')");
	expect_only_error(f, MINIMAL "[general]\nshutdown_timeout = 3601\n",
	    MINIMAL_LINES + 2, "shutdown_timeout: value 3601 out of range "
	    "(expected 0 to 3600)");
}

static void
config_log_syslog_bad_values(void **state)
{
	struct fixture *f = *state;

	expect_only_error(f, MINIMAL "[log]\nsyslog = maybe\n",
	    MINIMAL_LINES + 2, "syslog: invalid value \"maybe\" (expected "
	    "yes or no)");
	expect_only_error(f, MINIMAL "[log]\nfacility = local8\n",
	    MINIMAL_LINES + 2, "facility: invalid value \"local8\" "
	    "(expected daemon, local0, local1, local2, local3, local4, "
	    "local5, local6 or local7)");
}

/* ---- misc ---- */

static void
config_free_null(void **state)
{
	config_free(NULL);
}

static void
config_sample_file(void **state)
{
	struct fixture *f = *state;
	const char *line;
	int n = 0;

	if (access("conf/sipsgate.ini", R_OK) != 0)
		fail_msg("conf/sipsgate.ini not found: run from the "
		    "repository root");
	load_path(f, "conf/sipsgate.ini");

	/* The sample names files under /etc/sipsgate, which need not exist
	 * here. Any other error means the sample and the code disagree. */
	for (line = f->errs; *line != '\0'; line = strchr(line, '\n') + 1) {
		if (strstr(line, ": cannot read /etc/sipsgate/") == NULL ||
		    strchr(line, '\n') == NULL)
			fail_msg("unexpected error in the sample:\n%s", f->errs);
		n++;
	}
	if (n == 0)
		assert_non_null(f->cfg);
	else
		assert_null(f->cfg);
}

/* ---- [tls] keys that depend on each other ---- */

/* MINIMAL with other certificate and private_key lines. */
#define WITH_CERTS(cert, key)						\
	"[tls]\n"							\
	"certificate = " cert "\n"					\
	"private_key = " key "\n"					\
	"ca_file = phones-ca.pem\n"					\
	"[backend]\nuri = sip:127.0.0.1:5060\n"				\
	"[proxy]\npublic_host = sips.example.com\n"

static void
config_cert_pairs_counted(void **state)
{
	expect_only_error(*state, WITH_CERTS("server-chain.pem, client.pem",
	    "server.key"), 3, "private_key: lists 1 file but certificate "
	    "(line 2) lists 2 (expected one key per certificate, in the same "
	    "order)");
}

static void
config_cert_list_errors(void **state)
{
	struct fixture *f = *state;

	expect_only_error(f, WITH_CERTS("server-chain.pem,,client.pem",
	    "server.key"), 2, "certificate: empty file name in "
	    "\"server-chain.pem,,client.pem\" (expected one or more file "
	    "names separated by commas)");
	expect_only_error(f, WITH_CERTS("client.pem, client.pem, client.pem, "
	    "client.pem, client.pem", "server.key"), 2, "certificate: too "
	    "many files (maximum 4, one per key type)");
}

static void
config_max_version_below_min(void **state)
{
	expect_only_error(*state, MINIMAL "[tls]\nmin_version = 1.3\n"
	    "max_version = 1.2\n", MINIMAL_LINES + 3,
	    "max_version: TLS 1.2 is below min_version 1.3");
}

static void
config_crl_needs_verify(void **state)
{
	struct fixture *f = *state;

	expect_only_error(f, MINIMAL "[tls]\nverify_client = off\n"
	    "crl_file = backend-ca.pem\n", MINIMAL_LINES + 3,
	    "crl_file: set, but verify_client = off (line 10) requests no "
	    "client certificate to check");
	expect_only_error(f, MINIMAL "[tls]\ncrl_check = chain\n",
	    MINIMAL_LINES + 2, "crl_check: set to chain without crl_file in "
	    "[tls]");
	expect_loaded(f, MINIMAL "[tls]\ncrl_check = leaf\n");
}

static void
config_identity_needs_verify(void **state)
{
	expect_only_error(*state, MINIMAL "[tls]\nverify_client = off\n"
	    "identity_check = domain\n", MINIMAL_LINES + 3,
	    "identity_check: set, but verify_client = off (line 10) requests "
	    "no client certificate to take identities from");
}

static void
config_trusted_headers_checked(void **state)
{
	struct fixture *f = *state;

	expect_only_error(f, MINIMAL "[tls]\ntrusted_headers = P-Asserted-"
	    "Identity, via\n", MINIMAL_LINES + 2, "trusted_headers: header via "
	    "cannot be trusted (phones must send it themselves)");
	expect_only_error(f, MINIMAL "[tls]\ntrusted_headers = X-A, x-a\n",
	    MINIMAL_LINES + 2, "trusted_headers: header x-a is listed twice");
	expect_only_error(f, MINIMAL "[tls]\ntrusted_headers = f\n",
	    MINIMAL_LINES + 2, "trusted_headers: header name \"f\" is a "
	    "compact form (expected a full name)");
	expect_only_error(f, MINIMAL "[tls]\ntrusted_headers = X A\n",
	    MINIMAL_LINES + 2, "trusted_headers: invalid header name \"X A\" "
	    "(expected letters, digits and -.!%*_+`'~, at most 64)");

	expect_loaded(f, MINIMAL "[tls]\ntrusted_headers =\n");
	assert_int_equal(f->cfg->tls.ntrusted_headers, 0);
}

static void
config_string_keys_not_empty(void **state)
{
	expect_only_error(*state, MINIMAL "[tls]\nciphers =\n",
	    MINIMAL_LINES + 2, "ciphers: empty value");
}

static void
config_sni_sections(void **state)
{
	struct fixture *f = *state;

	expect_loaded(f, MINIMAL
	    "[sni:*.Example.net]\n"
	    "certificate = client.pem\n"
	    "[sni:b.example.org]\n"
	    "certificate = server-chain.pem, client.pem\n"
	    "private_key = server.key, client.key\n"
	    "[sni:*.example.NET]\n"
	    "private_key = client.key\n");
	assert_int_equal(f->cfg->tls.nsni, 2);
	assert_string_equal(f->cfg->tls.sni[0].server_name, "*.example.net");
	assert_int_equal(f->cfg->tls.sni[0].certificate_line, 10);
	assert_int_equal(f->cfg->tls.sni[0].private_key_line, 15);
	assert_string_equal(f->cfg->tls.sni[1].server_name, "b.example.org");
	assert_int_equal(f->cfg->tls.sni[1].ncertificate, 2);
}

static void
config_sni_errors(void **state)
{
	struct fixture *f = *state;

	expect_only_error(f, MINIMAL "[sni:127.0.0.1]\n"
	    "certificate = client.pem\nprivate_key = client.key\n",
	    MINIMAL_LINES + 2, "invalid server name \"127.0.0.1\" in "
	    "[sni:127.0.0.1] (expected a DNS name, or *. and a DNS name)");
	expect_only_error(f, MINIMAL "[sni:a.example.org]\n"
	    "certificate = client.pem\n", MINIMAL_LINES + 2,
	    "private_key: missing in [sni:a.example.org] (certificate needs "
	    "its private_key)");
	expect_only_error(f, MINIMAL "[sni:a.example.org]\n"
	    "certificate = client.pem\nprivate_key = client.key\n"
	    "ca_file = phones-ca.pem\n", MINIMAL_LINES + 4,
	    "ca_file: unknown key in [sni:a.example.org] (expected "
	    "certificate or private_key)");
	expect_only_error(f, MINIMAL "[sni:a.example.org]\n"
	    "certificate = client.pem\nprivate_key = client.key\n"
	    "[sni:A.example.org]\ncertificate = server-chain.pem\n",
	    MINIMAL_LINES + 5, "certificate: key set twice for server name "
	    "a.example.org, first at line 10");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(config_minimal_defaults),
		T(config_cert_pairs_counted),
		T(config_cert_list_errors),
		T(config_max_version_below_min),
		T(config_crl_needs_verify),
		T(config_identity_needs_verify),
		T(config_trusted_headers_checked),
		T(config_string_keys_not_empty),
		T(config_sni_sections),
		T(config_sni_errors),
		T(config_all_keys_set),
		T(config_log_levels),
		T(config_ca_file_optional_when_verify_off),
		T(config_indented_key_is_not_continuation),
		T(config_comments_and_crlf),
		T(config_unknown_key),
		T(config_unknown_section),
		T(config_key_outside_section),
		T(config_repeated_key),
		T(config_bad_enum),
		T(config_number_out_of_range),
		T(config_number_not_decimal),
		T(config_missing_required),
		T(config_empty_required_path),
		T(config_empty_ca_file),
		T(config_unreadable_file),
		T(config_path_is_directory),
		T(config_open_failure),
		T(config_relative_paths),
		T(config_syntax_errors_all_reported),
		T(config_long_line),
		T(config_line_at_limit),
		T(config_several_errors_reported),
		T(config_errors_sorted_missing_last),
		T(config_listen_ipv6),
		T(config_bad_listen),
		T(config_too_many_listen),
		T(config_parse_addr_forms),
		T(config_backend_uri_forms),
		T(config_backend_uri_errors),
		T(config_sips_with_udp),
		T(config_tls_backend_without_ca),
		T(config_backend_tls_keys_with_udp),
		T(config_backend_certificate_without_key),
		T(config_backend_listen_errors),
		T(config_public_host_forms),
		T(config_max_message_size_alias),
		T(config_general_defaults),
		T(config_general_keys_set),
		T(config_general_empty_user),
		T(config_general_bad_values),
		T(config_log_syslog_bad_values),
		T(config_free_null),
		T(config_sample_file),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
