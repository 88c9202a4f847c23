/* sipsgate: command line, start-up order, signals and the event loop. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "backend.h"
#include "config.h"
#include "conn.h"
#include "flow.h"
#include "listener.h"
#include "log.h"
#include "server.h"
#include "sipmsg.h"
#include "tls.h"

#define SIPSGATE_VERSION "0.1.0"
/* Slots in the connection table: phone connections are capped by
 * [limits] max_connections, plus room for backend connections. */
#define TABLE_EXTRA 64

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: sipsgate [-t] -c FILE\n"
	    "  -c FILE  configuration file (ini)\n"
	    "  -t       check the configuration, certificates and keys, then exit\n"
	    "  -V       print the version and exit\n"
	    "  -h       print this help\n");
}

static void
log_counters(const struct server *srv)
{
	const struct counters *s = &srv->stats;

	log_notice("counters: accepted=%llu handshake_failed=%llu "
	    "rejected_limit=%llu req_from_phone=%llu resp_from_phone=%llu "
	    "req_from_backend=%llu resp_from_backend=%llu error_responses=%llu "
	    "dropped_parse=%llu dropped_no_flow=%llu dropped_foreign=%llu "
	    "dropped_send=%llu dropped_congested=%llu retransmit_absorbed=%llu "
	    "flow_failed=%llu "
	    "bad_token=%llu pings=%llu",
	    (unsigned long long)s->accepted, (unsigned long long)s->handshake_failed,
	    (unsigned long long)s->rejected_limit,
	    (unsigned long long)s->req_from_phone,
	    (unsigned long long)s->resp_from_phone,
	    (unsigned long long)s->req_from_backend,
	    (unsigned long long)s->resp_from_backend,
	    (unsigned long long)s->sent_error_responses,
	    (unsigned long long)s->dropped_parse,
	    (unsigned long long)s->dropped_no_flow,
	    (unsigned long long)s->dropped_foreign,
	    (unsigned long long)s->dropped_send,
	    (unsigned long long)s->dropped_congested,
	    (unsigned long long)s->retransmit_absorbed,
	    (unsigned long long)s->flow_failed, (unsigned long long)s->bad_token,
	    (unsigned long long)s->pings);
}

/* Builds every TLS context the config needs. Returns 0, or -1 with the
 * reason printed. */
static int
load_tls(struct server *srv)
{
	char err[512];

	srv->tls_server = tls_server_ctx_new(srv->cfg, err, sizeof(err));
	if (srv->tls_server == NULL) {
		log_error("%s: [tls]: %s", srv->cfg->path, err);
		return -1;
	}
	if (srv->cfg->backend.transport == TRANSPORT_TLS) {
		srv->tls_backend = tls_backend_ctx_new(srv->cfg, err, sizeof(err));
		if (srv->tls_backend == NULL) {
			log_error("%s: [backend]: %s", srv->cfg->path, err);
			return -1;
		}
	}
	return 0;
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval grace = { 0, 200000 };

	if (srv->stopping)
		return;
	srv->stopping = 1;
	log_notice("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	listener_stop_phones(srv);
	for (uint32_t i = 0; i < srv->conns.cap; i++) {
		struct conn *c = srv->conns.slot[i];

		if (c != NULL && c->kind != CONN_BACKEND_UDP)
			conn_close(c, CLOSE_SHUTDOWN, 1);
	}
	/* TODO: wait for transactions in flight up to a configurable
	 * shutdown timeout instead of a fixed grace period for the flush. */
	event_base_loopexit(srv->base, &grace);
}

static void
hup_cb(evutil_socket_t sig, short what, void *arg)
{
	/* TODO: re-read the config and certificates on SIGHUP. */
	log_notice("received SIGHUP: reload is not supported yet, ignored");
}

static int
install_signals(struct server *srv)
{
	srv->sig_ev[0] = evsignal_new(srv->base, SIGTERM, stop_cb, srv);
	srv->sig_ev[1] = evsignal_new(srv->base, SIGINT, stop_cb, srv);
	srv->sig_ev[2] = evsignal_new(srv->base, SIGHUP, hup_cb, srv);
	for (int i = 0; i < 3; i++)
		if (srv->sig_ev[i] == NULL || event_add(srv->sig_ev[i], NULL) == -1)
			return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void
server_free(struct server *srv)
{
	backend_stop(srv);
	listener_stop_phones(srv);
	if (srv->conns.slot != NULL) {
		for (uint32_t i = 0; i < srv->conns.cap; i++)
			if (srv->conns.slot[i] != NULL)
				conn_close(srv->conns.slot[i], CLOSE_SHUTDOWN, 0);
	}
	conn_reap(srv);
	if (srv->reap_ev != NULL)
		event_free(srv->reap_ev);
	for (int i = 0; i < 3; i++)
		if (srv->sig_ev[i] != NULL)
			event_free(srv->sig_ev[i]);
	conn_table_free(&srv->conns);
	/* Every phone connection has released its per-address slot by now. */
	free(srv->ip_buckets);
	flow_signer_free(srv->flow);
	SSL_CTX_free(srv->tls_server);
	SSL_CTX_free(srv->tls_backend);
	if (srv->base != NULL)
		event_base_free(srv->base);
	free(srv->udp_buf);
	config_free(srv->cfg);
}

int
main(int argc, char **argv)
{
	struct server srv;
	const char *path = NULL;
	int check_only = 0, ch, rc = 1;

	while ((ch = getopt(argc, argv, "c:thV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check_only = 1;
			break;
		case 'V':
			printf("sipsgate %s\n", SIPSGATE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}

	memset(&srv, 0, sizeof(srv));
	log_init(LOGL_INFO, 0);

	/* Start-up order: config, then certificates and keys, then sockets,
	 * then the loop. Every failure before "ready" reaches stderr and the
	 * exit code. */
	srv.cfg = config_load(path, stderr);
	if (srv.cfg == NULL)
		return 1;
	log_set_level(srv.cfg->log_level);
	sipmsg_global_init();
	if (tls_global_init() == -1)
		goto out;
	if (load_tls(&srv) == -1)
		goto out;
	if (check_only) {
		printf("%s: configuration OK\n", path);
		rc = 0;
		goto out;
	}

	srv.limits.max_message_size = srv.cfg->limits.max_message_size;
	srv.limits.max_headers = srv.cfg->limits.max_headers;
	srv.limits.max_line = srv.cfg->limits.max_line_length;
	srv.flow = flow_signer_new(NULL, 0);
	srv.udp_buf = malloc(UDP_BUF_SIZE);
	srv.base = event_base_new();
	if (srv.flow == NULL || srv.udp_buf == NULL || srv.base == NULL ||
	    conn_table_init(&srv.conns,
	    (uint32_t)srv.cfg->limits.max_connections + TABLE_EXTRA) == -1) {
		log_error("start-up failed: out of memory");
		goto out;
	}
	if (listener_start_phones(&srv) == -1 || backend_start(&srv) == -1)
		goto out;
	if (install_signals(&srv) == -1) {
		log_error("cannot install signal handlers");
		goto out;
	}
	/* TODO: drop privileges here when started as root. */

	log_notice("sipsgate ready: version %s, backend %s", SIPSGATE_VERSION,
	    srv.cfg->backend.uri);
	if (event_base_dispatch(srv.base) == -1) {
		log_error("event loop failed");
		goto out;
	}
	log_counters(&srv);
	log_notice("sipsgate stopped");
	rc = 0;
out:
	server_free(&srv);
	return rc;
}
