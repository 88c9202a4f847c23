/*
 * libFuzzer target for the parsing side of src/sipmsg.c. The input is
 * framed as the daemon frames it, as a stream or as a datagram. The last
 * byte picks which, so that seed messages stay intact. The message is
 * parsed, and every accessor runs over the result: header values of every
 * kind, each Via, the URIs of address headers, the Request-URI and their
 * parameters. The
 * paths that answer a message locally run too: an error response from the
 * index alone, and a response built for a parsed request, which must parse
 * in turn because the daemon parses it before relaying it to the phone.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

/* Same size as the daemon's response buffer. */
#define REPLY_MAX	16384
/* Values visited per header kind. sipmsg_value walks from the first value
 * on each call, so the cap keeps huge comma lists from timing out. */
#define MAX_VALUES	256

static const char *const param_names[] = {
	"lr", "transport", "tag", "branch", "received", "rport", "expires",
	"maddr", "user", "ob",
};

static void
check_index(const struct sipmsg *m, size_t len)
{
	CHECK(m->len == len);
	CHECK(m->header_len <= len);
	CHECK(m->start_line_end > 0);
	CHECK(m->start_line_end <= m->header_len);
	CHECK(m->nhdr >= 0);
	CHECK(m->nhdr <= SIPMSG_MAX_HEADERS);
	if (m->is_request) {
		CHECK(span_within(m->method, m->start_line_end));
		CHECK(span_within(m->ruri, m->start_line_end));
	}
	for (int i = 0; i < m->nhdr; i++) {
		const struct sip_header *h = &m->hdr[i];

		CHECK(h->kind >= HDR_OTHER);
		CHECK(h->kind < HDR__COUNT);
		CHECK(h->line.off >= m->start_line_end);
		CHECK(span_within(h->line, m->header_len));
		CHECK(h->name.len > 0);
		CHECK(span_inside(h->name, h->line));
		CHECK(span_inside(h->value, h->line));
		if (i > 0)
			CHECK(h->line.off >= m->hdr[i - 1].line.off +
			    m->hdr[i - 1].line.len);
	}
	for (int k = 0; k < HDR__COUNT; k++) {
		CHECK(m->first[k] >= -1);
		CHECK(m->first[k] < m->nhdr);
		if (m->first[k] >= 0)
			CHECK(m->hdr[m->first[k]].kind == (enum sip_hdr)k);
	}
}

static void
check_params(const char *buf, struct sip_span params)
{
	for (size_t i = 0; i < sizeof(param_names) / sizeof(param_names[0]);
	    i++) {
		struct sip_span val = { 0, 0 };

		if (sip_param_find(buf, params, param_names[i], &val) == 1)
			CHECK(val.off >= params.off &&
			    (size_t)val.off + val.len <=
			    (size_t)params.off + params.len);
	}
}

static void
check_uri(const char *buf, struct sip_span value, const struct sip_uri *u)
{
	CHECK(u->uri.len > 0);
	CHECK(span_inside(u->uri, value));
	CHECK(span_inside(u->scheme, u->uri));
	CHECK(span_inside(u->user, u->uri));
	CHECK(span_inside(u->host, u->uri));
	CHECK(span_inside(u->params, u->uri));
	check_params(buf, u->params);
}

static int
is_address_kind(enum sip_hdr kind)
{
	return kind == HDR_ROUTE || kind == HDR_RECORD_ROUTE ||
	    kind == HDR_PATH || kind == HDR_CONTACT || kind == HDR_FROM ||
	    kind == HDR_TO;
}

static void
check_via(const struct sipmsg *m, int n, struct sip_span value)
{
	struct sip_via v;

	if (sipmsg_via(m, n, &v) != 0)
		return;
	CHECK(v.value.off == value.off);
	CHECK(v.value.len == value.len);
	CHECK(v.transport.len > 0);
	CHECK(span_inside(v.transport, value));
	CHECK(v.host.len > 0);
	CHECK(span_inside(v.host, value));
	CHECK(span_inside(v.branch, value));
	CHECK(span_inside(v.received, value));
	CHECK(span_inside(v.rport, value));
	CHECK(v.has_rport || v.rport_value == 0);
}

/* Visits every value of every header kind and parses what the proxy
 * parses. */
static void
check_values(const struct sipmsg *m)
{
	for (int k = 0; k < HDR__COUNT; k++) {
		enum sip_hdr kind = (enum sip_hdr)k;

		for (int n = 0; n < MAX_VALUES; n++) {
			struct sip_span value;
			struct sip_uri u;
			int line = -1;

			if (sipmsg_value(m, kind, n, &value, &line) != 0)
				break;
			CHECK(line >= 0);
			CHECK(line < m->nhdr);
			CHECK(m->hdr[line].kind == kind);
			CHECK(span_inside(value, m->hdr[line].value));
			if (kind == HDR_VIA)
				check_via(m, n, value);
			if (is_address_kind(kind) &&
			    sip_uri_parse(m->buf, value, &u) == 0)
				check_uri(m->buf, value, &u);
		}
	}
}

static void
check_request_line(const struct sipmsg *m)
{
	struct sip_uri u;

	CHECK(m->method.len > 0);
	CHECK(sipmsg_method_is(m, "INVITE") + sipmsg_method_is(m, "ACK") +
	    sipmsg_method_is(m, "REGISTER") <= 1);
	if (sipmsg_ruri(m, &u) == 0)
		check_uri(m->buf, m->ruri, &u);
}

/* How much a locally built response must satisfy. */
enum response_check {
	/* The request failed framing, so its lines may hold a NUL or a bare
	 * CR or LF, which the response echoes. */
	RESPONSE_BUILT,
	/* The request framed but failed sipmsg_parse. */
	RESPONSE_FRAMES,
	/* The request parsed. The daemon parses such a response before
	 * relaying it to the phone. */
	RESPONSE_PARSES,
};

/* Builds a response as the daemon does and checks it up to level. */
static void
check_response(const struct sipmsg *m, int status, const char *reason,
    const char *tag, enum response_check level)
{
	static char out[REPLY_MAX];
	static const char tail[] = "Content-Length: 0\r\n\r\n";
	struct sipmsg r;
	struct sip_error err = { 0, NULL };
	struct frame fr;
	size_t n;

	n = sipmsg_build_response(m, status, reason, tag, NULL, out,
	    sizeof(out));
	/* 0: no Via, or the copied lines exceed REPLY_MAX. */
	if (n == 0)
		return;
	CHECK(n <= sizeof(out));
	CHECK(n >= sizeof(tail) - 1);
	CHECK(memcmp(out + n - (sizeof(tail) - 1), tail, sizeof(tail) - 1) == 0);
	if (level == RESPONSE_BUILT)
		return;
	CHECK(frame_datagram(&fuzz_edited_limits, out, n, &fr) ==
	    FRAME_MESSAGE);
	CHECK(fr.len == n);
	CHECK(fr.body_len == 0);
	if (level == RESPONSE_FRAMES)
		return;
	if (sipmsg_parse(&r, out, n, fr.header_len, &err) != 0) {
		/* NOTE: libosip2 5.3 rejects some URIs only once a parameter
		 * follows them, so adding the To tag can turn an accepted To
		 * such as "si::u" or "sip:u" into a rejected one. Our own
		 * checks must still pass, so only libosip2 may object. */
		const char *reason = err.reason;

		sipmsg_free(&r);
		CHECK(strcmp(reason, "Malformed Message") == 0);
		/* The index accepts, so the reason came from libosip2. */
		CHECK(sipmsg_index(&r, out, n, fr.header_len, &err) == 0);
		return;
	}
	CHECK(!r.is_request);
	CHECK(r.status == status);
	CHECK(r.cseq == m->cseq);
	CHECK(r.to_has_tag || status == 100);
	sipmsg_free(&r);
}

/* Handles an unframeable message as the daemon does: indexes the header
 * section alone and builds a response when the index succeeds. */
static void
check_framing_error(const char *buf, size_t len, const struct frame *fr)
{
	struct sipmsg m;
	struct sip_error err;
	char *copy;

	if (fr->header_len == 0 || fr->header_len > len)
		return;
	copy = exact_copy((const uint8_t *)buf, fr->header_len);
	if (sipmsg_index(&m, copy, fr->header_len, fr->header_len,
	    &err) == 0) {
		check_index(&m, fr->header_len);
		check_response(&m, fr->error_status, fr->error_reason,
		    "0123456789abcdef", RESPONSE_BUILT);
	}
	free(copy);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sipmsg_global_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sipmsg m;
	struct sip_error err = { 0, NULL };
	struct frame fr;
	const char *in = (const char *)data;
	int stream = size > 0 && (data[size - 1] & 1);
	char *msg;
	long off;
	int rc;

	off = fuzz_frame_first(in, size, stream, &fr);
	if (off < 0) {
		memset(&fr, 0, sizeof(fr));
		if (!stream && frame_datagram(&fuzz_default_limits, in, size,
		    &fr) == FRAME_ERROR)
			check_framing_error(in, size, &fr);
		return 0;
	}
	msg = exact_copy(data + off, fr.len);
	rc = sipmsg_parse(&m, msg, fr.len, fr.header_len, &err);
	if (rc == 0) {
		CHECK(m.osip != NULL);
		check_index(&m, fr.len);
		CHECK(m.header_len == fr.header_len);
		check_values(&m);
		if (m.is_request) {
			check_request_line(&m);
			CHECK(m.max_forwards >= -1);
			CHECK(m.max_forwards <= 255);
			if (!sipmsg_method_is(&m, "ACK")) {
				check_response(&m, 100, "Trying", NULL,
				    RESPONSE_PARSES);
				check_response(&m, 503, "Backend Unavailable",
				    "0123456789abcdef", RESPONSE_PARSES);
			}
		} else {
			CHECK(m.status >= 100);
			CHECK(m.status <= 699);
		}
	} else {
		CHECK(err.reason != NULL);
		CHECK(err.status == 0 || err.status == 400 ||
		    err.status == 505 || err.status == 500);
		/* The daemon builds the error response from the index. */
		if (err.status != 0 && m.is_request)
			check_response(&m, err.status, err.reason,
			    "0123456789abcdef", RESPONSE_FRAMES);
	}
	sipmsg_free(&m);
	free(msg);
	return 0;
}
