/* Accepting connections: limits are checked before any TLS work, so a
 * flood of connects costs no handshakes. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "backend.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "server.h"
#include "tls.h"

static void
phone_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct server *srv = arg;
	struct conn *c;
	SSL *ssl;
	struct bufferevent *bev;
	int one = 1;

	if (srv->stopping) {
		close(fd);
		return;
	}
	if (srv->conns.per_kind[CONN_PHONE] >=
	    (uint64_t)srv->cfg->limits.max_connections) {
		char peer[64];

		sockaddr_to_text(sa, peer, sizeof(peer));
		srv->stats.rejected_limit++;
		log_notice("connection refused from %s: max_connections (%d) "
		    "reached", peer, srv->cfg->limits.max_connections);
		close(fd);
		return;
	}
	if (conn_ip_acquire(srv, sa) == -1) {
		char peer[64];

		sockaddr_to_text(sa, peer, sizeof(peer));
		srv->stats.rejected_limit++;
		log_notice("connection refused from %s: max_connections_per_ip "
		    "(%d) reached", peer, srv->cfg->limits.max_connections_per_ip);
		close(fd);
		return;
	}

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = conn_new(srv, CONN_PHONE, sa, (socklen_t)salen);
	if (c == NULL) {
		log_error("accept: out of memory or connection table full");
		conn_ip_release(srv, sa);
		close(fd);
		return;
	}
	c->ip_counted = 1;
	ssl = tls_server_ssl_new(srv->tls_server);
	if (ssl == NULL)
		goto fail;
	bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		goto fail;
	}
	/* Phones often drop the TCP connection without close_notify; that is
	 * an ordinary close, not an attack on truncation (SIP frames by
	 * Content-Length). */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	srv->stats.accepted++;
	log_info("conn %llu %s: accepted", (unsigned long long)c->serial,
	    c->peer_text);
	conn_attach(c, bev);
	return;

fail:
	log_error("conn %llu %s: cannot set up TLS", (unsigned long long)c->serial,
	    c->peer_text);
	close(fd);
	conn_close(c, CLOSE_NOMEM, 0);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	/* EMFILE and friends: keep the listener, log and carry on. */
	log_error("accept: %s", evutil_socket_error_to_string(err));
}

static struct evconnlistener *
bind_listener(struct server *srv, const struct sockaddr *sa, socklen_t len,
    const char *text, evconnlistener_cb cb)
{
	struct evconnlistener *l;
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	    LEV_OPT_CLOSE_ON_EXEC;

	if (sa->sa_family == AF_INET6)
		flags |= LEV_OPT_BIND_IPV6ONLY;
	l = evconnlistener_new_bind(srv->base, cb, srv, flags, 1024, sa,
	    (int)len);
	if (l == NULL) {
		log_error("bind %s (tcp): %s", text, strerror(errno));
		return NULL;
	}
	evconnlistener_set_error_cb(l, accept_error_cb);
	return l;
}

int
listener_start_phones(struct server *srv)
{
	const struct config *cfg = srv->cfg;

	for (int i = 0; i < cfg->tls.nlisten; i++) {
		const struct listen_addr *la = &cfg->tls.listen[i];
		struct evconnlistener *l;

		l = bind_listener(srv, (const struct sockaddr *)&la->ss,
		    la->len, la->text, phone_accept_cb);
		if (l == NULL)
			return -1;
		srv->phone_listener[srv->nphone_listener++] = l;
		log_info("listening for phones on %s (TLS)", la->text);
	}
	return 0;
}

void
listener_stop_phones(struct server *srv)
{
	for (int i = 0; i < srv->nphone_listener; i++)
		evconnlistener_free(srv->phone_listener[i]);
	srv->nphone_listener = 0;
}

static void
backend_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct server *srv = arg;
	struct conn *c;
	struct bufferevent *bev;
	int one = 1;

	if (!backend_peer_allowed(srv, sa)) {
		char peer[64];

		sockaddr_to_text(sa, peer, sizeof(peer));
		srv->stats.dropped_foreign++;
		log_notice("backend listener: connection refused from %s: "
		    "not the backend host", peer);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = conn_new(srv, CONN_BACKEND_IN, sa, (socklen_t)salen);
	if (c == NULL) {
		close(fd);
		return;
	}
	if (srv->tls_backend != NULL) {
		SSL *ssl = tls_server_ssl_new(srv->tls_server);

		if (ssl == NULL)
			goto fail;
		/* The backend is authenticated by its source address, not by
		 * a client certificate. */
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL) {
			SSL_free(ssl);
			goto fail;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	} else {
		bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL)
			goto fail;
		conn_set_state(c, CONN_OPEN);
	}
	log_info("conn %llu %s: accepted on the backend listener",
	    (unsigned long long)c->serial, c->peer_text);
	conn_attach(c, bev);
	return;

fail:
	close(fd);
	conn_close(c, CLOSE_NOMEM, 0);
}

struct evconnlistener *
listener_start_backend(struct server *srv, const struct sockaddr *addr,
    socklen_t len, const char *text)
{
	return bind_listener(srv, addr, len, text, backend_accept_cb);
}
