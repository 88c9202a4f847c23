/* Helpers shared by the libFuzzer targets. Each target checks its
 * invariants with CHECK, which prints the failed condition and aborts, so
 * that libFuzzer saves the input as a crash. */
#ifndef SIPSGATE_FUZZ_UTIL_H
#define SIPSGATE_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"
#include "sipmsg.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* The daemon's default [limits]. */
static const struct framing_limits fuzz_default_limits = {
	.max_message_size = 65535,
	.max_headers = 100,
	.max_line = 8192,
};

/* Limits for re-framing a message after the proxy's edits, which add up to
 * five header lines and lengthen the top Via line. */
static const struct framing_limits fuzz_edited_limits = {
	.max_message_size = 1 << 20,
	.max_headers = SIPMSG_MAX_HEADERS,
	.max_line = 65536,
};

/* Returns 1 when span s lies inside [0, limit). An empty span may sit
 * anywhere up to limit. */
static inline int
span_within(struct sip_span s, size_t limit)
{
	return (size_t)s.off + s.len <= limit;
}

/* Returns 1 when span s lies inside span outer, or is empty. Parsers leave
 * an absent part as { 0, 0 }. */
static inline int
span_inside(struct sip_span s, struct sip_span outer)
{
	if (s.len == 0)
		return 1;
	return s.off >= outer.off &&
	    (size_t)s.off + s.len <= (size_t)outer.off + outer.len;
}

/* Returns a heap copy of data[0..len) whose end is the end of the
 * allocation, so that AddressSanitizer reports any read past len. */
static inline char *
exact_copy(const uint8_t *data, size_t len)
{
	char *p = malloc(len > 0 ? len : 1);

	CHECK(p != NULL);
	if (len > 0)
		memcpy(p, data, len);
	return p;
}

/*
 * Frames data as the daemon does: as a stream message when stream is
 * non-zero (leading CRLF keepalives are skipped first), otherwise as one
 * UDP datagram. Returns the start offset of the message and fills *fr, or
 * returns -1 when no message comes out.
 */
static inline long
fuzz_frame_first(const char *buf, size_t len, int stream, struct frame *fr)
{
	struct framer f;
	size_t off = 0;
	enum frame_status st;

	if (!stream) {
		if (frame_datagram(&fuzz_default_limits, buf, len, fr) !=
		    FRAME_MESSAGE)
			return -1;
		return 0;
	}
	framer_reset(&f);
	for (;;) {
		st = framer_next(&f, &fuzz_default_limits, buf + off,
		    len - off, fr);
		if (st == FRAME_MESSAGE)
			return (long)off;
		if (st != FRAME_PING && st != FRAME_SKIP)
			return -1;
		off += fr->len;
	}
}

#endif
