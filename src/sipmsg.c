/* SIP message index, validation, byte edits and local responses. See
 * sipmsg.h for the contract. Everything here works on spans of the
 * original bytes. libosip2 only validates a patched copy of the header
 * section. */
#include <sys/time.h>
#include <time.h>
#include <osipparser2/osip_parser.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sipmsg.h"

/* Character classes of RFC 3261 section 25.1. */
#define C_TOKEN		0x0001	/* token */
#define C_HOST		0x0002	/* hostname, IPv4, and '_' (sent) */
#define C_V6		0x0004	/* inside an IPv6 reference */
#define C_USER		0x0008	/* user and password of a SIP URI */
#define C_PARAM		0x0010	/* URI parameters, ';' and '=' */
#define C_HNV		0x0020	/* URI headers with '&' and '=' */
#define C_PVALUE	0x0040	/* token, host or paramchar value */
#define C_SCHEME	0x0080	/* URI scheme after its first letter */
#define C_DIGIT		0x0100
#define C_ALPHA		0x0200
#define C_CTL		0x0400	/* controls except HT, and DEL */
#define C_SPECIAL	0x0800	/* what check_line_chars must look at */

#define C_ALNUM		(C_TOKEN | C_HOST | C_USER | C_PARAM | C_HNV | \
			C_PVALUE | C_SCHEME)
#define C_CTL_SPECIAL	(C_CTL | C_SPECIAL)

static const uint16_t char_class[256] = {
	[0x00 ... 0x08] = C_CTL_SPECIAL,
	[0x0a ... 0x1f] = C_CTL_SPECIAL,
	[0x7f] = C_CTL_SPECIAL,
	['"'] = C_SPECIAL,
	['\\'] = C_SPECIAL,
	['0' ... '9'] = C_ALNUM | C_DIGIT | C_V6,
	['A' ... 'F'] = C_ALNUM | C_ALPHA | C_V6,
	['G' ... 'Z'] = C_ALNUM | C_ALPHA,
	['a' ... 'f'] = C_ALNUM | C_ALPHA | C_V6,
	['g' ... 'z'] = C_ALNUM | C_ALPHA,
	['!'] = C_TOKEN | C_USER | C_PARAM | C_HNV | C_PVALUE,
	['$'] = C_USER | C_PARAM | C_HNV | C_PVALUE,
	['%'] = C_TOKEN | C_USER | C_PARAM | C_HNV | C_PVALUE,
	['&'] = C_USER | C_PARAM | C_HNV | C_PVALUE,
	['\''] = C_TOKEN | C_USER | C_PARAM | C_HNV | C_PVALUE,
	['('] = C_USER | C_PARAM | C_HNV,
	[')'] = C_USER | C_PARAM | C_HNV,
	['*'] = C_TOKEN | C_USER | C_PARAM | C_HNV | C_PVALUE,
	['+'] = C_TOKEN | C_USER | C_PARAM | C_HNV | C_PVALUE | C_SCHEME,
	[','] = C_USER,
	['-'] = C_TOKEN | C_HOST | C_USER | C_PARAM | C_HNV | C_PVALUE |
	    C_SCHEME,
	['.'] = C_TOKEN | C_HOST | C_V6 | C_USER | C_PARAM | C_HNV |
	    C_PVALUE | C_SCHEME,
	['/'] = C_USER | C_PARAM | C_HNV | C_PVALUE,
	[':'] = C_V6 | C_USER | C_PARAM | C_HNV | C_PVALUE,
	[';'] = C_USER | C_PARAM,
	['='] = C_USER | C_PARAM | C_HNV,
	['?'] = C_USER | C_HNV,
	['['] = C_PARAM | C_HNV | C_PVALUE,
	[']'] = C_PARAM | C_HNV | C_PVALUE,
	['_'] = C_TOKEN | C_HOST | C_USER | C_PARAM | C_HNV | C_PVALUE,
	['`'] = C_TOKEN | C_PVALUE,
	['~'] = C_TOKEN | C_USER | C_PARAM | C_HNV | C_PVALUE,
};

static inline int
is_class(char c, uint16_t bits)
{
	return (char_class[(unsigned char)c] & bits) != 0;
}

static inline int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline int
is_alpha(char c)
{
	return is_class(c, C_ALPHA);
}

static inline int
is_alnum(char c)
{
	return is_class(c, C_DIGIT | C_ALPHA);
}

static inline int
is_token(char c)
{
	return is_class(c, C_TOKEN);
}

static inline int
is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* Whitespace inside a header value: folded lines keep their CRLF. */
static inline int
is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
all_in_class(const char *p, const char *e, uint16_t bits)
{
	for (; p < e; p++)
		if (!is_class(*p, bits))
			return 0;
	return 1;
}

static inline struct sip_span
mkspan(const char *base, const char *p, const char *q)
{
	struct sip_span s = { (uint32_t)(p - base), (uint32_t)(q - p) };

	return s;
}

static inline int
span_eq_nocase(const char *base, struct sip_span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && strncasecmp(base + s.off, lit, n) == 0;
}

static const char *
skip_lws(const char *p, const char *e)
{
	while (p < e && is_lws(*p))
		p++;
	return p;
}

static const char *
trim_lws_end(const char *p, const char *e)
{
	while (e > p && is_lws(e[-1]))
		e--;
	return e;
}

/* Returns the position after the closing quote of the quoted string that
 * starts at p, or NULL when it does not end before e. */
static const char *
skip_quoted(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\') {
			if (++p == e)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* Parses 1*DIGIT in [p, e) bounded by max (at most 2^32). Leading zeros
 * are allowed, as RFC 3261 does not forbid them. */
static int
parse_decimal(const char *p, const char *e, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (p == e)
		return -1;
	for (; p < e; p++) {
		if (!is_digit(*p))
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

static int
parse_port(const char *p, const char *e, uint16_t *port)
{
	uint64_t v;

	if (parse_decimal(p, e, 65535, &v) < 0 || v == 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int
set_error(struct sip_error *err, int status, const char *reason)
{
	if (err != NULL) {
		err->status = status;
		err->reason = reason;
	}
	return -1;
}

/* ---- Header names ---- */

/* A response starts with SIP-Version. No request does, because a method
 * cannot contain '/'. */
static int
starts_as_response(const char *buf, size_t len)
{
	return len >= 4 && strncasecmp(buf, "SIP/", 4) == 0;
}

#define NAME(s)	(s), sizeof(s) - 1

static const struct {
	const char *name;
	size_t len;
	enum sip_hdr kind;
} header_names[] = {
	{ NAME("via"), HDR_VIA }, { NAME("v"), HDR_VIA },
	{ NAME("route"), HDR_ROUTE },
	{ NAME("record-route"), HDR_RECORD_ROUTE },
	{ NAME("path"), HDR_PATH },
	{ NAME("max-forwards"), HDR_MAX_FORWARDS },
	{ NAME("contact"), HDR_CONTACT }, { NAME("m"), HDR_CONTACT },
	{ NAME("from"), HDR_FROM }, { NAME("f"), HDR_FROM },
	{ NAME("to"), HDR_TO }, { NAME("t"), HDR_TO },
	{ NAME("call-id"), HDR_CALL_ID }, { NAME("i"), HDR_CALL_ID },
	{ NAME("cseq"), HDR_CSEQ },
	{ NAME("content-length"), HDR_CONTENT_LENGTH },
	{ NAME("l"), HDR_CONTENT_LENGTH },
	{ NAME("content-type"), HDR_CONTENT_TYPE },
	{ NAME("c"), HDR_CONTENT_TYPE },
	{ NAME("supported"), HDR_SUPPORTED }, { NAME("k"), HDR_SUPPORTED },
	{ NAME("require"), HDR_REQUIRE },
	{ NAME("proxy-require"), HDR_PROXY_REQUIRE },
	{ NAME("expires"), HDR_EXPIRES },
};

static enum sip_hdr
classify_header(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(header_names) / sizeof(header_names[0]); i++) {
		if (header_names[i].len == len &&
		    strncasecmp(header_names[i].name, name, len) == 0)
			return header_names[i].kind;
	}
	return HDR_OTHER;
}

/* ---- Global state of libosip2 ---- */

static void
discard_trace(const char *file, int line, osip_trace_level_t level,
    const char *fmt, va_list ap)
{
	(void)file;
	(void)line;
	(void)level;
	(void)fmt;
	(void)ap;
}

void
sipmsg_global_init(void)
{
	parser_init();
	/* Debian's libosip2 5.3 is built with tracing and prints parse errors
	 * to stdout until a logger is set. A callback with every level
	 * disabled stops that before any message is formatted. */
	osip_trace_initialize_func(TRACE_LEVEL0, discard_trace);
}

/* ---- Index ---- */

static void
index_reset(struct sipmsg *m, const char *buf, size_t len, size_t header_len)
{
	int i;

	m->buf = buf;
	m->len = len;
	m->header_len = header_len;
	m->start_line_end = 0;
	m->is_request = buf != NULL && !starts_as_response(buf, len);
	m->method.off = m->method.len = 0;
	m->ruri.off = m->ruri.len = 0;
	m->status = 0;
	m->nhdr = 0;
	for (i = 0; i < HDR__COUNT; i++)
		m->first[i] = -1;
	m->max_forwards = -1;
	m->cseq = 0;
	m->cseq_method.off = m->cseq_method.len = 0;
	m->to_has_tag = 0;
	memset(&m->top_via, 0, sizeof(m->top_via));
	m->osip = NULL;
}

/* Records the start line's parts loosely, so that a message with a
 * malformed request line can still get a response. sipmsg_parse checks
 * the exact grammar. */
static int
index_start_line(struct sipmsg *m, const char *e, struct sip_error *err)
{
	const char *s = m->buf, *p, *q;

	if (!m->is_request) {
		p = memchr(s, ' ', (size_t)(e - s));
		if (p == NULL)
			return 0;
		for (q = ++p; q < e && is_digit(*q) && q - p < 4; q++)
			;
		if (q - p == 3 && (q == e || *q == ' '))
			m->status = (p[0] - '0') * 100 + (p[1] - '0') * 10 +
			    (p[2] - '0');
		return 0;
	}

	for (p = s; p < e && is_token(*p); p++)
		;
	if (p == s || p == e || *p != ' ')
		return set_error(err, 400, "Malformed Request Line");
	m->method = mkspan(s, s, p);
	while (p < e && *p == ' ')
		p++;
	for (q = p; q < e && *q != ' '; q++)
		;
	m->ruri = mkspan(s, p, q);
	return 0;
}

/* Sets the value span of a finished header to its text after the colon
 * without surrounding whitespace. */
static void
index_trim_value(struct sipmsg *m, struct sip_header *h)
{
	const char *b = m->buf;
	const char *p = b + h->value.off;
	const char *e = b + h->line.off + h->line.len;

	e = trim_lws_end(p, e);
	p = skip_lws(p, e);
	h->value = mkspan(b, p, e);
}

static int
index_header_line(struct sipmsg *m, const char *p, const char *content_end,
    const char *line_end, struct sip_error *err)
{
	const char *b = m->buf, *name = p, *name_end;
	struct sip_header *h;

	while (p < content_end && is_token(*p))
		p++;
	name_end = p;
	while (p < content_end && is_ws(*p))
		p++;
	if (name_end == name || p == content_end || *p != ':')
		return set_error(err, 400, "Malformed Header");
	if (m->nhdr == SIPMSG_MAX_HEADERS)
		return set_error(err, 400, "Too Many Headers");

	h = &m->hdr[m->nhdr];
	h->kind = classify_header(name, (size_t)(name_end - name));
	h->line = mkspan(b, name, line_end);
	h->name = mkspan(b, name, name_end);
	h->value = mkspan(b, p + 1, content_end);
	if (m->first[h->kind] < 0)
		m->first[h->kind] = m->nhdr;
	m->nhdr++;
	return 0;
}

/*
 * Lines end at LF. A bare LF is taken as a line end here so that such a
 * message can still get a response, and sipmsg_parse rejects it. Lines
 * starting with SP or HT continue the previous header (RFC 3261 section
 * 7.3.1).
 */
int
sipmsg_index(struct sipmsg *m, const char *buf, size_t len,
    size_t header_len, struct sip_error *err)
{
	const char *p, *e, *lf, *content_end;
	int i;

	index_reset(m, buf, len, header_len);
	if (buf == NULL || header_len > len || len > UINT32_MAX ||
	    header_len < 2)
		return set_error(err, 400, "Malformed Message");

	e = buf + header_len;
	lf = memchr(buf, '\n', header_len);
	if (lf == NULL || lf == buf || (lf == buf + 1 && buf[0] == '\r'))
		return set_error(err, 400, "Malformed Start Line");
	content_end = (lf[-1] == '\r') ? lf - 1 : lf;
	if (index_start_line(m, content_end, err) < 0)
		return -1;
	m->start_line_end = (size_t)(lf + 1 - buf);

	for (p = lf + 1; ; p = lf + 1) {
		if (p >= e)
			return set_error(err, 400, "Missing Empty Line");
		lf = memchr(p, '\n', (size_t)(e - p));
		if (lf == NULL)
			return set_error(err, 400, "Missing Empty Line");
		content_end = (lf > p && lf[-1] == '\r') ? lf - 1 : lf;
		if (content_end == p) {
			/* The empty line must end the header section. */
			if (lf + 1 != e)
				return set_error(err, 400, "Malformed Message");
			break;
		}
		if (is_ws(*p)) {
			struct sip_header *h;

			if (m->nhdr == 0)
				return set_error(err, 400, "Malformed Header");
			h = &m->hdr[m->nhdr - 1];
			h->line.len = (uint32_t)(lf + 1 - (buf + h->line.off));
			continue;
		}
		if (index_header_line(m, p, content_end, lf + 1, err) < 0)
			return -1;
	}

	for (i = 0; i < m->nhdr; i++)
		index_trim_value(m, &m->hdr[i]);
	return 0;
}

/* ---- Values ---- */

/* Walks the comma-separated values of one header kind across its lines. */
struct value_iter {
	const struct sipmsg *m;
	enum sip_hdr kind;
	int line;		/* current line, or -1 when done */
	const char *pos;	/* next value start in the current line */
};

static void
value_iter_start_line(struct value_iter *it, int line)
{
	const struct sipmsg *m = it->m;

	for (; line < m->nhdr; line++) {
		const struct sip_header *h = &m->hdr[line];

		if (h->kind == it->kind && h->value.len > 0) {
			it->line = line;
			it->pos = m->buf + h->value.off;
			return;
		}
	}
	it->line = -1;
}

/* HDR_OTHER yields nothing: it groups unrelated headers. */
static void
value_iter_init(struct value_iter *it, const struct sipmsg *m,
    enum sip_hdr kind)
{
	it->m = m;
	it->kind = kind;
	it->line = -1;
	if (kind > HDR_OTHER && kind < HDR__COUNT && m->first[kind] >= 0)
		value_iter_start_line(it, m->first[kind]);
}

/* Returns the end of the value starting at p: the first comma outside a
 * quoted string and outside <>, or e. */
static const char *
value_end(const char *p, const char *e)
{
	int in_angle = 0;

	for (; p < e; p++) {
		if (*p == '"' && !in_angle) {
			const char *q = skip_quoted(p, e);

			if (q == NULL)
				return e;
			p = q - 1;
		} else if (*p == '<') {
			in_angle = 1;
		} else if (*p == '>') {
			in_angle = 0;
		} else if (*p == ',' && !in_angle) {
			return p;
		}
	}
	return e;
}

/* Returns 1 and the next value (trimmed, possibly empty), or 0 at the
 * end. */
static int
value_next(struct value_iter *it, struct sip_span *value, int *line_index)
{
	const struct sipmsg *m = it->m;
	const struct sip_header *h;
	const char *e, *vend, *start;

	if (it->line < 0)
		return 0;
	h = &m->hdr[it->line];
	e = m->buf + h->value.off + h->value.len;
	vend = value_end(it->pos, e);
	start = skip_lws(it->pos, vend);
	*value = mkspan(m->buf, start, trim_lws_end(start, vend));
	*line_index = it->line;
	if (vend < e)
		it->pos = vend + 1;
	else
		value_iter_start_line(it, it->line + 1);
	return 1;
}

int
sipmsg_value(const struct sipmsg *m, enum sip_hdr kind, int n,
    struct sip_span *value, int *line_index)
{
	struct value_iter it;
	struct sip_span v;
	int li;

	if (n < 0)
		return -1;
	value_iter_init(&it, m, kind);
	while (value_next(&it, &v, &li)) {
		if (n-- == 0) {
			*value = v;
			if (line_index != NULL)
				*line_index = li;
			return 0;
		}
	}
	return -1;
}

int
sipmsg_method_is(const struct sipmsg *m, const char *name)
{
	size_t n = strlen(name);

	return m->is_request && m->method.len == n &&
	    memcmp(m->buf + m->method.off, name, n) == 0;
}

/* ---- Parameters ---- */

struct param {
	const char *start;	/* the ';' */
	const char *name, *name_end;
	const char *val, *val_end;	/* NULL for a flag parameter */
};

/*
 * Reads the next "SWS ; SWS name [SWS = SWS value]" at *pp. Returns 1 and
 * advances *pp, 0 when only whitespace is left, -1 when malformed.
 */
static int
param_next(const char **pp, const char *e, struct param *prm)
{
	const char *p = skip_lws(*pp, e), *q;

	if (p == e)
		return 0;
	if (*p != ';')
		return -1;
	prm->start = p;
	p = skip_lws(p + 1, e);
	prm->name = p;
	while (p < e && is_token(*p))
		p++;
	if (p == prm->name)
		return -1;
	prm->name_end = p;
	prm->val = prm->val_end = NULL;

	q = skip_lws(p, e);
	if (q < e && *q == '=') {
		q = skip_lws(q + 1, e);
		prm->val = q;
		if (q < e && *q == '"') {
			q = skip_quoted(q, e);
			if (q == NULL)
				return -1;
		} else {
			while (q < e && is_class(*q, C_PVALUE))
				q++;
		}
		if (q == prm->val)
			return -1;
		prm->val_end = q;
		p = q;
	}
	*pp = p;
	return 1;
}

static int
param_is(const struct param *prm, const char *name)
{
	size_t n = strlen(name);

	return (size_t)(prm->name_end - prm->name) == n &&
	    strncasecmp(prm->name, name, n) == 0;
}

int
sip_param_find(const char *buf, struct sip_span params, const char *name,
    struct sip_span *val)
{
	const char *p = buf + params.off, *e = p + params.len;
	struct param prm;

	while (param_next(&p, e, &prm) == 1) {
		if (!param_is(&prm, name))
			continue;
		if (val != NULL) {
			if (prm.val != NULL)
				*val = mkspan(buf, prm.val, prm.val_end);
			else
				*val = mkspan(buf, prm.name_end, prm.name_end);
		}
		return 1;
	}
	return 0;
}

/* ---- Hosts and URIs ---- */

/* Parses host at *pp: an IPv6 reference in brackets (the span excludes
 * them) or a hostname or IPv4 address. The IPv6 check is loose because
 * RFC 5118 section 4.10 recommends tolerating "2001:db8:::192.0.2.1". */
static int
parse_host(const char *base, const char **pp, const char *e,
    struct sip_span *host)
{
	const char *p = *pp, *q;

	if (p < e && *p == '[') {
		int colons = 0;

		for (q = p + 1; q < e && is_class(*q, C_V6); q++)
			colons += (*q == ':');
		if (q == e || *q != ']' || colons < 2)
			return -1;
		*host = mkspan(base, p + 1, q);
		*pp = q + 1;
		return 0;
	}
	for (q = p; q < e && is_class(*q, C_HOST); q++)
		;
	if (q == p)
		return -1;
	*host = mkspan(base, p, q);
	*pp = q;
	return 0;
}

/* Parses a bare URI in [s, e). For sip and sips it locates user, host,
 * port, parameters and headers. Other schemes stay opaque. */
static int
uri_parse(const char *base, const char *s, const char *e, struct sip_uri *u,
    struct sip_span *headers)
{
	const char *p, *at, *hp, *q;

	memset(u, 0, sizeof(*u));
	headers->off = headers->len = 0;
	for (p = s; p < e; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '<' || *p == '>' || *p == '"')
			return -1;

	if (s == e || !is_alpha(*s))
		return -1;
	for (p = s + 1; p < e && is_class(*p, C_SCHEME); p++)
		;
	if (p == e || *p != ':' || p + 1 == e)
		return -1;
	u->uri = mkspan(base, s, e);
	u->scheme = mkspan(base, s, p);
	if (!span_eq_nocase(base, u->scheme, "sip") &&
	    !span_eq_nocase(base, u->scheme, "sips"))
		return 0;

	hp = p + 1;
	at = memchr(hp, '@', (size_t)(e - hp));
	if (at != NULL) {
		for (q = hp; q < at && *q != ':'; q++)
			;
		if (q == hp || !all_in_class(hp, at, C_USER))
			return -1;
		u->user = mkspan(base, hp, q);
		hp = at + 1;
	}
	if (parse_host(base, &hp, e, &u->host) < 0)
		return -1;
	if (hp < e && *hp == ':') {
		for (q = ++hp; q < e && is_digit(*q); q++)
			;
		if (parse_port(hp, q, &u->port) < 0)
			return -1;
		hp = q;
	}
	if (hp < e && *hp == ';') {
		for (q = hp; q < e && *q != '?'; q++)
			;
		if (!all_in_class(hp, q, C_PARAM))
			return -1;
		u->params = mkspan(base, hp, q);
		hp = q;
	}
	if (hp < e && *hp == '?') {
		if (!all_in_class(hp + 1, e, C_HNV))
			return -1;
		*headers = mkspan(base, hp, e);
		hp = e;
	}
	return hp == e ? 0 : -1;
}

/* Parts of one name-addr or addr-spec header value. */
struct addr {
	struct sip_uri uri;
	struct sip_span headers;	/* "?..." part of the URI */
	int bracketed;			/* name-addr form */
	const char *hparams, *hparams_end;	/* header parameters */
};

/* Returns the '<' that starts a name-addr after a token display name, or
 * NULL when the value is an addr-spec. */
static const char *
find_laquot(const char *p, const char *e)
{
	while (p < e && (is_token(*p) || is_lws(*p)))
		p++;
	return (p < e && *p == '<') ? p : NULL;
}

/*
 * Parses a name-addr ("display" <uri>;params) or addr-spec (uri;params).
 * In an addr-spec the URI ends at the first ';' or whitespace, so what
 * follows is header parameters (RFC 3261 section 20.10). A '?' in it is
 * rejected because such a URI must be in <>. A display name must be a
 * quoted string or tokens, as RFC 4475 section 3.1.2.15 expects.
 */
static int
addr_parse(const char *base, const char *p, const char *e, struct addr *a)
{
	const char *laquot = NULL, *raquot, *q;

	p = skip_lws(p, e);
	e = trim_lws_end(p, e);
	if (p < e && *p == '"') {
		q = skip_quoted(p, e);
		if (q == NULL)
			return -1;
		laquot = skip_lws(q, e);
		if (laquot == e || *laquot != '<')
			return -1;
	} else {
		laquot = find_laquot(p, e);
	}

	a->bracketed = laquot != NULL;
	if (laquot != NULL) {
		raquot = memchr(laquot, '>', (size_t)(e - laquot));
		if (raquot == NULL)
			return -1;
		if (uri_parse(base, laquot + 1, raquot, &a->uri,
		    &a->headers) < 0)
			return -1;
		a->hparams = raquot + 1;
	} else {
		for (q = p; q < e && *q != ';' && !is_lws(*q); q++)
			;
		if (uri_parse(base, p, q, &a->uri, &a->headers) < 0)
			return -1;
		if (memchr(p, '?', (size_t)(q - p)) != NULL)
			return -1;
		a->hparams = q;
	}
	a->hparams_end = e;
	return 0;
}

/* Walks the header parameters of an address. Returns 0, or -1 when they
 * are malformed. Sets *has_tag when a tag is present, and *expires_ok to
 * 0 when an expires parameter is beyond 2^32-1 or not a number. */
static int
addr_check_params(const struct addr *a, int *has_tag, int *expires_ok)
{
	const char *p = a->hparams;
	struct param prm;
	int r;

	while ((r = param_next(&p, a->hparams_end, &prm)) == 1) {
		uint64_t v;

		if (has_tag != NULL && param_is(&prm, "tag"))
			*has_tag = 1;
		if (expires_ok != NULL && param_is(&prm, "expires") &&
		    (prm.val == NULL ||
		    parse_decimal(prm.val, prm.val_end, UINT32_MAX, &v) < 0))
			*expires_ok = 0;
	}
	return r;
}

int
sip_uri_parse(const char *buf, struct sip_span value, struct sip_uri *out)
{
	struct addr a;
	const char *p = buf + value.off;

	if (addr_parse(buf, p, p + value.len, &a) < 0)
		return -1;
	*out = a.uri;
	return 0;
}

int
sipmsg_ruri(const struct sipmsg *m, struct sip_uri *out)
{
	const char *p = m->buf + m->ruri.off;
	struct sip_span headers;

	if (!m->is_request)
		return -1;
	return uri_parse(m->buf, p, p + m->ruri.len, out, &headers);
}

/* ---- Via ---- */

/* Matches a literal after optional whitespace, case-insensitively. */
static int
expect_lit(const char **pp, const char *e, const char *lit)
{
	const char *p = skip_lws(*pp, e);
	size_t n = strlen(lit);

	if ((size_t)(e - p) < n || strncasecmp(p, lit, n) != 0)
		return -1;
	*pp = p + n;
	return 0;
}

static int
via_sent_by(const char *base, const char **pp, const char *e,
    struct sip_via *v)
{
	const char *p = *pp, *q;

	if (parse_host(base, &p, e, &v->host) < 0)
		return -1;
	q = skip_lws(p, e);
	if (q < e && *q == ':') {
		q = skip_lws(q + 1, e);
		for (p = q; p < e && is_digit(*p); p++)
			;
		if (parse_port(q, p, &v->port) < 0)
			return -1;
	}
	*pp = p;
	return 0;
}

static int
via_param(const char *base, const struct param *prm, struct sip_via *v)
{
	if (param_is(prm, "branch")) {
		if (prm->val == NULL)
			return -1;
		v->branch = mkspan(base, prm->val, prm->val_end);
	} else if (param_is(prm, "received")) {
		if (prm->val == NULL)
			return -1;
		v->received = mkspan(base, prm->val, prm->val_end);
	} else if (param_is(prm, "rport")) {
		const char *end = prm->val ? prm->val_end : prm->name_end;

		v->has_rport = 1;
		v->rport = mkspan(base, prm->start, end);
		if (prm->val != NULL &&
		    parse_port(prm->val, prm->val_end, &v->rport_value) < 0)
			return -1;
	}
	return 0;
}

/* Parses "SIP / 2.0 / transport LWS sent-by *(; via-params)" in [p, e);
 * RFC 3261 allows whitespace around each '/', ':', ';' and '='. */
static int
via_parse(const char *base, const char *p, const char *e, struct sip_via *v)
{
	const char *q;
	struct param prm;
	int r;

	memset(v, 0, sizeof(*v));
	v->value = mkspan(base, p, e);
	if (expect_lit(&p, e, "SIP") < 0 || expect_lit(&p, e, "/") < 0 ||
	    expect_lit(&p, e, "2.0") < 0 || expect_lit(&p, e, "/") < 0)
		return -1;
	p = skip_lws(p, e);
	for (q = p; q < e && is_token(*q); q++)
		;
	if (q == p || q == e || !is_lws(*q))
		return -1;
	v->transport = mkspan(base, p, q);
	p = skip_lws(q, e);
	if (via_sent_by(base, &p, e, v) < 0)
		return -1;
	while ((r = param_next(&p, e, &prm)) == 1)
		if (via_param(base, &prm, v) < 0)
			return -1;
	return r;
}

int
sipmsg_via(const struct sipmsg *m, int n, struct sip_via *out)
{
	struct sip_span v;
	const char *p;

	if (sipmsg_value(m, HDR_VIA, n, &v, NULL) < 0)
		return -1;
	p = m->buf + v.off;
	return via_parse(m->buf, p, p + v.len, out);
}

/* ---- Checks of sipmsg_parse ---- */

/*
 * Returns -2 on a bare CR or LF and -1 on a control character in a line.
 * A control character, NUL included, is allowed only as a quoted-pair
 * inside a quoted string (RFC 3261 section 25.1), as in RFC 4475
 * section 3.1.1.2. Sets *nul_seen when such a NUL was accepted.
 */
static int
check_line_chars(const char *p, const char *e, int quotes, int *nul_seen)
{
	int in_quote = 0;

	for (; p < e; p++) {
		char c = *p;

		if (!is_class(c, C_SPECIAL))
			continue;
		if (c == '\r') {
			if (p + 1 == e || p[1] != '\n')
				return -2;
			p++;
			continue;
		}
		if (c == '\n')
			return -2;
		if (in_quote && c == '\\' && p + 1 < e && p[1] != '\r' &&
		    p[1] != '\n') {
			p++;
			*nul_seen |= (*p == '\0');
			continue;
		}
		if (is_class(c, C_CTL))
			return -1;
		if (c == '"' && quotes)
			in_quote = !in_quote;
	}
	return 0;
}

static int
chars_error(int r, struct sip_error *err)
{
	if (r == -2)
		return set_error(err, 400, "Invalid Line Ending");
	return set_error(err, 400, "Invalid Character");
}

static int
check_chars(const struct sipmsg *m, int *nul_seen, struct sip_error *err)
{
	const char *b = m->buf;
	size_t last = m->start_line_end;
	int i, r;

	r = check_line_chars(b, b + m->start_line_end, 0, nul_seen);
	if (r < 0)
		return chars_error(r, err);
	for (i = 0; i < m->nhdr; i++) {
		const struct sip_header *h = &m->hdr[i];

		/* A Call-ID word may hold a lone '"', so it opens no
		 * quoted string. */
		r = check_line_chars(b + h->line.off,
		    b + h->line.off + h->line.len, h->kind != HDR_CALL_ID,
		    nul_seen);
		if (r < 0)
			return chars_error(r, err);
	}
	if (m->nhdr > 0) {
		const struct sip_header *h = &m->hdr[m->nhdr - 1];

		last = h->line.off + h->line.len;
	}
	/* The index has placed the empty line last, and it must be a CRLF
	 * too. */
	if (m->header_len - last != 2 || b[last] != '\r')
		return set_error(err, 400, "Invalid Line Ending");
	return 0;
}

/* SIP-Version is case-insensitive (RFC 3261 section 7.1). A well-formed
 * other version gets 505 (RFC 4475 section 3.1.2.16). */
static int
check_version(const char *p, const char *e, struct sip_error *err)
{
	const char *q;

	if (e - p == 7 && strncasecmp(p, "SIP/2.0", 7) == 0)
		return 0;
	if (e - p < 7 || strncasecmp(p, "SIP/", 4) != 0)
		return set_error(err, 400, "Bad SIP Version");
	for (q = p + 4; q < e && is_digit(*q); q++)
		;
	if (q == p + 4 || q == e || *q != '.')
		return set_error(err, 400, "Bad SIP Version");
	for (p = ++q; q < e && is_digit(*q); q++)
		;
	if (q == p || q != e)
		return set_error(err, 400, "Bad SIP Version");
	return set_error(err, 505, "Version Not Supported");
}

/* Checks Method SP Request-URI SP SIP-Version with single spaces. */
static int
check_request_line(const struct sipmsg *m, struct sip_error *err)
{
	const char *b = m->buf, *e = b + m->start_line_end - 2;
	const char *uri = b + m->method.len + 1, *uri_end, *version;
	struct sip_uri u;
	struct sip_span headers;

	uri_end = memchr(uri, ' ', (size_t)(e - uri));
	if (uri_end == NULL || uri_end == uri)
		return set_error(err, 400, "Malformed Request Line");
	version = uri_end + 1;
	if (memchr(version, ' ', (size_t)(e - version)) != NULL)
		return set_error(err, 400, "Malformed Request Line");
	if (check_version(version, e, err) < 0)
		return -1;
	/* Headers in a SIP Request-URI are forbidden (RFC 3261 section
	 * 19.1.1). Relaying them would let the sender inject headers. */
	if (uri_parse(b, uri, uri_end, &u, &headers) < 0 || headers.len > 0)
		return set_error(err, 400, "Invalid Request-URI");
	return 0;
}

/* Checks SIP-Version SP 3DIGIT SP Reason-Phrase. */
static int
check_status_line(const struct sipmsg *m, struct sip_error *err)
{
	const char *b = m->buf, *e = b + m->start_line_end - 2, *sp, *q;

	sp = memchr(b, ' ', (size_t)(e - b));
	if (sp == NULL)
		return set_error(err, 400, "Malformed Status Line");
	if (check_version(b, sp, err) < 0)
		return -1;
	for (q = sp + 1; q < e && is_digit(*q); q++)
		;
	if (q - sp != 4 || m->status < 100 || m->status > 699)
		return set_error(err, 400, "Invalid Status Code");
	if (q == e || *q != ' ')
		return set_error(err, 400, "Malformed Status Line");
	return 0;
}

static int
count_lines(const struct sipmsg *m, enum sip_hdr kind)
{
	int i, n = 0;

	for (i = m->first[kind]; i >= 0 && i < m->nhdr; i++)
		n += m->hdr[i].kind == kind;
	return n;
}

struct required {
	enum sip_hdr kind;
	const char *missing;
	const char *multiple;
};

/* RFC 3261 section 8.1.1 requires these in every request, and a response
 * copies them. */
static const struct required required_headers[] = {
	{ HDR_VIA, "Missing Via", NULL },
	{ HDR_CALL_ID, "Missing Call-ID", "Multiple Call-ID" },
	{ HDR_FROM, "Missing From", "Multiple From" },
	{ HDR_TO, "Missing To", "Multiple To" },
	{ HDR_CSEQ, "Missing CSeq", "Multiple CSeq" },
};

static int
check_required(const struct sipmsg *m, struct sip_error *err)
{
	size_t i;

	for (i = 0; i < sizeof(required_headers) / sizeof(required_headers[0]);
	    i++) {
		const struct required *r = &required_headers[i];
		struct sip_span v;

		if (m->first[r->kind] < 0 ||
		    m->hdr[m->first[r->kind]].value.len == 0)
			return set_error(err, 400, r->missing);
		if (r->multiple == NULL)
			continue;
		if (count_lines(m, r->kind) > 1 ||
		    (r->kind != HDR_CALL_ID &&
		    sipmsg_value(m, r->kind, 1, &v, NULL) == 0))
			return set_error(err, 400, r->multiple);
	}
	return 0;
}

/*
 * Returns 1 when a line of this kind has an empty value. RFC 3261 gives
 * Via, Route, Record-Route, Path and Contact at least one value. The value
 * iterator skips an empty line, so removing the values before one would
 * make it the first line of its kind in the forwarded message.
 */
static int
has_empty_line(const struct sipmsg *m, enum sip_hdr kind)
{
	int i;

	for (i = m->first[kind]; i >= 0 && i < m->nhdr; i++)
		if (m->hdr[i].kind == kind && m->hdr[i].value.len == 0)
			return 1;
	return 0;
}

static int
check_vias(struct sipmsg *m, struct sip_error *err)
{
	struct value_iter it;
	struct sip_span v;
	struct sip_via via;
	int li, n = 0;

	if (has_empty_line(m, HDR_VIA))
		return set_error(err, 400, "Malformed Via");
	value_iter_init(&it, m, HDR_VIA);
	while (value_next(&it, &v, &li)) {
		const char *p = m->buf + v.off;

		if (via_parse(m->buf, p, p + v.len, &via) < 0)
			return set_error(err, 400, "Malformed Via");
		if (n++ == 0)
			m->top_via = via;
	}
	if (n == 0)
		return set_error(err, 400, "Malformed Via");
	return 0;
}

static int
check_call_id(const struct sipmsg *m, struct sip_error *err)
{
	const struct sip_header *h = &m->hdr[m->first[HDR_CALL_ID]];
	const char *p = m->buf + h->value.off, *e = p + h->value.len;

	for (; p < e; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return set_error(err, 400, "Invalid Call-ID");
	return 0;
}

/* CSeq = 1*DIGIT LWS Method, the number below 2^31 (RFC 3261 section
 * 8.1.1.5), the method equal to the request's. */
static int
check_cseq(struct sipmsg *m, struct sip_error *err)
{
	const struct sip_header *h = &m->hdr[m->first[HDR_CSEQ]];
	const char *b = m->buf, *p = b + h->value.off, *e = p + h->value.len;
	const char *q, *method;
	uint64_t v;

	for (q = p; q < e && is_digit(*q); q++)
		;
	if (parse_decimal(p, q, INT32_MAX, &v) < 0 || q == e || !is_lws(*q))
		return set_error(err, 400, "Invalid CSeq");
	method = skip_lws(q, e);
	for (q = method; q < e && is_token(*q); q++)
		;
	if (q == method || q != e)
		return set_error(err, 400, "Invalid CSeq");
	m->cseq = (uint32_t)v;
	m->cseq_method = mkspan(b, method, e);
	if (m->is_request && (m->cseq_method.len != m->method.len ||
	    memcmp(method, b + m->method.off, m->method.len) != 0))
		return set_error(err, 400, "CSeq Method Mismatch");
	return 0;
}

static int
parse_max_forwards(const struct sipmsg *m, int line)
{
	const struct sip_header *h = &m->hdr[line];
	const char *p = m->buf + h->value.off;
	uint64_t v;

	if (parse_decimal(p, p + h->value.len, 255, &v) < 0)
		return -1;
	return (int)v;
}

static int
check_max_forwards(struct sipmsg *m, struct sip_error *err)
{
	int line = m->first[HDR_MAX_FORWARDS];

	if (line < 0)
		return 0;
	if (count_lines(m, HDR_MAX_FORWARDS) > 1)
		return set_error(err, 400, "Invalid Max-Forwards");
	m->max_forwards = parse_max_forwards(m, line);
	if (m->max_forwards < 0)
		return set_error(err, 400, "Invalid Max-Forwards");
	return 0;
}

/* The framer has matched Content-Length to the body already; checking it
 * again keeps this function safe for datagrams and direct callers. */
static int
check_content_length(const struct sipmsg *m, struct sip_error *err)
{
	int line = m->first[HDR_CONTENT_LENGTH];
	const struct sip_header *h;
	uint64_t v;

	if (line < 0)
		return 0;
	if (count_lines(m, HDR_CONTENT_LENGTH) > 1)
		return set_error(err, 400, "Multiple Content-Length");
	h = &m->hdr[line];
	if (parse_decimal(m->buf + h->value.off,
	    m->buf + h->value.off + h->value.len, UINT32_MAX, &v) < 0)
		return set_error(err, 400, "Invalid Content-Length");
	if (v != m->len - m->header_len)
		return set_error(err, 400, "Content-Length Mismatch");
	return 0;
}

static int
check_expires(const struct sipmsg *m, struct sip_error *err)
{
	int i;

	for (i = m->first[HDR_EXPIRES]; i >= 0 && i < m->nhdr; i++) {
		const struct sip_header *h = &m->hdr[i];
		const char *p = m->buf + h->value.off;
		uint64_t v;

		if (h->kind == HDR_EXPIRES &&
		    parse_decimal(p, p + h->value.len, UINT32_MAX, &v) < 0)
			return set_error(err, 400, "Invalid Expires");
	}
	return 0;
}

struct addr_rule {
	enum sip_hdr kind;
	int need_brackets;	/* name-addr only, as in Route and Path */
	const char *malformed;
};

static const struct addr_rule addr_rules[] = {
	{ HDR_FROM, 0, "Malformed From" },
	{ HDR_TO, 0, "Malformed To" },
	{ HDR_CONTACT, 0, "Malformed Contact" },
	{ HDR_ROUTE, 1, "Malformed Route" },
	{ HDR_RECORD_ROUTE, 1, "Malformed Record-Route" },
	{ HDR_PATH, 1, "Malformed Path" },
};

static int
check_addr_value(struct sipmsg *m, const struct addr_rule *rule,
    struct sip_span v, struct sip_error *err)
{
	const char *p = m->buf + v.off;
	struct addr a;
	int has_tag = 0, expires_ok = 1;

	if (rule->kind == HDR_CONTACT && v.len == 1 && *p == '*')
		return 0;
	if (addr_parse(m->buf, p, p + v.len, &a) < 0 ||
	    (rule->need_brackets && !a.bracketed) ||
	    addr_check_params(&a, &has_tag, &expires_ok) < 0)
		return set_error(err, 400, rule->malformed);
	if (!expires_ok)
		return set_error(err, 400, "Invalid Expires");
	if (rule->kind == HDR_TO)
		m->to_has_tag = has_tag;
	return 0;
}

static int
check_addresses(struct sipmsg *m, struct sip_error *err)
{
	size_t i;

	for (i = 0; i < sizeof(addr_rules) / sizeof(addr_rules[0]); i++) {
		struct value_iter it;
		struct sip_span v;
		int li;

		if (has_empty_line(m, addr_rules[i].kind))
			return set_error(err, 400, addr_rules[i].malformed);
		value_iter_init(&it, m, addr_rules[i].kind);
		while (value_next(&it, &v, &li))
			if (check_addr_value(m, &addr_rules[i], v, err) < 0)
				return -1;
	}
	return 0;
}

/* ---- libosip2 ---- */

/* Header sections up to this size are copied on the stack. Larger ones
 * go to the heap, which is rare because the framer bounds them. */
#define OSIP_COPY_STACK	8192

static size_t
copy_for_osip(const struct sipmsg *m, char *dst)
{
	const char *b = m->buf;
	size_t n, from = 0;
	int i;
	char *p;

	/* Content-Length lines are left out so that libosip2 accepts the
	 * header section without its body. */
	n = 0;
	for (i = 0; i < m->nhdr; i++) {
		const struct sip_header *h = &m->hdr[i];

		if (h->kind != HDR_CONTENT_LENGTH)
			continue;
		memcpy(dst + n, b + from, h->line.off - from);
		n += h->line.off - from;
		from = h->line.off + h->line.len;
	}
	memcpy(dst + n, b + from, m->header_len - from);
	n += m->header_len - from;

	/* libosip2 5.3 accepts only letters and digits in a URI scheme, but
	 * RFC 3261 also allows '+', '-' and '.' ("soap.beep:" in RFC 4475
	 * section 3.3.3). The Request-URI has passed our own check.
	 * NOTE: such a scheme in To, From or Contact still fails libosip2. */
	if (m->is_request)
		for (p = dst + m->ruri.off; *p != ':'; p++)
			if (!is_alnum(*p))
				*p = 'x';
	return n;
}

/*
 * Runs libosip2 on a copy of the header section without Content-Length
 * and without the body. Measured on libosip2 5.3: it needs Content-Length
 * to match the bytes it is given, it stops at a NUL, and multipart bodies
 * with two Content-Type headers in a part leak memory inside it. The body
 * is opaque to a proxy, so leaving it out avoids all three at the cost of
 * one copy of the header section.
 */
static int
check_osip(struct sipmsg *m, int nul_seen, struct sip_error *err)
{
	char stack_copy[OSIP_COPY_STACK];
	char *copy = stack_copy, *p;
	osip_message_t *msg = NULL;
	size_t n;
	int r;

	if (m->header_len > sizeof(stack_copy)) {
		copy = malloc(m->header_len);
		if (copy == NULL)
			return set_error(err, 500, "Server Internal Error");
	}
	n = copy_for_osip(m, copy);
	/* A NUL passed check_chars only as a quoted-pair. libosip2 would take
	 * it as the end of the message, and any other byte keeps the pair
	 * valid. */
	p = nul_seen ? memchr(copy, '\0', n) : NULL;
	for (; p != NULL; p = memchr(p, '\0', n - (size_t)(p - copy)))
		*p = ' ';

	r = osip_message_init(&msg);
	if (r == 0)
		r = osip_message_parse(msg, copy, n);
	if (copy != stack_copy)
		free(copy);
	if (r != 0) {
		if (msg != NULL)
			osip_message_free(msg);
		return set_error(err, 400, "Malformed Message");
	}
	m->osip = msg;
	return 0;
}

static int
parse_checks(struct sipmsg *m, struct sip_error *err)
{
	int nul_seen = 0;

	if (check_chars(m, &nul_seen, err) < 0)
		return -1;
	if (m->is_request ? check_request_line(m, err) < 0 :
	    check_status_line(m, err) < 0)
		return -1;
	if (check_required(m, err) < 0 || check_vias(m, err) < 0 ||
	    check_call_id(m, err) < 0 || check_cseq(m, err) < 0 ||
	    check_max_forwards(m, err) < 0 ||
	    check_content_length(m, err) < 0 || check_expires(m, err) < 0 ||
	    check_addresses(m, err) < 0)
		return -1;
	return check_osip(m, nul_seen, err);
}

/*
 * Our own checks run before libosip2 so that a rejection names the fault.
 * libosip2 then catches what they do not cover, for example the syntax of
 * Content-Type or of other typed headers that it parses.
 */
int
sipmsg_parse(struct sipmsg *m, const char *buf, size_t len,
    size_t header_len, struct sip_error *err)
{
	if (sipmsg_index(m, buf, len, header_len, err) < 0 ||
	    parse_checks(m, err) < 0) {
		/* Nothing responds to a response: it is dropped. */
		if (!m->is_request && err != NULL)
			err->status = 0;
		return -1;
	}
	return 0;
}

void
sipmsg_free(struct sipmsg *m)
{
	if (m->osip != NULL) {
		osip_message_free(m->osip);
		m->osip = NULL;
	}
}

/* ---- Edits ---- */

void
sip_edits_init(struct sip_edits *ed)
{
	ed->n = 0;
	ed->used = 0;
}

/* Returns 1 when [off, off+del) conflicts with an earlier edit: it cuts
 * into an earlier deletion, or, for a deletion, covers an earlier edit's
 * position. */
static int
edit_overlaps(const struct sip_edits *ed, size_t off, size_t del)
{
	int i;

	for (i = 0; i < ed->n; i++) {
		const struct sip_edit *e = &ed->e[i];

		if (e->del > 0 && off > e->off && off < (size_t)e->off + e->del)
			return 1;
		if (del > 0 && e->off > off && e->off < off + del)
			return 1;
		if (del > 0 && e->del > 0 && e->off == off)
			return 1;
	}
	return 0;
}

static int
edit_add(struct sip_edits *ed, size_t off, size_t del, size_t ins_len)
{
	struct sip_edit *e;

	if (ed->n == SIP_MAX_EDITS || off > UINT32_MAX || del > UINT32_MAX ||
	    edit_overlaps(ed, off, del))
		return -1;
	e = &ed->e[ed->n++];
	e->off = (uint32_t)off;
	e->del = (uint32_t)del;
	e->ins_off = (uint32_t)ed->used;
	e->ins_len = (uint32_t)ins_len;
	ed->used += ins_len;
	return 0;
}

int
sip_edit_replace(struct sip_edits *ed, size_t off, size_t len, const char *s,
    size_t slen)
{
	if (slen > SIP_EDIT_STORE - ed->used)
		return -1;
	memcpy(ed->store + ed->used, s, slen);
	return edit_add(ed, off, len, slen);
}

int
sip_edit_insert(struct sip_edits *ed, size_t off, const char *s, size_t len)
{
	return sip_edit_replace(ed, off, 0, s, len);
}

int
sip_edit_delete(struct sip_edits *ed, size_t off, size_t len)
{
	return edit_add(ed, off, len, 0);
}

int
sip_edit_insertf(struct sip_edits *ed, size_t off, const char *fmt, ...)
{
	size_t room = SIP_EDIT_STORE - ed->used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(ed->store + ed->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -1;
	return edit_add(ed, off, 0, (size_t)n);
}

/* Fills order[] with edit indexes sorted by offset, keeping the order of
 * addition for equal offsets. Returns -1 when an edit lies beyond len. */
static int
edits_sorted(const struct sip_edits *ed, size_t len, int *order)
{
	int i, j;

	for (i = 0; i < ed->n; i++) {
		const struct sip_edit *e = &ed->e[i];

		if ((size_t)e->off + e->del > len)
			return -1;
		for (j = i; j > 0 && ed->e[order[j - 1]].off > e->off; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	return 0;
}

size_t
sip_edits_size(const struct sip_edits *ed, size_t len)
{
	int i;

	for (i = 0; i < ed->n; i++)
		len = len - ed->e[i].del + ed->e[i].ins_len;
	return len;
}

/* Calls emit for each piece of the edited message in order. */
static int
edits_walk(const struct sip_edits *ed, const char *src, size_t len,
    int (*emit)(void *ctx, const char *p, size_t n), void *ctx)
{
	int order[SIP_MAX_EDITS];
	size_t pos = 0;
	int i;

	if (edits_sorted(ed, len, order) < 0)
		return -1;
	for (i = 0; i < ed->n; i++) {
		const struct sip_edit *e = &ed->e[order[i]];

		if (e->off > pos) {
			if (emit(ctx, src + pos, e->off - pos) < 0)
				return -1;
			pos = e->off;
		}
		if (e->ins_len > 0 &&
		    emit(ctx, ed->store + e->ins_off, e->ins_len) < 0)
			return -1;
		if (e->del > 0)
			pos = (size_t)e->off + e->del;
	}
	if (len > pos && emit(ctx, src + pos, len - pos) < 0)
		return -1;
	return 0;
}

struct copy_ctx {
	char *dst;
	size_t cap, n;
};

static int
emit_copy(void *ctx, const char *p, size_t n)
{
	struct copy_ctx *c = ctx;

	if (n > c->cap - c->n)
		return -1;
	memcpy(c->dst + c->n, p, n);
	c->n += n;
	return 0;
}

size_t
sip_edits_apply(const struct sip_edits *ed, const char *src, size_t len,
    char *dst, size_t cap)
{
	struct copy_ctx c = { dst, cap, 0 };

	if (edits_walk(ed, src, len, emit_copy, &c) < 0)
		return 0;
	return c.n;
}

struct iov_ctx {
	struct iovec *iov;
	int max, n;
};

static int
emit_iov(void *ctx, const char *p, size_t n)
{
	struct iov_ctx *c = ctx;

	if (c->n == c->max)
		return -1;
	c->iov[c->n].iov_base = (void *)(uintptr_t)p;
	c->iov[c->n].iov_len = n;
	c->n++;
	return 0;
}

int
sip_edits_iov(const struct sip_edits *ed, const char *src, size_t len,
    struct iovec *iov, int maxiov)
{
	struct iov_ctx c = { iov, maxiov, 0 };

	if (edits_walk(ed, src, len, emit_iov, &c) < 0)
		return -1;
	return c.n;
}

/* ---- Proxy edits ---- */

/* Returns 1 when host (an IP literal or a name) is the address source_ip.
 * Addresses compare in binary form, so "::1" equals "0:0::1". */
static int
host_is_ip(const char *buf, struct sip_span host, const char *source_ip)
{
	unsigned char a[16], b[16];
	char h[INET6_ADDRSTRLEN + 1];
	int af;

	if (host.len >= sizeof(h))
		return 0;
	memcpy(h, buf + host.off, host.len);
	h[host.len] = '\0';
	af = strchr(h, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, h, a) != 1 || inet_pton(af, source_ip, b) != 1)
		return strcmp(h, source_ip) == 0;
	return memcmp(a, b, af == AF_INET6 ? 16 : 4) == 0;
}

int
sipmsg_edit_via_received(const struct sipmsg *m, struct sip_edits *ed,
    const char *source_ip, uint16_t source_port)
{
	struct sip_via v;
	char rport[16];
	int n;

	if (sipmsg_via(m, 0, &v) < 0)
		return -1;
	/* RFC 3581 section 4: an rport without value gets the source port. */
	if (v.has_rport && v.rport_value == 0) {
		n = snprintf(rport, sizeof(rport), ";rport=%u",
		    (unsigned)source_port);
		if (sip_edit_replace(ed, v.rport.off, v.rport.len, rport,
		    (size_t)n) < 0)
			return -1;
	}

	if (v.received.len > 0)
		return sip_edit_replace(ed, v.received.off, v.received.len,
		    source_ip, strlen(source_ip));
	/* RFC 3261 section 18.2.1, and RFC 3581 section 4 with rport. */
	if (v.has_rport || !host_is_ip(m->buf, v.host, source_ip))
		return sip_edit_insertf(ed, v.value.off + v.value.len,
		    ";received=%s", source_ip);
	return 0;
}

int
sipmsg_edit_max_forwards(const struct sipmsg *m, struct sip_edits *ed)
{
	static const char line[] = "Max-Forwards: 70\r\n";
	int li = m->first[HDR_MAX_FORWARDS], mf;
	char num[4];
	int n;

	if (li < 0)
		return sip_edit_insert(ed, m->start_line_end, line,
		    sizeof(line) - 1);
	mf = parse_max_forwards(m, li);
	if (mf <= 0)
		return -1;
	n = snprintf(num, sizeof(num), "%d", mf - 1);
	return sip_edit_replace(ed, m->hdr[li].value.off, m->hdr[li].value.len,
	    num, (size_t)n);
}

int
sipmsg_edit_remove_value(const struct sipmsg *m, struct sip_edits *ed,
    enum sip_hdr kind, int n)
{
	struct value_iter it;
	struct sip_span v, prev = { 0, 0 }, next;
	int li, prev_li = -1, next_li;

	if (n < 0)
		return -1;
	value_iter_init(&it, m, kind);
	for (;;) {
		if (!value_next(&it, &v, &li))
			return -1;
		if (n-- == 0)
			break;
		prev = v;
		prev_li = li;
	}
	if (value_next(&it, &next, &next_li) && next_li == li)
		return sip_edit_delete(ed, v.off, next.off - v.off);
	if (prev_li == li)
		return sip_edit_delete(ed, prev.off + prev.len,
		    v.off + v.len - (prev.off + prev.len));
	return sip_edit_delete(ed, m->hdr[li].line.off, m->hdr[li].line.len);
}

/* ---- Local responses ---- */

struct writer {
	char *p;
	size_t cap, n;
	int overflow;
};

static void
w_bytes(struct writer *w, const char *s, size_t n)
{
	if (w->overflow || n > w->cap - w->n) {
		w->overflow = 1;
		return;
	}
	memcpy(w->p + w->n, s, n);
	w->n += n;
}

static void
w_str(struct writer *w, const char *s)
{
	w_bytes(w, s, strlen(s));
}

/* Length of a header line without its final line end. */
static size_t
line_content_len(const struct sipmsg *m, const struct sip_header *h)
{
	const char *e = m->buf + h->line.off + h->line.len;
	size_t n = h->line.len;

	if (n > 0 && e[-1] == '\n') {
		n--;
		e--;
	}
	if (n > 0 && e[-1] == '\r')
		n--;
	return n;
}

/* Copies a header line verbatim, ending it in CRLF. */
static void
w_line(struct writer *w, const struct sipmsg *m, int i)
{
	const struct sip_header *h = &m->hdr[i];

	w_bytes(w, m->buf + h->line.off, line_content_len(m, h));
	w_str(w, "\r\n");
}

static int
to_has_tag(const struct sipmsg *m, const struct sip_header *h)
{
	const char *p = m->buf + h->value.off;
	struct addr a;
	int has_tag = 0;

	if (addr_parse(m->buf, p, p + h->value.len, &a) < 0)
		return 0;
	addr_check_params(&a, &has_tag, NULL);
	return has_tag;
}

/* Copies the To line, adding ";tag=" after its value when asked. */
static void
w_to_line(struct writer *w, const struct sipmsg *m, int status,
    const char *to_tag)
{
	const struct sip_header *h = &m->hdr[m->first[HDR_TO]];
	size_t head, content;

	if (status <= 100 || to_tag == NULL || to_has_tag(m, h)) {
		w_line(w, m, m->first[HDR_TO]);
		return;
	}
	head = h->value.off + h->value.len - h->line.off;
	content = line_content_len(m, h);
	w_bytes(w, m->buf + h->line.off, head);
	w_str(w, ";tag=");
	w_str(w, to_tag);
	w_bytes(w, m->buf + h->line.off + head, content - head);
	w_str(w, "\r\n");
}

size_t
sipmsg_build_response(const struct sipmsg *m, int status, const char *reason,
    const char *to_tag, const char *extra_headers, char *out, size_t cap)
{
	struct writer w = { out, cap, 0, 0 };
	char status_line[32];
	int i;

	/* The client matches a response by its top Via branch and CSeq
	 * (RFC 3261 section 17.1.3), so only a Via is indispensable. A request
	 * that lacks From, To, Call-ID or CSeq still gets its 400, with the
	 * missing lines left out. */
	if (status < 100 || status > 699 || reason == NULL ||
	    m->first[HDR_VIA] < 0)
		return 0;

	snprintf(status_line, sizeof(status_line), "SIP/2.0 %d ", status);
	w_str(&w, status_line);
	w_str(&w, reason);
	w_str(&w, "\r\n");
	for (i = m->first[HDR_VIA]; i < m->nhdr; i++)
		if (m->hdr[i].kind == HDR_VIA)
			w_line(&w, m, i);
	if (m->first[HDR_FROM] >= 0)
		w_line(&w, m, m->first[HDR_FROM]);
	if (m->first[HDR_TO] >= 0)
		w_to_line(&w, m, status, to_tag);
	if (m->first[HDR_CALL_ID] >= 0)
		w_line(&w, m, m->first[HDR_CALL_ID]);
	if (m->first[HDR_CSEQ] >= 0)
		w_line(&w, m, m->first[HDR_CSEQ]);
	if (extra_headers != NULL)
		w_str(&w, extra_headers);
	w_str(&w, "Content-Length: 0\r\n\r\n");
	return w.overflow ? 0 : w.n;
}

int
sipmsg_edit_remove_first(const struct sipmsg *m, struct sip_edits *ed,
    enum sip_hdr kind, int count)
{
	struct sip_span v[8], next;
	int line[8], next_line = -1;

	if (count <= 0 || count > 7)
		return -1;
	for (int i = 0; i < count; i++)
		if (sipmsg_value(m, kind, i, &v[i], &line[i]) == -1)
			return -1;
	if (sipmsg_value(m, kind, count, &next, &next_line) == -1)
		next_line = -1;

	for (int i = 0; i < count; i++) {
		/* Act once per line, at its first removed value. */
		if (i > 0 && line[i] == line[i - 1])
			continue;
		if (line[i] == next_line) {
			if (sip_edit_delete(ed, v[i].off, next.off - v[i].off) == -1)
				return -1;
		} else {
			struct sip_span l = m->hdr[line[i]].line;

			if (sip_edit_delete(ed, l.off, l.len) == -1)
				return -1;
		}
	}
	return 0;
}
