/* sipsgate: command line, start-up order, signals and the event loop. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "backend.h"
#include "config.h"
#include "conn.h"
#include "flow.h"
#include "listener.h"
#include "log.h"
#include "privdrop.h"
#include "reload.h"
#include "sdnotify.h"
#include "server.h"
#include "sipmsg.h"
#include "tls.h"

#define SIPSGATE_VERSION "0.1.0"
/* Slots in the connection table: phone connections are capped by
 * [limits] max_connections, plus room for backend connections. */
#define TABLE_EXTRA 64
/* How often a graceful stop checks for unanswered requests and unsent
 * output. The backend offers no completion callback, so this bounds the
 * delay a stop adds after the last response. */
#define DRAIN_POLL_MS 50
/* How long a stop waits for queued output to reach slow readers once the
 * transactions are done, before closing regardless. */
#define FLUSH_LIMIT_MS 2000

/* The stages of a graceful stop. */
enum run_phase {
	PHASE_RUNNING,
	PHASE_DRAINING,		/* no new phones; waiting for the backend */
	PHASE_FLUSHING,		/* writing out what is queued, then exit */
};

/* The process around the server: what main() owns besides struct server,
 * reached by the signal and timer callbacks. */
struct daemon {
	struct server srv;
	struct sdnotify notify;
	struct privdrop priv;
	struct event *watchdog_ev;	/* NULL unless the watchdog is on */
	struct event *drain_ev;
	enum run_phase phase;
	uint64_t drain_deadline_ms;	/* CLOCK_MONOTONIC */
	uint64_t flush_deadline_ms;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: sipsgate [-t] -c FILE\n"
	    "       sipsgate --check-cert CERT -c FILE\n"
	    "  -c FILE  configuration file (ini)\n"
	    "  -t       check the configuration, certificates and keys, then exit\n"
	    "  --check-cert CERT\n"
	    "           verify a phone certificate (PEM, leaf first, then its\n"
	    "           intermediates) as a handshake would, print the verdict\n"
	    "           and identities, then exit: 0 accepted, 1 rejected, 2 error\n"
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
	return server_tls_load(srv->cfg, &srv->tls_server, &srv->tls_backend);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sends msg to systemd and logs a failure, which only costs systemd's
 * view of the state and is no reason to stop. */
static void
notify(struct daemon *d, const char *msg)
{
	if (sdnotify_send(&d->notify, msg) == -1)
		log_warning("sd_notify %.*s: %s", (int)strcspn(msg, "\n"), msg,
		    strerror(errno));
}

static int
has_unsent_output(const struct conn *c)
{
	return c->bev != NULL && c->state <= CONN_OPEN &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0;
}

/*
 * Closes every stream connection whose output is written, or all of them
 * once the flush limit has passed, and ends the loop when none is left.
 * Closing sends TLS close_notify. The UDP socket stays for server_free.
 */
static void
flush_step(struct daemon *d)
{
	struct server *srv = &d->srv;
	int late = now_ms() >= d->flush_deadline_ms;
	size_t left = 0;

	for (uint32_t i = 0; i < srv->conns.cap; i++) {
		struct conn *c = srv->conns.slot[i];

		if (c == NULL || c->kind == CONN_BACKEND_UDP)
			continue;
		if (!late && has_unsent_output(c)) {
			left++;
			continue;
		}
		conn_close(c, CLOSE_SHUTDOWN, 0);
	}
	if (left == 0)
		event_base_loopexit(srv->base, NULL);
}

static void
start_flush(struct daemon *d)
{
	d->phase = PHASE_FLUSHING;
	d->flush_deadline_ms = now_ms() + FLUSH_LIMIT_MS;
	flush_step(d);
}

static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	size_t pending;

	if (d->phase == PHASE_FLUSHING) {
		flush_step(d);
		return;
	}
	pending = backend_pending(&d->srv);
	if (pending == 0) {
		log_info("no request toward the backend is pending, closing "
		    "connections");
		start_flush(d);
	} else if (now_ms() >= d->drain_deadline_ms) {
		log_notice("shutdown_timeout (%d s) reached with %zu requests "
		    "toward the backend unanswered, closing connections",
		    d->srv.cfg->general.shutdown_timeout, pending);
		start_flush(d);
	}
}

/*
 * SIGTERM or SIGINT: stop accepting phones, let requests in flight get
 * their final responses for up to [general] shutdown_timeout, then write
 * out what is queued and exit. A second signal skips the wait.
 */
static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct server *srv = &d->srv;
	const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
	struct timeval poll = { 0, DRAIN_POLL_MS * 1000 };
	char status[128];

	if (d->phase == PHASE_DRAINING) {
		log_notice("received %s again, closing connections now", name);
		start_flush(d);
		return;
	}
	if (d->phase != PHASE_RUNNING)
		return;

	srv->stopping = 1;
	d->phase = PHASE_DRAINING;
	d->drain_deadline_ms = now_ms() +
	    (uint64_t)srv->cfg->general.shutdown_timeout * 1000;
	listener_stop_phones(srv);
	log_notice("received %s, stopping: %zu requests toward the backend "
	    "pending, waiting up to %d s", name, backend_pending(srv),
	    srv->cfg->general.shutdown_timeout);
	snprintf(status, sizeof(status), "STOPPING=1\nSTATUS=stopping, "
	    "waiting up to %d s for the backend",
	    srv->cfg->general.shutdown_timeout);
	/* The watchdog keeps running: the drain may outlast WatchdogSec,
	 * and the pings stop only with the loop. */
	notify(d, status);

	d->drain_ev = event_new(srv->base, -1, EV_PERSIST, drain_cb, d);
	if (d->drain_ev == NULL || event_add(d->drain_ev, &poll) == -1) {
		log_error("cannot start the shutdown timer, closing now");
		start_flush(d);
		return;
	}
	drain_cb(-1, 0, d);
}

static void
hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	if (sdnotify_reloading(&d->notify) == -1)
		log_warning("sd_notify RELOADING=1: %s", strerror(errno));
	/* After a privilege drop the files must be readable by [general]
	 * user. When they are not, the reload fails and the old ones stay. */
	log_notice("received SIGHUP");
	server_reload(&d->srv);
	notify(d, "READY=1");
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	notify(arg, "WATCHDOG=1");
}

/* Pings systemd at half the timeout, from a timer on the event loop, so
 * a loop that stops running stops the pings and systemd restarts the
 * daemon. Returns 0, or -1 when the timer cannot be set. */
static int
start_watchdog(struct daemon *d)
{
	uint64_t usec = sdnotify_watchdog_usec();
	struct timeval tv;

	if (usec == 0)
		return 0;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	d->watchdog_ev = event_new(d->srv.base, -1, EV_PERSIST, watchdog_cb, d);
	if (d->watchdog_ev == NULL || event_add(d->watchdog_ev, &tv) == -1)
		return -1;
	log_info("systemd watchdog on: ping every %llu ms",
	    (unsigned long long)(usec / 1000));
	return 0;
}

static int
install_signals(struct daemon *d)
{
	struct server *srv = &d->srv;

	srv->sig_ev[0] = evsignal_new(srv->base, SIGTERM, stop_cb, d);
	srv->sig_ev[1] = evsignal_new(srv->base, SIGINT, stop_cb, d);
	srv->sig_ev[2] = evsignal_new(srv->base, SIGHUP, hup_cb, d);
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
	server_expiry_timer_stop(srv);
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

static void
daemon_free(struct daemon *d)
{
	if (d->watchdog_ev != NULL)
		event_free(d->watchdog_ev);
	if (d->drain_ev != NULL)
		event_free(d->drain_ev);
	server_free(&d->srv);
	sdnotify_close(&d->notify);
}

/* Allocates what the loop needs and binds every socket. Returns 0, or -1
 * with the reason logged. */
static int
start_server(struct server *srv)
{
	srv->limits.max_message_size = srv->cfg->limits.max_message_size;
	srv->limits.max_headers = srv->cfg->limits.max_headers;
	srv->limits.max_line = srv->cfg->limits.max_line_length;
	srv->flow = flow_signer_new(NULL, 0);
	srv->udp_buf = malloc(UDP_BUF_SIZE);
	srv->base = event_base_new();
	if (srv->flow == NULL || srv->udp_buf == NULL || srv->base == NULL ||
	    conn_table_init(&srv->conns,
	    (uint32_t)srv->cfg->limits.max_connections + TABLE_EXTRA) == -1) {
		log_error("start-up failed: out of memory");
		return -1;
	}
	if (listener_start_phones(srv) == -1 || backend_start(srv) == -1)
		return -1;
	return 0;
}

/* Moves logging to syslog when [log] syslog = yes. Until this point
 * every line goes to stderr, so start-up errors reach the terminal or
 * the journal even with syslog configured. */
static void
switch_log_sink(const struct config *cfg)
{
	char name[16] = "daemon";

	if (!cfg->log_syslog)
		return;
	if (cfg->log_facility != LOG_DAEMON)
		snprintf(name, sizeof(name), "local%d",
		    (cfg->log_facility - LOG_LOCAL0) >> 3);
	log_notice("logging to syslog from now on (facility %s)", name);
	log_set_sink(1, cfg->log_facility);
}

/* Long options without a short form get values above any character. */
enum { OPT_CHECK_CERT = 256 };

static const struct option long_options[] = {
	{ "check-cert", required_argument, NULL, OPT_CHECK_CERT },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	struct daemon d;
	struct server *srv = &d.srv;
	const char *path = NULL;
	const char *check_cert = NULL;
	int check_only = 0, ch, rc = 1;
	char err[512], status[256];

	while ((ch = getopt_long(argc, argv, "c:thV", long_options,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case OPT_CHECK_CERT:
			check_cert = optarg;
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

	memset(&d, 0, sizeof(d));
	sdnotify_init(&d.notify);
	log_init(LOGL_INFO, 0);

	/*
	 * Start-up order: config and accounts, then certificates and keys
	 * (read as the starting user, so they may be readable by root only),
	 * then every socket, then the switch to [general] user, then the
	 * loop and READY=1. Every failure before "ready" reaches stderr and
	 * the exit code.
	 */
	srv->cfg = config_load(path, stderr);
	if (srv->cfg == NULL)
		return check_cert != NULL ? 2 : 1;
	log_set_level(srv->cfg->log_level);
	if (check_cert != NULL) {
		rc = tls_global_init() == -1 ? 2 :
		    tls_check_cert(srv->cfg, check_cert, stdout);
		goto out;
	}
	if (privdrop_prepare(srv->cfg, &d.priv, err, sizeof(err)) == -1) {
		log_error("%s", err);
		goto out;
	}
	sipmsg_global_init();
	if (tls_global_init() == -1)
		goto out;
	if (load_tls(srv) == -1)
		goto out;
	if (check_only) {
		printf("%s: configuration OK\n", path);
		rc = 0;
		goto out;
	}

	if (sdnotify_open(&d.notify, err, sizeof(err)) == -1) {
		log_error("%s", err);
		goto out;
	}
	if (start_server(srv) == -1)
		goto out;
	if (install_signals(&d) == -1) {
		log_error("cannot install signal handlers");
		goto out;
	}
	if (privdrop_apply(&d.priv, err, sizeof(err)) == -1) {
		log_error("%s", err);
		goto out;
	}
	if (start_watchdog(&d) == -1) {
		log_error("cannot start the systemd watchdog timer");
		goto out;
	}
	if (server_expiry_timer_start(srv) == -1) {
		log_error("cannot start the daily certificate expiry check");
		goto out;
	}
	switch_log_sink(srv->cfg);

	log_notice("sipsgate ready: version %s, backend %s", SIPSGATE_VERSION,
	    srv->cfg->backend.uri);
	snprintf(status, sizeof(status), "READY=1\nSTATUS=ready, backend %s",
	    srv->cfg->backend.uri);
	notify(&d, status);
	if (event_base_dispatch(srv->base) == -1) {
		log_error("event loop failed");
		goto out;
	}
	log_counters(srv);
	log_notice("sipsgate stopped");
	rc = 0;
out:
	daemon_free(&d);
	return rc;
}
