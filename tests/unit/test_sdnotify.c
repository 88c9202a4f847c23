/* Unit tests for sdnotify.c: each test plays the service manager with a
 * datagram socket of its own, bound to a path in a fresh temporary
 * folder or to an abstract name, and points NOTIFY_SOCKET at it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sdnotify.h"

struct fixture {
	char dir[64];
	char path[128];		/* dir/notify */
	int fd;			/* the manager's socket, -1 when unbound */
	struct sdnotify n;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_sdnotify.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/notify", f->dir);
	f->fd = -1;
	sdnotify_init(&f->n);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	sdnotify_close(&f->n);
	if (f->fd != -1)
		close(f->fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Binds the manager's socket; name starting with '@' is abstract. */
static void
bind_manager(struct fixture *f, const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;
	struct timeval tv = { 2, 0 };

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, name, strlen(name));
	len = offsetof(struct sockaddr_un, sun_path) + strlen(name);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	else
		len++;
	f->fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_not_equal(f->fd, -1);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sun, len), 0);
	/* A missing datagram fails the test instead of hanging it. */
	assert_int_equal(setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
}

/* Receives one datagram into buf as a string. */
static void
recv_message(struct fixture *f, char *buf, size_t size)
{
	ssize_t n = recv(f->fd, buf, size - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
}

static uint64_t
monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
sdnotify_unset_is_off(void **state)
{
	struct fixture *f = *state;
	char err[256];

	assert_int_equal(sdnotify_open(&f->n, err, sizeof(err)), 0);
	assert_int_equal(f->n.fd, -1);
	assert_int_equal(sdnotify_send(&f->n, "READY=1"), 0);
}

static void
sdnotify_path_socket(void **state)
{
	struct fixture *f = *state;
	char err[256], buf[256];

	bind_manager(f, f->path);
	assert_int_equal(sdnotify_open(&f->n, err, sizeof(err)), 1);
	assert_int_equal(sdnotify_send(&f->n, "READY=1\nSTATUS=up"), 0);
	recv_message(f, buf, sizeof(buf));
	assert_string_equal(buf, "READY=1\nSTATUS=up");
}

static void
sdnotify_abstract_socket(void **state)
{
	struct fixture *f = *state;
	char err[256], buf[256], name[64];

	snprintf(name, sizeof(name), "@sipsgate-test-%ld", (long)getpid());
	bind_manager(f, name);
	assert_int_equal(sdnotify_open(&f->n, err, sizeof(err)), 1);
	assert_int_equal(sdnotify_send(&f->n, "STOPPING=1"), 0);
	recv_message(f, buf, sizeof(buf));
	assert_string_equal(buf, "STOPPING=1");
}

static void
sdnotify_reloading_stamp(void **state)
{
	struct fixture *f = *state;
	char err[256], buf[256], *end;
	uint64_t before, after, stamp;
	const char *prefix = "RELOADING=1\nMONOTONIC_USEC=";

	bind_manager(f, f->path);
	assert_int_equal(sdnotify_open(&f->n, err, sizeof(err)), 1);
	before = monotonic_usec();
	assert_int_equal(sdnotify_reloading(&f->n), 0);
	after = monotonic_usec();
	recv_message(f, buf, sizeof(buf));

	assert_memory_equal(buf, prefix, strlen(prefix));
	stamp = strtoull(buf + strlen(prefix), &end, 10);
	assert_int_equal(*end, '\0');
	assert_true(stamp >= before);
	assert_true(stamp <= after);
}

static void
sdnotify_send_without_listener(void **state)
{
	struct fixture *f = *state;
	char err[256];

	/* systemd gone: sending fails, and the caller decides. */
	assert_int_equal(setenv("NOTIFY_SOCKET", f->path, 1), 0);
	assert_int_equal(sdnotify_open(&f->n, err, sizeof(err)), 1);
	assert_int_equal(sdnotify_send(&f->n, "READY=1"), -1);
}

static void
sdnotify_invalid_addresses(void **state)
{
	struct fixture *f = *state;
	char err[256], longname[256];

	assert_int_equal(setenv("NOTIFY_SOCKET", "run/notify", 1), 0);
	assert_int_equal(sdnotify_open(&f->n, err, sizeof(err)), -1);
	assert_string_equal(err, "NOTIFY_SOCKET=run/notify: expected an "
	    "absolute path or an abstract name starting with @");

	assert_int_equal(setenv("NOTIFY_SOCKET", "@", 1), 0);
	assert_int_equal(sdnotify_open(&f->n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid length 1"));

	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(setenv("NOTIFY_SOCKET", longname, 1), 0);
	assert_int_equal(sdnotify_open(&f->n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid length 255"));
	assert_int_equal(f->n.fd, -1);
}

static void
sdnotify_close_twice(void **state)
{
	struct fixture *f = *state;
	char err[256];

	bind_manager(f, f->path);
	assert_int_equal(sdnotify_open(&f->n, err, sizeof(err)), 1);
	sdnotify_close(&f->n);
	sdnotify_close(&f->n);
	assert_int_equal(f->n.fd, -1);
}

static void
sdnotify_watchdog_env(void **state)
{
	char pid[32];

	assert_int_equal(sdnotify_watchdog_usec(), 0);

	setenv("WATCHDOG_USEC", "200000", 1);
	assert_int_equal(sdnotify_watchdog_usec(), 200000);

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_watchdog_usec(), 200000);

	snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(sdnotify_watchdog_usec(), 0);

	setenv("WATCHDOG_PID", "x", 1);
	assert_int_equal(sdnotify_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");

	setenv("WATCHDOG_USEC", "0", 1);
	assert_int_equal(sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "-5", 1);
	assert_int_equal(sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "12ms", 1);
	assert_int_equal(sdnotify_watchdog_usec(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(sdnotify_unset_is_off),
		T(sdnotify_path_socket),
		T(sdnotify_abstract_socket),
		T(sdnotify_reloading_stamp),
		T(sdnotify_send_without_listener),
		T(sdnotify_invalid_addresses),
		T(sdnotify_close_twice),
		T(sdnotify_watchdog_env),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
