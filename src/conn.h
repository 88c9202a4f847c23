/* One struct per connection, an explicit state, one close path. A
 * connection is reached only through its id (conn_find), never through a
 * stored pointer that could outlive it. */
#ifndef SIPSGATE_CONN_H
#define SIPSGATE_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "framing.h"

struct server;
struct bufferevent;
struct sip_edits;
struct event;

enum conn_kind {
	CONN_PHONE,		/* TLS from a phone */
	CONN_BACKEND_OUT,	/* our TCP/TLS connection to the backend uri */
	CONN_BACKEND_IN,	/* TCP/TLS accepted on [backend] listen */
	CONN_BACKEND_UDP,	/* the UDP socket on [backend] listen */
};

enum conn_state {
	CONN_HANDSHAKE,		/* TLS handshake or TCP connect in progress */
	CONN_OPEN,
	CONN_CLOSING,		/* flushing the output, then freed */
	CONN_CLOSED,		/* out of the table, waiting to be freed */
};

/* Reason a connection ended, logged as "reason=<token>". */
enum close_reason {
	CLOSE_NONE,
	CLOSE_PEER,		/* orderly close or EOF from the peer */
	CLOSE_READ_ERROR,
	CLOSE_HANDSHAKE_FAILED,
	CLOSE_HANDSHAKE_TIMEOUT,
	CLOSE_IDLE_TIMEOUT,
	CLOSE_HEADER_TIMEOUT,
	CLOSE_FRAMING_ERROR,
	CLOSE_CONNECT_FAILED,
	CLOSE_SHUTDOWN,
	CLOSE_LIMIT,
	CLOSE_NOMEM,
	CLOSE__COUNT
};

struct conn {
	uint64_t id;			/* (generation << 32) | slot; never reused */
	uint64_t serial;		/* 1, 2, 3... in accept order: the id in log lines */
	char token[25];			/* flow token naming id, FLOW_TOKEN_LEN + NUL */
	struct server *srv;
	enum conn_kind kind;
	enum conn_state state;
	enum close_reason reason;
	struct bufferevent *bev;	/* NULL for CONN_BACKEND_UDP */
	int fd;				/* CONN_BACKEND_UDP only */
	struct framer framer;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	uint16_t peer_port;
	char peer_ip[46];		/* numeric, no brackets */
	char peer_text[56];		/* "ip:port" or "[ip]:port" */
	size_t in_left;			/* input bytes left unconsumed by the last read */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint32_t msgs_in;
	uint32_t msgs_out;
	struct conn *next_dead;		/* reaper list */
	/* Optional hooks for the owner of a connection: called once when it
	 * becomes open, and once from conn_close while the connection and its
	 * unsent output still exist. */
	void (*on_open)(struct conn *c);
	void (*on_close)(struct conn *c);
	/* Called when the output has drained below half of
	 * [limits] output_high_water after having passed it. */
	void (*on_drain)(struct conn *c);
	/* Handshake deadline, then the deadline for a message that has
	 * started to arrive (slow senders). Allocated on first use. */
	struct event *deadline;
	/* Identities of the phone's verified certificate (identity.h),
	 * NULL without one. Freed with the connection. */
	char *identities;
	unsigned ip_counted:1;		/* holds a per-address slot */
	unsigned paused:1;		/* reading stopped by back-pressure */
	unsigned congested:1;		/* output passed the high-water mark */
};

/* Formats "ip:port" or "[ip]:port". */
void sockaddr_to_text(const struct sockaddr *sa, char *out, size_t len);

const char *conn_reason_name(enum close_reason r);
const char *conn_kind_name(enum conn_kind k);

/* Allocates a connection and its table slot. NULL when out of memory. */
struct conn *conn_new(struct server *srv, enum conn_kind kind,
    const struct sockaddr *peer, socklen_t peerlen);
/* Returns the live connection with this id, or NULL when it has closed. */
struct conn *conn_find(struct server *srv, uint64_t id);
/* Attaches a bufferevent and installs conn's callbacks; enables reading. */
void conn_attach(struct conn *c, struct bufferevent *bev);
void conn_set_state(struct conn *c, enum conn_state st);

/* The one close path, safe to call twice. The connection leaves the table
 * at once (so flow tokens naming it stop resolving); with flush set, any
 * queued output is written first. The memory is freed after the current
 * callback returns. */
void conn_close(struct conn *c, enum close_reason reason, int flush);

/* Queues bytes on a stream connection. Returns 0, or -1 when the
 * connection is not open. */
int conn_send(struct conn *c, const char *buf, size_t len);
/* Queues src after applying edits, without an intermediate copy. */
int conn_send_edited(struct conn *c, const char *src, size_t len,
    const struct sip_edits *ed);

/* Returns 1 when the output buffer contains more than [limits]
 * output_high_water bytes; the connection then calls on_drain once it has
 * drained to half of that. */
int conn_congested(struct conn *c);
/* Stops or resumes reading from c (back-pressure). */
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);

/* Takes a slot for a phone connection from addr. Returns 0, or -1 when
 * addr already has [limits] max_connections_per_ip connections. */
int conn_ip_acquire(struct server *srv, const struct sockaddr *addr);
void conn_ip_release(struct server *srv, const struct sockaddr *addr);

/* Frees every connection in the reaper list. Connections still flushing
 * their output are dropped and freed too, so call it only at shutdown or
 * when nothing is closing. */
void conn_reap(struct server *srv);

/* Connection table: O(1) lookup by id. */
struct conn_table {
	struct conn **slot;
	uint32_t *gen;
	uint32_t *free_next;
	uint32_t cap;
	uint32_t free_head;		/* UINT32_MAX when empty */
	uint32_t used;
	uint64_t per_kind[4];
};

int conn_table_init(struct conn_table *t, uint32_t cap);
void conn_table_free(struct conn_table *t);

#endif
