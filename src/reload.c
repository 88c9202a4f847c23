/*
 * Start-up loading of the TLS contexts, and SIGHUP reload.
 *
 * A reload builds everything new before it changes anything: the config
 * is read and checked like at start-up, then the contexts are built from
 * it. Only when both succeed is the running state switched over, between
 * two events. Nothing keeps a pointer into the old config across events
 * (every module reads srv->cfg when it needs a value), so the old one can
 * be freed at once. Each SSL holds a reference to the context it was made
 * from, so established connections keep their certificates, trust store
 * and ticket keys until they close.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* open_memstream */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "reload.h"
#include "server.h"
#include "tls.h"

#define EXPIRY_CHECK_SECONDS	86400

static void
warn_expiry(SSL_CTX *server, SSL_CTX *backend)
{
	time_t now = time(NULL);

	tls_warn_expiry(server, now);
	if (backend != NULL)
		tls_warn_expiry(backend, now);
}

int
server_tls_load(const struct config *cfg, SSL_CTX **server,
    SSL_CTX **backend)
{
	char err[1024];

	*server = tls_server_ctx_new(cfg, err, sizeof(err));
	if (*server == NULL) {
		log_error("%s", err);
		return -1;
	}
	*backend = NULL;
	if (cfg->backend.transport == TRANSPORT_TLS) {
		*backend = tls_backend_ctx_new(cfg, err, sizeof(err));
		if (*backend == NULL) {
			log_error("%s", err);
			SSL_CTX_free(*server);
			*server = NULL;
			return -1;
		}
	}
	warn_expiry(*server, *backend);
	return 0;
}

/* ---- keys that need a restart ---- */

static int
same_string(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Replaces *dst with a copy of src. Returns 0, or -1 without memory. */
static int
copy_string(char **dst, const char *src)
{
	char *copy = NULL;

	if (src != NULL && (copy = strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

static void
warn_restart(const char *key, const char *why)
{
	log_warning("reload: %s changed, but %s; the running value stays "
	    "until a restart", key, why);
}

static int
listen_changed(const struct config *old, const struct config *new)
{
	int i;

	if (old->tls.nlisten != new->tls.nlisten)
		return 1;
	for (i = 0; i < old->tls.nlisten; i++)
		if (strcmp(old->tls.listen[i].text, new->tls.listen[i].text) != 0)
			return 1;
	return 0;
}

/*
 * The backend address is always kept, even for an unchanged uri: its
 * name may now resolve elsewhere, and the running sockets and the check
 * on where backend messages come from use the old address. A changed uri
 * keeps the whole running [backend] section, because its TLS files were
 * checked against the transport of the new uri.
 */
static int
keep_backend(const struct config *old, struct config *new)
{
	if (!same_string(old->backend.uri, new->backend.uri)) {
		warn_restart("[backend] uri", "the backend connection and "
		    "transactions use it (the rest of [backend] stays too)");
		if (copy_string(&new->backend.ca_file, old->backend.ca_file) ==
		    -1 || copy_string(&new->backend.certificate,
		    old->backend.certificate) == -1 ||
		    copy_string(&new->backend.private_key,
		    old->backend.private_key) == -1)
			return -1;
	}
	if (strcmp(old->backend.listen.text, new->backend.listen.text) != 0)
		warn_restart("[backend] listen", "its sockets are bound");
	if (copy_string(&new->backend.uri, old->backend.uri) == -1)
		return -1;
	memcpy(new->backend.host, old->backend.host, sizeof(old->backend.host));
	new->backend.transport = old->backend.transport;
	new->backend.sips = old->backend.sips;
	new->backend.port = old->backend.port;
	new->backend.addr = old->backend.addr;
	new->backend.addrlen = old->backend.addrlen;
	new->backend.listen = old->backend.listen;
	return 0;
}

/*
 * Puts the running value back into new for each key that a reload cannot
 * apply, with a warning for each that changed. public_host is among them
 * because the Record-Route entries of dialogs in progress name it, and
 * requests in those dialogs would no longer be recognised as ours.
 */
static int
keep_restart_keys(const struct config *old, struct config *new)
{
	if (listen_changed(old, new))
		warn_restart("[tls] listen", "its sockets are bound");
	memcpy(new->tls.listen, old->tls.listen, sizeof(old->tls.listen));
	new->tls.nlisten = old->tls.nlisten;
	new->proxy.public_port = old->proxy.public_port;

	if (!same_string(old->proxy.public_host, new->proxy.public_host))
		warn_restart("[proxy] public_host", "dialogs in progress "
		    "route through it");
	if (copy_string(&new->proxy.public_host, old->proxy.public_host) == -1)
		return -1;

	if (!same_string(old->general.user, new->general.user) ||
	    !same_string(old->general.group, new->general.group))
		warn_restart("[general] user or group", "privileges are "
		    "dropped once at start-up");
	if (copy_string(&new->general.user, old->general.user) == -1 ||
	    copy_string(&new->general.group, old->general.group) == -1)
		return -1;

	/* The connection table was sized for the old value. */
	if (new->limits.max_connections > old->limits.max_connections) {
		warn_restart("[limits] max_connections", "the connection table "
		    "cannot grow");
		new->limits.max_connections = old->limits.max_connections;
	}
	if (old->log_syslog != new->log_syslog ||
	    old->log_facility != new->log_facility)
		warn_restart("[log] syslog or facility", "the log sink is "
		    "chosen at start-up");
	new->log_syslog = old->log_syslog;
	new->log_facility = old->log_facility;
	return keep_backend(old, new);
}

/* ---- reloading ---- */

/* Reads the config file, logging each error line as it would have been
 * printed at start-up. */
static struct config *
reload_config(const char *path)
{
	struct config *cfg;
	char *text = NULL, *line, *next;
	size_t len = 0;
	FILE *errs;

	if ((errs = open_memstream(&text, &len)) == NULL) {
		log_error("reload: open_memstream: out of memory");
		return NULL;
	}
	cfg = config_load(path, errs);
	fclose(errs);
	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		log_error("%s", line);
	}
	free(text);
	return cfg;
}

static void
apply(struct server *srv, struct config *cfg, SSL_CTX *server,
    SSL_CTX *backend)
{
	struct config *old = srv->cfg;

	srv->cfg = cfg;
	SSL_CTX_free(srv->tls_server);
	srv->tls_server = server;
	SSL_CTX_free(srv->tls_backend);
	srv->tls_backend = backend;
	srv->limits.max_message_size = cfg->limits.max_message_size;
	srv->limits.max_headers = cfg->limits.max_headers;
	srv->limits.max_line = cfg->limits.max_line_length;
	config_free(old);
}

int
server_reload(struct server *srv)
{
	const char *path = srv->cfg->path;
	int old_level = log_threshold;
	SSL_CTX *server = NULL, *backend = NULL;
	struct config *cfg;

	log_notice("reloading %s", path);
	if ((cfg = reload_config(path)) == NULL)
		goto fail;
	if (keep_restart_keys(srv->cfg, cfg) == -1) {
		log_error("reload: out of memory");
		goto fail;
	}
	/* The contexts log handshake steps when debug is on as they are
	 * built, so the new level comes first. */
	log_set_level(cfg->log_level);
	if (server_tls_load(cfg, &server, &backend) == -1) {
		log_set_level(old_level);
		goto fail;
	}
	apply(srv, cfg, server, backend);
	log_notice("reload complete: new connections use the new "
	    "certificates and settings");
	return 0;

fail:
	config_free(cfg);
	log_error("reload failed: the running configuration stays");
	return -1;
}

/* ---- the daily expiry check ---- */

static void
expiry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	warn_expiry(srv->tls_server, srv->tls_backend);
}

int
server_expiry_timer_start(struct server *srv)
{
	struct timeval day = { EXPIRY_CHECK_SECONDS, 0 };

	srv->expiry_ev = event_new(srv->base, -1, EV_PERSIST, expiry_cb, srv);
	if (srv->expiry_ev == NULL || event_add(srv->expiry_ev, &day) == -1)
		return -1;
	return 0;
}

void
server_expiry_timer_stop(struct server *srv)
{
	if (srv->expiry_ev != NULL)
		event_free(srv->expiry_ev);
	srv->expiry_ev = NULL;
}
