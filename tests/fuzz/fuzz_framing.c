/*
 * libFuzzer target for src/framing.c. The input is a byte stream from a
 * peer. It is framed three ways: whole, as TCP/TLS delivers it in pieces
 * (byte by byte, and in pseudo-random chunk sizes seeded by the input),
 * and as one UDP datagram. Every frame must satisfy the framing.h
 * contract, and the chunked runs must produce the same frames as the
 * whole run.
 *
 * The framing limits are picked from the input too, among those the
 * config loader accepts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#include "fuzz_util.h"

/* Frames recorded per whole run. A 64 KiB input of lone CRLFs yields 32768
 * skips. */
#define MAX_RECORDS	40000

struct record {
	enum frame_status st;
	size_t off;		/* stream offset of the frame */
	struct frame fr;
};

static const struct framing_limits limit_sets[] = {
	{ 65535, 100, 8192 },		/* defaults */
	{ 1500, 16, 256 },		/* config minimums */
	{ 1500, 256, 1048576 },		/* line limit above message limit */
	{ 1048576, 256, 1048576 },	/* config maximums */
};

static struct record records[MAX_RECORDS];

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

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void
check_header_end(const char *buf, size_t header_len)
{
	CHECK(header_len >= 4);
	CHECK(memcmp(buf + header_len - 4, "\r\n\r\n", 4) == 0);
}

/* Checks a framed header section: it ends in CRLFCRLF and contains no
 * bare CR or bare LF, and no NUL outside a quoted-pair. An error frame's
 * header section may contain the very byte that was rejected. */
static void
check_header_section(const char *buf, size_t header_len)
{
	check_header_end(buf, header_len);
	for (size_t i = 0; i < header_len; i++) {
		if (buf[i] == '\0') {
			CHECK(i > 0);
			CHECK(buf[i - 1] == '\\');
		}
		if (buf[i] == '\r') {
			CHECK(i + 1 < header_len);
			CHECK(buf[i + 1] == '\n');
		}
		if (buf[i] == '\n') {
			CHECK(i > 0);
			CHECK(buf[i - 1] == '\r');
		}
	}
}

/* Checks one framer_next result on buf[0..len). */
static void
check_frame(const struct framing_limits *lim, const char *buf, size_t len,
    enum frame_status st, const struct frame *fr, const struct framer *f)
{
	static const struct framer zero;

	CHECK(fr->len <= len);
	CHECK(fr->header_len <= len);
	switch (st) {
	case FRAME_NEED_MORE:
		CHECK(fr->len == 0);
		return;
	case FRAME_MESSAGE:
		CHECK(fr->len > 0);
		CHECK(fr->len == fr->header_len + fr->body_len);
		CHECK(fr->len <= lim->max_message_size);
		check_header_section(buf, fr->header_len);
		CHECK(buf[0] != '\r');
		break;
	case FRAME_PING:
		CHECK(fr->len == 4);
		CHECK(memcmp(buf, "\r\n\r\n", 4) == 0);
		break;
	case FRAME_SKIP:
		CHECK(fr->len == 2);
		CHECK(memcmp(buf, "\r\n", 2) == 0);
		break;
	case FRAME_ERROR:
		CHECK(fr->len == 0);
		CHECK(fr->error_status == 400 || fr->error_status == 513);
		CHECK(fr->error_reason != NULL);
		if (fr->header_len > 0)
			check_header_end(buf, fr->header_len);
		break;
	default:
		CHECK(0);
	}
	/* After anything but FRAME_NEED_MORE the framer starts afresh. */
	CHECK(memcmp(f, &zero, sizeof(zero)) == 0);
}

/* Frames the whole stream, recording each frame. Returns the count. */
static size_t
frame_whole(const struct framing_limits *lim, const char *buf, size_t len)
{
	struct framer f;
	size_t off = 0, n = 0;

	framer_reset(&f);
	for (;;) {
		struct record *r = &records[n];

		CHECK(n < MAX_RECORDS);
		r->off = off;
		r->st = framer_next(&f, lim, buf + off, len - off, &r->fr);
		check_frame(lim, buf + off, len - off, r->st, &r->fr, &f);
		n++;
		if (r->st == FRAME_NEED_MORE || r->st == FRAME_ERROR)
			return n;
		off += r->fr.len;
	}
}

/* Compares a frame from a chunked run with the whole run's frame at the
 * same stream offset. An error's header_len may differ, because
 * header_len is found only among the bytes that have arrived. */
static void
check_same_frame(const struct record *w, size_t off, enum frame_status st,
    const struct frame *fr)
{
	CHECK(w->off == off);
	CHECK(w->st == st);
	CHECK(w->fr.len == fr->len);
	if (st == FRAME_MESSAGE) {
		CHECK(w->fr.header_len == fr->header_len);
		CHECK(w->fr.body_len == fr->body_len);
	}
	if (st == FRAME_ERROR) {
		CHECK(w->fr.error_status == fr->error_status);
		CHECK(strcmp(w->fr.error_reason, fr->error_reason) == 0);
		CHECK(fr->header_len == 0 ||
		    fr->header_len == w->fr.header_len);
	}
}

/*
 * Feeds buf[0..len) in chunks as a connection would: after each chunk,
 * frames until FRAME_NEED_MORE. Bytes not yet delivered are poisoned so
 * that AddressSanitizer reports a read beyond the delivered data. chunk
 * 0 means pseudo-random sizes from seed.
 */
static void
frame_chunked(const struct framing_limits *lim, char *buf, size_t len,
    size_t nrec, size_t chunk, uint64_t seed)
{
	struct framer f;
	size_t off = 0, avail = 0, n = 0;
	enum frame_status st = FRAME_NEED_MORE;
	struct frame fr;

	framer_reset(&f);
	ASAN_POISON_MEMORY_REGION(buf, len);
	while (avail < len) {
		size_t step = chunk;

		if (step == 0)
			step = 1 + xorshift(&seed) % (1 + (seed >> 60) * 64);
		if (step > len - avail)
			step = len - avail;
		ASAN_UNPOISON_MEMORY_REGION(buf + avail, step);
		avail += step;
		while (off < avail) {
			st = framer_next(&f, lim, buf + off, avail - off, &fr);
			check_frame(lim, buf + off, avail - off, st, &fr, &f);
			if (st == FRAME_NEED_MORE)
				break;
			CHECK(n < nrec);
			check_same_frame(&records[n], off, st, &fr);
			n++;
			if (st == FRAME_ERROR)
				goto done;
			off += fr.len;
		}
	}
done:
	ASAN_UNPOISON_MEMORY_REGION(buf, len);
	if (st == FRAME_ERROR)
		return;
	/* Every byte has arrived: the whole run ended the same way. */
	CHECK(n + 1 == nrec);
	CHECK(records[n].st == FRAME_NEED_MORE);
	CHECK(records[n].off == off);
}

/* Frames the input as one datagram and, when the stream run found a
 * message at offset 0, checks that the datagram framer agrees. */
static void
check_datagram(const struct framing_limits *lim, const char *buf, size_t len,
    size_t nrec)
{
	struct frame fr;
	enum frame_status st;

	st = frame_datagram(lim, buf, len, &fr);
	CHECK(st == FRAME_MESSAGE || st == FRAME_SKIP || st == FRAME_ERROR);
	CHECK(fr.len <= len);
	CHECK(fr.header_len <= len);
	switch (st) {
	case FRAME_MESSAGE:
		CHECK(fr.len == fr.header_len + fr.body_len);
		CHECK(fr.len <= lim->max_message_size);
		check_header_section(buf, fr.header_len);
		break;
	case FRAME_SKIP:
		CHECK(fr.len == len);
		for (size_t i = 0; i < len; i++)
			CHECK(buf[i] == (i % 2 == 0 ? '\r' : '\n'));
		break;
	default:
		CHECK(fr.error_status == 400 || fr.error_status == 513);
		CHECK(fr.error_reason != NULL);
		if (fr.header_len > 0)
			check_header_end(buf, fr.header_len);
		break;
	}
	if (nrec > 0 && records[0].st == FRAME_MESSAGE && records[0].off == 0) {
		CHECK(st == FRAME_MESSAGE);
		CHECK(fr.header_len == records[0].fr.header_len);
		CHECK(fr.body_len == records[0].fr.body_len);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h = hash_input(data, size);
	const struct framing_limits *lim =
	    &limit_sets[h % (sizeof(limit_sets) / sizeof(limit_sets[0]))];
	char *buf = exact_copy(data, size);
	size_t nrec;

	nrec = frame_whole(lim, buf, size);
	frame_chunked(lim, buf, size, nrec, 1, 0);
	frame_chunked(lim, buf, size, nrec, 0, h | 1);
	check_datagram(lim, buf, size, nrec);
	free(buf);
	return 0;
}
