/* The sd_notify(3) datagram protocol, without libsystemd: one
 * "KEY=VALUE\n..." datagram per state change, sent to the AF_UNIX socket
 * named by $NOTIFY_SOCKET. libc only. */
#ifndef SIPSGATE_SDNOTIFY_H
#define SIPSGATE_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct sdnotify {
	int fd;				/* -1 when notifications are off */
	struct sockaddr_un addr;
	socklen_t addrlen;
};

/*
 * Reads $NOTIFY_SOCKET (an absolute path, or "@name" for the abstract
 * namespace) and opens a datagram socket for it. The socket stays
 * unconnected and each message names the address, so messages still
 * arrive after systemd re-creates its socket or after privileges drop.
 * Returns 1 when notifications are on, 0 when the variable is unset, and
 * -1 with a message in err when it is invalid or the socket fails.
 */
int sdnotify_open(struct sdnotify *n, char *err, size_t errlen);

/* Sends one message, for example "READY=1" or "STATUS=...". Does nothing
 * when notifications are off. Returns 0, or -1 with errno set. Never
 * blocks: a full socket buffer is an error (EAGAIN). */
int sdnotify_send(const struct sdnotify *n, const char *msg);

/* Sends "RELOADING=1" with a "MONOTONIC_USEC=" stamp (CLOCK_MONOTONIC),
 * which Type=notify-reload in systemd 253 and later uses to match the
 * message to the reload request. Older versions ignore the stamp. */
int sdnotify_reloading(const struct sdnotify *n);

/* Closes the socket. Safe to call twice and on a never-opened struct
 * cleared with sdnotify_init. */
void sdnotify_close(struct sdnotify *n);
void sdnotify_init(struct sdnotify *n);

/*
 * Returns the watchdog timeout in microseconds from $WATCHDOG_USEC, or 0
 * when the watchdog is off: the variable is unset or invalid, or
 * $WATCHDOG_PID names another process.
 */
uint64_t sdnotify_watchdog_usec(void);

#endif
