/* One SIP message: a raw header index over the original bytes (for
 * editing), the libosip2 parse (for validation), our own checks for what
 * libosip2 accepts wrongly, byte-level edits, and locally built
 * responses. Pure: no sockets, no libevent, no globals.
 *
 * Messages are forwarded by editing the original bytes, never by
 * re-serialising the libosip2 parse, because osip_message_to_str reorders
 * and rewrites headers. */
#ifndef SIPSGATE_SIPMSG_H
#define SIPSGATE_SIPMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Hard cap on header lines held in the index; [limits] max_headers may
 * only lower it. */
#define SIPMSG_MAX_HEADERS	256
#define SIP_MAX_EDITS		32
#define SIP_EDIT_STORE		4096

/* A byte range inside the message buffer. */
struct sip_span {
	uint32_t off;
	uint32_t len;
};

enum sip_hdr {
	HDR_OTHER,
	HDR_VIA,		/* "Via", "v" */
	HDR_ROUTE,
	HDR_RECORD_ROUTE,
	HDR_PATH,
	HDR_MAX_FORWARDS,
	HDR_CONTACT,		/* "Contact", "m" */
	HDR_FROM,		/* "From", "f" */
	HDR_TO,			/* "To", "t" */
	HDR_CALL_ID,		/* "Call-ID", "i" */
	HDR_CSEQ,
	HDR_CONTENT_LENGTH,	/* "Content-Length", "l" */
	HDR_CONTENT_TYPE,	/* "Content-Type", "c" */
	HDR_SUPPORTED,		/* "Supported", "k" */
	HDR_REQUIRE,
	HDR_PROXY_REQUIRE,
	HDR_EXPIRES,
	HDR__COUNT
};

struct sip_header {
	enum sip_hdr kind;
	struct sip_span line;	/* whole line including folded continuations and CRLF */
	struct sip_span name;
	struct sip_span value;	/* trimmed, continuations included */
};

/* One Via value (via-parm), located in the raw bytes. */
struct sip_via {
	struct sip_span value;		/* "SIP/2.0/TLS host:port;params" */
	struct sip_span transport;	/* "TLS" */
	struct sip_span host;		/* without IPv6 brackets */
	uint16_t port;			/* 0 when absent */
	struct sip_span branch;		/* value of branch=, len 0 when absent */
	struct sip_span received;	/* value of received=, len 0 when absent */
	int has_rport;			/* rport present, with or without value */
	struct sip_span rport;		/* the whole ";rport" or ";rport=N" parameter */
	uint16_t rport_value;		/* 0 when absent or empty */
};

/* Parts of a URI in a name-addr or addr-spec value, located in the raw
 * bytes: "<sips:user@host:port;lr>" or "sip:host". */
struct sip_uri {
	struct sip_span uri;		/* the URI without <> and display name */
	struct sip_span scheme;		/* "sip", "sips", "tel", ... */
	struct sip_span user;		/* len 0 when absent */
	struct sip_span host;		/* without IPv6 brackets */
	uint16_t port;			/* 0 when absent */
	struct sip_span params;		/* ";lr;transport=udp", len 0 when absent */
};

struct sipmsg {
	const char *buf;		/* not owned; must outlive the sipmsg */
	size_t len;			/* whole message */
	size_t header_len;		/* start line .. empty line inclusive */
	size_t start_line_end;		/* offset just after the start line's CRLF */

	int is_request;
	struct sip_span method;		/* requests */
	struct sip_span ruri;		/* requests */
	int status;			/* responses: 100..699 */

	struct sip_header hdr[SIPMSG_MAX_HEADERS];
	int nhdr;
	int first[HDR__COUNT];		/* index of the first line of each kind, -1 if none */

	/* Filled by sipmsg_parse only. */
	int max_forwards;		/* -1 when absent */
	uint32_t cseq;
	struct sip_span cseq_method;
	int to_has_tag;
	struct sip_via top_via;

	void *osip;			/* osip_message_t *, owned */
};

/* Outcome of a failed parse: the status of the response to send and a
 * reason phrase naming the fault, such as "Missing Call-ID". The status is
 * 400 for a request, or 505 for a well-formed SIP version other than 2.0.
 * It is 0 when the message is a response, which is dropped instead. The
 * reason has static storage. */
struct sip_error {
	int status;
	const char *reason;
};

/* Calls parser_init() and silences libosip2's trace. Call once at start-up,
 * before any thread. */
void sipmsg_global_init(void);

/*
 * Indexes the start line and header lines of buf[0..len) without
 * libosip2. header_len comes from the framer. Enough to build an error
 * response even for a message that will not parse. Returns 0, or -1 when
 * not even the start line and header names can be located.
 */
int sipmsg_index(struct sipmsg *m, const char *buf, size_t len,
    size_t header_len, struct sip_error *err);

/*
 * sipmsg_index, then our own checks, then libosip2 on the header section.
 * Our checks: the version is SIP/2.0 and a status has three digits. To,
 * From, Call-ID, CSeq and Via are present, and the CSeq method equals the
 * request method. CSeq is below 2^31, Max-Forwards within 0..255 and
 * Expires within 2^32-1. The header section has no bare CR or LF, and no
 * NUL or other control character outside a quoted-pair. IPv6 hosts in Via
 * are bracketed. Returns 0, or -1 with *err set. sipmsg_free must be
 * called either way.
 */
int sipmsg_parse(struct sipmsg *m, const char *buf, size_t len,
    size_t header_len, struct sip_error *err);
void sipmsg_free(struct sipmsg *m);

/* Returns 1 when the request method equals name (case-sensitive, as RFC
 * 3261 section 7.1 requires). */
int sipmsg_method_is(const struct sipmsg *m, const char *name);

/* Finds the n-th (0-based) comma-separated value of a header kind across
 * all its lines, honouring quotes and <>. Returns 0 and sets *value and
 * *line_index, or -1 when there are fewer values. */
int sipmsg_value(const struct sipmsg *m, enum sip_hdr kind, int n,
    struct sip_span *value, int *line_index);

/* Parses the n-th Via value. Returns 0, or -1 when absent or malformed. */
int sipmsg_via(const struct sipmsg *m, int n, struct sip_via *out);

/* Parses a name-addr or addr-spec in buf at span. Returns 0 or -1. In an
 * addr-spec, whatever follows the first ';' is a header parameter, not
 * part of the URI (RFC 3261 section 20.10). Use sipmsg_ruri for the
 * Request-URI. */
int sip_uri_parse(const char *buf, struct sip_span value, struct sip_uri *out);

/* Parses the Request-URI, a bare URI that keeps its ';' parameters.
 * Returns 0, or -1 for a response or a malformed URI. */
int sipmsg_ruri(const struct sipmsg *m, struct sip_uri *out);

/* Finds ";name" or ";name=value" in a parameter list span. Returns 1 and
 * sets *val (len 0 for a flag) when found, 0 otherwise. Names compare
 * case-insensitively. */
int sip_param_find(const char *buf, struct sip_span params, const char *name,
    struct sip_span *val);

/* ---- Edits on the original bytes ---- */

struct sip_edit {
	uint32_t off;		/* in the source buffer */
	uint32_t del;		/* source bytes removed from off */
	uint32_t ins_off;	/* inserted bytes, inside the edit store */
	uint32_t ins_len;
};

/* A set of non-overlapping edits. Inserts at the same offset keep the
 * order in which they were added. */
struct sip_edits {
	struct sip_edit e[SIP_MAX_EDITS];
	int n;
	size_t used;
	char store[SIP_EDIT_STORE];
};

void sip_edits_init(struct sip_edits *ed);
/* Each returns 0, or -1 when the edit list or its store is full, or when
 * the edit overlaps an earlier deletion. */
int sip_edit_insert(struct sip_edits *ed, size_t off, const char *s, size_t len);
int sip_edit_insertf(struct sip_edits *ed, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sip_edit_delete(struct sip_edits *ed, size_t off, size_t len);
int sip_edit_replace(struct sip_edits *ed, size_t off, size_t len,
    const char *s, size_t slen);

/* Size of src[0..len) after the edits. */
size_t sip_edits_size(const struct sip_edits *ed, size_t len);
/* Writes the edited message into dst. Returns its length, or 0 when cap
 * is too small. */
size_t sip_edits_apply(const struct sip_edits *ed, const char *src,
    size_t len, char *dst, size_t cap);
/* Describes the edited message as at most maxiov pieces pointing into src
 * and into ed->store, for writing without an intermediate copy. Returns
 * the number of pieces, or -1 when maxiov is too small. */
int sip_edits_iov(const struct sip_edits *ed, const char *src, size_t len,
    struct iovec *iov, int maxiov);

/* ---- Proxy edits (RFC 3261 section 16.6, RFC 3581) ---- */

/* Adds received= to the top Via when its host differs from source_ip or it
 * carries rport, and fills an empty rport with source_port. */
int sipmsg_edit_via_received(const struct sipmsg *m, struct sip_edits *ed,
    const char *source_ip, uint16_t source_port);
/* Decrements Max-Forwards, or inserts "Max-Forwards: 70" when absent. The
 * caller answers 483 beforehand when it is 0. */
int sipmsg_edit_max_forwards(const struct sipmsg *m, struct sip_edits *ed);
/* Removes the n-th value of a header kind: the whole line when it is the
 * line's only value, otherwise the value and its separating comma. Only
 * n == 0 and values in the first line are required to work together with
 * other edits; call it at most once per line. */
int sipmsg_edit_remove_value(const struct sipmsg *m, struct sip_edits *ed,
    enum sip_hdr kind, int n);

/* Removes the first count (1 to 7) values of a header kind, which may
 * share a line with values that stay or span several lines: per line, the
 * run of removed values up to the next kept one, or the whole line.
 * Returns 0, or -1 when there are fewer values or an edit does not fit. */
int sipmsg_edit_remove_first(const struct sipmsg *m, struct sip_edits *ed,
    enum sip_hdr kind, int count);

/* ---- Locally generated responses ---- */

/*
 * Builds a response to the indexed request m: status line, every Via line,
 * From, To (with ";tag=to_tag" added when the To has no tag and status >
 * 100), Call-ID, CSeq, any extra header lines given (each ending in CRLF,
 * may be NULL), and "Content-Length: 0". Works on a message that only
 * sipmsg_index accepted. From, To, Call-ID and CSeq
 * lines that are missing are left out. Returns the length, or 0 when there
 * is no Via line or cap is too small.
 */
size_t sipmsg_build_response(const struct sipmsg *m, int status,
    const char *reason, const char *to_tag, const char *extra_headers,
    char *out, size_t cap);

#endif
