/* Routing decisions of the edge proxy (RFC 3261 section 16).
 *
 * Phone -> backend: every request from a phone goes to the backend uri,
 * with our Via on top, received/rport on the phone's Via, Max-Forwards
 * decremented, and for dialog-creating requests two Record-Route entries
 * (phone-facing and backend-facing); REGISTER gets a Path entry.
 *
 * Backend -> phone: requests carry our Path or Record-Route entry as top
 * Route. Its user part is a flow token naming the phone's connection, so
 * no per-dialog or per-registration state is kept here.
 *
 * Responses travel by Via: our Via branch carries a flow token naming the
 * connection the request came in on. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "backend.h"
#include "conn.h"
#include "flow.h"
#include "identity.h"
#include "log.h"
#include "proxy.h"
#include "server.h"
#include "sipmsg.h"

#define MAGIC_COOKIE "z9hG4bK"
#define MAGIC_LEN 7
/* z9hG4bK + flow token + '.' + 16 hex digits */
#define BRANCH_LEN (MAGIC_LEN + FLOW_TOKEN_LEN + 1 + 16)
#define REPLY_MAX 16384

static const char *
span_ptr(const struct sipmsg *m, struct sip_span s)
{
	return m->buf + s.off;
}

static int
span_eq(const struct sipmsg *m, struct sip_span s, const char *str)
{
	size_t n = strlen(str);

	return s.len == n && strncasecmp(span_ptr(m, s), str, n) == 0;
}

static struct sip_span
header_value(const struct sipmsg *m, enum sip_hdr kind)
{
	struct sip_span none = { 0, 0 };

	if (m->first[kind] < 0)
		return none;
	return m->hdr[m->first[kind]].value;
}

/* Method, Call-ID and CSeq for debug lines. */
static void
log_message(const struct conn *c, const char *dir, const struct sipmsg *m)
{
	struct sip_span cid, cseq;

	if (log_threshold < LOGL_DEBUG)
		return;
	cid = header_value(m, HDR_CALL_ID);
	cseq = header_value(m, HDR_CSEQ);
	if (m->is_request)
		log_debug("conn %llu %s: %s %.*s call-id=%.*s cseq=%.*s",
		    (unsigned long long)c->serial, c->peer_text, dir,
		    (int)m->method.len, span_ptr(m, m->method),
		    (int)cid.len, span_ptr(m, cid), (int)cseq.len,
		    span_ptr(m, cseq));
	else
		log_debug("conn %llu %s: %s %d call-id=%.*s cseq=%.*s",
		    (unsigned long long)c->serial, c->peer_text, dir, m->status,
		    (int)cid.len, span_ptr(m, cid), (int)cseq.len,
		    span_ptr(m, cseq));
}

static uint64_t
fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * Builds our branch for a request from connection "from". The hash part
 * covers the previous hop's branch and sent-by, Call-ID and CSeq number.
 * A CANCEL and the ACK for a non-2xx response therefore get the branch of
 * their INVITE, as a stateless proxy must (RFC 3261 section 16.11), while
 * different transactions get different branches.
 */
static int
make_branch(const struct conn *from, const struct sipmsg *m,
    char out[BRANCH_LEN + 1])
{
	struct sip_span cseq = header_value(m, HDR_CSEQ);
	struct sip_span cid = header_value(m, HDR_CALL_ID);
	size_t numlen = 0;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (numlen < cseq.len && span_ptr(m, cseq)[numlen] >= '0' &&
	    span_ptr(m, cseq)[numlen] <= '9')
		numlen++;
	h = fnv1a(h, span_ptr(m, m->top_via.branch), m->top_via.branch.len);
	h = fnv1a(h, "\0", 1);
	h = fnv1a(h, span_ptr(m, m->top_via.host), m->top_via.host.len);
	h = fnv1a(h, "\0", 1);
	h = fnv1a(h, span_ptr(m, cid), cid.len);
	h = fnv1a(h, "\0", 1);
	h = fnv1a(h, span_ptr(m, cseq), numlen);
	snprintf(out, BRANCH_LEN + 1, MAGIC_COOKIE "%s.%016llx", from->token,
	    (unsigned long long)h);
	return 0;
}

enum token_verdict {
	TOKEN_LIVE,	/* issued by us, and its connection is open */
	TOKEN_STALE,	/* issued by us, but its connection has closed */
	TOKEN_FORGED,	/* malformed, tampered with, or from another process */
};

/*
 * Authenticates a flow token. A live connection keeps the token it was
 * issued, so a constant-time comparison with it suffices. Only when that
 * fails is the HMAC computed, to tell a stale token from a forged one.
 */
static enum token_verdict
resolve_token(struct server *srv, const char *tok, size_t len, uint64_t *id)
{
	struct conn *c;

	if (flow_token_peek(tok, len, id) == -1)
		return TOKEN_FORGED;
	c = conn_find(srv, *id);
	if (c != NULL && CRYPTO_memcmp(c->token, tok, FLOW_TOKEN_LEN) == 0)
		return TOKEN_LIVE;
	if (flow_token_decode(srv->flow, tok, len, id) == -1)
		return TOKEN_FORGED;
	return TOKEN_STALE;
}

/* Returns 0 and the connection id when the top Via is one of ours. */
static int
own_via_conn(struct server *srv, const struct sipmsg *m, uint64_t *id)
{
	const struct sip_via *v = &m->top_via;
	const char *b = span_ptr(m, v->branch);

	if (v->branch.len != BRANCH_LEN || memcmp(b, MAGIC_COOKIE, MAGIC_LEN) != 0 ||
	    b[MAGIC_LEN + FLOW_TOKEN_LEN] != '.')
		return -1;
	return resolve_token(srv, b + MAGIC_LEN, FLOW_TOKEN_LEN, id) ==
	    TOKEN_FORGED ? -1 : 0;
}

static int
port_matches(uint16_t uri_port, uint16_t ours, uint16_t dflt)
{
	return uri_port == ours || (uri_port == 0 && ours == dflt);
}

/* Returns 1 when the URI names this proxy: the phone-facing public_host, a
 * [tls] listen address, or the backend-facing [backend] listen address. */
static int
uri_is_ours(const struct server *srv, const struct sipmsg *m,
    const struct sip_uri *u)
{
	const struct config *cfg = srv->cfg;
	const char *ph = cfg->proxy.public_host;
	size_t phlen = strlen(ph);
	int public_match;

	/* The URI host comes without IPv6 brackets; public_host keeps them. */
	if (ph[0] == '[' && phlen >= 2) {
		ph++;
		phlen -= 2;
	}
	public_match = u->host.len == phlen &&
	    strncasecmp(span_ptr(m, u->host), ph, phlen) == 0;
	if (public_match &&
	    port_matches(u->port, cfg->proxy.public_port, 5061))
		return 1;
	for (int i = 0; i < cfg->tls.nlisten; i++) {
		const struct listen_addr *la = &cfg->tls.listen[i];

		if (span_eq(m, u->host, la->host) &&
		    port_matches(u->port, la->port, 5061))
			return 1;
	}
	return span_eq(m, u->host, cfg->backend.listen.host) &&
	    port_matches(u->port, cfg->backend.listen.port,
	    cfg->backend.transport == TRANSPORT_TLS ? 5061 : 5060);
}

/* Counts how many of the leading Route values name this proxy (at most
 * two: phone-facing and backend-facing), and decodes the flow token of the
 * first one into *id when id is not NULL. */
static int
own_leading_routes(struct server *srv, const struct sipmsg *m, uint64_t *id,
    int *token_ok)
{
	int n = 0;

	if (token_ok != NULL)
		*token_ok = 0;
	for (int i = 0; i < 2; i++) {
		struct sip_span val;
		struct sip_uri u;
		int line;

		if (sipmsg_value(m, HDR_ROUTE, i, &val, &line) == -1)
			break;
		if (sip_uri_parse(m->buf, val, &u) == -1 || !uri_is_ours(srv, m, &u))
			break;
		if (i == 0 && id != NULL && token_ok != NULL)
			*token_ok = resolve_token(srv, span_ptr(m, u.user),
			    u.user.len, id) != TOKEN_FORGED;
		n++;
	}
	return n;
}

static int
is_dialog_creating(const struct sipmsg *m)
{
	if (m->to_has_tag)
		return 0;
	return sipmsg_method_is(m, "INVITE") || sipmsg_method_is(m, "SUBSCRIBE") ||
	    sipmsg_method_is(m, "REFER") || sipmsg_method_is(m, "NOTIFY");
}

/* "127.0.0.1:5070" or "[::1]:5070" for URIs and Via. */
static void
backend_hostport(const struct server *srv, char *out, size_t len)
{
	const struct listen_addr *la = &srv->cfg->backend.listen;

	if (strchr(la->host, ':') != NULL)
		snprintf(out, len, "[%s]:%u", la->host, la->port);
	else
		snprintf(out, len, "%s:%u", la->host, la->port);
}

static void
public_hostport(const struct server *srv, char *out, size_t len)
{
	const struct config *cfg = srv->cfg;

	/* public_host is stored as written: an IPv6 address keeps its
	 * brackets. */
	if (cfg->proxy.public_port == 5061)
		snprintf(out, len, "%s", cfg->proxy.public_host);
	else
		snprintf(out, len, "%s:%u", cfg->proxy.public_host,
		    cfg->proxy.public_port);
}

static void
sockaddr_ip_port(const struct sockaddr *sa, char *ip, size_t iplen,
    uint16_t *port)
{
	ip[0] = '\0';
	*port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)iplen);
		*port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)iplen);
		*port = ntohs(in6->sin6_port);
	}
}

static void
random_tag(char out[17])
{
	unsigned char r[8];

	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0x5a, sizeof(r));
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* Sends a locally generated response to a request from stream connection
 * c, or over UDP to from when c is the backend UDP socket. */
static void
reply_extra(struct server *srv, struct conn *c, const struct sockaddr *from,
    socklen_t fromlen, const struct sipmsg *m, int status, const char *reason,
    const char *extra_headers)
{
	char out[REPLY_MAX], tag[17];
	size_t n;

	if (!m->is_request || sipmsg_method_is(m, "ACK")) {
		srv->stats.dropped_parse++;
		return;
	}
	random_tag(tag);
	n = sipmsg_build_response(m, status, reason, tag, extra_headers, out,
	    sizeof(out));
	if (n == 0) {
		srv->stats.dropped_parse++;
		log_peer("conn %llu %s: cannot answer %d %s: request lacks the "
		    "headers a response needs", (unsigned long long)c->serial,
		    c->peer_text, status, reason);
		return;
	}
	srv->stats.sent_error_responses++;
	log_peer("conn %llu %s: answered %d %s", (unsigned long long)c->serial,
	    c->peer_text, status, reason);
	if (c->kind == CONN_PHONE)
		conn_send(c, out, n);
	else
		backend_send_response(srv, c, NULL, from, fromlen, out, n, NULL);
}

static void
reply(struct server *srv, struct conn *c, const struct sockaddr *from,
    socklen_t fromlen, const struct sipmsg *m, int status, const char *reason)
{
	reply_extra(srv, c, from, fromlen, m, status, reason, NULL);
}

static int
has_sips_target(const struct sipmsg *m)
{
	struct sip_span val;
	struct sip_uri u;
	int line;

	if (m->ruri.len >= 5 && strncasecmp(span_ptr(m, m->ruri), "sips:", 5) == 0)
		return 1;
	for (int i = 0; sipmsg_value(m, HDR_CONTACT, i, &val, &line) == 0; i++) {
		if (sip_uri_parse(m->buf, val, &u) == 0 &&
		    span_eq(m, u.scheme, "sips"))
			return 1;
	}
	return 0;
}

/*
 * Answers 420 when the request carries Proxy-Require option tags: this
 * proxy supports no extension that a proxy must understand (RFC 3261
 * section 16.3 step 5). ACK and CANCEL are exempt because they cannot be
 * answered that way. Returns 1 when answered.
 */
static int
reject_proxy_require(struct server *srv, struct conn *c,
    const struct sockaddr *from, socklen_t fromlen, const struct sipmsg *m)
{
	char unsupported[1024];
	size_t used = 0;
	struct sip_span v;
	int line;

	if (m->first[HDR_PROXY_REQUIRE] < 0 || sipmsg_method_is(m, "ACK") ||
	    sipmsg_method_is(m, "CANCEL"))
		return 0;
	for (int i = 0; sipmsg_value(m, HDR_PROXY_REQUIRE, i, &v, &line) == 0;
	    i++) {
		int n = snprintf(unsupported + used, sizeof(unsupported) - used,
		    "%s%.*s", used == 0 ? "Unsupported: " : ", ", (int)v.len,
		    span_ptr(m, v));

		if (n < 0 || (size_t)n >= sizeof(unsupported) - used - 2)
			break;
		used += (size_t)n;
	}
	if (used == 0)
		return 0;
	memcpy(unsupported + used, "\r\n", 3);
	reply_extra(srv, c, from, fromlen, m, 420, "Bad Extension",
	    unsupported);
	return 1;
}

/* ---- phone -> backend ---- */

static void
phone_request(struct server *srv, struct conn *c, const struct sipmsg *m)
{
	const struct config *cfg = srv->cfg;
	struct sip_edits ed;
	char branch[BRANCH_LEN + 1];
	const char *tok;
	char bhp[64], php[300], mismatch[512];
	const char *vt = backend_via_transport(srv);
	const char *ut = backend_uri_transport(srv);
	size_t at = m->start_line_end;
	int own;

	srv->stats.req_from_phone++;
	if (m->max_forwards == 0) {
		reply(srv, c, NULL, 0, m, 483, "Too Many Hops");
		return;
	}
	if (reject_proxy_require(srv, c, NULL, 0, m))
		return;
	if (identity_check_request(m, c->identities, cfg->tls.identity_check,
	    mismatch, sizeof(mismatch)) == -1) {
		log_peer("conn %llu %s: request rejected: %s",
		    (unsigned long long)c->serial, c->peer_text, mismatch);
		reply(srv, c, NULL, 0, m, 403, "Identity Not In Certificate");
		return;
	}
	if (cfg->backend.transport != TRANSPORT_TLS &&
	    cfg->proxy.sips_plain_backend == SIPS_REJECT && has_sips_target(m)) {
		reply(srv, c, NULL, 0, m, 416, "SIPS Not Allowed Toward Plain Backend");
		return;
	}

	sip_edits_init(&ed);
	own = own_leading_routes(srv, m, NULL, NULL);
	tok = c->token;
	if (make_branch(c, m, branch) == -1)
		goto fail;
	backend_hostport(srv, bhp, sizeof(bhp));
	public_hostport(srv, php, sizeof(php));

	if (sip_edit_insertf(&ed, at, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n",
	    vt, bhp, branch) == -1)
		goto fail;
	if (sipmsg_method_is(m, "REGISTER") &&
	    sip_edit_insertf(&ed, at, "Path: <sip:%s@%s;transport=%s;lr>\r\n",
	    tok, bhp, ut) == -1)
		goto fail;
	/* The backend-facing entry goes on top: it is the backend's
	 * neighbour. */
	if (is_dialog_creating(m) &&
	    sip_edit_insertf(&ed, at, "Record-Route: <sip:%s@%s;transport=%s;lr>\r\n"
	    "Record-Route: <sips:%s@%s;lr>\r\n", tok, bhp, ut, tok, php) == -1)
		goto fail;
	if (own > 0 && sipmsg_edit_remove_first(m, &ed, HDR_ROUTE, own) == -1)
		goto fail;
	if (identity_edit_headers(m, &ed, cfg->tls.trusted_headers,
	    cfg->tls.ntrusted_headers, c->identities) == -1)
		goto fail;
	if (sipmsg_edit_via_received(m, &ed, c->peer_ip, c->peer_port) == -1 ||
	    sipmsg_edit_max_forwards(m, &ed) == -1)
		goto fail;

	if (backend_send_request(srv, c, m->buf, m->len, &ed, branch, BRANCH_LEN,
	    span_ptr(m, m->method), m->method.len,
	    sipmsg_method_is(m, "ACK")) == -1) {
		srv->stats.dropped_send++;
		reply(srv, c, NULL, 0, m, 503, "Backend Unavailable");
	}
	return;

fail:
	reply(srv, c, NULL, 0, m, 500, "Cannot Edit Request");
}

static void
phone_response(struct server *srv, struct conn *c, const struct sipmsg *m)
{
	struct sip_edits ed;
	struct sip_via next;
	struct sockaddr_storage dst;
	socklen_t dstlen = 0;
	uint64_t id;
	struct conn *to;

	srv->stats.resp_from_phone++;
	if (own_via_conn(srv, m, &id) == -1) {
		srv->stats.bad_token++;
		log_peer("conn %llu %s: response %d dropped: top Via is not ours",
		    (unsigned long long)c->serial, c->peer_text, m->status);
		return;
	}
	to = conn_find(srv, id);
	if (to == NULL || to->kind == CONN_PHONE) {
		srv->stats.dropped_no_flow++;
		log_peer("conn %llu %s: response %d dropped: the backend "
		    "connection it answers has closed",
		    (unsigned long long)c->serial, c->peer_text, m->status);
		return;
	}
	sip_edits_init(&ed);
	if (sipmsg_edit_remove_first(m, &ed, HDR_VIA, 1) == -1 ||
	    identity_edit_headers(m, &ed, srv->cfg->tls.trusted_headers,
	    srv->cfg->tls.ntrusted_headers, c->identities) == -1)
		return;

	if (to->kind == CONN_BACKEND_UDP) {
		/* RFC 3261 section 18.2.2 and RFC 3581: received and rport
		 * override the sent-by of the backend's Via. */
		char host[64];
		struct sip_span h;
		uint16_t port;
		struct sockaddr_in *in = (struct sockaddr_in *)&dst;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&dst;

		if (sipmsg_via(m, 1, &next) == -1)
			return;
		h = next.received.len ? next.received : next.host;
		port = next.rport_value ? next.rport_value :
		    next.port ? next.port : 5060;
		if (h.len >= sizeof(host))
			return;
		memcpy(host, span_ptr(m, h), h.len);
		host[h.len] = '\0';
		memset(&dst, 0, sizeof(dst));
		if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
			in->sin_family = AF_INET;
			in->sin_port = htons(port);
			dstlen = sizeof(*in);
		} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(port);
			dstlen = sizeof(*in6);
		}
		/* Responses go only to the backend host, so a phone cannot
		 * use us to send datagrams elsewhere. */
		if (dstlen == 0 ||
		    !backend_peer_allowed(srv, (struct sockaddr *)&dst)) {
			srv->stats.dropped_foreign++;
			log_peer("conn %llu %s: response %d dropped: its Via "
			    "does not lead to the backend host",
			    (unsigned long long)c->serial, c->peer_text, m->status);
			return;
		}
	}
	if (backend_send_response(srv, to, c, (struct sockaddr *)&dst, dstlen,
	    m->buf, m->len, &ed) == -1)
		srv->stats.dropped_send++;
}

/* Returns 1 when the message has more Via values than [limits] max_via. */
static int
too_many_vias(const struct server *srv, const struct sipmsg *m)
{
	int max = srv->cfg->limits.max_via, line;
	struct sip_span v;

	return sipmsg_value(m, HDR_VIA, max, &v, &line) == 0;
}

void
proxy_from_phone(struct server *srv, struct conn *c, const char *buf,
    const struct frame *fr)
{
	struct sipmsg m;
	struct sip_error err = { 0, NULL };

	if (sipmsg_parse(&m, buf, fr->len, fr->header_len, &err) == -1) {
		if (err.status != 0 && m.is_request) {
			reply(srv, c, NULL, 0, &m, err.status, err.reason);
		} else {
			srv->stats.dropped_parse++;
			log_peer("conn %llu %s: invalid message dropped: %s",
			    (unsigned long long)c->serial, c->peer_text,
			    err.reason ? err.reason : "unparseable");
		}
		sipmsg_free(&m);
		return;
	}
	log_message(c, m.is_request ? "request from phone" :
	    "response from phone", &m);
	if (too_many_vias(srv, &m)) {
		if (m.is_request) {
			reply(srv, c, NULL, 0, &m, 400, "Too Many Via Headers");
		} else {
			srv->stats.dropped_parse++;
			log_peer("conn %llu %s: response dropped: more than "
			    "max_via Via values", (unsigned long long)c->serial,
			    c->peer_text);
		}
	} else if (m.is_request)
		phone_request(srv, c, &m);
	else
		phone_response(srv, c, &m);
	sipmsg_free(&m);
}

/* ---- backend -> phone ---- */

static void
backend_request(struct server *srv, struct conn *c, const struct sockaddr *from,
    socklen_t fromlen, const struct sipmsg *m)
{
	struct sip_edits ed;
	char branch[BRANCH_LEN + 1];
	const char *tok;
	char bhp[64], php[300];
	size_t at = m->start_line_end;
	struct conn *phone;
	uint64_t id = 0;
	char src_ip[INET6_ADDRSTRLEN];
	uint16_t src_port;
	int own, token_ok;

	srv->stats.req_from_backend++;
	if (m->max_forwards == 0) {
		reply(srv, c, from, fromlen, m, 483, "Too Many Hops");
		return;
	}
	if (reject_proxy_require(srv, c, from, fromlen, m))
		return;
	own = own_leading_routes(srv, m, &id, &token_ok);
	if (own == 0) {
		reply(srv, c, from, fromlen, m, 404, "No Flow Token In Route");
		return;
	}
	if (!token_ok) {
		srv->stats.bad_token++;
		reply(srv, c, from, fromlen, m, 403, "Invalid Flow Token");
		return;
	}
	phone = conn_find(srv, id);
	if (phone == NULL || phone->kind != CONN_PHONE) {
		srv->stats.flow_failed++;
		reply(srv, c, from, fromlen, m, 430, "Flow Failed");
		return;
	}
	if (conn_congested(phone)) {
		srv->stats.dropped_congested++;
		log_peer("conn %llu %s: request toward the phone refused: its "
		    "output is over output_high_water", (unsigned long long)phone->serial,
		    phone->peer_text);
		reply(srv, c, from, fromlen, m, 503, "Phone Not Reading");
		return;
	}

	sip_edits_init(&ed);
	tok = phone->token;
	if (make_branch(c, m, branch) == -1)
		goto fail;
	backend_hostport(srv, bhp, sizeof(bhp));
	public_hostport(srv, php, sizeof(php));
	if (sip_edit_insertf(&ed, at, "Via: SIP/2.0/TLS %s;branch=%s\r\n", php,
	    branch) == -1)
		goto fail;
	/* Toward the phone the phone-facing entry is the neighbour, so it
	 * goes on top. */
	if (is_dialog_creating(m) &&
	    sip_edit_insertf(&ed, at, "Record-Route: <sips:%s@%s;lr>\r\n"
	    "Record-Route: <sip:%s@%s;transport=%s;lr>\r\n", tok, php, tok,
	    bhp, backend_uri_transport(srv)) == -1)
		goto fail;
	sockaddr_ip_port(from, src_ip, sizeof(src_ip), &src_port);
	if (sipmsg_edit_remove_first(m, &ed, HDR_ROUTE, own) == -1 ||
	    sipmsg_edit_via_received(m, &ed, src_ip, src_port) == -1 ||
	    sipmsg_edit_max_forwards(m, &ed) == -1)
		goto fail;
	if (conn_send_edited(phone, m->buf, m->len, &ed) == -1) {
		srv->stats.dropped_send++;
		reply(srv, c, from, fromlen, m, 430, "Flow Failed");
	}
	return;

fail:
	reply(srv, c, from, fromlen, m, 500, "Cannot Edit Request");
}

/* Sends a response from the backend (or one we built for it) to the phone
 * named by our top Via. */
static void
deliver_to_phone(struct server *srv, const char *src_desc,
    const struct sipmsg *m, int check_txn)
{
	struct sip_edits ed;
	struct conn *phone;
	uint64_t id;

	if (own_via_conn(srv, m, &id) == -1) {
		srv->stats.bad_token++;
		log_peer("%s: response %d dropped: top Via is not ours",
		    src_desc, m->status);
		return;
	}
	if (check_txn && backend_response_absorbed(srv,
	    span_ptr(m, m->top_via.branch), m->top_via.branch.len,
	    span_ptr(m, m->cseq_method), m->cseq_method.len, m->status)) {
		srv->stats.retransmit_absorbed++;
		return;
	}
	phone = conn_find(srv, id);
	if (phone == NULL || phone->kind != CONN_PHONE) {
		srv->stats.dropped_no_flow++;
		log_peer("%s: response %d dropped: the phone connection has "
		    "closed", src_desc, m->status);
		return;
	}
	if (conn_congested(phone)) {
		srv->stats.dropped_congested++;
		log_peer("%s: response %d toward conn %llu %s dropped: its "
		    "output is over output_high_water", src_desc, m->status,
		    (unsigned long long)phone->serial, phone->peer_text);
		return;
	}
	sip_edits_init(&ed);
	if (sipmsg_edit_remove_first(m, &ed, HDR_VIA, 1) == -1 ||
	    conn_send_edited(phone, m->buf, m->len, &ed) == -1)
		srv->stats.dropped_send++;
}

void
proxy_from_backend(struct server *srv, struct conn *c,
    const struct sockaddr *from, socklen_t fromlen, const char *buf,
    const struct frame *fr)
{
	struct sipmsg m;
	struct sip_error err = { 0, NULL };
	char desc[96];

	if (!backend_peer_allowed(srv, from)) {
		char peer[64];

		sockaddr_to_text(from, peer, sizeof(peer));
		srv->stats.dropped_foreign++;
		if (log_peer_allow())
			log_notice("backend listener: message from %s dropped: not the "
		    "backend host", peer);
		return;
	}
	if (sipmsg_parse(&m, buf, fr->len, fr->header_len, &err) == -1) {
		if (err.status != 0 && m.is_request) {
			reply(srv, c, from, fromlen, &m, err.status, err.reason);
		} else {
			srv->stats.dropped_parse++;
			log_peer("conn %llu %s: invalid message from the backend "
			    "dropped: %s", (unsigned long long)c->serial,
			    c->peer_text, err.reason ? err.reason : "unparseable");
		}
		sipmsg_free(&m);
		return;
	}
	log_message(c, m.is_request ? "request from backend" :
	    "response from backend", &m);
	if (too_many_vias(srv, &m)) {
		if (m.is_request)
			reply(srv, c, from, fromlen, &m, 400,
			    "Too Many Via Headers");
		else
			srv->stats.dropped_parse++;
	} else if (m.is_request) {
		backend_request(srv, c, from, fromlen, &m);
	} else {
		srv->stats.resp_from_backend++;
		snprintf(desc, sizeof(desc), "conn %llu %s",
		    (unsigned long long)c->serial, c->peer_text);
		deliver_to_phone(srv, desc, &m, 1);
	}
	sipmsg_free(&m);
}

/*
 * The header section never ended within the limits, so there is no whole
 * message to answer. The lines that did arrive usually include Via, From,
 * To, Call-ID and CSeq, which is all a response needs: index the complete
 * lines, closed by an empty line of our own, and answer from them.
 * Returns 1 when a response was sent.
 */
static int
reply_from_partial(struct server *srv, struct conn *c, const char *buf,
    size_t len, const struct frame *fr)
{
	struct sipmsg m;
	struct sip_error err;
	const char *end;
	size_t keep;

	if (len > srv->cfg->limits.max_message_size)
		len = srv->cfg->limits.max_message_size;
	end = memmem(buf, len, "\r\n\r\n", 4);
	if (end != NULL)
		return 0;	/* a complete section: not this case */
	for (keep = len; keep >= 2; keep--)
		if (buf[keep - 2] == '\r' && buf[keep - 1] == '\n')
			break;
	if (keep < 2 || keep + 2 > UDP_BUF_SIZE)
		return 0;
	/* The UDP buffer is free here: this runs on a stream connection,
	 * outside any datagram's processing. */
	memcpy(srv->udp_buf, buf, keep);
	memcpy(srv->udp_buf + keep, "\r\n", 2);
	if (sipmsg_index(&m, srv->udp_buf, keep + 2, keep + 2, &err) == -1 ||
	    !m.is_request || m.first[HDR_VIA] < 0)
		return 0;
	reply(srv, c, (struct sockaddr *)&c->peer, c->peerlen, &m,
	    fr->error_status, fr->error_reason);
	return 1;
}

void
proxy_framing_error(struct server *srv, struct conn *c, const char *buf,
    size_t len, const struct frame *fr)
{
	struct sipmsg m;
	struct sip_error err;
	char excerpt[41];

	log_sanitize(excerpt, buf, len, 40);
	log_info("conn %llu %s: unframeable input (%d %s), closing: \"%s\"",
	    (unsigned long long)c->serial, c->peer_text, fr->error_status,
	    fr->error_reason ? fr->error_reason : "", excerpt);
	if (fr->header_len > 0 && fr->header_len <= len &&
	    sipmsg_index(&m, buf, fr->header_len, fr->header_len, &err) == 0)
		reply(srv, c, (struct sockaddr *)&c->peer, c->peerlen, &m,
		    fr->error_status, fr->error_reason);
	else if (!reply_from_partial(srv, c, buf, len, fr))
		srv->stats.dropped_parse++;
	conn_close(c, CLOSE_FRAMING_ERROR, 1);
}

void
proxy_backend_failed(struct server *srv, const char *req, size_t len,
    int status, const char *reason)
{
	struct sipmsg m, r;
	struct sip_error err;
	char out[REPLY_MAX], tag[17];
	size_t hl, n;
	const char *end;

	end = memmem(req, len, "\r\n\r\n", 4);
	if (end == NULL)
		return;
	hl = (size_t)(end - req) + 4;
	if (sipmsg_index(&m, req, len, hl, &err) == -1 ||
	    !m.is_request || sipmsg_method_is(&m, "ACK"))
		return;
	random_tag(tag);
	n = sipmsg_build_response(&m, status, reason, tag, NULL, out,
	    sizeof(out));
	end = n > 0 ? memmem(out, n, "\r\n\r\n", 4) : NULL;
	if (end == NULL)
		return;
	/* Index, not parse: the response copies the request's To, which
	 * libosip2 5.3 may refuse once a tag follows some odd URIs, and only
	 * our Via and the Via lines matter for delivery. */
	if (sipmsg_index(&r, out, n, (size_t)(end - out) + 4, &err) == 0 &&
	    sipmsg_via(&r, 0, &r.top_via) == 0) {
		log_peer("backend: no response to %.*s: %d %s to the phone",
		    (int)m.method.len, span_ptr(&m, m.method), status, reason);
		deliver_to_phone(srv, "backend failure", &r, 0);
	}
}
