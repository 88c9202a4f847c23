/*
 * libFuzzer target for the byte-level edits of src/sipmsg.c. A parsed
 * request gets the edits src/proxy.c makes on each side: our Via, Path and
 * Record-Route inserted after the start line, leading Route values
 * removed, received/rport on the sender's Via and Max-Forwards lowered. A
 * parsed response loses its top Via. Each edit set is then rendered both
 * as a copy (sip_edits_apply) and as pieces (sip_edits_iov), which must
 * agree byte for byte. The result must frame as exactly one message with
 * the original body, and an edited request must still parse, with the
 * headers changed as intended.
 *
 * The number of Route values taken as ours and the sender's address come
 * from a hash of the input, so that seed messages stay intact.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

#define MAX_IOV		(2 * SIP_MAX_EDITS + 1)

/* Stand-ins for the daemon's values, with their real lengths. */
#define TOKEN		"AbCdEfGhIjKlMnOpQrStUv-_"
#define BRANCH		"z9hG4bK" TOKEN ".0123456789abcdef"
#define BACKEND_HP	"127.0.0.1:5070"
#define PUBLIC_HP	"sips.example.test"

static const char *const source_ips[] = {
	"127.0.0.1", "::1", "127.0.0.2", "::ffff:127.0.0.1",
};

/* Which side of the proxy an edit set imitates. */
enum side {
	SIDE_PHONE,		/* request from a phone, toward the backend */
	SIDE_BACKEND,		/* request from the backend, toward a phone */
};

static uint64_t
hash_input(const uint8_t *data, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= data[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int
count_values(const struct sipmsg *m, enum sip_hdr kind)
{
	struct sip_span v;
	int n = 0;

	while (sipmsg_value(m, kind, n, &v, NULL) == 0)
		n++;
	return n;
}

/* The same rule as src/proxy.c: a dialog-creating request gets
 * Record-Route. */
static int
is_dialog_creating(const struct sipmsg *m)
{
	if (m->to_has_tag)
		return 0;
	return sipmsg_method_is(m, "INVITE") ||
	    sipmsg_method_is(m, "SUBSCRIBE") ||
	    sipmsg_method_is(m, "REFER") || sipmsg_method_is(m, "NOTIFY");
}

/* Makes the edits of phone_request or backend_request in src/proxy.c.
 * Returns 0, or -1 where the daemon would send a 500 response instead. */
static int
edit_request(const struct sipmsg *m, struct sip_edits *ed, enum side side,
    int own, const char *source_ip, uint16_t source_port)
{
	size_t at = m->start_line_end;
	int dialog = is_dialog_creating(m);

	sip_edits_init(ed);
	if (side == SIDE_PHONE) {
		if (sip_edit_insertf(ed, at, "Via: SIP/2.0/UDP %s;branch=%s;"
		    "rport\r\n", BACKEND_HP, BRANCH) == -1)
			return -1;
		if (sipmsg_method_is(m, "REGISTER") &&
		    sip_edit_insertf(ed, at, "Path: <sip:%s@%s;transport=udp;"
		    "lr>\r\n", TOKEN, BACKEND_HP) == -1)
			return -1;
		if (dialog && sip_edit_insertf(ed, at, "Record-Route: <sip:%s@"
		    "%s;transport=udp;lr>\r\nRecord-Route: <sips:%s@%s;lr>\r\n",
		    TOKEN, BACKEND_HP, TOKEN, PUBLIC_HP) == -1)
			return -1;
	} else {
		if (sip_edit_insertf(ed, at, "Via: SIP/2.0/TLS %s;branch=%s\r\n",
		    PUBLIC_HP, BRANCH) == -1)
			return -1;
		if (dialog && sip_edit_insertf(ed, at, "Record-Route: <sips:%s@"
		    "%s;lr>\r\nRecord-Route: <sip:%s@%s;transport=udp;lr>\r\n",
		    TOKEN, PUBLIC_HP, TOKEN, BACKEND_HP) == -1)
			return -1;
	}
	if (own > 0 && sipmsg_edit_remove_first(m, ed, HDR_ROUTE, own) == -1)
		return -1;
	if (sipmsg_edit_via_received(m, ed, source_ip, source_port) == -1 ||
	    sipmsg_edit_max_forwards(m, ed) == -1)
		return -1;
	return 0;
}

/*
 * Renders the edits both ways and checks that they agree and that the
 * result frames as one message carrying the original body. Returns the
 * edited message (heap, exactly *out_len bytes) and its header length.
 */
static char *
render(const struct sipmsg *m, const struct sip_edits *ed, size_t *out_len,
    size_t *out_header_len)
{
	struct iovec iov[MAX_IOV];
	struct frame fr;
	struct framer f;
	size_t size, pos = 0, body_len = m->len - m->header_len;
	char *out;
	int n;

	size = sip_edits_size(ed, m->len);
	CHECK(size > 0);
	out = malloc(size);
	CHECK(out != NULL);
	CHECK(sip_edits_apply(ed, m->buf, m->len, out, size) == size);
	CHECK(sip_edits_apply(ed, m->buf, m->len, out, size - 1) == 0);
	CHECK(sip_edits_apply(ed, m->buf, m->len, out, size) == size);

	n = sip_edits_iov(ed, m->buf, m->len, iov, MAX_IOV);
	CHECK(n >= 1);
	CHECK(n <= MAX_IOV);
	for (int i = 0; i < n; i++) {
		const char *b = iov[i].iov_base;
		int in_src = b >= m->buf && b + iov[i].iov_len <= m->buf + m->len;
		int in_store = b >= ed->store &&
		    b + iov[i].iov_len <= ed->store + ed->used;

		CHECK(iov[i].iov_len > 0);
		CHECK(in_src || in_store);
		CHECK(iov[i].iov_len <= size - pos);
		CHECK(memcmp(out + pos, b, iov[i].iov_len) == 0);
		pos += iov[i].iov_len;
	}
	CHECK(pos == size);
	CHECK(sip_edits_iov(ed, m->buf, m->len, iov, n - 1) == -1);

	/* A stream needs Content-Length, and a datagram takes the rest as the
	 * body. */
	if (m->first[HDR_CONTENT_LENGTH] >= 0) {
		framer_reset(&f);
		CHECK(framer_next(&f, &fuzz_edited_limits, out, size, &fr) ==
		    FRAME_MESSAGE);
		CHECK(fr.len == size);
	}
	CHECK(frame_datagram(&fuzz_edited_limits, out, size, &fr) ==
	    FRAME_MESSAGE);
	CHECK(fr.len == size);
	CHECK(fr.body_len == body_len);
	CHECK(memcmp(out + fr.header_len, m->buf + m->header_len,
	    body_len) == 0);
	*out_len = size;
	*out_header_len = fr.header_len;
	return out;
}

/* Checks that the edited request parses and carries the intended
 * changes. */
static void
check_edited_request(const struct sipmsg *m, const char *out, size_t len,
    size_t header_len, enum side side, int own, const char *source_ip)
{
	struct sipmsg r;
	struct sip_error err = { 0, NULL };
	struct sip_via top, prev;
	int dialog = is_dialog_creating(m);
	const char *host = side == SIDE_PHONE ? "127.0.0.1" : PUBLIC_HP;

	CHECK(sipmsg_parse(&r, out, len, header_len, &err) == 0);
	CHECK(r.is_request);
	CHECK(r.method.len == m->method.len);
	CHECK(r.cseq == m->cseq);
	CHECK(r.max_forwards == (m->max_forwards < 0 ? 70 :
	    m->max_forwards - 1));
	CHECK(count_values(&r, HDR_VIA) == count_values(m, HDR_VIA) + 1);
	CHECK(count_values(&r, HDR_ROUTE) == count_values(m, HDR_ROUTE) - own);
	CHECK(count_values(&r, HDR_RECORD_ROUTE) ==
	    count_values(m, HDR_RECORD_ROUTE) + 2 * dialog);
	CHECK(count_values(&r, HDR_PATH) == count_values(m, HDR_PATH) +
	    (side == SIDE_PHONE && sipmsg_method_is(m, "REGISTER")));

	CHECK(sipmsg_via(&r, 0, &top) == 0);
	CHECK(top.host.len == strlen(host));
	CHECK(memcmp(out + top.host.off, host, top.host.len) == 0);
	CHECK(top.branch.len == strlen(BRANCH));
	CHECK(sipmsg_via(&r, 1, &prev) == 0);
	CHECK(prev.branch.len == m->top_via.branch.len);
	CHECK(memcmp(out + prev.branch.off, m->buf + m->top_via.branch.off,
	    prev.branch.len) == 0);
	if (prev.received.len > 0) {
		CHECK(prev.received.len == strlen(source_ip));
		CHECK(memcmp(out + prev.received.off, source_ip,
		    prev.received.len) == 0);
	}
	CHECK(!prev.has_rport || prev.rport_value != 0);
	sipmsg_free(&r);
}

static void
fuzz_request(const struct sipmsg *m, uint64_t h)
{
	const char *ip = source_ips[(h >> 8) % 4];
	uint16_t port = (uint16_t)(1 + (h >> 16) % 65535);
	int routes = count_values(m, HDR_ROUTE);

	/* The daemon sends a 483 response before editing such a request. */
	if (m->max_forwards == 0)
		return;
	for (int side = SIDE_PHONE; side <= SIDE_BACKEND; side++) {
		/* Up to two leading Route values can name the proxy, and a
		 * request from the backend reaches us only through one. */
		int own = (int)((h >> (24 + 2 * side)) % 3);
		struct sip_edits ed;
		size_t len, header_len;
		char *out;

		if (side == SIDE_BACKEND && own == 0)
			own = 1;
		if (own > routes)
			own = routes;
		if (side == SIDE_BACKEND && own == 0)
			continue;
		if (edit_request(m, &ed, side, own, ip, port) == -1)
			continue;
		out = render(m, &ed, &len, &header_len);
		check_edited_request(m, out, len, header_len, side, own, ip);
		free(out);
	}
}

static void
fuzz_response(const struct sipmsg *m)
{
	struct sip_edits ed;
	struct sipmsg r;
	struct sip_error err = { 0, NULL };
	size_t len, header_len;
	char *out;

	sip_edits_init(&ed);
	if (sipmsg_edit_remove_first(m, &ed, HDR_VIA, 1) == -1)
		return;
	out = render(m, &ed, &len, &header_len);
	/* A response with one Via is left with none and no longer parses, but
	 * the daemon never relays such a response, because its only Via is
	 * ours. */
	if (count_values(m, HDR_VIA) > 1) {
		CHECK(sipmsg_parse(&r, out, len, header_len, &err) == 0);
		CHECK(r.status == m->status);
		CHECK(count_values(&r, HDR_VIA) == count_values(m, HDR_VIA) - 1);
		sipmsg_free(&r);
	}
	free(out);
}

/* sipmsg_edit_remove_value alone on one value of one kind. Content-Length
 * is left alone because removing it changes how the result frames. */
static void
fuzz_remove_value(const struct sipmsg *m, uint64_t h)
{
	static const enum sip_hdr kinds[] = {
		HDR_VIA, HDR_ROUTE, HDR_RECORD_ROUTE, HDR_PATH, HDR_CONTACT,
		HDR_SUPPORTED, HDR_REQUIRE, HDR_PROXY_REQUIRE,
	};
	enum sip_hdr kind = kinds[(h >> 32) % (sizeof(kinds) / sizeof(kinds[0]))];
	int n = (int)((h >> 40) % 4);
	struct sip_edits ed;
	size_t len, header_len;
	char *out;

	sip_edits_init(&ed);
	if (sipmsg_edit_remove_value(m, &ed, kind, n) == -1) {
		CHECK(n >= count_values(m, kind));
		return;
	}
	CHECK(n < count_values(m, kind));
	out = render(m, &ed, &len, &header_len);
	free(out);
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
	uint64_t h = hash_input(data, size);
	char *msg;
	long off;

	off = fuzz_frame_first((const char *)data, size, (int)(h & 1), &fr);
	if (off < 0)
		return 0;
	msg = exact_copy(data + off, fr.len);
	if (sipmsg_parse(&m, msg, fr.len, fr.header_len, &err) == 0) {
		if (m.is_request)
			fuzz_request(&m, h);
		else
			fuzz_response(&m);
		fuzz_remove_value(&m, h);
	}
	sipmsg_free(&m);
	free(msg);
	return 0;
}
