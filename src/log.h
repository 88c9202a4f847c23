/* Levelled logging to stderr (with journald "<N>" prefixes when
 * JOURNAL_STREAM is set) or to syslog. Process-wide: the log sink is the
 * one piece of state shared by every event-loop worker. */
#ifndef SIPSGATE_LOG_H
#define SIPSGATE_LOG_H

#include <stdarg.h>

/* Values match syslog(3) priorities so they can be passed through. */
enum log_level {
	LOGL_ERROR = 3,
	LOGL_WARNING = 4,
	LOGL_NOTICE = 5,
	LOGL_INFO = 6,
	LOGL_DEBUG = 7,
};

extern int log_threshold;	/* messages above this level are skipped */

void log_init(int level, int use_syslog);
/* Switches the sink to syslog(3) with facility (LOG_DAEMON,
 * LOG_LOCAL0 ..), or back to stderr when use_syslog is 0. */
void log_set_sink(int use_syslog, int facility);
void log_set_level(int level);
/* Parses "error" .. "debug"; returns -1 for an unknown name. */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

void log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vwrite(int level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* The level check comes before argument evaluation, so debug lines cost
 * one comparison when debug is off. */
#define log_at(lvl, ...) do {					\
	if ((lvl) <= log_threshold)				\
		log_write((lvl), __VA_ARGS__);			\
} while (0)
#define log_error(...)   log_at(LOGL_ERROR, __VA_ARGS__)
#define log_warning(...) log_at(LOGL_WARNING, __VA_ARGS__)
#define log_notice(...)  log_at(LOGL_NOTICE, __VA_ARGS__)
#define log_info(...)    log_at(LOGL_INFO, __VA_ARGS__)
#define log_debug(...)   log_at(LOGL_DEBUG, __VA_ARGS__)

/* Lines about faults of remote peers (a malformed request, a response
 * that cannot be routed) allowed per second; see log_peer_allow. */
#define LOG_PEER_LINES_PER_SECOND 20

/* Returns 1 when one more line about a remote peer's fault may be written
 * this second, 0 when the budget is spent. Suppressed lines are summed in
 * one notice line once a later second starts, so a flood of bad messages
 * cannot flood the log; the counters still count every message. */
int log_peer_allow(void);

/* Logs at info level, within the per-second budget for peer faults. */
#define log_peer(...) do {					\
	if (LOGL_INFO <= log_threshold && log_peer_allow())	\
		log_write(LOGL_INFO, __VA_ARGS__);		\
} while (0)

/* Copies at most max bytes of untrusted input into out as printable ASCII
 * (other bytes become '.'), for log excerpts. out must hold max + 1. */
void log_sanitize(char *out, const char *in, size_t len, size_t max);

#endif
