/* The one ini file, read with inih into an immutable struct config.
 * Pure: no sockets, no libevent, no globals. */
#ifndef SIPSGATE_CONFIG_H
#define SIPSGATE_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CONFIG_MAX_LISTEN 16
/* Certificate and key pairs in one set. OpenSSL keeps one certificate per
 * key type (RSA, ECDSA P-256/P-384/P-521, Ed25519, Ed448) and picks one
 * per client, so a few are enough. */
#define CONFIG_MAX_CERTS 4
/* [sni:NAME] sections. */
#define CONFIG_MAX_SNI 64
#define CONFIG_MAX_TRUSTED_HEADERS 8

/* Defaults of [tls] ciphers, ciphersuites and groups. TLS 1.2 gets
 * ephemeral ECDH (forward secrecy) with AEAD ciphers only. "!aNULL" drops
 * the anonymous ECDH suites that "ECDHE" also selects. The TLS 1.3 suites
 * are OpenSSL's own default list. */
#define CONFIG_DEFAULT_CIPHERS		"ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"
#define CONFIG_DEFAULT_CIPHERSUITES	"TLS_AES_256_GCM_SHA384:" \
	"TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#define CONFIG_DEFAULT_GROUPS		"X25519:P-256:P-384"

enum transport { TRANSPORT_UDP, TRANSPORT_TCP, TRANSPORT_TLS };
enum verify_client { VERIFY_REQUIRE, VERIFY_OPTIONAL, VERIFY_OFF };
/* The CAs that need a CRL in crl_file: the issuer of the phone
 * certificate only, or every CA in its chain. */
enum crl_check { CRL_CHECK_LEAF, CRL_CHECK_CHAIN };
/* The match required between a phone's requests and its certificate
 * identities: none, the host part, or user and host. */
enum identity_check { IDENTITY_OFF, IDENTITY_DOMAIN, IDENTITY_USER };
/* Policy for a sips: Request-URI or Contact when the backend leg is
 * plain UDP or TCP (RFC 5630 removed the "last hop" exception). */
enum sips_policy { SIPS_REJECT, SIPS_RELAY };

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];		/* "127.0.0.1:5061" or "[::1]:5061" */
	char host[48];		/* "127.0.0.1" or "::1", no brackets */
	uint16_t port;
};

/* Server certificates presented by default ([tls]) or for one server
 * name ([sni:NAME]). certificate[i] goes with private_key[i]. */
struct cert_set {
	char *server_name;	/* NULL for the [tls] set; else lower case, may
				 * start with "*." to match one more label */
	char *certificate[CONFIG_MAX_CERTS];	/* absolute paths */
	char *private_key[CONFIG_MAX_CERTS];
	int ncertificate;
	int nprivate_key;
	int certificate_line;	/* where each list was set, for messages */
	int private_key_line;
};

struct config {
	char *path;		/* as given on the command line */
	int *key_line;		/* see config_line() */

	struct {
		char *user;		/* NULL: keep the starting user */
		char *group;		/* NULL: the user's primary group */
		int shutdown_timeout;	/* seconds to let transactions finish */
	} general;

	struct {
		struct listen_addr listen[CONFIG_MAX_LISTEN];
		int nlisten;
		struct cert_set certs;	/* the default set */
		struct cert_set *sni;	/* [sni:NAME] sections, in file order */
		int nsni;
		char *ca_file;		/* absolute paths after loading */
		char *crl_file;		/* NULL: no revocation check */
		enum crl_check crl_check;
		enum verify_client verify_client;
		int verify_depth;
		int min_version;	/* TLS1_2_VERSION or TLS1_3_VERSION */
		int max_version;
		char *ciphers;		/* OpenSSL cipher list for TLS 1.2 */
		char *ciphersuites;	/* TLS 1.3 suites */
		char *groups;		/* key exchange groups */
		int session_resumption;	/* 1: session tickets on */
		int ticket_key_rotation; /* seconds a ticket key encrypts */
		enum identity_check identity_check;
		/* Headers sipsgate owns toward the backend: removed from what
		 * phones send, then added from the verified certificate. */
		char *trusted_headers[CONFIG_MAX_TRUSTED_HEADERS];
		int ntrusted_headers;
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

/* Returns the line where key was set in section, or 0 when it was not set
 * (a default applies) or does not exist. Lets tls.c report what it finds
 * wrong in a value as "file:line: key: message". */
int config_line(const struct config *cfg, const char *section,
    const char *key);

/* Parses "host:port", "[v6]:port" or "host" (port defaults to
 * default_port) into a listen_addr. Host must be a numeric address.
 * Returns 0, or -1 with a message in err. */
int config_parse_addr(const char *s, uint16_t default_port,
    struct listen_addr *out, char *err, size_t errlen);

#endif
