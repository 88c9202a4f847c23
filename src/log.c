/*
 * Levelled logging. Each line goes out with one write(2) to stderr, or one
 * syslog(3) call, under a mutex, so lines from the threads of one process
 * never interleave. A line repeated within REPEAT_WINDOW_NS is counted
 * instead of written, and the count is written before the next line that
 * is written.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX		1024	/* bytes, newline included */
#define REPEAT_WINDOW_NS	1000000000LL

int log_threshold = LOGL_INFO;

/* The process-wide sink that log.h describes. */
static struct {
	pthread_mutex_t lock;
	int use_syslog;
	int journal;		/* stderr is a journald stream */

	/* The last line written, for suppressing repeats. */
	char last[LOG_LINE_MAX];
	int last_level;
	int have_last;
	struct timespec last_time;	/* CLOCK_MONOTONIC */
	unsigned long repeats;

	/* Budget for lines about remote peers' faults: see log_peer_allow. */
	time_t peer_second;		/* CLOCK_MONOTONIC second of the budget */
	unsigned peer_lines;		/* written in that second */
	unsigned long peer_suppressed;	/* not written since the last summary */
} sink = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static const char *const level_names[] = {
	[LOGL_ERROR] = "error",
	[LOGL_WARNING] = "warning",
	[LOGL_NOTICE] = "notice",
	[LOGL_INFO] = "info",
	[LOGL_DEBUG] = "debug",
};

/*
 * Tells whether stderr is the stream that systemd connected to the
 * journal. systemd sets JOURNAL_STREAM to "device:inode" of that stream.
 * A child inherits the variable even when its stderr is redirected, so
 * the pair is compared with our own stderr.
 */
static int
stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%ju:%ju", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void
log_init(int level, int use_syslog)
{
	log_set_sink(use_syslog, LOG_DAEMON);
	log_threshold = level;
}

void
log_set_sink(int use_syslog, int facility)
{
	pthread_mutex_lock(&sink.lock);
	if (sink.use_syslog)
		closelog();
	if (use_syslog)
		openlog("sipsgate", LOG_PID | LOG_NDELAY, facility);
	sink.use_syslog = use_syslog;
	sink.journal = stderr_is_journal();
	pthread_mutex_unlock(&sink.lock);
}

void
log_set_level(int level)
{
	log_threshold = level;
}

int
log_level_from_name(const char *name)
{
	for (int level = LOGL_ERROR; level <= LOGL_DEBUG; level++) {
		if (strcasecmp(name, level_names[level]) == 0)
			return level;
	}
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < LOGL_ERROR || level > LOGL_DEBUG)
		return "unknown";
	return level_names[level];
}

void
log_write(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, fmt, ap);
	va_end(ap);
}

/* Writes all of buf to fd. A line of at most LOG_LINE_MAX bytes is below
 * PIPE_BUF, so a pipe takes it in one piece and the loop runs once. */
static void
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* Formats the prefix of a stderr line into buf and returns its length. */
static size_t
format_prefix(char *buf, size_t size, int level)
{
	struct timespec now;
	struct tm tm;
	int n;

	/* journald stamps the time itself and reads the priority from
	 * the "<N>" prefix. */
	if (sink.journal)
		n = snprintf(buf, size, "<%d>", level);
	else {
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		n = snprintf(buf, size,
		    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		    tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000,
		    log_level_name(level));
	}
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

/* Sends one line to the sink. The caller holds sink.lock. */
static void
emit_line(int level, const char *msg)
{
	char line[LOG_LINE_MAX];
	size_t len, msg_len;

	if (sink.use_syslog) {
		syslog(level, "%s", msg);
		return;
	}

	len = format_prefix(line, sizeof(line), level);
	msg_len = strlen(msg);
	if (msg_len > sizeof(line) - 1 - len)
		msg_len = sizeof(line) - 1 - len;
	memcpy(line + len, msg, msg_len);
	len += msg_len;
	line[len++] = '\n';
	write_all(STDERR_FILENO, line, len);
}

static void
flush_repeats(void)
{
	char msg[64];

	if (sink.repeats == 0)
		return;
	snprintf(msg, sizeof(msg), "last message repeated %lu times",
	    sink.repeats);
	emit_line(sink.last_level, msg);
	sink.repeats = 0;
}

static int
within_repeat_window(const struct timespec *now)
{
	long long ns = (long long)(now->tv_sec - sink.last_time.tv_sec) *
	    1000000000LL + (now->tv_nsec - sink.last_time.tv_nsec);

	return ns < REPEAT_WINDOW_NS;
}

/*
 * Replaces CR and LF, so that a message carrying them (a peer's header
 * line, say) cannot split into forged lines in the journal or a file.
 */
static void
flatten_line(char *msg)
{
	for (char *p = msg; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	}
}

void
log_vwrite(int level, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	struct timespec now;
	int saved_errno = errno;

	/* Any syslog priority is accepted and clamped to the named range. */
	if (level < LOGL_ERROR)
		level = LOGL_ERROR;
	if (level > LOGL_DEBUG)
		level = LOGL_DEBUG;
	if (level > log_threshold)
		return;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	flatten_line(msg);
	clock_gettime(CLOCK_MONOTONIC, &now);

	pthread_mutex_lock(&sink.lock);
	if (sink.have_last && level == sink.last_level &&
	    strcmp(msg, sink.last) == 0 && within_repeat_window(&now)) {
		sink.repeats++;
		goto done;
	}

	/* NOTE: a count still pending when the process stops logging is
	 * never written, because nothing runs until the next line. */
	flush_repeats();
	emit_line(level, msg);
	memcpy(sink.last, msg, sizeof(sink.last));
	sink.last_level = level;
	sink.last_time = now;
	sink.have_last = 1;
done:
	pthread_mutex_unlock(&sink.lock);
	errno = saved_errno;
}

int
log_peer_allow(void)
{
	struct timespec now;
	unsigned long suppressed = 0;
	int allow;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&sink.lock);
	if (now.tv_sec != sink.peer_second) {
		suppressed = sink.peer_suppressed;
		sink.peer_second = now.tv_sec;
		sink.peer_lines = 0;
		sink.peer_suppressed = 0;
	}
	allow = sink.peer_lines < LOG_PEER_LINES_PER_SECOND;
	if (allow)
		sink.peer_lines++;
	else
		sink.peer_suppressed++;
	pthread_mutex_unlock(&sink.lock);

	if (suppressed > 0)
		log_notice("%lu log lines about peer faults suppressed (more "
		    "than %d per second); the counters at shutdown include "
		    "them", suppressed, LOG_PEER_LINES_PER_SECOND);
	return allow;
}

void
log_sanitize(char *out, const char *in, size_t len, size_t max)
{
	size_t n = len < max ? len : max;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
	}
	out[n] = '\0';
}
