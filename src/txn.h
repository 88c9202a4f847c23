/* Client transactions toward a UDP backend (RFC 3261 section 17.1): the
 * phone side is reliable (TLS), the backend leg is not, so sipsgate
 * retransmits requests itself and absorbs retransmitted final responses.
 * Uses libevent timers; no sockets (sending goes through a callback). */
#ifndef SIPSGATE_TXN_H
#define SIPSGATE_TXN_H

#include <stddef.h>

struct event_base;
struct txn_table;

struct txn_timers {
	unsigned t1_ms;		/* RTT estimate, default 500 */
	unsigned t2_ms;		/* max non-INVITE retransmit interval, default 4000 */
	unsigned t4_ms;		/* max time a message stays in the network, default 5000 */
	unsigned timer_c_ms;	/* INVITE in Proceeding without a final response, default 180000 */
};

/* Sends buf over the UDP socket toward the backend. */
typedef void (*txn_send_fn)(void *arg, const char *buf, size_t len);
/* Timer B or F fired: no response at all within 64*T1. req is the request
 * as last sent (our Via on top), so the caller can build a 408 for the
 * phone. The transaction is freed after this returns. */
typedef void (*txn_timeout_fn)(void *arg, const char *req, size_t len);

enum txn_verdict {
	TXN_FORWARD,	/* pass the response on to the phone */
	TXN_ABSORB,	/* a retransmission of a final response already forwarded */
};

struct txn_table *txn_table_new(struct event_base *base,
    const struct txn_timers *timers, txn_send_fn send, txn_timeout_fn timeout,
    void *arg);
/* Cancels every timer and frees every transaction. Safe with NULL. */
void txn_table_free(struct txn_table *t);

/*
 * Sends buf once through the send callback and keeps a copy to retransmit
 * with timer A (INVITE) or E (other methods). The key is our Via branch
 * plus the method, so an INVITE and its CANCEL are separate transactions.
 * ACK never starts a transaction (see txn_ack). A request whose key is
 * already active is sent again and its timers are left alone. Returns 0,
 * or -1 on allocation failure (the request has then still been sent once).
 */
int txn_request(struct txn_table *t, const char *branch, size_t branch_len,
    const char *method, size_t method_len, const char *buf, size_t len);

/*
 * Reports a response from the backend whose top Via carries one of our
 * branches; cseq_method is the method in its CSeq. Stops retransmission,
 * moves the transaction through Proceeding / Completed, and returns
 * TXN_ABSORB for a retransmitted final response (resending a stored ACK
 * for an INVITE's non-2xx final response). Responses with no matching
 * transaction return TXN_FORWARD: a proxy relays stray responses, 2xx
 * retransmissions to an INVITE among them.
 */
enum txn_verdict txn_response(struct txn_table *t, const char *branch,
    size_t branch_len, const char *cseq_method, size_t method_len, int status);

/* Sends an ACK for a non-2xx final response (same branch as the INVITE)
 * and stores it on the INVITE transaction, if still completed, so that a
 * retransmitted final response gets the ACK again. */
void txn_ack(struct txn_table *t, const char *branch, size_t branch_len,
    const char *buf, size_t len);

/* Number of live transactions (for counters and tests). */
size_t txn_count(const struct txn_table *t);
/* Number of transactions still waiting for a final response: those in
 * Completed only absorb retransmissions and are not counted. Walks the
 * whole table, so it is meant for shutdown, not for every message. */
size_t txn_pending(const struct txn_table *t);

#endif
