/* Unit tests for stream and datagram framing. Run from the repository
 * root: one test reads an RFC 4475 message from tests/corpus. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "framing.h"

#define DBLREQ_PATH	"tests/corpus/rfc4475/dblreq.dat"

static const struct framing_limits limits = {
	.max_message_size = 4096,
	.max_headers = 16,
	.max_line = 256,
};

#define HEAD \
	"MESSAGE sip:bob@example.com SIP/2.0\r\n" \
	"Via: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK776asdhds\r\n" \
	"From: <sip:alice@example.com>;tag=1928301774\r\n" \
	"To: <sip:bob@example.com>\r\n" \
	"Call-ID: a84b4c76e66710\r\n" \
	"CSeq: 1 MESSAGE\r\n"

/* Frames s with a fresh framer. */
static enum frame_status
frame_once(const struct framing_limits *lim, const char *s, size_t len,
    struct frame *out)
{
	struct framer f;

	framer_reset(&f);
	return framer_next(&f, lim, s, len, out);
}

static enum frame_status
frame_str(const char *s, struct frame *out)
{
	return frame_once(&limits, s, strlen(s), out);
}

static void
expect_error(enum frame_status st, const struct frame *fr, int status,
    const char *reason, size_t header_len)
{
	assert_int_equal(st, FRAME_ERROR);
	assert_int_equal(fr->error_status, status);
	assert_string_equal(fr->error_reason, reason);
	assert_int_equal(fr->header_len, header_len);
}

static void
framing_pipelined(void **state)
{
	static const char buf[] =
	    HEAD "Content-Length: 0\r\n\r\n"
	    HEAD "Content-Length: 5\r\n\r\nhello"
	    "\r\n"
	    HEAD "l: 3\r\n\r\nabc";
	const size_t head = strlen(HEAD);
	const size_t lens[] = {
		head + 21,
		head + 21 + 5,
		2,
		head + 8 + 3,
	};
	const enum frame_status kinds[] = {
		FRAME_MESSAGE, FRAME_MESSAGE, FRAME_SKIP, FRAME_MESSAGE,
	};
	struct framer f;
	struct frame fr;
	size_t off = 0;

	framer_reset(&f);
	for (size_t i = 0; i < 4; i++) {
		enum frame_status st = framer_next(&f, &limits, buf + off,
		    sizeof(buf) - 1 - off, &fr);

		assert_int_equal(st, kinds[i]);
		assert_int_equal(fr.len, lens[i]);
		off += fr.len;
	}
	assert_int_equal(off, sizeof(buf) - 1);
	assert_int_equal(framer_next(&f, &limits, buf + off, 0, &fr),
	    FRAME_NEED_MORE);
}

static void
framing_one_byte_at_a_time(void **state)
{
	static const char msg[] =
	    HEAD "Subject: folded\r\n continued\r\n\tand again\r\n"
	    "Content-Length: 11\r\n\r\nhello world";
	const size_t n = sizeof(msg) - 1;
	char work[sizeof(msg)];
	struct framer f;
	struct frame fr;

	/* Bytes past the given length are spaces, so a read beyond it would
	 * look like a folded line and change the result. */
	memset(work, ' ', sizeof(work));
	framer_reset(&f);
	for (size_t k = 1; k < n; k++) {
		work[k - 1] = msg[k - 1];
		assert_int_equal(framer_next(&f, &limits, work, k, &fr),
		    FRAME_NEED_MORE);
		/* At most a CRLF awaiting its next byte is scanned again. */
		if (f.header_len == 0)
			assert_true(f.scanned + 2 >= k);
	}
	work[n - 1] = msg[n - 1];
	assert_int_equal(framer_next(&f, &limits, work, n, &fr), FRAME_MESSAGE);
	assert_int_equal(fr.len, n);
	assert_int_equal(fr.body_len, 11);
	assert_int_equal(fr.header_len, n - 11);
	assert_int_equal(f.scanned, 0);
}

static void
framing_cl_zero(void **state)
{
	static const char msg[] = HEAD "Content-Length: 0\r\n\r\n";
	struct frame fr;

	assert_int_equal(frame_str(msg, &fr), FRAME_MESSAGE);
	assert_int_equal(fr.len, sizeof(msg) - 1);
	assert_int_equal(fr.header_len, sizeof(msg) - 1);
	assert_int_equal(fr.body_len, 0);
}

static void
framing_cl_body(void **state)
{
	static const char msg[] =
	    HEAD "Content-Length: 4\r\n\r\nbody" "NEXT";
	static const char nul_body[] =
	    HEAD "Content-Length: 3\r\n\r\n\0\n\r";
	const size_t header = strlen(HEAD) + 21;
	struct frame fr;

	assert_int_equal(frame_once(&limits, msg, header + 3, &fr),
	    FRAME_NEED_MORE);
	assert_int_equal(frame_str(msg, &fr), FRAME_MESSAGE);
	assert_int_equal(fr.header_len, header);
	assert_int_equal(fr.body_len, 4);
	assert_int_equal(fr.len, header + 4);

	/* The body is opaque: NUL, bare LF and bare CR are fine there. */
	assert_int_equal(frame_once(&limits, nul_body, sizeof(nul_body) - 1,
	    &fr), FRAME_MESSAGE);
	assert_int_equal(fr.len, sizeof(nul_body) - 1);
}

/* A NUL after a backslash is a quoted-pair, left for sipmsg_parse to
 * judge; any other NUL in the header section is rejected. */
static void
framing_nul_quoted_pair(void **state)
{
	static const char msg[] =
	    HEAD "X: \"a\\\0b\"\r\nContent-Length: 0\r\n\r\n";
	static const char bare[] =
	    HEAD "X: \"a\0b\"\r\nContent-Length: 0\r\n\r\n";
	struct frame fr;

	assert_int_equal(frame_once(&limits, msg, sizeof(msg) - 1, &fr),
	    FRAME_MESSAGE);
	assert_int_equal(fr.len, sizeof(msg) - 1);
	assert_int_equal(frame_datagram(&limits, msg, sizeof(msg) - 1, &fr),
	    FRAME_MESSAGE);
	assert_int_equal(fr.len, sizeof(msg) - 1);
	expect_error(frame_once(&limits, bare, sizeof(bare) - 1, &fr), &fr,
	    400, "NUL in Header", sizeof(bare) - 1);
}

static void
framing_cl_forms(void **state)
{
	static const char *const lines[] = {
		"l: 2\r\n",
		"L:2\r\n",
		"l \t: 2\r\n",
		"content-length: 2\r\n",
		"CONTENT-LENGTH  :   2   \r\n",
		"Content-Length:\r\n 2\r\n",
		"Content-Length: 002\r\n",
	};
	char msg[512];
	struct frame fr;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		int n = snprintf(msg, sizeof(msg), "%s%s\r\nxy", HEAD, lines[i]);

		assert_int_equal(frame_once(&limits, msg, (size_t)n, &fr),
		    FRAME_MESSAGE);
		assert_int_equal(fr.body_len, 2);
		assert_int_equal(fr.len, (size_t)n);
	}
}

static void
framing_cl_lookalike(void **state)
{
	/* Neither header is Content-Length, so the message has none. */
	static const char msg[] =
	    HEAD "Content-Length-X: 5\r\nlx: 5\r\n\r\n";
	struct frame fr;

	expect_error(frame_str(msg, &fr), &fr, 400, "Missing Content-Length",
	    sizeof(msg) - 1);
}

static void
framing_cl_missing(void **state)
{
	static const char msg[] = HEAD "\r\nbody";
	struct frame fr;

	expect_error(frame_str(msg, &fr), &fr, 400, "Missing Content-Length",
	    strlen(HEAD) + 2);
}

static void
framing_cl_invalid(void **state)
{
	static const char *const values[] = {
		"-5", "+5", "0x10", "5a", "", "   ", "5 5", "5,5", "5, 5",
		"1e3", "5;x", "a5",
	};
	char msg[512];
	struct frame fr;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int n = snprintf(msg, sizeof(msg),
		    "%sContent-Length: %s\r\n\r\n", HEAD, values[i]);

		expect_error(frame_once(&limits, msg, (size_t)n, &fr), &fr,
		    400, "Invalid Content-Length", (size_t)n);
	}
}

static void
framing_cl_overflow(void **state)
{
	static const char *const values[] = {
		"4097",
		"18446744073709551615",
		"18446744073709551616",
		"99999999999999999999999999999999999999",
	};
	char msg[512];
	struct frame fr;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int n = snprintf(msg, sizeof(msg),
		    "%sContent-Length: %s\r\n\r\n", HEAD, values[i]);

		expect_error(frame_once(&limits, msg, (size_t)n, &fr), &fr,
		    513, "Message Too Large", (size_t)n);
	}
}

static void
framing_cl_twice(void **state)
{
	static const char same[] =
	    HEAD "Content-Length: 0\r\nContent-Length: 0\r\n\r\n";
	static const char mixed[] = HEAD "l: 0\r\ncontent-length: 0\r\n\r\n";
	struct frame fr;

	expect_error(frame_str(same, &fr), &fr, 400, "Multiple Content-Length",
	    sizeof(same) - 1);
	expect_error(frame_str(mixed, &fr), &fr, 400,
	    "Multiple Content-Length", sizeof(mixed) - 1);
}

static void
framing_cl_limit(void **state)
{
	const struct framing_limits lim = {
		.max_message_size = 512,
		.max_headers = 16,
		.max_line = 256,
	};
	/* "Content-Length: NNN" plus CRLFCRLF is 23 bytes. */
	const size_t header = strlen(HEAD) + 23;
	char msg[1024];
	struct frame fr;
	int n;

	/* The header section and the body together fill the limit. */
	n = snprintf(msg, sizeof(msg), "%sContent-Length: %03zu\r\n\r\n",
	    HEAD, lim.max_message_size - header);
	assert_int_equal((size_t)n, header);
	memset(msg + n, 'x', lim.max_message_size - header);
	assert_int_equal(frame_once(&lim, msg, lim.max_message_size, &fr),
	    FRAME_MESSAGE);
	assert_int_equal(fr.len, lim.max_message_size);

	/* One byte more is rejected as soon as the header section ends. */
	n = snprintf(msg, sizeof(msg), "%sContent-Length: %03zu\r\n\r\n",
	    HEAD, lim.max_message_size - header + 1);
	expect_error(frame_once(&lim, msg, (size_t)n, &fr), &fr, 513,
	    "Message Too Large", header);
}

static void
framing_header_too_large(void **state)
{
	const struct framing_limits lim = {
		.max_message_size = 300,
		.max_headers = 64,
		.max_line = 256,
	};
	char msg[1024];
	struct frame fr;
	size_t n = strlen(HEAD);

	memcpy(msg, HEAD, n);
	while (n + 9 < sizeof(msg)) {
		memcpy(msg + n, "X-Pad: 1\r\n", 10);
		n += 10;
	}

	/* No empty line within the limit, so no header_len either. */
	expect_error(frame_once(&lim, msg, n, &fr), &fr, 513,
	    "Message Too Large", 0);

	/* Up to the limit, an unfinished header section waits for more. */
	assert_int_equal(frame_once(&lim, msg, lim.max_message_size, &fr),
	    FRAME_NEED_MORE);
	expect_error(frame_once(&lim, msg, lim.max_message_size + 1, &fr), &fr,
	    513, "Message Too Large", 0);
}

static void
framing_header_at_limit(void **state)
{
	static const char msg[] = HEAD "l: 0\r\n\r\n";
	const size_t n = sizeof(msg) - 1;
	struct framing_limits lim = limits;
	struct frame fr;

	lim.max_message_size = n;
	assert_int_equal(frame_once(&lim, msg, n, &fr), FRAME_MESSAGE);
	assert_int_equal(fr.len, n);

	/* The end is found, so the error carries header_len. */
	lim.max_message_size = n - 1;
	expect_error(frame_once(&lim, msg, n, &fr), &fr, 513,
	    "Message Too Large", n);
}

static void
framing_too_many_headers(void **state)
{
	const struct framing_limits lim = {
		.max_message_size = 4096,
		.max_headers = 3,
		.max_line = 256,
	};
	static const char ok[] =
	    "OPTIONS sip:a@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS h;branch=z9hG4bKx\r\n"
	    "Subject: one\r\n two\r\n"
	    "l: 0\r\n\r\n";
	static const char bad[] =
	    "OPTIONS sip:a@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS h;branch=z9hG4bKx\r\n"
	    "Subject: one\r\n"
	    "l: 0\r\n"
	    "X";
	struct frame fr;

	/* A folded line counts once. */
	assert_int_equal(frame_once(&lim, ok, sizeof(ok) - 1, &fr),
	    FRAME_MESSAGE);

	/* Reported at the first byte of the fourth header line. */
	expect_error(frame_once(&lim, bad, sizeof(bad) - 1, &fr), &fr, 400,
	    "Too Many Headers", 0);
}

static void
framing_too_many_headers_end_known(void **state)
{
	const struct framing_limits lim = {
		.max_message_size = 4096,
		.max_headers = 3,
		.max_line = 256,
	};
	static const char msg[] =
	    "OPTIONS sip:a@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS h;branch=z9hG4bKx\r\n"
	    "Subject: one\r\n"
	    "X-A: 1\r\n"
	    "l: 0\r\n\r\n";
	struct frame fr;

	expect_error(frame_once(&lim, msg, sizeof(msg) - 1, &fr), &fr, 400,
	    "Too Many Headers", sizeof(msg) - 1);
}

static void
framing_long_line(void **state)
{
	const struct framing_limits lim = {
		.max_message_size = 4096,
		.max_headers = 16,
		.max_line = 40,
	};
	static const char ok[] =
	    "OPTIONS sip:a@example.com SIP/2.0\r\n"
	    "Subject: 1234567890123456789012345678901\r\n"
	    "l: 0\r\n\r\n";
	static const char folded[] =
	    "OPTIONS sip:a@example.com SIP/2.0\r\n"
	    "Subject: 1234567890123456789\r\n 1234567890\r\n"
	    "l: 0\r\n\r\n";
	static const char open[] =
	    "OPTIONS sip:a@example.com SIP/2.0\r\n"
	    "Subject: 12345678901234567890123456789012";
	struct frame fr;

	/* 40 bytes before the CRLF is the maximum. */
	assert_int_equal(frame_once(&lim, ok, sizeof(ok) - 1, &fr),
	    FRAME_MESSAGE);

	/* The fold's CRLF and SP count: 28 + 2 + 11 = 41 bytes. */
	expect_error(frame_once(&lim, folded, sizeof(folded) - 1, &fr), &fr,
	    400, "Header Line Too Long", sizeof(folded) - 1);

	/* Rejected before the line ends, so the header end is unknown. */
	expect_error(frame_once(&lim, open, sizeof(open) - 1, &fr), &fr, 400,
	    "Header Line Too Long", 0);
}

static void
framing_bad_line_endings(void **state)
{
#define CASE(text, reason, end_known) \
	{ text, sizeof(text) - 1, reason, end_known }
	static const struct {
		const char *text;
		size_t len;
		const char *reason;
		int end_known;
	} cases[] = {
		CASE("OPTIONS sip:a@b SIP/2.0\nl: 0\r\n\r\n",
		    "Bare LF in Header", 1),
		CASE("OPTIONS sip:a@b SIP/2.0\rl: 0\r\n\r\n",
		    "Bare CR in Header", 1),
		CASE("OPTIONS sip:a@b SIP/2.0\r\nX: a\0b\r\nl: 0\r\n\r\n",
		    "NUL in Header", 1),
		CASE("OPTIONS sip:a@b SIP/2.0\r\nX: a\nb",
		    "Bare LF in Header", 0),
		CASE("OPTIONS sip:a@b SIP/2.0\r\nX: a\rb",
		    "Bare CR in Header", 0),
		CASE("OPTIONS sip:a@b SIP/2.0\r\nX: a\0",
		    "NUL in Header", 0),
		CASE("OPTIONS sip:a@b SIP/2.0\r\nX: a\n\r\n\r\n",
		    "Bare LF in Header", 1),
		CASE("\nOPTIONS sip:a@b SIP/2.0\r\n",
		    "Bare LF in Header", 0),
		CASE("\rOPTIONS sip:a@b SIP/2.0\r\n",
		    "Bare CR in Header", 0),
	};
#undef CASE
	struct frame fr;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(frame_once(&limits, cases[i].text, cases[i].len,
		    &fr), &fr, 400, cases[i].reason,
		    cases[i].end_known ? cases[i].len : 0);
}

static void
framing_keepalive(void **state)
{
	struct frame fr;

	assert_int_equal(frame_once(&limits, "\r\n\r\n", 4, &fr), FRAME_PING);
	assert_int_equal(fr.len, 4);

	assert_int_equal(frame_once(&limits, "\r\nOPT", 5, &fr), FRAME_SKIP);
	assert_int_equal(fr.len, 2);

	assert_int_equal(frame_once(&limits, "\r\n\r\nOPT", 7, &fr),
	    FRAME_PING);
	assert_int_equal(fr.len, 4);

	assert_int_equal(frame_once(&limits, "\r", 1, &fr), FRAME_NEED_MORE);
	assert_int_equal(frame_once(&limits, "\r\n", 2, &fr), FRAME_NEED_MORE);
	assert_int_equal(frame_once(&limits, "\r\n\r", 3, &fr),
	    FRAME_NEED_MORE);
	assert_int_equal(frame_once(&limits, "", 0, &fr), FRAME_NEED_MORE);
}

static void
framing_keepalive_stray_cr(void **state)
{
	struct framer f;
	struct frame fr;
	static const char buf[] = "\r\n\rX";

	framer_reset(&f);
	assert_int_equal(framer_next(&f, &limits, buf, 4, &fr), FRAME_SKIP);
	assert_int_equal(fr.len, 2);
	expect_error(framer_next(&f, &limits, buf + 2, 2, &fr), &fr, 400,
	    "Bare CR in Header", 0);
}

static void
framing_ping_byte_at_a_time(void **state)
{
	static const char buf[] = "\r\n\r\n";
	struct framer f;
	struct frame fr;

	framer_reset(&f);
	for (size_t k = 1; k < 4; k++)
		assert_int_equal(framer_next(&f, &limits, buf, k, &fr),
		    FRAME_NEED_MORE);
	assert_int_equal(framer_next(&f, &limits, buf, 4, &fr), FRAME_PING);
}

static void
framing_datagram_cl(void **state)
{
	static const char msg[] = HEAD "Content-Length: 4\r\n\r\nbodyJUNK";
	const size_t header = strlen(HEAD) + 21;
	struct frame fr;

	assert_int_equal(frame_datagram(&limits, msg, sizeof(msg) - 1, &fr),
	    FRAME_MESSAGE);
	assert_int_equal(fr.header_len, header);
	assert_int_equal(fr.body_len, 4);
	assert_int_equal(fr.len, header + 4);
}

static void
framing_datagram_no_cl(void **state)
{
	static const char msg[] = HEAD "\r\nthe whole rest";
	const size_t header = strlen(HEAD) + 2;
	struct frame fr;

	assert_int_equal(frame_datagram(&limits, msg, sizeof(msg) - 1, &fr),
	    FRAME_MESSAGE);
	assert_int_equal(fr.header_len, header);
	assert_int_equal(fr.body_len, sizeof(msg) - 1 - header);
	assert_int_equal(fr.len, sizeof(msg) - 1);
}

static void
framing_datagram_cl_short(void **state)
{
	static const char msg[] = HEAD "Content-Length: 10\r\n\r\nshort";
	struct frame fr;

	expect_error(frame_datagram(&limits, msg, sizeof(msg) - 1, &fr), &fr,
	    400, "Content-Length Exceeds Datagram", strlen(HEAD) + 22);
}

static void
framing_datagram_errors(void **state)
{
	static const char partial[] = HEAD "Content-Length: 0\r\n";
	static const char bare_lf[] = HEAD "X: 1\n\r\n";
	static const char leading[] = "\r\n" HEAD "\r\n";
	static const char twice[] = HEAD "l: 0\r\nl: 0\r\n\r\n";
	struct frame fr;

	expect_error(frame_datagram(&limits, partial, sizeof(partial) - 1,
	    &fr), &fr, 400, "Incomplete Header", 0);
	expect_error(frame_datagram(&limits, bare_lf, sizeof(bare_lf) - 1,
	    &fr), &fr, 400, "Bare LF in Header", 0);
	expect_error(frame_datagram(&limits, leading, sizeof(leading) - 1,
	    &fr), &fr, 400, "Missing Start Line", 0);
	expect_error(frame_datagram(&limits, twice, sizeof(twice) - 1, &fr),
	    &fr, 400, "Multiple Content-Length", sizeof(twice) - 1);
}

static void
framing_datagram_keepalive(void **state)
{
	struct frame fr;

	assert_int_equal(frame_datagram(&limits, "\r\n\r\n", 4, &fr),
	    FRAME_SKIP);
	assert_int_equal(fr.len, 4);
	assert_int_equal(frame_datagram(&limits, "\r\n", 2, &fr), FRAME_SKIP);
	assert_int_equal(fr.len, 2);
	assert_int_equal(frame_datagram(&limits, "", 0, &fr), FRAME_SKIP);
	assert_int_equal(fr.len, 0);

	/* An odd CR is not a keepalive. The LF after it lies past len. */
	expect_error(frame_datagram(&limits, "\r\n\r\n", 3, &fr), &fr, 400,
	    "Missing Start Line", 0);
}

static void
framing_datagram_too_large(void **state)
{
	const struct framing_limits lim = {
		.max_message_size = 256,
		.max_headers = 16,
		.max_line = 256,
	};
	char msg[512];
	const size_t header = strlen(HEAD) + 2;
	struct frame fr;

	memcpy(msg, HEAD "\r\n", header);
	memset(msg + header, 'x', sizeof(msg) - header);
	expect_error(frame_datagram(&lim, msg, sizeof(msg), &fr), &fr, 513,
	    "Message Too Large", header);
}

/* Reads the whole file at path into a malloc'd buffer. */
static char *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0)
		goto fail;
	buf = malloc((size_t)n);
	if (buf == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n)
		goto fail;
	fclose(fp);
	*len = (size_t)n;
	return buf;
fail:
	free(buf);
	fclose(fp);
	return NULL;
}

static void
framing_dblreq_stream(void **state)
{
	size_t len = 0, off = 0;
	char *buf = read_file(DBLREQ_PATH, &len);
	struct framer f;
	struct frame fr;

	assert_non_null(buf);
	framer_reset(&f);

	/* A REGISTER with Content-Length 0 ... */
	assert_int_equal(framer_next(&f, &limits, buf, len, &fr),
	    FRAME_MESSAGE);
	assert_int_equal(fr.body_len, 0);
	assert_memory_equal(buf, "REGISTER ", 9);
	off += fr.len;

	/* ... a CRLF ... */
	assert_int_equal(framer_next(&f, &limits, buf + off, len - off, &fr),
	    FRAME_SKIP);
	off += fr.len;

	/* ... and an INVITE framed by its own Content-Length. */
	assert_memory_equal(buf + off, "INVITE ", 7);
	assert_int_equal(framer_next(&f, &limits, buf + off, len - off, &fr),
	    FRAME_MESSAGE);
	assert_int_equal(fr.body_len, 150);
	assert_memory_equal(buf + off + fr.header_len, "v=0\r\n", 5);
	off += fr.len;

	/* The archive's Content-Length counts five bytes fewer than the SDP
	 * body has, so those bytes are left over. */
	assert_int_equal(len - off, 5);
	free(buf);
}

static void
framing_dblreq_datagram(void **state)
{
	size_t len = 0;
	char *buf = read_file(DBLREQ_PATH, &len);
	struct frame fr;

	assert_non_null(buf);
	assert_int_equal(frame_datagram(&limits, buf, len, &fr),
	    FRAME_MESSAGE);
	assert_int_equal(fr.body_len, 0);
	assert_int_equal(fr.len, fr.header_len);
	assert_memory_equal(buf + fr.len, "\r\nINVITE ", 9);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(framing_pipelined),
		cmocka_unit_test(framing_one_byte_at_a_time),
		cmocka_unit_test(framing_cl_zero),
		cmocka_unit_test(framing_cl_body),
		cmocka_unit_test(framing_cl_forms),
		cmocka_unit_test(framing_nul_quoted_pair),
		cmocka_unit_test(framing_cl_lookalike),
		cmocka_unit_test(framing_cl_missing),
		cmocka_unit_test(framing_cl_invalid),
		cmocka_unit_test(framing_cl_overflow),
		cmocka_unit_test(framing_cl_twice),
		cmocka_unit_test(framing_cl_limit),
		cmocka_unit_test(framing_header_too_large),
		cmocka_unit_test(framing_header_at_limit),
		cmocka_unit_test(framing_too_many_headers),
		cmocka_unit_test(framing_too_many_headers_end_known),
		cmocka_unit_test(framing_long_line),
		cmocka_unit_test(framing_bad_line_endings),
		cmocka_unit_test(framing_keepalive),
		cmocka_unit_test(framing_keepalive_stray_cr),
		cmocka_unit_test(framing_ping_byte_at_a_time),
		cmocka_unit_test(framing_datagram_cl),
		cmocka_unit_test(framing_datagram_no_cl),
		cmocka_unit_test(framing_datagram_cl_short),
		cmocka_unit_test(framing_datagram_errors),
		cmocka_unit_test(framing_datagram_keepalive),
		cmocka_unit_test(framing_datagram_too_large),
		cmocka_unit_test(framing_dblreq_stream),
		cmocka_unit_test(framing_dblreq_datagram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
