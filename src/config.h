/* The one ini file, read with inih into an immutable struct config.
 * Pure: no sockets, no libevent, no globals. */
#ifndef SIPSGATE_CONFIG_H
#define SIPSGATE_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CONFIG_MAX_LISTEN 16

enum transport { TRANSPORT_UDP, TRANSPORT_TCP, TRANSPORT_TLS };
enum verify_client { VERIFY_REQUIRE, VERIFY_OPTIONAL, VERIFY_OFF };
/* What to do with a sips: Request-URI or Contact when the backend leg is
 * plain UDP or TCP (RFC 5630 removed the "last hop" exception). */
enum sips_policy { SIPS_REJECT, SIPS_RELAY };

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];		/* "127.0.0.1:5061" or "[::1]:5061" */
	char host[48];		/* "127.0.0.1" or "::1", no brackets */
	uint16_t port;
};

struct config {
	char *path;		/* as given on the command line */

	struct {
		char *user;		/* NULL: keep the starting user */
		char *group;		/* NULL: the user's primary group */
		int shutdown_timeout;	/* seconds to let transactions finish */
	} general;

	struct {
		struct listen_addr listen[CONFIG_MAX_LISTEN];
		int nlisten;
		char *certificate;	/* absolute paths after loading */
		char *private_key;
		char *ca_file;
		enum verify_client verify_client;
		int verify_depth;
		int min_version;	/* TLS1_2_VERSION or TLS1_3_VERSION */
	} tls;

	struct {
		char *uri;		/* as written */
		enum transport transport;
		int sips;		/* uri scheme was sips: */
		char host[256];		/* host part of uri, no brackets */
		uint16_t port;		/* explicit or 5060 / 5061 */
		struct sockaddr_storage addr;	/* resolved at load time */
		socklen_t addrlen;
		struct listen_addr listen;	/* [backend] listen */
		char *ca_file;		/* NULL when empty */
		char *certificate;
		char *private_key;
	} backend;

	struct {
		char *public_host;	/* as written: an IPv6 address keeps
					 * its brackets, ready for a URI */
		uint16_t public_port;	/* port of the first [tls] listen address */
		enum sips_policy sips_plain_backend;
	} proxy;

	struct {
		size_t max_message_size;
		size_t max_headers;
		size_t max_line_length;
		int max_via;
		int max_connections;
		int max_connections_per_ip;
		int handshake_timeout;	/* seconds */
		int idle_timeout;	/* seconds */
		int header_timeout;	/* seconds to receive a whole message once started */
		size_t output_high_water; /* bytes queued on one connection before back-pressure */
	} limits;

	int log_level;		/* LOGL_* */
	int log_syslog;		/* 1: syslog(3) instead of stderr */
	int log_facility;	/* LOG_DAEMON or LOG_LOCAL0 .. LOG_LOCAL7 */
};

/*
 * Reads and checks path. Every problem is written to errs as
 * "file:line: key: message" (line 0 when the problem is a missing
 * required key or a file that cannot be opened), and all of them are
 * reported, not only the first. Returns the config, or NULL when there
 * was at least one error. Certificate and key files are checked to be
 * readable here; their contents are checked by tls.c.
 */
struct config *config_load(const char *path, FILE *errs);
void config_free(struct config *cfg);

/* Parses "host:port", "[v6]:port" or "host" (port defaults to
 * default_port) into a listen_addr. Host must be a numeric address.
 * Returns 0, or -1 with a message in err. */
int config_parse_addr(const char *s, uint16_t default_port,
    struct listen_addr *out, char *err, size_t errlen);

#endif
