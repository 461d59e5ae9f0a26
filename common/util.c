/* util: clocks, UTF-8, ids and secret comparison. */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_mono_ms(void)
{
	return util_mono_us() / 1000;
}

int64_t
util_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
util_deadline(struct timespec *ts, clockid_t clock, int64_t ms)
{
	clock_gettime(clock, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Length of the sequence starting at s (at most left bytes), 0 if invalid. */
static size_t
util_utf8_seq(const unsigned char *s, size_t left)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int
util_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		n = util_utf8_seq(p + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

size_t
util_utf8_prefix(const char *s, size_t maxchars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, chars = 0, n;

	while (i < len && chars < maxchars) {
		n = util_utf8_seq(p + i, len - i);
		if (n == 0)
			n = 1; /* invalid byte: counts as one character */
		i += n;
		chars++;
	}
	return i;
}

int
util_valid_id(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++) {
		char c = id[i];

		if (i >= 128)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '_' || c == '.' || c == ':' || c == '-'))
			return 0;
	}
	return i > 0 && strstr(id, "..") == NULL;
}

uint64_t
util_hash_add(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n-- > 0)
		h = (h ^ *b++) * 1099511628211ULL;
	return h;
}

uint64_t
util_hash_str(const char *s)
{
	return util_hash_add(UTIL_HASH_SEED, s, strlen(s));
}

int
util_secret_equal(const char *secret, const char *candidate, size_t candlen)
{
	size_t slen = strlen(secret), i;
	unsigned char diff;

	if (slen == 0)
		return 0;
	diff = (unsigned char)(slen != candlen);
	/* Walk the candidate's length, never the secret's, and never stop early. */
	for (i = 0; i < candlen; i++)
		diff |= (unsigned char)(candidate[i] ^ secret[i % slen]);
	return diff == 0;
}

void
util_random_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char buf[64];
	size_t i, got;

	while (n > 0) {
		size_t chunk = n < sizeof(buf) ? n : sizeof(buf);

		got = 0;
		while (got < chunk) {
			ssize_t r = getrandom(buf + got, chunk - got, 0);

			if (r > 0)
				got += (size_t)r;
		}
		for (i = 0; i < chunk; i++) {
			*out++ = hex[buf[i] >> 4];
			*out++ = hex[buf[i] & 15];
		}
		n -= chunk;
	}
	*out = '\0';
}

/* 1 when the real path of path lies inside the real path of root. */
static int
util_inside(const char *path, const char *root)
{
	char real[PATH_MAX], top[PATH_MAX];
	size_t n;

	if (realpath(path, real) == NULL || realpath(root, top) == NULL)
		return 0;
	n = strlen(top);
	return strncmp(real, top, n) == 0 && (real[n] == '/' || real[n] == '\0' || n == 1);
}

int
util_open_regular(const char *path, const char *root, int allow_outside, const char **why)
{
	const int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	struct stat st;
	int fd, err;

	if (why != NULL)
		*why = NULL;
	fd = open(path, flags | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP) {
		/* a symbolic link: followed only when it stays inside root */
		if (root != NULL && !allow_outside && !util_inside(path, root)) {
			if (why != NULL)
				*why = "a link out of the state folder";
			errno = EPERM;
			return -1;
		}
		fd = open(path, flags);
	}
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		if (why != NULL)
			*why = "not a regular file";
		errno = EINVAL;
		return -1;
	}
	/* a regular file never blocks; clear the flag for ordinary reads */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}
