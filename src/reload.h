/* Loading the TLS material, and SIGHUP: re-reading the config file and
 * every certificate, key and CRL while connections carry on. */
#ifndef SIPSGATE_RELOAD_H
#define SIPSGATE_RELOAD_H

#include <openssl/ssl.h>

struct config;
struct server;

/*
 * Builds the phone-facing context and, for a TLS backend, the backend
 * context from cfg, and warns about certificates and CRLs that expire
 * within 30 days. Returns 0, or -1 with the reason logged ("file:line:
 * key: message" where a key is at fault) and nothing built.
 */
int server_tls_load(const struct config *cfg, SSL_CTX **server,
    SSL_CTX **backend);

/*
 * Reads the config file again and builds new TLS contexts from it. On
 * success, new handshakes use the new material, established connections
 * keep theirs, limits, timeouts, [proxy] sips_plain_backend and the log
 * level take effect, and "reload complete" is logged. Keys that need a
 * restart keep their running value, with a warning naming each changed
 * one. On any error the running configuration stays and the errors are
 * logged. Returns 0 or -1.
 */
int server_reload(struct server *srv);

/* Starts or stops the daily repeat of the expiry warnings. */
int server_expiry_timer_start(struct server *srv);
void server_expiry_timer_stop(struct server *srv);

#endif
