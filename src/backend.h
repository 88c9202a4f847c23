/* The backend side: the UDP socket and TCP/TLS listener on [backend]
 * listen, the one outbound TCP/TLS connection to the backend uri (shared
 * by all phones, reconnected on demand), and the UDP client transactions. */
#ifndef SIPSGATE_BACKEND_H
#define SIPSGATE_BACKEND_H

#include <stddef.h>
#include <sys/socket.h>

struct server;
struct conn;
struct sip_edits;

/* Binds [backend] listen (UDP and TCP) and, for TCP/TLS, prepares the
 * outbound connection. Returns 0, or -1 with the reason logged. */
int backend_start(struct server *srv);
void backend_stop(struct server *srv);

/* Transport token for Via and URIs: "UDP", "TCP" or "TLS". */
const char *backend_via_transport(const struct server *srv);
const char *backend_uri_transport(const struct server *srv);

/*
 * Sends an edited request to the backend uri. branch/method identify the
 * UDP client transaction (ignored on TCP/TLS). is_ack marks an ACK, which
 * never starts a transaction. When the backend connection passes its
 * high-water mark, reading from the phone connection "from" pauses until it
 * drains. Returns 0, or -1 when it could not be sent or queued (the caller
 * answers 503).
 */
int backend_send_request(struct server *srv, struct conn *from,
    const char *src, size_t len, const struct sip_edits *ed,
    const char *branch, size_t branch_len, const char *method,
    size_t method_len, int is_ack);

/*
 * Sends an edited response (or locally built response when ed is NULL)
 * toward the backend over connection c: on a stream connection it is
 * queued there; on the UDP socket it goes to the address dst. "from" is
 * the phone connection it came from (NULL for our own responses), paused
 * like in backend_send_request. Returns 0 or -1.
 */
int backend_send_response(struct server *srv, struct conn *c,
    struct conn *from, const struct sockaddr *dst, socklen_t dstlen,
    const char *src, size_t len, const struct sip_edits *ed);

/* Tells the UDP transaction layer about a response; returns 1 when it is a
 * retransmission to absorb. Always 0 for TCP/TLS. */
int backend_response_absorbed(struct server *srv, const char *branch,
    size_t branch_len, const char *cseq_method, size_t method_len,
    int status);

/* Returns 1 when addr is the backend host (the only source accepted on
 * [backend] listen). */
int backend_peer_allowed(const struct server *srv, const struct sockaddr *addr);

/* Returns the number of requests the backend has not answered yet that a
 * graceful stop waits for: UDP client transactions without a final
 * response, plus requests queued while the TCP/TLS connection is being
 * set up. Requests already written to a TCP/TLS backend are not tracked,
 * because sipsgate keeps no state for them. */
size_t backend_pending(const struct server *srv);

#endif
