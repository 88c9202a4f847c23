/* Bound sockets facing the phones (TLS) and the backend (TCP or TLS; the
 * UDP socket is in backend.c). Binding happens before privileges drop. */
#ifndef SIPSGATE_LISTENER_H
#define SIPSGATE_LISTENER_H

#include <sys/socket.h>

struct server;
struct evconnlistener;

/* Binds every [tls] listen address. Returns 0, or -1 with
 * "bind ADDR: reason" logged. */
int listener_start_phones(struct server *srv);
void listener_stop_phones(struct server *srv);

/* Binds a TCP listener on addr whose accepted sockets become
 * CONN_BACKEND_IN connections (TLS-wrapped when the backend is TLS).
 * NULL on failure, logged. */
struct evconnlistener *listener_start_backend(struct server *srv,
    const struct sockaddr *addr, socklen_t len, const char *text);

#endif
