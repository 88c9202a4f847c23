/* Connections: the table, the state machine, the bufferevent callbacks
 * and the single close path. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "conn.h"
#include "flow.h"
#include "identity.h"
#include "log.h"
#include "proxy.h"
#include "server.h"
#include "sipmsg.h"
#include "tls.h"

static void deadline_stop(struct conn *c);
static void deadline_start(struct conn *c, int seconds);
static void schedule_free(struct conn *c);

/* Seconds a closing connection may take to write what is queued (an error
 * response, say) before it is dropped, so a peer that stops reading
 * cannot keep it. */
#define FLUSH_TIMEOUT 5

static const char *const reason_names[CLOSE__COUNT] = {
	[CLOSE_NONE] = "none",
	[CLOSE_PEER] = "peer-closed",
	[CLOSE_READ_ERROR] = "read-error",
	[CLOSE_HANDSHAKE_FAILED] = "handshake-failed",
	[CLOSE_HANDSHAKE_TIMEOUT] = "handshake-timeout",
	[CLOSE_IDLE_TIMEOUT] = "idle-timeout",
	[CLOSE_HEADER_TIMEOUT] = "header-timeout",
	[CLOSE_FRAMING_ERROR] = "framing-error",
	[CLOSE_CONNECT_FAILED] = "connect-failed",
	[CLOSE_SHUTDOWN] = "shutdown",
	[CLOSE_LIMIT] = "limit",
	[CLOSE_NOMEM] = "out-of-memory",
};

static const char *const state_names[] = {
	[CONN_HANDSHAKE] = "handshake",
	[CONN_OPEN] = "open",
	[CONN_CLOSING] = "closing",
	[CONN_CLOSED] = "closed",
};

const char *
conn_reason_name(enum close_reason r)
{
	if (r >= CLOSE__COUNT)
		return "unknown";
	return reason_names[r];
}

const char *
conn_kind_name(enum conn_kind k)
{
	switch (k) {
	case CONN_PHONE:
		return "phone";
	case CONN_BACKEND_OUT:
		return "backend-out";
	case CONN_BACKEND_IN:
		return "backend-in";
	case CONN_BACKEND_UDP:
		return "backend-udp";
	}
	return "unknown";
}

/* ---- table ---- */

int
conn_table_init(struct conn_table *t, uint32_t cap)
{
	memset(t, 0, sizeof(*t));
	t->slot = calloc(cap, sizeof(*t->slot));
	t->gen = calloc(cap, sizeof(*t->gen));
	t->free_next = calloc(cap, sizeof(*t->free_next));
	if (t->slot == NULL || t->gen == NULL || t->free_next == NULL) {
		conn_table_free(t);
		return -1;
	}
	t->cap = cap;
	for (uint32_t i = 0; i < cap; i++) {
		t->free_next[i] = i + 1 < cap ? i + 1 : UINT32_MAX;
		/* Generation 0 is never handed out, so id 0 never names a
		 * connection. */
		t->gen[i] = 1;
	}
	t->free_head = 0;
	return 0;
}

void
conn_table_free(struct conn_table *t)
{
	free(t->slot);
	free(t->gen);
	free(t->free_next);
	memset(t, 0, sizeof(*t));
}

static int
table_insert(struct conn_table *t, struct conn *c)
{
	uint32_t i = t->free_head;

	if (i == UINT32_MAX)
		return -1;
	t->free_head = t->free_next[i];
	t->slot[i] = c;
	c->id = ((uint64_t)t->gen[i] << 32) | i;
	t->used++;
	t->per_kind[c->kind]++;
	return 0;
}

static void
table_remove(struct conn_table *t, struct conn *c)
{
	uint32_t i = (uint32_t)c->id;

	if (i >= t->cap || t->slot[i] != c)
		return;
	t->slot[i] = NULL;
	/* A new generation makes every token naming the old connection stale. */
	t->gen[i]++;
	if (t->gen[i] == 0)
		t->gen[i] = 1;
	t->free_next[i] = t->free_head;
	t->free_head = i;
	t->used--;
	t->per_kind[c->kind]--;
}

struct conn *
conn_find(struct server *srv, uint64_t id)
{
	struct conn_table *t = &srv->conns;
	uint32_t i = (uint32_t)id;
	struct conn *c;

	if (i >= t->cap)
		return NULL;
	c = t->slot[i];
	if (c == NULL || c->id != id || c->state >= CONN_CLOSING)
		return NULL;
	return c;
}

/* ---- lifecycle ---- */

void
sockaddr_to_text(const struct sockaddr *sa, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(out, len, "-");
	}
}

static void
format_peer(struct conn *c)
{
	const struct sockaddr *sa = (const struct sockaddr *)&c->peer;

	c->peer_ip[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, c->peer_ip, sizeof(c->peer_ip));
		c->peer_port = ntohs(in->sin_port);
		snprintf(c->peer_text, sizeof(c->peer_text), "%s:%u",
		    c->peer_ip, c->peer_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, c->peer_ip,
		    sizeof(c->peer_ip));
		c->peer_port = ntohs(in6->sin6_port);
		snprintf(c->peer_text, sizeof(c->peer_text), "[%s]:%u",
		    c->peer_ip, c->peer_port);
	} else {
		snprintf(c->peer_text, sizeof(c->peer_text), "-");
	}
}

struct conn *
conn_new(struct server *srv, enum conn_kind kind, const struct sockaddr *peer,
    socklen_t peerlen)
{
	struct conn *c;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->srv = srv;
	c->kind = kind;
	c->state = CONN_HANDSHAKE;
	c->fd = -1;
	if (peer != NULL && peerlen <= sizeof(c->peer)) {
		memcpy(&c->peer, peer, peerlen);
		c->peerlen = peerlen;
	}
	format_peer(c);
	if (table_insert(&srv->conns, c) == -1) {
		free(c);
		return NULL;
	}
	c->serial = ++srv->next_serial;
	/* Signed once: every Via branch, Path and Record-Route naming this
	 * connection reuses it, and a token coming back is checked against
	 * it, so the hot path needs no HMAC. */
	if (flow_token_encode(srv->flow, c->id, c->token) == -1) {
		table_remove(&srv->conns, c);
		free(c);
		return NULL;
	}
	return c;
}

void
conn_set_state(struct conn *c, enum conn_state st)
{
	if (c->state == st)
		return;
	log_debug("conn %llu %s: state %s -> %s", (unsigned long long)c->serial,
	    c->peer_text, state_names[c->state], state_names[st]);
	c->state = st;
}

static void
conn_free(struct conn *c)
{
	free(c->identities);
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->bev != NULL) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

		/* Send close_notify when the session is up; a peer that has
		 * gone already makes this fail quietly, which is fine. */
		if (ssl != NULL && c->reason != CLOSE_HANDSHAKE_FAILED &&
		    SSL_is_init_finished(ssl)) {
			SSL_shutdown(ssl);
			ERR_clear_error();
		}
		bufferevent_free(c->bev);
	}
	if (c->fd != -1)
		close(c->fd);
	free(c);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;

	while ((c = srv->dead) != NULL) {
		srv->dead = c->next_dead;
		conn_free(c);
	}
}

void
conn_reap(struct server *srv)
{
	struct conn *c;

	while ((c = srv->closing) != NULL)
		schedule_free(c);

	while ((c = srv->dead) != NULL) {
		srv->dead = c->next_dead;
		conn_free(c);
	}
}

static void
log_close(struct conn *c)
{
	int lvl = LOGL_INFO;

	if (c->kind != CONN_PHONE && c->reason != CLOSE_SHUTDOWN)
		lvl = LOGL_NOTICE;
	log_at(lvl, "conn %llu %s: closed (%s) reason=%s in=%llu out=%llu "
	    "msgs_in=%u msgs_out=%u", (unsigned long long)c->serial, c->peer_text,
	    conn_kind_name(c->kind), conn_reason_name(c->reason),
	    (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
	    c->msgs_in, c->msgs_out);
}

static void
unlink_closing(struct conn *c)
{
	struct conn **pp = &c->srv->closing;

	while (*pp != NULL && *pp != c)
		pp = &(*pp)->next_dead;
	if (*pp == c)
		*pp = c->next_dead;
	c->next_dead = NULL;
}

static void
schedule_free(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->state == CONN_CLOSING)
		unlink_closing(c);
	deadline_stop(c);

	conn_set_state(c, CONN_CLOSED);
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->next_dead = srv->dead;
	srv->dead = c;
	if (srv->reap_ev == NULL)
		srv->reap_ev = event_new(srv->base, -1, 0, reap_cb, srv);
	if (srv->reap_ev != NULL)
		event_active(srv->reap_ev, 0, 0);
}

void
conn_close(struct conn *c, enum close_reason reason, int flush)
{
	if (c->state >= CONN_CLOSING)
		return;
	c->reason = reason;
	table_remove(&c->srv->conns, c);
	deadline_stop(c);
	if (c->ip_counted) {
		conn_ip_release(c->srv, (struct sockaddr *)&c->peer);
		c->ip_counted = 0;
	}
	if (c->on_close != NULL)
		c->on_close(c);
	if (reason != CLOSE_HANDSHAKE_FAILED)
		log_close(c);

	if (!flush && c->bev != NULL && c->kind != CONN_PHONE &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
		/* TODO: answer 503 to each request lost here; the proxy keeps
		 * no list of what is queued. */
		c->srv->stats.dropped_send++;
		log_warning("conn %llu %s: %zu queued bytes toward the backend "
		    "dropped", (unsigned long long)c->serial, c->peer_text,
		    evbuffer_get_length(bufferevent_get_output(c->bev)));
	}
	if (flush && c->bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
		/* conn_writecb frees it once the output has drained, or
		 * deadline_cb after FLUSH_TIMEOUT. The closing list lets
		 * shutdown free it meanwhile. */
		conn_set_state(c, CONN_CLOSING);
		bufferevent_disable(c->bev, EV_READ);
		c->next_dead = c->srv->closing;
		c->srv->closing = c;
		deadline_start(c, FLUSH_TIMEOUT);
		return;
	}
	schedule_free(c);
}

/* ---- sending ---- */

/* Output may be queued on our own backend connection while it connects;
 * anything else must be open. */
static int
conn_writable(const struct conn *c)
{
	if (c->bev == NULL)
		return 0;
	if (c->state == CONN_OPEN)
		return 1;
	return c->state == CONN_HANDSHAKE && c->kind == CONN_BACKEND_OUT;
}

int
conn_send(struct conn *c, const char *buf, size_t len)
{
	if (!conn_writable(c))
		return -1;
	if (bufferevent_write(c->bev, buf, len) == -1)
		return -1;
	c->bytes_out += len;
	c->msgs_out++;
	return 0;
}

int
conn_send_edited(struct conn *c, const char *src, size_t len,
    const struct sip_edits *ed)
{
	struct iovec iov[2 * SIP_MAX_EDITS + 1];
	struct evbuffer *out;
	int n;

	if (!conn_writable(c))
		return -1;
	n = sip_edits_iov(ed, src, len, iov, 2 * SIP_MAX_EDITS + 1);
	if (n < 0)
		return -1;
	out = bufferevent_get_output(c->bev);
	for (int i = 0; i < n; i++) {
		if (evbuffer_add(out, iov[i].iov_base, iov[i].iov_len) == -1)
			return -1;
		c->bytes_out += iov[i].iov_len;
	}
	c->msgs_out++;
	return 0;
}

/* ---- back-pressure ---- */

int
conn_congested(struct conn *c)
{
	size_t hw = c->srv->cfg->limits.output_high_water;

	if (c->bev == NULL)
		return 0;
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) <= hw)
		return c->congested;
	if (!c->congested) {
		c->congested = 1;
		/* libevent calls conn_writecb once the output has drained to
		 * this low-water mark. */
		bufferevent_setwatermark(c->bev, EV_WRITE, hw / 2, 0);
	}
	return 1;
}

void
conn_pause(struct conn *c)
{
	if (c->paused || c->bev == NULL || c->state != CONN_OPEN)
		return;
	c->paused = 1;
	bufferevent_disable(c->bev, EV_READ);
	log_debug("conn %llu %s: reading paused (back-pressure)",
	    (unsigned long long)c->serial, c->peer_text);
}

void
conn_resume(struct conn *c)
{
	if (!c->paused || c->bev == NULL || c->state != CONN_OPEN)
		return;
	c->paused = 0;
	bufferevent_enable(c->bev, EV_READ);
	/* Messages read before the pause are still buffered, and no new byte
	 * may come to trigger a read: run the read callback from the loop. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
		    BEV_TRIG_DEFER_CALLBACKS);
	log_debug("conn %llu %s: reading resumed", (unsigned long long)c->serial,
	    c->peer_text);
}

/* ---- per-address connection counts ---- */

struct ip_slot {
	struct ip_slot *next;
	unsigned char addr[16];		/* IPv4 as ::ffff:a.b.c.d */
	uint32_t count;
};

static void
ip_key(const struct sockaddr *sa, unsigned char key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	}
}

static struct ip_slot **
ip_find(struct server *srv, const unsigned char key[16])
{
	uint32_t h = 2166136261u;
	struct ip_slot **pp;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	pp = &srv->ip_buckets[h % IP_BUCKETS];
	while (*pp != NULL && memcmp((*pp)->addr, key, 16) != 0)
		pp = &(*pp)->next;
	return pp;
}

int
conn_ip_acquire(struct server *srv, const struct sockaddr *addr)
{
	unsigned char key[16];
	struct ip_slot **pp, *s;

	if (srv->ip_buckets == NULL) {
		srv->ip_buckets = calloc(IP_BUCKETS, sizeof(*srv->ip_buckets));
		if (srv->ip_buckets == NULL)
			return -1;
	}
	ip_key(addr, key);
	pp = ip_find(srv, key);
	if ((s = *pp) == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		memcpy(s->addr, key, 16);
		*pp = s;
	}
	if (s->count >= (uint32_t)srv->cfg->limits.max_connections_per_ip)
		return -1;
	s->count++;
	return 0;
}

void
conn_ip_release(struct server *srv, const struct sockaddr *addr)
{
	unsigned char key[16];
	struct ip_slot **pp, *s;

	if (srv->ip_buckets == NULL)
		return;
	ip_key(addr, key);
	pp = ip_find(srv, key);
	if ((s = *pp) == NULL)
		return;
	if (--s->count == 0) {
		*pp = s->next;
		free(s);
	}
}

/* ---- deadlines ---- */

/* The close line (reason=handshake-timeout or header-timeout) is the one
 * log line for this. */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->state == CONN_CLOSING) {
		log_info("conn %llu %s: peer did not read its last %zu bytes "
		    "within %d s, dropped", (unsigned long long)c->serial,
		    c->peer_text,
		    evbuffer_get_length(bufferevent_get_output(c->bev)),
		    FLUSH_TIMEOUT);
		schedule_free(c);
		return;
	}
	conn_close(c, c->state == CONN_HANDSHAKE ? CLOSE_HANDSHAKE_TIMEOUT :
	    CLOSE_HEADER_TIMEOUT, 0);
}

static void
deadline_start(struct conn *c, int seconds)
{
	struct timeval tv = { seconds, 0 };

	if (c->deadline == NULL) {
		c->deadline = evtimer_new(c->srv->base, deadline_cb, c);
		if (c->deadline == NULL)
			return;
	}
	evtimer_add(c->deadline, &tv);
}

static void
deadline_stop(struct conn *c)
{
	if (c->deadline != NULL)
		evtimer_del(c->deadline);
}

/* ---- callbacks ---- */

static void
handle_input(struct conn *c)
{
	struct server *srv = c->srv;
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (c->state == CONN_OPEN && !c->paused) {
		size_t len = evbuffer_get_length(in);
		const char *buf;
		struct frame fr;
		enum frame_status st;

		if (len == 0)
			break;
		buf = (const char *)evbuffer_pullup(in, -1);
		if (buf == NULL) {
			conn_close(c, CLOSE_NOMEM, 0);
			return;
		}
		st = framer_next(&c->framer, &srv->limits, buf, len, &fr);
		switch (st) {
		case FRAME_NEED_MORE:
			/* A message has started: it must be complete within
			 * header_timeout, however slowly its bytes trickle in. */
			if (c->deadline == NULL ||
			    !evtimer_pending(c->deadline, NULL))
				deadline_start(c, srv->cfg->limits.header_timeout);
			return;
		case FRAME_PING:
			srv->stats.pings++;
			log_debug("conn %llu %s: keepalive ping",
			    (unsigned long long)c->serial, c->peer_text);
			conn_send(c, "\r\n", 2);
			break;
		case FRAME_SKIP:
			break;
		case FRAME_MESSAGE:
			c->msgs_in++;
			if (c->kind == CONN_PHONE)
				proxy_from_phone(srv, c, buf, &fr);
			else
				proxy_from_backend(srv, c,
				    (struct sockaddr *)&c->peer, c->peerlen,
				    buf, &fr);
			break;
		case FRAME_ERROR:
			proxy_framing_error(srv, c, buf, len, &fr);
			return;
		}
		framer_reset(&c->framer);
		if (c->state >= CONN_CLOSED)
			return;
		evbuffer_drain(in, fr.len);
		deadline_stop(c);
		/* Our own answers (errors, pongs) pile up when the peer stops
		 * reading them: stop reading its requests until they drain. */
		if (conn_congested(c)) {
			c->on_drain = conn_resume;
			conn_pause(c);
		}
	}
}

static void
conn_readcb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	/* Bytes still buffered from the last call were counted then. */
	c->bytes_in += evbuffer_get_length(in) - c->in_left;
	handle_input(c);
	c->in_left = evbuffer_get_length(in);
}

static void
conn_writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	size_t left = evbuffer_get_length(bufferevent_get_output(bev));

	if (c->state == CONN_CLOSING && left == 0) {
		schedule_free(c);
		return;
	}
	if (c->congested &&
	    left <= c->srv->cfg->limits.output_high_water / 2) {
		c->congested = 0;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		if (c->on_drain != NULL)
			c->on_drain(c);
	}
}

static void
handshake_failed(struct conn *c)
{
	unsigned long errs[16];
	int n = 0, sock_err = EVUTIL_SOCKET_ERROR();
	unsigned long e;
	char why[512];
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
		if (n < 16)
			errs[n++] = e;
	}
	if (c->kind == CONN_BACKEND_OUT && n == 0 && sock_err != 0 &&
	    SSL_get_verify_result(ssl) == X509_V_OK) {
		/* The TCP connect itself failed; there was no handshake. */
		log_warning("conn %llu: connect to backend %s failed: %s",
		    (unsigned long long)c->serial, c->peer_text,
		    evutil_socket_error_to_string(sock_err));
		conn_close(c, CLOSE_CONNECT_FAILED, 0);
		return;
	}
	tls_describe_failure(ssl, errs, n, why, sizeof(why));
	c->srv->stats.handshake_failed++;
	if (c->kind == CONN_BACKEND_OUT)
		log_warning("conn %llu: TLS handshake with backend %s failed: %s",
		    (unsigned long long)c->serial, c->peer_text, why);
	else
		log_notice("conn %llu: TLS handshake failed from %s: %s",
		    (unsigned long long)c->serial, c->peer_text, why);
	conn_close(c, CLOSE_HANDSHAKE_FAILED, 0);
}

static void
conn_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct server *srv = c->srv;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		char desc[512];
		struct timeval idle = { srv->cfg->limits.idle_timeout, 0 };

		conn_set_state(c, CONN_OPEN);
		deadline_stop(c);
		if (ssl != NULL) {
			char ids[256], who[272] = "";

			/* Taken once here, because proxy.c checks every
			 * request against them. */
			if (c->kind == CONN_PHONE) {
				c->identities = tls_peer_identities(ssl);
				identity_format(c->identities, ids, sizeof(ids));
				snprintf(who, sizeof(who), " identity=%s", ids);
			}
			tls_describe_session(ssl, desc, sizeof(desc));
			log_info("conn %llu %s: TLS established (%s) %s%s",
			    (unsigned long long)c->serial, c->peer_text,
			    conn_kind_name(c->kind), desc, who);
		} else {
			log_info("conn %llu %s: connected (%s)",
			    (unsigned long long)c->serial, c->peer_text,
			    conn_kind_name(c->kind));
		}
		/* Backend connections carry every phone's traffic and are
		 * never closed for being idle. */
		/* The write timeout runs only while output is queued: it
		 * closes a phone that has stopped reading. */
		if (c->kind == CONN_PHONE)
			bufferevent_set_timeouts(bev, &idle, &idle);
		else
			bufferevent_set_timeouts(bev, NULL, NULL);
		if (c->on_open != NULL)
			c->on_open(c);
		/* Data may have arrived together with the Finished message. */
		if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
			conn_readcb(bev, c);
		return;
	}

	if (what & BEV_EVENT_TIMEOUT) {
		if (c->state == CONN_CLOSING) {
			schedule_free(c);
			return;
		}
		if (what & BEV_EVENT_WRITING)
			log_info("conn %llu %s: peer stopped reading: %zu bytes "
			    "unsent for %d s", (unsigned long long)c->serial,
			    c->peer_text,
			    evbuffer_get_length(bufferevent_get_output(bev)),
			    srv->cfg->limits.idle_timeout);
		conn_close(c, c->state == CONN_HANDSHAKE ?
		    CLOSE_HANDSHAKE_TIMEOUT : CLOSE_IDLE_TIMEOUT, 0);
		return;
	}

	if (c->state == CONN_HANDSHAKE && bufferevent_openssl_get_ssl(bev)) {
		handshake_failed(c);
		return;
	}

	if (what & BEV_EVENT_EOF) {
		conn_close(c, CLOSE_PEER, 0);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e;
		char buf[256];
		int err = EVUTIL_SOCKET_ERROR();

		buf[0] = '\0';
		while ((e = bufferevent_get_openssl_error(bev)) != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
		log_info("conn %llu %s: %s error: %s",
		    (unsigned long long)c->serial, c->peer_text,
		    c->state == CONN_HANDSHAKE ? "connect" : "read",
		    buf[0] ? buf : evutil_socket_error_to_string(err));
		conn_close(c, c->state == CONN_HANDSHAKE ?
		    CLOSE_CONNECT_FAILED : CLOSE_READ_ERROR, 0);
	}
}

void
conn_attach(struct conn *c, struct bufferevent *bev)
{
	struct server *srv = c->srv;

	c->bev = bev;
	if (bufferevent_openssl_get_ssl(bev) != NULL)
		tls_ssl_set_serial(bufferevent_openssl_get_ssl(bev), c->serial);
	bufferevent_setcb(bev, conn_readcb, conn_writecb, conn_eventcb, c);
	/* A deadline, not a read timeout: a client that sends one byte of
	 * its handshake now and then must not hold the slot forever. */
	if (c->state == CONN_HANDSHAKE && c->kind != CONN_BACKEND_OUT)
		deadline_start(c, srv->cfg->limits.handshake_timeout);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}
