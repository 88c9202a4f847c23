/* Certificate identities of a phone and the checks on its requests. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memrchr */
#endif
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "identity.h"
#include "sipmsg.h"

#define PAI_NAME	"P-Asserted-Identity"
/* Longest URI shown in a rejection reason. */
#define WHY_URI_MAX	100

/* ---- building and walking the list ---- */

void
identity_builder_init(struct identity_builder *b)
{
	memset(b, 0, sizeof(*b));
}

/* Certificate names are IA5String or printable RFC 2253 text: anything
 * outside printable ASCII is refused rather than passed into headers. */
static int
is_printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return len > 0;
}

static int
builder_reserve(struct identity_builder *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 128;
	char *grown;

	while (cap < b->len + need)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	if ((grown = realloc(b->buf, cap)) == NULL)
		return -1;
	b->buf = grown;
	b->cap = cap;
	return 0;
}

void
identity_builder_add(struct identity_builder *b, enum identity_kind kind,
    const char *text, size_t len)
{
	if (b->failed || !is_printable(text, len))
		return;
	/* The kind byte, the text, its NUL and room for the final NUL. */
	if (builder_reserve(b, len + 3) == -1) {
		b->failed = 1;
		return;
	}
	b->buf[b->len++] = (char)kind;
	memcpy(b->buf + b->len, text, len);
	b->len += len;
	b->buf[b->len++] = '\0';
}

const char *
identity_next(const char *list, const char *prev)
{
	const char *p;

	if (list == NULL)
		return NULL;
	p = prev == NULL ? list : prev + strlen(prev) + 1;
	return *p == '\0' ? NULL : p;
}

static int
is_identity(char kind)
{
	return kind == ID_URI || kind == ID_DNS || kind == ID_CN;
}

char *
identity_builder_finish(struct identity_builder *b)
{
	const char *e = NULL;
	int found = 0;
	char *list;

	if (!b->failed && builder_reserve(b, 1) == 0) {
		b->buf[b->len++] = '\0';
		while ((e = identity_next(b->buf, e)) != NULL)
			found |= is_identity(e[0]);
	}
	list = b->buf;
	if (b->failed || !found) {
		free(list);
		list = NULL;
	}
	identity_builder_init(b);
	return list;
}

const char *
identity_first(const char *list, enum identity_kind kind)
{
	const char *e = NULL;

	while ((e = identity_next(list, e)) != NULL)
		if (e[0] == (char)kind)
			return e + 1;
	return NULL;
}

void
identity_format(const char *list, char *out, size_t cap)
{
	const char *e = NULL, *prefix;
	size_t used = 0;
	int n;

	if (cap == 0)
		return;
	out[0] = '\0';
	while ((e = identity_next(list, e)) != NULL && used < cap) {
		if (!is_identity(e[0]))
			continue;
		prefix = "";
		if (e[0] == ID_DNS)
			prefix = "DNS:";
		else if (e[0] == ID_CN)
			prefix = "CN:";
		n = snprintf(out + used, cap - used, "%s%s%s",
		    used > 0 ? ", " : "", prefix, e + 1);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (out[0] == '\0')
		snprintf(out, cap, "none");
}

/* ---- comparing ---- */

struct id_uri {
	const char *user;
	size_t user_len;
	const char *host;
	size_t host_len;
};

/*
 * Splits "sip:user@host:port;params" or "sips:..." (scheme in any case)
 * into user (without a password) and host (without IPv6 brackets).
 * Returns 0, or -1 for another scheme or a URI without a host.
 */
static int
split_sip_uri(const char *uri, struct id_uri *out)
{
	const char *p, *at, *end, *colon;

	if (strncasecmp(uri, "sip:", 4) == 0)
		p = uri + 4;
	else if (strncasecmp(uri, "sips:", 5) == 0)
		p = uri + 5;
	else
		return -1;

	/* A user part may contain ';' but the host cannot contain '@', so
	 * the last '@' before any headers ends the user part. */
	end = p + strcspn(p, "?");
	at = memrchr(p, '@', (size_t)(end - p));
	out->user = p;
	out->user_len = 0;
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		out->user_len = (size_t)((colon ? colon : at) - p);
		p = at + 1;
	}
	end = p + strcspn(p, ";?");
	if (*p == '[') {
		out->host = p + 1;
		if ((end = memchr(p, ']', (size_t)(end - p))) == NULL)
			return -1;
	} else {
		out->host = p;
		end = p + strcspn(p, ":;?");
	}
	out->host_len = (size_t)(end - out->host);
	return out->host_len > 0 ? 0 : -1;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Returns the next character of a user part for comparison and advances
 * *i. An escape of a character outside RFC 2396's reserved set equals
 * the character itself (RFC 3261 section 19.1.4), so it is decoded. An
 * escaped reserved character differs from the literal one, so it comes
 * back offset by 0x100.
 */
static int
user_char(const char *s, size_t len, size_t *i)
{
	int hi, lo, c;

	if (s[*i] == '%' && *i + 2 < len &&
	    (hi = hex_value(s[*i + 1])) >= 0 &&
	    (lo = hex_value(s[*i + 2])) >= 0) {
		*i += 3;
		c = hi * 16 + lo;
		/* strchr() would also find the terminating NUL. */
		if (c != 0 && strchr(";/?:@&=+$,", c) != NULL)
			return c + 0x100;
		return c;
	}
	return (unsigned char)s[(*i)++];
}

static int
users_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0;

	while (i < alen && j < blen)
		if (user_char(a, alen, &i) != user_char(b, blen, &j))
			return 0;
	return i == alen && j == blen;
}

static int
hosts_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && strncasecmp(a, b, alen) == 0;
}

/* A wildcard name in a certificate is never approved as a SIP identity
 * (RFC 5922 section 7.2). */
static int
is_wildcard(const char *name)
{
	return strchr(name, '*') != NULL;
}

int
identity_match(const char *list, enum identity_check policy,
    const char *user, size_t user_len, const char *host, size_t host_len)
{
	const char *e = NULL;
	struct id_uri id;

	while ((e = identity_next(list, e)) != NULL) {
		const char *text = e + 1;

		if (!is_identity(e[0]) || is_wildcard(text))
			continue;
		if (e[0] != ID_URI) {
			/* A domain name covers the domain itself; with
			 * IDENTITY_USER it covers no user in it. */
			if ((policy == IDENTITY_DOMAIN || user_len == 0) &&
			    hosts_equal(text, strlen(text), host, host_len))
				return 1;
			continue;
		}
		if (split_sip_uri(text, &id) == -1 ||
		    !hosts_equal(id.host, id.host_len, host, host_len))
			continue;
		if (policy == IDENTITY_DOMAIN ||
		    users_equal(id.user, id.user_len, user, user_len))
			return 1;
	}
	return 0;
}

/* Copies a span of the message as printable ASCII for a log line. */
static void
excerpt(const struct sipmsg *m, struct sip_span s, char *out, size_t cap)
{
	size_t i, n = s.len < cap - 1 ? s.len : cap - 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)m->buf[s.off + i];

		out[i] = c >= 0x20 && c <= 0x7e ? (char)c : '.';
	}
	out[n] = '\0';
}

/* Checks the first value of header kind (From or To) against the list. */
static int
check_header_uri(const struct sipmsg *m, enum sip_hdr kind,
    const char *name, const char *list, enum identity_check policy,
    char *why, size_t cap)
{
	char uri_text[WHY_URI_MAX + 1], ids[256];
	struct sip_span value;
	struct sip_uri u;
	int line;

	if (sipmsg_value(m, kind, 0, &value, &line) == -1 ||
	    sip_uri_parse(m->buf, value, &u) == -1) {
		snprintf(why, cap, "%s has no URI to check", name);
		return -1;
	}
	excerpt(m, u.uri, uri_text, sizeof(uri_text));
	if (u.scheme.len < 3 ||
	    (strncasecmp(m->buf + u.scheme.off, "sip", u.scheme.len) != 0 &&
	    strncasecmp(m->buf + u.scheme.off, "sips", u.scheme.len) != 0)) {
		snprintf(why, cap, "%s %s is not a sip: or sips: URI", name,
		    uri_text);
		return -1;
	}
	if (identity_match(list, policy, m->buf + u.user.off, u.user.len,
	    m->buf + u.host.off, u.host.len))
		return 0;
	identity_format(list, ids, sizeof(ids));
	snprintf(why, cap, "%s %s does not match the client certificate "
	    "identities (%s) with identity_check = %s", name, uri_text, ids,
	    policy == IDENTITY_USER ? "user" : "domain");
	return -1;
}

int
identity_check_request(const struct sipmsg *m, const char *list,
    enum identity_check policy, char *why, size_t cap)
{
	if (policy == IDENTITY_OFF)
		return 0;
	if (list == NULL) {
		snprintf(why, cap, "no verified client certificate to check "
		    "From against (identity_check = %s)",
		    policy == IDENTITY_USER ? "user" : "domain");
		return -1;
	}
	if (check_header_uri(m, HDR_FROM, "From", list, policy, why,
	    cap) == -1)
		return -1;
	/* The To of a REGISTER is the address-of-record being bound. */
	if (sipmsg_method_is(m, "REGISTER"))
		return check_header_uri(m, HDR_TO, "To", list, policy, why,
		    cap);
	return 0;
}

/* ---- asserting identities toward the backend ---- */

static int
name_is(const struct sipmsg *m, struct sip_span name, const char *want)
{
	return name.len == strlen(want) &&
	    strncasecmp(m->buf + name.off, want, name.len) == 0;
}

static int
append_quoted(char *out, size_t cap, size_t *used, const char *label,
    const char *text)
{
	size_t n = *used;

	if (n > 0) {
		if (n + 2 >= cap)
			return -1;
		out[n++] = ',';
		out[n++] = ' ';
	}
	if (n + strlen(label) + 2 >= cap)
		return -1;
	n += (size_t)sprintf(out + n, "%s=\"", label);
	for (; *text != '\0'; text++) {
		if (n + 3 >= cap)
			return -1;
		if (*text == '"' || *text == '\\')
			out[n++] = '\\';
		out[n++] = *text;
	}
	if (n + 2 >= cap)
		return -1;
	out[n++] = '"';
	out[n] = '\0';
	*used = n;
	return 0;
}

int
identity_header_value(const char *list, char *out, size_t cap)
{
	static const struct {
		char kind;
		const char *label;
	} labels[] = {
		{ ID_URI, "uri" }, { ID_DNS, "dns" }, { ID_CN, "cn" },
		{ ID_SUBJECT, "subject" },
	};
	const char *e;
	size_t used = 0, i;

	if (cap == 0)
		return -1;
	out[0] = '\0';
	/* Grouped by kind, so the subject always comes last. */
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		e = NULL;
		while ((e = identity_next(list, e)) != NULL)
			if (e[0] == labels[i].kind && append_quoted(out, cap,
			    &used, labels[i].label, e + 1) == -1)
				return -1;
	}
	return 0;
}

/* A URI goes between < and > unchanged, so it may hold only characters
 * that RFC 3986 allows in a URI. */
static int
is_uri_text(const char *s)
{
	return *s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&'()*+,;=%") ==
	    strlen(s);
}

static int
insert_own(const struct sipmsg *m, struct sip_edits *ed, const char *name,
    const char *list)
{
	char value[1024];
	const char *uri;

	if (strcasecmp(name, PAI_NAME) == 0) {
		uri = identity_first(list, ID_URI);
		if (uri == NULL || !is_uri_text(uri))
			return 0;
		return sip_edit_insertf(ed, m->start_line_end, "%s: <%s>\r\n",
		    PAI_NAME, uri);
	}
	if (identity_header_value(list, value, sizeof(value)) == -1)
		return -1;
	return sip_edit_insertf(ed, m->start_line_end, "%s: %s\r\n", name,
	    value);
}

int
identity_edit_headers(const struct sipmsg *m, struct sip_edits *ed,
    char *const *names, int nnames, const char *list)
{
	int i, j;

	for (i = 0; i < m->nhdr; i++) {
		for (j = 0; j < nnames; j++) {
			if (!name_is(m, m->hdr[i].name, names[j]))
				continue;
			if (sip_edit_delete(ed, m->hdr[i].line.off,
			    m->hdr[i].line.len) == -1)
				return -1;
			break;
		}
	}
	if (list == NULL)
		return 0;
	for (j = 0; j < nnames; j++)
		if (insert_own(m, ed, names[j], list) == -1)
			return -1;
	return 0;
}
