/*
 * Replays the fuzz corpora (tests/fuzz/corpus/<harness>/) through the
 * harnesses' own entry points, so every `make test` runs them, under
 * ASan/UBSan too.  A harness aborts on a broken rule, which fails this
 * test like a crash would.  Unit tests run from the repository root, so
 * the corpora are found relative to it.  tests/fuzz/README.md says how to
 * fuzz for new inputs.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/log.h"

#define FUZZ_ENTRY fuzz_api_json_one
#include "tests/fuzz/fuzz_api_json.c"
#undef FUZZ_ENTRY

#define FUZZ_ENTRY fuzz_transcript_one
#include "tests/fuzz/fuzz_transcript.c"
#undef FUZZ_ENTRY

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every file of dir through fn, in name order; returns the count. */
static size_t
replay(const char *dir, int (*fn)(const uint8_t *, size_t))
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i, done = 0;

	if (d == NULL)
		fail_msg("cannot open %s (run from the repository root)", dir);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			assert_non_null(names);
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		struct stat sb;
		FILE *f;
		uint8_t *buf;
		size_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			free(names[i]);
			continue;
		}
		f = fopen(path, "rb");
		if (f == NULL)
			fail_msg("cannot open %s", path);
		/* An exact-size buffer: ASan sees any read past the input. */
		buf = malloc(sb.st_size > 0 ? (size_t)sb.st_size : 1);
		assert_non_null(buf);
		len = fread(buf, 1, (size_t)sb.st_size, f);
		fclose(f);
		assert_int_equal(len, (size_t)sb.st_size);
		fn(buf, len);
		free(buf);
		free(names[i]);
		done++;
	}
	free(names);
	return done;
}

static void
test_replay_api_json(void **state)
{
	size_t n = replay("tests/fuzz/corpus/api_json", fuzz_api_json_one);

	(void)state;
	printf("replayed %zu api_json inputs\n", n);
	assert_true(n >= 20);
}

static void
test_replay_transcript(void **state)
{
	size_t n = replay("tests/fuzz/corpus/transcript", fuzz_transcript_one);

	(void)state;
	printf("replayed %zu transcript inputs\n", n);
	assert_true(n >= 20);
}

/*
 * What fuzz_transcript found: json-c's UTF-8 check took overlong forms
 * and UTF-8-encoded surrogates; tx_parse must call those lines TX_BAD_UTF8
 * (a NUL byte stays TX_BAD_JSON, and real UTF-8 stays fine).
 */
static void
test_transcript_refuses_what_is_not_utf8(void **state)
{
	static const char *const bad[] = {
		"{\"\xed\xa0\x80\":5}", /* surrogate U+D800, in a key */
		"{\"type\":\"custom\",\"customType\":\"\xed\xbf\xbf\"}", /* U+DFFF */
		"{\"type\":\"custom\",\"customType\":\"\xc0\xaf\"}", /* overlong '/' */
		"{\"type\":\"custom\",\"customType\":\"\xe0\x80\xaf\"}", /* overlong, 3 bytes */
		"{\"type\":\"custom\",\"customType\":\"\xf4\x90\x80\x80\"}", /* past U+10FFFF */
		"{\"type\":\"custom\",\"customType\":\"\xe6\x97\"}", /* cut short */
		"{\"type\":\"custom\",\"customType\":\"\x80\"}", /* lone continuation */
		"{\"type\":\"custom\",\"customType\":\"\xff\"}",
	};
	struct tx_parser *p = tx_parser_new();
	struct tx_event ev;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tx_parse(p, bad[i], strlen(bad[i]), &ev), TX_BAD_UTF8);
		assert_null(ev.root);
		tx_event_free(&ev);
	}
	assert_int_equal(tx_parse(p, "{\"type\":\"custom\"}\0", 19, &ev), TX_BAD_JSON);
	tx_event_free(&ev);
	assert_int_equal(tx_parse(p,
	                     "{\"type\":\"custom\",\"customType\":\"caf\xc3\xa9 \xe6\x97\xa5 "
	                     "\xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"}",
	                     52, &ev),
	    TX_OK);
	assert_int_equal(ev.type, TX_CUSTOM);
	assert_string_equal(ev.custom_type, "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
	tx_event_free(&ev);
	tx_parser_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_api_json),
		cmocka_unit_test(test_replay_transcript),
		cmocka_unit_test(test_transcript_refuses_what_is_not_utf8),
	};
	int rc;

	log_init("test_fuzz_replay", LOG_LVL_ERROR);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	tx_parser_free(ft_parser);
	ft_parser = NULL;
	return rc;
}
