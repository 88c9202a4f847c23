/* Flow tokens: a connection id signed with a per-process HMAC-SHA256 key,
 * carried in Via branches, Record-Route and Path user parts so that a
 * message from the backend finds the phone's connection without any
 * per-dialog state (the idea of RFC 5626 section 5.2). Pure: no I/O. */
#ifndef SIPSGATE_FLOW_H
#define SIPSGATE_FLOW_H

#include <stddef.h>
#include <stdint.h>

#define FLOW_KEY_LEN	32
/* base64url (RFC 4648 section 5, no padding) of 8 id bytes + 10 MAC bytes:
 * only unreserved URI characters, so it fits a user part and a branch. */
#define FLOW_TOKEN_LEN	24

struct flow_signer;	/* opaque: holds the keyed HMAC context */

/* Creates a signer with a fresh random key (RAND_bytes), or with key when
 * key is not NULL (tests). Returns NULL on failure. */
struct flow_signer *flow_signer_new(const unsigned char *key, size_t keylen);
void flow_signer_free(struct flow_signer *s);

/* Writes FLOW_TOKEN_LEN characters and a NUL into out. Returns 0, or -1
 * if OpenSSL fails. */
int flow_token_encode(struct flow_signer *s, uint64_t conn_id,
    char out[FLOW_TOKEN_LEN + 1]);

/* Verifies tok[0..len). Returns 0 and sets *conn_id when the token is
 * well formed and its MAC matches; -1 otherwise (wrong length, bad
 * alphabet, forged or signed by another key). Constant-time MAC compare. */
int flow_token_decode(struct flow_signer *s, const char *tok, size_t len,
    uint64_t *conn_id);

/* Reads the connection id of a well-formed token without checking its
 * MAC. Returns 0, or -1 for a wrong length or alphabet. The caller must
 * still authenticate the token: by comparing it with the token it issued
 * for that id, or with flow_token_decode. */
int flow_token_peek(const char *tok, size_t len, uint64_t *conn_id);

#endif
