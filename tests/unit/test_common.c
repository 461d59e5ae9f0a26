/* Unit tests of the shared helpers: UTF-8, ids, secrets, env config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/lcurl.h"
#include "common/log.h"
#include "common/util.h"

static void
test_utf8_valid(void **state)
{
	(void)state;
	assert_true(util_utf8_valid("plain", 5));
	assert_true(util_utf8_valid("\xc3\xa9t\xc3\xa9", 5));
	assert_false(util_utf8_valid("\xc3", 1));             /* cut sequence */
	assert_false(util_utf8_valid("\xc0\xaf", 2));         /* overlong */
	assert_false(util_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(util_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	assert_false(util_utf8_valid("a\0b", 3));             /* NUL */
}

static void
test_utf8_prefix(void **state)
{
	(void)state;
	assert_int_equal(util_utf8_prefix("hello", 3), 3);
	assert_int_equal(util_utf8_prefix("hello", 10), 5);
	/* Two-byte characters are counted once and never split. */
	assert_int_equal(util_utf8_prefix("\xc3\xa9\xc3\xa9\xc3\xa9", 2), 4);
	/* A four-byte emoji stays whole. */
	assert_int_equal(util_utf8_prefix("a\xf0\x9f\x98\x80z", 2), 5);
}

static void
test_hash(void **state)
{
	(void)state;
	/* FNV-1a 64 reference values */
	assert_true(util_hash_str("") == 0xcbf29ce484222325ULL);
	assert_true(util_hash_str("a") == 0xaf63dc4c8601ec8cULL);
	assert_true(util_hash_add(util_hash_str("fo"), "obar", 4) == util_hash_str("foobar"));
}

static void
test_valid_id(void **state)
{
	char longid[130];

	(void)state;
	assert_true(util_valid_id("agent:main:abc-1_2.3"));
	assert_false(util_valid_id(""));
	assert_false(util_valid_id("a/b"));
	assert_false(util_valid_id("a b"));
	assert_false(util_valid_id("%00"));
	assert_false(util_valid_id("a..b"));
	assert_true(util_valid_id("a.b.c"));
	memset(longid, 'a', 128);
	longid[128] = '\0';
	assert_true(util_valid_id(longid));
	longid[128] = 'a';
	longid[129] = '\0';
	assert_false(util_valid_id(longid));
}

static void
test_secret_equal(void **state)
{
	(void)state;
	assert_true(util_secret_equal("s3cret", "s3cret", 6));
	assert_false(util_secret_equal("s3cret", "s3cres", 6));
	assert_false(util_secret_equal("s3cret", "s3cre", 5));
	assert_false(util_secret_equal("s3cret", "s3crett", 7));
	assert_false(util_secret_equal("", "", 0));
}

static void
test_cfg_long(void **state)
{
	char err[256];
	long v;

	(void)state;
	unsetenv("LS_T_NUM");
	assert_int_equal(cfg_long("LS_T_NUM", NULL, 7, 0, 10, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 7);
	setenv("LS_T_NUM", "9", 1);
	assert_int_equal(cfg_long("LS_T_NUM", NULL, 7, 0, 10, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 9);
	setenv("LS_T_NUM", "11", 1);
	assert_int_equal(cfg_long("LS_T_NUM", NULL, 7, 0, 10, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "LS_T_NUM"));
	setenv("LS_T_NUM", "5x", 1);
	assert_int_equal(cfg_long("LS_T_NUM", NULL, 7, 0, 10, &v, err, sizeof(err)), -1);
	/* An alias is read only when the main name is unset, and named in errors. */
	unsetenv("LS_T_NUM");
	setenv("LS_T_ALIAS", "bad", 1);
	assert_int_equal(cfg_long("LS_T_NUM", "LS_T_ALIAS", 7, 0, 10, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "LS_T_ALIAS"));
	unsetenv("LS_T_ALIAS");
}

static void
test_cfg_bool_choice(void **state)
{
	static const char *const modes[] = { "secret", "none", NULL };
	char err[256];
	int v;

	(void)state;
	setenv("LS_T_BOOL", "FALSE", 1);
	assert_int_equal(cfg_bool("LS_T_BOOL", NULL, 1, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 0);
	setenv("LS_T_BOOL", "maybe", 1);
	assert_int_equal(cfg_bool("LS_T_BOOL", NULL, 1, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "LS_T_BOOL"));
	setenv("LS_T_MODE", "none", 1);
	assert_int_equal(cfg_choice("LS_T_MODE", NULL, modes, 0, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1);
	setenv("LS_T_MODE", "other", 1);
	assert_int_equal(cfg_choice("LS_T_MODE", NULL, modes, 0, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "secret, none"));
}

static void
test_log_level(void **state)
{
	enum log_level l;

	(void)state;
	assert_int_equal(log_parse_level("DEBUG", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_parse_level("warning", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log_parse_level("loud", &l), -1);
	/* Live Status v4.1 took pino's names: an old env file keeps working. */
	assert_int_equal(log_parse_level("trace", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_parse_level("FATAL", &l), 0);
	assert_int_equal(l, LOG_LVL_ERROR);
	assert_int_equal(log_parse_level("silent", &l), 0);
	assert_int_equal(l, LOG_LVL_SILENT);
}

/* LOG_LEVEL=silent: not even an error reaches stderr. */
static void
test_log_silent(void **state)
{
	int fds[2], saved;
	char buf[256];
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
	log_init("test_common", LOG_LVL_SILENT);
	log_error("silent test error", "k", "v");
	log_init("test_common", LOG_LVL_ERROR);
	log_error("loud test error", "k", "v");
	log_init("test_common", LOG_LVL_INFO);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_null(strstr(buf, "silent test error"));
	assert_non_null(strstr(buf, "loud test error"));
}

/* A deadline is now plus ms on its clock, normalized. */
static void
test_deadline(void **state)
{
	struct timespec a, b;
	int64_t diff_ms;
	int i;

	(void)state;
	for (i = 0; i < 3; i++) {
		long ms = i == 0 ? 0 : i == 1 ? 999 : 1500;

		clock_gettime(CLOCK_MONOTONIC, &a);
		util_deadline(&b, CLOCK_MONOTONIC, ms);
		assert_true(b.tv_nsec >= 0 && b.tv_nsec < 1000000000L);
		diff_ms = (int64_t)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
		assert_true(diff_ms >= ms && diff_ms < ms + 1000);
	}
}

/* GnuTLS, loaded with libcurl but unused, is not set up at load time. */
static void
test_lcurl_prepare(void **state)
{
	(void)state;
	unsetenv("GNUTLS_NO_IMPLICIT_INIT");
	lcurl_prepare();
	assert_string_equal(getenv("GNUTLS_NO_IMPLICIT_INIT"), "1");
	setenv("GNUTLS_NO_IMPLICIT_INIT", "0", 1);
	lcurl_prepare(); /* the operator's value stays */
	assert_string_equal(getenv("GNUTLS_NO_IMPLICIT_INIT"), "0");
	unsetenv("GNUTLS_NO_IMPLICIT_INIT");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_prefix),
		cmocka_unit_test(test_valid_id),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_secret_equal),
		cmocka_unit_test(test_cfg_long),
		cmocka_unit_test(test_cfg_bool_choice),
		cmocka_unit_test(test_log_level),
		cmocka_unit_test(test_log_silent),
		cmocka_unit_test(test_lcurl_prepare),
		cmocka_unit_test(test_deadline),
	};

	return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
