/* Reading and checking the ini file.
 *
 * One table, config_keys[], lists every key with its section, default,
 * parser and field in struct config. The inih handler, the defaults and
 * the missing-key check all walk that table, so adding a key means adding
 * one row and, if its type is new, one parse function.
 *
 * Errors are collected while the file is read and printed sorted by line
 * once loading ends, because inih only reports syntax errors after the
 * whole file has been read. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* asprintf */
#endif

#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <ini.h>
#include <openssl/tls1.h>

#include "config.h"
#include "log.h"
#include "sipmsg.h"

#define SIP_PORT		5060
#define SIPS_PORT		5061
#define BACKEND_LISTEN_PORT	5070
/* Section names of the form [sni:NAME] carry a server name. */
#define SNI_PREFIX		"sni:"

/* Enumerations are stored through an int pointer. */
_Static_assert(sizeof(enum verify_client) == sizeof(int), "enum size");
_Static_assert(sizeof(enum sips_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum crl_check) == sizeof(int), "enum size");
_Static_assert(sizeof(enum identity_check) == sizeof(int), "enum size");

struct load_ctx;
struct config_key;

/* Parses value into the key's field. Returns 0, or -1 with a message
 * (without file, line or key name) in err. */
typedef int parse_fn(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen);

struct choice {
	const char *name;
	int value;
};

#define KEY_REQUIRED	0x01	/* absence is an error; no default */

struct config_key {
	const char *section;
	const char *name;
	parse_fn *parse;
	const char *default_value;	/* fed to parse when absent; NULL: none */
	size_t offset;			/* of the field in struct config */
	long min, max;			/* numbers only, inclusive */
	const struct choice *choices;	/* enumerations only, NULL-terminated */
	unsigned flags;
};

static parse_fn parse_int, parse_size, parse_choice, parse_path;
static parse_fn parse_host, parse_listen_list, parse_backend_listen;
static parse_fn parse_backend_uri, parse_log_level, parse_account;
static parse_fn parse_certificates, parse_private_keys, parse_string;
static parse_fn parse_header_list;
static int copy_trimmed(char *buf, size_t buflen, const char *s, size_t len);
static int is_dns_name(const char *s, size_t len);
static int is_all_digits_and_dots(const char *s, size_t len);

static const struct choice verify_choices[] = {
	{ "require", VERIFY_REQUIRE },
	{ "optional", VERIFY_OPTIONAL },
	{ "off", VERIFY_OFF },
	{ NULL, 0 },
};

static const struct choice tls_version_choices[] = {
	{ "1.2", TLS1_2_VERSION },
	{ "1.3", TLS1_3_VERSION },
	{ NULL, 0 },
};

static const struct choice crl_check_choices[] = {
	{ "leaf", CRL_CHECK_LEAF },
	{ "chain", CRL_CHECK_CHAIN },
	{ NULL, 0 },
};

static const struct choice identity_choices[] = {
	{ "off", IDENTITY_OFF },
	{ "domain", IDENTITY_DOMAIN },
	{ "user", IDENTITY_USER },
	{ NULL, 0 },
};

static const struct choice sips_policy_choices[] = {
	{ "reject", SIPS_REJECT },
	{ "relay", SIPS_RELAY },
	{ NULL, 0 },
};

static const struct choice yes_no_choices[] = {
	{ "yes", 1 },
	{ "no", 0 },
	{ NULL, 0 },
};

static const struct choice facility_choices[] = {
	{ "daemon", LOG_DAEMON },
	{ "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
	{ NULL, 0 },
};

#define DAY	86400

/* One row of config_keys[]. Optional members follow as designated
 * initializers (.min, .max, .choices, .flags). */
#define KEY(sec, key, fn, def, field, ...) {				\
	.section = (sec), .name = (key), .parse = (fn),			\
	.default_value = (def),						\
	.offset = offsetof(struct config, field), __VA_ARGS__		\
}

/* Two rows that share a field (max_message_size) are aliases: setting
 * both is an error, and only one of them carries the default. */
static const struct config_key config_keys[] = {
	KEY("general", "user", parse_account, NULL, general.user),
	KEY("general", "group", parse_account, NULL, general.group),
	KEY("general", "shutdown_timeout", parse_int, "5",
	    general.shutdown_timeout, .min = 0, .max = 3600),

	KEY("tls", "listen", parse_listen_list, "0.0.0.0:5061", tls.listen),
	KEY("tls", "certificate", parse_certificates, NULL,
	    tls.certs.certificate, .flags = KEY_REQUIRED),
	KEY("tls", "private_key", parse_private_keys, NULL,
	    tls.certs.private_key, .flags = KEY_REQUIRED),
	KEY("tls", "ca_file", parse_path, NULL, tls.ca_file),
	KEY("tls", "crl_file", parse_path, NULL, tls.crl_file),
	KEY("tls", "crl_check", parse_choice, "leaf", tls.crl_check,
	    .choices = crl_check_choices),
	KEY("tls", "verify_client", parse_choice, "require",
	    tls.verify_client, .choices = verify_choices),
	KEY("tls", "verify_depth", parse_int, "4", tls.verify_depth,
	    .min = 1, .max = 10),
	KEY("tls", "min_version", parse_choice, "1.2", tls.min_version,
	    .choices = tls_version_choices),
	KEY("tls", "max_version", parse_choice, "1.3", tls.max_version,
	    .choices = tls_version_choices),
	/* tls.c checks these three against OpenSSL when it builds the
	 * context, and reports errors at the lines recorded here. */
	KEY("tls", "ciphers", parse_string, CONFIG_DEFAULT_CIPHERS,
	    tls.ciphers),
	KEY("tls", "ciphersuites", parse_string, CONFIG_DEFAULT_CIPHERSUITES,
	    tls.ciphersuites),
	KEY("tls", "groups", parse_string, CONFIG_DEFAULT_GROUPS, tls.groups),
	KEY("tls", "session_resumption", parse_choice, "yes",
	    tls.session_resumption, .choices = yes_no_choices),
	KEY("tls", "ticket_key_rotation", parse_int, "3600",
	    tls.ticket_key_rotation, .min = 60, .max = DAY),
	KEY("tls", "identity_check", parse_choice, "off", tls.identity_check,
	    .choices = identity_choices),
	KEY("tls", "trusted_headers", parse_header_list,
	    "P-Asserted-Identity, X-Sipsgate-Client-Identity",
	    tls.trusted_headers),

	KEY("backend", "uri", parse_backend_uri, NULL, backend.uri,
	    .flags = KEY_REQUIRED),
	KEY("backend", "listen", parse_backend_listen, "127.0.0.1:5070",
	    backend.listen),
	KEY("backend", "ca_file", parse_path, NULL, backend.ca_file),
	KEY("backend", "certificate", parse_path, NULL, backend.certificate),
	KEY("backend", "private_key", parse_path, NULL, backend.private_key),

	KEY("proxy", "public_host", parse_host, NULL, proxy.public_host,
	    .flags = KEY_REQUIRED),
	KEY("proxy", "max_message_size", parse_size, NULL,
	    limits.max_message_size, .min = 1500, .max = 1048576),
	KEY("proxy", "sips_plain_backend", parse_choice, "reject",
	    proxy.sips_plain_backend, .choices = sips_policy_choices),

	KEY("limits", "max_message_size", parse_size, "65535",
	    limits.max_message_size, .min = 1500, .max = 1048576),
	KEY("limits", "max_headers", parse_size, "100", limits.max_headers,
	    .min = 16, .max = SIPMSG_MAX_HEADERS),
	KEY("limits", "max_line_length", parse_size, "8192",
	    limits.max_line_length, .min = 256, .max = 1048576),
	KEY("limits", "max_via", parse_int, "70", limits.max_via,
	    .min = 1, .max = SIPMSG_MAX_HEADERS),
	KEY("limits", "max_connections", parse_int, "10000",
	    limits.max_connections, .min = 1, .max = 1000000),
	KEY("limits", "max_connections_per_ip", parse_int, "100",
	    limits.max_connections_per_ip, .min = 1, .max = 1000000),
	KEY("limits", "handshake_timeout", parse_int, "10",
	    limits.handshake_timeout, .min = 1, .max = DAY),
	KEY("limits", "idle_timeout", parse_int, "300", limits.idle_timeout,
	    .min = 1, .max = DAY),
	KEY("limits", "header_timeout", parse_int, "30",
	    limits.header_timeout, .min = 1, .max = DAY),
	KEY("limits", "output_high_water", parse_size, "1048576",
	    limits.output_high_water, .min = 65536, .max = 1073741824),

	KEY("log", "level", parse_log_level, "info", log_level),
	KEY("log", "syslog", parse_choice, "no", log_syslog,
	    .choices = yes_no_choices),
	KEY("log", "facility", parse_choice, "daemon", log_facility,
	    .choices = facility_choices),
};

#define NKEYS	(sizeof(config_keys) / sizeof(config_keys[0]))

static const char *const config_sections[] = {
	"general", "tls", "backend", "proxy", "limits", "log",
};

#define NSECTIONS	(int)(sizeof(config_sections) / sizeof(config_sections[0]))

struct key_state {
	int line;		/* where the key was set; 0 when absent */
	int failed;		/* its value was rejected */
};

struct load_error {
	int line;
	int seq;		/* keeps the order of errors on one line */
	char *text;
};

struct load_ctx {
	const char *path;	/* as given, for messages */
	char *dir;		/* absolute folder of the file */
	FILE *errs;
	FILE *fp;
	struct config *cfg;

	char *linebuf;		/* getline buffer */
	size_t linecap;
	int lineno;		/* line last handed to inih */
	int read_errno;		/* nonzero when reading the file failed */
	int rescan;		/* looking for further syntax errors only */
	int skip_through;	/* in a rescan, lines up to this are blanked */
	int bad_line_is_section;	/* line skip_through starts with '[' */

	struct key_state state[NKEYS];
	char unknown_section[64];	/* last unknown section reported */
	char bad_sni[64];		/* last invalid [sni:NAME] reported */

	struct load_error *errors;	/* sorted and printed at the end */
	int nstored;
	int nerrors;		/* may exceed nstored when memory ran out */
};

/* ---- error collection ---- */

static void report(struct load_ctx *ctx, int line, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Records the error "file:line: key: message", or "file:line: message"
 * when key is NULL. When memory runs out, the message is written at
 * once, out of order, rather than lost. */
static void
report(struct load_ctx *ctx, int line, const char *key, const char *fmt, ...)
{
	struct load_error *grown;
	char msg[PATH_MAX + 512];
	char *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->nerrors++;

	if (asprintf(&text, "%s:%d: %s%s%s", ctx->path, line,
	    key ? key : "", key ? ": " : "", msg) < 0)
		goto unsorted;
	grown = realloc(ctx->errors, (ctx->nstored + 1) * sizeof(*grown));
	if (grown == NULL) {
		free(text);
		goto unsorted;
	}
	ctx->errors = grown;
	ctx->errors[ctx->nstored].line = line;
	ctx->errors[ctx->nstored].seq = ctx->nstored;
	ctx->errors[ctx->nstored].text = text;
	ctx->nstored++;
	return;

unsorted:
	if (ctx->errs)
		fprintf(ctx->errs, "%s:%d: %s%s%s\n", ctx->path, line,
		    key ? key : "", key ? ": " : "", msg);
}

static int
compare_errors(const void *a, const void *b)
{
	const struct load_error *x = a, *y = b;
	/* Errors without a line (missing keys, cross-key checks) go last. */
	int lx = x->line ? x->line : INT_MAX;
	int ly = y->line ? y->line : INT_MAX;

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->seq - y->seq;
}

static void
flush_errors(struct load_ctx *ctx)
{
	int i;

	if (ctx->nstored > 1)
		qsort(ctx->errors, ctx->nstored, sizeof(ctx->errors[0]),
		    compare_errors);
	for (i = 0; i < ctx->nstored; i++) {
		if (ctx->errs)
			fprintf(ctx->errs, "%s\n", ctx->errors[i].text);
		free(ctx->errors[i].text);
	}
	if (ctx->errs)
		fflush(ctx->errs);
	free(ctx->errors);
	ctx->errors = NULL;
	ctx->nstored = 0;
}

/* ---- table lookups ---- */

static int
find_key(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

static struct key_state *
key_state(struct load_ctx *ctx, const char *section, const char *name)
{
	int i = find_key(section, name);

	/* Only called with names from config_keys[]. */
	if (i < 0)
		abort();
	return &ctx->state[i];
}

/* Returns the index of another row that shares key i's field and has
 * been set, or -1. */
static int
find_set_alias(const struct load_ctx *ctx, int i)
{
	size_t j;

	for (j = 0; j < NKEYS; j++)
		if ((int)j != i && config_keys[j].offset ==
		    config_keys[i].offset && ctx->state[j].line > 0)
			return (int)j;
	return -1;
}

static int
section_is_known(const char *section)
{
	int i;

	for (i = 0; i < NSECTIONS; i++)
		if (strcmp(config_sections[i], section) == 0)
			return 1;
	return 0;
}

static void *
key_field(struct load_ctx *ctx, const struct config_key *key)
{
	return (char *)ctx->cfg + key->offset;
}

/* ---- numbers and enumerations ---- */

/* Accepts decimal digits only: no sign, no blanks, no 0x. A value too
 * large for a long comes back as LONG_MAX so that the range check names
 * it. */
static int
parse_decimal(const char *s, long *out)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtol(s, &end, 10);
	if (*end != '\0')
		return -1;
	*out = errno == ERANGE ? LONG_MAX : n;
	return 0;
}

static int
parse_number(const struct config_key *key, const char *value, long *out,
    char *err, size_t errlen)
{
	if (parse_decimal(value, out) < 0) {
		snprintf(err, errlen, "invalid value \"%s\" (expected a "
		    "decimal number from %ld to %ld)", value, key->min,
		    key->max);
		return -1;
	}
	if (*out < key->min || *out > key->max) {
		snprintf(err, errlen, "value %s out of range (expected %ld "
		    "to %ld)", value, key->min, key->max);
		return -1;
	}
	return 0;
}

static int
parse_int(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	long n;

	if (parse_number(key, value, &n, err, errlen) < 0)
		return -1;
	*(int *)key_field(ctx, key) = (int)n;
	return 0;
}

static int
parse_size(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	long n;

	if (parse_number(key, value, &n, err, errlen) < 0)
		return -1;
	*(size_t *)key_field(ctx, key) = (size_t)n;
	return 0;
}

/* Writes "a, b or c" into buf. */
static void
format_names(const char *const *names, int n, char *buf, size_t len)
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++) {
		const char *sep = ", ";
		int w;

		if (i == 0)
			sep = "";
		else if (i == n - 1)
			sep = " or ";
		w = snprintf(buf + used, len - used, "%s%s", sep, names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static int
parse_choice(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	const char *names[16];
	char expected[160];
	int i;

	for (i = 0; key->choices[i].name != NULL; i++) {
		if (strcasecmp(key->choices[i].name, value) == 0) {
			*(int *)key_field(ctx, key) = key->choices[i].value;
			return 0;
		}
	}
	for (i = 0; key->choices[i].name != NULL && i < 16; i++)
		names[i] = key->choices[i].name;
	format_names(names, i, expected, sizeof(expected));
	snprintf(err, errlen, "invalid value \"%s\" (expected %s)", value,
	    expected);
	return -1;
}

static int
parse_log_level(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	const char *names[LOGL_DEBUG - LOGL_ERROR + 1];
	char expected[128];
	int level, i;

	level = log_level_from_name(value);
	if (level >= 0) {
		*(int *)key_field(ctx, key) = level;
		return 0;
	}
	for (i = 0; i <= LOGL_DEBUG - LOGL_ERROR; i++)
		names[i] = log_level_name(LOGL_ERROR + i);
	format_names(names, i, expected, sizeof(expected));
	snprintf(err, errlen, "invalid value \"%s\" (expected %s)", value,
	    expected);
	return -1;
}

/* A user or group name for privilege dropping. Whether it exists is
 * checked at start-up, because the account database is outside this
 * file. An empty value leaves the field NULL. */
static int
parse_account(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	char **field = key_field(ctx, key);
	size_t len = strlen(value);

	if (len == 0)
		return 0;
	/* The portable user name characters of POSIX. They exclude ':',
	 * the /etc/passwd field separator, and blanks. */
	if (len > 32 || value[0] == '-' ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len) {
		snprintf(err, errlen, "invalid name \"%s\" (expected at most "
		    "32 letters, digits, '.', '_' or '-', not starting with "
		    "'-')", value);
		return -1;
	}
	*field = strdup(value);
	if (*field == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Frees the strings of a list and clears it. */
static void
free_list(char **list, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(list[i]);
		list[i] = NULL;
	}
}

/* A value handed to a library as it is (cipher lists, group lists). It
 * must not be empty; its content is checked by the library's user. */
static int
parse_string(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	char **field = key_field(ctx, key);

	if (*value == '\0') {
		snprintf(err, errlen, "empty value");
		return -1;
	}
	*field = strdup(value);
	if (*field == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Headers a phone needs to send as they are: routing, dialog and
 * transaction identification, framing and authentication. Compact
 * one-letter names are refused separately. */
static const char *const protected_headers[] = {
	"Via", "Route", "Record-Route", "Path", "From", "To", "Call-ID",
	"CSeq", "Contact", "Max-Forwards", "Content-Length", "Content-Type",
	"Authorization", "Proxy-Authorization", "Supported", "Require",
	"Proxy-Require", "Expires",
};

/* RFC 3261 section 25.1 token characters. */
static int
is_token(const char *s)
{
	return *s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~") == strlen(s);
}

static int
check_header_name(const char *name, char **list, int n, char *err,
    size_t errlen)
{
	size_t i;
	int j;

	if (!is_token(name) || strlen(name) > 64) {
		snprintf(err, errlen, "invalid header name \"%s\" (expected "
		    "letters, digits and -.!%%*_+`'~, at most 64)", name);
		return -1;
	}
	if (strlen(name) == 1) {
		snprintf(err, errlen, "header name \"%s\" is a compact form "
		    "(expected a full name)", name);
		return -1;
	}
	for (i = 0; i < sizeof(protected_headers) /
	    sizeof(protected_headers[0]); i++) {
		if (strcasecmp(name, protected_headers[i]) == 0) {
			snprintf(err, errlen, "header %s cannot be trusted "
			    "(phones must send it themselves)", name);
			return -1;
		}
	}
	for (j = 0; j < n; j++) {
		if (strcasecmp(name, list[j]) == 0) {
			snprintf(err, errlen, "header %s is listed twice",
			    name);
			return -1;
		}
	}
	return 0;
}

/* A comma-separated list of header names; empty means none. */
static int
parse_header_list(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	char **list = key_field(ctx, key);
	char name[80];
	const char *p = value, *comma;
	int n = 0;

	if (*value == '\0')
		return 0;
	for (;;) {
		comma = strchr(p, ',');
		if (copy_trimmed(name, sizeof(name), p,
		    comma ? (size_t)(comma - p) : strlen(p)) < 0) {
			snprintf(err, errlen, "header name too long in \"%s\"",
			    value);
			goto fail;
		}
		if (n == CONFIG_MAX_TRUSTED_HEADERS) {
			snprintf(err, errlen, "too many headers (maximum %d)",
			    CONFIG_MAX_TRUSTED_HEADERS);
			goto fail;
		}
		if (check_header_name(name, list, n, err, errlen) < 0)
			goto fail;
		if ((list[n] = strdup(name)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	ctx->cfg->tls.ntrusted_headers = n;
	return 0;

fail:
	free_list(list, n);
	return -1;
}

/* ---- files ---- */

/* Opening catches what access(2) would miss: access checks the real, not
 * the effective, user. O_NONBLOCK keeps a FIFO from hanging the load. */
static int
check_readable(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(EISDIR));
		return -1;
	}
	close(fd);
	return 0;
}

/* Joins a relative name to the folder of the config file, so the
 * daemon's working directory does not matter, and checks that the file
 * can be read. Returns 0 and a new string in *out, or -1. */
static int
resolve_path(struct load_ctx *ctx, const char *value, char **out, char *err,
    size_t errlen)
{
	const char *sep;
	char *path;

	if (value[0] == '/') {
		path = strdup(value);
	} else {
		sep = ctx->dir[strlen(ctx->dir) - 1] == '/' ? "" : "/";
		if (asprintf(&path, "%s%s%s", ctx->dir, sep, value) < 0)
			path = NULL;
	}
	if (path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (check_readable(path, err, errlen) < 0) {
		free(path);
		return -1;
	}
	*out = path;
	return 0;
}

/* An empty value leaves the field NULL, and the checks after parsing
 * decide whether that is allowed. */
static int
parse_path(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	char **field = key_field(ctx, key);

	if (*value == '\0') {
		if (key->flags & KEY_REQUIRED) {
			snprintf(err, errlen, "empty value (expected a file "
			    "name)");
			return -1;
		}
		return 0;
	}
	return resolve_path(ctx, value, field, err, errlen);
}


/*
 * Parses a comma-separated list of file names into list[] (at most
 * CONFIG_MAX_CERTS), each resolved and checked like parse_path. On
 * failure nothing is kept. File names containing a comma cannot be
 * listed.
 */
static int
parse_file_list(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char **list, int *n, char *err, size_t errlen)
{
	char item[PATH_MAX];
	const char *p = value, *comma;
	char *path;
	int count = 0;

	if (*value == '\0') {
		snprintf(err, errlen, "empty value (expected a file name)");
		return -1;
	}
	for (;;) {
		comma = strchr(p, ',');
		if (copy_trimmed(item, sizeof(item), p,
		    comma ? (size_t)(comma - p) : strlen(p)) < 0) {
			snprintf(err, errlen, "file name too long in \"%s\"",
			    value);
			goto fail;
		}
		if (item[0] == '\0') {
			snprintf(err, errlen, "empty file name in \"%s\" "
			    "(expected one or more file names separated by "
			    "commas)", value);
			goto fail;
		}
		if (count == CONFIG_MAX_CERTS) {
			snprintf(err, errlen, "too many files (maximum %d, one "
			    "per key type)", CONFIG_MAX_CERTS);
			goto fail;
		}
		path = NULL;
		if (resolve_path(ctx, item, &path, err, errlen) < 0)
			goto fail;
		list[count++] = path;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*n = count;
	return 0;

fail:
	free_list(list, count);
	return -1;
}

/* The two halves of a certificate set; the key's field is the list
 * inside it. Each records its line, because tls.c names the line when
 * it cannot load a file. */
static int
parse_certificates(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	struct cert_set *set = (struct cert_set *)((char *)key_field(ctx,
	    key) - offsetof(struct cert_set, certificate));

	set->certificate_line = ctx->lineno;
	return parse_file_list(ctx, key, value, set->certificate,
	    &set->ncertificate, err, errlen);
}

static int
parse_private_keys(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	struct cert_set *set = (struct cert_set *)((char *)key_field(ctx,
	    key) - offsetof(struct cert_set, private_key));

	set->private_key_line = ctx->lineno;
	return parse_file_list(ctx, key, value, set->private_key,
	    &set->nprivate_key, err, errlen);
}

/* Returns the absolute folder of path, or NULL with errno set. */
static char *
config_folder(const char *path)
{
	char *copy, *slash, *dir;
	const char *folder;

	copy = strdup(path);
	if (copy == NULL)
		return NULL;
	slash = strrchr(copy, '/');
	if (slash == NULL) {
		folder = ".";
	} else if (slash == copy) {
		folder = "/";
	} else {
		*slash = '\0';
		folder = copy;
	}
	dir = realpath(folder, NULL);
	free(copy);
	return dir;
}

/* ---- hosts and addresses ---- */

static int
is_dns_label_char(int c)
{
	return isalnum(c) || c == '-';
}

/* Checks a DNS host name: labels of letters, digits and hyphens, 1 to 63
 * characters each, no hyphen at either end of a label, and 253
 * characters in all. */
static int
is_dns_name(const char *s, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!is_dns_label_char(c) || (label == 0 && c == '-'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

static int
is_all_digits_and_dots(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && s[i] != '.')
			return 0;
	return 1;
}

static int
count_colons(const char *s, size_t len)
{
	size_t i;
	int n = 0;

	for (i = 0; i < len; i++)
		if (s[i] == ':')
			n++;
	return n;
}

/* Checks a host as it appears in a SIP URI: an IPv4 address, an IPv6
 * address in brackets, or a DNS name. */
static int
check_uri_host(const char *s, size_t len, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 2];
	struct in6_addr a6;
	struct in_addr a4;

	if (len > 0 && s[0] == '[') {
		if (len < 3 || s[len - 1] != ']' ||
		    len - 2 >= sizeof(buf))
			goto invalid;
		memcpy(buf, s + 1, len - 2);
		buf[len - 2] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			goto invalid;
		return 0;
	}
	if (len > 0 && is_all_digits_and_dots(s, len)) {
		/* "300.1.1.1" is a mistyped address, not a DNS name. */
		if (len >= sizeof(buf))
			goto invalid;
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET, buf, &a4) != 1)
			goto invalid;
		return 0;
	}
	if (is_dns_name(s, len))
		return 0;

invalid:
	if (memchr(s, ':', len) != NULL && s[0] != '[')
		snprintf(err, errlen, "invalid host \"%.*s\" (an IPv6 address "
		    "needs brackets, as in [::1])", (int)len, s);
	else
		snprintf(err, errlen, "invalid host \"%.*s\" (expected an "
		    "IPv4 address, an IPv6 address in brackets or a DNS name)",
		    (int)len, s);
	return -1;
}

/* public_host is stored as written, so an IPv6 address keeps its
 * brackets and can be put into a URI as it is. */
static int
parse_host(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	char **field = key_field(ctx, key);

	if (*value == '\0') {
		snprintf(err, errlen, "empty value (expected a DNS name or "
		    "an IP address)");
		return -1;
	}
	if (value[0] != '[' && count_colons(value, strlen(value)) == 1) {
		snprintf(err, errlen, "invalid host \"%s\" (a port is not "
		    "allowed here, because the port is that of the first [tls] "
		    "listen address)", value);
		return -1;
	}
	if (check_uri_host(value, strlen(value), err, errlen) < 0)
		return -1;
	*field = strdup(value);
	if (*field == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int
parse_port(const char *s, uint16_t *out)
{
	long n;

	if (parse_decimal(s, &n) < 0 || n < 1 || n > 65535)
		return -1;
	*out = (uint16_t)n;
	return 0;
}

static void
fill_listen_addr(struct listen_addr *out, int family, const void *addr,
    uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

	memset(out, 0, sizeof(*out));
	out->port = port;
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
		out->len = sizeof(*sin);
		inet_ntop(AF_INET, addr, out->host, sizeof(out->host));
		snprintf(out->text, sizeof(out->text), "%s:%u", out->host,
		    port);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
		out->len = sizeof(*sin6);
		inet_ntop(AF_INET6, addr, out->host, sizeof(out->host));
		snprintf(out->text, sizeof(out->text), "[%s]:%u", out->host,
		    port);
	}
}

/* IPv6 addresses must be in brackets even without a port, because
 * "::1:5061" is itself a valid IPv6 address and would silently lose the
 * port the writer meant. */
int
config_parse_addr(const char *s, uint16_t default_port,
    struct listen_addr *out, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN];
	const char *host_start = s, *host_end, *port_text = NULL;
	unsigned char addr[sizeof(struct in6_addr)];
	int family = AF_INET;
	uint16_t port = default_port;
	size_t len;

	if (*s == '[') {
		family = AF_INET6;
		host_start = s + 1;
		host_end = strchr(host_start, ']');
		if (host_end == NULL)
			goto invalid;
		if (host_end[1] == ':')
			port_text = host_end + 2;
		else if (host_end[1] != '\0')
			goto invalid;
	} else {
		host_end = strchr(s, ':');
		if (host_end != NULL && strchr(host_end + 1, ':') != NULL) {
			snprintf(err, errlen, "invalid address \"%s\" (an IPv6 "
			    "address needs brackets, as in [::1]:5061)", s);
			return -1;
		}
		if (host_end != NULL)
			port_text = host_end + 1;
		else
			host_end = s + strlen(s);
	}

	len = (size_t)(host_end - host_start);
	if (len == 0 || len >= sizeof(host))
		goto invalid;
	memcpy(host, host_start, len);
	host[len] = '\0';
	if (inet_pton(family, host, addr) != 1)
		goto invalid;

	if (port_text != NULL && parse_port(port_text, &port) < 0) {
		snprintf(err, errlen, "invalid port in \"%s\" (expected a "
		    "number from 1 to 65535)", s);
		return -1;
	}
	fill_listen_addr(out, family, addr, port);
	return 0;

invalid:
	snprintf(err, errlen, "invalid address \"%s\" (expected a numeric "
	    "IPv4 address or an IPv6 address in brackets, optionally "
	    "followed by :port)", s);
	return -1;
}

/* Copies s[0..len) into buf without leading and trailing blanks. */
static int
copy_trimmed(char *buf, size_t buflen, const char *s, size_t len)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len >= buflen)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 0;
}

/* Fills tls.listen[] and tls.nlisten from a comma-separated list. */
static int
parse_listen_list(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	struct listen_addr *list = key_field(ctx, key);
	const char *item = value, *comma;
	char text[128];
	int i, n = 0;

	for (;;) {
		comma = strchr(item, ',');
		if (copy_trimmed(text, sizeof(text), item,
		    comma ? (size_t)(comma - item) : strlen(item)) < 0) {
			snprintf(err, errlen, "address too long in \"%s\"",
			    value);
			return -1;
		}
		if (text[0] == '\0') {
			snprintf(err, errlen, "empty address in \"%s\"", value);
			return -1;
		}
		if (n == CONFIG_MAX_LISTEN) {
			snprintf(err, errlen, "too many addresses (maximum "
			    "%d)", CONFIG_MAX_LISTEN);
			return -1;
		}
		if (config_parse_addr(text, SIPS_PORT, &list[n], err,
		    errlen) < 0)
			return -1;
		for (i = 0; i < n; i++) {
			if (strcmp(list[i].text, list[n].text) == 0) {
				snprintf(err, errlen, "address %s is listed "
				    "twice", list[n].text);
				return -1;
			}
		}
		n++;
		if (comma == NULL)
			break;
		item = comma + 1;
	}
	ctx->cfg->tls.nlisten = n;
	return 0;
}

/* The backend listen address goes into Via, Path and Record-Route, where
 * a wildcard address would tell the backend nothing. */
static int
parse_backend_listen(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	struct listen_addr *addr = key_field(ctx, key);
	struct listen_addr parsed;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	int wildcard;

	if (config_parse_addr(value, BACKEND_LISTEN_PORT, &parsed, err,
	    errlen) < 0)
		return -1;
	sin = (const struct sockaddr_in *)&parsed.ss;
	sin6 = (const struct sockaddr_in6 *)&parsed.ss;
	if (parsed.ss.ss_family == AF_INET)
		wildcard = sin->sin_addr.s_addr == htonl(INADDR_ANY);
	else
		wildcard = IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
	if (wildcard) {
		snprintf(err, errlen, "wildcard address %s cannot appear in "
		    "Via or Record-Route (expected the address the backend "
		    "sends to)", parsed.text);
		return -1;
	}
	*addr = parsed;
	return 0;
}

/* ---- backend URI ---- */

static int
parse_transport_param(const char *value, size_t len, enum transport *out)
{
	static const struct {
		const char *name;
		enum transport transport;
	} names[] = {
		{ "udp", TRANSPORT_UDP },
		{ "tcp", TRANSPORT_TCP },
		{ "tls", TRANSPORT_TLS },
	};
	size_t i;

	/* RFC 3261 section 19.1.4 compares every URI component except
	 * userinfo case-insensitively. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i].name) == len &&
		    strncasecmp(names[i].name, value, len) == 0) {
			*out = names[i].transport;
			return 0;
		}
	}
	return -1;
}

/* Parses ";name=value" parameters after the host and port. Only
 * transport is accepted: anything else would be silently dropped. */
static int
parse_uri_params(const char *uri, const char *p, enum transport *transport,
    int *have_transport, char *err, size_t errlen)
{
	const char *name, *eq, *end;

	while (*p == ';') {
		name = p + 1;
		end = strchr(name, ';');
		if (end == NULL)
			end = name + strlen(name);
		eq = memchr(name, '=', (size_t)(end - name));
		if (eq == NULL || (size_t)(eq - name) != strlen("transport") ||
		    strncasecmp(name, "transport", (size_t)(eq - name)) != 0) {
			snprintf(err, errlen, "unsupported parameter \"%.*s\" "
			    "in \"%s\" (only transport=udp, tcp or tls is "
			    "allowed)", (int)(end - name), name, uri);
			return -1;
		}
		if (*have_transport) {
			snprintf(err, errlen, "transport given twice in \"%s\"",
			    uri);
			return -1;
		}
		if (parse_transport_param(eq + 1, (size_t)(end - eq - 1),
		    transport) < 0) {
			snprintf(err, errlen, "invalid transport \"%.*s\" in "
			    "\"%s\" (expected udp, tcp or tls)",
			    (int)(end - eq - 1), eq + 1, uri);
			return -1;
		}
		*have_transport = 1;
		p = end;
	}
	if (*p != '\0') {
		snprintf(err, errlen, "unexpected \"%s\" in \"%s\"", p, uri);
		return -1;
	}
	return 0;
}

/* Returns the end of the host in a URI: after "]" for an IPv6 address,
 * else at the first ':', ';' or end. */
static const char *
find_uri_host_end(const char *host)
{
	const char *end;

	if (*host == '[') {
		end = strchr(host, ']');
		return end ? end + 1 : host + strlen(host);
	}
	return host + strcspn(host, ":;");
}

/* Parses "sip:host[:port][;transport=udp|tcp|tls]" or
 * "sips:host[:port][;transport=tls]" into the backend fields. The host is
 * resolved later, once the family of [backend] listen is known. */
static int
parse_backend_uri(struct load_ctx *ctx, const struct config_key *key,
    const char *value, char *err, size_t errlen)
{
	struct config *cfg = ctx->cfg;
	enum transport transport = TRANSPORT_UDP;
	const char *host, *host_end, *p;
	int sips, have_transport = 0;
	uint16_t port = 0;
	char port_text[8], **field;
	size_t len;

	if (strncasecmp(value, "sips:", 5) == 0) {
		sips = 1;
		host = value + 5;
	} else if (strncasecmp(value, "sip:", 4) == 0) {
		sips = 0;
		host = value + 4;
	} else {
		snprintf(err, errlen, "invalid URI \"%s\" (expected "
		    "sip:host[:port][;transport=udp|tcp|tls] or "
		    "sips:host[:port])", value);
		return -1;
	}
	if (strchr(host, '@') != NULL) {
		snprintf(err, errlen, "invalid URI \"%s\" (a user part is not "
		    "allowed, only host and port)", value);
		return -1;
	}

	if (*host != '[' && count_colons(host, strcspn(host, ";")) > 1) {
		snprintf(err, errlen, "invalid URI \"%s\" (an IPv6 address "
		    "needs brackets, as in sip:[::1]:5060)", value);
		return -1;
	}
	host_end = find_uri_host_end(host);
	if (check_uri_host(host, (size_t)(host_end - host), err, errlen) < 0)
		return -1;
	p = host_end;
	if (*p == ':') {
		len = strcspn(p + 1, ";");
		if (copy_trimmed(port_text, sizeof(port_text), p + 1, len) < 0 ||
		    parse_port(port_text, &port) < 0) {
			snprintf(err, errlen, "invalid port in \"%s\" (expected "
			    "a number from 1 to 65535)", value);
			return -1;
		}
		p += 1 + len;
	}
	if (parse_uri_params(value, p, &transport, &have_transport, err,
	    errlen) < 0)
		return -1;

	if (sips && have_transport && transport != TRANSPORT_TLS) {
		snprintf(err, errlen, "invalid URI \"%s\" (sips: requires "
		    "transport tls, so use sip: for udp or tcp)", value);
		return -1;
	}
	if (sips)
		transport = TRANSPORT_TLS;
	if (port == 0)
		port = transport == TRANSPORT_TLS ? SIPS_PORT : SIP_PORT;

	/* Store the host without brackets, because getaddrinfo and Via
	 * building want the bare address. */
	if (*host == '[') {
		host++;
		host_end--;
	}
	len = (size_t)(host_end - host);
	if (len >= sizeof(cfg->backend.host)) {
		snprintf(err, errlen, "host too long in \"%s\"", value);
		return -1;
	}
	memcpy(cfg->backend.host, host, len);
	cfg->backend.host[len] = '\0';

	field = key_field(ctx, key);
	*field = strdup(value);
	if (*field == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cfg->backend.sips = sips;
	cfg->backend.transport = transport;
	cfg->backend.port = port;
	return 0;
}

/* ---- reading the file with inih ---- */

/* Feeds inih one line at a time and counts lines, so that the handler
 * can read the line number of each key from ctx->lineno (Debian's inih
 * 55 is built without INI_HANDLER_LINENO). It also
 *  - strips leading blanks, which turns off inih's multi-line values: an
 *    indented line after a key would otherwise extend that key's value;
 *  - rejects lines that do not fit inih's buffer (size - 3 characters),
 *    which inih would otherwise split silently into two lines;
 *  - rejects NUL bytes, which would cut a line short unseen.
 * A rejected line is passed on as an empty line, so inih's line numbers
 * stay equal to ours. */
static char *
read_line(char *buf, int size, void *stream)
{
	struct load_ctx *ctx = stream;
	size_t len, max = size > 3 ? (size_t)size - 3 : 0;
	const char *start;
	ssize_t n;

	errno = 0;
	n = getline(&ctx->linebuf, &ctx->linecap, ctx->fp);
	if (n < 0) {
		if (ferror(ctx->fp))
			ctx->read_errno = errno ? errno : EIO;
		return NULL;
	}
	ctx->lineno++;
	if (ctx->lineno == ctx->skip_through)
		ctx->bad_line_is_section = ctx->linebuf[strspn(ctx->linebuf,
		    " \t")] == '[';
	if (ctx->lineno <= ctx->skip_through) {
		strcpy(buf, "\n");
		return buf;
	}

	len = (size_t)n;
	if (len > 0 && ctx->linebuf[len - 1] == '\n')
		len--;
	if (len > 0 && ctx->linebuf[len - 1] == '\r')
		len--;
	start = ctx->linebuf;
	while (len > 0 && (*start == ' ' || *start == '\t')) {
		start++;
		len--;
	}

	if (len > max || memchr(start, '\0', len) != NULL) {
		if (!ctx->rescan && len > max)
			report(ctx, ctx->lineno, NULL, "line too long (%zu "
			    "characters, the maximum is %zu because of the inih "
			    "line buffer)", len, max);
		else if (!ctx->rescan)
			report(ctx, ctx->lineno, NULL, "line contains a NUL "
			    "byte");
		len = 0;
	}
	memcpy(buf, start, len);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	return buf;
}

static void
report_unknown_section(struct load_ctx *ctx, const char *section,
    const char *name)
{
	const char *names[NSECTIONS + 1];
	char expected[128];
	int i;

	if (section[0] == '\0') {
		report(ctx, ctx->lineno, name, "key outside any section "
		    "(expected a [section] line above it)");
		return;
	}
	/* One report per section, not one per key in it. */
	if (strncmp(ctx->unknown_section, section,
	    sizeof(ctx->unknown_section)) == 0)
		return;
	snprintf(ctx->unknown_section, sizeof(ctx->unknown_section), "%s",
	    section);
	for (i = 0; i < NSECTIONS; i++)
		names[i] = config_sections[i];
	names[i] = "sni:NAME";
	format_names(names, NSECTIONS + 1, expected, sizeof(expected));
	report(ctx, ctx->lineno, name, "unknown section [%s] (expected %s)",
	    section, expected);
}

/* ---- [sni:NAME] sections ---- */

/* Checks and lower-cases a server name for SNI: a DNS name, optionally
 * "*." and a DNS name, which then matches exactly one more label. SNI
 * carries no IP addresses (RFC 6066 section 3). */
static int
normalize_server_name(const char *name, char *out, size_t cap, char *err,
    size_t errlen)
{
	const char *dns = strncmp(name, "*.", 2) == 0 ? name + 2 : name;
	size_t i, len = strlen(name);

	if (len >= cap || !is_dns_name(dns, strlen(dns)) ||
	    is_all_digits_and_dots(dns, strlen(dns))) {
		snprintf(err, errlen, "invalid server name \"%s\" in [%s%s] "
		    "(expected a DNS name, or *. and a DNS name)", name,
		    SNI_PREFIX, name);
		return -1;
	}
	for (i = 0; i <= len; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	return 0;
}

/* Returns the entry for a normalized server name, adding it when new,
 * or NULL when there are CONFIG_MAX_SNI already or memory ran out. */
static struct cert_set *
sni_entry(struct load_ctx *ctx, const char *name, char *err, size_t errlen)
{
	struct config *cfg = ctx->cfg;
	struct cert_set *grown, *set;
	int i;

	for (i = 0; i < cfg->tls.nsni; i++)
		if (strcmp(cfg->tls.sni[i].server_name, name) == 0)
			return &cfg->tls.sni[i];
	if (cfg->tls.nsni == CONFIG_MAX_SNI) {
		snprintf(err, errlen, "too many [%s...] sections (maximum %d)",
		    SNI_PREFIX, CONFIG_MAX_SNI);
		return NULL;
	}
	grown = realloc(cfg->tls.sni, (cfg->tls.nsni + 1) * sizeof(*grown));
	if (grown == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cfg->tls.sni = grown;
	set = &grown[cfg->tls.nsni];
	memset(set, 0, sizeof(*set));
	if ((set->server_name = strdup(name)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cfg->tls.nsni++;
	return set;
}

/* A key in [sni:NAME]: certificate or private_key, like in [tls]. A
 * section name repeated later in the file continues the same entry. */
static void
handle_sni_key(struct load_ctx *ctx, const char *section, const char *key,
    const char *value)
{
	const char *raw = section + strlen(SNI_PREFIX);
	char name[256], err[PATH_MAX + 256];
	struct cert_set *set;
	int line = ctx->lineno, is_cert, *seen, rc;

	if (normalize_server_name(raw, name, sizeof(name), err,
	    sizeof(err)) < 0) {
		/* One report per section, not one per key in it. */
		if (strncmp(ctx->bad_sni, raw, sizeof(ctx->bad_sni)) != 0) {
			snprintf(ctx->bad_sni, sizeof(ctx->bad_sni), "%s", raw);
			report(ctx, line, NULL, "%s", err);
		}
		return;
	}
	is_cert = strcmp(key, "certificate") == 0;
	if (!is_cert && strcmp(key, "private_key") != 0) {
		report(ctx, line, key, "unknown key in [%s] (expected "
		    "certificate or private_key)", section);
		return;
	}
	if ((set = sni_entry(ctx, name, err, sizeof(err))) == NULL) {
		report(ctx, line, key, "%s", err);
		return;
	}
	seen = is_cert ? &set->certificate_line : &set->private_key_line;
	if (*seen > 0) {
		report(ctx, line, key, "key set twice for server name %s, "
		    "first at line %d", name, *seen);
		return;
	}
	*seen = line;
	if (is_cert)
		rc = parse_file_list(ctx, NULL, value, set->certificate,
		    &set->ncertificate, err, sizeof(err));
	else
		rc = parse_file_list(ctx, NULL, value, set->private_key,
		    &set->nprivate_key, err, sizeof(err));
	if (rc < 0)
		report(ctx, line, key, "%s", err);
}

/* The inih handler. It always returns 1 (success) because it reports
 * its own errors. A return of 0 would make inih count the line as a
 * syntax error. */
static int
handle_key(void *user, const char *section, const char *name,
    const char *value)
{
	struct load_ctx *ctx = user;
	int line = ctx->lineno, i, alias;
	char err[PATH_MAX + 256];

	if (strncmp(section, SNI_PREFIX, strlen(SNI_PREFIX)) == 0) {
		handle_sni_key(ctx, section, name, value);
		return 1;
	}
	if (!section_is_known(section)) {
		report_unknown_section(ctx, section, name);
		return 1;
	}
	i = find_key(section, name);
	if (i < 0) {
		report(ctx, line, name, "unknown key in [%s]", section);
		return 1;
	}
	if (ctx->state[i].line > 0) {
		report(ctx, line, name, "key set twice, first at line %d",
		    ctx->state[i].line);
		return 1;
	}
	ctx->state[i].line = line;

	alias = find_set_alias(ctx, i);
	if (alias >= 0) {
		ctx->state[i].failed = 1;
		report(ctx, line, name, "also set in [%s] at line %d (set it "
		    "in one section only)", config_keys[alias].section,
		    ctx->state[alias].line);
		return 1;
	}
	if (config_keys[i].parse(ctx, &config_keys[i], value, err,
	    sizeof(err)) < 0) {
		ctx->state[i].failed = 1;
		report(ctx, line, name, "%s", err);
	}
	return 1;
}

static int
ignore_key(void *user, const char *section, const char *name,
    const char *value)
{
	return 1;
}

/* inih returns only the first line it cannot parse. To report every
 * one, the file is read again with the lines up to the last bad one
 * blanked, until inih finds no more. Each pass moves past at least one
 * line, so the loop ends. During the rescan read_line also sees the bad
 * line, so the message can name a section line that lacks its ']'. */
static void
report_syntax_errors(struct load_ctx *ctx, int first)
{
	int bad = first, next;

	ctx->rescan = 1;
	while (bad > 0) {
		ctx->skip_through = bad;
		ctx->lineno = 0;
		rewind(ctx->fp);
		next = ini_parse_stream(read_line, ctx, ignore_key, NULL);
		if (ctx->bad_line_is_section)
			report(ctx, bad, NULL, "syntax error (missing ] at "
			    "the end of the section name)");
		else
			report(ctx, bad, NULL, "syntax error (expected key = "
			    "value, [section], or a comment starting with ; "
			    "or #)");
		bad = next;
	}
}

/* ---- checks after reading ---- */

static void
apply_defaults(struct load_ctx *ctx)
{
	char err[256];
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		const struct config_key *key = &config_keys[i];

		if (key->default_value == NULL || ctx->state[i].line > 0 ||
		    find_set_alias(ctx, (int)i) >= 0)
			continue;
		/* The unit tests load every default, so this fires only
		 * after an untested edit of config_keys[]. */
		if (key->parse(ctx, key, key->default_value, err,
		    sizeof(err)) < 0)
			report(ctx, 0, key->name, "invalid default: %s", err);
	}
}

static void
check_required(struct load_ctx *ctx)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if ((config_keys[i].flags & KEY_REQUIRED) &&
		    ctx->state[i].line == 0)
			report(ctx, 0, config_keys[i].name, "missing required "
			    "key in [%s]", config_keys[i].section);
}

/* A line for a message about a key: where it was set, else where the
 * related key was set, else 0. */
static int
line_or(const struct key_state *k, const struct key_state *other)
{
	return k->line ? k->line : other->line;
}

/* Checks that a certificate set has both lists, of equal length.
 * section is "tls" or "sni:NAME". */
static void
check_cert_set(struct load_ctx *ctx, const struct cert_set *set,
    const char *section)
{
	if (set->certificate_line == 0 && set->private_key_line > 0)
		report(ctx, set->private_key_line, "certificate", "missing in "
		    "[%s] (private_key needs its certificate)", section);
	if (set->private_key_line == 0 && set->certificate_line > 0)
		report(ctx, set->certificate_line, "private_key", "missing in "
		    "[%s] (certificate needs its private_key)", section);
	if (set->ncertificate == 0 || set->nprivate_key == 0 ||
	    set->ncertificate == set->nprivate_key)
		return;
	report(ctx, set->private_key_line, "private_key", "lists %d file%s "
	    "but certificate (line %d) lists %d (expected one key per "
	    "certificate, in the same order)", set->nprivate_key,
	    set->nprivate_key == 1 ? "" : "s", set->certificate_line,
	    set->ncertificate);
}

static void
check_tls_versions(struct load_ctx *ctx)
{
	const struct config *cfg = ctx->cfg;
	const struct key_state *min = key_state(ctx, "tls", "min_version");
	const struct key_state *max = key_state(ctx, "tls", "max_version");

	if (min->failed || max->failed ||
	    cfg->tls.max_version >= cfg->tls.min_version)
		return;
	report(ctx, line_or(max, min), "max_version", "TLS %s is below "
	    "min_version %s", cfg->tls.max_version == TLS1_2_VERSION ?
	    "1.2" : "1.3", cfg->tls.min_version == TLS1_2_VERSION ?
	    "1.2" : "1.3");
}

/* Revocation lists and identities need client certificates. */
static void
check_tls_client_keys(struct load_ctx *ctx)
{
	const struct config *cfg = ctx->cfg;
	const struct key_state *verify = key_state(ctx, "tls",
	    "verify_client");
	const struct key_state *crl = key_state(ctx, "tls", "crl_file");
	const struct key_state *crl_check = key_state(ctx, "tls",
	    "crl_check");
	const struct key_state *identity = key_state(ctx, "tls",
	    "identity_check");

	/* The default, leaf, may stay in a file without crl_file, as in
	 * the sample config. */
	if (crl_check->line > 0 && !crl->failed && cfg->tls.crl_file == NULL &&
	    cfg->tls.crl_check == CRL_CHECK_CHAIN)
		report(ctx, crl_check->line, "crl_check", "set to chain "
		    "without crl_file in [tls]");
	if (verify->failed || cfg->tls.verify_client != VERIFY_OFF)
		return;
	if (cfg->tls.crl_file != NULL)
		report(ctx, crl->line, "crl_file", "set, but verify_client = "
		    "off (line %d) requests no client certificate to check",
		    verify->line);
	if (!identity->failed && cfg->tls.identity_check != IDENTITY_OFF)
		report(ctx, identity->line, "identity_check", "set, but "
		    "verify_client = off (line %d) requests no client "
		    "certificate to take identities from", verify->line);
}

static void
check_tls_section(struct load_ctx *ctx)
{
	const struct config *cfg = ctx->cfg;
	const struct key_state *ca = key_state(ctx, "tls", "ca_file");
	const struct key_state *verify = key_state(ctx, "tls",
	    "verify_client");
	char section[300];
	int i;

	check_cert_set(ctx, &cfg->tls.certs, "tls");
	for (i = 0; i < cfg->tls.nsni; i++) {
		snprintf(section, sizeof(section), "%s%s", SNI_PREFIX,
		    cfg->tls.sni[i].server_name);
		check_cert_set(ctx, &cfg->tls.sni[i], section);
	}
	check_tls_versions(ctx);
	check_tls_client_keys(ctx);

	if (ca->failed || verify->failed || cfg->tls.ca_file != NULL ||
	    cfg->tls.verify_client == VERIFY_OFF)
		return;
	report(ctx, ca->line, "ca_file", "%s in [tls] (required unless "
	    "verify_client = off)", ca->line ? "empty value" : "missing");
}

/* Client-side TLS files make sense only with a TLS backend, and a TLS
 * backend cannot be verified without a CA file. */
static void
check_backend_section(struct load_ctx *ctx)
{
	static const char *const tls_keys[] = {
		"ca_file", "certificate", "private_key",
	};
	const struct config *cfg = ctx->cfg;
	const struct key_state *uri = key_state(ctx, "backend", "uri");
	const struct key_state *ca, *cert, *pkey;
	size_t i;

	if (uri->line == 0 || uri->failed)
		return;

	if (cfg->backend.transport != TRANSPORT_TLS) {
		for (i = 0; i < sizeof(tls_keys) / sizeof(tls_keys[0]); i++) {
			int k = find_key("backend", tls_keys[i]);

			if (*(char **)key_field(ctx, &config_keys[k]) != NULL)
				report(ctx, ctx->state[k].line, tls_keys[i],
				    "only used with a TLS backend, but "
				    "[backend] uri uses %s (line %d)",
				    cfg->backend.transport == TRANSPORT_UDP ?
				    "udp" : "tcp", uri->line);
		}
		return;
	}

	ca = key_state(ctx, "backend", "ca_file");
	if (!ca->failed && cfg->backend.ca_file == NULL)
		report(ctx, ca->line, "ca_file", "%s in [backend] (required "
		    "because [backend] uri uses TLS, line %d)",
		    ca->line ? "empty value" : "missing", uri->line);

	cert = key_state(ctx, "backend", "certificate");
	pkey = key_state(ctx, "backend", "private_key");
	if (cert->failed || pkey->failed)
		return;
	if (cfg->backend.certificate != NULL && cfg->backend.private_key == NULL)
		report(ctx, cert->line, "certificate", "set without "
		    "private_key in [backend] (set both or neither)");
	if (cfg->backend.private_key != NULL && cfg->backend.certificate == NULL)
		report(ctx, pkey->line, "private_key", "set without "
		    "certificate in [backend] (set both or neither)");
}

/* Resolves the backend host in the family of [backend] listen: the
 * socket that sends to the backend is bound to that address. The first
 * address getaddrinfo returns is used. */
static void
resolve_backend(struct load_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	const struct key_state *uri = key_state(ctx, "backend", "uri");
	const struct key_state *listen = key_state(ctx, "backend", "listen");
	int family = cfg->backend.listen.ss.ss_family;
	const char *family_name = family == AF_INET ? "IPv4" : "IPv6";
	struct addrinfo hints, *res = NULL;
	unsigned char addr[sizeof(struct in6_addr)];
	char port[8];
	int rc;

	if (uri->line == 0 || uri->failed || listen->failed)
		return;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = cfg->backend.transport == TRANSPORT_UDP ?
	    SOCK_DGRAM : SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (inet_pton(AF_INET, cfg->backend.host, addr) == 1 ||
	    inet_pton(AF_INET6, cfg->backend.host, addr) == 1) {
		hints.ai_flags |= AI_NUMERICHOST;
		if (inet_pton(family, cfg->backend.host, addr) != 1) {
			report(ctx, uri->line, "uri", "host %s is not an %s "
			    "address like [backend] listen %s (both must be "
			    "of one family)", cfg->backend.host, family_name,
			    cfg->backend.listen.text);
			return;
		}
	}

	snprintf(port, sizeof(port), "%u", cfg->backend.port);
	rc = getaddrinfo(cfg->backend.host, port, &hints, &res);
	if (rc != 0) {
		report(ctx, uri->line, "uri", "cannot resolve %s to an %s "
		    "address (the family of [backend] listen): %s",
		    cfg->backend.host, family_name, gai_strerror(rc));
		return;
	}
	memcpy(&cfg->backend.addr, res->ai_addr, res->ai_addrlen);
	cfg->backend.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

/* ---- entry points ---- */

/* Keeps the line of each key for config_line(). Without memory the
 * lines read as 0, which only makes later messages less precise. */
static void
record_lines(struct load_ctx *ctx)
{
	size_t i;

	ctx->cfg->key_line = calloc(NKEYS, sizeof(int));
	if (ctx->cfg->key_line == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		ctx->cfg->key_line[i] = ctx->state[i].line;
}

int
config_line(const struct config *cfg, const char *section, const char *key)
{
	int i = find_key(section, key);

	if (i < 0 || cfg->key_line == NULL)
		return 0;
	return cfg->key_line[i];
}

static void
read_file(struct load_ctx *ctx)
{
	int rc;

	rc = ini_parse_stream(read_line, ctx, handle_key, ctx);
	if (ctx->read_errno != 0) {
		report(ctx, 0, NULL, "read failed: %s",
		    strerror(ctx->read_errno));
		return;
	}
	if (rc < 0)
		report(ctx, 0, NULL, "inih failed (out of memory)");
	else if (rc > 0)
		report_syntax_errors(ctx, rc);
}

struct config *
config_load(const char *path, FILE *errs)
{
	struct load_ctx ctx;
	struct config *cfg;

	memset(&ctx, 0, sizeof(ctx));
	ctx.path = path;
	ctx.errs = errs;

	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL || (cfg->path = strdup(path)) == NULL) {
		report(&ctx, 0, NULL, "out of memory");
		goto done;
	}
	ctx.cfg = cfg;

	ctx.fp = fopen(path, "re");
	if (ctx.fp == NULL) {
		report(&ctx, 0, NULL, "cannot open: %s", strerror(errno));
		goto done;
	}
	ctx.dir = config_folder(path);
	if (ctx.dir == NULL) {
		report(&ctx, 0, NULL, "cannot find the folder of the file: %s",
		    strerror(errno));
		goto done;
	}

	read_file(&ctx);
	if (ctx.read_errno != 0)
		goto done;
	apply_defaults(&ctx);
	check_required(&ctx);
	check_tls_section(&ctx);
	check_backend_section(&ctx);
	resolve_backend(&ctx);
	if (cfg->tls.nlisten > 0)
		cfg->proxy.public_port = cfg->tls.listen[0].port;
	record_lines(&ctx);

done:
	flush_errors(&ctx);
	if (ctx.fp != NULL)
		fclose(ctx.fp);
	free(ctx.linebuf);
	free(ctx.dir);
	if (ctx.nerrors > 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static void
free_cert_set(struct cert_set *set)
{
	free_list(set->certificate, CONFIG_MAX_CERTS);
	free_list(set->private_key, CONFIG_MAX_CERTS);
}

void
config_free(struct config *cfg)
{
	int i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->general.user);
	free(cfg->general.group);
	free(cfg->key_line);
	free_cert_set(&cfg->tls.certs);
	for (i = 0; i < cfg->tls.nsni; i++) {
		free_cert_set(&cfg->tls.sni[i]);
		free(cfg->tls.sni[i].server_name);
	}
	free(cfg->tls.sni);
	free(cfg->tls.ca_file);
	free(cfg->tls.crl_file);
	free(cfg->tls.ciphers);
	free(cfg->tls.ciphersuites);
	free(cfg->tls.groups);
	free_list(cfg->tls.trusted_headers, CONFIG_MAX_TRUSTED_HEADERS);
	free(cfg->backend.uri);
	free(cfg->backend.ca_file);
	free(cfg->backend.certificate);
	free(cfg->backend.private_key);
	free(cfg->proxy.public_host);
	free(cfg);
}
