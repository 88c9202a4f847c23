/* The backend side of the proxy: one UDP socket and one TCP listener on
 * [backend] listen. A TCP or TLS backend also gets one outbound
 * connection, shared by all phones and opened again on demand after it
 * has dropped. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "backend.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "proxy.h"
#include "server.h"
#include "sipmsg.h"
#include "tls.h"
#include "txn.h"

/* Datagrams read per callback before yielding to other events. */
#define UDP_READ_BURST 64

/* A request waiting for the outbound connection to come up, kept so that
 * a failed connect can answer 503 for it (RFC 3261 section 16.9). */
struct pending {
	struct pending *next;
	size_t len;
	char buf[];
};

/* Bound on requests held while the backend connection is being set up. */
#define PENDING_MAX_COUNT 1024
#define PENDING_MAX_BYTES (4u << 20)

struct backend {
	int udp_fd;
	struct event *udp_ev;
	uint64_t udp_conn_id;
	struct evconnlistener *tcp_listener;
	uint64_t out_id;		/* CONN_BACKEND_OUT, 0 when none */
	struct pending *pend_head;
	struct pending **pend_tail;
	size_t pend_count;
	size_t pend_bytes;
	uint64_t *paused;		/* phones waiting for a backend connection to drain */
	size_t npaused;
	size_t paused_cap;
	struct txn_table *txn;
};

const char *
backend_via_transport(const struct server *srv)
{
	switch (srv->cfg->backend.transport) {
	case TRANSPORT_TCP:
		return "TCP";
	case TRANSPORT_TLS:
		return "TLS";
	default:
		return "UDP";
	}
}

const char *
backend_uri_transport(const struct server *srv)
{
	switch (srv->cfg->backend.transport) {
	case TRANSPORT_TCP:
		return "tcp";
	case TRANSPORT_TLS:
		return "tls";
	default:
		return "udp";
	}
}

int
backend_peer_allowed(const struct server *srv, const struct sockaddr *addr)
{
	const struct sockaddr *b = (const struct sockaddr *)&srv->cfg->backend.addr;

	if (addr->sa_family != b->sa_family)
		return 0;
	if (addr->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)addr)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
	if (addr->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr,
		    &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 0;
}

static struct conn *
udp_conn(struct server *srv)
{
	return conn_find(srv, srv->backend->udp_conn_id);
}

static int
udp_send(struct server *srv, const struct sockaddr *dst, socklen_t dstlen,
    const char *buf, size_t len)
{
	struct backend *be = srv->backend;
	struct conn *c = udp_conn(srv);

	if (sendto(be->udp_fd, buf, len, 0, dst, dstlen) == -1) {
		char to[64];

		sockaddr_to_text(dst, to, sizeof(to));
		srv->stats.dropped_send++;
		log_warning("sendto %s (udp, %zu bytes): %s", to, len,
		    strerror(errno));
		return -1;
	}
	if (c != NULL) {
		c->bytes_out += len;
		c->msgs_out++;
	}
	return 0;
}

static void
txn_send_cb(void *arg, const char *buf, size_t len)
{
	struct server *srv = arg;

	udp_send(srv, (const struct sockaddr *)&srv->cfg->backend.addr,
	    srv->cfg->backend.addrlen, buf, len);
}

static void
txn_timeout_cb(void *arg, const char *req, size_t len)
{
	proxy_backend_failed(arg, req, len, 408, "Request Timeout");
}

static void
udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	for (int i = 0; i < UDP_READ_BURST; i++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		struct frame fr;
		struct conn *c;
		ssize_t n;

		n = recvfrom(fd, srv->udp_buf, UDP_BUF_SIZE, 0,
		    (struct sockaddr *)&from, &fromlen);
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warning("recvfrom [backend] listen: %s",
				    strerror(errno));
			return;
		}
		c = udp_conn(srv);
		if (c == NULL)
			return;
		c->bytes_in += (size_t)n;
		switch (frame_datagram(&srv->limits, srv->udp_buf, (size_t)n,
		    &fr)) {
		case FRAME_MESSAGE:
			c->msgs_in++;
			proxy_from_backend(srv, c, (struct sockaddr *)&from,
			    fromlen, srv->udp_buf, &fr);
			break;
		case FRAME_ERROR: {
			char peer[64];

			sockaddr_to_text((struct sockaddr *)&from, peer,
			    sizeof(peer));
			srv->stats.dropped_parse++;
			log_peer("backend udp from %s: datagram dropped: %s",
			    peer, fr.error_reason ? fr.error_reason : "unframeable");
			break;
		}
		default:
			/* Keepalive CRLFs need no answer on UDP. */
			break;
		}
	}
}

static int
udp_bind(struct server *srv)
{
	const struct listen_addr *la = &srv->cfg->backend.listen;
	struct backend *be = srv->backend;
	struct conn *c;
	int fd, one = 1;

	fd = socket(la->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_error("socket (udp) for %s: %s", la->text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (la->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&la->ss, la->len) == -1) {
		log_error("bind %s (udp): %s", la->text, strerror(errno));
		close(fd);
		return -1;
	}
	c = conn_new(srv, CONN_BACKEND_UDP, (const struct sockaddr *)&la->ss,
	    la->len);
	if (c == NULL) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	conn_set_state(c, CONN_OPEN);
	be->udp_fd = fd;
	be->udp_conn_id = c->id;
	be->udp_ev = event_new(srv->base, fd, EV_READ | EV_PERSIST,
	    udp_read_cb, srv);
	if (be->udp_ev == NULL || event_add(be->udp_ev, NULL) == -1)
		return -1;
	return 0;
}

int
backend_start(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	const struct listen_addr *la = &cfg->backend.listen;
	struct backend *be;

	be = calloc(1, sizeof(*be));
	if (be == NULL)
		return -1;
	be->udp_fd = -1;
	be->pend_tail = &be->pend_head;
	srv->backend = be;

	if (udp_bind(srv) == -1)
		return -1;
	be->tcp_listener = listener_start_backend(srv,
	    (const struct sockaddr *)&la->ss, la->len, la->text);
	if (be->tcp_listener == NULL)
		return -1;

	if (cfg->backend.transport == TRANSPORT_UDP) {
		struct txn_timers timers = {
			.t1_ms = 500, .t2_ms = 4000, .t4_ms = 5000,
			.timer_c_ms = 180000,
		};

		be->txn = txn_table_new(srv->base, &timers, txn_send_cb,
		    txn_timeout_cb, srv);
		if (be->txn == NULL)
			return -1;
	}
	log_info("listening for the backend on %s (udp, %s)", la->text,
	    cfg->backend.transport == TRANSPORT_TLS ? "tls" : "tcp");
	return 0;
}

void
backend_stop(struct server *srv)
{
	struct backend *be = srv->backend;
	struct conn *c;

	if (be == NULL)
		return;
	txn_table_free(be->txn);
	free(be->paused);
	if (be->udp_ev != NULL)
		event_free(be->udp_ev);
	if ((c = udp_conn(srv)) != NULL)
		conn_close(c, CLOSE_SHUTDOWN, 0);	/* closes udp_fd */
	if (be->tcp_listener != NULL)
		evconnlistener_free(be->tcp_listener);
	if (be->out_id != 0 && (c = conn_find(srv, be->out_id)) != NULL)
		conn_close(c, CLOSE_SHUTDOWN, 1);
	free(be);
	srv->backend = NULL;
}

static struct pending *
pending_take_all(struct backend *be)
{
	struct pending *p = be->pend_head;

	be->pend_head = NULL;
	be->pend_tail = &be->pend_head;
	be->pend_count = 0;
	be->pend_bytes = 0;
	return p;
}

static void
out_opened(struct conn *c)
{
	struct server *srv = c->srv;
	struct pending *p, *next;

	for (p = pending_take_all(srv->backend); p != NULL; p = next) {
		next = p->next;
		if (conn_send(c, p->buf, p->len) == -1)
			proxy_backend_failed(srv, p->buf, p->len, 503,
			    "Backend Unavailable");
		free(p);
	}
}

static void
out_closed(struct conn *c)
{
	struct server *srv = c->srv;
	struct backend *be = srv->backend;
	struct pending *p, *next;

	if (be == NULL || be->out_id != c->id)
		return;
	be->out_id = 0;
	for (p = pending_take_all(be); p != NULL; p = next) {
		next = p->next;
		srv->stats.dropped_send++;
		proxy_backend_failed(srv, p->buf, p->len, 503,
		    "Backend Unavailable");
		free(p);
	}
}

static int
pending_add(struct server *srv, const char *src, size_t len,
    const struct sip_edits *ed)
{
	struct backend *be = srv->backend;
	size_t n = sip_edits_size(ed, len);
	struct pending *p;

	if (be->pend_count >= PENDING_MAX_COUNT ||
	    be->pend_bytes + n > PENDING_MAX_BYTES)
		return -1;
	p = malloc(sizeof(*p) + n);
	if (p == NULL)
		return -1;
	p->next = NULL;
	p->len = sip_edits_apply(ed, src, len, p->buf, n);
	if (p->len == 0) {
		free(p);
		return -1;
	}
	*be->pend_tail = p;
	be->pend_tail = &p->next;
	be->pend_count++;
	be->pend_bytes += n;
	return 0;
}

/* Opens the outbound TCP or TLS connection. Requests wait in the pending
 * list until the connection (and handshake) completes. */
static struct conn *
backend_connect(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct conn *c;
	struct bufferevent *bev;

	c = conn_new(srv, CONN_BACKEND_OUT,
	    (const struct sockaddr *)&cfg->backend.addr, cfg->backend.addrlen);
	if (c == NULL)
		return NULL;
	if (cfg->backend.transport == TRANSPORT_TLS) {
		SSL *ssl = tls_client_ssl_new(srv->tls_backend, cfg->backend.host);

		if (ssl == NULL)
			goto fail;
		bev = bufferevent_openssl_socket_new(srv->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL) {
			SSL_free(ssl);
			goto fail;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	} else {
		bev = bufferevent_socket_new(srv->base, -1, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL)
			goto fail;
	}
	c->on_open = out_opened;
	c->on_close = out_closed;
	srv->backend->out_id = c->id;
	conn_attach(c, bev);
	if (bufferevent_socket_connect(bev,
	    (const struct sockaddr *)&cfg->backend.addr,
	    (int)cfg->backend.addrlen) == -1) {
		log_warning("conn %llu: connect to backend %s failed: %s",
		    (unsigned long long)c->serial, c->peer_text, strerror(errno));
		conn_close(c, CLOSE_CONNECT_FAILED, 0);
		return NULL;
	}
	log_info("conn %llu: connecting to backend %s (%s)",
	    (unsigned long long)c->serial, c->peer_text, backend_uri_transport(srv));
	return c;

fail:
	log_error("conn %llu: cannot create backend connection",
	    (unsigned long long)c->serial);
	conn_close(c, CLOSE_NOMEM, 0);
	return NULL;
}

static void
backend_drained(struct conn *c)
{
	struct server *srv = c->srv;
	struct backend *be = srv->backend;
	struct conn *phone;

	if (be == NULL)
		return;
	for (size_t i = 0; i < be->npaused; i++)
		if ((phone = conn_find(srv, be->paused[i])) != NULL)
			conn_resume(phone);
	be->npaused = 0;
}

/* Stops reading from phone "from" while backend connection c is over its
 * high-water mark, so memory stays bounded when the backend stops
 * reading. */
static void
apply_backpressure(struct server *srv, struct conn *c, struct conn *from)
{
	struct backend *be = srv->backend;

	if (from == NULL || from->paused || !conn_congested(c))
		return;
	if (be->npaused == be->paused_cap) {
		size_t cap = be->paused_cap ? be->paused_cap * 2 : 64;
		uint64_t *p = realloc(be->paused, cap * sizeof(*p));

		if (p == NULL)
			return;
		be->paused = p;
		be->paused_cap = cap;
	}
	be->paused[be->npaused++] = from->id;
	c->on_drain = backend_drained;
	conn_pause(from);
}

int
backend_send_request(struct server *srv, struct conn *from, const char *src,
    size_t len, const struct sip_edits *ed, const char *branch,
    size_t branch_len, const char *method, size_t method_len, int is_ack)
{
	struct backend *be = srv->backend;
	struct conn *c;

	if (be->txn != NULL) {
		size_t n = sip_edits_apply(ed, src, len, srv->udp_buf,
		    UDP_BUF_SIZE);

		if (n == 0 || n > 65507) {
			log_warning("request of %zu bytes does not fit a UDP "
			    "datagram to the backend", sip_edits_size(ed, len));
			return -1;
		}
		if (is_ack) {
			txn_ack(be->txn, branch, branch_len, srv->udp_buf, n);
			return 0;
		}
		/* NOTE: RFC 3261 section 18.1.1 requires a congestion-
		 * controlled transport above 1300 bytes; the backend transport
		 * is fixed by configuration, so large requests still go by UDP. */
		if (txn_request(be->txn, branch, branch_len, method, method_len,
		    srv->udp_buf, n) == -1)
			log_warning("request to the backend sent without "
			    "retransmission: out of memory");
		return 0;
	}

	c = be->out_id != 0 ? conn_find(srv, be->out_id) : NULL;
	if (c == NULL && (c = backend_connect(srv)) == NULL)
		return -1;
	if (c->state == CONN_HANDSHAKE)
		return pending_add(srv, src, len, ed);
	if (conn_send_edited(c, src, len, ed) == -1)
		return -1;
	apply_backpressure(srv, c, from);
	return 0;
}

int
backend_send_response(struct server *srv, struct conn *c, struct conn *from,
    const struct sockaddr *dst, socklen_t dstlen, const char *src, size_t len,
    const struct sip_edits *ed)
{
	int rc;

	if (c->kind == CONN_BACKEND_UDP) {
		size_t n = len;
		const char *out = src;

		if (ed != NULL) {
			n = sip_edits_apply(ed, src, len, srv->udp_buf,
			    UDP_BUF_SIZE);
			if (n == 0 || n > 65507)
				return -1;
			out = srv->udp_buf;
		}
		return udp_send(srv, dst, dstlen, out, n);
	}
	if (ed != NULL)
		rc = conn_send_edited(c, src, len, ed);
	else
		rc = conn_send(c, src, len);
	if (rc == 0)
		apply_backpressure(srv, c, from);
	return rc;
}

int
backend_response_absorbed(struct server *srv, const char *branch,
    size_t branch_len, const char *cseq_method, size_t method_len, int status)
{
	struct backend *be = srv->backend;

	if (be == NULL || be->txn == NULL)
		return 0;
	return txn_response(be->txn, branch, branch_len, cseq_method,
	    method_len, status) == TXN_ABSORB;
}

size_t
backend_pending(const struct server *srv)
{
	const struct backend *be = srv->backend;

	if (be == NULL)
		return 0;
	return be->pend_count + (be->txn != NULL ? txn_pending(be->txn) : 0);
}
