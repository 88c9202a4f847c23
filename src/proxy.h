/* Routing decisions: phone -> backend, backend -> phone, responses by
 * Via. No socket I/O here: sending goes through conn and backend. */
#ifndef SIPSGATE_PROXY_H
#define SIPSGATE_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

struct server;
struct conn;
struct frame;

/* One framed message from a phone connection. */
void proxy_from_phone(struct server *srv, struct conn *c, const char *buf,
    const struct frame *fr);

/* One framed message from the backend: c is the stream connection or the
 * UDP socket's connection, from the datagram's source (UDP) or c->peer. */
void proxy_from_backend(struct server *srv, struct conn *c,
    const struct sockaddr *from, socklen_t fromlen, const char *buf,
    const struct frame *fr);

/* A framing error on stream connection c: answers 400/513 when the header
 * section is complete enough, then closes. */
void proxy_framing_error(struct server *srv, struct conn *c, const char *buf,
    size_t len, const struct frame *fr);

/* A request sent toward the backend (our Via on top) got no response:
 * answers status (408 after timer B/F, 503 when the backend connection
 * failed) to the phone named in our Via. ACKs get nothing. */
void proxy_backend_failed(struct server *srv, const char *req, size_t len,
    int status, const char *reason);

#endif
