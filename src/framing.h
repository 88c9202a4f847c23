/* Splits a SIP byte stream (TLS or TCP) into whole messages by
 * Content-Length (RFC 3261 section 18.3). Pure: no I/O, no allocation. */
#ifndef SIPSGATE_FRAMING_H
#define SIPSGATE_FRAMING_H

#include <stddef.h>

struct framing_limits {
	size_t max_message_size;	/* header section + body, bytes */
	size_t max_headers;		/* header lines, folded lines count once */
	size_t max_line;		/* one header line, bytes, CRLF excluded */
};

enum frame_status {
	FRAME_NEED_MORE,	/* no complete message yet */
	FRAME_MESSAGE,		/* frame.len bytes hold one message */
	FRAME_PING,		/* CRLFCRLF keepalive (RFC 5626 section 3.5.1): frame.len is 4; send CRLF back */
	FRAME_SKIP,		/* a single CRLF between messages (RFC 3261 section 7.5): frame.len is 2; discard, no reply */
	FRAME_ERROR,		/* the stream cannot be framed; close after replying */
};

struct frame {
	size_t len;		/* bytes to consume from the buffer start */
	size_t header_len;	/* start line + headers + the empty line; 0 if unknown */
	size_t body_len;	/* Content-Length */
	/* FRAME_ERROR only: the SIP status to answer with (400 or 513) and a
	 * short reason phrase. A response can be formed only when
	 * header_len > 0, because it needs the Via, From, To, Call-ID and CSeq
	 * lines. */
	int error_status;
	const char *error_reason;
};

/* Incremental state, so that a message arriving one byte at a time is
 * scanned once, not once per byte. Zero-initialise, or framer_reset(). */
struct framer {
	size_t scanned;		/* bytes of the header section already checked */
	size_t lines;		/* header lines seen so far */
	size_t line_start;	/* offset of the current line */
	size_t header_len;	/* set once the empty line is found */
	size_t body_len;
	int content_length_seen;
	/* A Content-Length fault (invalid, duplicate, too large) is held
	 * until the header section ends, so that the error frame carries
	 * header_len and a response can be formed. 0 when none. */
	int pending_status;
	const char *pending_reason;
};

void framer_reset(struct framer *f);

/*
 * Examines buf[0..len), which must hold all unconsumed bytes of the stream
 * starting at a message boundary, and fills *out. The same framer must be
 * passed again with a longer buffer after FRAME_NEED_MORE; after any other
 * result the caller consumes out->len bytes (FRAME_MESSAGE, FRAME_PING,
 * FRAME_SKIP) or stops reading (FRAME_ERROR). framer_next has then reset
 * the framer itself.
 *
 * A buffer holding only "\r\n" returns FRAME_NEED_MORE, because it may be
 * the start of a ping.
 */
enum frame_status framer_next(struct framer *f, const struct framing_limits *lim,
    const char *buf, size_t len, struct frame *out);

/*
 * Frames one UDP datagram buf[0..len) (RFC 3261 section 18.3). The header
 * section must be complete. Without Content-Length the body is the rest
 * of the datagram. With it, the body must fit in the datagram and any
 * bytes after it are ignored (out->len = header_len + body_len). A
 * datagram of CRLFs only, or an empty one, is a keepalive: FRAME_SKIP
 * with out->len = len. Never returns FRAME_NEED_MORE or FRAME_PING.
 */
enum frame_status frame_datagram(const struct framing_limits *lim,
    const char *buf, size_t len, struct frame *out);

#endif
