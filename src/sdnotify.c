/*
 * The sd_notify(3) protocol: the service manager passes the address of a
 * datagram socket in $NOTIFY_SOCKET, and the service sends it newline-
 * separated KEY=VALUE assignments. systemd takes the sender's PID from
 * the socket credentials, so the message carries nothing else.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sdnotify.h"

void
sdnotify_init(struct sdnotify *n)
{
	memset(n, 0, sizeof(*n));
	n->fd = -1;
}

/* Fills n->addr from the value of $NOTIFY_SOCKET. A leading '@' stands
 * for the NUL byte that starts an abstract socket name, and the name
 * then ends at the address length, not at a NUL. */
static int
parse_address(struct sdnotify *n, const char *value, char *err,
    size_t errlen)
{
	size_t len = strlen(value);

	if (value[0] != '/' && value[0] != '@') {
		snprintf(err, errlen, "NOTIFY_SOCKET=%s: expected an absolute "
		    "path or an abstract name starting with @", value);
		return -1;
	}
	/* A path needs room for its terminating NUL in sun_path, but an
	 * abstract name does not. */
	if (len < 2 || len > sizeof(n->addr.sun_path) -
	    (value[0] == '/' ? 1 : 0)) {
		snprintf(err, errlen, "NOTIFY_SOCKET: invalid length %zu "
		    "(expected 2 to %zu bytes)", len,
		    sizeof(n->addr.sun_path) - 1);
		return -1;
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, value, len);
	if (value[0] == '@') {
		n->addr.sun_path[0] = '\0';
		n->addrlen = offsetof(struct sockaddr_un, sun_path) + len;
	} else {
		n->addrlen = offsetof(struct sockaddr_un, sun_path) + len + 1;
	}
	return 0;
}

int
sdnotify_open(struct sdnotify *n, char *err, size_t errlen)
{
	const char *value = getenv("NOTIFY_SOCKET");

	sdnotify_init(n);
	if (value == NULL || value[0] == '\0')
		return 0;
	if (parse_address(n, value, err, errlen) == -1)
		return -1;
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (n->fd == -1) {
		snprintf(err, errlen, "socket AF_UNIX for NOTIFY_SOCKET=%s: %s",
		    value, strerror(errno));
		return -1;
	}
	return 1;
}

int
sdnotify_send(const struct sdnotify *n, const char *msg)
{
	ssize_t sent;

	if (n->fd == -1)
		return 0;
	do {
		sent = sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL,
		    (const struct sockaddr *)&n->addr, n->addrlen);
	} while (sent == -1 && errno == EINTR);
	if (sent == -1)
		return -1;
	/* A datagram goes whole or not at all. */
	return 0;
}

int
sdnotify_reloading(const struct sdnotify *n)
{
	struct timespec now;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	    (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000);
	return sdnotify_send(n, msg);
}

void
sdnotify_close(struct sdnotify *n)
{
	if (n->fd != -1)
		close(n->fd);
	n->fd = -1;
}

/* Parses an unsigned decimal number that fills all of s. Returns 0, or
 * -1 for anything else. */
static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

uint64_t
sdnotify_watchdog_usec(void)
{
	uint64_t usec, pid;
	const char *pid_text = getenv("WATCHDOG_PID");

	if (parse_u64(getenv("WATCHDOG_USEC"), &usec) == -1 || usec == 0)
		return 0;
	/* systemd sets WATCHDOG_PID so that a child that inherits the
	 * environment does not send pings on behalf of its parent. */
	if (pid_text != NULL && (parse_u64(pid_text, &pid) == -1 ||
	    pid != (uint64_t)getpid()))
		return 0;
	return usec;
}
