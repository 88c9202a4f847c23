/*
 * SIP message framing over streams and datagrams (RFC 3261 sections 7.5,
 * 18.3 and 20.14; CRLF keepalives from RFC 5626 section 3.5.1).
 *
 * The header section is scanned once, line by line. A line ends at CRLF
 * unless the next line starts with SP or HT (a folded continuation), so
 * the scanner needs one byte past each CRLF before it can close a line.
 * Content-Length is parsed here and not by libosip2, because framing
 * must decide where the next message starts before anything is parsed.
 */
#include <string.h>
#include <strings.h>

#include "framing.h"

#define STATUS_BAD_REQUEST	400
#define STATUS_TOO_LARGE	513

static const char REASON_TOO_LARGE[] = "Message Too Large";
static const char REASON_BARE_CR[] = "Bare CR in Header";
static const char REASON_BARE_LF[] = "Bare LF in Header";

void
framer_reset(struct framer *f)
{
	memset(f, 0, sizeof(*f));
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Whitespace inside a header value, where a fold leaves its CRLF. */
static int
is_lws(char c)
{
	return is_wsp(c) || c == '\r' || c == '\n';
}

static enum frame_status
frame_error(struct framer *f, struct frame *out, int status,
    const char *reason, size_t header_len)
{
	out->len = 0;
	out->header_len = header_len;
	out->body_len = 0;
	out->error_status = status;
	out->error_reason = reason;
	framer_reset(f);
	return FRAME_ERROR;
}

/* Returns the offset just past the first CRLFCRLF in buf[from..end), or 0. */
static size_t
find_header_end(const char *buf, size_t from, size_t end)
{
	for (size_t i = from; i + 4 <= end; i++) {
		if (buf[i] == '\r' && buf[i + 1] == '\n' &&
		    buf[i + 2] == '\r' && buf[i + 3] == '\n')
			return i + 4;
	}
	return 0;
}

/*
 * Fails with 400 for a fault found before the end of the header section.
 * When the empty line is already in the buffer, header_len is set anyway
 * so that the caller can still send a response. The search stops at
 * max_message_size so that a reply never parses more than the limit.
 */
static enum frame_status
header_error(struct framer *f, const struct framing_limits *lim,
    const char *buf, size_t len, struct frame *out, const char *reason)
{
	size_t end = len < lim->max_message_size ? len : lim->max_message_size;

	/* The scanner stops at an empty line, so none starts before the
	 * current line. */
	return frame_error(f, out, STATUS_BAD_REQUEST, reason,
	    find_header_end(buf, f->line_start, end));
}

/*
 * Parses a Content-Length value: 1*DIGIT with optional linear whitespace
 * around it. No sign, no list. Returns 0 and sets *value, -1 when the
 * value is malformed, or 1 when it is above max (checked before each
 * multiplication, so it cannot overflow).
 */
static int
parse_content_length(const char *s, size_t n, size_t max, size_t *value)
{
	size_t i = 0, v = 0, digits;
	int too_large = 0;

	while (i < n && is_lws(s[i]))
		i++;
	digits = i;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		size_t d = (size_t)(s[i] - '0');

		if (too_large || d > max || v > (max - d) / 10)
			too_large = 1;
		else
			v = v * 10 + d;
		i++;
	}
	if (i == digits)
		return -1;
	while (i < n && is_lws(s[i]))
		i++;
	if (i != n)
		return -1;
	if (too_large)
		return 1;
	*value = v;
	return 0;
}

static void
hold_error(struct framer *f, int status, const char *reason)
{
	if (f->pending_status != 0)
		return;
	f->pending_status = status;
	f->pending_reason = reason;
}

/*
 * Records Content-Length when line[0..n) is that header, in its long or
 * compact ("l") form, with optional SP/HT before the colon. Faults are
 * held until the header section ends.
 */
static void
check_content_length(struct framer *f, const struct framing_limits *lim,
    const char *line, size_t n)
{
	size_t name_len = 0, i;
	size_t value = 0;
	int rc;

	while (name_len < n && line[name_len] != ':' && !is_wsp(line[name_len]))
		name_len++;
	i = name_len;
	while (i < n && is_wsp(line[i]))
		i++;
	if (i == n || line[i] != ':')
		return;
	if (!(name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0) &&
	    !(name_len == 1 && (line[0] == 'l' || line[0] == 'L')))
		return;

	if (f->content_length_seen) {
		hold_error(f, STATUS_BAD_REQUEST, "Multiple Content-Length");
		return;
	}
	f->content_length_seen = 1;

	rc = parse_content_length(line + i + 1, n - i - 1,
	    lim->max_message_size, &value);
	if (rc < 0)
		hold_error(f, STATUS_BAD_REQUEST, "Invalid Content-Length");
	else if (rc > 0)
		hold_error(f, STATUS_TOO_LARGE, REASON_TOO_LARGE);
	else
		f->body_len = value;
}

/*
 * Scans the header section from where the last call stopped. Returns
 * FRAME_MESSAGE with f->header_len set once the empty line is found,
 * FRAME_NEED_MORE, or FRAME_ERROR with *out filled. On FRAME_NEED_MORE,
 * f->scanned stops before an unfinished CRLF, so at most two bytes are
 * read again on the next call.
 */
static enum frame_status
scan_headers(struct framer *f, const struct framing_limits *lim,
    const char *buf, size_t len, struct frame *out)
{
	size_t i = f->scanned;

	for (;;) {
		/* Every byte in [line_start, i) belongs to the current line. */
		if (i - f->line_start > lim->max_line)
			return header_error(f, lim, buf, len, out,
			    "Header Line Too Long");
		if (i > lim->max_message_size)
			return frame_error(f, out, STATUS_TOO_LARGE,
			    REASON_TOO_LARGE, 0);
		if (i >= len)
			break;

		/* RFC 3261 section 25.1 allows a NUL as a quoted-pair, and
		 * RFC 4475 section 3.1.1.2 sends one. sipmsg_parse checks that
		 * the backslash is inside a quoted string. */
		if (buf[i] == '\0' && (i == 0 || buf[i - 1] != '\\'))
			return header_error(f, lim, buf, len, out,
			    "NUL in Header");
		if (buf[i] == '\n')
			return header_error(f, lim, buf, len, out,
			    REASON_BARE_LF);
		if (buf[i] != '\r') {
			i++;
			continue;
		}

		if (i + 1 >= len)
			break;
		if (buf[i + 1] != '\n')
			return header_error(f, lim, buf, len, out,
			    REASON_BARE_CR);
		if (i == f->line_start) {
			/* Streams strip leading CRLFs as keepalives first, so
			 * only a datagram gets here with an empty first line. */
			if (i == 0)
				return frame_error(f, out, STATUS_BAD_REQUEST,
				    "Missing Start Line", 0);
			f->header_len = i + 2;
			f->scanned = i + 2;
			return FRAME_MESSAGE;
		}

		/* Whether this CRLF ends the line depends on the next byte. */
		if (i + 2 >= len)
			break;
		if (is_wsp(buf[i + 2])) {
			i += 2;
			continue;
		}
		if (f->line_start > 0)
			check_content_length(f, lim, buf + f->line_start,
			    i - f->line_start);
		f->line_start = i + 2;
		if (buf[i + 2] != '\r' && ++f->lines > lim->max_headers)
			return header_error(f, lim, buf, len, out,
			    "Too Many Headers");
		i += 2;
	}
	f->scanned = i;
	return FRAME_NEED_MORE;
}

/* Applies the checks that need the whole header section. */
static enum frame_status
check_header_section(struct framer *f, const struct framing_limits *lim,
    struct frame *out)
{
	if (f->header_len > lim->max_message_size)
		return frame_error(f, out, STATUS_TOO_LARGE, REASON_TOO_LARGE,
		    f->header_len);
	if (f->pending_status != 0)
		return frame_error(f, out, f->pending_status,
		    f->pending_reason, f->header_len);
	return FRAME_MESSAGE;
}

/*
 * Handles CRLFs at a message boundary: CRLFCRLF is a ping, a lone CRLF
 * is skipped (RFC 3261 section 7.5). A buffer that is a prefix of a ping
 * waits for more.
 */
static enum frame_status
frame_keepalive(struct framer *f, const char *buf, size_t len,
    struct frame *out)
{
	if (len < 2)
		return FRAME_NEED_MORE;
	if (buf[1] != '\n')
		return frame_error(f, out, STATUS_BAD_REQUEST, REASON_BARE_CR, 0);
	if (len < 3)
		return FRAME_NEED_MORE;
	if (buf[2] != '\r') {
		out->len = 2;
		return FRAME_SKIP;
	}
	if (len < 4)
		return FRAME_NEED_MORE;
	if (buf[3] == '\n') {
		out->len = 4;
		return FRAME_PING;
	}
	/* CRLF then a bare CR: skip the CRLF, and the next call rejects
	 * the CR. */
	out->len = 2;
	return FRAME_SKIP;
}

static enum frame_status
frame_stream_header(struct framer *f, const struct framing_limits *lim,
    const char *buf, size_t len, struct frame *out)
{
	enum frame_status st;

	if (f->scanned == 0 && len > 0 && buf[0] == '\r')
		return frame_keepalive(f, buf, len, out);

	st = scan_headers(f, lim, buf, len, out);
	if (st != FRAME_MESSAGE)
		return st;
	st = check_header_section(f, lim, out);
	if (st != FRAME_MESSAGE)
		return st;

	/* A stream has no other way to find the end of the body. */
	if (!f->content_length_seen)
		return frame_error(f, out, STATUS_BAD_REQUEST,
		    "Missing Content-Length", f->header_len);
	if (f->body_len > lim->max_message_size - f->header_len)
		return frame_error(f, out, STATUS_TOO_LARGE, REASON_TOO_LARGE,
		    f->header_len);
	return FRAME_MESSAGE;
}

enum frame_status
framer_next(struct framer *f, const struct framing_limits *lim,
    const char *buf, size_t len, struct frame *out)
{
	enum frame_status st;

	memset(out, 0, sizeof(*out));
	if (f->header_len == 0) {
		/* Errors reset f already, and keepalives leave it untouched. */
		st = frame_stream_header(f, lim, buf, len, out);
		if (st != FRAME_MESSAGE)
			return st;
	}

	out->header_len = f->header_len;
	out->body_len = f->body_len;
	if (len - f->header_len < f->body_len)
		return FRAME_NEED_MORE;
	out->len = f->header_len + f->body_len;
	framer_reset(f);
	return FRAME_MESSAGE;
}

static int
is_crlf_only(const char *buf, size_t len)
{
	if (len % 2 != 0)
		return 0;
	for (size_t i = 0; i < len; i += 2) {
		if (buf[i] != '\r' || buf[i + 1] != '\n')
			return 0;
	}
	return 1;
}

enum frame_status
frame_datagram(const struct framing_limits *lim, const char *buf, size_t len,
    struct frame *out)
{
	struct framer f;
	enum frame_status st;
	size_t avail;

	memset(out, 0, sizeof(*out));
	if (is_crlf_only(buf, len)) {
		out->len = len;
		return FRAME_SKIP;
	}

	framer_reset(&f);
	st = scan_headers(&f, lim, buf, len, out);
	if (st == FRAME_ERROR)
		return st;
	if (st == FRAME_NEED_MORE)
		return frame_error(&f, out, STATUS_BAD_REQUEST,
		    "Incomplete Header", 0);
	st = check_header_section(&f, lim, out);
	if (st != FRAME_MESSAGE)
		return st;

	avail = len - f.header_len;
	if (!f.content_length_seen)
		f.body_len = avail;
	else if (f.body_len > avail)
		return frame_error(&f, out, STATUS_BAD_REQUEST,
		    "Content-Length Exceeds Datagram", f.header_len);
	if (f.body_len > lim->max_message_size - f.header_len)
		return frame_error(&f, out, STATUS_TOO_LARGE, REASON_TOO_LARGE,
		    f.header_len);

	out->header_len = f.header_len;
	out->body_len = f.body_len;
	out->len = f.header_len + f.body_len;
	return FRAME_MESSAGE;
}
