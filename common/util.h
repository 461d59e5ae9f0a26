/*
 * util: small helpers both programs share: clocks, UTF-8, ids, secrets.
 */
#ifndef LS_UTIL_H
#define LS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Wall-clock milliseconds since the epoch. */
int64_t util_now_ms(void);

/* Monotonic milliseconds, for timers and intervals. */
int64_t util_mono_ms(void);

/* Monotonic microseconds, for measuring short spans. */
int64_t util_mono_us(void);

/*
 * The time ms milliseconds from now on clock (CLOCK_MONOTONIC, or
 * CLOCK_REALTIME for a condition variable of default attributes), for
 * pthread_cond_timedwait() and pthread_timedjoin_np().
 */
void util_deadline(struct timespec *ts, clockid_t clock, int64_t ms);

/* 1 when s[0..len) is valid UTF-8 (no overlongs, surrogates or NUL). */
int util_utf8_valid(const char *s, size_t len);

/*
 * Length in bytes of the longest prefix of s (a NUL-terminated string) that
 * holds at most maxchars code points and ends on a sequence boundary.
 */
size_t util_utf8_prefix(const char *s, size_t maxchars);

/*
 * 1 when id matches [A-Za-z0-9_.:-]{1,128} and holds no "..": the syntax
 * of box, channel and agent ids for every program (the API, the CLI).
 */
int util_valid_id(const char *id);
#define UTIL_ID_MAX 128

/* FNV-1a, 64 bits: spreads keys over hash slots (equality checked in full). */
#define UTIL_HASH_SEED 0xcbf29ce484222325ULL
/* Continues hash h (start with UTIL_HASH_SEED) over n bytes of p. */
uint64_t util_hash_add(uint64_t h, const void *p, size_t n);
/* The hash of a NUL-terminated string. */
uint64_t util_hash_str(const char *s);

/*
 * Compares a secret with a candidate in time that depends only on the
 * candidate's length, so the secret cannot be learnt byte by byte.
 * Returns 1 when equal; an empty secret never matches.
 */
int util_secret_equal(const char *secret, const char *candidate, size_t candlen);

/*
 * Opens path for reading the way a follower of other people's files must:
 * never blocking (a FIFO or device named like a transcript would freeze the
 * caller), never through a symbolic link that leads outside root (unless
 * allow_outside), and only a regular file.  Returns the descriptor (read
 * blocking again, close-on-exec), or -1 with errno set and *why (when not
 * NULL) naming the refusal for a log line: "not a regular file", "a link
 * out of the state folder", or NULL for an ordinary error (ENOENT, EACCES).
 * root NULL: links are followed wherever they lead.
 */
int util_open_regular(const char *path, const char *root, int allow_outside, const char **why);

/* Writes 2*n lowercase hex digits of n random bytes and a NUL into out. */
void util_random_hex(char *out, size_t n);

#endif
