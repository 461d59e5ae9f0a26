/* log: logfmt lines on stderr with rate limiting of repeated faults. */
#include "common/log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096
#define LOG_REPEAT_SLOTS 32

struct log_repeat {
	uint64_t hash;
	time_t first;
	unsigned suppressed;
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *log_prog = "livestatus";
static enum log_level log_min = LOG_LVL_INFO;
static struct log_repeat log_repeats[LOG_REPEAT_SLOTS];

static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_min = level;
}

int
log_parse_level(const char *s, enum log_level *out)
{
	if (s == NULL || *s == '\0' || strcasecmp(s, "info") == 0)
		*out = LOG_LVL_INFO;
	else if (strcasecmp(s, "debug") == 0 || strcasecmp(s, "trace") == 0)
		*out = LOG_LVL_DEBUG;
	else if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		*out = LOG_LVL_WARN;
	else if (strcasecmp(s, "error") == 0 || strcasecmp(s, "fatal") == 0)
		*out = LOG_LVL_ERROR;
	else if (strcasecmp(s, "silent") == 0)
		*out = LOG_LVL_SILENT;
	else
		return -1;
	return 0;
}

const char *
log_i64(char buf[24], int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

/* Appends s to buf at *len, quoted when it holds anything but plain text. */
static void
log_append_value(char *buf, size_t *len, const char *s)
{
	int quote = (*s == '\0');
	const char *p;

	for (p = s; *p != '\0' && !quote; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || (unsigned char)*p == 0x7f)
			quote = 1;
	if (quote && *len < LOG_LINE_MAX - 1)
		buf[(*len)++] = '"';
	for (p = s; *p != '\0' && *len < LOG_LINE_MAX - 8; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\') {
			buf[(*len)++] = '\\';
			buf[(*len)++] = (char)c;
		} else if (c == '\n') {
			buf[(*len)++] = '\\';
			buf[(*len)++] = 'n';
		} else if (c < ' ' || c == 0x7f) {
			*len += (size_t)snprintf(buf + *len, 5, "\\x%02x", c);
		} else {
			buf[(*len)++] = (char)c;
		}
	}
	if (quote && *len < LOG_LINE_MAX - 1)
		buf[(*len)++] = '"';
}

static void
log_append(char *buf, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (n > LOG_LINE_MAX - 2 - *len)
		n = LOG_LINE_MAX - 2 - *len;
	memcpy(buf + *len, s, n);
	*len += n;
}

static uint64_t
log_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/*
 * Decides whether a warning or error line is printed now.  Returns the
 * number of copies suppressed since it was last printed, or -1 to drop it.
 */
static long
log_repeat_check(uint64_t hash, time_t now)
{
	struct log_repeat *slot = NULL, *oldest = &log_repeats[0];
	long prev;
	int i;

	for (i = 0; i < LOG_REPEAT_SLOTS; i++) {
		if (log_repeats[i].hash == hash) {
			slot = &log_repeats[i];
			break;
		}
		if (log_repeats[i].first < oldest->first)
			oldest = &log_repeats[i];
	}
	if (slot == NULL) {
		oldest->hash = hash;
		oldest->first = now;
		oldest->suppressed = 0;
		return 0;
	}
	if (now - slot->first < LOG_REPEAT_WINDOW_S) {
		slot->suppressed++;
		return -1;
	}
	prev = (long)slot->suppressed;
	slot->first = now;
	slot->suppressed = 0;
	return prev;
}

void
log_msg(enum log_level level, const char *msg, ...)
{
	char line[LOG_LINE_MAX];
	size_t len = 0, body;
	struct timespec ts;
	struct tm tm;
	const char *key, *val;
	va_list ap;
	long repeated = 0;

	if (level < log_min || level >= LOG_LVL_SILENT)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	len += (size_t)snprintf(line + len, sizeof(line) - len,
	    ".%03ldZ level=%s prog=", ts.tv_nsec / 1000000, log_names[level]);
	log_append(line, &len, log_prog);
	body = len;
	log_append(line, &len, " msg=");
	log_append_value(line, &len, msg);
	va_start(ap, msg);
	while ((key = va_arg(ap, const char *)) != NULL) {
		val = va_arg(ap, const char *);
		log_append(line, &len, " ");
		log_append(line, &len, key);
		log_append(line, &len, "=");
		log_append_value(line, &len, val != NULL ? val : "");
	}
	va_end(ap);

	pthread_mutex_lock(&log_lock);
	if (level >= LOG_LVL_WARN)
		repeated = log_repeat_check(log_hash(line + body, len - body), ts.tv_sec);
	if (repeated > 0)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " repeated=%ld", repeated);
	if (repeated >= 0) {
		if (len > LOG_LINE_MAX - 2)
			len = LOG_LINE_MAX - 2;
		line[len++] = '\n';
		(void)!write(STDERR_FILENO, line, len);
	}
	pthread_mutex_unlock(&log_lock);
}
