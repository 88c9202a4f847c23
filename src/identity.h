/* Identities of a phone taken from its verified certificate, and the
 * checks that bind a request's From and To to them. Ideas from RFC 5922
 * section 7.1: subjectAltName URIs first, then DNS names, and the common
 * name only when the certificate has no subjectAltName at all.
 * Pure: no sockets, no OpenSSL, no globals. tls.c extracts the names. */
#ifndef SIPSGATE_IDENTITY_H
#define SIPSGATE_IDENTITY_H

#include <stddef.h>

#include "config.h"

struct sipmsg;
struct sip_edits;

/* The kind of one identity, stored as its first byte. */
enum identity_kind {
	ID_URI = 'u',		/* subjectAltName URI with a sip: or sips: scheme */
	ID_DNS = 'd',		/* subjectAltName DNS name */
	ID_CN = 'c',		/* subject common name, only without any SAN */
	ID_SUBJECT = 's',	/* the whole subject, RFC 2253 text; not an identity */
};

/*
 * An identity list is one malloc'd block of entries, each "<kind><text>"
 * and a NUL, ended by an empty entry: "usip:alice@example.com\0dexample.com\0\0".
 * A connection keeps it for its lifetime, so it is as small as the names.
 */
struct identity_builder {
	char *buf;
	size_t len;
	size_t cap;
	int failed;		/* out of memory or an invalid entry */
};

void identity_builder_init(struct identity_builder *b);
/* Adds one entry. Text containing a NUL or control byte is left out,
 * because a certificate's name must not inject anything into a header. */
void identity_builder_add(struct identity_builder *b, enum identity_kind kind,
    const char *text, size_t len);
/* Returns the list (the caller frees it), or NULL when adding failed or
 * there is no entry of kind ID_URI, ID_DNS or ID_CN. */
char *identity_builder_finish(struct identity_builder *b);

/* Iterates over a list: pass NULL first, then the previous return value.
 * Returns the next entry (kind at [0], text from [1]) or NULL at the end. */
const char *identity_next(const char *list, const char *prev);

/* Returns the first entry of kind, its text only, or NULL. */
const char *identity_first(const char *list, enum identity_kind kind);

/* Writes the identities (not the subject) as "sip:alice@example.com,
 * DNS:example.com" for log lines; "none" for a NULL or empty list. */
void identity_format(const char *list, char *out, size_t cap);

/*
 * Returns 1 when a SIP URI with this user and host (user may be empty)
 * is covered by one of the identities under policy:
 *  - IDENTITY_USER: a URI identity with the same user and host. A DNS or
 *    CN identity covers only a URI without a user part and with that host.
 *  - IDENTITY_DOMAIN: any identity whose host (or name) equals the host.
 * Hosts compare case-insensitively, users case-sensitively after escapes
 * of unreserved characters are decoded (RFC 3261 section 19.1.4). The
 * scheme (sip or sips) and port are not compared. Wildcard names match
 * nothing (RFC 5922 section 7.2). Returns 0 otherwise.
 */
int identity_match(const char *list, enum identity_check policy,
    const char *user, size_t user_len, const char *host, size_t host_len);

/*
 * Checks a parsed request from a phone: the From URI of every request,
 * and the To URI of a REGISTER, must match the list under policy. A NULL
 * list (no verified certificate) matches nothing. Returns 0, or -1 with
 * a one-line reason in why naming both sides.
 * NOTE: in-dialog requests are checked too, and a callee's From is the
 * To its caller chose, so IDENTITY_USER needs calls addressed to the
 * callee's own address-of-record.
 */
int identity_check_request(const struct sipmsg *m, const char *list,
    enum identity_check policy, char *why, size_t cap);

/*
 * Removes every line of the named headers from a message a phone sent,
 * then, when list is not NULL, inserts sipsgate's own after the start
 * line: P-Asserted-Identity gets the first URI identity (and is left out
 * without one), any other name gets identity_header_value(). Returns 0,
 * or -1 when the edit list is full.
 */
int identity_edit_headers(const struct sipmsg *m, struct sip_edits *ed,
    char *const *names, int nnames, const char *list);

/* Writes the value of the descriptive header: every identity and the
 * subject as quoted strings, 'uri="sip:alice@example.com",
 * dns="example.com", subject="CN=alice"'. Returns 0, or -1 when cap is
 * too small. */
int identity_header_value(const char *list, char *out, size_t cap);

#endif
