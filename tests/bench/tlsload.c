/*
 * tlsload: the load client of make bench. It drives a SIP-over-TLS edge
 * on 127.0.0.1 with mutual TLS, as a crowd of phones would, and prints
 * its results as key=value lines for tests/bench/bench.py.
 *
 *   tlsload handshake -p PORT -n N      N full handshakes, one after the
 *                                       other; each sends a CRLFCRLF ping,
 *                                       waits for the CRLF pong, closes
 *   tlsload register -p PORT -n M -c C -w W
 *                                       M REGISTERs pipelined over C
 *                                       connections, at most W outstanding
 *                                       in all; waits for a line on
 *                                       stdin before the first and after
 *                                       the last
 *   tlsload idle -p PORT -c K           K connections that each register
 *                                       once, then stay open until a line
 *                                       or end of file on stdin
 *
 * Common options: -C client chain, -K client key, -A CA file that verifies
 * the server, -t overall deadline in seconds. The host is always
 * 127.0.0.1 so that the load never leaves the machine.
 *
 * Sessions are never resumed: the client keeps no session cache and never
 * offers a session, so every handshake is a full one with certificate
 * verification on both sides. The pong in handshake mode proves that the
 * server finished its side, including the check of the client
 * certificate, before the next connection starts.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define HOST		"127.0.0.1"
#define SERVER_NAME	"sips.example.com"
#define IO_TIMEOUT_S	10		/* one blocking send or receive */
#define RBUF_SIZE	65536		/* one connection's unparsed input */
#define MSG_MAX		2048		/* one REGISTER as built here */

struct options {
	const char	*mode;
	int		 port;
	const char	*cert;
	const char	*key;
	const char	*ca;
	long		 count;		/* handshakes or REGISTERs */
	int		 conns;
	int		 window;
	int		 deadline_s;
	double		 deadline_at;	/* CLOCK_MONOTONIC seconds */
};

/* One phone connection with its framing state. */
struct phone {
	int		 fd;
	SSL		*ssl;
	int		 index;		/* names the user: bench<index> */
	unsigned long	 cseq;
	int		 outstanding;	/* REGISTERs sent, final response not yet */
	char		 out[MSG_MAX];	/* a message SSL_write has not taken yet */
	int		 out_len;	/* 0: nothing pending */
	char		 in[RBUF_SIZE];
	size_t		 in_len;
};

/* Final responses counted over all connections. */
struct tally {
	long		 sent;
	long		 ok;		/* 200 to REGISTER */
	long		 other;		/* any other final response */
	char		 first_other[128];
	char		 path[256];	/* Path of the first 200, "" if none */
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;
	unsigned long e;
	char buf[256];

	fprintf(stderr, "tlsload: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, ": %s", buf);
	}
	fprintf(stderr, "\n");
	exit(1);
}

static void
check_deadline(const struct options *o, const char *what)
{
	if (now() > o->deadline_at)
		die("deadline passed during %s", what);
}

/* Raises the open-file limit to the hard limit, because idle mode keeps
 * one socket per phone open. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("getrlimit RLIMIT_NOFILE: %s", strerror(errno));
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		die("setrlimit RLIMIT_NOFILE %lu: %s",
		    (unsigned long)rl.rlim_max, strerror(errno));
}

/* Blocks until the driver writes a line to stdin or closes it. */
static void
wait_for_driver(void)
{
	char line[16];

	if (fgets(line, sizeof(line), stdin) == NULL && ferror(stdin))
		die("reading stdin: %s", strerror(errno));
}

/* Counts a session the server sent in the counter that the context's
 * app data points to, if any. Returning 0 leaves the session to
 * OpenSSL, which frees it. */
static int
count_ticket(SSL *ssl, SSL_SESSION *session)
{
	long *tickets = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	if (tickets != NULL)
		(*tickets)++;
	return 0;
}

static SSL_CTX *
make_ctx(const struct options *o)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new");
	if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1)
		die("client chain %s", o->cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1)
		die("client key %s", o->key);
	if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1)
		die("CA file %s", o->ca);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Session tickets are accepted, as a phone would, but only
	 * counted: nothing is stored, so no session is ever offered for
	 * resumption. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, count_ticket);
	return ctx;
}

static int
tcp_connect(int port)
{
	struct sockaddr_in sin;
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	int fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	inet_pton(AF_INET, HOST, &sin.sin_addr);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("connect %s:%d: %s", HOST, port, strerror(errno));
	return fd;
}

/* Connects and completes a full handshake on a blocking socket with the
 * I/O timeouts of tcp_connect. */
static void
phone_open(struct phone *p, SSL_CTX *ctx, const struct options *o)
{
	p->fd = tcp_connect(o->port);
	if ((p->ssl = SSL_new(ctx)) == NULL)
		die("SSL_new");
	SSL_set_fd(p->ssl, p->fd);
	SSL_set_tlsext_host_name(p->ssl, SERVER_NAME);
	if (SSL_set1_host(p->ssl, SERVER_NAME) != 1)
		die("SSL_set1_host");
	if (SSL_connect(p->ssl) != 1)
		die("handshake with %s:%d failed (phone %d)", HOST, o->port,
		    p->index);
	if (SSL_session_reused(p->ssl))
		die("handshake resumed a session (phone %d)", p->index);
	p->in_len = 0;
	p->out_len = 0;
	p->outstanding = 0;
}

static int
fcntl_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags == -1)
		return -1;
	return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void
phone_close(struct phone *p)
{
	if (p->ssl != NULL) {
		SSL_shutdown(p->ssl);
		SSL_free(p->ssl);
		p->ssl = NULL;
	}
	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
}

static void
print_session(SSL *ssl)
{
	int nid = SSL_get_negotiated_group(ssl);

	printf("tls_version=%s\n", SSL_get_version(ssl));
	printf("cipher=%s\n", SSL_get_cipher_name(ssl));
	printf("group=%s\n", nid > 0 ? OBJ_nid2sn(nid) : "none");
}

/* Blocking write of the whole buffer. */
static void
write_all(SSL *ssl, const char *buf, int len, const char *what)
{
	if (SSL_write(ssl, buf, len) != len)
		die("sending %s failed", what);
}

static void
run_handshakes(const struct options *o, SSL_CTX *ctx)
{
	struct phone *p;
	double start;
	long i, tickets = 0;
	char pong[64];
	int n;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		die("calloc");
	SSL_CTX_set_app_data(ctx, &tickets);
	start = now();
	for (i = 0; i < o->count; i++) {
		check_deadline(o, "handshakes");
		p->index = (int)i;
		phone_open(p, ctx, o);
		if (i == 0)
			print_session(p->ssl);
		write_all(p->ssl, "\r\n\r\n", 4, "keepalive ping");
		/* SSL_read also consumes any TLS 1.3 session tickets that
		 * arrive before the pong. */
		n = SSL_read(p->ssl, pong, sizeof(pong));
		if (n <= 0 || memchr(pong, '\n', n) == NULL)
			die("no pong after handshake %ld", i);
		phone_close(p);
	}
	printf("handshakes=%ld\n", o->count);
	printf("tickets=%ld\n", tickets);
	SSL_CTX_set_app_data(ctx, NULL);
	printf("seconds=%.3f\n", now() - start);
	free(p);
}

static int
build_register(struct phone *p, char *buf, size_t size)
{
	unsigned long r1 = (unsigned long)random(), r2 = (unsigned long)random();
	int n;

	p->cseq++;
	n = snprintf(buf, size,
	    "REGISTER sip:example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS h%d.invalid;branch=z9hG4bK%08lx%08lx%lu;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:bench%d@example.com>;tag=%08lx\r\n"
	    "To: <sip:bench%d@example.com>\r\n"
	    "Call-ID: %08lx%08lx-%d@h%d.invalid\r\n"
	    "CSeq: %lu REGISTER\r\n"
	    "Contact: <sip:bench%d@h%d.invalid;transport=tls>\r\n"
	    "Expires: 3600\r\n"
	    "Supported: path\r\n"
	    "User-Agent: sipsgate-bench\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n",
	    p->index, r1, r2, p->cseq, p->index, r2, p->index, r1, r2,
	    p->index, p->index, p->cseq, p->index, p->index);
	if (n <= 0 || (size_t)n >= size)
		die("REGISTER does not fit in %zu bytes", size);
	return n;
}

/* Finds header name (or its compact form, 0 for none) in the header
 * section head[0..len). Returns its value with leading blanks skipped
 * and stores the value's length up to the line end in *vlen, or returns
 * NULL when the header is missing. */
static const char *
find_header(const char *head, size_t len, const char *name, char compact,
    size_t *vlen)
{
	const char *line = head, *end = head + len, *eol, *colon, *v;
	size_t name_len, want = strlen(name);

	while (line < end) {
		eol = memchr(line, '\n', end - line);
		if (eol == NULL)
			eol = end;
		colon = memchr(line, ':', eol - line);
		if (colon != NULL) {
			name_len = colon - line;
			while (name_len > 0 && (line[name_len - 1] == ' ' ||
			    line[name_len - 1] == '\t'))
				name_len--;
			if ((name_len == want &&
			    strncasecmp(line, name, want) == 0) ||
			    (compact != 0 && name_len == 1 &&
			    (*line | 0x20) == compact)) {
				v = colon + 1;
				while (v < eol && (*v == ' ' || *v == '\t'))
					v++;
				*vlen = eol - v;
				if (*vlen > 0 && v[*vlen - 1] == '\r')
					(*vlen)--;
				return v;
			}
		}
		line = eol + 1;
	}
	return NULL;
}

/* Returns the value of Content-Length in head[0..len), or -1 when it is
 * missing. The value ends at CR, so strtol stops inside the buffer. */
static long
content_length(const char *head, size_t len)
{
	size_t vlen;
	const char *v = find_header(head, len, "Content-Length", 'l', &vlen);

	return v != NULL ? strtol(v, NULL, 10) : -1;
}

/* Keeps the Path of the first 200: the registrar returns the Path it
 * stored, which shows whether the edge inserted one. */
static void
note_path(const char *msg, size_t len, struct tally *t)
{
	size_t vlen;
	const char *v = find_header(msg, len, "Path", 0, &vlen);

	if (v != NULL)
		snprintf(t->path, sizeof(t->path), "%.*s", (int)vlen, v);
}

/* Counts one whole response. Provisional responses are skipped, because
 * only a final response ends a REGISTER transaction. */
static void
count_response(struct phone *p, const char *msg, size_t len,
    struct tally *t)
{
	int status;
	const char *eol;

	if (len < 12 || strncmp(msg, "SIP/2.0 ", 8) != 0)
		die("phone %d received something that is no response: %.40s",
		    p->index, msg);
	status = atoi(msg + 8);
	if (status < 200)
		return;
	p->outstanding--;
	if (status == 200) {
		if (t->ok++ == 0)
			note_path(msg, len, t);
		return;
	}
	if (t->other++ == 0) {
		eol = memchr(msg, '\r', len);
		snprintf(t->first_other, sizeof(t->first_other), "%.*s",
		    (int)(eol != NULL ? eol - msg : 40), msg);
	}
}

/* Frames and counts every whole message in p->in, and keeps the rest. */
static void
parse_input(struct phone *p, struct tally *t)
{
	size_t off = 0, head, total;
	const char *end;
	long cl;

	for (;;) {
		/* Single CRLFs between messages are allowed (RFC 3261
		 * section 7.5) and carry nothing. */
		while (off + 2 <= p->in_len && p->in[off] == '\r' &&
		    p->in[off + 1] == '\n')
			off += 2;
		end = memmem(p->in + off, p->in_len - off, "\r\n\r\n", 4);
		if (end == NULL)
			break;
		head = end + 4 - (p->in + off);
		if ((cl = content_length(p->in + off, head)) < 0)
			die("response without Content-Length on phone %d",
			    p->index);
		total = head + (size_t)cl;
		if (off + total > p->in_len)
			break;
		count_response(p, p->in + off, total, t);
		off += total;
	}
	memmove(p->in, p->in + off, p->in_len - off);
	p->in_len -= off;
	if (p->in_len == sizeof(p->in))
		die("phone %d: a message exceeds %d bytes", p->index,
		    RBUF_SIZE);
}

/* Reads what the non-blocking socket has. Returns -1 at end of stream. */
static int
read_input(struct phone *p, struct tally *t)
{
	int n, err;

	for (;;) {
		n = SSL_read(p->ssl, p->in + p->in_len,
		    sizeof(p->in) - p->in_len);
		if (n > 0) {
			p->in_len += n;
			parse_input(p, t);
			continue;
		}
		err = SSL_get_error(p->ssl, n);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
			return 0;
		return -1;
	}
}

/* Retries a pending write. Returns 1 when it went out, 0 when the
 * socket is full. OpenSSL requires the retry to pass the same bytes. */
static int
flush_output(struct phone *p, struct tally *t)
{
	int n, err;

	n = SSL_write(p->ssl, p->out, p->out_len);
	if (n > 0) {
		p->out_len = 0;
		p->outstanding++;
		t->sent++;
		return 1;
	}
	err = SSL_get_error(p->ssl, n);
	if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
		return 0;
	die("sending REGISTER on phone %d failed", p->index);
}

/* Tops up one connection to its share of the window. */
static void
fill_window(struct phone *p, int share, long limit, struct tally *t)
{
	while (p->out_len == 0 && p->outstanding < share && t->sent < limit) {
		p->out_len = build_register(p, p->out, sizeof(p->out));
		if (!flush_output(p, t))
			return;
	}
	if (p->out_len > 0)
		flush_output(p, t);
}

static void
open_phones(struct phone *phones, int n, SSL_CTX *ctx,
    const struct options *o)
{
	int i;

	for (i = 0; i < n; i++) {
		check_deadline(o, "connecting");
		phones[i].index = i;
		phone_open(&phones[i], ctx, o);
		if (i == 0)
			print_session(phones[i].ssl);
	}
}

static void
run_registers(const struct options *o, SSL_CTX *ctx)
{
	struct phone *phones;
	struct pollfd *pfd;
	struct tally t = { 0 };
	int i, share;
	double start;

	phones = calloc(o->conns, sizeof(*phones));
	pfd = calloc(o->conns, sizeof(*pfd));
	if (phones == NULL || pfd == NULL)
		die("calloc");
	open_phones(phones, o->conns, ctx, o);
	share = o->window / o->conns > 0 ? o->window / o->conns : 1;
	for (i = 0; i < o->conns; i++) {
		if (fcntl_nonblock(phones[i].fd) == -1)
			die("fcntl O_NONBLOCK: %s", strerror(errno));
		pfd[i].fd = phones[i].fd;
	}

	/* The driver takes its CPU snapshot between these lines, so that
	 * the handshakes above are not counted. */
	printf("connected=%d\n", o->conns);
	fflush(stdout);
	wait_for_driver();

	start = now();
	while (t.ok + t.other < o->count) {
		check_deadline(o, "REGISTERs");
		for (i = 0; i < o->conns; i++) {
			fill_window(&phones[i], share, o->count, &t);
			pfd[i].events = POLLIN |
			    (phones[i].out_len > 0 ? POLLOUT : 0);
		}
		if (poll(pfd, o->conns, 1000) == -1 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (i = 0; i < o->conns; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (read_input(&phones[i], &t) == -1)
				die("phone %d: connection closed by the edge "
				    "after %ld final responses", i,
				    t.ok + t.other);
		}
	}
	printf("seconds=%.3f\n", now() - start);
	printf("sent=%ld\nok=%ld\nother=%ld\n", t.sent, t.ok, t.other);
	printf("path=%s\n", t.path);
	if (t.other > 0)
		printf("first_other=%s\n", t.first_other);
	fflush(stdout);
	wait_for_driver();
	for (i = 0; i < o->conns; i++)
		phone_close(&phones[i]);
	printf("closed=%d\n", o->conns);
	free(pfd);
	free(phones);
}

/* Sends one REGISTER on a blocking connection and waits for its final
 * response. */
static void
register_once(struct phone *p, struct tally *t)
{
	char msg[MSG_MAX];
	int len, n;

	len = build_register(p, msg, sizeof(msg));
	write_all(p->ssl, msg, len, "REGISTER");
	t->sent++;
	p->outstanding = 1;
	while (p->outstanding > 0) {
		n = SSL_read(p->ssl, p->in + p->in_len,
		    sizeof(p->in) - p->in_len);
		if (n <= 0)
			die("phone %d: no response to its REGISTER", p->index);
		p->in_len += n;
		parse_input(p, t);
	}
}

static void
run_idle(const struct options *o, SSL_CTX *ctx)
{
	struct phone *phones;
	struct tally t = { 0 };
	int i;

	if ((phones = calloc(o->conns, sizeof(*phones))) == NULL)
		die("calloc");
	for (i = 0; i < o->conns; i++) {
		check_deadline(o, "opening idle connections");
		phones[i].index = i;
		phone_open(&phones[i], ctx, o);
		if (i == 0)
			print_session(phones[i].ssl);
		register_once(&phones[i], &t);
	}
	printf("ok=%ld\nother=%ld\n", t.ok, t.other);
	printf("path=%s\n", t.path);
	if (t.other > 0)
		printf("first_other=%s\n", t.first_other);
	printf("ready=%d\n", o->conns);
	fflush(stdout);

	/* The driver measures memory now. */
	wait_for_driver();
	for (i = 0; i < o->conns; i++)
		phone_close(&phones[i]);
	printf("closed=%d\n", o->conns);
	free(phones);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: tlsload handshake|register|idle -p PORT -C CHAIN -K KEY "
	    "-A CAFILE\n"
	    "               [-n COUNT] [-c CONNECTIONS] [-w WINDOW] "
	    "[-t SECONDS]\n");
	exit(2);
}

static long
number_arg(const char *s, long min, long max, const char *name)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "tlsload: %s: invalid value %s: expected a "
		    "number from %ld to %ld\n", name, s, min, max);
		exit(2);
	}
	return v;
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	int ch;

	if (argc < 2)
		usage();
	memset(o, 0, sizeof(*o));
	o->mode = argv[1];
	o->count = 100;
	o->conns = 1;
	o->window = 1;
	o->deadline_s = 120;
	optind = 2;
	while ((ch = getopt(argc, argv, "p:C:K:A:n:c:w:t:")) != -1) {
		switch (ch) {
		case 'p': o->port = number_arg(optarg, 1, 65535, "-p"); break;
		case 'C': o->cert = optarg; break;
		case 'K': o->key = optarg; break;
		case 'A': o->ca = optarg; break;
		case 'n': o->count = number_arg(optarg, 1, 10000000, "-n"); break;
		case 'c': o->conns = number_arg(optarg, 1, 100000, "-c"); break;
		case 'w': o->window = number_arg(optarg, 1, 100000, "-w"); break;
		case 't': o->deadline_s = number_arg(optarg, 1, 3600, "-t"); break;
		default: usage();
		}
	}
	if (o->port == 0 || o->cert == NULL || o->key == NULL || o->ca == NULL)
		usage();
}

int
main(int argc, char **argv)
{
	struct options o;
	SSL_CTX *ctx;

	parse_options(argc, argv, &o);
	raise_nofile();
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	o.deadline_at = now() + o.deadline_s;
	ctx = make_ctx(&o);
	/* The edge may close a connection while a write is on its way. */
	signal(SIGPIPE, SIG_IGN);

	if (strcmp(o.mode, "handshake") == 0)
		run_handshakes(&o, ctx);
	else if (strcmp(o.mode, "register") == 0)
		run_registers(&o, ctx);
	else if (strcmp(o.mode, "idle") == 0)
		run_idle(&o, ctx);
	else
		usage();
	SSL_CTX_free(ctx);
	return 0;
}
