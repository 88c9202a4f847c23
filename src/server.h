/* The per-process context: everything one event-loop worker owns. No
 * hidden globals, so more workers can be added later by creating more of
 * these. */
#ifndef SIPSGATE_SERVER_H
#define SIPSGATE_SERVER_H

#include <stdint.h>
#include <openssl/ssl.h>

#include "config.h"
#include "conn.h"
#include "framing.h"

struct event_base;
struct event;
struct evconnlistener;
struct flow_signer;
struct backend;
struct ip_slot;

/* Counters of messages and faults, logged at shutdown. */
struct counters {
	uint64_t accepted;
	uint64_t handshake_failed;
	uint64_t rejected_limit;
	uint64_t req_from_phone;
	uint64_t resp_from_phone;
	uint64_t req_from_backend;
	uint64_t resp_from_backend;
	uint64_t sent_error_responses;
	uint64_t dropped_parse;		/* unparseable responses, unanswerable requests */
	uint64_t dropped_no_flow;	/* responses whose connection is gone */
	uint64_t dropped_foreign;	/* backend-side input from an unexpected source */
	uint64_t dropped_send;		/* send failures */
	uint64_t dropped_congested;	/* toward a phone over output_high_water */
	uint64_t retransmit_absorbed;
	uint64_t flow_failed;		/* 430 sent */
	uint64_t bad_token;
	uint64_t pings;
};

struct server {
	struct event_base *base;
	struct config *cfg;
	SSL_CTX *tls_server;
	SSL_CTX *tls_backend;		/* NULL unless the backend is TLS */
	struct flow_signer *flow;
	struct conn_table conns;
	uint64_t next_serial;
	struct framing_limits limits;

	struct evconnlistener *phone_listener[CONFIG_MAX_LISTEN];
	int nphone_listener;
	struct backend *backend;

	struct conn *dead;		/* reaper list, freed by reap_ev */
	struct conn *closing;		/* flushing their output, then dead */
	struct event *reap_ev;
	struct event *sig_ev[3];
	struct event *expiry_ev;	/* daily certificate expiry check */
	int stopping;

	struct ip_slot **ip_buckets;	/* per-address phone connection counts */
	char *udp_buf;			/* one datagram in or out, 65536 bytes */
	struct counters stats;
};

#define UDP_BUF_SIZE 65536
#define IP_BUCKETS 4096

#endif
