/*
 * log: one logfmt line per event on stderr.
 *
 *   ts=2026-11-25T15:40:26.123Z level=error prog=livestatus-watcher
 *   msg="cannot open transcript" path=/x/y.jsonl err="Permission denied"
 *
 * Callers pass the message and then key/value string pairs ending in NULL;
 * values are quoted and escaped here, so any string may be passed.  Numbers
 * go through LOG_I64(), which formats into a compound literal that lives
 * until the end of the caller's block.
 *
 * Warnings and errors that repeat the exact same line within
 * LOG_REPEAT_WINDOW_S seconds are counted, not printed; the next line
 * printed for them carries repeated=N.  This keeps journald readable while a
 * fault lasts.  Never pass a secret or token as a value: nothing here can
 * tell one apart from other text.
 *
 * All functions are thread-safe.
 */
#ifndef LS_LOG_H
#define LS_LOG_H

#include <stdint.h>

enum log_level {
	LOG_LVL_DEBUG,
	LOG_LVL_INFO,
	LOG_LVL_WARN,
	LOG_LVL_ERROR,
	LOG_LVL_SILENT, /* only as the lowest level printed: nothing is */
};

#define LOG_REPEAT_WINDOW_S 10

/* Sets the program name and the lowest level printed (LOG_LVL_SILENT: none). */
void log_init(const char *prog, enum log_level level);

/*
 * Parses debug|info|warn|warning|error and, for env files of Live Status
 * v4.1 (pino's names), trace (as debug), fatal (as error) and silent (no
 * line at all); case does not matter.  Returns 0 or -1.
 */
int log_parse_level(const char *s, enum log_level *out);

void log_msg(enum log_level level, const char *msg, ...) __attribute__((sentinel));

const char *log_i64(char buf[24], int64_t v);
#define LOG_I64(v) log_i64((char[24]){ 0 }, (int64_t)(v))

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__, (char *)NULL)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__, (char *)NULL)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__, (char *)NULL)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__, (char *)NULL)

#endif
